//! Elementwise operations: arithmetic, comparisons, logic, `where`, `clip`, `astype` and
//! the ufuncs, with scalars on either side and NumPy broadcasting.
//!
//! Operands are aligned first: their shapes broadcast, and their chunk grids are refined to
//! the common refinement along each shared axis; both are views, so no rechunking task is
//! made. The result is one fused expression over all the operands' leaves.

use super::Array;
use super::dtype::{DType, Scalar};
use super::expr::{AxisMap, BinOp, Expr, ExprKind, Fused, Leaf, LeafSrc, Segment, UnOp, View};
use super::grid::{
    Chunks, Grid, UnknownChunks, broadcast_shapes, locate, offsets, refine, unknown_err,
};
use crate::error::{Error, ErrorKind, Result};
use std::sync::Arc;

/// Largest fused expression (in nodes) before operands are materialised first: beyond it,
/// repeated reuse of one array inside an expression would make the per-element work grow.
pub const MAX_FUSED_NODES: usize = 64;

/// An operand of an elementwise operation: an array or a scalar.
///
/// Scalars are "weak", as Python numbers are in NumPy: an integer scalar takes the type of
/// an integer or float array, a float scalar the type of a float array (and `f64` with an
/// integer one), so `x.mul(2.0)` keeps an `f32` array `f32`.
#[derive(Clone, Debug)]
pub enum Operand {
    /// An array.
    Array(Array),
    /// A scalar, broadcast to the other operands' shape.
    Scalar(Scalar),
}

impl From<&Array> for Operand {
    fn from(a: &Array) -> Self {
        Operand::Array(a.clone())
    }
}
impl From<Array> for Operand {
    fn from(a: Array) -> Self {
        Operand::Array(a)
    }
}
macro_rules! operand_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Operand {
            fn from(x: $t) -> Self {
                Operand::Scalar(Scalar::from(x))
            }
        }
    )*};
}
operand_from!(bool, i32, i64, f32, f64);
impl From<Scalar> for Operand {
    fn from(s: Scalar) -> Self {
        Operand::Scalar(s)
    }
}

/// The type a weak scalar takes next to arrays of type `t`.
fn weak(s: Scalar, t: Option<DType>) -> DType {
    let Some(t) = t else { return s.dtype() };
    match s.dtype() {
        DType::Bool => t,
        DType::I32 | DType::I64 if t == DType::Bool => DType::I64,
        DType::I32 | DType::I64 => t,
        _ if t.is_float() => t,
        _ => DType::F64,
    }
}

/// Operands brought to one shape and chunk grid.
struct Aligned {
    chunks: Grid,
    ctx: super::ArrayContext,
    /// Per operand: its expression (leaf indices into `leaves`) and its type.
    exprs: Vec<Arc<Expr>>,
    leaves: Vec<Leaf>,
}

/// The view that reads an array of chunks `a` as part of a broadcast array of `out` chunks.
fn align_view(a: &Chunks, out: &Chunks) -> View {
    let (n, m) = (out.ndim(), a.ndim());
    let sa = a.shape();
    let axes = (0..n)
        .map(|o| {
            let k = (o + m).checked_sub(n)?;
            let nb = out.axis(o).len();
            let segs: Arc<[Segment]> = if sa[k] == 1 && out.offsets(o)[nb] != 1 {
                vec![
                    Segment {
                        block: 0,
                        start: 0,
                        step: 0
                    };
                    nb
                ]
                .into()
            } else {
                let (src, dst) = (offsets(a.axis(k)), offsets(out.axis(o)));
                dst[..nb]
                    .iter()
                    .map(|&p| {
                        let (block, start) = locate(&src, p);
                        Segment {
                            block,
                            start,
                            step: 1,
                        }
                    })
                    .collect()
            };
            Some(AxisMap { src: k, segs })
        })
        .collect();
    View {
        axes,
        fixed: Vec::new(),
    }
}

/// The grid of operands some of which have unknown lengths: they must share one unknown
/// grid, and every other array must have one element and at most one axis (it broadcasts
/// without knowing the lengths).
fn unknown_grid(arrays: &[&Array]) -> Result<Option<UnknownChunks>> {
    let Some(u) = arrays.iter().find_map(|a| a.grid().unknown()) else {
        return Ok(None);
    };
    for a in arrays {
        match a.grid() {
            Grid::Unknown(v) if v == u => {}
            Grid::Unknown(_) => {
                return Err(unknown_err(
                    "an elementwise operation between arrays of unknown lengths from different masks",
                ));
            }
            Grid::Known(c) if c.ndim() <= 1 && c.shape().iter().product::<usize>() == 1 => {}
            Grid::Known(c) => {
                return Err(unknown_err(&format!(
                    "broadcasting a known array of shape {:?} against one of unknown length",
                    c.shape()
                )));
            }
        }
    }
    Ok(Some(u.clone()))
}

/// The view that reads `a` (of the unknown grid `u`, or one element) block by block.
fn unknown_view(a: &Array, u: &UnknownChunks) -> View {
    let segs = |step| -> Arc<[Segment]> {
        (0..u.nblocks())
            .map(|b| Segment {
                block: if step == 0 { 0 } else { b },
                start: 0,
                step,
            })
            .collect()
    };
    let axis = match a.grid() {
        Grid::Unknown(_) => Some(AxisMap {
            src: 0,
            segs: segs(1),
        }),
        Grid::Known(c) if c.ndim() == 1 => Some(AxisMap {
            src: 0,
            segs: segs(0),
        }),
        Grid::Known(_) => None,
    };
    View {
        axes: vec![axis],
        fixed: Vec::new(),
    }
}

fn align(ops: &[Operand]) -> Result<Aligned> {
    let arrays: Vec<&Array> = ops
        .iter()
        .filter_map(|o| match o {
            Operand::Array(a) => Some(a),
            Operand::Scalar(_) => None,
        })
        .collect();
    let ctx = arrays
        .first()
        .map(|a| a.context().clone())
        .unwrap_or_default();
    if let Some(u) = unknown_grid(&arrays)? {
        return align_with(ops, &arrays, ctx, Grid::Unknown(u.clone()), |a| {
            Ok(unknown_view(a, &u))
        });
    }
    let mut shape: Vec<usize> = Vec::new();
    for a in &arrays {
        shape = broadcast_shapes(&shape, a.shape())?;
    }
    let n = shape.len();
    let mut axes: Vec<Option<Vec<usize>>> = vec![None; n];
    for a in &arrays {
        for k in 0..a.ndim() {
            let o = n - a.ndim() + k;
            if a.shape()[k] == shape[o] {
                let c = a.chunks().axis(k);
                axes[o] = Some(match &axes[o] {
                    None => c.to_vec(),
                    Some(prev) => refine(prev, c),
                });
            }
        }
    }
    let chunks = Chunks::from_axes(
        axes.into_iter()
            .zip(&shape)
            .map(|(c, &d)| c.unwrap_or_else(|| vec![d]))
            .collect(),
    )?;
    let view = |a: &Array| Ok(align_view(a.chunks(), &chunks));
    align_with(ops, &arrays, ctx, Grid::Known(chunks.clone()), view)
}

/// The operands read through `view` as parts of one expression on `chunks`.
fn align_with(
    ops: &[Operand],
    arrays: &[&Array],
    ctx: super::ArrayContext,
    chunks: Grid,
    view: impl Fn(&Array) -> Result<View>,
) -> Result<Aligned> {
    let tdt = arrays.iter().map(|a| a.dtype()).reduce(DType::promote);
    let mut exprs = Vec::new();
    let mut leaves: Vec<Leaf> = Vec::new();
    for o in ops {
        match o {
            Operand::Scalar(s) => {
                let dt = weak(*s, tdt);
                exprs.push(Expr::new(dt, ExprKind::Scalar(s.cast(dt))));
            }
            Operand::Array(a) => {
                let a = if a.fused_size() > MAX_FUSED_NODES {
                    a.materialize()
                } else {
                    a.clone()
                };
                let f = a.fused().view(&view(&a)?);
                exprs.push(merge_leaves(&mut leaves, f));
            }
        }
    }
    Ok(Aligned {
        chunks,
        ctx,
        exprs,
        leaves,
    })
}

/// Appends `f`'s leaves to `leaves` (reusing identical ones) and returns its expression
/// renumbered accordingly.
pub(crate) fn merge_leaves(leaves: &mut Vec<Leaf>, f: Fused) -> Arc<Expr> {
    let map: Vec<usize> = f
        .leaves
        .into_iter()
        .map(|l| {
            let same = |m: &Leaf| {
                m.view == l.view
                    && match (&m.src, &l.src) {
                        (LeafSrc::Array(a), LeafSrc::Array(b)) => a.name() == b.name(),
                        (LeafSrc::Gen(a), LeafSrc::Gen(b)) => Arc::ptr_eq(a, b),
                        (LeafSrc::Shared(a), LeafSrc::Shared(b)) => Arc::ptr_eq(a, b),
                        _ => false,
                    }
            };
            leaves.iter().position(same).unwrap_or_else(|| {
                leaves.push(l);
                leaves.len() - 1
            })
        })
        .collect();
    remap(&f.expr, &map)
}

fn remap(e: &Arc<Expr>, map: &[usize]) -> Arc<Expr> {
    let k = match &e.kind {
        ExprKind::Leaf(i) => ExprKind::Leaf(map[*i]),
        ExprKind::Scalar(s) => ExprKind::Scalar(*s),
        ExprKind::Unary(op, a) => ExprKind::Unary(*op, remap(a, map)),
        ExprKind::Binary(op, a, b) => ExprKind::Binary(*op, remap(a, map), remap(b, map)),
        ExprKind::Where(c, a, b) => ExprKind::Where(remap(c, map), remap(a, map), remap(b, map)),
        ExprKind::Cast(a) => ExprKind::Cast(remap(a, map)),
    };
    Expr::new(e.dtype, k)
}

fn finish(al: Aligned, expr: Arc<Expr>, prefix: &str) -> Array {
    let fused = Fused {
        expr,
        leaves: al.leaves,
    };
    Array::from_fused(&al.ctx, fused, al.chunks, prefix)
}

fn op_name<T: std::fmt::Debug>(op: T) -> String {
    format!("{op:?}").to_lowercase()
}

/// `op(a, b)` elementwise, with broadcasting; either side may be a scalar.
///
/// ```
/// use blockwork::array::{ArrayContext, BinOp, binary};
/// let ctx = ArrayContext::new();
/// let x = ctx.arange(0.0, 4.0, 1.0, 2)?;
/// let y = binary(BinOp::Sub, 10.0, &x)?; // scalar on the left
/// assert_eq!(y.compute::<f64>(&blockwork::Sequential::new())?.as_slice().unwrap(), &[10.0, 9.0, 8.0, 7.0]);
/// # Ok::<(), blockwork::Error>(())
/// ```
pub fn binary(op: BinOp, a: impl Into<Operand>, b: impl Into<Operand>) -> Result<Array> {
    let al = align(&[a.into(), b.into()])?;
    let (ea, eb) = (&al.exprs[0], &al.exprs[1]);
    let (t, r) = op.types(ea.dtype, eb.dtype);
    let e = Expr::new(r, ExprKind::Binary(op, ea.cast(t), eb.cast(t)));
    Ok(finish(al, e, &op_name(op)))
}

/// `op(a)` elementwise.
pub fn unary(op: UnOp, a: impl Into<Operand>) -> Result<Array> {
    let al = align(&[a.into()])?;
    let (t, r) = op.types(al.exprs[0].dtype);
    let e = Expr::new(r, ExprKind::Unary(op, al.exprs[0].cast(t)));
    Ok(finish(al, e, &op_name(op)))
}

/// `cond ? a : b` elementwise (NumPy's `where`), with broadcasting.
pub fn where_(
    cond: impl Into<Operand>,
    a: impl Into<Operand>,
    b: impl Into<Operand>,
) -> Result<Array> {
    let al = align(&[cond.into(), a.into(), b.into()])?;
    let (ec, ea, eb) = (&al.exprs[0], &al.exprs[1], &al.exprs[2]);
    let t = DType::promote(ea.dtype, eb.dtype);
    let e = Expr::new(
        t,
        ExprKind::Where(ec.cast(DType::Bool), ea.cast(t), eb.cast(t)),
    );
    Ok(finish(al, e, "where"))
}

macro_rules! bin_methods {
    ($($(#[$doc:meta])* $name:ident => $op:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(&self, other: impl Into<Operand>) -> Result<Array> {
            binary(BinOp::$op, self, other)
        }
    )*};
}
macro_rules! un_methods {
    ($($(#[$doc:meta])* $name:ident => $op:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(&self) -> Result<Array> {
            unary(UnOp::$op, self)
        }
    )*};
}

/// Calls macro `$m` with every binary elementwise method: `name => BinOp`, documented
/// (shared by [`Array`] and [`Filtered`](super::Filtered)).
macro_rules! bin_ops {
    ($m:ident) => {
        $m! {
            /// `self + other`.
            add => Add,
            /// `self - other`.
            sub => Sub,
            /// `self * other`.
            mul => Mul,
            /// `self / other` (true division: integers give `f64`).
            div => Div,
            /// `self // other` (floor division; integer division by zero gives 0).
            floor_div => FloorDiv,
            /// `self % other` (the sign of the divisor, as NumPy's `remainder`).
            rem => Rem,
            /// `self ** other`.
            pow => Pow,
            /// Elementwise maximum (NaN propagates).
            maximum => Maximum,
            /// Elementwise minimum (NaN propagates).
            minimum => Minimum,
            /// `arctan2(self, other)`.
            arctan2 => Arctan2,
            /// `hypot(self, other)`.
            hypot => Hypot,
            /// `self == other`.
            eq => Eq,
            /// `self != other`.
            ne => Ne,
            /// `self < other`.
            lt => Lt,
            /// `self <= other`.
            le => Le,
            /// `self > other`.
            gt => Gt,
            /// `self >= other`.
            ge => Ge,
            /// Logical and (operands converted to bool).
            logical_and => And,
            /// Logical or.
            logical_or => Or,
            /// Logical exclusive or.
            logical_xor => Xor,
        }
    };
}
pub(crate) use bin_ops;

/// Calls macro `$m` with every unary elementwise method: `name => UnOp`, documented.
macro_rules! un_ops {
    ($m:ident) => {
        $m! {
            /// `-self`.
            neg => Neg,
            /// `|self|`.
            abs => Abs,
            /// Logical not.
            logical_not => Not,
            /// `e^x`.
            exp => Exp,
            /// Natural logarithm.
            log => Log,
            /// `ln(1 + x)`.
            log1p => Log1p,
            /// `e^x - 1`.
            expm1 => Expm1,
            /// Square root.
            sqrt => Sqrt,
            /// Sine.
            sin => Sin,
            /// Cosine.
            cos => Cos,
            /// Tangent.
            tan => Tan,
            /// Inverse sine.
            arcsin => Arcsin,
            /// Inverse cosine.
            arccos => Arccos,
            /// Inverse tangent.
            arctan => Arctan,
            /// Hyperbolic sine.
            sinh => Sinh,
            /// Hyperbolic cosine.
            cosh => Cosh,
            /// Hyperbolic tangent.
            tanh => Tanh,
            /// Round down.
            floor => Floor,
            /// Round up.
            ceil => Ceil,
            /// Round toward zero.
            trunc => Trunc,
            /// Whether each element is NaN (false for integers).
            isnan => IsNan,
            /// Whether each element is infinite (false for integers).
            isinf => IsInf,
            /// Whether each element is neither NaN nor infinite (true for integers).
            isfinite => IsFinite,
            /// Base-10 logarithm.
            log10 => Log10,
            /// Base-2 logarithm.
            log2 => Log2,
            /// -1, 0 or 1 by the sign of each element (NaN stays NaN; bools count as integers).
            sign => Sign,
        }
    };
}
pub(crate) use un_ops;

impl Array {
    bin_ops!(bin_methods);
    un_ops!(un_methods);

    /// Each element rounded half to even at `decimals` decimal places, as NumPy's `round`
    /// (`decimals` may be negative: `-1` rounds to tens). Floats are scaled by a power of
    /// ten, rounded and scaled back, so results carry that scaling's rounding, as in NumPy;
    /// integers change only at negative decimals; bools round as integers.
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// let ctx = ArrayContext::new();
    /// let x = ctx.from_ndarray(&ndarray::arr1(&[0.5, 1.5, 2.5, -2.5, 1.26]).into_dyn(), 2)?;
    /// let got = x.round(0)?.compute::<f64>(&blockwork::Sequential::new())?;
    /// assert_eq!(got.as_slice().unwrap(), &[0.0, 2.0, 2.0, -2.0, 1.0]);
    /// let i = ctx.from_ndarray(&ndarray::arr1(&[15i64, 25, -15]).into_dyn(), 2)?;
    /// let got = i.round(-1)?.compute::<i64>(&blockwork::Sequential::new())?;
    /// assert_eq!(got.as_slice().unwrap(), &[20, 20, -20]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn round(&self, decimals: i32) -> Result<Array> {
        unary(UnOp::Round(decimals), self)
    }

    /// Limits values to `[lo, hi]` (`minimum(maximum(self, lo), hi)`).
    pub fn clip(&self, lo: impl Into<Operand>, hi: impl Into<Operand>) -> Result<Array> {
        self.maximum(lo)?.minimum(hi)
    }

    /// The array converted to `dtype` (`as` casts; to bool is `!= 0`).
    pub fn astype(&self, dtype: DType) -> Result<Array> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        let al = align(&[self.into()])?;
        let e = al.exprs[0].cast(dtype);
        Ok(finish(al, e, "astype"))
    }

    /// Number of nodes of this array's fused expression (1 for a materialised array).
    pub(crate) fn fused_size(&self) -> usize {
        self.fused().expr.size()
    }

    /// `self` broadcast to `shape` (NumPy rules: a [`Shape`](ErrorKind::Shape) error if it
    /// does not broadcast).
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Array> {
        let (own, own_chunks) = (self.shape(), self.chunks());
        let b = broadcast_shapes(own, shape)?;
        if b != shape {
            return Err(Error::new(
                ErrorKind::Shape,
                format!("cannot broadcast {own:?} to {shape:?}"),
            ));
        }
        let chunks = Chunks::from_axes(
            (0..shape.len())
                .map(|o| {
                    let k = (o + self.ndim()).checked_sub(shape.len());
                    match k {
                        Some(k) if own[k] == shape[o] => own_chunks.axis(k).to_vec(),
                        _ => vec![shape[o]],
                    }
                })
                .collect(),
        )?;
        let f = self.fused().view(&align_view(own_chunks, &chunks));
        Ok(Array::from_fused(self.context(), f, chunks, "broadcast_to"))
    }
}
