//! Helpers shared by the tests: sample data, chunkings and comparisons for the arrays, and
//! the examples built as programs.
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

/// Builds the example `name` (with `features` on) in the profile of this test build and
/// returns the path of its executable.
pub fn build_example(name: &str, features: &[&str]) -> std::path::PathBuf {
    let mut cmd = std::process::Command::new(env!("CARGO"));
    cmd.args([
        "build",
        "--example",
        name,
        "--message-format=json",
        "--quiet",
    ])
    .current_dir(env!("CARGO_MANIFEST_DIR"));
    if !features.is_empty() {
        cmd.arg("--features").arg(features.join(","));
    }
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let path = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|m| m["target"]["name"] == name && m["executable"].is_string())
        .and_then(|m| m["executable"].as_str().map(std::path::PathBuf::from));
    path.unwrap_or_else(|| panic!("no executable for the example {name}"))
}

/// `x` (f64) with block 2 along axis 0 failing: the task of that block returns an error.
pub fn failing_on_block_2(x: &blockwork::array::Array) -> blockwork::array::Array {
    x.map_blocks("fail-on-2", blockwork::array::DType::F64, |b, idx| {
        if idx[0] == 2 {
            Err("block 2 fails".into())
        } else {
            Ok(b.clone())
        }
    })
    .unwrap()
}
