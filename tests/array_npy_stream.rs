//! `.npy` files through the streamed path (`ArrayContext::with_streaming_files`) and through
//! the page-cache hints every context gives to blocks of 1 MiB or more: the same values and
//! the same bytes as ndarray-npy and as the default path, for every element type, with
//! blocks contiguous in the file and blocks that are not, and a failed streamed write still
//! leaves no file.

mod common;

use blockwork::array::{ArrayContext, DType};
use blockwork::{ErrorKind, Pool, Sequential};
use ndarray::{ArrayD, IxDyn};

/// 300 x 1024 elements: 2.4 MB of f64, so that row blocks of 150 rows are 1.2 MB contiguous
/// runs (over the 1 MiB from which hints are given), and column blocks are not contiguous.
const SHAPE: [usize; 2] = [300, 1024];

/// Chunkings: whole-row blocks (contiguous, hinted for 8-byte types), one block, column
/// blocks (runs of 512 elements), and ragged blocks.
fn chunkings() -> [[usize; 2]; 4] {
    [[150, 1024], [300, 1024], [300, 512], [70, 333]]
}

/// Element `i` (in C order) of the reference array, as f64 before conversion.
fn value(i: usize) -> f64 {
    ((i * 7919) % 10007) as f64 - 5000.0
}

fn reference<T>(f: impl Fn(f64) -> T) -> ArrayD<T> {
    let n = SHAPE.iter().product::<usize>();
    ArrayD::from_shape_vec(IxDyn(&SHAPE), (0..n).map(|i| f(value(i))).collect()).unwrap()
}

/// Reads `path` with `chunks` through `ctx` and writes it back to `out`, both through the
/// pool of two threads; returns what was read.
fn round_trip<T: blockwork::array::Element>(
    ctx: &ArrayContext,
    path: &std::path::Path,
    out: &std::path::Path,
    chunks: [usize; 2],
) -> ArrayD<T> {
    let pool = Pool::new(2).unwrap();
    let x = ctx.from_npy(path, chunks).unwrap();
    x.to_npy(out, &pool).unwrap();
    x.compute::<T>(&pool).unwrap()
}

macro_rules! check_type {
    ($t:ty, $conv:expr) => {{
        let dir = tempfile::tempdir().unwrap();
        let (src, out) = (dir.path().join("src.npy"), dir.path().join("out.npy"));
        let a: ArrayD<$t> = reference($conv);
        ndarray_npy::write_npy(&src, &a).unwrap();
        let src_bytes = std::fs::read(&src).unwrap();
        for streaming in [false, true] {
            let ctx = ArrayContext::new().with_streaming_files(streaming);
            for chunks in chunkings() {
                let what = format!("{} {chunks:?} streaming {streaming}", stringify!($t));
                let got: ArrayD<$t> = round_trip(&ctx, &src, &out, chunks);
                assert_eq!(got, a, "read: {what}");
                let back: ArrayD<$t> = ndarray_npy::read_npy(&out).unwrap();
                assert_eq!(back, a, "written: {what}");
                // Same header and data as ndarray-npy's own file.
                assert_eq!(std::fs::read(&out).unwrap(), src_bytes, "bytes: {what}");
            }
        }
    }};
}

#[test]
fn every_type_reads_and_writes_the_same_with_and_without_streaming() {
    check_type!(f64, |v| v);
    check_type!(f32, |v| v as f32 * 0.25);
    check_type!(i64, |v| v as i64 * 1_000_003);
    check_type!(i32, |v| v as i32);
    check_type!(bool, |v| v > 0.0);
}

#[test]
fn a_streamed_pipeline_matches_a_naive_loop() {
    let dir = tempfile::tempdir().unwrap();
    let (src, out) = (dir.path().join("x.npy"), dir.path().join("y.npy"));
    let a: ArrayD<f64> = reference(|v| v.abs() / 5000.0);
    ndarray_npy::write_npy(&src, &a).unwrap();
    let ctx = ArrayContext::new().with_streaming_files(true);
    let pool = Pool::new(2).unwrap();
    let y = |ctx: &ArrayContext| {
        let x = ctx.from_npy(&src, [150, 1024]).unwrap();
        x.mul(2.0).unwrap().add(1.0).unwrap().sqrt().unwrap()
    };
    let mean = y(&ctx).mean(None).unwrap().compute_f64(&pool).unwrap();
    y(&ctx)
        .astype(DType::F32)
        .unwrap()
        .to_npy(&out, &pool)
        .unwrap();
    let want = a.mapv(|v| (2.0 * v + 1.0).sqrt());
    let naive_mean = want.iter().sum::<f64>() / want.len() as f64;
    assert!(
        (mean - naive_mean).abs() < 1e-12 * naive_mean,
        "{mean} vs {naive_mean}"
    );
    let back: ArrayD<f32> = ndarray_npy::read_npy(&out).unwrap();
    assert_eq!(back, want.mapv(|v| v as f32));
    // Overwriting the input with a function of itself still reads the old data.
    y(&ctx).to_npy(&src, &pool).unwrap();
    let back: ArrayD<f64> = ndarray_npy::read_npy(&src).unwrap();
    assert_eq!(back, want);
}

#[test]
fn a_failed_streamed_write_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = ArrayContext::new().with_streaming_files(true);
    // 4 blocks of 1.2 MB; the third fails after the first two were written (and hinted).
    let failing = common::failing_on_block_2(&ctx.ones(&SHAPE, [75, 1024], DType::F64).unwrap());
    let path = dir.path().join("never.npy");
    let err = failing.to_npy(&path, &Sequential::new()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TaskFailed);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
