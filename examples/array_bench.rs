//! The array benchmark workloads (perf/BENCHMARKS.md §2), one per run, for timing and peak RSS:
//!
//! ```text
//! cargo run --release --example array_bench -- CASE [THREADS] [REPEATS] [N]   # no CASE: usage
//! /usr/bin/time -v target/release/examples/array_bench g 2 1   # peak RSS ("Maximum resident set size")
//! ```
//!
//! CASE is one of `a` (elementwise, persisted), `b` (sum of random), `c` (transpose add,
//! column sums), `d` (matmul), `e` (slice mean), `f` (std), `g` (mean of a 12.8 GB random
//! array), and the 1-d and tall cases `sort`, `unique`, `histogram` (N elements), `tsqr` and
//! `svd` (N rows of 100 columns), as [`blockwork::array::bench`] defines them. N (the side, the
//! element or the row count) defaults to the full size of perf/BENCHMARKS.md. Inputs are built
//! before timing; each case runs once untimed, then REPEATS times. The value printed is
//! [`Workload::value`] of the result (computed after the timing).

use blockwork::Pool;
use blockwork::array::ArrayContext;
use blockwork::array::bench::Workload;
use mimalloc::MiMalloc;
use std::time::Instant;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// The cases: name, side (the full sizes of perf/BENCHMARKS.md §2) and what each computes.
const CASES: &[(&str, usize, &str)] = &[
    ("a", 10_000, "(x + 1) * 2 - y, persisted (inputs 1.6 GB)"),
    ("b", 20_000, "random((20000, 20000)).sum()"),
    ("c", 10_000, "(x + x.T).sum(axis=0)"),
    ("d", 4096, "x @ y"),
    ("e", 10_000, "x[::2, 100:-100].mean()"),
    ("f", 10_000, "x.std()"),
    (
        "g",
        40_000,
        "random((40000, 40000)).mean(), 12.8 GB logical",
    ),
    (
        "sort",
        100_000_000,
        "sort of n uniform float64 (n elements, not a side)",
    ),
    ("unique", 100_000_000, "unique of n int64 in 0..10000"),
    (
        "histogram",
        200_000_000,
        "histogram of n generated values, 100 bins",
    ),
    (
        "tsqr",
        2_000_000,
        "tsqr of an n x 100 matrix in 20 row blocks, q and r persisted",
    ),
    (
        "svd",
        2_000_000,
        "svd of an n x 100 matrix in 20 row blocks, u, s, vh persisted",
    ),
];

/// Prints the usage to standard error and exits with 2 (bad arguments).
fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("array_bench: {problem}");
    }
    eprintln!(
        "usage: array_bench CASE [THREADS] [REPEATS] [N]   (defaults: 2 threads, 5 repeats, \
         the size below)"
    );
    eprintln!("cases:");
    for (case, n, what) in CASES {
        eprintln!("  {case:<9}  n {n:>11}  {what}");
    }
    std::process::exit(2)
}

/// The positive count in `arg`, or `default` when absent.
fn count(arg: Option<&String>, what: &str, default: usize) -> usize {
    match arg.map(|s| s.parse::<usize>()) {
        None => default,
        Some(Ok(v)) if v > 0 => v,
        Some(_) => usage(&format!("{what} must be a positive integer")),
    }
}

/// Minor page faults of this process so far (Linux `/proc/self/stat`, field 10).
fn minor_faults() -> u64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = s.rsplit(')').next().unwrap_or("");
    rest.split_whitespace()
        .nth(7)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() -> blockwork::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let Some(case) = args.get(1).map(String::as_str) else {
        usage("")
    };
    let Some(&(_, full, _)) = CASES.iter().find(|c| c.0 == case) else {
        usage(&format!("unknown case {case:?}"))
    };
    if args.len() > 5 {
        usage("too many arguments");
    }
    let threads = count(args.get(2), "THREADS", 2);
    let reps = count(args.get(3), "REPEATS", 5);
    let n = count(args.get(4), "N", full);
    let pool = Pool::new(threads)?;
    let ctx = ArrayContext::new();
    let w = Workload::prepare(&ctx, &pool, &format!("array_{case}"), n)?;
    let first = w.value(&w.run(&pool)?, &pool)?;
    let faults0 = minor_faults();
    let mut times = Vec::new();
    for _ in 0..reps {
        let t = Instant::now();
        let out = w.run(&pool)?;
        times.push(t.elapsed().as_secs_f64());
        let v = w.value(&out, &pool)?;
        assert_eq!(v.to_bits(), first.to_bits(), "results differ between runs");
    }
    let faults = minor_faults() - faults0;
    times.sort_by(f64::total_cmp);
    let med = times[times.len() / 2];
    let extra = if case == "d" {
        format!(", {:.1} GFLOP/s", 2.0 * (n as f64).powi(3) / med / 1e9)
    } else {
        String::new()
    };
    println!(
        "case {case} threads {threads}: median {med:.4} s, min {:.4} s{extra} (value {first})",
        times[0]
    );
    let pool_stats = ctx.pool().stats();
    eprintln!(
        "buffer pool: {} hits, {} misses, {} bytes held; minor page faults per timed run: {}",
        pool_stats.hits,
        pool_stats.misses,
        pool_stats.held_bytes,
        faults / reps as u64
    );
    Ok(())
}
