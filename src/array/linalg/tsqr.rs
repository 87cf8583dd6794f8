//! TSQR (Benson, Gleich and Demmel, "Direct QR factorizations for tall-and-skinny matrices
//! in MapReduce architectures", 2013) and what is built on it: the QR and SVD of
//! tall-and-skinny matrices, least squares, and the randomized SVD.
//!
//! The graph of [`tsqr`] for an `m × n` matrix of row blocks `A_i`:
//!
//! 1. up, leaves: one task per block, `A_i = Q_i R_i` (thin QR, `R_i` has `k_i = min(m_i, n)`
//!    rows);
//! 2. up, tree: groups of at most [`TSQR_FAN_IN`] consecutive R factors are stacked and
//!    factorized again, `[R_a; R_b; ...] = Q_p R_p`, level by level until one R is left:
//!    that is the R of `A`;
//! 3. down: each node below the root gets `M_c = Q_p[rows of c] · M_p` (`M` of the root's
//!    children is their slice of the root's Q);
//! 4. each row block of Q is `Q_i · M_i`.
//!
//! Tasks and edges grow linearly with the number of row blocks; each tree task holds at
//! most `TSQR_FAN_IN · n` rows of `n` columns.

use super::dense::{self, Float, TaskResult, matrix_block, typed, with_float, with_mat};
use super::{LayerBuilder, as_float, check_2d, pick};
use crate::array::{Array, Chunks, DType, Idx, token};
use crate::error::{Error, ErrorKind, Result, TaskError};
use crate::graph::{Arg, Op};
use crate::key::Key;
use crate::value::Value;
use faer::{Mat, MatRef};
use std::sync::Arc;

/// Fan-in of the TSQR reduction tree: the R factors of at most this many row blocks (or
/// tree nodes) are stacked and factorized by one task. One level suffices for up to this
/// many row blocks; more blocks give a deeper tree instead of one task stacking them all.
pub const TSQR_FAN_IN: usize = 16;

/// The QR factorization `a = Q R` of a tall-and-skinny matrix by blocked TSQR, as
/// `dask.array.linalg.tsqr`: `Q` (`m × k`, orthonormal columns, chunked along the rows as
/// `a`) and `R` (`k × n`, upper triangular, one block), `k = min(m, n)`.
///
/// Errors: `a` not 2-D, or chunked along its columns (more than one column chunk), is a
/// [`Shape`](ErrorKind::Shape) error; rechunk the columns into one chunk first.
///
/// ```
/// use blockwork::array::{ArrayContext, linalg};
/// let ctx = ArrayContext::new();
/// let a = ctx.random(&[100, 4], vec![30, 4], 1)?;
/// let (q, r) = linalg::tsqr(&a)?;
/// assert_eq!((q.shape(), r.shape()), (&[100, 4][..], &[4, 4][..]));
/// assert_eq!(q.chunks().axis(0), a.chunks().axis(0));
/// assert!(linalg::tsqr(&a.rechunk(2)?).is_err()); // two column chunks
/// # Ok::<(), blockwork::Error>(())
/// ```
pub fn tsqr(a: &Array) -> Result<(Array, Array)> {
    build_tsqr(&tall_input(a, "tsqr")?)
}

/// The QR factorization `a = Q R` (NumPy's reduced mode: `Q` is `m × k`, `R` is `k × n`,
/// `k = min(m, n)`), as `dask.array.linalg.qr`: by [`tsqr`] for a matrix with one column
/// chunk; for a short-and-fat matrix with one row chunk whose first column chunk has at
/// least `m` columns, by factoring that chunk (`A_0 = Q R_0`) and computing each other
/// column block of R as `Qᵀ A_j`.
///
/// Errors: `a` not 2-D, chunked along both axes, or short-and-fat with a first column chunk
/// narrower than its rows, is a [`Shape`](ErrorKind::Shape) error.
///
/// ```
/// use blockwork::array::{ArrayContext, linalg};
/// let ctx = ArrayContext::new();
/// let a = ctx.random(&[3, 20], vec![3, 5], 2)?; // short and fat
/// let (q, r) = linalg::qr(&a)?;
/// assert_eq!((q.shape(), r.shape()), (&[3, 3][..], &[3, 20][..]));
/// assert_eq!(r.chunks().axis(1), a.chunks().axis(1));
/// # Ok::<(), blockwork::Error>(())
/// ```
pub fn qr(a: &Array) -> Result<(Array, Array)> {
    check_2d(a, "qr")?;
    let (rows, cols) = (a.chunks().axis(0).len(), a.chunks().axis(1).len());
    if cols == 1 || rows != 1 {
        return tsqr(a);
    }
    let m = a.shape()[0];
    if a.chunks().axis(1)[0] < m {
        return Err(Error::new(
            ErrorKind::Shape,
            format!(
                "qr of a short-and-fat array needs a first column chunk of at least {m} \
                 columns (its rows), got {}",
                a.chunks().axis(1)[0]
            ),
        ));
    }
    sfqr(&as_float(a)?.materialize())
}

/// The thin SVD `a = U diag(s) Vh` of a tall-and-skinny matrix (one column chunk) through
/// [`tsqr`] and the SVD of its small `R`, or of a short-and-fat one (one row chunk) through
/// that of its transpose, as `dask.array.linalg.svd`. Returns `(u, s, vh)`: `u` is `m × k`
/// chunked along the rows as `a` (tall case), `s` the `k` singular values in nonincreasing
/// order, `vh` is `k × n`; `k = min(m, n)`.
///
/// Errors: `a` not 2-D, or chunked along both axes, is a [`Shape`](ErrorKind::Shape) error;
/// rechunk it first, or use [`svd_compressed`].
///
/// ```
/// use blockwork::array::{ArrayContext, linalg};
/// use blockwork::ndarray::Ix1;
/// let ctx = ArrayContext::new();
/// // Columns 3, 4 and 0 times a unit vector: singular values 4, 3, 0.
/// let a = ctx.from_ndarray(
///     &blockwork::ndarray::array![[0.0, 4.0, 0.0], [3.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0f64]].into_dyn(),
///     vec![2, 3],
/// )?;
/// let (_u, s, _vh) = linalg::svd(&a)?;
/// let s = s.compute_as::<f64, Ix1>(&blockwork::Sequential::new())?;
/// assert!((s[0] - 4.0).abs() < 1e-12 && (s[1] - 3.0).abs() < 1e-12 && s[2].abs() < 1e-12);
/// # Ok::<(), blockwork::Error>(())
/// ```
pub fn svd(a: &Array) -> Result<(Array, Array, Array)> {
    check_2d(a, "svd")?;
    let (rows, cols) = (a.chunks().axis(0).len(), a.chunks().axis(1).len());
    if cols != 1 && rows == 1 {
        let (u, s, vh) = svd(&a.t())?;
        return Ok((vh.t(), s, u.t()));
    }
    let a = tall_input(a, "svd")?;
    let (q, r) = build_tsqr(&a)?;
    let f = SmallSvd::of(&r);
    Ok((f.left(&q), f.values()?, f.vh()?))
}

/// The result of [`lstsq`].
#[derive(Clone, Debug)]
pub struct Lstsq {
    /// The least-squares solution: `n`, or `n × k` for a 2-D `b`.
    pub x: Array,
    /// The squared 2-norm of `b - a x` per column of `b` (0-d for a 1-D `b`).
    pub residuals: Array,
    /// The numerical rank of `a` (0-d `i64`): singular values above
    /// `max(m, n) · ε · s_max`, as NumPy's default cut-off.
    pub rank: Array,
    /// The singular values of `a`, nonincreasing.
    pub s: Array,
}

/// The least-squares solution of `a x = b` for a tall matrix `a` (`m ≥ n`, one column
/// chunk) through [`tsqr`], as `dask.array.linalg.lstsq`: `x = V diag(1/s) Uᵀ Qᵀ b` from the
/// SVD `U diag(s) Vᵀ` of `R`, dropping singular values at or below the rank cut-off, so a
/// rank-deficient `a` gets the minimum-norm solution (as NumPy's `lstsq`).
///
/// Errors: `a` not 2-D, with fewer rows than columns, or chunked along its columns; `b`
/// not 1-D or 2-D, or of another number of rows: [`Shape`](ErrorKind::Shape) errors.
///
/// ```
/// use blockwork::array::{ArrayContext, linalg};
/// use blockwork::ndarray::{Ix0, Ix1};
/// let ctx = ArrayContext::new();
/// let a = ctx.from_ndarray(&blockwork::ndarray::array![[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]].into_dyn(), vec![2, 2])?;
/// let b = ctx.from_ndarray(&blockwork::ndarray::array![1.0, 3.0, 5.0].into_dyn(), 2)?; // 1 + 2 t
/// let fit = linalg::lstsq(&a, &b)?;
/// let exec = blockwork::Sequential::new();
/// let x = fit.x.compute_as::<f64, Ix1>(&exec)?;
/// assert!((x[0] - 1.0).abs() < 1e-12 && (x[1] - 2.0).abs() < 1e-12);
/// assert_eq!(fit.rank.compute_item::<i64>(&exec)?, 2);
/// assert!(fit.residuals.compute_f64(&exec)?.abs() < 1e-20);
/// # Ok::<(), blockwork::Error>(())
/// ```
pub fn lstsq(a: &Array, b: &Array) -> Result<Lstsq> {
    check_2d(a, "lstsq")?;
    let (m, n) = (a.shape()[0], a.shape()[1]);
    if m < n {
        return Err(Error::new(
            ErrorKind::Shape,
            format!("lstsq needs at least as many rows as columns, got {m} × {n}"),
        ));
    }
    let dt = super::rhs_type(a, b, "lstsq")?;
    let a = tall_input(&a.astype(dt)?, "lstsq")?;
    let b = b.astype(dt)?;
    let (q, r) = build_tsqr(&a)?;
    let f = SmallSvd::of(&r);
    let c = q.t().dot(&b)?.materialize();
    let x = f.solve(&c, m.max(n))?;
    let resid = b.sub(&a.dot(&x)?)?;
    Ok(Lstsq {
        residuals: resid.mul(&resid)?.sum(0_isize)?,
        rank: f.rank(m.max(n))?,
        s: f.values()?,
        x,
    })
}

/// The randomized truncated SVD of Halko, Martinsson and Tropp ("Finding structure with
/// randomness", 2011), as `dask.array.linalg.svd_compressed`: the first `k` singular
/// triplets `(u, s, vh)` (`m × k`, `k`, `k × n`) of `a`, any chunking.
///
/// `a` is multiplied by a seeded normal `n × l` test matrix (`l = min(max(20, k + 10),
/// min(m, n))`, the oversampled rank), the product orthonormalized by [`tsqr`]; each of
/// `n_power_iter` power iterations multiplies by `aᵀ` and by `a` again, re-orthonormalizing
/// after each (more accuracy when the singular values decay slowly). `a` projected on that
/// basis (`l × n`) is factorized by [`svd`]. Exact when the rank of `a` is at most `l`.
///
/// Errors: `a` not 2-D is a [`Shape`](ErrorKind::Shape) error; `k` of 0 or above `min(m,
/// n)` is [`InvalidArgument`](ErrorKind::InvalidArgument).
///
/// ```
/// use blockwork::array::{ArrayContext, linalg};
/// let ctx = ArrayContext::new();
/// let a = ctx.random(&[60, 40], 16, 3)?;
/// let (u, s, vh) = linalg::svd_compressed(&a, 5, 2, 42)?;
/// assert_eq!((u.shape(), s.shape(), vh.shape()), (&[60, 5][..], &[5][..], &[5, 40][..]));
/// # Ok::<(), blockwork::Error>(())
/// ```
pub fn svd_compressed(
    a: &Array,
    k: usize,
    n_power_iter: usize,
    seed: u64,
) -> Result<(Array, Array, Array)> {
    check_2d(a, "svd_compressed")?;
    let (m, n) = (a.shape()[0], a.shape()[1]);
    if k == 0 || k > m.min(n) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "svd_compressed rank {k} outside 1..={} for shape {m} × {n}",
                m.min(n)
            ),
        ));
    }
    let a = as_float(a)?;
    let l = (k + 10).max(20).min(m.min(n));
    let omega = a
        .context()
        .random_normal(
            &[n, l],
            vec![a.chunks().axis(1).to_vec(), vec![l]],
            seed,
            0.0,
            1.0,
        )?
        .astype(a.dtype())?;
    let mut q = tsqr(&a.dot(&omega)?)?.0;
    for _ in 0..n_power_iter {
        let z = tsqr(&a.t().dot(&q)?)?.0;
        q = tsqr(&a.dot(&z)?)?.0;
    }
    // a ≈ Q (Qᵀ a); (Qᵀ a)ᵀ = U' S Vh' gives a ≈ (Q Vh'ᵀ) S U'ᵀ.
    let (u2, s, vh2) = svd(&q.t().dot(&a)?.t())?;
    let u = q.dot(&vh2.t())?;
    let cols = [Idx::full(), Idx::slice(None, Some(k as isize), 1)];
    Ok((
        u.index(&cols)?,
        s.index(&[Idx::slice(None, Some(k as isize), 1)])?,
        u2.t()
            .index(&[Idx::slice(None, Some(k as isize), 1), Idx::full()])?,
    ))
}

/// `a` checked to be 2-D with one column chunk, in its floating type, with blocks of its own.
fn tall_input(a: &Array, what: &str) -> Result<Array> {
    check_2d(a, what)?;
    let cols = a.chunks().axis(1).len();
    if cols != 1 {
        return Err(Error::new(
            ErrorKind::Shape,
            format!(
                "{what} needs a tall-and-skinny array chunked along its rows only, got {cols} \
                 column chunks: rechunk the columns into one chunk first"
            ),
        ));
    }
    Ok(as_float(a)?.materialize())
}

/// One node of the reduction tree: the R factors of `count` nodes of the level below,
/// from `first`, stacked (`rows` rows) and factorized into an R of `k = min(rows, n)` rows.
/// A leaf is one row block (`rows` its length).
struct TreeNode {
    first: usize,
    count: usize,
    k: usize,
}

/// The tree's levels bottom-up: one leaf per row block first, one node last.
fn tree(row_chunks: &[usize], n: usize) -> Vec<Vec<TreeNode>> {
    let leaves = (0..row_chunks.len())
        .map(|i| TreeNode {
            first: i,
            count: 1,
            k: row_chunks[i].min(n),
        })
        .collect();
    let mut levels: Vec<Vec<TreeNode>> = vec![leaves];
    while let Some(below) = levels.last().filter(|l| l.len() > 1) {
        let up = (0..below.len())
            .step_by(TSQR_FAN_IN)
            .map(|first| {
                let count = TSQR_FAN_IN.min(below.len() - first);
                let rows: usize = below[first..first + count].iter().map(|c| c.k).sum();
                TreeNode {
                    first,
                    count,
                    k: rows.min(n),
                }
            })
            .collect();
        levels.push(up);
    }
    levels
}

/// The TSQR graph of a checked tall input (see the module docs): `(Q, R)`.
fn build_tsqr(a: &Array) -> Result<(Array, Array)> {
    let (m, n) = (a.shape()[0], a.shape()[1]);
    let (ctx, dt) = (a.context().clone(), a.dtype());
    let base = token("tsqr", (a.name(), TSQR_FAN_IN));
    let keys = TreeKeys {
        up: format!("{base}-up").into(),
        down: format!("{base}-down").into(),
    };
    let levels = tree(a.chunks().axis(0), n);
    let top = levels.len() - 1;
    let tree_layer = tree_layer(a, &base, &levels, &keys);
    let k = m.min(n);
    let q_name = token("tsqr-q", &base);
    let mut qb = LayerBuilder::new(q_name.clone(), vec![tree_layer.clone()]);
    let q_op = q_op(ctx);
    for i in 0..levels[0].len() {
        let mut args = vec![Arg::key(Key::block(&keys.up, &[0, i]))];
        if top > 0 {
            args.push(Arg::key(Key::block(&keys.down, &[0, i])));
        }
        qb.task(&q_name, &[i, 0], &q_op, args);
    }
    let q_chunks = Chunks::from_axes(vec![a.chunks().axis(0).to_vec(), vec![k]])?;
    let r_name = token("tsqr-r", &base);
    let mut rb = LayerBuilder::new(r_name.clone(), vec![tree_layer]);
    let root = Arg::key(Key::block(&keys.up, &[top, 0]));
    rb.task(&r_name, &[0, 0], &pick("tsqr-r", 1), [root]);
    let r_chunks = Chunks::from_axes(vec![vec![k], vec![n]])?;
    Ok((
        qb.into_array(a, q_chunks, dt),
        rb.into_array(a, r_chunks, dt),
    ))
}

/// The key prefixes of the tree: `(up, level, node)` holds `[Q, R]` of a node, `(down,
/// level, node)` its `M`.
struct TreeKeys {
    up: Arc<str>,
    down: Arc<str>,
}

/// The up and down tasks of the tree over `a`'s row blocks, in one layer.
fn tree_layer(
    a: &Array,
    base: &Arc<str>,
    levels: &[Vec<TreeNode>],
    keys: &TreeKeys,
) -> Arc<crate::array::Layer> {
    let ctx = a.context().clone();
    let (up, down) = (&keys.up, &keys.down);
    let top = levels.len() - 1;
    let mut tb = LayerBuilder::new(base.clone(), vec![a.layer()]);
    let leaf = leaf_op(ctx.clone());
    for i in 0..levels[0].len() {
        tb.task(up, &[0, i], &leaf, [Arg::key(a.block_key(&[i, 0]))]);
    }
    let node = node_op(ctx.clone());
    for (l, level) in levels.iter().enumerate().skip(1) {
        for (j, nd) in level.iter().enumerate() {
            let kids =
                (nd.first..nd.first + nd.count).map(|c| Arg::key(Key::block(up, &[l - 1, c])));
            tb.task(up, &[l, j], &node, [Arg::list(kids)]);
        }
    }
    let slice = down_op(ctx);
    for l in (0..top).rev() {
        for (j, p) in levels[l + 1].iter().enumerate() {
            let mut off = 0;
            for (c, child) in levels[l].iter().enumerate().skip(p.first).take(p.count) {
                let mut args = vec![
                    Arg::lit(Value::list([off as i64, child.k as i64])),
                    Arg::key(Key::block(up, &[l + 1, j])),
                ];
                if l + 1 < top {
                    args.push(Arg::key(Key::block(down, &[l + 1, j])));
                }
                tb.task(down, &[l, c], &slice, args);
                off += child.k;
            }
        }
    }
    tb.finish()
}

/// Element `i` of a list value (the factors a task returned).
fn item(v: &Value, i: usize) -> TaskResult<&Value> {
    v.as_list()
        .and_then(|l| l.get(i))
        .ok_or_else(|| TaskError::with_kind(ErrorKind::Type, "expected a list of factors"))
}

/// Element `i` of a list value as a typed array.
fn factor<T: Float>(v: &Value, i: usize) -> TaskResult<&ndarray::ArrayD<T>> {
    typed::<T>(item(v, i)?)
}

/// `a · b` for 2-D blocks (a 1-D `b` is one column; the result then is 1-D).
fn product<T: Float>(a: &ndarray::ArrayD<T>, b: &ndarray::ArrayD<T>) -> (Mat<T>, bool) {
    let c = with_mat(a, |a| with_mat(b, |b| a * b));
    (c, b.ndim() == 1)
}

/// A block holding `m`, 1-D when `vector` (one column).
fn block_of_mat<T: Float>(
    ctx: &crate::array::ArrayContext,
    m: MatRef<'_, T>,
    vector: bool,
) -> Value {
    if vector {
        dense::block_from(ctx, m, &[m.nrows()])
    } else {
        matrix_block(ctx, m)
    }
}

/// Leaf task: the thin QR of one row block, as the list `[Q_i, R_i]`.
fn leaf_op(ctx: crate::array::ArrayContext) -> Op {
    Op::new("tsqr-leaf", move |args: &[Value]| {
        with_float!(dense::block_data(&args[0])?, T => {
            let (q, r) = with_mat(typed::<T>(&args[0])?, dense::qr);
            Ok(Value::list([matrix_block(&ctx, q.as_ref()), matrix_block(&ctx, r.as_ref())]))
        })
    })
}

/// Tree task: the children's R factors stacked and factorized, as the list `[Q_p, R_p]`.
fn node_op(ctx: crate::array::ArrayContext) -> Op {
    Op::new("tsqr-node", move |args: &[Value]| {
        let kids = args[0].as_list().unwrap_or(&[]);
        let first = kids
            .first()
            .ok_or_else(|| TaskError::with_kind(ErrorKind::Type, "tsqr node without children"))?;
        with_float!(dense::block_data(item(first, 1)?)?, T => {
            let rs = kids.iter().map(|v| factor::<T>(v, 1)).collect::<TaskResult<Vec<_>>>()?;
            let n = rs[0].shape()[1];
            let rows = rs.iter().map(|r| r.shape()[0]).sum();
            let mut stacked = Mat::<T>::zeros(rows, n);
            let mut at = 0;
            for r in &rs {
                with_mat(r, |r| stacked.as_mut().subrows_mut(at, r.nrows()).copy_from(r));
                at += r.shape()[0];
            }
            let (q, r) = dense::qr(stacked.as_ref());
            Ok(Value::list([matrix_block(&ctx, q.as_ref()), matrix_block(&ctx, r.as_ref())]))
        })
    })
}

/// Down task: `M_c = Q_p[offset..offset + len] · M_p` (no `M_p` below the root).
fn down_op(ctx: crate::array::ArrayContext) -> Op {
    Op::new("tsqr-down", move |args: &[Value]| {
        let span: Vec<usize> = crate::array::block_index(&args[0])?;
        let (off, len) = (span[0], span[1]);
        with_float!(dense::block_data(item(&args[1], 0)?)?, T => {
            let qp = factor::<T>(&args[1], 0)?;
            with_mat(qp, |qp| {
                let part = qp.subrows(off, len);
                Ok(match args.get(2) {
                    Some(mp) => with_mat(typed::<T>(mp)?, |mp| matrix_block(&ctx, (part * mp).as_ref())),
                    None => matrix_block(&ctx, part),
                })
            })
        })
    })
}

/// Q task: row block `i` of Q, `Q_i · M_i` (just `Q_i` when the tree is one leaf).
fn q_op(ctx: crate::array::ArrayContext) -> Op {
    Op::new("tsqr-q", move |args: &[Value]| {
        let qi = item(&args[0], 0)?;
        let Some(mi) = args.get(1) else {
            return Ok(qi.clone());
        };
        with_float!(dense::block_data(qi)?, T => {
            let (c, _) = product(typed::<T>(qi)?, typed::<T>(mi)?);
            Ok(matrix_block(&ctx, c.as_ref()))
        })
    })
}

/// The short-and-fat QR: `A_0 = Q R_0` in one task, `R_j = Qᵀ A_j` for the other blocks.
fn sfqr(a: &Array) -> Result<(Array, Array)> {
    let m = a.shape()[0];
    let (ctx, dt) = (a.context().clone(), a.dtype());
    let base = token("sfqr", a.name());
    let head = Key::block(&base, &[0]);
    let mut hb = LayerBuilder::new(base.clone(), vec![a.layer()]);
    hb.task(
        &base,
        &[0],
        &leaf_op(ctx.clone()),
        [Arg::key(a.block_key(&[0, 0]))],
    );
    let head_layer = hb.finish();
    let q_name = token("sfqr-q", &base);
    let mut qb = LayerBuilder::new(q_name.clone(), vec![head_layer.clone()]);
    qb.task(
        &q_name,
        &[0, 0],
        &pick("sfqr-q", 0),
        [Arg::key(head.clone())],
    );
    let r_name = token("sfqr-r", &base);
    let mut rb = LayerBuilder::new(r_name.clone(), vec![head_layer, a.layer()]);
    rb.task(
        &r_name,
        &[0, 0],
        &pick("sfqr-r", 1),
        [Arg::key(head.clone())],
    );
    let rest = Op::new("sfqr-rest", move |args: &[Value]| {
        with_float!(dense::block_data(&args[1])?, T => {
            let q = factor::<T>(&args[0], 0)?;
            let c = with_mat(q, |q| with_mat(typed::<T>(&args[1])?, |aj| Ok::<_, TaskError>(q.transpose() * aj)))?;
            Ok(matrix_block(&ctx, c.as_ref()))
        })
    });
    for j in 1..a.chunks().axis(1).len() {
        rb.task(
            &r_name,
            &[0, j],
            &rest,
            [Arg::key(head.clone()), Arg::key(a.block_key(&[0, j]))],
        );
    }
    let q_chunks = Chunks::from_axes(vec![vec![m], vec![m]])?;
    let r_chunks = Chunks::from_axes(vec![vec![m], a.chunks().axis(1).to_vec()])?;
    Ok((
        qb.into_array(a, q_chunks, dt),
        rb.into_array(a, r_chunks, dt),
    ))
}

/// The SVD of a small R factor (one block) as one task, `[U, s, Vh]`, and what is built from
/// it.
struct SmallSvd {
    r: Array,
    key: Key,
    layer: Arc<crate::array::Layer>,
}

impl SmallSvd {
    fn of(r: &Array) -> SmallSvd {
        let ctx = r.context().clone();
        let name = token("svd-r", r.name());
        let op = Op::new("svd-r", move |args: &[Value]| {
            with_float!(dense::block_data(&args[0])?, T => {
                let (u, s, vh) = with_mat(typed::<T>(&args[0])?, dense::svd)?;
                let s = MatRef::from_column_major_slice(&s, s.len(), 1);
                Ok(Value::list([
                    matrix_block(&ctx, u.as_ref()),
                    dense::block_from(&ctx, s, &[s.nrows()]),
                    matrix_block(&ctx, vh.as_ref()),
                ]))
            })
        });
        let mut b = LayerBuilder::new(name.clone(), vec![r.layer()]);
        b.task(&name, &[0], &op, [Arg::key(r.block_key(&[0, 0]))]);
        SmallSvd {
            r: r.clone(),
            key: Key::block(&name, &[0]),
            layer: b.finish(),
        }
    }

    /// An array of one block, element `i` of the SVD list, of shape `shape`.
    fn part(&self, i: usize, shape: Vec<usize>, prefix: &str) -> Result<Array> {
        let name = token(prefix, (&self.key, i));
        let mut b = LayerBuilder::new(name.clone(), vec![self.layer.clone()]);
        let idx = vec![0; shape.len()];
        b.task(
            &name,
            &idx,
            &pick("svd-part", i),
            [Arg::key(self.key.clone())],
        );
        let chunks = Chunks::from_axes(shape.into_iter().map(|d| vec![d]).collect())?;
        Ok(b.into_array(&self.r, chunks, self.r.dtype()))
    }

    /// The singular values.
    fn values(&self) -> Result<Array> {
        self.part(1, vec![self.r.shape()[0]], "svd-s")
    }

    /// `Vh`.
    fn vh(&self) -> Result<Array> {
        self.part(2, self.r.shape().to_vec(), "svd-vh")
    }

    /// `Q · U`, one task per row block of `q`.
    fn left(&self, q: &Array) -> Array {
        let ctx = q.context().clone();
        let name = token("svd-u", (q.name(), &self.key));
        let op = Op::new("svd-u", move |args: &[Value]| {
            with_float!(dense::block_data(&args[0])?, T => {
                let (c, _) = product(typed::<T>(&args[0])?, factor::<T>(&args[1], 0)?);
                Ok(matrix_block(&ctx, c.as_ref()))
            })
        });
        let mut b = LayerBuilder::new(name.clone(), vec![q.layer(), self.layer.clone()]);
        for i in 0..q.chunks().axis(0).len() {
            let args = [Arg::key(q.block_key(&[i, 0])), Arg::key(self.key.clone())];
            b.task(&name, &[i, 0], &op, args);
        }
        b.into_array(q, q.chunks().clone(), q.dtype())
    }

    /// `x = V diag(1/s) Uᵀ c` per block of `c` (`k` or `k × cols`, one row chunk), dropping
    /// singular values at or below the rank cut-off for `size = max(m, n)`.
    fn solve(&self, c: &Array, size: usize) -> Result<Array> {
        let ctx = c.context().clone();
        let name = token("lstsq-x", (c.name(), &self.key));
        let op = Op::new("lstsq-x", move |args: &[Value]| {
            with_float!(dense::block_data(&args[0])?, T => {
                let (u, s, vh) = (factor::<T>(&args[1], 0)?, factor::<T>(&args[1], 1)?, factor::<T>(&args[1], 2)?);
                let cut = cutoff(s, size);
                let (y, vector) = product(&u.t().to_owned(), typed::<T>(&args[0])?);
                // diag(1/s) with the singular values at or below the cut-off dropped.
                let inv = Mat::<T>::from_fn(s.len(), s.len(), |i, j| {
                    let si = s[i].to_f64();
                    T::from_f64(if i == j && si > cut { 1.0 / si } else { 0.0 })
                });
                let x = with_mat(vh, |vh| vh.transpose() * (inv * y));
                Ok(block_of_mat(&ctx, x.as_ref(), vector))
            })
        });
        let mut b = LayerBuilder::new(name.clone(), vec![c.layer(), self.layer.clone()]);
        let n = self.r.shape()[1];
        let mut axes = c.chunks().axes().to_vec();
        axes[0] = vec![n];
        for idx in c.chunks().indices() {
            b.task(
                &name,
                &idx,
                &op,
                [Arg::key(c.block_key(&idx)), Arg::key(self.key.clone())],
            );
        }
        Ok(b.into_array(c, Chunks::from_axes(axes)?, c.dtype()))
    }

    /// The numerical rank (0-d `i64`): singular values above the cut-off for `size`.
    fn rank(&self, size: usize) -> Result<Array> {
        let ctx = self.r.context().clone();
        let name = token("lstsq-rank", (&self.key, size));
        let op = Op::new("lstsq-rank", move |args: &[Value]| {
            with_float!(dense::block_data(item(&args[0], 1)?)?, T => {
                let s = factor::<T>(&args[0], 1)?;
                let cut = cutoff(s, size);
                let rank = s.iter().filter(|x| x.to_f64() > cut).count() as i64;
                Ok(ctx.block(crate::array::BlockData::I64(ndarray::arr0(rank).into_dyn())))
            })
        });
        let mut b = LayerBuilder::new(name.clone(), vec![self.layer.clone()]);
        b.task(&name, &[], &op, [Arg::key(self.key.clone())]);
        Ok(b.into_array(&self.r, Chunks::from_axes(vec![])?, DType::I64))
    }
}

/// NumPy's default rank cut-off: `max(m, n) · ε · s_max`.
fn cutoff<T: Float>(s: &ndarray::ArrayD<T>, size: usize) -> f64 {
    let smax = s.iter().map(|x| x.to_f64()).fold(0.0, f64::max);
    smax * T::EPS * size as f64
}
