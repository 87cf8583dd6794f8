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

use super::ops::{self, Opnd, Out, Val};
use super::random;
use crate::array::dtype::{BlockData, DType, Element, Scalar, with_block};
use crate::array::expr::{Expr, ExprKind, Fused, Gen, GenKind, LeafSrc};
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
    fn new(dt: DType, n: usize) -> Buf {
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
    fn val(&self, n: usize) -> Val<'_> {
        match self {
            Buf::Bool(v) => Val::Bool(Opnd::Slice(&v[..n])),
            Buf::I32(v) => Val::I32(Opnd::Slice(&v[..n])),
            Buf::I64(v) => Val::I64(Opnd::Slice(&v[..n])),
            Buf::F32(v) => Val::F32(Opnd::Slice(&v[..n])),
            Buf::F64(v) => Val::F64(Opnd::Slice(&v[..n])),
        }
    }
}

/// Per-type glue between slices and the tagged tile types.
pub(crate) trait Lane: Element {
    fn val(o: Opnd<'_, Self>) -> Val<'_>;
    fn out(s: &mut [Self]) -> Out<'_>;
    fn buf(b: &mut Buf) -> Option<&mut Vec<Self>>;
}

macro_rules! lane {
    ($($t:ty => $v:ident),*) => {$(
        impl Lane for $t {
            #[inline]
            fn val(o: Opnd<'_, Self>) -> Val<'_> {
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
        Scalar::Bool(x) => Val::Bool(Opnd::Scalar(x)),
        Scalar::I32(x) => Val::I32(Opnd::Scalar(x)),
        Scalar::I64(x) => Val::I64(Opnd::Scalar(x)),
        Scalar::F32(x) => Val::F32(Opnd::Scalar(x)),
        Scalar::F64(x) => Val::F64(Opnd::Scalar(x)),
    }
}

#[cold]
fn internal(msg: &str) -> TaskError {
    TaskError::with_kind(ErrorKind::Shape, format!("internal: {msg}"))
}

/// The run space of one block: merged axes, and for each stream a base and strides.
pub(crate) struct Geo {
    /// Merged shape; the last axis is the run axis. Never empty.
    pub(crate) shape: Vec<usize>,
    /// Per stream: offset of the block's first element.
    pub(crate) base: Vec<isize>,
    /// Per stream: stride per merged axis.
    pub(crate) strides: Vec<Vec<isize>>,
}

impl Geo {
    /// Merges the axes of `shape` given per-stream `(base, strides per axis)`.
    pub(crate) fn new(shape: &[usize], streams: &[(isize, Vec<isize>)]) -> Geo {
        let mut dims: Vec<(usize, Vec<isize>)> = Vec::new();
        for (o, &len) in shape.iter().enumerate() {
            if len == 1 {
                continue;
            }
            let st: Vec<isize> = streams.iter().map(|s| s.1[o]).collect();
            if let Some(last) = dims.last_mut() {
                let n = len as isize;
                if last.1.iter().zip(&st).all(|(&p, &q)| p == q * n) {
                    last.0 *= len;
                    last.1 = st;
                    continue;
                }
            }
            dims.push((len, st));
        }
        if dims.is_empty() {
            dims.push((1, vec![0; streams.len()]));
        }
        let shape = dims.iter().map(|d| d.0).collect();
        let strides = (0..streams.len())
            .map(|s| dims.iter().map(|d| d.1[s]).collect())
            .collect();
        Geo {
            shape,
            base: streams.iter().map(|s| s.0).collect(),
            strides,
        }
    }

    /// Length of each run.
    pub(crate) fn run_len(&self) -> usize {
        *self.shape.last().expect("never empty")
    }

    /// Stride of stream `s` along a run.
    pub(crate) fn run_stride(&self, s: usize) -> isize {
        *self.strides[s].last().expect("never empty")
    }

    /// Calls `f` with each stream's offset at every index of the first `depth` axes (the
    /// later axes at 0), in row-major order.
    fn outer(
        &self,
        depth: usize,
        mut f: impl FnMut(&[isize]) -> Result<(), TaskError>,
    ) -> Result<(), TaskError> {
        if self.shape.contains(&0) {
            return Ok(());
        }
        let mut idx = vec![0usize; depth];
        let mut off = self.base.clone();
        loop {
            f(&off)?;
            // Odometer over the outer axes, keeping the offsets incrementally.
            let mut k = depth;
            loop {
                if k == 0 {
                    return Ok(());
                }
                k -= 1;
                idx[k] += 1;
                for (o, st) in off.iter_mut().zip(&self.strides) {
                    *o += st[k];
                }
                if idx[k] < self.shape[k] {
                    break;
                }
                for (o, st) in off.iter_mut().zip(&self.strides) {
                    *o -= st[k] * self.shape[k] as isize;
                }
                idx[k] = 0;
            }
        }
    }

    /// Whether some leaf (one of the first `leaves` streams) walks the run axis with a
    /// large stride but the axis before it with unit stride: a transposed read.
    fn transposed(&self, leaves: usize) -> bool {
        let m = self.shape.len();
        m >= 2
            && self.strides[..leaves]
                .iter()
                .any(|st| st[m - 1].abs() > 1 && st[m - 2].abs() == 1)
    }

    /// Calls `f(offsets, len)` for every tile. Tiles run along the last axis, row-major; but
    /// when a leaf is read transposed, rows go in groups of [`BLOCK_ROWS`] over columns
    /// [`BLOCK_COLS`] wide, so that the cache lines a transposed gather touches are reused
    /// from L1 by the next rows instead of being fetched again.
    ///
    /// In the transposed order, `ahead(offsets, len)` is called before each group's tile
    /// with the offsets of the same tile in the next group of rows, for prefetching.
    pub(crate) fn each_tile(
        &self,
        leaves: usize,
        mut ahead: impl FnMut(&[isize], usize),
        mut f: impl FnMut(&[isize], usize) -> Result<(), TaskError>,
    ) -> Result<(), TaskError> {
        let m = self.shape.len();
        let ns = self.strides.len();
        let rs: Vec<isize> = (0..ns).map(|s| self.run_stride(s)).collect();
        let mut offs = vec![0isize; ns];
        let cols = self.run_len();
        if !self.transposed(leaves) {
            return self.outer(m - 1, |off| {
                let mut t = 0;
                while t < cols {
                    let n = TILE.min(cols - t);
                    for s in 0..ns {
                        offs[s] = off[s] + t as isize * rs[s];
                    }
                    f(&offs, n)?;
                    t += n;
                }
                Ok(())
            });
        }
        let rows = self.shape[m - 2];
        let row_st: Vec<isize> = (0..ns).map(|s| self.strides[s][m - 2]).collect();
        self.outer(m - 2, |off| {
            for r0 in (0..rows).step_by(BLOCK_ROWS) {
                for c0 in (0..cols).step_by(BLOCK_COLS) {
                    let n = BLOCK_COLS.min(cols - c0);
                    if r0 + BLOCK_ROWS < rows {
                        for s in 0..ns {
                            offs[s] = off[s]
                                + (r0 + BLOCK_ROWS) as isize * row_st[s]
                                + c0 as isize * rs[s];
                        }
                        ahead(&offs, n);
                    }
                    for r in r0..rows.min(r0 + BLOCK_ROWS) {
                        for s in 0..ns {
                            offs[s] = off[s] + r as isize * row_st[s] + c0 as isize * rs[s];
                        }
                        f(&offs, n)?;
                    }
                }
            }
            Ok(())
        })
    }
}

/// Rows per group in the transposed tile order (one cache line of `f64` per gathered
/// element is reused by this many rows).
pub(crate) const BLOCK_ROWS: usize = 8;
/// Columns per tile in the transposed tile order: the lines gathered for one row
/// (`BLOCK_COLS` of them, 64 bytes each: 32 KiB) fit in L1 while the group's rows reuse
/// them (measured on case c: 512 beats 128, 256 and 1024).
pub(crate) const BLOCK_COLS: usize = 512;

/// A leaf's data for one task.
pub(crate) enum LeafIn<'a> {
    Block(&'a BlockData),
    Gen(&'a Gen, u64, u64),
}

/// One node of the tree being evaluated, with its scratch tile.
struct ENode<'e> {
    expr: &'e Expr,
    buf: Buf,
    kids: Vec<ENode<'e>>,
}

impl<'e> ENode<'e> {
    fn build(expr: &'e Expr) -> ENode<'e> {
        let kids = match &expr.kind {
            ExprKind::Leaf(_) | ExprKind::Scalar(_) => vec![],
            ExprKind::Unary(_, a) | ExprKind::Cast(a) => vec![ENode::build(a)],
            ExprKind::Binary(_, a, b) => vec![ENode::build(a), ENode::build(b)],
            ExprKind::Where(c, a, b) => vec![ENode::build(c), ENode::build(a), ENode::build(b)],
        };
        let n = if matches!(expr.kind, ExprKind::Scalar(_)) {
            0
        } else {
            TILE
        };
        ENode {
            expr,
            buf: Buf::new(expr.dtype, n),
            kids,
        }
    }
}

/// Current position of each leaf: `(offset, stride)` for this tile.
type Cur = [(isize, isize)];

fn eval<'s>(
    node: &'s mut ENode<'_>,
    leaves: &'s [LeafIn<'s>],
    cur: &Cur,
    n: usize,
) -> Result<Val<'s>, TaskError> {
    let ENode { expr, buf, kids } = node;
    match &expr.kind {
        ExprKind::Scalar(s) => Ok(scalar_val(*s)),
        ExprKind::Leaf(i) => {
            let (off, stride) = cur[*i];
            match &leaves[*i] {
                LeafIn::Block(data) => {
                    with_block!(data, a => {
                        let s = a.as_slice().ok_or_else(|| internal("non-standard block"))?;
                        leaf_slice(s, off, stride, n, buf)
                    })
                }
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
    fn f<T: Copy>(o: Opnd<'_, T>) -> Opnd<'_, T> {
        match o {
            Opnd::Slice(s) => Opnd::Scalar(s[0]),
            x => x,
        }
    }
    match v {
        Val::Bool(o) => Val::Bool(f(o)),
        Val::I32(o) => Val::I32(f(o)),
        Val::I64(o) => Val::I64(f(o)),
        Val::F32(o) => Val::F32(f(o)),
        Val::F64(o) => Val::F64(f(o)),
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
        return Ok(T::val(Opnd::Slice(&s[o..o + n])));
    }
    if stride == 0 || n == 1 {
        return Ok(T::val(Opnd::Scalar(s[o])));
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
    Ok(T::val(Opnd::Slice(&b[..n])))
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
    kids: &mut [ENode<'_>],
    leaves: &[LeafIn<'_>],
    cur: &Cur,
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

/// Asks for the cache lines of the block leaves' next tile (rows from `offs` on, with the
/// geometry's row and run strides), so that the transposed order's gathers find them in
/// cache instead of waiting for memory one line at a time.
fn prefetch(leaves: &[LeafIn<'_>], geo: &Geo, offs: &[isize], n: usize) {
    let m = geo.shape.len();
    for (s, leaf) in leaves.iter().enumerate() {
        let LeafIn::Block(d) = leaf else { continue };
        let (row, run) = (geo.strides[s][m - 2], geo.strides[s][m - 1]);
        with_block!(d, a => {
            let Some(sl) = a.as_slice() else { continue };
            let size = std::mem::size_of_val(&sl[..sl.len().min(1)]).max(1);
            // One prefetch per 64-byte line: step over positions that share one.
            let rstep = if row.unsigned_abs() * size < 64 { BLOCK_ROWS } else { 1 };
            let cstep = (64 / (run.unsigned_abs() * size).max(1)).max(1);
            for r in (0..BLOCK_ROWS).step_by(rstep) {
                for c in (0..n).step_by(cstep) {
                    let o = offs[s] + r as isize * row + c as isize * run;
                    if o >= 0 && (o as usize) < sl.len() {
                        prefetch_line(&sl[o as usize]);
                    }
                }
            }
        });
    }
}

/// A hint to load the line holding `x` into all cache levels.
#[inline(always)]
fn prefetch_line<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch has no architectural effect and cannot fault; the pointer comes
    // from a live reference anyway.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            (x as *const T).cast(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

/// One output block's kernel: the tree, its leaves' data and the run geometry.
pub(crate) struct Kernel<'a> {
    root: ENode<'a>,
    leaves: Vec<LeafIn<'a>>,
    pub(crate) geo: Geo,
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
            let (input, src_shape) = match &leaf.src {
                LeafSrc::Array(_) => {
                    let d = *next_input.next().ok_or_else(|| internal("missing input"))?;
                    (LeafIn::Block(d), d.shape().to_vec())
                }
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
                    (LeafIn::Gen(g, k1, k2), g.shape.clone())
                }
            };
            let lst: Vec<isize> = c_strides(&src_shape).iter().map(|&s| s as isize).collect();
            let mut base = 0isize;
            let mut strides = vec![0isize; out_shape.len()];
            for (o, m) in leaf.view.axes.iter().enumerate() {
                if let Some(m) = m {
                    let seg = m.segs[out_idx[o]];
                    let st = *lst.get(m.src).ok_or_else(|| internal("leaf rank"))?;
                    base += seg.start as isize * st;
                    strides[o] = seg.step * st;
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
            root: ENode::build(&fused.expr),
            leaves,
            geo: Geo::new(out_shape, &streams),
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
        let rs: Vec<isize> = (0..nl).map(|s| self.geo.run_stride(s)).collect();
        let mut cur = vec![(0isize, 0isize); nl];
        let (root, leaves, geo) = (&mut self.root, &self.leaves, &self.geo);
        let ahead = |offs: &[isize], n: usize| prefetch(leaves, geo, offs, n);
        geo.each_tile(nl, ahead, |offs, n| {
            for i in 0..nl {
                cur[i] = (offs[i], rs[i]);
            }
            let pos = offs[nl] as usize;
            let out = T::out(&mut dst[pos..pos + n]);
            match root.expr.kind {
                ExprKind::Leaf(_) | ExprKind::Scalar(_) => {
                    let v = eval(root, leaves, &cur, n)?;
                    ops::copy(v, out)
                }
                _ => compute(root.expr, &mut root.kids, leaves, &cur, n, out),
            }
        })
    }

    /// Calls `sink(offsets, len, value)` for every tile, where `offsets` holds every
    /// stream's offset at the tile's first element (leaves, the output, then the extra
    /// streams: see [`Kernel::extra`]) and `value` is the tile.
    pub(crate) fn tiles(
        &mut self,
        mut sink: impl FnMut(&[isize], usize, Val<'_>) -> Result<(), TaskError>,
    ) -> Result<(), TaskError> {
        let nl = self.leaves.len();
        let rs: Vec<isize> = (0..nl).map(|s| self.geo.run_stride(s)).collect();
        let mut cur = vec![(0isize, 0isize); nl];
        let (root, leaves, geo) = (&mut self.root, &self.leaves, &self.geo);
        let ahead = |offs: &[isize], n: usize| prefetch(leaves, geo, offs, n);
        geo.each_tile(nl, ahead, |offs, n| {
            for i in 0..nl {
                cur[i] = (offs[i], rs[i]);
            }
            let v = eval(root, leaves, &cur, n)?;
            sink(offs, n, v)
        })
    }

    /// The stream index of extra stream `i` (after the leaves and the output).
    pub(crate) fn extra(&self, i: usize) -> usize {
        self.leaves.len() + 1 + i
    }
}
