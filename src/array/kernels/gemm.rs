//! The block product of `tensordot`: GEMM (`C ← A·B + β·C`, faer's for floats,
//! ndarray's for integers) over the pairs of input blocks of one output block, accumulating
//! straight into the output block: β = 0 for the first pair (the pooled buffer need not be
//! initialised) and 1 after. Small pairs are gathered into one GEMM call per group.

use crate::error::{ErrorKind, TaskError};
use ndarray::{ArrayD, ArrayView2, ArrayViewMut2, Ix2, IxDyn, LinalgScalar};

/// How a block is laid out as a matrix: axes order and `(rows, cols)`.
pub(crate) struct MatLayout {
    pub(crate) order: Vec<usize>,
    pub(crate) rows: usize,
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

/// `c ← a·b + beta·c` for one block pair (`beta` is 0 or 1).
pub(crate) trait Gemm: LinalgScalar {
    fn gemm(
        a: &ArrayView2<'_, Self>,
        b: &ArrayView2<'_, Self>,
        c: &mut ArrayViewMut2<'_, Self>,
        beta: Self,
    ) -> Result<(), TaskError>;
}

/// `v` as a faer matrix: borrowed when it is row-major or column-major contiguous (every
/// layout [`block_product`] makes), else through a row-major copy held in `keep`.
fn faer_ref<'a, T: Clone>(
    v: &ArrayView2<'a, T>,
    keep: &'a mut Option<ndarray::Array2<T>>,
) -> faer::MatRef<'a, T> {
    let (m, n) = v.dim();
    if let Some(s) = v.to_slice() {
        return faer::MatRef::from_row_major_slice(s, m, n);
    }
    if let Some(s) = (*v).reversed_axes().to_slice() {
        return faer::MatRef::from_column_major_slice(s, m, n);
    }
    let owned = keep.insert(v.as_standard_layout().into_owned());
    let s = owned.as_slice().expect("standard layout");
    faer::MatRef::from_row_major_slice(s, m, n)
}

/// faer's GEMM, sequential: each output block is one task, so the blocks are the
/// parallelism. Its packed kernels (AVX-512 where the CPU has it, chosen at run time) reach
/// about 1.4x matrixmultiply's rate per thread on 1024-sided blocks.
macro_rules! faer_gemm {
    ($($t:ty),*) => {$(
        impl Gemm for $t {
            fn gemm(
                a: &ArrayView2<'_, $t>,
                b: &ArrayView2<'_, $t>,
                c: &mut ArrayViewMut2<'_, $t>,
                beta: $t,
            ) -> Result<(), TaskError> {
                let (mut ka, mut kb) = (None, None);
                let (fa, fb) = (faer_ref(a, &mut ka), faer_ref(b, &mut kb));
                let accum = if beta == 0.0 {
                    faer::Accum::Replace
                } else {
                    faer::Accum::Add
                };
                let (m, n) = c.dim();
                let s = c
                    .as_slice_mut()
                    .ok_or_else(|| TaskError::new("internal: output layout"))?;
                let dst = faer::MatMut::from_row_major_slice_mut(s, m, n);
                faer::linalg::matmul::matmul(dst, accum, fa, fb, 1.0, faer::Par::Seq);
                Ok(())
            }
        }
    )*};
}
faer_gemm!(f64, f32);

macro_rules! nd_gemm {
    ($($t:ty),*) => {$(
        impl Gemm for $t {
            fn gemm(a: &ArrayView2<'_, $t>, b: &ArrayView2<'_, $t>, c: &mut ArrayViewMut2<'_, $t>, beta: $t) -> Result<(), TaskError> {
                if beta == 0 {
                    c.fill(0);
                }
                ndarray::linalg::general_mat_mul(1, a, b, 1, c);
                Ok(())
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
/// Pairs are gathered into an `m × group_len` matrix of `a` columns (column-major) and a
/// `group_len × n` matrix of `b` rows, up to [`GROUP_ELEMENTS`]; a pair larger than that is
/// multiplied in place. Either way `c ← Σ a_i·b_i`, with β = 0 for the first GEMM.
pub(crate) fn block_product<T: Gemm>(
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
        group_a: Vec::new(),
        group_b: Vec::new(),
        group_len: 0,
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
            acc.gemm(&am.view(), &bm.view(), &mut c)?;
            continue;
        }
        if acc.group_a.len() + acc.group_b.len() + size > GROUP_ELEMENTS {
            acc.flush(&mut c)?;
        }
        // Blocks already in matrix order are copied from their slices, the rest through
        // a permuted view.
        match (in_order(a, la), rows) {
            (Some(s), 1) => acc.group_a.extend_from_slice(s),
            (Some(s), m) => acc
                .group_a
                .extend((0..k).flat_map(|j| (0..m).map(move |i| s[i * k + j]))),
            (None, _) => acc.group_a.extend(as_matrix(a, la).t().iter().cloned()),
        }
        match in_order(b, lb) {
            Some(s) => acc.group_b.extend_from_slice(s),
            None => acc.group_b.extend(as_matrix(b, lb).iter().cloned()),
        }
        acc.group_len += k;
    }
    acc.flush(&mut c)?;
    if !acc.started {
        c.fill(T::zero());
    }
    Ok(())
}

/// The running sum of [`block_product`]: whether a GEMM has written `c` yet (β = 0 for the
/// first, 1 after) and the gathered group (`group_a`: `m × group_len` column-major,
/// `group_b`: `group_len × n` row-major; `group_len` is the contracted length gathered).
struct Accumulator<T> {
    started: bool,
    group_a: Vec<T>,
    group_b: Vec<T>,
    group_len: usize,
}

impl<T: Gemm> Accumulator<T> {
    fn gemm(
        &mut self,
        a: &ArrayView2<'_, T>,
        b: &ArrayView2<'_, T>,
        c: &mut ArrayViewMut2<'_, T>,
    ) -> Result<(), TaskError> {
        let beta = if self.started { T::one() } else { T::zero() };
        T::gemm(a, b, c, beta)?;
        self.started = true;
        Ok(())
    }

    /// Multiplies the gathered group into `c` and empties it.
    fn flush(&mut self, c: &mut ArrayViewMut2<'_, T>) -> Result<(), TaskError> {
        use ndarray::ShapeBuilder;
        if self.group_len == 0 {
            return Ok(());
        }
        let (m, n, group_len) = (c.nrows(), c.ncols(), self.group_len);
        let group_a = std::mem::take(&mut self.group_a);
        let group_b = std::mem::take(&mut self.group_b);
        let internal = |e: ndarray::ShapeError| TaskError::new(format!("internal: {e}"));
        let a = ArrayView2::from_shape((m, group_len).f(), &group_a).map_err(internal)?;
        let b = ArrayView2::from_shape((group_len, n), &group_b).map_err(internal)?;
        self.gemm(&a, &b, c)?;
        (self.group_a, self.group_b, self.group_len) = (group_a, group_b, 0);
        self.group_a.clear();
        self.group_b.clear();
        Ok(())
    }
}
