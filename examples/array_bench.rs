//! The array benchmark workloads (perf/BENCHMARKS.md §2), one per run, for timing and peak RSS:
//!
//! ```text
//! cargo run --release --example array_bench -- CASE [THREADS] [REPEATS]
//! /usr/bin/time -v target/release/examples/array_bench g 2 1   # peak RSS ("Maximum resident set size")
//! ```
//!
//! CASE is one of `a` (elementwise, persisted), `b` (sum of random), `c` (transpose add,
//! column sums), `d` (matmul), `e` (slice mean), `f` (std), `g` (mean of a 12.8 GB random
//! array), as [`blockwork::array::bench`] defines them. Inputs are built before timing; each
//! case runs once untimed, then REPEATS times. The value printed sums the result's elements
//! (a, c, d; computed after the timing) or is the scalar.

use blockwork::Pool;
use blockwork::array::ArrayContext;
use blockwork::array::bench::Workload;
use mimalloc::MiMalloc;
use std::time::Instant;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// The side of each case: the full sizes of perf/BENCHMARKS.md §2.
fn side(case: &str) -> usize {
    match case {
        "b" => 20_000,
        "d" => 4096,
        "g" => 40_000,
        _ => 10_000,
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
    let case = args.get(1).map(String::as_str).unwrap_or("a");
    let threads: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2);
    let reps: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5);
    let pool = Pool::new(threads)?;
    let ctx = ArrayContext::new();
    let n = side(case);
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
    eprintln!(
        "pool: {:?}; minor page faults per timed run: {}",
        ctx.pool().stats(),
        faults / reps as u64
    );
    Ok(())
}
