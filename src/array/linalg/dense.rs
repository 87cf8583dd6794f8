//! Dense factorizations of single blocks with faer, and the conversions between array
//! blocks and faer matrices.
//!
//! A block is an owned, standard-layout (row-major) `ArrayD`, so a 2-D block is read as a
//! faer [`MatRef`] without a copy; results are copied once into pooled blocks. Each
//! function here runs on the calling thread (faer is built without rayon).

use crate::array::dtype::{BlockData, Element};
use crate::array::{ArrayContext, Pooled, block_of};
use crate::error::{ErrorKind, TaskError};
use crate::value::Value;
use faer::linalg::solvers::{DenseSolveCore, PartialPivLu, Solve};
use faer::traits::RealField;
use faer::{Mat, MatRef};
use ndarray::ArrayD;

/// A task's result or its error.
pub(super) type TaskResult<T> = std::result::Result<T, TaskError>;

/// The element types factorized here: `f32` and `f64`.
pub(super) trait Float: Element + Pooled + RealField {
    /// The machine epsilon.
    const EPS: f64;
    /// The value as `f64`.
    fn to_f64(self) -> f64;
    /// `x` rounded to this type.
    fn from_f64(x: f64) -> Self;
}

impl Float for f32 {
    const EPS: f64 = f32::EPSILON as f64;
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn from_f64(x: f64) -> Self {
        x as f32
    }
}

impl Float for f64 {
    const EPS: f64 = f64::EPSILON;
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(x: f64) -> Self {
        x
    }
}

/// Runs `$body` with `$T` the float type of the block `$data` (`f32` or `f64`); any other
/// type is a [`Type`](ErrorKind::Type) task error.
macro_rules! with_float {
    ($data:expr, $T:ident => $body:expr) => {
        match $data.dtype() {
            $crate::array::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::array::DType::F64 => {
                type $T = f64;
                $body
            }
            other => Err($crate::error::TaskError::with_kind(
                $crate::error::ErrorKind::Type,
                format!("linear algebra on {other} blocks"),
            )),
        }
    };
}
pub(super) use with_float;

/// Bad input to a factorization (a singular matrix, one that is not positive definite).
#[cold]
pub(super) fn invalid(msg: impl Into<String>) -> TaskError {
    TaskError::with_kind(ErrorKind::InvalidArgument, msg)
}

/// The typed array inside a block value.
pub(super) fn typed<T: Float>(v: &Value) -> TaskResult<&ArrayD<T>> {
    block_of(v)?.as_array::<T>().ok_or_else(|| {
        TaskError::with_kind(ErrorKind::Type, format!("expected a {} block", T::DTYPE))
    })
}

/// The dtype of the block inside `v`.
pub(super) fn block_data(v: &Value) -> TaskResult<&BlockData> {
    block_of(v)
}

/// `f(a as a matrix)`: a 2-D block as is, a 1-D block as one column.
pub(super) fn with_mat<T: Float, R>(a: &ArrayD<T>, f: impl FnOnce(MatRef<'_, T>) -> R) -> R {
    let (m, n) = match a.shape() {
        [m, n] => (*m, *n),
        [m] => (*m, 1),
        s => (s.iter().product(), 1),
    };
    let std = a.as_standard_layout();
    let s = std.as_slice().expect("standard layout is contiguous");
    f(MatRef::from_row_major_slice(s, m, n))
}

/// A pooled block of shape `shape` (whose product is the element count of `m`) holding `m`
/// row by row.
pub(super) fn block_from<T: Float>(ctx: &ArrayContext, m: MatRef<'_, T>, shape: &[usize]) -> Value {
    let mut out = ctx.pool().array::<T>(shape);
    let s = out
        .as_slice_mut()
        .expect("pooled arrays are standard layout");
    let n = m.ncols();
    for (i, row) in s.chunks_mut(n.max(1)).enumerate().take(m.nrows()) {
        for (j, x) in row.iter_mut().enumerate() {
            *x = m[(i, j)];
        }
    }
    ctx.block(T::wrap(out))
}

/// A pooled 2-D block holding `m`.
pub(super) fn matrix_block<T: Float>(ctx: &ArrayContext, m: MatRef<'_, T>) -> Value {
    block_from(ctx, m, &[m.nrows(), m.ncols()])
}

/// The thin QR of `a` (`m × n`): `Q` (`m × k`, orthonormal columns) and `R` (`k × n`, upper
/// triangular), `k = min(m, n)`.
pub(super) fn qr<T: Float>(a: MatRef<'_, T>) -> (Mat<T>, Mat<T>) {
    let (m, n) = a.shape();
    let k = m.min(n);
    if k == 0 {
        return (Mat::zeros(m, 0), Mat::zeros(0, n));
    }
    let f = a.qr();
    (f.compute_thin_Q(), f.thin_R().to_owned())
}

/// The thin SVD of `a` (`m × n`): `U` (`m × k`), the singular values (nonincreasing) and
/// `Vᵀ` (`k × n`), `k = min(m, n)`.
pub(super) fn svd<T: Float>(a: MatRef<'_, T>) -> TaskResult<(Mat<T>, Vec<T>, Mat<T>)> {
    let (m, n) = a.shape();
    let k = m.min(n);
    if k == 0 {
        return Ok((Mat::zeros(m, 0), Vec::new(), Mat::zeros(0, n)));
    }
    let f = a
        .thin_svd()
        .map_err(|e| invalid(format!("SVD did not converge: {e:?}")))?;
    let s = f.S().column_vector();
    let s = (0..k).map(|i| s[i]).collect();
    Ok((f.U().to_owned(), s, f.V().transpose().to_owned()))
}

/// The LU factorization (partial pivoting) of a square `a`; a zero pivot (a singular
/// matrix) is an [`InvalidArgument`](ErrorKind::InvalidArgument) task error.
pub(super) fn lu<T: Float>(a: MatRef<'_, T>) -> TaskResult<PartialPivLu<T>> {
    let f = a.partial_piv_lu();
    let u = f.U();
    if (0..u.nrows().min(u.ncols())).any(|i| u[(i, i)].to_f64() == 0.0) {
        return Err(invalid("singular matrix"));
    }
    Ok(f)
}

/// `A⁻¹ b` through the LU factors of `A`.
pub(super) fn lu_solve<T: Float>(f: &PartialPivLu<T>, b: MatRef<'_, T>) -> Mat<T> {
    let mut x = b.to_owned();
    f.solve_in_place(x.as_mut());
    x
}

/// `A⁻¹` from the LU factors of `A`.
pub(super) fn lu_inverse<T: Float>(f: &PartialPivLu<T>) -> Mat<T> {
    f.inverse()
}

/// The lower Cholesky factor `L` of a symmetric positive definite `a` (`a = L Lᵀ`; only
/// the lower triangle of `a` is read); otherwise an
/// [`InvalidArgument`](ErrorKind::InvalidArgument) task error.
pub(super) fn cholesky<T: Float>(a: MatRef<'_, T>) -> TaskResult<Mat<T>> {
    if a.nrows() == 0 {
        return Ok(Mat::zeros(0, 0));
    }
    let f = a
        .llt(faer::Side::Lower)
        .map_err(|e| invalid(format!("matrix is not positive definite: {e:?}")))?;
    Ok(f.L().to_owned())
}
