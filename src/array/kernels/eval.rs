//! The fused kernel: evaluates an expression tree over one output block, tile by tile.
//!
//! Setup (once per block): each leaf's position in its source block is an affine function
//! of the output index (base offset plus one stride per output axis), read off its view.
//! Axes of length one are dropped, and neighbouring axes merge wherever every leaf (and
//! every extra stream a caller adds, such as a reduction's accumulator) steps through them
//! as through one axis; a contiguous elementwise block becomes a single run. Then each run
//! of the last axis is cut into tiles of [`TILE`] elements, and the tree is evaluated per
//! tile: a leaf with unit stride is a borrowed slice of its input block, a leaf with stride
//! zero a repeated value, anything else a gather into the node's scratch. Every inner node
//! writes into its own `TILE`-sized scratch, which stays in L1, and the root writes
//! straight into the output block: no intermediate array is ever allocated.

use super::ops::{self, Out, TileOperand, Val};
use super::random;
use super::stream;
use super::walk::{RunSpace, Transposer};
use crate::array::dtype::{BlockData, DType, Element, Scalar, with_block};
use crate::array::expr::{Expr, ExprKind, Fused, Gen, GenKind, LeafSrc, SharedData};
use crate::array::grid::c_strides;
use crate::error::{ErrorKind, TaskError};

/// Elements per tile: each scratch buffer holds one tile (8 KiB of `f64`), so a tree of a
/// few nodes keeps its working set in L1 while loops stay long enough to amortise the
/// per-node dispatch.
pub const TILE: usize = 1024;

/// A node's scratch: one tile of its type.
pub(crate) enum Buf {
    Bool(Vec<bool>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Buf {
    pub(crate) fn new(dt: DType, n: usize) -> Buf {
        match dt {
            DType::Bool => Buf::Bool(vec![false; n]),
            DType::I32 => Buf::I32(vec![0; n]),
            DType::I64 => Buf::I64(vec![0; n]),
            DType::F32 => Buf::F32(vec![0.0; n]),
            DType::F64 => Buf::F64(vec![0.0; n]),
        }
    }
    fn out(&mut self, n: usize) -> Out<'_> {
        match self {
            Buf::Bool(v) => Out::Bool(&mut v[..n]),
            Buf::I32(v) => Out::I32(&mut v[..n]),
            Buf::I64(v) => Out::I64(&mut v[..n]),
            Buf::F32(v) => Out::F32(&mut v[..n]),
            Buf::F64(v) => Out::F64(&mut v[..n]),
        }
    }
    pub(crate) fn val_at(&self, at: usize, n: usize) -> Val<'_> {
        match self {
            Buf::Bool(v) => Val::Bool(TileOperand::Slice(&v[at..at + n])),
            Buf::I32(v) => Val::I32(TileOperand::Slice(&v[at..at + n])),
            Buf::I64(v) => Val::I64(TileOperand::Slice(&v[at..at + n])),
            Buf::F32(v) => Val::F32(TileOperand::Slice(&v[at..at + n])),
            Buf::F64(v) => Val::F64(TileOperand::Slice(&v[at..at + n])),
        }
    }
    fn val(&self, n: usize) -> Val<'_> {
        match self {
            Buf::Bool(v) => Val::Bool(TileOperand::Slice(&v[..n])),
            Buf::I32(v) => Val::I32(TileOperand::Slice(&v[..n])),
            Buf::I64(v) => Val::I64(TileOperand::Slice(&v[..n])),
            Buf::F32(v) => Val::F32(TileOperand::Slice(&v[..n])),
            Buf::F64(v) => Val::F64(TileOperand::Slice(&v[..n])),
        }
    }
}

/// Per-type glue between slices and the tagged tile types.
pub(crate) trait Lane: Element {
    fn val(o: TileOperand<'_, Self>) -> Val<'_>;
    fn out(s: &mut [Self]) -> Out<'_>;
    fn buf(b: &mut Buf) -> Option<&mut Vec<Self>>;
}

macro_rules! lane {
    ($($t:ty => $v:ident),*) => {$(
        impl Lane for $t {
            #[inline]
            fn val(o: TileOperand<'_, Self>) -> Val<'_> {
                Val::$v(o)
            }
            #[inline]
            fn out(s: &mut [Self]) -> Out<'_> {
                Out::$v(s)
            }
            #[inline]
            fn buf(b: &mut Buf) -> Option<&mut Vec<Self>> {
                match b {
                    Buf::$v(v) => Some(v),
                    _ => None,
                }
            }
        }
    )*};
}
lane!(bool => Bool, i32 => I32, i64 => I64, f32 => F32, f64 => F64);

pub(crate) fn scalar_val(s: Scalar) -> Val<'static> {
    match s {
        Scalar::Bool(x) => Val::Bool(TileOperand::Scalar(x)),
        Scalar::I32(x) => Val::I32(TileOperand::Scalar(x)),
        Scalar::I64(x) => Val::I64(TileOperand::Scalar(x)),
        Scalar::F32(x) => Val::F32(TileOperand::Scalar(x)),
        Scalar::F64(x) => Val::F64(TileOperand::Scalar(x)),
    }
}

#[cold]
pub(crate) fn internal(msg: &str) -> TaskError {
    TaskError::with_kind(ErrorKind::Shape, format!("internal: {msg}"))
}

/// A leaf's memory: a block's elements, or a shared array's in memory order.
#[derive(Clone, Copy)]
pub(crate) enum Slab<'a> {
    Bool(&'a [bool]),
    I32(&'a [i32]),
    I64(&'a [i64]),
    F32(&'a [f32]),
    F64(&'a [f64]),
}

/// Runs `$body` with `$s` bound to the typed slice inside a [`Slab`].
macro_rules! with_slab {
    ($slab:expr, $s:ident => $body:expr) => {
        match $slab {
            Slab::Bool($s) => $body,
            Slab::I32($s) => $body,
            Slab::I64($s) => $body,
            Slab::F32($s) => $body,
            Slab::F64($s) => $body,
        }
    };
}
pub(crate) use with_slab;

impl<'a> Slab<'a> {
    /// A standard-layout block's elements.
    fn of_block(d: &'a BlockData) -> Result<Slab<'a>, TaskError> {
        let e = || internal("non-standard block");
        Ok(match d {
            BlockData::Bool(a) => Slab::Bool(a.as_slice().ok_or_else(e)?),
            BlockData::I32(a) => Slab::I32(a.as_slice().ok_or_else(e)?),
            BlockData::I64(a) => Slab::I64(a.as_slice().ok_or_else(e)?),
            BlockData::F32(a) => Slab::F32(a.as_slice().ok_or_else(e)?),
            BlockData::F64(a) => Slab::F64(a.as_slice().ok_or_else(e)?),
        })
    }

    /// A shared array's elements in memory order.
    fn of_shared(d: &'a SharedData) -> Result<Slab<'a>, TaskError> {
        let e = || internal("shared array not contiguous");
        Ok(match d {
            SharedData::Bool(a) => Slab::Bool(a.as_slice_memory_order().ok_or_else(e)?),
            SharedData::I32(a) => Slab::I32(a.as_slice_memory_order().ok_or_else(e)?),
            SharedData::I64(a) => Slab::I64(a.as_slice_memory_order().ok_or_else(e)?),
            SharedData::F32(a) => Slab::F32(a.as_slice_memory_order().ok_or_else(e)?),
            SharedData::F64(a) => Slab::F64(a.as_slice_memory_order().ok_or_else(e)?),
        })
    }

    /// The element type.
    pub(crate) fn dtype(self) -> DType {
        match self {
            Slab::Bool(_) => DType::Bool,
            Slab::I32(_) => DType::I32,
            Slab::I64(_) => DType::I64,
            Slab::F32(_) => DType::F32,
            Slab::F64(_) => DType::F64,
        }
    }
}

/// A leaf's data for one task.
pub(crate) enum LeafIn<'a> {
    Block(Slab<'a>),
    Gen(&'a Gen, u64, u64),
    /// A transposed leaf's current row group, transposed into a scratch tile
    /// (`BLOCK_ROWS` rows of `BLOCK_COLS`).
    Tile(&'a Buf),
}

/// One node of the tree being evaluated, with its scratch tile.
struct EvalNode<'e> {
    expr: &'e Expr,
    buf: Buf,
    kids: Vec<EvalNode<'e>>,
}

impl<'e> EvalNode<'e> {
    fn build(expr: &'e Expr) -> EvalNode<'e> {
        let kids = match &expr.kind {
            ExprKind::Leaf(_) | ExprKind::Scalar(_) => vec![],
            ExprKind::Unary(_, a) | ExprKind::Cast(a) => vec![EvalNode::build(a)],
            ExprKind::Binary(_, a, b) => vec![EvalNode::build(a), EvalNode::build(b)],
            ExprKind::Where(c, a, b) => {
                vec![EvalNode::build(c), EvalNode::build(a), EvalNode::build(b)]
            }
        };
        let n = if matches!(expr.kind, ExprKind::Scalar(_)) {
            0
        } else {
            TILE
        };
        EvalNode {
            expr,
            buf: Buf::new(expr.dtype, n),
            kids,
        }
    }
}

/// Current position of each leaf: `(offset, stride)` for this tile.
pub(crate) type LeafCursor = [(isize, isize)];

fn eval<'s>(
    node: &'s mut EvalNode<'_>,
    leaves: &'s [LeafIn<'s>],
    cur: &LeafCursor,
    n: usize,
) -> Result<Val<'s>, TaskError> {
    let EvalNode { expr, buf, kids } = node;
    match &expr.kind {
        ExprKind::Scalar(s) => Ok(scalar_val(*s)),
        ExprKind::Leaf(i) => {
            let (off, stride) = cur[*i];
            match &leaves[*i] {
                LeafIn::Block(slab) => with_slab!(*slab, s => leaf_slice(s, off, stride, n, buf)),
                LeafIn::Tile(b) => Ok(b.val_at(off as usize, n)),
                LeafIn::Gen(g, k1, k2) => {
                    let n = if stride == 0 { 1 } else { n };
                    generate(g, *k1, *k2, off, stride, n, buf)?;
                    let v = buf.val(n);
                    Ok(if stride == 0 { first(v) } else { v })
                }
            }
        }
        _ => {
            compute(expr, kids, leaves, cur, n, buf.out(n))?;
            let buf: &'s Buf = buf;
            Ok(buf.val(n))
        }
    }
}

/// A one-element tile as a repeated value.
fn first(v: Val<'_>) -> Val<'_> {
    fn repeat_first<T: Copy>(o: TileOperand<'_, T>) -> TileOperand<'_, T> {
        match o {
            TileOperand::Slice(s) => TileOperand::Scalar(s[0]),
            x => x,
        }
    }
    match v {
        Val::Bool(o) => Val::Bool(repeat_first(o)),
        Val::I32(o) => Val::I32(repeat_first(o)),
        Val::I64(o) => Val::I64(repeat_first(o)),
        Val::F32(o) => Val::F32(repeat_first(o)),
        Val::F64(o) => Val::F64(repeat_first(o)),
    }
}

#[inline]
fn leaf_slice<'s, T: Lane>(
    s: &'s [T],
    off: isize,
    stride: isize,
    n: usize,
    buf: &'s mut Buf,
) -> Result<Val<'s>, TaskError> {
    let o = off as usize;
    if stride == 1 {
        return Ok(T::val(TileOperand::Slice(&s[o..o + n])));
    }
    if stride == 0 || n == 1 {
        return Ok(T::val(TileOperand::Scalar(s[o])));
    }
    let b = T::buf(buf).ok_or_else(|| internal("leaf scratch type"))?;
    if stride > 0 {
        for (d, &x) in b[..n]
            .iter_mut()
            .zip(s[o..].iter().step_by(stride as usize))
        {
            *d = x;
        }
    } else {
        for (j, d) in b[..n].iter_mut().enumerate() {
            *d = s[(off + j as isize * stride) as usize];
        }
    }
    Ok(T::val(TileOperand::Slice(&b[..n])))
}

/// Fills `buf[..n]` with a generator's values at `off + j * stride`.
fn generate(
    g: &Gen,
    k1: u64,
    k2: u64,
    off: isize,
    stride: isize,
    n: usize,
    buf: &mut Buf,
) -> Result<(), TaskError> {
    let (base, delta) = (off as u64, stride as u64);
    match (&g.kind, buf) {
        (GenKind::Uniform { lo, hi, .. }, Buf::F64(b)) => {
            random::uniform_into(k1, base, delta, *lo, hi - lo, &mut b[..n])
        }
        (GenKind::Normal { mean, std, .. }, Buf::F64(b)) => {
            random::normal_into(k1, k2, base, delta, *mean, *std, &mut b[..n])
        }
        (GenKind::Integers { lo, hi, .. }, Buf::I64(b)) => {
            let range = hi.wrapping_sub(*lo) as u64;
            random::integers_into(k1, base, delta, *lo, range, &mut b[..n])
        }
        (GenKind::Linear { start, step, last }, buf) => {
            let total: usize = g.shape.iter().product();
            let at = |j: usize| (off + j as isize * stride) as usize;
            match buf {
                Buf::F64(b) => {
                    let (s0, st) = (start.as_f64(), step.as_f64());
                    for (j, d) in b[..n].iter_mut().enumerate() {
                        *d = s0 + at(j) as f64 * st;
                    }
                }
                Buf::I64(b) => {
                    let s0 = i64::from_scalar(*start);
                    let st = i64::from_scalar(*step);
                    for (j, d) in b[..n].iter_mut().enumerate() {
                        *d = s0.wrapping_add((at(j) as i64).wrapping_mul(st));
                    }
                }
                _ => return Err(internal("linear generator type")),
            }
            if let Some(l) = last {
                for j in 0..n {
                    if at(j) + 1 == total {
                        with_buf_set(buf, j, *l);
                    }
                }
            }
        }
        (GenKind::Func { f, .. }, buf) => {
            let strides = c_strides(&g.shape);
            let mut idx = vec![0usize; g.shape.len()];
            for j in 0..n {
                let mut lin = (off + j as isize * stride) as usize;
                for (i, &s) in idx.iter_mut().zip(&strides) {
                    *i = lin / s;
                    lin %= s;
                }
                with_buf_set(buf, j, f(&idx));
            }
        }
        _ => return Err(internal("generator type")),
    }
    Ok(())
}

fn with_buf_set(buf: &mut Buf, j: usize, s: Scalar) {
    match buf {
        Buf::Bool(b) => b[j] = bool::from_scalar(s),
        Buf::I32(b) => b[j] = i32::from_scalar(s),
        Buf::I64(b) => b[j] = i64::from_scalar(s),
        Buf::F32(b) => b[j] = f32::from_scalar(s),
        Buf::F64(b) => b[j] = f64::from_scalar(s),
    }
}

/// Evaluates an inner node (or a leaf or scalar at the root) into `out`.
fn compute(
    expr: &Expr,
    kids: &mut [EvalNode<'_>],
    leaves: &[LeafIn<'_>],
    cur: &LeafCursor,
    n: usize,
    out: Out<'_>,
) -> Result<(), TaskError> {
    match &expr.kind {
        ExprKind::Unary(op, _) => {
            let a = eval(&mut kids[0], leaves, cur, n)?;
            ops::unary(*op, a, out)
        }
        ExprKind::Cast(_) => {
            let a = eval(&mut kids[0], leaves, cur, n)?;
            ops::cast(a, out)
        }
        ExprKind::Binary(op, _, _) => {
            let (k0, k1) = kids.split_at_mut(1);
            let a = eval(&mut k0[0], leaves, cur, n)?;
            let b = eval(&mut k1[0], leaves, cur, n)?;
            ops::binary(*op, a, b, out)
        }
        ExprKind::Where(..) => {
            let (k0, rest) = kids.split_at_mut(1);
            let (k1, k2) = rest.split_at_mut(1);
            let c = eval(&mut k0[0], leaves, cur, n)?;
            let a = eval(&mut k1[0], leaves, cur, n)?;
            let b = eval(&mut k2[0], leaves, cur, n)?;
            ops::select(c, a, b, out)
        }
        ExprKind::Leaf(_) | ExprKind::Scalar(_) => Err(internal("leaf evaluated as inner node")),
    }
}

/// One output block's kernel: the tree, its leaves' data and the run geometry.
pub(crate) struct Kernel<'a> {
    root: EvalNode<'a>,
    leaves: Vec<LeafIn<'a>>,
    pub(crate) space: RunSpace,
}

impl<'a> Kernel<'a> {
    /// Sets up block `out_idx` (of shape `out_shape`) of `fused`, reading array leaves from
    /// `inputs` (one block per array leaf, in leaf order). `extra` streams (base and stride
    /// per output axis) ride along in the geometry, for callers that index their own data.
    pub(crate) fn new(
        fused: &'a Fused,
        inputs: &[&'a BlockData],
        out_idx: &[usize],
        out_shape: &[usize],
        extra: &[(isize, Vec<isize>)],
    ) -> Result<Kernel<'a>, TaskError> {
        let mut leaves = Vec::with_capacity(fused.leaves.len());
        let mut streams = Vec::with_capacity(fused.leaves.len() + extra.len());
        let mut next_input = inputs.iter();
        for leaf in &fused.leaves {
            let (input, lst, mut base): (_, Vec<isize>, isize) = match &leaf.src {
                LeafSrc::Array(_) => {
                    let d = *next_input.next().ok_or_else(|| internal("missing input"))?;
                    let st = c_strides(d.shape()).iter().map(|&s| s as isize).collect();
                    (LeafIn::Block(Slab::of_block(d)?), st, 0)
                }
                LeafSrc::Shared(sh) => (
                    LeafIn::Block(Slab::of_shared(&sh.data)?),
                    sh.strides.clone(),
                    sh.origin,
                ),
                LeafSrc::Gen(g) => {
                    let (k1, k2) = match g.kind {
                        GenKind::Uniform { seed, .. } | GenKind::Integers { seed, .. } => {
                            (random::key(seed, 0), 0)
                        }
                        GenKind::Normal { seed, .. } => {
                            (random::key(seed, 1), random::key(seed, 2))
                        }
                        _ => (0, 0),
                    };
                    let st = c_strides(&g.shape).iter().map(|&s| s as isize).collect();
                    (LeafIn::Gen(g, k1, k2), st, 0)
                }
            };
            let mut strides = vec![0isize; out_shape.len()];
            for (o, m) in leaf.view.axes.iter().enumerate() {
                if let Some(m) = m {
                    let seg = m.segs[out_idx[o]];
                    let st = *lst.get(m.src).ok_or_else(|| internal("leaf rank"))?;
                    base += seg.start as isize * st;
                    // (wrapping: only one-element segments can have such steps; unused)
                    strides[o] = seg.step.wrapping_mul(st);
                }
            }
            for &(a, _, off) in &leaf.view.fixed {
                base += off as isize * lst.get(a).ok_or_else(|| internal("leaf rank"))?;
            }
            leaves.push(input);
            streams.push((base, strides));
        }
        // The output block itself (standard layout) is the stream after the leaves.
        streams.push((
            0,
            c_strides(out_shape).iter().map(|&s| s as isize).collect(),
        ));
        streams.extend(extra.iter().cloned());
        Ok(Kernel {
            root: EvalNode::build(&fused.expr),
            leaves,
            space: RunSpace::new(out_shape, &streams),
        })
    }

    /// Evaluates the block into `out` (standard layout, the output block's shape and type).
    pub(crate) fn write(&mut self, out: &mut BlockData) -> Result<(), TaskError> {
        with_block!(out, a => {
            let s = a.as_slice_mut().ok_or_else(|| internal("non-standard output"))?;
            self.write_slice(s)
        })
    }

    fn write_slice<T: Lane>(&mut self, dst: &mut [T]) -> Result<(), TaskError> {
        let nl = self.leaves.len();
        let mut tr = Transposer::new(&self.leaves, &self.space);
        let (root, leaves, space) = (&mut self.root, &self.leaves, &self.space);
        // A block larger than the caches: each tile is computed into the root's scratch
        // tile (in L1) and streamed out, so the block's lines are not read before being
        // overwritten (a quarter of the traffic of `(x + 1) * 2 - y`).
        let streamed = std::mem::size_of_val(dst) >= stream::STREAM_MIN_BYTES
            && !matches!(root.expr.kind, ExprKind::Leaf(_) | ExprKind::Scalar(_))
            && T::buf(&mut root.buf).is_some();
        let mut one = |ls: &[LeafIn<'_>], cur: &LeafCursor, pos: usize, n: usize| {
            let dst = &mut dst[pos..pos + n];
            if streamed {
                compute(root.expr, &mut root.kids, ls, cur, n, root.buf.out(n))?;
                let tile = T::buf(&mut root.buf).ok_or_else(|| internal("root scratch type"))?;
                stream::copy(&tile[..n], dst);
                return Ok(());
            }
            let out = T::out(dst);
            match root.expr.kind {
                ExprKind::Leaf(_) | ExprKind::Scalar(_) => ops::copy(eval(root, ls, cur, n)?, out),
                _ => compute(root.expr, &mut root.kids, ls, cur, n, out),
            }
        };
        let done = space.each_tile(nl, |step| {
            tr.step(step, leaves, space, &mut |ls, cur, offs, n| {
                one(ls, cur, offs[nl] as usize, n)
            })
        });
        if streamed {
            stream::fence();
        }
        done
    }

    /// Calls `sink(offsets, len, value)` for every tile, where `offsets` holds every
    /// stream's offset at the tile's first element (leaves, the output, then the extra
    /// streams: see [`Kernel::extra`]) and `value` is the tile.
    pub(crate) fn tiles(
        &mut self,
        mut sink: impl FnMut(&[isize], usize, Val<'_>) -> Result<(), TaskError>,
    ) -> Result<(), TaskError> {
        let nl = self.leaves.len();
        let mut tr = Transposer::new(&self.leaves, &self.space);
        let (root, leaves, space) = (&mut self.root, &self.leaves, &self.space);
        space.each_tile(nl, |step| {
            tr.step(step, leaves, space, &mut |ls, cur, offs, n| {
                let v = eval(root, ls, cur, n)?;
                sink(offs, n, v)
            })
        })
    }

    /// The stream index of extra stream `i` (after the leaves and the output).
    pub(crate) fn extra(&self, i: usize) -> usize {
        self.leaves.len() + 1 + i
    }
}
