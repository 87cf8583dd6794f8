//! Fused expressions: what an elementwise array computes per element, over leaf inputs seen
//! through views.
//!
//! An array built by elementwise operations, views (transpose, slicing, broadcasting,
//! rechunking to a finer grid) or generators (random, arange, zeros) is not a graph of its
//! own tasks but a [`Fused`]: an expression tree whose leaves are materialised arrays or
//! generators, each read through a [`View`]. Every output block reads exactly one block of
//! each leaf, so one task per output block evaluates the whole tree, tile by tile, straight
//! into its output (or into a reduction's accumulator), with no intermediate arrays.

use super::Array;
use super::dtype::{DType, Element, Scalar};
use ndarray::{ArcArray, IxDyn};
use std::any::Any;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Elementwise functions of one argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum UnOp {
    Neg,
    Abs,
    Not,
    Exp,
    Log,
    Log1p,
    Expm1,
    Sqrt,
    Sin,
    Cos,
    Tan,
    Arcsin,
    Arccos,
    Arctan,
    Sinh,
    Cosh,
    Tanh,
    Floor,
    Ceil,
    Trunc,
    IsNan,
    IsInf,
    IsFinite,
    Log10,
    Log2,
    Sign,
    /// Round half to even at this many decimals (negative: tens, hundreds, ...).
    Round(i32),
}

/// Elementwise functions of two arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Rem,
    Pow,
    Maximum,
    Minimum,
    Arctan2,
    Hypot,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    Xor,
}

impl UnOp {
    /// `(operand type, result type)` for an input of type `t`.
    pub(crate) fn types(self, t: DType) -> (DType, DType) {
        use UnOp::*;
        match self {
            Neg | Abs | Sign => {
                let t = if t == DType::Bool { DType::I64 } else { t };
                (t, t)
            }
            Not => (DType::Bool, DType::Bool),
            IsNan | IsInf | IsFinite => (t.float(), DType::Bool),
            // Integers round to integers (only negative decimals change them).
            Round(_) => {
                let t = if t == DType::Bool { DType::I64 } else { t };
                (t, t)
            }
            _ => (t.float(), t.float()),
        }
    }
}

impl BinOp {
    /// `(operand type, result type)` for inputs of types `a` and `b`.
    pub(crate) fn types(self, a: DType, b: DType) -> (DType, DType) {
        use BinOp::*;
        let p = DType::promote(a, b);
        match self {
            Add | Sub | Mul | FloorDiv | Rem | Pow | Maximum | Minimum => {
                let t = if p == DType::Bool { DType::I64 } else { p };
                (t, t)
            }
            Div | Arctan2 | Hypot => (p.float(), p.float()),
            Eq | Ne | Lt | Le | Gt | Ge => (p, DType::Bool),
            And | Or | Xor => (DType::Bool, DType::Bool),
        }
    }
}

/// A node of a fused expression; `dtype` is the type of its values.
#[derive(Clone, Debug, Hash)]
pub(crate) struct Expr {
    pub(crate) dtype: DType,
    pub(crate) kind: ExprKind,
}

#[derive(Clone, Debug, Hash)]
pub(crate) enum ExprKind {
    /// The values of leaf `i`.
    Leaf(usize),
    /// A constant.
    Scalar(Scalar),
    Unary(UnOp, Arc<Expr>),
    Binary(BinOp, Arc<Expr>, Arc<Expr>),
    /// `where(cond, a, b)`.
    Where(Arc<Expr>, Arc<Expr>, Arc<Expr>),
    /// The child converted to this node's type.
    Cast(Arc<Expr>),
}

impl Expr {
    pub(crate) fn new(dtype: DType, kind: ExprKind) -> Arc<Expr> {
        Arc::new(Expr { dtype, kind })
    }

    /// `self` converted to `dtype` (itself when it already has that type; constants fold).
    pub(crate) fn cast(self: &Arc<Expr>, dtype: DType) -> Arc<Expr> {
        if self.dtype == dtype {
            return self.clone();
        }
        if let ExprKind::Scalar(s) = self.kind {
            return Expr::new(dtype, ExprKind::Scalar(s.cast(dtype)));
        }
        Expr::new(dtype, ExprKind::Cast(self.clone()))
    }

    /// Number of nodes.
    pub(crate) fn size(&self) -> usize {
        1 + match &self.kind {
            ExprKind::Leaf(_) | ExprKind::Scalar(_) => 0,
            ExprKind::Unary(_, a) | ExprKind::Cast(a) => a.size(),
            ExprKind::Binary(_, a, b) => a.size() + b.size(),
            ExprKind::Where(c, a, b) => c.size() + a.size() + b.size(),
        }
    }
}

/// Where one output axis reads along a source axis: per output block, a segment.
#[derive(Clone, Debug, Hash, PartialEq)]
pub(crate) struct AxisMap {
    /// The source axis.
    pub(crate) src: usize,
    /// For each output block along this axis: the source block, the position in it of the
    /// output block's first element, and the step between elements (0 for broadcasting).
    pub(crate) segs: Arc<[Segment]>,
}

/// Where one output block reads along a source axis: the source block, the position in it of
/// the output block's first element, and the step between elements (0 for broadcasting).
#[derive(Clone, Copy, Debug, Hash, PartialEq)]
pub(crate) struct Segment {
    pub(crate) block: usize,
    pub(crate) start: usize,
    pub(crate) step: isize,
}

/// How an output's blocks read a source's blocks: an affine map per axis.
///
/// Invariant: every source axis appears exactly once, either as the `src` of one axis map or
/// in `fixed`.
#[derive(Clone, Debug, Hash, PartialEq)]
pub(crate) struct View {
    /// Per output axis: the source axis it walks, or `None` (the source does not vary along
    /// it: a new or broadcast axis).
    pub(crate) axes: Vec<Option<AxisMap>>,
    /// Source axes held at one position: `(axis, block, offset in block)`.
    pub(crate) fixed: Vec<(usize, usize, usize)>,
}

impl View {
    /// The identity view of a grid with `numblocks` blocks per axis.
    pub(crate) fn identity(numblocks: &[usize]) -> View {
        View {
            axes: numblocks
                .iter()
                .enumerate()
                .map(|(k, &n)| {
                    Some(AxisMap {
                        src: k,
                        segs: (0..n)
                            .map(|b| Segment {
                                block: b,
                                start: 0,
                                step: 1,
                            })
                            .collect(),
                    })
                })
                .collect(),
            fixed: Vec::new(),
        }
    }

    /// `self` (output -> A) followed by `inner` (A -> source): output -> source.
    pub(crate) fn then(&self, inner: &View) -> View {
        let axes = self
            .axes
            .iter()
            .map(|om| {
                let m = om.as_ref()?;
                let im = inner.axes[m.src].as_ref()?;
                let segs = m
                    .segs
                    .iter()
                    .map(|s| {
                        let t = im.segs[s.block];
                        let start = t.start as isize + s.start as isize * t.step;
                        Segment {
                            block: t.block,
                            start: start as usize,
                            // Only segments of one element can have steps whose product overflows,
                            // and their step is never used.
                            step: s.step.wrapping_mul(t.step),
                        }
                    })
                    .collect();
                Some(AxisMap { src: im.src, segs })
            })
            .collect();
        let mut fixed = inner.fixed.clone();
        for &(a, b, off) in &self.fixed {
            if let Some(im) = inner.axes[a].as_ref() {
                let t = im.segs[b];
                let pos = t.start as isize + off as isize * t.step;
                fixed.push((im.src, t.block, pos as usize));
            }
        }
        View { axes, fixed }
    }

    /// The source block read by output block `idx`.
    pub(crate) fn source_block(&self, idx: &[usize], src_ndim: usize) -> Vec<usize> {
        let mut out = vec![0; src_ndim];
        for (m, &i) in self.axes.iter().zip(idx) {
            if let Some(m) = m {
                out[m.src] = m.segs[i].block;
            }
        }
        for &(a, b, _) in &self.fixed {
            out[a] = b;
        }
        out
    }
}

/// A generated source: values defined by each element's global position.
pub(crate) struct Gen {
    pub(crate) shape: Vec<usize>,
    pub(crate) dtype: DType,
    pub(crate) kind: GenKind,
}

/// What a generator computes at linear position `i` (row-major in its shape).
#[derive(Clone)]
pub(crate) enum GenKind {
    /// Uniform on `[lo, hi)`.
    Uniform { seed: u64, lo: f64, hi: f64 },
    /// Normal with a mean and a standard deviation.
    Normal { seed: u64, mean: f64, std: f64 },
    /// Integers uniform on `[lo, hi)`.
    Integers { seed: u64, lo: i64, hi: i64 },
    /// `start + i * step`, in the generator's type; `last` replaces the final value
    /// (linspace's exact endpoint).
    Linear {
        start: Scalar,
        step: Scalar,
        last: Option<Scalar>,
    },
    /// A function of the multi-index; `token` names it for deterministic keys.
    Func { token: Arc<str>, f: Arc<IndexFn> },
}

impl Hash for Gen {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.shape.hash(h);
        self.dtype.hash(h);
        match &self.kind {
            GenKind::Uniform { seed, lo, hi } => (0, seed, lo.to_bits(), hi.to_bits()).hash(h),
            GenKind::Normal { seed, mean, std } => (1, seed, mean.to_bits(), std.to_bits()).hash(h),
            GenKind::Integers { seed, lo, hi } => (2, seed, lo, hi).hash(h),
            GenKind::Linear { start, step, last } => (3, start, step, last).hash(h),
            GenKind::Func { token, .. } => (4, token).hash(h),
        }
    }
}

/// A function of a multi-index (`fromfunction`).
pub(crate) type IndexFn = dyn Fn(&[usize]) -> Scalar + Send + Sync;

/// Where a leaf's values come from.
#[derive(Clone)]
pub(crate) enum LeafSrc {
    /// A materialised array (its blocks are graph keys).
    Array(Array),
    /// A generator (no input blocks; one notional block covering its whole shape).
    Gen(Arc<Gen>),
    /// A caller's `ndarray`, shared (no input blocks; one notional block covering it).
    Shared(Arc<Shared>),
}

/// A caller's array read in place: its memory in memory order, the strides of its axes
/// over that memory and the position of its first element.
pub(crate) struct Shared {
    /// Names the contents (a process-unique number, or the caller's token).
    pub(crate) token: Arc<str>,
    pub(crate) data: SharedData,
    pub(crate) strides: Vec<isize>,
    pub(crate) origin: isize,
}

/// The shared array, by element type.
pub(crate) enum SharedData {
    Bool(ArcArray<bool, IxDyn>),
    I32(ArcArray<i32, IxDyn>),
    I64(ArcArray<i64, IxDyn>),
    F32(ArcArray<f32, IxDyn>),
    F64(ArcArray<f64, IxDyn>),
}

impl Shared {
    /// Wraps `a`, which must be contiguous in memory (any axis order, any signs).
    pub(crate) fn new<T: Element>(a: ArcArray<T, IxDyn>, token: Arc<str>) -> Shared {
        let strides = a.strides().to_vec();
        // In memory order the first element sits past the axes walked backwards.
        let origin = a
            .shape()
            .iter()
            .zip(&strides)
            .filter(|&(&l, &s)| s < 0 && l > 0)
            .map(|(&l, &s)| (l as isize - 1) * -s)
            .sum();
        let any: Box<dyn Any> = Box::new(a);
        let e = "T is the type of its DTYPE";
        let data = match T::DTYPE {
            DType::Bool => SharedData::Bool(*any.downcast().expect(e)),
            DType::I32 => SharedData::I32(*any.downcast().expect(e)),
            DType::I64 => SharedData::I64(*any.downcast().expect(e)),
            DType::F32 => SharedData::F32(*any.downcast().expect(e)),
            DType::F64 => SharedData::F64(*any.downcast().expect(e)),
        };
        Shared {
            token,
            data,
            strides,
            origin,
        }
    }
}

/// One input of a fused expression: a source seen through a view.
#[derive(Clone)]
pub(crate) struct Leaf {
    pub(crate) src: LeafSrc,
    pub(crate) view: View,
}

impl Hash for Leaf {
    fn hash<H: Hasher>(&self, h: &mut H) {
        match &self.src {
            LeafSrc::Array(a) => a.name().hash(h),
            LeafSrc::Gen(g) => g.hash(h),
            LeafSrc::Shared(sh) => sh.token.hash(h),
        }
        self.view.hash(h);
    }
}

/// An elementwise array's recipe: an expression over leaves.
#[derive(Clone, Hash)]
pub(crate) struct Fused {
    pub(crate) expr: Arc<Expr>,
    pub(crate) leaves: Vec<Leaf>,
}

impl Fused {
    /// The same recipe read through `outer` (output -> this array's blocks).
    pub(crate) fn view(&self, outer: &View) -> Fused {
        Fused {
            expr: self.expr.clone(),
            leaves: self
                .leaves
                .iter()
                .map(|l| Leaf {
                    src: l.src.clone(),
                    view: outer.then(&l.view),
                })
                .collect(),
        }
    }

    /// The leaves that are arrays, in order: their blocks are the task's inputs.
    pub(crate) fn array_leaves(&self) -> impl Iterator<Item = (&Array, &View)> {
        self.leaves.iter().filter_map(|l| match &l.src {
            LeafSrc::Array(a) => Some((a, &l.view)),
            LeafSrc::Gen(_) | LeafSrc::Shared(_) => None,
        })
    }
}
