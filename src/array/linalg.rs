//! Linear algebra: `tensordot` over any number of axes, and `matmul` / `dot` on top of it.
//!
//! Contraction axes of the two operands are chunked alike first (the common refinement,
//! a view). Each output block is one task that multiplies the matching pairs of input
//! blocks, reached through two panel values (the blocks of one row of `a` and of one
//! column of `b`, so the graph grows with the blocks, not with the block pairs) with matrixmultiply's GEMM (`C ← A·B + β·C`), accumulating straight into the
//! output block: β = 0 for the first pair (the pooled buffer need not be initialised) and
//! 1 after.

use super::dtype::{BlockData, DType};
use super::grid::{BlockIndices, Chunks, norm_axis, refine};
use super::{Array, Layer, blocks_of, token};
use crate::error::{Error, ErrorKind, Result, TaskError};
use crate::graph::{Arg, Graph, Node, Op, Task};
use crate::key::Key;
use crate::value::Value;
use ndarray::{ArrayD, ArrayView2, ArrayViewMut2, Ix2, IxDyn, LinalgScalar};
use std::sync::Arc;

/// How a block is laid out as a matrix: axes order and `(rows, cols)`.
struct MatLayout {
    order: Vec<usize>,
    rows: usize,
}

/// `a` with `order` applied, as a 2-D matrix whose first `rows` permuted axes are rows.
fn as_matrix<'a, T: Clone>(a: &'a ArrayD<T>, l: &MatLayout) -> ndarray::CowArray<'a, T, Ix2> {
    let p = a.view().permuted_axes(IxDyn(&l.order));
    let m: usize = p.shape()[..l.rows].iter().product();
    let k: usize = p.shape()[l.rows..].iter().product();
    if p.ndim() == 2 && l.rows == 1 {
        return p.into_dimensionality::<Ix2>().expect("two axes").into();
    }
    let owned = p.as_standard_layout().into_owned();
    owned
        .into_shape_with_order((m, k))
        .expect("contiguous reshape")
        .into()
}

/// The length of the contracted side of `a` laid out by `l`: its columns.
fn contracted_len<T>(a: &ArrayD<T>, l: &MatLayout) -> usize {
    l.order[l.rows..].iter().map(|&k| a.shape()[k]).product()
}

/// The rows of `a` laid out by `l`.
fn rows_of<T>(a: &ArrayD<T>, l: &MatLayout) -> usize {
    l.order[..l.rows].iter().map(|&k| a.shape()[k]).product()
}

/// The elements of `a` as its row-major matrix, when no axis moves and it is contiguous.
fn in_order<'a, T>(a: &'a ArrayD<T>, l: &MatLayout) -> Option<&'a [T]> {
    let same = l.order.iter().enumerate().all(|(i, &k)| i == k);
    if same { a.as_slice() } else { None }
}

/// `c ← a·b + beta·c` for one block pair.
trait Gemm: LinalgScalar {
    fn gemm(
        a: &ArrayView2<'_, Self>,
        b: &ArrayView2<'_, Self>,
        c: &mut ArrayViewMut2<'_, Self>,
        beta: Self,
    );
}

macro_rules! mm_gemm {
    ($t:ty, $f:path) => {
        impl Gemm for $t {
            fn gemm(
                a: &ArrayView2<'_, $t>,
                b: &ArrayView2<'_, $t>,
                c: &mut ArrayViewMut2<'_, $t>,
                beta: $t,
            ) {
                let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
                let (sa, sb, sc) = (a.strides(), b.strides(), c.strides().to_vec());
                // SAFETY: the pointers come from live views of the right shapes (m×k, k×n,
                // m×n) and the strides are those views' own (in elements), so every access
                // matrixmultiply makes is inside them; `c` is borrowed mutably and does not
                // alias `a` or `b` (a fresh output block).
                unsafe {
                    $f(
                        m,
                        k,
                        n,
                        1 as $t,
                        a.as_ptr(),
                        sa[0],
                        sa[1],
                        b.as_ptr(),
                        sb[0],
                        sb[1],
                        beta,
                        c.as_mut_ptr(),
                        sc[0],
                        sc[1],
                    );
                }
            }
        }
    };
}
mm_gemm!(f64, matrixmultiply::dgemm);
mm_gemm!(f32, matrixmultiply::sgemm);

macro_rules! nd_gemm {
    ($($t:ty),*) => {$(
        impl Gemm for $t {
            fn gemm(a: &ArrayView2<'_, $t>, b: &ArrayView2<'_, $t>, c: &mut ArrayViewMut2<'_, $t>, beta: $t) {
                if beta == 0 {
                    c.fill(0);
                }
                ndarray::linalg::general_mat_mul(1, a, b, 1, c);
            }
        }
    )*};
}
nd_gemm!(i32, i64);

/// Most elements of the scratch matrices into which [`block_product`] gathers small block
/// pairs (the pairs' `a` columns and `b` rows together), so that blocks of a few elements
/// make one GEMM call per group rather than one per pair: 512 KiB of f64, about an L2 cache.
const GROUP_ELEMENTS: usize = 1 << 16;

/// The product of all pairs, accumulated into `out` (shape: free axes of `a`, then of `b`).
///
/// Pairs are gathered into an `m × kk` matrix of `a` columns (column-major) and a `kk × n`
/// matrix of `b` rows, up to [`GROUP_ELEMENTS`]; a pair larger than that is multiplied in
/// place. Either way `c ← Σ a_i·b_i`, with β = 0 for the first GEMM.
fn block_product<T: Gemm>(
    pairs: &[(&ArrayD<T>, &ArrayD<T>)],
    la: &MatLayout,
    lb: &MatLayout,
    out: &mut ArrayD<T>,
) -> Result<(), TaskError> {
    let shape = out.shape().to_vec();
    let rows: usize = shape[..la.rows].iter().product();
    let cols: usize = shape[la.rows..].iter().product();
    let slice = out
        .as_slice_mut()
        .ok_or_else(|| TaskError::new("internal: output layout"))?;
    let mut c = ArrayViewMut2::from_shape((rows, cols), slice)
        .map_err(|e| TaskError::new(e.to_string()))?;
    let mut acc = Accumulator {
        started: false,
        ga: Vec::new(),
        gb: Vec::new(),
        kk: 0,
    };
    for (a, b) in pairs {
        let (k, kb) = (contracted_len(a, la), rows_of(b, lb));
        if k != kb {
            return Err(TaskError::with_kind(
                ErrorKind::Shape,
                "internal: contraction lengths differ",
            ));
        }
        if k == 0 {
            continue;
        }
        let size = k.saturating_mul(rows + cols);
        if size >= GROUP_ELEMENTS {
            acc.flush(&mut c)?;
            let (am, bm) = (as_matrix(a, la), as_matrix(b, lb));
            acc.gemm(&am.view(), &bm.view(), &mut c);
            continue;
        }
        if acc.ga.len() + acc.gb.len() + size > GROUP_ELEMENTS {
            acc.flush(&mut c)?;
        }
        // Blocks already in matrix order are copied from their slices, the rest through
        // a permuted view.
        match (in_order(a, la), rows) {
            (Some(s), 1) => acc.ga.extend_from_slice(s),
            (Some(s), m) => acc
                .ga
                .extend((0..k).flat_map(|j| (0..m).map(move |i| s[i * k + j]))),
            (None, _) => acc.ga.extend(as_matrix(a, la).t().iter().cloned()),
        }
        match in_order(b, lb) {
            Some(s) => acc.gb.extend_from_slice(s),
            None => acc.gb.extend(as_matrix(b, lb).iter().cloned()),
        }
        acc.kk += k;
    }
    acc.flush(&mut c)?;
    if !acc.started {
        c.fill(T::zero());
    }
    Ok(())
}

/// The running sum of [`block_product`]: whether a GEMM has written `c` yet (β = 0 for the
/// first, 1 after) and the gathered group (`ga`: `m × kk` column-major, `gb`: `kk × n`
/// row-major).
struct Accumulator<T> {
    started: bool,
    ga: Vec<T>,
    gb: Vec<T>,
    kk: usize,
}

impl<T: Gemm> Accumulator<T> {
    fn gemm(&mut self, a: &ArrayView2<'_, T>, b: &ArrayView2<'_, T>, c: &mut ArrayViewMut2<'_, T>) {
        let beta = if self.started { T::one() } else { T::zero() };
        T::gemm(a, b, c, beta);
        self.started = true;
    }

    /// Multiplies the gathered group into `c` and empties it.
    fn flush(&mut self, c: &mut ArrayViewMut2<'_, T>) -> Result<(), TaskError> {
        use ndarray::ShapeBuilder;
        if self.kk == 0 {
            return Ok(());
        }
        let (m, n, kk) = (c.nrows(), c.ncols(), self.kk);
        let ga = std::mem::take(&mut self.ga);
        let gb = std::mem::take(&mut self.gb);
        let internal = |e: ndarray::ShapeError| TaskError::new(format!("internal: {e}"));
        let a = ArrayView2::from_shape((m, kk).f(), &ga).map_err(internal)?;
        let b = ArrayView2::from_shape((kk, n), &gb).map_err(internal)?;
        self.gemm(&a, &b, c);
        (self.ga, self.gb, self.kk) = (ga, gb, 0);
        self.ga.clear();
        self.gb.clear();
        Ok(())
    }
}

impl Array {
    /// Sums products over `axes_a` of `self` and `axes_b` of `other` (NumPy's `tensordot`).
    /// The result's axes are `self`'s free axes, then `other`'s. Types promote (`bool`
    /// multiplies as `i64`).
    ///
    /// Errors: axis lists of different lengths or repeated axes are
    /// [`Index`](ErrorKind::Index) errors; contracted axes of different lengths are
    /// [`Shape`](ErrorKind::Shape) errors.
    pub fn tensordot(&self, other: &Array, axes_a: &[isize], axes_b: &[isize]) -> Result<Array> {
        if axes_a.len() != axes_b.len() {
            return Err(Error::new(
                ErrorKind::Index,
                "tensordot needs as many axes on each side",
            ));
        }
        let ca: Vec<usize> = axes_a
            .iter()
            .map(|&a| norm_axis(a, self.ndim()))
            .collect::<Result<_>>()?;
        let cb: Vec<usize> = axes_b
            .iter()
            .map(|&a| norm_axis(a, other.ndim()))
            .collect::<Result<_>>()?;
        for (list, n) in [(&ca, self.ndim()), (&cb, other.ndim())] {
            let mut seen = vec![false; n];
            if list.iter().any(|&k| std::mem::replace(&mut seen[k], true)) {
                return Err(Error::new(ErrorKind::Index, "tensordot axis repeated"));
            }
        }
        for (&i, &j) in ca.iter().zip(&cb) {
            if self.shape()[i] != other.shape()[j] {
                return Err(Error::new(
                    ErrorKind::Shape,
                    format!(
                        "contracted axes of lengths {} and {}",
                        self.shape()[i],
                        other.shape()[j]
                    ),
                ));
            }
        }
        let mut dt = DType::promote(self.dtype(), other.dtype());
        if dt == DType::Bool {
            dt = DType::I64;
        }
        // Chunk the contracted axes alike.
        let (mut a_axes, mut b_axes) = (
            self.chunks().axes().to_vec(),
            other.chunks().axes().to_vec(),
        );
        for (&i, &j) in ca.iter().zip(&cb) {
            let r = refine(&a_axes[i], &b_axes[j]);
            a_axes[i] = r.clone();
            b_axes[j] = r;
        }
        let a = self.astype(dt)?.rechunk(a_axes)?.materialize();
        let b = other.astype(dt)?.rechunk(b_axes)?.materialize();
        contract(&a, &b, &ca, &cb, dt)
    }

    /// Matrix product (NumPy's `matmul`): 1-D and 2-D operands directly; with more axes,
    /// the leading ones are batch axes, broadcast against each other, and each batch entry
    /// is a 2-D product (a 1-D operand is a row or column vector, as in NumPy).
    pub fn matmul(&self, other: &Array) -> Result<Array> {
        match (self.ndim(), other.ndim()) {
            (0, _) | (_, 0) => Err(Error::new(
                ErrorKind::InvalidArgument,
                "matmul of a 0-d array",
            )),
            (1 | 2, 1 | 2) => self.tensordot(other, &[-1], &[0]),
            (1, _) => self.expand_dims(0)?.matmul(other)?.squeeze(Some(&[-2])),
            (_, 1) => self.matmul(&other.expand_dims(1)?)?.squeeze(Some(&[-1])),
            _ => self.batched_matmul(other),
        }
    }

    /// `matmul` with batch axes: one 2-D product per batch entry, stacked back.
    fn batched_matmul(&self, other: &Array) -> Result<Array> {
        let (na, nb) = (self.ndim(), other.ndim());
        let batch =
            super::grid::broadcast_shapes(&self.shape()[..na - 2], &other.shape()[..nb - 2])?;
        let mut a_shape = batch.clone();
        a_shape.extend_from_slice(&self.shape()[na - 2..]);
        let mut b_shape = batch.clone();
        b_shape.extend_from_slice(&other.shape()[nb - 2..]);
        let (a, b) = (self.broadcast_to(&a_shape)?, other.broadcast_to(&b_shape)?);
        stack_products(&a, &b, batch.len())
    }
    /// NumPy's `dot`: sums over the last axis of `self` and the second-to-last of `other`
    /// (its only axis when it is 1-D); scalars (0-d) multiply elementwise.
    pub fn dot(&self, other: &Array) -> Result<Array> {
        match (self.ndim(), other.ndim()) {
            (0, _) | (_, 0) => self.mul(other),
            (_, 1) => self.tensordot(other, &[-1], &[0]),
            _ => self.tensordot(other, &[-1], &[-2]),
        }
    }
}

/// Products of the 2-D trailing matrices of `a` and `b` over `depth` leading batch axes.
fn stack_products(a: &Array, b: &Array, depth: usize) -> Result<Array> {
    if depth == 0 {
        return a.tensordot(b, &[-1], &[0]);
    }
    let parts: Vec<Array> = (0..a.shape()[0])
        .map(|i| {
            let (ai, bi) = (
                a.index(&[super::Idx::Int(i as isize)])?,
                b.index(&[super::Idx::Int(i as isize)])?,
            );
            stack_products(&ai, &bi, depth - 1)
        })
        .collect::<Result<_>>()?;
    if parts.is_empty() {
        let mut shape = a.shape()[..a.ndim() - 1].to_vec();
        shape.push(b.shape()[b.ndim() - 1]);
        return a.context().zeros(&shape, 1, a.dtype());
    }
    Array::stack(&parts, 0)
}

/// The task op: the output block of the index given as first argument, from the lists of
/// `a` and `b` blocks given as second and third.
fn product_op(
    ctx: super::ArrayContext,
    nc: Chunks,
    layouts: Arc<(MatLayout, MatLayout)>,
    dt: DType,
) -> Op {
    Op::new("tensordot", move |args: &[Value]| {
        let idx = super::block_index(&args[0])?;
        let av = blocks_of(args[1].as_list().unwrap_or(&[]))?;
        let bv = blocks_of(args[2].as_list().unwrap_or(&[]))?;
        let mut out = ctx.alloc(dt, &nc.block_shape(&idx));
        let (la, lb) = (&layouts.0, &layouts.1);
        macro_rules! run {
            ($($v:ident),*) => {
                match &mut out {
                    $(BlockData::$v(o) => {
                        let pairs: Vec<_> = av.iter().zip(&bv).filter_map(|(x, y)| match (x, y) {
                            (BlockData::$v(x), BlockData::$v(y)) => Some((x, y)),
                            _ => None,
                        }).collect();
                        if pairs.len() != av.len() {
                            return Err(TaskError::with_kind(ErrorKind::Type, "tensordot block types differ"));
                        }
                        block_product(&pairs, la, lb, o)?;
                    })*
                    _ => return Err(TaskError::with_kind(ErrorKind::Type, "tensordot of bool blocks")),
                }
            };
        }
        run!(I32, I64, F32, F64);
        Ok(ctx.block(out))
    })
}

/// The contraction graph. Each operand's blocks are gathered into panels, one per index of
/// its free axes: a panel task lists the blocks along the contracted axes (shared values,
/// nothing copied). Each output block is then one task of two references, its row panel of
/// `a` and its column panel of `b`, summing the block products into the output block.
///
/// Tasks: output blocks plus panels; references: the blocks of `a` and `b` once each plus
/// two per output block. Spelling out every block pair instead would take output blocks ×
/// contracted blocks references: 2^24 of them for two 256 × 256 grids.
fn contract(a: &Array, b: &Array, ca: &[usize], cb: &[usize], dt: DType) -> Result<Array> {
    let fa: Vec<usize> = (0..a.ndim()).filter(|k| !ca.contains(k)).collect();
    let fb: Vec<usize> = (0..b.ndim()).filter(|k| !cb.contains(k)).collect();
    let la = MatLayout {
        order: fa.iter().chain(ca).copied().collect(),
        rows: fa.len(),
    };
    let lb = MatLayout {
        order: cb.iter().chain(&fb).copied().collect(),
        rows: cb.len(),
    };
    let out_axes: Vec<Vec<usize>> = fa
        .iter()
        .map(|&k| a.chunks().axis(k).to_vec())
        .chain(fb.iter().map(|&k| b.chunks().axis(k).to_vec()))
        .collect();
    let chunks = Chunks::from_axes(out_axes)?;
    let name = token("tensordot", (a.name(), b.name(), ca, cb));
    let op = product_op(a.context().clone(), chunks.clone(), Arc::new((la, lb)), dt);
    let mut graph = Graph::with_capacity(chunks.nblocks());
    let panel_a: Arc<str> = format!("{name}-a").into();
    let panel_b: Arc<str> = format!("{name}-b").into();
    add_panels(&mut graph, &panel_a, a, &fa, ca);
    add_panels(&mut graph, &panel_b, b, &fb, cb);
    for idx in chunks.indices() {
        let (ia, ib) = idx.split_at(fa.len());
        let args = [
            Arg::lit(super::index_value(&idx)),
            Arg::key(Key::block(&panel_a, ia)),
            Arg::key(Key::block(&panel_b, ib)),
        ];
        graph.insert(Key::block(&name, &idx), Node::Task(Task::new(&op, args)));
    }
    let layer = Layer {
        name,
        graph,
        deps: vec![a.layer(), b.layer()],
    };
    Ok(Array::from_layer(a.context(), layer, chunks, dt))
}

/// Adds to `graph` one panel task `(name, free index...)` per index of the `free` axes of
/// `x`: the list of its blocks along the `contracted` axes, in row-major order of those axes.
fn add_panels(graph: &mut Graph, name: &Arc<str>, x: &Array, free: &[usize], contracted: &[usize]) {
    let panel = Op::new("tensordot-panel", |args: &[Value]| {
        Ok(Value::List(args.into()))
    });
    let counts =
        |axes: &[usize]| -> Vec<usize> { axes.iter().map(|&k| x.chunks().axis(k).len()).collect() };
    let mut at = vec![0; x.ndim()];
    for f in BlockIndices::new(counts(free)) {
        for (&k, &i) in free.iter().zip(&f) {
            at[k] = i;
        }
        let blocks: Vec<Arg> = BlockIndices::new(counts(contracted))
            .map(|c| {
                for (&k, &i) in contracted.iter().zip(&c) {
                    at[k] = i;
                }
                Arg::key(x.block_key(&at))
            })
            .collect();
        graph.insert(Key::block(name, &f), Node::Task(Task::new(&panel, blocks)));
    }
}
