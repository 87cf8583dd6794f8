//! The examples' output: `array_bench` without arguments prints its usage (and runs nothing),
//! `arrays` prints values, not ndarray's debug layouts; `standardize` agrees with ndarray.

mod common;

use std::process::{Command, Output};

fn run(name: &str, args: &[&str]) -> Output {
    Command::new(common::build_example(name, &[]))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn array_bench_without_arguments_prints_its_usage() {
    let out = run("array_bench", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "runs nothing");
    assert!(stderr.contains("usage: array_bench CASE"), "{stderr}");
    for case in ["a", "b", "c", "d", "e", "f", "g"] {
        assert!(
            stderr.contains(&format!("  {case} ")),
            "case {case}: {stderr}"
        );
    }
    // A case it does not know, or a count that is not one, is bad input too.
    for args in [&["h"][..], &["a", "two"], &["a", "2", "0"]] {
        let out = run("array_bench", args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn arrays_example_prints_values() {
    let out = run("arrays", &[]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for debug in ["shape=", "strides=", "layout=", "const ndim", "F64("] {
        assert!(!stdout.contains(debug), "{debug:?} in\n{stdout}");
    }
    // The sum of 0..48 (the example's `x`) and its column sums, printed as plain numbers.
    assert!(
        stdout.contains("column sums [120, 126, 132, 138, 144, 150, 156, 162]"),
        "{stdout}"
    );
}

#[test]
fn standardize_example_matches_ndarray() {
    let out = run("standardize", &[]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The example checks its covariance against ndarray's and exits non-zero otherwise;
    // the diagonal of a covariance of standardized columns is one.
    assert!(
        stdout.contains("largest difference from ndarray"),
        "{stdout}"
    );
    assert_eq!(stdout.matches(" 1.000").count(), 6, "{stdout}");
}

#[cfg(feature = "zarr")]
#[test]
fn out_of_core_example_runs_small_and_checks_its_means() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let args = [
        "--gb",
        "0.004",
        "--chunk-mb",
        "1",
        "--threads",
        "2",
        "--dir",
        d,
    ];
    let out = run("out_of_core", &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for phase in ["npy:", "zarr:", "read, sqrt(2x + 1), write", "peak RSS"] {
        assert!(stdout.contains(phase), "{phase}: {stdout}");
    }
    // Its files are removed at the end.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // Bad arguments are refused with the usage.
    let out = run("out_of_core", &["--format", "tiff"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: out_of_core"));
}
