//! Helpers shared by the array tests: sample data, chunkings and comparisons.
#![allow(dead_code, unreachable_pub)]

use blockwork::array::{ArrayContext, ChunkSpec};
use ndarray::{ArrayD, IxDyn};

/// Shapes with chunkings that exercise ragged, non-divisible, single-block, 0-d and empty
/// cases.
pub fn layouts() -> Vec<(Vec<usize>, ChunkSpec)> {
    vec![
        (vec![7, 5], ChunkSpec::from([3, 2])),
        (vec![7, 5], ChunkSpec::from(vec![vec![1, 6], vec![5]])),
        (vec![10], ChunkSpec::from(10)),
        (vec![], ChunkSpec::from(1)),
        (vec![0, 4], ChunkSpec::from(2)),
        (
            vec![6, 4, 3],
            ChunkSpec::from(vec![vec![1, 5], vec![2, 0, 2], vec![3]]),
        ),
        (vec![3, 1, 4], ChunkSpec::from(2)),
    ]
}

/// Deterministic values with signs, fractions and some repeats.
pub fn data(shape: &[usize], salt: usize) -> ArrayD<f64> {
    let mut i = 0usize;
    ArrayD::from_shape_simple_fn(IxDyn(shape), || {
        i += 1;
        let x = ((i * 7919 + salt * 104_729) % 97) as f64;
        (x - 48.0) / 8.0
    })
}

/// The same values as integers.
pub fn idata(shape: &[usize], salt: usize) -> ArrayD<i64> {
    data(shape, salt).mapv(|x| (x * 4.0).round() as i64)
}

/// Asserts equal shapes and values within `tol` (relative to magnitude), NaN equal to NaN.
#[track_caller]
pub fn close(got: &ArrayD<f64>, want: &ArrayD<f64>, tol: f64) {
    assert_eq!(got.shape(), want.shape(), "shape");
    for (g, w) in got.iter().zip(want.iter()) {
        let ok = (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= tol * (1.0 + w.abs());
        assert!(ok, "got {g}, want {w}\ngot:\n{got}\nwant:\n{want}");
    }
}

pub fn ctx() -> ArrayContext {
    ArrayContext::new()
}
