//! Blocked linear algebra on [`Array`]s, in the design of `dask.array.linalg`.
//!
//! Everything here builds graphs of block tasks, as the rest of the array module does:
//! nothing runs until a result is computed, and each task factorizes or multiplies one block
//! (or one small stacked matrix) with [faer](https://docs.rs/faer), on one thread; the
//! executor runs the tasks of different blocks in parallel. `f32` arrays are factorized in
//! `f32`; every other element type is converted to `f64` first.
//!
//! - [`tsqr`] / [`qr`]: QR of a tall-and-skinny matrix chunked along its rows only, by the
//!   blocked TSQR of Benson, Gleich and Demmel (as `dask.array.linalg.tsqr`): one QR per
//!   row block, the R factors stacked and factorized again up a tree of fan-in
//!   [`TSQR_FAN_IN`], and each block's Q multiplied by its slice of the Q factors above it.
//!   [`qr`] also takes a short-and-fat matrix chunked along its columns only (dask's
//!   `sfqr`). A matrix chunked along both axes is a [`Shape`](ErrorKind::Shape) error, as in
//!   dask: rechunk it first (one column chunk, for a tall matrix).
//! - [`svd`]: the thin SVD of a tall-and-skinny (or short-and-fat) matrix through TSQR and
//!   the SVD of the small R factor; [`svd_compressed`]: the randomized truncated SVD of
//!   Halko, Martinsson and Tropp for any chunking (dask's `svd_compressed`).
//! - [`lstsq`]: least squares through TSQR and the SVD of R (rank-deficient systems get
//!   the minimum-norm solution, as NumPy's `lstsq`).
//! - [`solve`], [`inv`], [`cholesky`]: square matrices. These gather the matrix into one
//!   block (a `rechunk` task) and factorize it in one task (LU with partial pivoting, or
//!   Cholesky), so one worker holds about three `n × n` matrices of the element type at the
//!   peak: the gathered block, faer's factorization and the result. The right-hand sides of
//!   [`solve`] are solved one column chunk per task against the shared factorization.
//! - [`einsum`]: Einstein summation over any number of operands (contractions, traces,
//!   transposes, batch products, outer products, implicit output), contracting pairs of
//!   operands through [`Array::tensordot`] (or batched [`Array::matmul`]).
//!
//! Argument errors (wrong number of axes, shapes that do not fit, chunkings the algorithm
//! cannot use, bad subscripts) are returned when the graph is built. Failures that depend on
//! the values (a singular matrix in [`solve`] or [`inv`], one that is not positive definite
//! in [`cholesky`]) are task errors when it runs: [`ErrorKind::TaskFailed`], with
//! [`Error::task_cause`](crate::Error::task_cause) [`InvalidArgument`](ErrorKind::InvalidArgument).
//!
//! ```
//! use blockwork::array::{ArrayContext, linalg};
//! use blockwork::ndarray::{Array2, Ix2};
//! let ctx = ArrayContext::new();
//! let a = ctx.random(&[40, 3], vec![15, 3], 7)?; // three row blocks, one column chunk
//! let (q, r) = linalg::tsqr(&a)?;
//! let exec = blockwork::Pool::new(2)?;
//! let (q, r, a) = (
//!     q.compute_as::<f64, Ix2>(&exec)?,
//!     r.compute_as::<f64, Ix2>(&exec)?,
//!     a.compute_as::<f64, Ix2>(&exec)?,
//! );
//! assert!((q.t().dot(&q) - Array2::<f64>::eye(3)).iter().all(|e| e.abs() < 1e-12));
//! assert!((q.dot(&r) - &a).iter().all(|e| e.abs() < 1e-12));
//! # Ok::<(), blockwork::Error>(())
//! ```

mod dense;
mod einsum;
mod square;
mod tensordot;
mod tsqr;

pub use einsum::einsum;
pub use square::{cholesky, inv, solve};
pub use tsqr::{Lstsq, TSQR_FAN_IN, lstsq, qr, svd, svd_compressed, tsqr};

use super::{Array, Chunks, DType, Layer};
use crate::error::{Error, ErrorKind, Result};
use crate::graph::{Arg, Graph, Node, Op, Task};
use crate::key::Key;
use crate::value::Value;
use std::sync::Arc;

/// The tasks of one layer as they are added: nodes whose keys start with the layer's name
/// (or names derived from it), and the layers they read.
struct LayerBuilder {
    name: Arc<str>,
    graph: Graph,
    deps: Vec<Arc<Layer>>,
}

impl LayerBuilder {
    /// An empty layer called `name` reading `deps`.
    fn new(name: Arc<str>, deps: Vec<Arc<Layer>>) -> LayerBuilder {
        LayerBuilder {
            name,
            graph: Graph::new(),
            deps,
        }
    }

    /// Adds the task `op(args)` under `(prefix, idx...)`.
    fn task(
        &mut self,
        prefix: &Arc<str>,
        idx: &[usize],
        op: &Op,
        args: impl IntoIterator<Item = Arg>,
    ) {
        self.graph
            .insert(Key::block(prefix, idx), Node::Task(Task::new(op, args)));
    }

    /// The finished layer, to be read by other layers.
    fn finish(self) -> Arc<Layer> {
        Arc::new(self.into_layer())
    }

    fn into_layer(self) -> Layer {
        Layer {
            name: self.name,
            graph: self.graph,
            deps: self.deps,
        }
    }

    /// The finished layer as an array of `chunks` and `dtype` (its blocks are the tasks
    /// `(name, i, j, ...)`), on `like`'s context.
    fn into_array(self, like: &Array, chunks: Chunks, dtype: DType) -> Array {
        Array::from_layer(like.context(), self.into_layer(), chunks, dtype)
    }
}

/// Element `i` of a list value (a task returning several blocks), as a value of its own.
fn pick(name: &'static str, i: usize) -> Op {
    Op::new(name, move |args: &[Value]| {
        args[0]
            .as_list()
            .and_then(|l| l.get(i))
            .cloned()
            .ok_or_else(|| {
                crate::TaskError::with_kind(ErrorKind::Type, "expected a list of factors")
            })
    })
}

/// The floating type `a` is factorized in (`f32` stays, everything else is `f64`), and `a`
/// converted to it.
fn as_float(a: &Array) -> Result<Array> {
    a.astype(a.dtype().float())
}

/// Checks that `a` is a matrix.
fn check_2d(a: &Array, what: &str) -> Result<()> {
    if a.ndim() != 2 {
        return Err(Error::new(
            ErrorKind::Shape,
            format!("{what} needs a 2-D array, got shape {:?}", a.shape()),
        ));
    }
    Ok(())
}

/// Checks that `b` is a right-hand side for the matrix `a` (1-D or 2-D, as many rows), and
/// returns the floating type both are computed in.
fn rhs_type(a: &Array, b: &Array, what: &str) -> Result<DType> {
    if !(1..=2).contains(&b.ndim()) || b.shape()[0] != a.shape()[0] {
        return Err(Error::new(
            ErrorKind::Shape,
            format!(
                "{what} with a matrix of shape {:?} needs b of {} rows (1-D or 2-D), got shape {:?}",
                a.shape(),
                a.shape()[0],
                b.shape()
            ),
        ));
    }
    Ok(DType::promote(a.dtype().float(), b.dtype().float()))
}
