//! Boolean masks, and arrays whose chunk lengths are unknown until computed.
//!
//! [`Array::mask`] is NumPy's `x[cond]` for a boolean `cond` of `x`'s shape: the elements
//! of `x` where `cond` is true, in row-major order over the whole array, as a 1-d array.
//! How many there are is known only once `cond` is computed, so the result's grid is an
//! [`UnknownChunks`] (dask's NaN chunks): a known number of blocks of unknown lengths.
//!
//! **Order.** One output block is one task, reading one *band* of blocks: the blocks that
//! share a block position along axis 0 (all of them, for a 1-d array). The task walks its
//! band row-major over the band's whole extent, so the output's blocks, in order, are
//! `x[cond]` in NumPy's order even when the trailing axes are cut into several blocks
//! (concatenating per-block results would not be: row 0 of the second block along axis 1
//! comes before row 1 of the first). A band of several blocks is gathered into one buffer
//! first, so a task holds a band of `x` and of `cond`, as a rechunk to whole trailing axes
//! would; a band of one block is read in place.
//!
//! What works on such arrays, and what is an error, is listed in the
//! [`array` module docs](super).
//!
//! ```
//! use blockwork::array::ArrayContext;
//! use blockwork::{ErrorKind, Sequential};
//!
//! let ctx = ArrayContext::new();
//! let a = ndarray::Array2::from_shape_fn((4, 6), |(i, j)| ((i * 7 + j * 5) % 10) as f64);
//! let x = ctx.from_ndarray(&a.clone().into_dyn(), [3, 4])?;
//! let y = x.mask(&x.gt(4.5)?)?;                 // x[x > 4.5]: lengths unknown
//! assert_eq!(y.dims(), vec![None]);
//! assert_eq!(y.shape().unwrap_err().kind(), ErrorKind::UnknownChunks);
//! let seq = Sequential::new();
//! let want: Vec<f64> = a.iter().copied().filter(|&v| v > 4.5).collect();
//! assert_eq!(y.compute::<f64>(&seq)?.into_raw_vec_and_offset().0, want);
//! assert_eq!(y.sum(None)?.compute_f64(&seq)?, want.iter().sum::<f64>());
//! let z = y.compute_chunk_sizes(&seq)?;          // lengths known again
//! assert_eq!(z.shape()?, &[want.len()]);
//! # Ok::<(), blockwork::Error>(())
//! ```

use super::dtype::{BlockData, DType, Element, with_dtype};
use super::expr::{Fused, LeafSrc};
use super::grid::{BlockIndices, Chunks, Grid, UnknownChunks, unknown_err};
use super::{Array, Layer, block_of, blocks_of, token};
use crate::error::{Error, ErrorKind, Result, TaskError};
use crate::exec::Executor;
use crate::graph::{Arg, Graph, Node, Op, Task};
use crate::key::Key;
use crate::plan::Plan;
use crate::value::Value;
use ndarray::{ArrayD, CowArray, IxDyn, Slice};
use std::sync::Arc;

impl Array {
    /// The elements of `self` where `cond` is true, as a 1-d array in row-major order over
    /// the whole array: NumPy's `x[cond]` for a boolean `cond` of `x`'s shape (and
    /// `np.extract(cond, x)`). Lazy: the result's chunk lengths are unknown until computed
    /// (see the [`array` module docs](super) for what works on such arrays, and
    /// [`Array::compute_chunk_sizes`]).
    ///
    /// `cond` is rechunked to `self`'s grid when the grids differ; arrays with unknown
    /// lengths take a `cond` of the same unknown grid (computed elementwise from the same
    /// mask result), so `y.mask(&y.lt(0.5)?)` masks again.
    ///
    /// Errors: a `cond` that is not `bool` is a [`Type`](ErrorKind::Type) error; another
    /// shape an [`Index`](ErrorKind::Index) error (as [`Idx::Mask`](super::Idx::Mask) of
    /// the wrong length); a `cond` whose lengths are unknown while `self`'s are known, or
    /// the other way round, or unknown lengths from another mask, an
    /// [`UnknownChunks`](ErrorKind::UnknownChunks) error.
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// let ctx = ArrayContext::new();
    /// let x = ctx.arange(0.0, 10.0, 1.0, 3)?;
    /// let y = x.mask(&x.ge(3.0)?)?;                    // 3..10
    /// let z = y.mask(&y.rem(2.0)?.eq(0.0)?)?;          // chained: the even ones
    /// let got = z.compute::<f64>(&blockwork::Sequential::new())?;
    /// assert_eq!(got.into_raw_vec_and_offset().0, vec![4.0, 6.0, 8.0]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn mask(&self, cond: &Array) -> Result<Array> {
        if cond.dtype() != DType::Bool {
            return Err(Error::new(
                ErrorKind::Type,
                format!("a mask must be bool, not {}", cond.dtype()),
            ));
        }
        let cond = match (self.grid(), cond.grid()) {
            (Grid::Known(a), Grid::Known(b)) => {
                if a.shape() != b.shape() {
                    return Err(Error::new(
                        ErrorKind::Index,
                        format!(
                            "a mask of shape {:?} for an array of shape {:?}",
                            b.shape(),
                            a.shape()
                        ),
                    ));
                }
                cond.rechunk(a)?
            }
            (Grid::Unknown(a), Grid::Unknown(b)) if a == b => cond.clone(),
            _ => {
                return Err(unknown_err(
                    "a mask and an array whose lengths do not come from one computation",
                ));
            }
        };
        let (x, c) = (self.materialize(), cond.materialize());
        let nb = x.numblocks();
        // Offsets of the trailing axes' blocks: a band is every block of one row of blocks.
        let trailing: Arc<Vec<Vec<usize>>> = Arc::new(match x.grid() {
            Grid::Known(ch) => (1..ch.ndim()).map(|k| ch.offsets(k).to_vec()).collect(),
            Grid::Unknown(_) => Vec::new(),
        });
        let nbands = nb.first().copied().unwrap_or(1);
        let name = token("mask", (x.name(), c.name()));
        let (ctx, dtype, tr) = (self.context().clone(), self.dtype(), trailing.clone());
        let op = Op::new("mask", move |args: &[Value]| {
            let xs = blocks_of(args[0].as_list().unwrap_or(&[]))?;
            let cs = blocks_of(args[1].as_list().unwrap_or(&[]))?;
            let out = with_dtype!(dtype, T => filter_band::<T>(&xs, &cs, &tr)?);
            Ok(ctx.block(out))
        });
        let mut graph = Graph::with_capacity(nbands);
        let rest = nb.get(1..).unwrap_or(&[]).to_vec();
        for i in 0..nbands {
            let keys = |a: &Array| -> Vec<Arg> {
                BlockIndices::new(rest.clone())
                    .map(|t| {
                        let mut idx = Vec::with_capacity(nb.len());
                        if !nb.is_empty() {
                            idx.push(i);
                        }
                        idx.extend(t);
                        Arg::key(a.block_key(&idx))
                    })
                    .collect()
            };
            let args = [Arg::list(keys(&x)), Arg::list(keys(&c))];
            graph.insert(Key::block(&name, &[i]), Node::Task(Task::new(&op, args)));
        }
        let grid = UnknownChunks::new(nbands, name.clone())?;
        let layer = Layer {
            name,
            graph,
            deps: vec![x.layer(), c.layer()],
        };
        Ok(Array::from_layer(
            self.context(),
            layer,
            Grid::Unknown(grid),
            dtype,
        ))
    }

    /// The same array with its chunk lengths known: runs the blocks to learn their lengths
    /// (as dask's `compute_chunk_sizes`) and returns an array of the same blocks (same keys)
    /// whose grid knows them, so that slicing, rechunking, `matmul` and the rest work. The
    /// blocks are not kept: computing the result runs them again ([`Array::persist`] keeps
    /// them, and knows the lengths too). An array whose lengths are known is returned as is.
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// let ctx = ArrayContext::new();
    /// let x = ctx.arange(0.0, 10.0, 1.0, 4)?;
    /// let y = x.mask(&x.lt(5.0)?)?.compute_chunk_sizes(&blockwork::Sequential::new())?;
    /// assert_eq!(y.chunks()?.axis(0), &[4, 1, 0]);
    /// assert_eq!(y.slice(blockwork::s![1..3])?.sum(None)?.compute_f64(&blockwork::Sequential::new())?, 3.0);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn compute_chunk_sizes(&self, exec: &impl Executor) -> Result<Array> {
        if self.chunks_known() {
            return Ok(self.clone());
        }
        let name = token("chunk-sizes", self.name());
        let op = Op::new("chunk-size", |args: &[Value]| {
            Ok(Value::from(one_d_len(block_of(&args[0])?)? as i64))
        });
        let mut graph = self.graph()?;
        let mut keys = Vec::with_capacity(self.grid().nblocks());
        for (i, k) in self.keys().into_iter().enumerate() {
            let key = Key::block(&name, &[i]);
            graph.insert(key.clone(), Node::Task(Task::new(&op, [Arg::key(k)])));
            keys.push(key);
        }
        let out = exec.run(&Plan::new(&graph, &keys)?)?;
        let lens = out
            .values
            .iter()
            .map(|v| {
                v.as_int()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| Error::new(ErrorKind::Type, "a block length is not a length"))
            })
            .collect::<Result<Vec<usize>>>()?;
        self.with_lengths(lens)
    }

    /// This array (same blocks and keys) with a known 1-d grid of block lengths `lens`.
    fn with_lengths(&self, lens: Vec<usize>) -> Result<Array> {
        Ok(self.regrid(lengths_grid(lens)?))
    }
}

/// The 1-d grid of blocks of lengths `lens`.
pub(crate) fn lengths_grid(lens: Vec<usize>) -> Result<Chunks> {
    let total = lens
        .iter()
        .try_fold(0usize, |a, &b| a.checked_add(b))
        .ok_or_else(|| Error::new(ErrorKind::Overflow, "array length overflows"))?;
    Chunks::new(&[total], vec![lens])
}

/// The length of a 1-d block (an array with unknown lengths has only such blocks).
pub(crate) fn one_d_len(b: &BlockData) -> Result<usize, TaskError> {
    match b.shape() {
        [n] => Ok(*n),
        s => Err(TaskError::with_kind(
            ErrorKind::Shape,
            format!("a block of shape {s:?} in a 1-d array"),
        )),
    }
}

/// The shape of output block `idx` of a fused expression on `grid`: from the grid when it
/// is known, else from the inputs whose lengths are unknown (the array leaves of an unknown
/// grid: they must all have one length, which is the block's).
pub(crate) fn block_shape(
    grid: &Grid,
    fused: &Fused,
    inputs: &[&BlockData],
    idx: &[usize],
) -> Result<Vec<usize>, TaskError> {
    if let Grid::Known(c) = grid {
        return Ok(c.block_shape(idx));
    }
    let mut len = None;
    for (l, b) in fused
        .leaves
        .iter()
        .filter(|l| matches!(l.src, LeafSrc::Array(_)))
        .zip(inputs)
    {
        let LeafSrc::Array(a) = &l.src else { continue };
        if a.chunks_known() {
            continue;
        }
        let n = one_d_len(b)?;
        if len.is_some_and(|m| m != n) {
            return Err(TaskError::with_kind(
                ErrorKind::Shape,
                format!("blocks {idx:?} of operands of unknown lengths differ in length"),
            ));
        }
        len = Some(n);
    }
    len.map(|n| vec![n]).ok_or_else(|| {
        TaskError::with_kind(
            ErrorKind::Shape,
            "internal: an unknown grid with no input of unknown length",
        )
    })
}

/// A band of blocks (row-major over the trailing axes' blocks, whose offsets are `offs`)
/// as one array: the block itself when there is one, else the blocks gathered.
fn gather<'a, T: Element>(
    parts: &[&'a BlockData],
    offs: &[Vec<usize>],
) -> Result<CowArray<'a, T, IxDyn>, TaskError> {
    let arr = |b: &'a BlockData| {
        T::array_ref(b).ok_or_else(|| {
            TaskError::with_kind(
                ErrorKind::Type,
                format!("a {} block in a {} array", b.dtype(), T::DTYPE),
            )
        })
    };
    let counts: Vec<usize> = offs.iter().map(|o| o.len().saturating_sub(1)).collect();
    if parts.len() != counts.iter().product::<usize>() {
        return Err(TaskError::with_kind(
            ErrorKind::Shape,
            "internal: a band of the wrong number of blocks",
        ));
    }
    if let [one] = parts {
        return Ok(arr(one)?.view().into());
    }
    let rows = arr(parts[0])?.shape().first().copied().unwrap_or(1);
    let mut shape = vec![rows];
    shape.extend(offs.iter().map(|o| o.last().copied().unwrap_or(0)));
    let mut full = ArrayD::<T>::default(IxDyn(&shape));
    for (p, combo) in parts.iter().zip(BlockIndices::new(counts)) {
        let a = arr(p)?;
        let mut want = vec![rows];
        want.extend(
            combo
                .iter()
                .enumerate()
                .map(|(k, &j)| offs[k][j + 1] - offs[k][j]),
        );
        if a.shape() != want.as_slice() {
            return Err(TaskError::with_kind(
                ErrorKind::Shape,
                format!("a block of shape {:?} where {want:?} belongs", a.shape()),
            ));
        }
        full.slice_each_axis_mut(|ax| match ax.axis.index() {
            0 => Slice::from(..),
            k => {
                let o = offs[k - 1][combo[k - 1]];
                Slice::from(o..o + want[k])
            }
        })
        .assign(a);
    }
    Ok(full.into())
}

/// The elements of a band of `x` where its band of `cond` is true, row-major.
fn filter_band<T: Element>(
    xs: &[&BlockData],
    cs: &[&BlockData],
    offs: &[Vec<usize>],
) -> Result<BlockData, TaskError> {
    let (x, c) = (gather::<T>(xs, offs)?, gather::<bool>(cs, offs)?);
    if x.shape() != c.shape() {
        return Err(TaskError::with_kind(
            ErrorKind::Shape,
            format!(
                "a mask block of shape {:?} for a block of shape {:?}",
                c.shape(),
                x.shape()
            ),
        ));
    }
    let n = c.iter().filter(|&&b| b).count();
    let mut out = Vec::with_capacity(n);
    out.extend(x.iter().zip(c.iter()).filter(|(_, b)| **b).map(|(v, _)| *v));
    ArrayD::from_shape_vec(IxDyn(&[n]), out)
        .map(T::wrap)
        .map_err(|e| TaskError::with_kind(ErrorKind::Shape, e.to_string()))
}
