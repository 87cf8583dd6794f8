//! Reductions: sum, prod, min, max, mean, var, std, any, all, argmin, argmax and the NaN
//! variants, over all axes or some, as a tree.
//!
//! Level 0 runs one task per input block: it evaluates the block's fused expression tile
//! by tile straight into accumulators (a reduction of `random(...)` or of `x + y` never
//! materialises its input). Partials are then merged in groups of `split_every` blocks
//! (split evenly between the reduced axes, as dask does) until one block per kept position
//! remains, and a last task per output block turns the accumulators into values.

use super::dtype::{BlockData, DType};
use super::elementwise::MAX_FUSED_NODES;
use super::expr::Fused;
use super::grid::{BlockIndices, Chunks, Grid, c_strides, norm_axis, unknown_err};
use super::kernels::eval::Kernel;
use super::kernels::ops::{self, Out, TileOperand, Val};
use super::kernels::reduce::{AccVec, Kind, Partial, Scratch};
use super::{Array, Layer, block_index, blocks_of, index_value, token};
use crate::error::{Error, ErrorKind, Result, TaskError};
use crate::graph::{Arg, Graph, Node, Op, Task};
use crate::value::Value;
use ndarray::{ArrayD, IxDyn};
use std::sync::Arc;

/// A reduction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// Sum (integers and bools sum as `i64`).
    Sum,
    /// Product.
    Prod,
    /// Minimum (NaN propagates).
    Min,
    /// Maximum (NaN propagates).
    Max,
    /// Arithmetic mean.
    Mean,
    /// Variance with `ddof` delta degrees of freedom.
    Var(usize),
    /// Standard deviation with `ddof`.
    Std(usize),
    /// Whether any element is non-zero.
    Any,
    /// Whether all elements are non-zero.
    All,
    /// Index of the first minimum (flat index for all axes).
    ArgMin,
    /// Index of the first maximum.
    ArgMax,
    /// Sum ignoring NaN.
    NanSum,
    /// Mean ignoring NaN.
    NanMean,
    /// Minimum ignoring NaN.
    NanMin,
    /// Maximum ignoring NaN.
    NanMax,
    /// Product ignoring NaN (NaN counts as 1).
    NanProd,
    /// Variance ignoring NaN, with `ddof`: NaN where no more than `ddof` values are left.
    NanVar(usize),
    /// Standard deviation ignoring NaN, with `ddof`.
    NanStd(usize),
    /// Index of the first minimum ignoring NaN (a slice of only NaN is an error).
    NanArgMin,
    /// Index of the first maximum ignoring NaN (a slice of only NaN is an error).
    NanArgMax,
}

impl ReduceOp {
    fn kind(self) -> (Kind, bool) {
        use ReduceOp::*;
        match self {
            Sum => (Kind::Sum, false),
            NanSum => (Kind::Sum, true),
            Prod => (Kind::Prod, false),
            NanProd => (Kind::Prod, true),
            NanVar(_) | NanStd(_) => (Kind::Var, true),
            NanArgMin => (Kind::ArgMin, true),
            NanArgMax => (Kind::ArgMax, true),
            Min | All => (Kind::Min, false),
            NanMin => (Kind::Min, true),
            Max | Any => (Kind::Max, false),
            NanMax => (Kind::Max, true),
            Mean => (Kind::Mean, false),
            NanMean => (Kind::Mean, true),
            Var(_) | Std(_) => (Kind::Var, false),
            ArgMin => (Kind::ArgMin, false),
            ArgMax => (Kind::ArgMax, false),
        }
    }

    fn name(self) -> String {
        let s = format!("{self:?}").to_lowercase();
        s.split('(').next().unwrap_or("reduce").to_owned()
    }

    /// The result type for an input of type `t`.
    pub fn out_dtype(self, t: DType) -> DType {
        use ReduceOp::*;
        match self {
            Sum | Prod | NanSum | NanProd => {
                if t.is_float() {
                    t
                } else {
                    DType::I64
                }
            }
            Min | Max | NanMin | NanMax => t,
            Mean | NanMean | Var(_) | Std(_) | NanVar(_) | NanStd(_) => t.float(),
            Any | All => DType::Bool,
            ArgMin | ArgMax | NanArgMin | NanArgMax => DType::I64,
        }
    }
}

/// Which axes a reduction runs over, and how.
///
/// The reduction methods ([`Array::sum`], [`Array::mean`], [`Array::var`], ...) take
/// anything that converts into one: `None` (all axes), an axis (`1`, `-1`, `Some(1)`), a
/// list of axes (`[0, 2]`, `&[0, 2][..]`, a `Vec`), or a `Reduction` built here for
/// `keepdims` and the tree's fan-in.
///
/// ```
/// use blockwork::array::{ArrayContext, Reduction};
/// use blockwork::Sequential;
///
/// let r = Reduction::axes([0, -1]).keepdims(true).split_every(4);
/// assert!(r.keepdims);
///
/// let ctx = ArrayContext::new();
/// let a = ndarray::Array::from_shape_fn((4, 3, 2), |(i, j, k)| (i + 2 * j + 3 * k) as f64).into_dyn();
/// let x = ctx.from_ndarray(&a, 2)?;
/// let seq = Sequential::new();
/// assert_eq!(x.sum(1)?.compute::<f64>(&seq)?, a.sum_axis(ndarray::Axis(1)));
/// let kept = x.mean(Reduction::axes([0, 2]).keepdims(true))?;
/// assert_eq!(kept.shape(), &[1, 3, 1]);
/// assert_eq!(x.sum([0, 1, 2])?.compute_f64(&seq)?, a.sum());
/// # Ok::<(), blockwork::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reduction {
    /// The axes (negative counts from the end); `None` for all.
    pub axis: Option<Vec<isize>>,
    /// Keep reduced axes with length 1.
    pub keepdims: bool,
    /// Fan-in of the combine tree (at least 2).
    pub split_every: usize,
}

/// Default fan-in of reduction trees.
pub const DEFAULT_SPLIT_EVERY: usize = 16;

impl Default for Reduction {
    fn default() -> Self {
        Reduction {
            axis: None,
            keepdims: false,
            split_every: DEFAULT_SPLIT_EVERY,
        }
    }
}

impl Reduction {
    /// Over all axes.
    pub fn all() -> Reduction {
        Reduction::default()
    }
    /// Over the given axes.
    pub fn axes(axes: impl IntoIterator<Item = isize>) -> Reduction {
        Reduction {
            axis: Some(axes.into_iter().collect()),
            ..Reduction::default()
        }
    }
    /// Over one axis, or all for `None`.
    pub fn axis(axis: Option<isize>) -> Reduction {
        Reduction {
            axis: axis.map(|a| vec![a]),
            ..Reduction::default()
        }
    }
    /// Sets `keepdims`.
    pub fn keepdims(mut self, k: bool) -> Reduction {
        self.keepdims = k;
        self
    }
    /// Sets the tree fan-in.
    pub fn split_every(mut self, n: usize) -> Reduction {
        self.split_every = n;
        self
    }
}

impl From<Option<isize>> for Reduction {
    /// One axis, or all for `None`.
    fn from(axis: Option<isize>) -> Reduction {
        Reduction::axis(axis)
    }
}
impl From<isize> for Reduction {
    /// One axis.
    fn from(axis: isize) -> Reduction {
        Reduction::axis(Some(axis))
    }
}
impl<const N: usize> From<[isize; N]> for Reduction {
    /// These axes.
    fn from(axes: [isize; N]) -> Reduction {
        Reduction::axes(axes)
    }
}
impl From<&[isize]> for Reduction {
    /// These axes.
    fn from(axes: &[isize]) -> Reduction {
        Reduction::axes(axes.iter().copied())
    }
}
impl From<Vec<isize>> for Reduction {
    /// These axes.
    fn from(axes: Vec<isize>) -> Reduction {
        Reduction::axes(axes)
    }
}
impl From<&Reduction> for Reduction {
    fn from(r: &Reduction) -> Reduction {
        r.clone()
    }
}

/// Everything a reduction's tasks need.
struct Spec {
    op: ReduceOp,
    kind: Kind,
    skip: bool,
    float: bool,
    red: Vec<bool>,
    in_dtype: DType,
    /// The lengths are unknown until run: the checks on the number of reduced elements
    /// (nothing to take a minimum of, `ddof` over the count) are made by the last task.
    check_count: bool,
}

macro_rules! shortcuts {
    ($($(#[$doc:meta])* $name:ident => $op:expr),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(&self, how: impl Into<Reduction>) -> Result<Array> {
            self.reduce($op, &how.into())
        }
    )*};
}

impl Array {
    shortcuts! {
        /// Sum over all axes (`None`), one (`1`, `Some(-1)`), several (`[0, 2]`), or as a
        /// [`Reduction`] says (`keepdims`). The other reductions take the same argument.
        sum => ReduceOp::Sum,
        /// Product.
        prod => ReduceOp::Prod,
        /// Minimum.
        min => ReduceOp::Min,
        /// Maximum.
        max => ReduceOp::Max,
        /// Mean; over an empty selection it is NaN, as in NumPy.
        mean => ReduceOp::Mean,
        /// Whether any element is non-zero.
        any => ReduceOp::Any,
        /// Whether all elements are non-zero.
        all => ReduceOp::All,
        /// Index of the first minimum.
        argmin => ReduceOp::ArgMin,
        /// Index of the first maximum.
        argmax => ReduceOp::ArgMax,
        /// Sum ignoring NaN.
        nansum => ReduceOp::NanSum,
        /// Mean ignoring NaN (NaN where nothing is left).
        nanmean => ReduceOp::NanMean,
        /// Minimum ignoring NaN.
        nanmin => ReduceOp::NanMin,
        /// Maximum ignoring NaN.
        nanmax => ReduceOp::NanMax,
        /// Product ignoring NaN (NaN counts as 1; integers as [`Array::prod`]).
        nanprod => ReduceOp::NanProd,
        /// Index of the first minimum ignoring NaN. A slice of only NaN is an
        /// [`InvalidArgument`](ErrorKind::InvalidArgument) error when computed (the
        /// [`task_cause`](crate::Error::task_cause) of a [`TaskFailed`](ErrorKind::TaskFailed)
        /// error), as NumPy's `ValueError`.
        nanargmin => ReduceOp::NanArgMin,
        /// Index of the first maximum ignoring NaN (a slice of only NaN is an error, as in
        /// [`Array::nanargmin`]).
        nanargmax => ReduceOp::NanArgMax,
    }

    /// Variance ignoring NaN, with `ddof` (divisor: the number of non-NaN values less
    /// `ddof`); NaN where no more than `ddof` values are left, as NumPy's `nanvar`.
    ///
    /// Errors: as [`Array::var`] (a `ddof` over the number of reduced elements, NaN or
    /// not, is [`InvalidArgument`](ErrorKind::InvalidArgument)).
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// let ctx = ArrayContext::new();
    /// let x = ctx.from_ndarray(&ndarray::arr1(&[1.0, f64::NAN, 3.0]).into_dyn(), 2)?;
    /// let seq = blockwork::Sequential::new();
    /// assert_eq!(x.nanvar(None, 0)?.compute_f64(&seq)?, 1.0);
    /// assert_eq!(x.nanstd(None, 1)?.compute_f64(&seq)?, 2f64.sqrt());
    /// assert_eq!(x.nanprod(None)?.compute_f64(&seq)?, 3.0);
    /// assert_eq!(x.nanargmax(None)?.compute_item::<i64>(&seq)?, 2);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn nanvar(&self, how: impl Into<Reduction>, ddof: usize) -> Result<Array> {
        self.reduce(ReduceOp::NanVar(ddof), &how.into())
    }

    /// Standard deviation ignoring NaN: the square root of [`Array::nanvar`], with its
    /// errors.
    pub fn nanstd(&self, how: impl Into<Reduction>, ddof: usize) -> Result<Array> {
        self.reduce(ReduceOp::NanStd(ddof), &how.into())
    }

    /// Variance with `ddof` delta degrees of freedom (divisor `n - ddof`), over the axes of
    /// `how` (as [`Array::sum`]). `ddof == n` divides by zero as NumPy does (infinity, or
    /// NaN for an empty selection).
    ///
    /// Errors: `ddof` over the number of reduced elements is
    /// [`InvalidArgument`](ErrorKind::InvalidArgument); axes as [`Array::reduce`].
    ///
    /// ```
    /// use blockwork::array::{ArrayContext, Reduction};
    /// use blockwork::Sequential;
    /// let ctx = ArrayContext::new();
    /// let a = ndarray::Array::from_shape_fn((5, 4), |(i, j)| ((i * 7 + j * 3) % 5) as f64).into_dyn();
    /// let x = ctx.from_ndarray(&a, 2)?;
    /// let v = x.var(Reduction::axis(Some(1)).keepdims(true), 1)?.compute::<f64>(&Sequential::new())?;
    /// let want = a.var_axis(ndarray::Axis(1), 1.0).insert_axis(ndarray::Axis(1));
    /// assert!(v.iter().zip(&want).all(|(p, q)| (p - q).abs() < 1e-12));
    /// assert!(x.var(1, 5).is_err()); // ddof 5 > 4 elements per row
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn var(&self, how: impl Into<Reduction>, ddof: usize) -> Result<Array> {
        self.reduce(ReduceOp::Var(ddof), &how.into())
    }

    /// Standard deviation with `ddof`: the square root of [`Array::var`], with its errors.
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// let ctx = ArrayContext::new();
    /// let x = ctx.from_ndarray(&ndarray::arr1(&[1.0, 3.0]).into_dyn(), 1)?;
    /// assert_eq!(x.std(None, 1)?.compute_f64(&blockwork::Sequential::new())?, 2f64.sqrt());
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn std(&self, how: impl Into<Reduction>, ddof: usize) -> Result<Array> {
        self.reduce(ReduceOp::Std(ddof), &how.into())
    }

    /// A reduction over the axes of `how`.
    ///
    /// Errors: an axis out of range or given twice is an [`Index`](ErrorKind::Index) error;
    /// arg reductions over several (but not all) axes, `split_every < 2`, or a `ddof` over
    /// the number of reduced elements are [`InvalidArgument`](ErrorKind::InvalidArgument);
    /// min, max and the arg reductions of nothing are [`Empty`](ErrorKind::Empty). Mean,
    /// var and std of nothing are NaN, as in NumPy.
    pub fn reduce(&self, op: ReduceOp, how: &Reduction) -> Result<Array> {
        let spec = Arc::new(self.reduce_spec(op, how)?);
        let src = if self.fused_size() > MAX_FUSED_NODES {
            self.materialize()
        } else {
            self.clone()
        };
        let mut f = src.fused();
        // The accumulators' domain: f64, or i64 (bools as 0/1 for any and all).
        f.expr = if spec.float {
            f.expr.cast(DType::F64)
        } else if matches!(op, ReduceOp::Any | ReduceOp::All) {
            f.expr.cast(DType::Bool).cast(DType::I64)
        } else {
            f.expr.cast(DType::I64)
        };
        let base = token(&op.name(), (self.name(), op, how));
        let (mut layer, mut nb) = level0(&src, Arc::new(f), &spec, &base);
        let mut level = 1;
        while (0..self.ndim()).any(|k| spec.red[k] && nb[k] > 1) {
            let name = format!("{base}-{level}");
            (layer, nb) = combine_level(layer, &nb, &spec, how.split_every, &name);
            level += 1;
        }
        finalize_layer(self, layer, &spec, how.keepdims, &base)
    }

    /// Checks a reduction's arguments against this array and describes it.
    fn reduce_spec(&self, op: ReduceOp, how: &Reduction) -> Result<Spec> {
        let n = self.ndim();
        let mut red = vec![how.axis.is_none(); n];
        for &a in how.axis.iter().flatten() {
            let k = norm_axis(a, n)?;
            if red[k] {
                return Err(Error::new(ErrorKind::Index, format!("axis {a} repeated")));
            }
            red[k] = true;
        }
        let (kind, skip) = op.kind();
        let arg = matches!(kind, Kind::ArgMin | Kind::ArgMax);
        if arg && how.axis.as_ref().is_some_and(|v| v.len() != 1) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "arg reductions take one axis or all",
            ));
        }
        if how.split_every < 2 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "split_every must be at least 2",
            ));
        }
        let check_count = !self.chunks_known();
        if check_count && arg {
            // The flat index of an element needs the offsets of its block.
            return Err(unknown_err(&op.name()));
        }
        // With unknown lengths nothing is known up front: the last task checks the count.
        let count: Option<usize> = self.chunks_known().then(|| {
            let shape = self.shape();
            (0..n)
                .filter(|&k| red[k])
                .map(|k| shape[k])
                .fold(1usize, usize::saturating_mul)
        });
        if let Some(count) = count {
            count_errors(op, count).map_err(|e| Error::new(e.kind(), e.message()))?;
        }
        let bool_op = matches!(op, ReduceOp::Any | ReduceOp::All);
        let float = matches!(kind, Kind::Mean | Kind::Var) || (self.dtype().is_float() && !bool_op);
        Ok(Spec {
            op,
            kind,
            skip,
            float,
            red,
            in_dtype: self.dtype(),
            check_count,
        })
    }
}

/// The errors of reducing `count` elements with `op`: a `ddof` over the count, and min,
/// max and the arg reductions of nothing (mean, var and std of nothing are NaN, as in NumPy).
fn count_errors(op: ReduceOp, count: usize) -> Result<(), TaskError> {
    if let ReduceOp::Var(d) | ReduceOp::Std(d) | ReduceOp::NanVar(d) | ReduceOp::NanStd(d) = op
        && d > count
    {
        return Err(TaskError::with_kind(
            ErrorKind::InvalidArgument,
            format!("ddof {d} is over the {count} elements reduced"),
        ));
    }
    let (kind, _) = op.kind();
    let bool_op = matches!(op, ReduceOp::Any | ReduceOp::All);
    let nan_when_empty = matches!(kind, Kind::Mean | Kind::Var);
    if count == 0 && !matches!(kind, Kind::Sum | Kind::Prod) && !bool_op && !nan_when_empty {
        return Err(TaskError::with_kind(
            ErrorKind::Empty,
            format!("{} of an empty selection", op.name()),
        ));
    }
    Ok(())
}

/// Level 0: one partial per input block.
fn level0(src: &Array, f: Arc<Fused>, spec: &Arc<Spec>, base: &str) -> (Arc<Layer>, Vec<usize>) {
    let name: Arc<str> = format!("{base}-0").into();
    let grid = src.grid().clone();
    let (fk, sk) = (f.clone(), spec.clone());
    let op = Op::new("reduce-block", move |args: &[Value]| {
        let idx = block_index(&args[0])?;
        let inputs = blocks_of(&args[1..])?;
        partial_block(&fk, &inputs, &idx, &grid, &sk).map(Value::payload)
    });
    let mut graph = Graph::with_capacity(src.grid().nblocks());
    let leaves: Vec<_> = f.array_leaves().collect();
    let mut deps: Vec<Arc<Layer>> = Vec::new();
    for (a, _) in &leaves {
        let l = a.layer();
        if !deps.iter().any(|d| d.name == l.name) {
            deps.push(l);
        }
    }
    for idx in src.grid().indices() {
        let mut args = vec![Arg::lit(index_value(&idx))];
        for (a, v) in &leaves {
            args.push(Arg::key(a.block_key(&v.source_block(&idx, a.ndim()))));
        }
        graph.insert(
            crate::Key::block(&name, &idx),
            Node::Task(Task::new(&op, args)),
        );
    }
    (Arc::new(Layer { name, graph, deps }), src.numblocks())
}

/// The partial of one block: the fused input evaluated tile by tile into accumulators.
fn partial_block(
    f: &Fused,
    inputs: &[&BlockData],
    idx: &[usize],
    grid: &Grid,
    spec: &Spec,
) -> Result<Partial, TaskError> {
    let bshape = super::masks::block_shape(grid, f, inputs, idx)?;
    let acc_shape: Vec<usize> = bshape
        .iter()
        .zip(&spec.red)
        .map(|(&l, &r)| if r { 1 } else { l })
        .collect();
    let acc_st: Vec<isize> = c_strides(&acc_shape)
        .iter()
        .zip(&spec.red)
        .map(|(&s, &r)| if r { 0 } else { s as isize })
        .collect();
    let mut extra = vec![(0isize, acc_st)];
    let arg = matches!(spec.kind, Kind::ArgMin | Kind::ArgMax);
    if arg {
        let Grid::Known(chunks) = grid else {
            return Err(TaskError::new(
                "internal: an arg reduction of unknown lengths",
            ));
        };
        let shape = chunks.shape();
        // Reduction index: the flat index over all axes, or the position along one axis.
        let all = spec.red.iter().all(|&r| r);
        let g: Vec<isize> = if all {
            c_strides(&shape).iter().map(|&s| s as isize).collect()
        } else {
            spec.red.iter().map(|&r| r as isize).collect()
        };
        let base = (0..idx.len())
            .map(|k| chunks.offset(k, idx[k]) as isize * g[k])
            .sum();
        extra.push((base, g));
    }
    let mut k = Kernel::new(f, inputs, idx, &bshape, &extra)?;
    let (acc_s, ix_s) = (k.extra(0), k.extra(1));
    let acc_rs = k.space.run_stride(acc_s);
    let ix_rs = if arg {
        k.space.run_stride(ix_s) as i64
    } else {
        0
    };
    let mut p = Partial::new(spec.kind, spec.skip, spec.float, acc_shape);
    p.count = bshape.iter().product();
    let mut sc = Scratch::default();
    k.tiles(|offs, n, v| {
        let ix = if arg { offs[ix_s] as i64 } else { 0 };
        p.update(v, n, (offs[acc_s] as usize, acc_rs), (ix, ix_rs), &mut sc)
    })?;
    Ok(p)
}

/// One level of the combine tree.
fn combine_level(
    prev: Arc<Layer>,
    nb: &[usize],
    spec: &Spec,
    split_every: usize,
    name: &str,
) -> (Arc<Layer>, Vec<usize>) {
    let nred = spec
        .red
        .iter()
        .zip(nb)
        .filter(|&(&r, &b)| r && b > 1)
        .count()
        .max(1);
    let fan = ((split_every as f64).powf(1.0 / nred as f64).floor() as usize).max(2);
    let group: Vec<usize> = nb
        .iter()
        .zip(&spec.red)
        .map(|(&b, &r)| if r && b > 1 { fan } else { 1 })
        .collect();
    let new_nb: Vec<usize> = nb
        .iter()
        .zip(&group)
        .map(|(&b, &g)| b.div_ceil(g))
        .collect();
    let name: Arc<str> = name.into();
    let op = Op::new("reduce-combine", |args: &[Value]| {
        let parts = args[0]
            .as_list()
            .ok_or_else(|| TaskError::new("combine expects a list"))?;
        let mut it = parts.iter().map(partial_of);
        let mut acc = it
            .next()
            .ok_or_else(|| TaskError::new("empty combine"))??
            .clone();
        for p in it {
            acc.merge(p?)?;
        }
        Ok(Value::payload(acc))
    });
    let mut graph = Graph::with_capacity(new_nb.iter().product());
    for idx in BlockIndices::new(new_nb.clone()) {
        let lo: Vec<usize> = idx.iter().zip(&group).map(|(&i, &g)| i * g).collect();
        let ext: Vec<usize> = (0..idx.len())
            .map(|k| group[k].min(nb[k] - lo[k]))
            .collect();
        let items = BlockIndices::new(ext)
            .map(|off| {
                let src: Vec<usize> = off.iter().zip(&lo).map(|(a, b)| a + b).collect();
                Arg::key(crate::Key::block(&prev.name, &src))
            })
            .collect::<Vec<_>>();
        graph.insert(
            crate::Key::block(&name, &idx),
            Node::Task(Task::new(&op, [Arg::list(items)])),
        );
    }
    (
        Arc::new(Layer {
            name,
            graph,
            deps: vec![prev],
        }),
        new_nb,
    )
}

fn partial_of(v: &Value) -> Result<&Partial, TaskError> {
    v.downcast_ref::<Partial>()
        .ok_or_else(|| TaskError::with_kind(ErrorKind::Type, "expected a reduction partial"))
}

/// The last layer: accumulators to values, one block per output block.
fn finalize_layer(
    src: &Array,
    prev: Arc<Layer>,
    spec: &Arc<Spec>,
    keepdims: bool,
    name: &str,
) -> Result<Array> {
    let n = src.ndim();
    let grid: Grid = match src.grid() {
        // Unknown lengths are 1-d: kept, the output has the input's grid.
        g @ Grid::Unknown(_) if !spec.red[0] => g.clone(),
        g => Chunks::from_axes(
            (0..n)
                .filter(|&k| keepdims || !spec.red[k])
                .map(|k| {
                    if spec.red[k] {
                        Ok(vec![1])
                    } else {
                        Ok(g.known()?.axis(k).to_vec())
                    }
                })
                .collect::<Result<_>>()?,
        )?
        .into(),
    };
    let out_dtype = spec.op.out_dtype(spec.in_dtype);
    let name: Arc<str> = name.into();
    let (sk, ctx) = (spec.clone(), src.context().clone());
    let (red, kd) = (spec.red.clone(), keepdims);
    let op = Op::new("reduce-finalize", move |args: &[Value]| {
        let p = partial_of(&args[0])?;
        let shape: Vec<usize> = p
            .shape
            .iter()
            .zip(&red)
            .filter(|&(_, &r)| kd || !r)
            .map(|(&l, _)| l)
            .collect();
        if sk.check_count {
            // One-dimensional: all of it reduced, or nothing.
            count_errors(sk.op, if red[0] { p.count } else { 1 })?;
        }
        Ok(ctx.block(finalize(p, &sk, out_dtype, &shape)?))
    });
    let mut graph = Graph::with_capacity(grid.nblocks());
    for idx in grid.indices() {
        // The partial's index: reduced axes at block 0.
        let mut it = idx.iter();
        let full: Vec<usize> = (0..n)
            .map(|k| {
                if spec.red[k] {
                    if keepdims {
                        it.next();
                    }
                    0
                } else {
                    *it.next().expect("kept axis")
                }
            })
            .collect();
        let args = [Arg::key(crate::Key::block(&prev.name, &full))];
        graph.insert(
            crate::Key::block(&name, &idx),
            Node::Task(Task::new(&op, args)),
        );
    }
    let layer = Layer {
        name,
        graph,
        deps: vec![prev],
    };
    Ok(Array::from_layer(src.context(), layer, grid, out_dtype))
}

/// The values of a partial, as a block of `dtype` and `shape`.
fn finalize(
    p: &Partial,
    spec: &Spec,
    dtype: DType,
    shape: &[usize],
) -> Result<BlockData, TaskError> {
    let vals: AccVec = match (spec.op, p.fields.as_slice()) {
        (ReduceOp::Mean | ReduceOp::NanMean, [AccVec::F(s), AccVec::F(c)]) => {
            AccVec::F(s.iter().zip(c).map(|(s, c)| s / c).collect())
        }
        (
            ReduceOp::Var(d) | ReduceOp::Std(d) | ReduceOp::NanVar(d) | ReduceOp::NanStd(d),
            [AccVec::F(n), _, AccVec::F(m2)],
        ) => AccVec::F(
            n.iter()
                .zip(m2)
                .map(|(&n, &m2)| {
                    let dof = n - d as f64;
                    // NumPy's nanvar: NaN where no degrees of freedom are left.
                    let v = if spec.skip && dof <= 0.0 {
                        f64::NAN
                    } else {
                        m2 / dof.max(0.0)
                    };
                    if matches!(spec.op, ReduceOp::Std(_) | ReduceOp::NanStd(_)) {
                        v.sqrt()
                    } else {
                        v
                    }
                })
                .collect(),
        ),
        (ReduceOp::NanArgMin | ReduceOp::NanArgMax, [AccVec::F(v), _])
            if v.iter().any(|x| x.is_nan()) =>
        {
            return Err(TaskError::with_kind(
                ErrorKind::InvalidArgument,
                "all-NaN slice in nanargmin or nanargmax",
            ));
        }
        (
            ReduceOp::ArgMin | ReduceOp::ArgMax | ReduceOp::NanArgMin | ReduceOp::NanArgMax,
            [_, idx],
        ) => idx.clone(),
        // `any` is the max and `all` the min of 0/1 values; over nothing they hold the
        // identities (i64::MIN and i64::MAX): "positive" gives false and true, as in NumPy.
        (ReduceOp::Any | ReduceOp::All, [AccVec::I(v)]) => {
            AccVec::I(v.iter().map(|&x| i64::from(x > 0)).collect())
        }
        (_, [v]) => v.clone(),
        _ => return Err(TaskError::new("internal: partial fields")),
    };
    let (val, mut out) = match &vals {
        AccVec::F(v) => (Val::F64(TileOperand::Slice(v)), alloc(dtype, v.len())),
        AccVec::I(v) => (Val::I64(TileOperand::Slice(v)), alloc(dtype, v.len())),
    };
    ops::cast(val, out_of(&mut out))?;
    Ok(reshape(out, shape))
}

enum Owned {
    Bool(Vec<bool>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

fn alloc(dt: DType, n: usize) -> Owned {
    match dt {
        DType::Bool => Owned::Bool(vec![false; n]),
        DType::I32 => Owned::I32(vec![0; n]),
        DType::I64 => Owned::I64(vec![0; n]),
        DType::F32 => Owned::F32(vec![0.0; n]),
        DType::F64 => Owned::F64(vec![0.0; n]),
    }
}

fn out_of(o: &mut Owned) -> Out<'_> {
    match o {
        Owned::Bool(v) => Out::Bool(v),
        Owned::I32(v) => Out::I32(v),
        Owned::I64(v) => Out::I64(v),
        Owned::F32(v) => Out::F32(v),
        Owned::F64(v) => Out::F64(v),
    }
}

fn reshape(o: Owned, shape: &[usize]) -> BlockData {
    let s = IxDyn(shape);
    let e = "partial length matches the output block";
    match o {
        Owned::Bool(v) => BlockData::Bool(ArrayD::from_shape_vec(s, v).expect(e)),
        Owned::I32(v) => BlockData::I32(ArrayD::from_shape_vec(s, v).expect(e)),
        Owned::I64(v) => BlockData::I64(ArrayD::from_shape_vec(s, v).expect(e)),
        Owned::F32(v) => BlockData::F32(ArrayD::from_shape_vec(s, v).expect(e)),
        Owned::F64(v) => BlockData::F64(ArrayD::from_shape_vec(s, v).expect(e)),
    }
}
