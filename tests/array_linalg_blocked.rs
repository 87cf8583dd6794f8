//! Blocked linear algebra (`blockwork::array::linalg`): QR, SVD, least squares, solve,
//! inverse, Cholesky and einsum, checked against properties that determine the answer
//! (orthonormal Q, triangular R, Q R = A, ...), matrices built with known singular values,
//! and naive loops, on single-block, many-block and ragged chunkings.

mod common;

use blockwork::array::{Array, ArrayContext, ChunkSpec, DType, linalg};
use blockwork::{Error, ErrorKind, Executor, Pool, Sequential};
use ndarray::{Array1, Array2, ArrayD, Ix1, Ix2, IxDyn, array};

/// Row chunkings of a tall 50 × 6 matrix: one block, even blocks, ragged blocks (with an
/// empty one and blocks shorter than the width), and one row per block (a two-level tree).
fn tall_chunkings() -> Vec<ChunkSpec> {
    vec![
        ChunkSpec::from(vec![vec![50], vec![6]]),
        ChunkSpec::from(vec![vec![10; 5], vec![6]]),
        ChunkSpec::from(vec![vec![1, 7, 0, 20, 3, 19], vec![6]]),
        ChunkSpec::from(vec![vec![1; 50], vec![6]]),
    ]
}

fn f64_2(a: &Array, exec: &impl Executor) -> Array2<f64> {
    a.compute_as::<f64, Ix2>(exec).unwrap()
}

fn f64_1(a: &Array, exec: &impl Executor) -> Array1<f64> {
    a.compute_as::<f64, Ix1>(exec).unwrap()
}

#[track_caller]
fn near(got: &Array2<f64>, want: &Array2<f64>, tol: f64) {
    assert_eq!(got.shape(), want.shape());
    let worst = (got - want).iter().fold(0.0f64, |m, e| m.max(e.abs()));
    assert!(worst <= tol, "off by {worst}\ngot\n{got}\nwant\n{want}");
}

/// Q has orthonormal columns.
#[track_caller]
fn orthonormal_columns(q: &Array2<f64>, tol: f64) {
    near(&q.t().dot(q), &Array2::eye(q.ncols()), tol);
}

#[track_caller]
fn upper_triangular(r: &Array2<f64>) {
    for ((i, j), &x) in r.indexed_iter() {
        assert!(i <= j || x == 0.0, "R[{i}, {j}] = {x} below the diagonal");
    }
}

/// An orthogonal `n × n` matrix: the product of two Householder reflections.
fn orthogonal(n: usize, salt: usize) -> Array2<f64> {
    let mut q = Array2::eye(n);
    for s in 0..2 {
        let v = Array1::from_shape_fn(n, |i| {
            ((i * 37 + salt * 11 + s * 5) % 13) as f64 - 6.0 + 0.5
        });
        let h = Array2::eye(n) - (2.0 / v.dot(&v)) * outer(&v, &v);
        q = q.dot(&h);
    }
    q
}

fn outer(a: &Array1<f64>, b: &Array1<f64>) -> Array2<f64> {
    Array2::from_shape_fn((a.len(), b.len()), |(i, j)| a[i] * b[j])
}

/// `U[:, :r] diag(s) V[:, :r]ᵀ` for orthogonal U (`m × m`) and V (`n × n`): singular
/// values exactly `s` (then zeros).
fn with_singular_values(m: usize, n: usize, s: &[f64]) -> Array2<f64> {
    let (u, v) = (orthogonal(m, 1), orthogonal(n, 2));
    let mut a = Array2::zeros((m, n));
    for (i, &si) in s.iter().enumerate() {
        a = a + si * outer(&u.column(i).to_owned(), &v.column(i).to_owned());
    }
    a
}

fn random(ctx: &ArrayContext, shape: &[usize], chunks: impl Into<ChunkSpec>, seed: u64) -> Array {
    ctx.random(shape, chunks, seed).unwrap()
}

#[track_caller]
fn task_cause(e: Error) -> Option<ErrorKind> {
    assert_eq!(e.kind(), ErrorKind::TaskFailed, "{e}");
    e.task_cause()
}

#[test]
fn tsqr_factors_on_every_row_chunking() {
    let ctx = ArrayContext::new();
    let pool = Pool::new(2).unwrap();
    for chunks in tall_chunkings() {
        let a = random(&ctx, &[50, 6], chunks, 11);
        let want = f64_2(&a, &pool);
        let (q, r) = linalg::tsqr(&a).unwrap();
        assert_eq!(q.chunks().axis(0), a.chunks().axis(0));
        assert_eq!((q.shape(), r.shape()), (&[50, 6][..], &[6, 6][..]));
        let (q, r) = (f64_2(&q, &pool), f64_2(&r, &Sequential::new()));
        orthonormal_columns(&q, 1e-12);
        upper_triangular(&r);
        near(&q.dot(&r), &want, 1e-12);
    }
}

#[test]
fn tsqr_with_more_blocks_than_the_fan_in_squared() {
    // 300 blocks of one row: three levels of tree.
    const { assert!(300 > linalg::TSQR_FAN_IN * linalg::TSQR_FAN_IN) };
    let ctx = ArrayContext::new();
    let a = random(&ctx, &[300, 3], vec![1, 3], 5);
    let (q, r) = linalg::tsqr(&a).unwrap();
    let pool = Pool::new(2).unwrap();
    let (q, r) = (f64_2(&q, &pool), f64_2(&r, &pool));
    orthonormal_columns(&q, 1e-12);
    upper_triangular(&r);
    near(&q.dot(&r), &f64_2(&a, &pool), 1e-12);
}

#[test]
fn tsqr_of_wide_blocks_f32_and_integers() {
    let ctx = ArrayContext::new();
    let exec = Sequential::new();
    // Fewer rows than columns: k = 4.
    let a = random(&ctx, &[4, 6], vec![vec![1, 3], vec![6]], 2);
    let (q, r) = linalg::tsqr(&a).unwrap();
    let (q, r) = (f64_2(&q, &exec), f64_2(&r, &exec));
    assert_eq!((q.dim(), r.dim()), ((4, 4), (4, 6)));
    orthonormal_columns(&q, 1e-12);
    upper_triangular(&r);
    near(&q.dot(&r), &f64_2(&a, &exec), 1e-12);
    // f32 stays f32.
    let a32 = random(&ctx, &[30, 4], vec![7, 4], 3)
        .astype(DType::F32)
        .unwrap();
    let (q, r) = linalg::tsqr(&a32).unwrap();
    assert_eq!((q.dtype(), r.dtype()), (DType::F32, DType::F32));
    let to64 = |x: &Array| f64_2(&x.astype(DType::F64).unwrap(), &exec);
    let (q, r) = (to64(&q), to64(&r));
    orthonormal_columns(&q, 1e-5);
    near(&q.dot(&r), &to64(&a32), 1e-5);
    // Integers factorize in f64.
    let ints = ctx
        .from_ndarray(&array![[1i64, 2], [3, 4], [5, 7]].into_dyn(), vec![2, 2])
        .unwrap();
    let (q, r) = linalg::tsqr(&ints).unwrap();
    assert_eq!(q.dtype(), DType::F64);
    let want = array![[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]];
    near(&f64_2(&q, &exec).dot(&f64_2(&r, &exec)), &want, 1e-12);
}

#[test]
fn tsqr_of_empty_matrices() {
    let ctx = ArrayContext::new();
    let exec = Sequential::new();
    for shape in [[0usize, 3], [5, 0]] {
        let a = ctx
            .zeros(&shape, 2, DType::F64)
            .unwrap()
            .rechunk(vec![2, 3])
            .unwrap();
        let (q, r) = linalg::tsqr(&a).unwrap();
        let k = shape[0].min(shape[1]);
        assert_eq!(f64_2(&q, &exec).dim(), (shape[0], k));
        assert_eq!(f64_2(&r, &exec).dim(), (k, shape[1]));
    }
}

#[test]
fn qr_of_short_and_fat_matrices() {
    let ctx = ArrayContext::new();
    let exec = Pool::new(2).unwrap();
    for chunks in [
        vec![vec![4], vec![5, 10, 15]],
        vec![vec![4], vec![30]],
        vec![vec![4], vec![4, 0, 26]],
    ] {
        let a = random(&ctx, &[4, 30], chunks, 9);
        let (q, r) = linalg::qr(&a).unwrap();
        assert_eq!(r.chunks().axis(1), a.chunks().axis(1));
        let (q, r) = (f64_2(&q, &exec), f64_2(&r, &exec));
        assert_eq!((q.dim(), r.dim()), ((4, 4), (4, 30)));
        orthonormal_columns(&q, 1e-12);
        upper_triangular(&r);
        near(&q.dot(&r), &f64_2(&a, &exec), 1e-12);
    }
    // The tall case is tsqr.
    let a = random(&ctx, &[20, 3], vec![6, 3], 1);
    let (q, r) = linalg::qr(&a).unwrap();
    near(
        &f64_2(&q, &exec).dot(&f64_2(&r, &exec)),
        &f64_2(&a, &exec),
        1e-12,
    );
}

#[test]
fn qr_and_tsqr_reject_what_they_cannot_factor() {
    let ctx = ArrayContext::new();
    let both = random(&ctx, &[20, 6], 3, 1);
    for r in [linalg::tsqr(&both), linalg::qr(&both)] {
        assert_eq!(r.unwrap_err().kind(), ErrorKind::Shape);
    }
    let cols = random(&ctx, &[20, 6], vec![20, 3], 1);
    assert_eq!(linalg::tsqr(&cols).unwrap_err().kind(), ErrorKind::Shape);
    // Short and fat with a first column chunk narrower than the rows.
    let fat = random(&ctx, &[4, 30], vec![4, 3], 1);
    assert_eq!(linalg::qr(&fat).unwrap_err().kind(), ErrorKind::Shape);
    let v = random(&ctx, &[20], 5, 1);
    let cube = random(&ctx, &[4, 4, 4], vec![2, 4, 4], 1);
    for x in [&v, &cube] {
        assert_eq!(linalg::tsqr(x).unwrap_err().kind(), ErrorKind::Shape);
        assert_eq!(linalg::qr(x).unwrap_err().kind(), ErrorKind::Shape);
        assert_eq!(linalg::svd(x).unwrap_err().kind(), ErrorKind::Shape);
    }
    assert_eq!(linalg::svd(&both).unwrap_err().kind(), ErrorKind::Shape);
}

/// `u`, `s`, `vh` are an SVD of `a`: orthonormal columns of `u` and rows of `vh`, `s`
/// nonnegative and nonincreasing, `u diag(s) vh = a`. (These determine `s`.)
#[track_caller]
fn check_svd(u: &Array2<f64>, s: &Array1<f64>, vh: &Array2<f64>, a: &Array2<f64>, tol: f64) {
    orthonormal_columns(u, tol);
    orthonormal_columns(&vh.t().to_owned(), tol);
    assert!(s.iter().all(|&x| x >= 0.0), "{s}");
    assert!(s.windows(2).into_iter().all(|w| w[0] >= w[1]), "{s}");
    near(
        &(u * s).dot(vh),
        a,
        tol * (1.0 + s.first().copied().unwrap_or(0.0)),
    );
}

#[test]
fn svd_of_tall_matrices_with_known_singular_values() {
    let ctx = ArrayContext::new();
    let pool = Pool::new(2).unwrap();
    let s_true = [9.0, 4.0, 2.5, 1.0, 0.5, 0.0];
    let a_true = with_singular_values(50, 6, &s_true);
    for chunks in tall_chunkings() {
        let a = ctx
            .from_ndarray(&a_true.clone().into_dyn(), chunks)
            .unwrap();
        let (u, s, vh) = linalg::svd(&a).unwrap();
        assert_eq!(u.chunks().axis(0), a.chunks().axis(0));
        let (u, s, vh) = (f64_2(&u, &pool), f64_1(&s, &pool), f64_2(&vh, &pool));
        for (got, want) in s.iter().zip(s_true) {
            assert!((got - want).abs() < 1e-12, "{s} vs {s_true:?}");
        }
        check_svd(&u, &s, &vh, &a_true, 1e-12);
    }
}

#[test]
fn svd_of_short_and_fat_matrices_is_through_the_transpose() {
    let ctx = ArrayContext::new();
    let exec = Sequential::new();
    let s_true = [3.0, 2.0, 1.0];
    let a_true = with_singular_values(40, 3, &s_true).t().to_owned();
    let a = ctx
        .from_ndarray(&a_true.clone().into_dyn(), vec![3, 7])
        .unwrap();
    let (u, s, vh) = linalg::svd(&a).unwrap();
    assert_eq!((u.shape(), vh.shape()), (&[3, 3][..], &[3, 40][..]));
    let (u, s, vh) = (f64_2(&u, &exec), f64_1(&s, &exec), f64_2(&vh, &exec));
    for (got, want) in s.iter().zip(s_true) {
        assert!((got - want).abs() < 1e-12);
    }
    check_svd(&u, &s, &vh, &a_true, 1e-12);
}

#[test]
fn svd_compressed_recovers_low_rank_and_decaying_spectra() {
    let ctx = ArrayContext::new();
    let pool = Pool::new(2).unwrap();
    // Rank 5 (fewer than the oversampled 20 columns): exact for any chunking.
    let s5 = [10.0, 7.0, 3.0, 2.0, 1.0];
    let low = with_singular_values(80, 40, &s5);
    for chunks in [
        ChunkSpec::from(vec![16, 10]),
        ChunkSpec::from(vec![80, 40]),
        ChunkSpec::from(vec![vec![3, 50, 27], vec![40]]),
    ] {
        let a = ctx.from_ndarray(&low.clone().into_dyn(), chunks).unwrap();
        for iters in [0, 2] {
            let (u, s, vh) = linalg::svd_compressed(&a, 5, iters, 7).unwrap();
            let (u, s, vh) = (f64_2(&u, &pool), f64_1(&s, &pool), f64_2(&vh, &pool));
            for (got, want) in s.iter().zip(s5) {
                assert!((got - want).abs() < 1e-9, "{s}");
            }
            check_svd(&u, &s, &vh, &low, 1e-9);
        }
    }
    // Full rank with singular values 2^-i: the leading three within 1e-6 after power
    // iterations.
    let decay: Vec<f64> = (0..40).map(|i| 0.5f64.powi(i)).collect();
    let full = with_singular_values(80, 40, &decay);
    let a = ctx.from_ndarray(&full.into_dyn(), vec![20, 8]).unwrap();
    let (_, s, _) = linalg::svd_compressed(&a, 3, 2, 1).unwrap();
    for (got, want) in f64_1(&s, &pool).iter().zip(&decay) {
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }
}

#[test]
fn svd_compressed_checks_its_arguments() {
    let ctx = ArrayContext::new();
    let a = random(&ctx, &[10, 6], 3, 1);
    for k in [0, 7] {
        let e = linalg::svd_compressed(&a, k, 0, 0).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    }
    let v = random(&ctx, &[10], 3, 1);
    assert_eq!(
        linalg::svd_compressed(&v, 1, 0, 0).unwrap_err().kind(),
        ErrorKind::Shape
    );
}

/// A well-conditioned `n × n` matrix: random plus `n` on the diagonal.
fn well_conditioned(n: usize) -> Array2<f64> {
    let mut i = 0u64;
    Array2::from_shape_simple_fn((n, n), || {
        i = i
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (i >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    }) + Array2::<f64>::eye(n) * n as f64
}

fn square_chunkings() -> Vec<ChunkSpec> {
    vec![
        ChunkSpec::from(9),
        ChunkSpec::from(3),
        ChunkSpec::from(vec![vec![1, 6, 2], vec![4, 0, 5]]),
    ]
}

#[test]
fn solve_inv_and_cholesky_residuals() {
    let ctx = ArrayContext::new();
    let pool = Pool::new(2).unwrap();
    let m = well_conditioned(9);
    let spd = m.dot(&m.t());
    let b2 = Array2::from_shape_fn((9, 4), |(i, j)| (i * 4 + j) as f64 - 10.0);
    let b1 = b2.column(1).to_owned();
    for chunks in square_chunkings() {
        let a = ctx
            .from_ndarray(&m.clone().into_dyn(), chunks.clone())
            .unwrap();
        for bchunks in [
            ChunkSpec::from(9),
            ChunkSpec::from(vec![vec![2, 7], vec![1, 3]]),
        ] {
            let b = ctx.from_ndarray(&b2.clone().into_dyn(), bchunks).unwrap();
            let x = linalg::solve(&a, &b).unwrap();
            assert_eq!(x.chunks(), b.chunks());
            near(&m.dot(&f64_2(&x, &pool)), &b2, 1e-10);
        }
        let b = ctx.from_ndarray(&b1.clone().into_dyn(), 4).unwrap();
        let x = f64_1(&linalg::solve(&a, &b).unwrap(), &pool);
        assert!((m.dot(&x) - &b1).iter().all(|e| e.abs() < 1e-10));

        let inv = linalg::inv(&a).unwrap();
        assert_eq!(inv.chunks(), a.chunks());
        near(&m.dot(&f64_2(&inv, &pool)), &Array2::eye(9), 1e-12);

        let s = ctx.from_ndarray(&spd.clone().into_dyn(), chunks).unwrap();
        let l = f64_2(&linalg::cholesky(&s).unwrap(), &pool);
        for ((i, j), &x) in l.indexed_iter() {
            assert!(j <= i || x == 0.0, "L[{i}, {j}] = {x}");
        }
        near(&l.dot(&l.t()), &spd, 1e-10);
    }
}

#[test]
fn square_solvers_report_bad_input() {
    let ctx = ArrayContext::new();
    let exec = Sequential::new();
    let rect = random(&ctx, &[4, 3], 2, 1);
    let sq = random(&ctx, &[4, 4], 2, 1);
    let v = random(&ctx, &[4], 2, 1);
    assert_eq!(
        linalg::solve(&rect, &v).unwrap_err().kind(),
        ErrorKind::Shape
    );
    assert_eq!(linalg::inv(&rect).unwrap_err().kind(), ErrorKind::Shape);
    assert_eq!(linalg::cholesky(&v).unwrap_err().kind(), ErrorKind::Shape);
    let short = random(&ctx, &[3], 2, 1);
    assert_eq!(
        linalg::solve(&sq, &short).unwrap_err().kind(),
        ErrorKind::Shape
    );
    let cube = random(&ctx, &[4, 2, 2], 2, 1);
    assert_eq!(
        linalg::solve(&sq, &cube).unwrap_err().kind(),
        ErrorKind::Shape
    );
    // Singular and indefinite matrices fail when run.
    let singular = ctx
        .from_ndarray(&array![[1.0, 2.0], [2.0, 4.0]].into_dyn(), 1)
        .unwrap();
    let b = ctx.from_ndarray(&array![1.0, 1.0].into_dyn(), 1).unwrap();
    let e = linalg::solve(&singular, &b)
        .unwrap()
        .compute::<f64>(&exec)
        .unwrap_err();
    assert_eq!(task_cause(e), Some(ErrorKind::InvalidArgument));
    let e = linalg::inv(&singular)
        .unwrap()
        .compute::<f64>(&exec)
        .unwrap_err();
    assert_eq!(task_cause(e), Some(ErrorKind::InvalidArgument));
    let indefinite = ctx
        .from_ndarray(&array![[1.0, 2.0], [2.0, 1.0]].into_dyn(), 1)
        .unwrap();
    let e = linalg::cholesky(&indefinite)
        .unwrap()
        .compute::<f64>(&exec)
        .unwrap_err();
    assert_eq!(task_cause(e), Some(ErrorKind::InvalidArgument));
}

#[test]
fn lstsq_normal_equations_hold() {
    let ctx = ArrayContext::new();
    let pool = Pool::new(2).unwrap();
    let a_true = f64_2(&random(&ctx, &[50, 6], 50, 4), &pool);
    let b_true = Array2::from_shape_fn((50, 2), |(i, j)| ((i * 7 + j * 3) % 11) as f64);
    for chunks in tall_chunkings() {
        let a = ctx
            .from_ndarray(&a_true.clone().into_dyn(), chunks)
            .unwrap();
        let b = ctx
            .from_ndarray(&b_true.clone().into_dyn(), vec![13, 1])
            .unwrap();
        let fit = linalg::lstsq(&a, &b).unwrap();
        let x = f64_2(&fit.x, &pool);
        let r = &b_true - &a_true.dot(&x);
        // The residual is orthogonal to the columns of a.
        near(&a_true.t().dot(&r), &Array2::zeros((6, 2)), 1e-10);
        let want: Vec<f64> = r.columns().into_iter().map(|c| c.dot(&c)).collect();
        for (got, want) in f64_1(&fit.residuals, &pool).iter().zip(want) {
            assert!((got - want).abs() < 1e-9 * (1.0 + want));
        }
        assert_eq!(fit.rank.compute_item::<i64>(&pool).unwrap(), 6);
        let (_, s, _) = linalg::svd(&a).unwrap();
        let (s, fs) = (f64_1(&s, &pool), f64_1(&fit.s, &pool));
        assert!((s - fs).iter().all(|e| e.abs() < 1e-12));
    }
}

#[test]
fn lstsq_of_a_rank_deficient_matrix_gives_the_minimum_norm_solution() {
    let ctx = ArrayContext::new();
    let exec = Sequential::new();
    // Columns 0 and 1 equal: rank 2, and the minimum-norm x splits their weight equally.
    let mut a_true = f64_2(&random(&ctx, &[20, 3], 20, 8), &exec);
    let c0 = a_true.column(0).to_owned();
    a_true.column_mut(1).assign(&c0);
    let b_true = Array1::from_shape_fn(20, |i| i as f64 * 0.25 - 1.0);
    let a = ctx
        .from_ndarray(&a_true.clone().into_dyn(), vec![7, 3])
        .unwrap();
    let b = ctx.from_ndarray(&b_true.clone().into_dyn(), 6).unwrap();
    let fit = linalg::lstsq(&a, &b).unwrap();
    assert_eq!(fit.rank.compute_item::<i64>(&exec).unwrap(), 2);
    let x = f64_1(&fit.x, &exec);
    assert!((x[0] - x[1]).abs() < 1e-10, "{x}");
    let r = &b_true - &a_true.dot(&x);
    assert!(a_true.t().dot(&r).iter().all(|e| e.abs() < 1e-10));
    assert!((fit.residuals.compute_f64(&exec).unwrap() - r.dot(&r)).abs() < 1e-9);
}

#[test]
fn lstsq_rejects_bad_shapes() {
    let ctx = ArrayContext::new();
    let wide = random(&ctx, &[3, 5], vec![3, 5], 1);
    let b3 = random(&ctx, &[3], 3, 1);
    assert_eq!(
        linalg::lstsq(&wide, &b3).unwrap_err().kind(),
        ErrorKind::Shape
    );
    let tall = random(&ctx, &[8, 2], vec![4, 2], 1);
    assert_eq!(
        linalg::lstsq(&tall, &b3).unwrap_err().kind(),
        ErrorKind::Shape
    );
    let cols = random(&ctx, &[8, 2], 1, 1);
    let b8 = random(&ctx, &[8], 3, 1);
    assert_eq!(
        linalg::lstsq(&cols, &b8).unwrap_err().kind(),
        ErrorKind::Shape
    );
}

/// Naive einsum: every assignment of the letters, products summed into the output.
fn naive_einsum(inputs: &[&str], output: &str, ops: &[&ArrayD<f64>]) -> ArrayD<f64> {
    let mut letters: Vec<char> = inputs.iter().flat_map(|s| s.chars()).collect();
    letters.sort_unstable();
    letters.dedup();
    let size = |c: char| {
        inputs
            .iter()
            .zip(ops)
            .find_map(|(s, a)| s.chars().position(|x| x == c).map(|k| a.shape()[k]))
            .unwrap()
    };
    let sizes: Vec<usize> = letters.iter().map(|&c| size(c)).collect();
    let out_shape: Vec<usize> = output.chars().map(size).collect();
    let mut out = ArrayD::zeros(IxDyn(&out_shape));
    let pos = |c: char| letters.iter().position(|&x| x == c).unwrap();
    for (at, _) in ArrayD::<u8>::zeros(IxDyn(&sizes)).indexed_iter() {
        let value = |s: &str| -> Vec<usize> { s.chars().map(|c| at[pos(c)]).collect() };
        let p: f64 = inputs
            .iter()
            .zip(ops)
            .map(|(s, a)| a[IxDyn(&value(s))])
            .product();
        out[IxDyn(&value(output))] += p;
    }
    out
}

fn values(shape: &[usize], salt: usize) -> ArrayD<f64> {
    common::data(shape, salt)
}

#[test]
fn einsum_matches_naive_loops() {
    let ctx = ArrayContext::new();
    let pool = Pool::new(2).unwrap();
    // (subscripts, explicit output for the naive loop, shapes)
    let cases: Vec<(&str, &str, Vec<Vec<usize>>)> = vec![
        ("ij,jk->ik", "ik", vec![vec![5, 4], vec![4, 3]]),
        ("ij,jk", "ik", vec![vec![5, 4], vec![4, 3]]),
        ("ii->", "", vec![vec![5, 5]]),
        ("ii", "", vec![vec![5, 5]]),
        ("ii->i", "i", vec![vec![5, 5]]),
        ("ij->ji", "ji", vec![vec![5, 3]]),
        ("ji", "ij", vec![vec![5, 3]]),
        ("ij", "ij", vec![vec![5, 3]]),
        ("ij->", "", vec![vec![5, 3]]),
        ("bij,bjk->bik", "bik", vec![vec![3, 4, 5], vec![3, 5, 2]]),
        ("bij,bkj->bik", "bik", vec![vec![3, 4, 5], vec![3, 2, 5]]),
        ("bi,bi->b", "b", vec![vec![4, 5], vec![4, 5]]),
        ("bijk,bjk->bi", "bi", vec![vec![2, 3, 4, 2], vec![2, 4, 2]]),
        ("bi,bj->bij", "bij", vec![vec![3, 4], vec![3, 5]]),
        ("i,j->ij", "ij", vec![vec![4], vec![5]]),
        ("i,i", "", vec![vec![6], vec![6]]),
        ("i,i->i", "i", vec![vec![6], vec![6]]),
        ("ijk,jl->kli", "kli", vec![vec![3, 4, 2], vec![4, 5]]),
        (
            "ab,bc,cd->ad",
            "ad",
            vec![vec![3, 4], vec![4, 5], vec![5, 2]],
        ),
        ("iij,jk->ik", "ik", vec![vec![4, 4, 3], vec![3, 2]]),
        ("ij,ij->", "", vec![vec![4, 5], vec![4, 5]]),
        (" ij , jk -> ki ", "ki", vec![vec![2, 3], vec![3, 4]]),
    ];
    for (subs, out, shapes) in cases {
        let inputs: Vec<&str> = subs
            .split("->")
            .next()
            .unwrap()
            .split(',')
            .map(str::trim)
            .collect();
        let data: Vec<ArrayD<f64>> = shapes
            .iter()
            .enumerate()
            .map(|(i, s)| values(s, i + 1))
            .collect();
        let want = naive_einsum(&inputs, out, &data.iter().collect::<Vec<_>>());
        for chunks in [ChunkSpec::from(100), ChunkSpec::from(2), ChunkSpec::from(3)] {
            let arrays: Vec<Array> = data
                .iter()
                .map(|d| ctx.from_ndarray(d, chunks.clone()).unwrap())
                .collect();
            let refs: Vec<&Array> = arrays.iter().collect();
            let got = linalg::einsum(subs, &refs)
                .unwrap()
                .compute::<f64>(&pool)
                .unwrap();
            common::close(&got, &want, 1e-12);
        }
    }
}

#[test]
fn einsum_of_integers_and_ragged_chunks() {
    let ctx = ArrayContext::new();
    let exec = Sequential::new();
    let a = common::idata(&[6, 6], 1);
    let x = ctx.from_ndarray(&a, vec![vec![1, 5], vec![4, 2]]).unwrap();
    let tr = linalg::einsum("ii", &[&x]).unwrap();
    assert_eq!(tr.dtype(), DType::I64);
    assert_eq!(
        tr.compute_item::<i64>(&exec).unwrap(),
        (0..6).map(|i| a[[i, i]]).sum::<i64>()
    );
    let af = a.mapv(|v| v as f64);
    let y = ctx
        .from_ndarray(&af, vec![vec![2, 0, 4], vec![3, 3]])
        .unwrap();
    let got = linalg::einsum("ij,jk->ik", &[&y, &y])
        .unwrap()
        .compute::<f64>(&exec)
        .unwrap();
    common::close(&got, &naive_einsum(&["ij", "jk"], "ik", &[&af, &af]), 1e-12);
}

#[test]
fn einsum_rejects_bad_subscripts() {
    let ctx = ArrayContext::new();
    let m = random(&ctx, &[2, 3], 2, 1);
    let n = random(&ctx, &[4, 5], 2, 1);
    let bad = [
        ("ij,jk->ik", vec![&m], ErrorKind::InvalidArgument),
        ("ij", vec![&m, &m], ErrorKind::InvalidArgument),
        ("i.j", vec![&m], ErrorKind::InvalidArgument),
        ("...ij", vec![&m], ErrorKind::InvalidArgument),
        ("ij->k", vec![&m], ErrorKind::InvalidArgument),
        ("ij->ii", vec![&m], ErrorKind::InvalidArgument),
        ("ij->i->j", vec![&m], ErrorKind::InvalidArgument),
        ("i1", vec![&m], ErrorKind::InvalidArgument),
        ("ijk", vec![&m], ErrorKind::Shape),
        ("i", vec![&m], ErrorKind::Shape),
        ("ij,jk", vec![&m, &n], ErrorKind::Shape),
        ("ii", vec![&m], ErrorKind::Shape),
    ];
    for (subs, ops, kind) in bad {
        let e = linalg::einsum(subs, &ops).unwrap_err();
        assert_eq!(e.kind(), kind, "{subs}: {e}");
    }
    assert_eq!(
        linalg::einsum("", &[]).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn einsum_with_scalars_and_empty_axes() {
    let ctx = ArrayContext::new();
    let exec = Sequential::new();
    let two = ctx.from_ndarray(&ndarray::arr0(2.0).into_dyn(), 1).unwrap();
    let v = values(&[5], 1);
    let x = ctx.from_ndarray(&v, 2).unwrap();
    let got = linalg::einsum(",i->i", &[&two, &x])
        .unwrap()
        .compute::<f64>(&exec)
        .unwrap();
    common::close(&got, &(&v * 2.0), 0.0);
    let e = ctx.zeros(&[0], 1, DType::F64).unwrap();
    assert_eq!(
        linalg::einsum("i,i", &[&e, &e])
            .unwrap()
            .compute_f64(&exec)
            .unwrap(),
        0.0
    );
    let m = ctx.zeros(&[3, 0], 2, DType::F64).unwrap();
    let outer = linalg::einsum("ij,kj->ik", &[&m, &m])
        .unwrap()
        .compute::<f64>(&exec)
        .unwrap();
    common::close(&outer, &ArrayD::zeros(IxDyn(&[3, 3])), 0.0);
}

#[test]
fn square_solvers_keep_f32() {
    let ctx = ArrayContext::new();
    let exec = Sequential::new();
    let m = well_conditioned(6);
    let a = ctx
        .from_ndarray(&m.clone().into_dyn(), 4)
        .unwrap()
        .astype(DType::F32)
        .unwrap();
    let b = ctx.ones(&[6], 4, DType::F32).unwrap();
    let x = linalg::solve(&a, &b).unwrap();
    let inv = linalg::inv(&a).unwrap();
    assert_eq!((x.dtype(), inv.dtype()), (DType::F32, DType::F32));
    let x = f64_1(&x.astype(DType::F64).unwrap(), &exec);
    assert!((m.dot(&x) - 1.0).iter().all(|e| e.abs() < 1e-4));
    let inv = f64_2(&inv.astype(DType::F64).unwrap(), &exec);
    near(&m.dot(&inv), &Array2::eye(6), 1e-4);
}
