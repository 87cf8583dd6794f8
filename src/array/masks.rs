//! Boolean masks, and arrays whose chunk lengths are unknown until computed.
//!
//! [`Array::mask`] is NumPy's `x[cond]` for a boolean `cond` of `x`'s shape: the elements
//! of `x` where `cond` is true, in row-major order over the whole array, as a 1-d array.
//! How many there are is known only once `cond` is computed, so the result is a
//! [`Filtered`] (dask's NaN chunks): a known number of blocks of unknown lengths.
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
//! What a [`Filtered`] offers is listed in the [`array` module docs](super); what needs the
//! lengths up front (its shape, slicing, `matmul`, ...) does not exist on it, and
//! [`Filtered::compute_chunk_sizes`] or [`Filtered::persist`] give an [`Array`] that has it.
//!
//! ```
//! use blockwork::array::ArrayContext;
//! use blockwork::Sequential;
//!
//! let ctx = ArrayContext::new();
//! let a = ndarray::Array2::from_shape_fn((4, 6), |(i, j)| ((i * 7 + j * 5) % 10) as f64);
//! let x = ctx.from_ndarray(&a.clone().into_dyn(), [3, 4])?;
//! let y = x.mask(&x.gt(4.5)?)?;                 // x[x > 4.5]: a Filtered
//! assert_eq!(y.nblocks(), 2);
//! let seq = Sequential::new();
//! let want: Vec<f64> = a.iter().copied().filter(|&v| v > 4.5).collect();
//! assert_eq!(y.compute::<f64>(&seq)?.to_vec(), want);
//! assert_eq!(y.sum()?.compute_f64(&seq)?, want.iter().sum::<f64>());
//! let centred = &y - y.mean()?;                 // still a Filtered
//! assert!(centred.sum()?.compute_f64(&seq)?.abs() < 1e-9);
//! let z = y.compute_chunk_sizes(&seq)?;          // an Array: lengths known
//! assert_eq!(z.shape(), &[want.len()]);
//! # Ok::<(), blockwork::Error>(())
//! ```

use super::dtype::{BlockData, DType, Element, Scalar, with_dtype};
use super::elementwise::{Operand, bin_ops, binary, un_ops, unary};
use super::expr::{BinOp, Fused, LeafSrc, UnOp};
use super::grid::{BlockIndices, Chunks, Grid, UnknownChunks, unknown_err};
use super::reduce::{ReduceOp, Reduction};
use super::{Array, ArrayContext, Layer, block_of, blocks_of, token};
use crate::error::{Error, ErrorKind, Result, TaskError};
use crate::exec::Executor;
use crate::graph::Graph as TaskGraph;
use crate::graph::{Arg, Graph, Node, Op, Task};
use crate::key::Key;
use crate::plan::Plan;
use crate::value::Value;
use ndarray::{ArrayD, CowArray, IxDyn, Slice};
use std::sync::Arc;

impl Array {
    /// The elements of `self` where `cond` is true, as a 1-d array in row-major order over
    /// the whole array: NumPy's `x[cond]` for a boolean `cond` of `x`'s shape (and
    /// `np.extract(cond, x)`). Lazy: how many elements there are is known only once
    /// computed, so the result is a [`Filtered`] (see the [`array` module docs](super) for
    /// what it offers, and [`Filtered::compute_chunk_sizes`] for an [`Array`] again).
    /// `cond` is rechunked to `self`'s grid when the grids differ.
    ///
    /// Errors: a `cond` that is not `bool` is a [`Type`](ErrorKind::Type) error; another
    /// shape an [`Index`](ErrorKind::Index) error (as [`Idx::Mask`](super::Idx::Mask) of
    /// the wrong length).
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// let ctx = ArrayContext::new();
    /// let x = ctx.arange(0.0, 10.0, 1.0, 3)?;
    /// let y = x.mask(&x.ge(3.0)?)?;                    // 3..10
    /// let z = y.mask(&y.rem(2.0)?.eq(0.0)?)?;          // chained: the even ones
    /// let got = z.compute::<f64>(&blockwork::Sequential::new())?;
    /// assert_eq!(got.to_vec(), vec![4.0, 6.0, 8.0]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn mask(&self, cond: &Array) -> Result<Filtered> {
        Filtered::wrap(self.mask_any(cond)?)
    }

    /// [`Array::mask`] on arrays of known or (inside a [`Filtered`]) unknown lengths: a
    /// `cond` of unknown lengths must come from the same mask as `self`.
    pub(crate) fn mask_any(&self, cond: &Array) -> Result<Array> {
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

/// A 1-d array whose block lengths are known only once computed, as dask's arrays with NaN
/// chunks: what [`Array::mask`] gives (NumPy's `x[cond]`).
///
/// It has a known number of blocks, a type and a graph, but no shape: what needs the
/// lengths up front (`shape`, `len`, slicing, `rechunk`, `matmul`, ...) is not offered, and
/// [`Filtered::compute_chunk_sizes`] or [`Filtered::persist`] turn it into an [`Array`].
/// It offers:
///
/// - elementwise methods and operators (`+ - * / %`, unary `-`) with another `Filtered` of
///   the same origin (the same mask, or computed elementwise from it), with scalars, and
///   with an [`Array`] of one element (a reduction's result: `&y - y.mean()?`); a
///   `Filtered` of another mask, or an array of more elements, is an
///   [`UnknownChunks`](ErrorKind::UnknownChunks) error, as the lengths might differ;
/// - comparisons, whose results are conditions for [`Filtered::mask`];
/// - reductions over everything ([`Filtered::sum`], [`Filtered::mean`], [`Filtered::var`],
///   ..., or [`Filtered::reduce`] with `keepdims`), giving ordinary arrays; the checks that
///   need the count (the minimum of nothing, a `ddof` over the count) are made when the
///   last task runs;
/// - [`Filtered::cumsum`], [`Filtered::cumprod`] and [`Filtered::map_blocks`];
/// - [`Filtered::compute`], [`Filtered::compute_data`], [`Filtered::compute_scalar`],
///   [`compute`](crate::compute()) and [`Delayed::from_filtered`](crate::Delayed::from_filtered).
///
/// ```
/// use blockwork::array::ArrayContext;
/// use blockwork::Sequential;
/// let ctx = ArrayContext::new();
/// let x = ctx.arange(0.0, 10.0, 1.0, 4)?;
/// let y = x.mask(&x.gt(4.5)?)?;                      // 5..10, lengths unknown
/// let z = (&y * 2.0 - y.min()?).mask(&y.lt(8.0)?)?;  // masks again
/// let seq = Sequential::new();
/// assert_eq!(z.compute::<f64>(&seq)?.to_vec(), vec![5.0, 7.0, 9.0]);
/// assert_eq!(y.persist(&seq)?.shape(), &[5]);
/// # Ok::<(), blockwork::Error>(())
/// ```
///
/// Operations that need the lengths are not there to call:
///
/// ```compile_fail
/// use blockwork::array::ArrayContext;
/// let ctx = ArrayContext::new();
/// let x = ctx.arange(0.0, 10.0, 1.0, 4)?;
/// let y = x.mask(&x.gt(4.5)?)?;
/// let n = y.shape(); // no such method: the lengths are not known
/// # Ok::<(), blockwork::Error>(())
/// ```
///
/// ```compile_fail
/// use blockwork::array::ArrayContext;
/// let ctx = ArrayContext::new();
/// let x = ctx.arange(0.0, 10.0, 1.0, 4)?;
/// let y = x.mask(&x.gt(4.5)?)?;
/// let p = y.matmul(&y)?; // no such method
/// # Ok::<(), blockwork::Error>(())
/// ```
///
/// ```compile_fail
/// use blockwork::array::ArrayContext;
/// let ctx = ArrayContext::new();
/// let x = ctx.arange(0.0, 10.0, 1.0, 4)?;
/// let y = x.mask(&x.gt(4.5)?)?;
/// let s = x.add(&y)?; // an Array takes no Filtered operand
/// # Ok::<(), blockwork::Error>(())
/// ```
#[derive(Clone)]
pub struct Filtered {
    /// Always of an unknown grid.
    array: Array,
}

impl std::fmt::Debug for Filtered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filtered")
            .field("name", self.name())
            .field("nblocks", &self.nblocks())
            .field("dtype", &self.dtype())
            .finish()
    }
}

/// An operand of an elementwise operation on a [`Filtered`]: another `Filtered` (of the
/// same origin), an [`Array`] of one element, or a scalar.
#[derive(Clone, Debug)]
pub struct FilteredOperand(Operand);

impl From<&Filtered> for FilteredOperand {
    fn from(f: &Filtered) -> Self {
        FilteredOperand(Operand::Array(f.array.clone()))
    }
}
impl From<Filtered> for FilteredOperand {
    fn from(f: Filtered) -> Self {
        FilteredOperand(Operand::Array(f.array))
    }
}
impl From<&Array> for FilteredOperand {
    fn from(a: &Array) -> Self {
        FilteredOperand(Operand::Array(a.clone()))
    }
}
impl From<Array> for FilteredOperand {
    fn from(a: Array) -> Self {
        FilteredOperand(Operand::Array(a))
    }
}
macro_rules! filtered_operand_from {
    ($($t:ty),*) => {$(
        impl From<$t> for FilteredOperand {
            fn from(x: $t) -> Self {
                FilteredOperand(Operand::Scalar(Scalar::from(x)))
            }
        }
    )*};
}
filtered_operand_from!(bool, i32, i64, f32, f64, Scalar);

macro_rules! filtered_bin_methods {
    ($($(#[$doc:meta])* $name:ident => $op:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(&self, other: impl Into<FilteredOperand>) -> Result<Filtered> {
            filtered_binary(BinOp::$op, self, other)
        }
    )*};
}
macro_rules! filtered_un_methods {
    ($($(#[$doc:meta])* $name:ident => $op:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(&self) -> Result<Filtered> {
            Filtered::wrap(unary(UnOp::$op, &self.array)?)
        }
    )*};
}
macro_rules! filtered_reductions {
    ($($(#[$doc:meta])* $name:ident => $op:expr),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(&self) -> Result<Array> {
            self.reduce($op, &Reduction::all())
        }
    )*};
}

/// `op(a, b)` elementwise where one side is a [`Filtered`] (the operators' form).
pub(crate) fn filtered_binary(
    op: BinOp,
    a: impl Into<FilteredOperand>,
    b: impl Into<FilteredOperand>,
) -> Result<Filtered> {
    Filtered::wrap(binary(op, a.into().0, b.into().0)?)
}

impl Filtered {
    /// `array` (of unknown lengths) as a `Filtered`.
    fn wrap(array: Array) -> Result<Filtered> {
        if array.chunks_known() {
            return Err(Error::new(
                ErrorKind::Shape,
                "internal: a Filtered of known lengths",
            ));
        }
        Ok(Filtered { array })
    }

    /// The name: the first element of every block key.
    pub fn name(&self) -> &Arc<str> {
        self.array.name()
    }
    /// The element type.
    pub fn dtype(&self) -> DType {
        self.array.dtype()
    }
    /// The context whose pool the blocks use.
    pub fn context(&self) -> &ArrayContext {
        self.array.context()
    }
    /// Number of blocks (known, unlike their lengths).
    pub fn nblocks(&self) -> usize {
        self.array.grid().nblocks()
    }
    /// Every block key, in order.
    pub fn keys(&self) -> Vec<Key> {
        self.array.keys()
    }
    /// The whole graph that computes this array's blocks (errors as [`Array::graph`]).
    pub fn graph(&self) -> Result<TaskGraph> {
        self.array.graph()
    }

    /// The elements of `self` where `cond` is true, in order: masks again, as
    /// `y.mask(&y.lt(0.5)?)`. `cond` must come from the same origin as `self` (computed
    /// elementwise from it): one of another mask is an
    /// [`UnknownChunks`](ErrorKind::UnknownChunks) error; one that is not `bool` a
    /// [`Type`](ErrorKind::Type) error.
    pub fn mask(&self, cond: &Filtered) -> Result<Filtered> {
        Filtered::wrap(self.array.mask_any(&cond.array)?)
    }

    bin_ops!(filtered_bin_methods);
    un_ops!(filtered_un_methods);

    /// Limits values to `[lo, hi]` (as [`Array::clip`]).
    pub fn clip(
        &self,
        lo: impl Into<FilteredOperand>,
        hi: impl Into<FilteredOperand>,
    ) -> Result<Filtered> {
        self.maximum(lo)?.minimum(hi)
    }

    /// The array converted to `dtype` (as [`Array::astype`]).
    pub fn astype(&self, dtype: DType) -> Result<Filtered> {
        Filtered::wrap(self.array.astype(dtype)?)
    }

    filtered_reductions! {
        /// Sum of every element, as a 0-d [`Array`]; the other reductions are alike.
        sum => ReduceOp::Sum,
        /// Product.
        prod => ReduceOp::Prod,
        /// Minimum (of nothing: an [`Empty`](ErrorKind::Empty) error when run).
        min => ReduceOp::Min,
        /// Maximum (of nothing: an [`Empty`](ErrorKind::Empty) error when run).
        max => ReduceOp::Max,
        /// Mean; of nothing it is NaN, as in NumPy.
        mean => ReduceOp::Mean,
        /// Whether any element is non-zero.
        any => ReduceOp::Any,
        /// Whether all elements are non-zero.
        all => ReduceOp::All,
        /// Sum ignoring NaN.
        nansum => ReduceOp::NanSum,
        /// Mean ignoring NaN (NaN where nothing is left).
        nanmean => ReduceOp::NanMean,
        /// Minimum ignoring NaN.
        nanmin => ReduceOp::NanMin,
        /// Maximum ignoring NaN.
        nanmax => ReduceOp::NanMax,
    }

    /// Variance with `ddof` (as [`Array::var`]); a `ddof` over the count is an
    /// [`InvalidArgument`](ErrorKind::InvalidArgument) error when run.
    pub fn var(&self, ddof: usize) -> Result<Array> {
        self.reduce(ReduceOp::Var(ddof), &Reduction::all())
    }

    /// Standard deviation with `ddof` (as [`Array::std`]).
    pub fn std(&self, ddof: usize) -> Result<Array> {
        self.reduce(ReduceOp::Std(ddof), &Reduction::all())
    }

    /// A reduction over the only axis (`how` may set `keepdims` and `split_every`), giving
    /// an ordinary [`Array`]: 0-d, or of shape `[1]` with `keepdims`.
    ///
    /// Errors as [`Array::reduce`]; besides, the arg reductions (whose flat index needs the
    /// lengths) are [`UnknownChunks`](ErrorKind::UnknownChunks) errors, and a reduction
    /// over no axes an [`InvalidArgument`](ErrorKind::InvalidArgument) error.
    pub fn reduce(&self, op: ReduceOp, how: &Reduction) -> Result<Array> {
        let out = self.array.reduce(op, how)?;
        if !out.chunks_known() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "a reduction of a Filtered over no axes (it is the Filtered itself)",
            ));
        }
        Ok(out)
    }

    /// Cumulative sum (integers and bools accumulate as `i64`).
    pub fn cumsum(&self) -> Result<Filtered> {
        Filtered::wrap(self.array.cumsum(0)?)
    }

    /// Cumulative product.
    pub fn cumprod(&self) -> Result<Filtered> {
        Filtered::wrap(self.array.cumprod(0)?)
    }

    /// Applies `f(block, index)` to every block (as [`Array::map_blocks`]); each result
    /// must have its input block's length (a task error otherwise).
    pub fn map_blocks(
        &self,
        name: &str,
        dtype: DType,
        f: impl Fn(&BlockData, &[usize]) -> std::result::Result<BlockData, TaskError>
        + Send
        + Sync
        + 'static,
    ) -> Result<Filtered> {
        Filtered::wrap(self.array.map_blocks(name, dtype, f)?)
    }

    /// [`Filtered::map_blocks`] with a caller-supplied token (as
    /// [`Array::map_blocks_with_token`]).
    pub fn map_blocks_with_token(
        &self,
        name: &str,
        token: &str,
        dtype: DType,
        f: impl Fn(&BlockData, &[usize]) -> std::result::Result<BlockData, TaskError>
        + Send
        + Sync
        + 'static,
    ) -> Result<Filtered> {
        Filtered::wrap(self.array.map_blocks_with_token(name, token, dtype, f)?)
    }

    /// Computes every block and joins them into one 1-d `ndarray` of type `T` (which must
    /// be the array's type: a [`Type`](ErrorKind::Type) error otherwise).
    pub fn compute<T: Element>(&self, exec: &impl Executor) -> Result<ndarray::Array1<T>> {
        self.array
            .compute::<T>(exec)?
            .into_dimensionality()
            .map_err(|e| Error::new(ErrorKind::Shape, e.to_string()))
    }

    /// Computes every block and joins them into one block of the array's type.
    pub fn compute_data(&self, exec: &impl Executor) -> Result<BlockData> {
        self.array.compute_data(exec)
    }

    /// Computes the single element left (a [`Shape`](ErrorKind::Shape) error, once run,
    /// when there are more or fewer).
    pub fn compute_scalar(&self, exec: &impl Executor) -> Result<Scalar> {
        self.array.compute_scalar(exec)
    }

    /// Computes every block and keeps them (as [`Array::persist`]): the result is an
    /// [`Array`] whose lengths are known, read from the stored blocks.
    pub fn persist(&self, exec: &impl Executor) -> Result<Array> {
        self.array.persist(exec)
    }

    /// The same array with its chunk lengths known: runs the blocks to learn their lengths
    /// (as dask's `compute_chunk_sizes`) and returns an [`Array`] of the same blocks (same
    /// keys) whose grid knows them, so that `shape`, slicing, rechunking, `matmul` and the
    /// rest work. The blocks are not kept: computing the result runs them again
    /// ([`Filtered::persist`] keeps them, and knows the lengths too).
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// let ctx = ArrayContext::new();
    /// let x = ctx.arange(0.0, 10.0, 1.0, 4)?;
    /// let y = x.mask(&x.lt(5.0)?)?.compute_chunk_sizes(&blockwork::Sequential::new())?;
    /// assert_eq!(y.chunks().axis(0), &[4, 1, 0]);
    /// assert_eq!(y.slice(blockwork::s![1..3])?.sum(None)?.compute_f64(&blockwork::Sequential::new())?, 3.0);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn compute_chunk_sizes(&self, exec: &impl Executor) -> Result<Array> {
        let name = token("chunk-sizes", self.name());
        let a = &self.array;
        let op = Op::new("chunk-size", |args: &[Value]| {
            Ok(Value::from(one_d_len(block_of(&args[0])?)? as i64))
        });
        let mut graph = a.graph()?;
        let mut keys = Vec::with_capacity(self.nblocks());
        for (i, k) in a.keys().into_iter().enumerate() {
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
        Ok(a.regrid(lengths_grid(lens)?))
    }
    /// The array inside (of unknown lengths: for the crate's own use only).
    pub(crate) fn inner(&self) -> &Array {
        &self.array
    }
}
