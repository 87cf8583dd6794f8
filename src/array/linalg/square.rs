//! Square matrices: `solve`, `inv`, `cholesky`.
//!
//! The matrix is gathered into one block (a `rechunk` task) and factorized by one task, so
//! one worker holds the gathered `n × n` block, faer's copy that it factorizes in place and
//! the result: about three `n × n` matrices of the element type at the peak (24 n² bytes for
//! `f64`). The results are chunked as the inputs again (views of the one result block).

use super::dense::{self, Float, TaskResult, matrix_block, typed, with_float, with_mat};
use super::{LayerBuilder, check_2d};
use crate::array::{Array, ArrayContext, Chunks, token};
use crate::error::{Error, ErrorKind, Result, TaskError};
use crate::graph::{Arg, Op};
use crate::value::Value;
use faer::linalg::solvers::PartialPivLu;

/// The solution `x` of `a x = b` for a square `a` (`n × n`) and `b` of `n` rows (1-D, or
/// 2-D with several right-hand sides), by LU with partial pivoting, as
/// `dask.array.linalg.solve`. `x` is chunked as `b`.
///
/// `a` is factorized once, in one task (see the module docs for the memory this takes);
/// each column chunk of `b` is then solved by a task of its own.
///
/// Errors: `a` not square or not 2-D, `b` not 1-D or 2-D or of another number of rows:
/// [`Shape`](ErrorKind::Shape) errors. A singular `a` fails the run with an
/// [`InvalidArgument`](ErrorKind::InvalidArgument) task error.
///
/// ```
/// use blockwork::array::{ArrayContext, linalg};
/// use blockwork::ndarray::{Ix1, array};
/// let ctx = ArrayContext::new();
/// let a = ctx.from_ndarray(&array![[2.0, 1.0], [1.0, 3.0]].into_dyn(), 1)?;
/// let b = ctx.from_ndarray(&array![3.0, 5.0].into_dyn(), 1)?;
/// let x = linalg::solve(&a, &b)?.compute_as::<f64, Ix1>(&blockwork::Sequential::new())?;
/// assert!((x[0] - 0.8).abs() < 1e-12 && (x[1] - 1.4).abs() < 1e-12);
/// # Ok::<(), blockwork::Error>(())
/// ```
pub fn solve(a: &Array, b: &Array) -> Result<Array> {
    let n = square_size(a, "solve")?;
    let dt = super::rhs_type(a, b, "solve")?;
    let a1 = gathered(&a.astype(dt)?)?;
    let mut rows_whole = b.chunks().axes().to_vec();
    rows_whole[0] = vec![n];
    let b1 = b.astype(dt)?.rechunk(rows_whole.clone())?.materialize();
    let ctx = a.context().clone();
    let name = token("solve", (a1.name(), b1.name()));
    let lu_key = crate::key::Key::block(&name, &[]);
    let factor = Op::new("lu", move |args: &[Value]| {
        with_float!(dense::block_data(&args[0])?, T => {
            let f = with_mat(typed::<T>(&args[0])?, dense::lu)?;
            let bytes = 2 * f.U().nrows() * f.U().ncols() * std::mem::size_of::<T>();
            Ok(Value::opaque(Lu::<T>(f), bytes))
        })
    });
    let solve = Op::new("lu-solve", move |args: &[Value]| {
        with_float!(dense::block_data(&args[1])?, T => {
            let f = args[0].downcast_ref::<Lu<T>>().ok_or_else(|| {
                TaskError::with_kind(ErrorKind::Type, "expected an LU factorization")
            })?;
            let rhs = typed::<T>(&args[1])?;
            let x = with_mat(rhs, |b| dense::lu_solve(&f.0, b));
            Ok(dense::block_from(&ctx, x.as_ref(), rhs.shape()))
        })
    });
    let mut lb = LayerBuilder::new(name.clone(), vec![a1.layer(), b1.layer()]);
    lb.task(&name, &[], &factor, [Arg::key(a1.block_key(&[0, 0]))]);
    for idx in b1.chunks().indices() {
        let x_key = [Arg::key(lu_key.clone()), Arg::key(b1.block_key(&idx))];
        lb.task(&name, &idx, &solve, x_key);
    }
    // The layer's keys: `(name,)` the factorization, `(name, i, ...)` the blocks of x.
    let x = lb.into_array(a, Chunks::from_axes(rows_whole)?, dt);
    x.rechunk(b.chunks())
}

/// The inverse of a square matrix by LU with partial pivoting, as
/// `dask.array.linalg.inv`, chunked as `a`.
///
/// One task factorizes and inverts the gathered matrix (see the module docs for the memory
/// this takes).
///
/// Errors: `a` not square or not 2-D is a [`Shape`](ErrorKind::Shape) error. A singular `a`
/// fails the run with an [`InvalidArgument`](ErrorKind::InvalidArgument) task error.
///
/// ```
/// use blockwork::array::{ArrayContext, linalg};
/// use blockwork::ndarray::{Ix2, array};
/// let ctx = ArrayContext::new();
/// let a = ctx.from_ndarray(&array![[4.0, 7.0], [2.0, 6.0]].into_dyn(), 1)?;
/// let inv = linalg::inv(&a)?.compute_as::<f64, Ix2>(&blockwork::Sequential::new())?;
/// let want = array![[0.6, -0.7], [-0.2, 0.4]];
/// assert!((inv - want).iter().all(|e| e.abs() < 1e-12));
/// # Ok::<(), blockwork::Error>(())
/// ```
pub fn inv(a: &Array) -> Result<Array> {
    square_size(a, "inv")?;
    whole_matrix_op(a, "inv", |ctx, v| {
        with_float!(dense::block_data(v)?, T => {
            let f = with_mat(typed::<T>(v)?, dense::lu)?;
            Ok(matrix_block(ctx, dense::lu_inverse(&f).as_ref()))
        })
    })
}

/// The lower Cholesky factor `L` of a symmetric positive definite matrix (`a = L Lᵀ`, as
/// NumPy's `cholesky`; the upper factor of `dask.array.linalg.cholesky` is `L.t()`),
/// chunked as `a`. Only the lower triangle of `a` is read.
///
/// One task factorizes the gathered matrix (see the module docs for the memory this takes).
///
/// Errors: `a` not square or not 2-D is a [`Shape`](ErrorKind::Shape) error. A matrix that
/// is not positive definite fails the run with an
/// [`InvalidArgument`](ErrorKind::InvalidArgument) task error.
///
/// ```
/// use blockwork::array::{ArrayContext, linalg};
/// use blockwork::ndarray::{Ix2, array};
/// let ctx = ArrayContext::new();
/// let a = ctx.from_ndarray(&array![[4.0, 2.0], [2.0, 5.0]].into_dyn(), 1)?;
/// let l = linalg::cholesky(&a)?.compute_as::<f64, Ix2>(&blockwork::Sequential::new())?;
/// assert!((l - array![[2.0, 0.0], [1.0, 2.0]]).iter().all(|e| e.abs() < 1e-12));
/// # Ok::<(), blockwork::Error>(())
/// ```
pub fn cholesky(a: &Array) -> Result<Array> {
    square_size(a, "cholesky")?;
    whole_matrix_op(a, "cholesky", |ctx, v| {
        with_float!(dense::block_data(v)?, T => {
            let l = with_mat(typed::<T>(v)?, dense::cholesky)?;
            Ok(matrix_block(ctx, l.as_ref()))
        })
    })
}

/// An LU factorization travelling between tasks.
struct Lu<T: Float>(PartialPivLu<T>);

/// The side of a square matrix, or a [`Shape`](ErrorKind::Shape) error.
fn square_size(a: &Array, what: &str) -> Result<usize> {
    check_2d(a, what)?;
    if a.shape()[0] != a.shape()[1] {
        return Err(Error::new(
            ErrorKind::Shape,
            format!("{what} needs a square matrix, got shape {:?}", a.shape()),
        ));
    }
    Ok(a.shape()[0])
}

/// `a` in its floating type, gathered into one block.
fn gathered(a: &Array) -> Result<Array> {
    let a = super::as_float(a)?;
    Ok(a.rechunk(a.shape())?.materialize())
}

/// `f(ctx, whole matrix)` in one task on the gathered `a`, the result chunked as `a`.
fn whole_matrix_op(
    a: &Array,
    what: &'static str,
    f: impl Fn(&ArrayContext, &Value) -> TaskResult<Value> + Send + Sync + 'static,
) -> Result<Array> {
    let a1 = gathered(a)?;
    let ctx = a.context().clone();
    let name = token(what, a1.name());
    let op = Op::new(what, move |args: &[Value]| {
        if dense::block_data(&args[0])?.is_empty() {
            return Ok(args[0].clone());
        }
        f(&ctx, &args[0])
    });
    let mut lb = LayerBuilder::new(name.clone(), vec![a1.layer()]);
    lb.task(&name, &[0, 0], &op, [Arg::key(a1.block_key(&[0, 0]))]);
    let out = lb.into_array(&a1, a1.chunks().clone(), a1.dtype());
    out.rechunk(a.chunks())
}
