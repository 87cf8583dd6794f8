//! Chunk grids: per-axis block lengths and the index math over them.
//!
//! Everything here is pure and overflow-checked: a shape whose element count, or whose size
//! in bytes, does not fit the address space is an [`Overflow`](crate::ErrorKind::Overflow)
//! error, never a wrapped number.
//!
//! Inside the crate, an array's grid is a `Grid`: either a [`Chunks`] (every length known)
//! or, only inside a [`Filtered`](super::Filtered), an `UnknownChunks` (dask's NaN chunks:
//! a number of blocks whose lengths are known only once they are computed).

use crate::error::{Error, ErrorKind, Result};
use std::sync::Arc;

/// How an array is cut into blocks, as given by the caller.
///
/// ```
/// use blockwork::array::{ChunkSpec, Chunks};
/// let c = Chunks::new(&[10, 4], ChunkSpec::from(3))?;
/// assert_eq!(c.axis(0), &[3, 3, 3, 1]);
/// assert_eq!(c.axis(1), &[3, 1]);
/// let e = Chunks::new(&[5], ChunkSpec::from(vec![vec![2, 3]]))?;
/// assert_eq!(e.numblocks(), vec![2]);
/// # Ok::<(), blockwork::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ChunkSpec {
    /// The same block length along every axis (the last block of an axis may be shorter).
    Same(usize),
    /// One block length per axis.
    PerAxis(Vec<usize>),
    /// Explicit block lengths per axis; each list sums to the axis length. Blocks of length
    /// 0 are allowed (as in dask), also on non-empty axes.
    Explicit(Vec<Vec<usize>>),
}

impl From<usize> for ChunkSpec {
    fn from(n: usize) -> Self {
        ChunkSpec::Same(n)
    }
}
impl From<&[usize]> for ChunkSpec {
    fn from(v: &[usize]) -> Self {
        ChunkSpec::PerAxis(v.to_vec())
    }
}
impl<const N: usize> From<[usize; N]> for ChunkSpec {
    fn from(v: [usize; N]) -> Self {
        ChunkSpec::PerAxis(v.to_vec())
    }
}
impl From<Vec<usize>> for ChunkSpec {
    fn from(v: Vec<usize>) -> Self {
        ChunkSpec::PerAxis(v)
    }
}
impl From<Vec<Vec<usize>>> for ChunkSpec {
    fn from(v: Vec<Vec<usize>>) -> Self {
        ChunkSpec::Explicit(v)
    }
}
impl From<&Chunks> for ChunkSpec {
    fn from(c: &Chunks) -> Self {
        ChunkSpec::Explicit(c.axes.clone())
    }
}

/// The most blocks one grid may have (about 16.8 million); a grid with more is a
/// [`TooLarge`](ErrorKind::TooLarge) error, raised before anything of its size is allocated.
pub const MAX_BLOCKS: usize = 1 << 24;

/// The most axes an array may have (NumPy 2's limit); more is a
/// [`TooLarge`](ErrorKind::TooLarge) error. Shape code walks axes recursively and per pair of
/// axes in places, so the number of axes must stay small.
pub const MAX_NDIM: usize = 64;

/// Checks that `ndim` axes are at most [`MAX_NDIM`].
fn check_ndim(ndim: usize) -> Result<()> {
    if ndim > MAX_NDIM {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!("an array of {ndim} dimensions: at most {MAX_NDIM} are supported"),
        ));
    }
    Ok(())
}

/// A validated chunk grid: for each axis, the lengths of its blocks, in order.
///
/// An axis of length 0 has one block of length 0; a 0-d array has no axes and one block.
/// Block offsets are computed once, so [`offset`](Chunks::offset) is O(1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Chunks {
    axes: Vec<Vec<usize>>,
    /// Per axis, the cumulative offsets (`len + 1` entries, the last the axis length).
    offs: Vec<Vec<usize>>,
}

#[cold]
fn shape_err(msg: String) -> Error {
    Error::new(ErrorKind::Shape, msg)
}

#[cold]
fn overflow(what: &str) -> Error {
    Error::new(ErrorKind::Overflow, format!("{what} overflows"))
}

/// Number of elements of `shape`, checked; also checks that `itemsize` bytes per element fit
/// in `isize` (the limit of one allocation).
pub fn checked_size(shape: &[usize], itemsize: usize) -> Result<usize> {
    let n = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| overflow("element count"))?;
    match n.checked_mul(itemsize.max(1)) {
        Some(b) if b <= isize::MAX as usize => Ok(n),
        _ => Err(overflow("size in bytes")),
    }
}

/// Row-major (C order) strides of `shape`, in elements. Empty axes count as length 1; a
/// stride past `usize::MAX` (possible only when another axis is empty, so that no element
/// is ever addressed with it) saturates.
pub fn c_strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; shape.len()];
    for k in (0..shape.len().saturating_sub(1)).rev() {
        s[k] = s[k + 1].saturating_mul(shape[k + 1].max(1));
    }
    s
}

/// The shape two shapes broadcast to (NumPy rules), or a [`Shape`](ErrorKind::Shape) error.
///
/// ```
/// use blockwork::array::grid::broadcast_shapes;
/// assert_eq!(broadcast_shapes(&[3, 1], &[4]).unwrap(), vec![3, 4]);
/// assert!(broadcast_shapes(&[3], &[4]).is_err());
/// ```
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(shape_err(format!(
                    "shapes {a:?} and {b:?} do not broadcast"
                )));
            }
        };
    }
    Ok(out)
}

/// How many blocks of `size` cover `len` (one for an empty axis).
fn uniform_count(len: usize, size: usize, axis: usize) -> Result<usize> {
    if len == 0 {
        return Ok(1);
    }
    if size == 0 {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("chunk size 0 on axis {axis} of length {len}"),
        ));
    }
    Ok(len.div_ceil(size))
}

/// Splits `len` into blocks of `size` (the last may be shorter); `[0]` for an empty axis.
/// The count was checked by [`uniform_count`].
fn uniform(len: usize, size: usize) -> Vec<usize> {
    if len == 0 {
        return vec![0];
    }
    let mut v = vec![size; len / size];
    if !len.is_multiple_of(size) {
        v.push(len % size);
    }
    v
}

/// Checks that a grid of `counts` blocks per axis has at most [`MAX_BLOCKS`] blocks.
fn check_block_count(counts: impl IntoIterator<Item = usize>) -> Result<()> {
    let total = counts
        .into_iter()
        .try_fold(1usize, |acc, c| acc.checked_mul(c))
        .filter(|&n| n <= MAX_BLOCKS);
    match total {
        Some(_) => Ok(()),
        None => Err(Error::new(
            ErrorKind::TooLarge,
            format!("chunk grid of more than {MAX_BLOCKS} blocks"),
        )),
    }
}

impl Chunks {
    /// Validates `spec` against `shape`.
    ///
    /// Errors: a spec with another number of axes, or explicit lengths that do not sum to
    /// the axis length, is a [`Shape`](ErrorKind::Shape) error; a uniform chunk size of 0
    /// ([`ChunkSpec::Same`] or [`ChunkSpec::PerAxis`]) on a non-empty axis is
    /// [`InvalidArgument`](ErrorKind::InvalidArgument), while explicit lists may hold
    /// zero-length blocks (as in dask); a shape whose size overflows is
    /// [`Overflow`](ErrorKind::Overflow); a grid of more than [`MAX_BLOCKS`] blocks, or of
    /// more than [`MAX_NDIM`] axes, is [`TooLarge`](ErrorKind::TooLarge).
    ///
    /// ```
    /// use blockwork::array::Chunks;
    /// let c = Chunks::new(&[4], vec![vec![0, 4, 0]])?;
    /// assert_eq!(c.numblocks(), vec![3]);
    /// assert_eq!(c.offset(0, 2), 4);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn new(shape: &[usize], spec: impl Into<ChunkSpec>) -> Result<Chunks> {
        check_ndim(shape.len())?;
        checked_size(shape, 8)?;
        let sizes: Vec<usize> = match spec.into() {
            ChunkSpec::Same(n) => vec![n; shape.len()],
            ChunkSpec::PerAxis(v) => {
                if v.len() != shape.len() {
                    return Err(shape_err(format!(
                        "chunks {v:?} do not match the {} axes of shape {shape:?}",
                        shape.len()
                    )));
                }
                v
            }
            ChunkSpec::Explicit(v) => return Chunks::explicit(shape, v),
        };
        let counts = shape
            .iter()
            .zip(&sizes)
            .enumerate()
            .map(|(k, (&d, &n))| uniform_count(d, n, k))
            .collect::<Result<Vec<_>>>()?;
        check_block_count(counts)?;
        let axes = shape
            .iter()
            .zip(&sizes)
            .map(|(&d, &n)| uniform(d, n))
            .collect();
        Chunks::with_offsets(axes)
    }

    /// Explicit lengths: each axis's list must sum to its length; zero-length blocks are
    /// accepted anywhere, as dask does.
    fn explicit(shape: &[usize], v: Vec<Vec<usize>>) -> Result<Chunks> {
        if v.len() != shape.len() {
            return Err(shape_err(format!(
                "chunks for {} axes given for shape {shape:?}",
                v.len()
            )));
        }
        for (k, (lens, &d)) in v.iter().zip(shape).enumerate() {
            let sum = lens
                .iter()
                .try_fold(0usize, |a, &b| a.checked_add(b))
                .ok_or_else(|| overflow("chunk lengths"))?;
            if sum != d || lens.is_empty() {
                return Err(shape_err(format!(
                    "chunks {lens:?} on axis {k} do not sum to its length {d}"
                )));
            }
        }
        check_block_count(v.iter().map(Vec::len))?;
        Chunks::with_offsets(v)
    }

    /// The grid with its offsets; an axis whose lengths overflow when summed is an
    /// [`Overflow`](ErrorKind::Overflow) error.
    fn with_offsets(axes: Vec<Vec<usize>>) -> Result<Chunks> {
        check_ndim(axes.len())?;
        let offs = axes
            .iter()
            .map(|lens| {
                let mut o = Vec::with_capacity(lens.len() + 1);
                let mut acc = 0usize;
                o.push(0);
                for &l in lens {
                    acc = acc.checked_add(l).ok_or_else(|| overflow("axis length"))?;
                    o.push(acc);
                }
                Ok(o)
            })
            .collect::<Result<_>>()?;
        Ok(Chunks { axes, offs })
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.axes.len()
    }

    /// Block lengths along `axis`.
    pub fn axis(&self, axis: usize) -> &[usize] {
        &self.axes[axis]
    }

    /// All axes' block lengths.
    pub fn axes(&self) -> &[Vec<usize>] {
        &self.axes
    }

    /// Number of blocks along each axis.
    pub fn numblocks(&self) -> Vec<usize> {
        self.axes.iter().map(Vec::len).collect()
    }

    /// Total number of blocks.
    pub fn nblocks(&self) -> usize {
        self.axes.iter().map(Vec::len).product()
    }

    /// The shape these chunks cover.
    pub fn shape(&self) -> Vec<usize> {
        self.offs.iter().map(|o| o[o.len() - 1]).collect()
    }

    /// The shape of block `idx`.
    pub fn block_shape(&self, idx: &[usize]) -> Vec<usize> {
        self.axes.iter().zip(idx).map(|(a, &i)| a[i]).collect()
    }

    /// Offset of block `i` along `axis` (O(1): offsets are computed once).
    pub fn offset(&self, axis: usize, i: usize) -> usize {
        self.offs[axis][i]
    }

    /// Block offsets along `axis`: `len + 1` entries, the last one the axis length.
    pub fn offsets(&self, axis: usize) -> &[usize] {
        &self.offs[axis]
    }

    /// Every block index, row-major.
    pub fn indices(&self) -> impl Iterator<Item = Vec<usize>> + use<> {
        BlockIndices::new(self.numblocks())
    }

    /// A grid from per-axis lengths derived from valid grids (each list non-empty): checks
    /// the element count ([`Overflow`](ErrorKind::Overflow)) and the block count
    /// ([`TooLarge`](ErrorKind::TooLarge)), as [`Chunks::new`] does.
    pub(crate) fn from_axes(axes: Vec<Vec<usize>>) -> Result<Chunks> {
        check_block_count(axes.iter().map(Vec::len))?;
        let c = Chunks::with_offsets(axes)?;
        checked_size(&c.shape(), 8)?;
        Ok(c)
    }
}

/// One axis of blocks whose lengths are not known until they are computed: the grid of a
/// [`Filtered`](super::Filtered). Only the number of blocks is known, and where the lengths
/// come from: two grids are equal exactly when they have the same `origin`, so arrays
/// computed from one masked array line up block by block, while the results of two
/// different masks (whose lengths may differ) do not.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct UnknownChunks {
    nblocks: usize,
    origin: Arc<str>,
}

impl UnknownChunks {
    /// `nblocks` blocks (at least one, at most [`MAX_BLOCKS`]) whose lengths come from the
    /// computation named `origin`.
    pub(crate) fn new(nblocks: usize, origin: Arc<str>) -> Result<UnknownChunks> {
        check_block_count([nblocks.max(1)])?;
        Ok(UnknownChunks {
            nblocks: nblocks.max(1),
            origin,
        })
    }

    /// Number of blocks.
    pub(crate) fn nblocks(&self) -> usize {
        self.nblocks
    }
}

/// An array's chunk grid: every length known ([`Chunks`]), or one axis of blocks whose
/// lengths are known only once computed ([`UnknownChunks`], always one-dimensional).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Grid {
    /// Every block length is known.
    Known(Chunks),
    /// A one-dimensional grid whose block lengths are unknown until computed.
    Unknown(UnknownChunks),
}

impl From<Chunks> for Grid {
    fn from(c: Chunks) -> Grid {
        Grid::Known(c)
    }
}

/// The error of an operation that needs the lengths of a grid that does not know them.
#[cold]
pub(crate) fn unknown_err(what: &str) -> Error {
    Error::new(
        ErrorKind::UnknownChunks,
        format!(
            "{what} needs the chunk lengths, which are unknown until the blocks are computed \
             (the result of a boolean mask): call `Filtered::compute_chunk_sizes` first"
        ),
    )
}

impl Grid {
    /// The known chunks, or an `UnknownChunks` error naming `what` needed them.
    pub(crate) fn known_for(&self, what: &str) -> Result<&Chunks> {
        match self {
            Grid::Known(c) => Ok(c),
            Grid::Unknown(_) => Err(unknown_err(what)),
        }
    }

    /// The known chunks, or an `UnknownChunks` error.
    pub(crate) fn known(&self) -> Result<&Chunks> {
        self.known_for("this operation")
    }

    /// The unknown grid, if the lengths are unknown.
    pub(crate) fn unknown(&self) -> Option<&UnknownChunks> {
        match self {
            Grid::Known(_) => None,
            Grid::Unknown(u) => Some(u),
        }
    }

    /// Whether every block length is known.
    pub(crate) fn is_known(&self) -> bool {
        matches!(self, Grid::Known(_))
    }

    /// Number of axes.
    pub(crate) fn ndim(&self) -> usize {
        match self {
            Grid::Known(c) => c.ndim(),
            Grid::Unknown(_) => 1,
        }
    }

    /// Number of blocks along each axis.
    pub(crate) fn numblocks(&self) -> Vec<usize> {
        match self {
            Grid::Known(c) => c.numblocks(),
            Grid::Unknown(u) => vec![u.nblocks],
        }
    }

    /// Total number of blocks.
    pub(crate) fn nblocks(&self) -> usize {
        match self {
            Grid::Known(c) => c.nblocks(),
            Grid::Unknown(u) => u.nblocks,
        }
    }

    /// Every block index, row-major.
    pub(crate) fn indices(&self) -> impl Iterator<Item = Vec<usize>> + use<> {
        BlockIndices::new(self.numblocks())
    }
}

/// Cumulative offsets of block lengths, with a leading 0.
pub fn offsets(lens: &[usize]) -> Vec<usize> {
    let mut o = Vec::with_capacity(lens.len() + 1);
    let mut acc = 0;
    o.push(0);
    for &l in lens {
        acc += l;
        o.push(acc);
    }
    o
}

/// The coarsest partition finer than both `a` and `b` (which must cover the same length):
/// every boundary of either is a boundary of the result.
///
/// ```
/// use blockwork::array::grid::refine;
/// assert_eq!(refine(&[4, 4], &[3, 5]), vec![3, 1, 4]);
/// ```
pub fn refine(a: &[usize], b: &[usize]) -> Vec<usize> {
    let (oa, ob) = (offsets(a), offsets(b));
    let mut cuts: Vec<usize> = oa.iter().chain(&ob).copied().collect();
    cuts.sort_unstable();
    cuts.dedup();
    let out: Vec<usize> = cuts.windows(2).map(|w| w[1] - w[0]).collect();
    if out.is_empty() { vec![0] } else { out }
}

/// Where position `pos` falls: `(block, offset inside the block)`, given block offsets.
/// A position equal to the total length maps to the last block's end.
pub fn locate(offs: &[usize], pos: usize) -> (usize, usize) {
    let nb = offs.len() - 1;
    // The block whose start is the last one <= pos, skipping zero-length blocks.
    let b = offs[..nb].partition_point(|&o| o <= pos).saturating_sub(1);
    (b, pos - offs[b])
}

/// Row-major iteration over all multi-indices below `bounds`.
pub(crate) struct BlockIndices {
    bounds: Vec<usize>,
    next: Option<Vec<usize>>,
}

impl BlockIndices {
    pub(crate) fn new(bounds: Vec<usize>) -> BlockIndices {
        let next = if bounds.contains(&0) {
            None
        } else {
            Some(vec![0; bounds.len()])
        };
        BlockIndices { bounds, next }
    }
}

impl Iterator for BlockIndices {
    type Item = Vec<usize>;
    fn next(&mut self) -> Option<Vec<usize>> {
        let cur = self.next.take()?;
        let mut n = cur.clone();
        for k in (0..n.len()).rev() {
            n[k] += 1;
            if n[k] < self.bounds[k] {
                self.next = Some(n);
                return Some(cur);
            }
            n[k] = 0;
        }
        Some(cur)
    }
}

/// Normalises an axis argument (negative counts from the end) against `ndim`.
pub fn norm_axis(axis: isize, ndim: usize) -> Result<usize> {
    let n = ndim as isize;
    let a = if axis < 0 { axis + n } else { axis };
    if a < 0 || a >= n {
        return Err(Error::new(
            ErrorKind::Index,
            format!("axis {axis} out of range for {ndim} dimensions"),
        ));
    }
    Ok(a as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_and_ragged() {
        let c = Chunks::new(&[7, 0, 4], [3, 2, 4]).unwrap();
        assert_eq!(c.axes(), &[vec![3, 3, 1], vec![0], vec![4]]);
        assert_eq!(c.nblocks(), 3);
        assert_eq!(c.shape(), vec![7, 0, 4]);
        let z = Chunks::new(&[], ChunkSpec::Same(5)).unwrap();
        assert_eq!(z.nblocks(), 1);
        assert_eq!(z.indices().collect::<Vec<_>>(), vec![Vec::<usize>::new()]);
    }

    #[test]
    fn errors_by_kind() {
        let k = |r: Result<Chunks>| r.unwrap_err().kind();
        assert_eq!(k(Chunks::new(&[4], [2, 2])), ErrorKind::Shape);
        assert_eq!(k(Chunks::new(&[4], 0)), ErrorKind::InvalidArgument);
        assert_eq!(k(Chunks::new(&[4], vec![vec![1, 2]])), ErrorKind::Shape);
        assert_eq!(k(Chunks::new(&[usize::MAX, 2], 1)), ErrorKind::Overflow);
        assert_eq!(k(Chunks::new(&[1 << 62], 1 << 40)), ErrorKind::Overflow);
    }

    #[test]
    fn refine_and_locate() {
        assert_eq!(refine(&[2, 2, 2], &[3, 3]), vec![2, 1, 1, 2]);
        assert_eq!(refine(&[0], &[0]), vec![0]);
        let o = offsets(&[3, 0, 2]);
        assert_eq!(locate(&o, 0), (0, 0));
        assert_eq!(locate(&o, 3), (2, 0));
        assert_eq!(locate(&o, 4), (2, 1));
        assert_eq!(c_strides(&[2, 3, 4]), vec![12, 4, 1]);
        assert_eq!(
            BlockIndices::new(vec![2, 2]).collect::<Vec<_>>(),
            vec![vec![0, 0], vec![0, 1], vec![1, 0], vec![1, 1]]
        );
    }
}
