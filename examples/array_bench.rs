//! The array benchmark workloads (BENCHMARKS.md §2), one per run, for timing and peak RSS:
//!
//! ```text
//! cargo run --release --example array_bench -- CASE [THREADS] [REPEATS]
//! /usr/bin/time -v target/release/examples/array_bench g 2 1   # peak RSS ("Maximum resident set size")
//! ```
//!
//! CASE is one of `a` (elementwise, persisted), `b` (sum of random), `c` (transpose add,
//! column sums), `d` (matmul), `e` (slice mean), `f` (std), `g` (mean of a 12.8 GB random
//! array). Inputs are built before timing; each case runs once untimed, then REPEATS times.

use blockwork::Pool;
use blockwork::array::{Array, ArrayContext, Idx};
use mimalloc::MiMalloc;
use std::time::Instant;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn input(ctx: &ArrayContext, pool: &Pool, n: usize, chunk: usize, seed: u64) -> Array {
    ctx.random(&[n, n], chunk, seed)
        .unwrap()
        .persist(pool)
        .unwrap()
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
    let pool = std::sync::Arc::new(Pool::new(threads)?);
    let ctx = ArrayContext::new();
    let run: Box<dyn Fn() -> blockwork::Result<f64>> = match case {
        "a" => {
            let x = input(&ctx, &pool, 10_000, 1000, 1);
            let y = input(&ctx, &pool, 10_000, 1000, 2);
            let p = pool.clone();
            Box::new(move || {
                let z = x.add(1.0)?.mul(2.0)?.sub(&y)?.persist(&*p)?;
                Ok(z.len() as f64)
            })
        }
        "b" => {
            let p = pool.clone();
            let ctx = ctx.clone();
            Box::new(move || {
                ctx.random(&[20_000, 20_000], 2000, 3)?
                    .sum(None)?
                    .compute_scalar(&*p)
                    .map(|s| s.as_f64())
            })
        }
        "c" => {
            let x = input(&ctx, &pool, 10_000, 1000, 1);
            let p = pool.clone();
            Box::new(move || {
                let s = x.add(x.t())?.sum(Some(0))?.compute::<f64>(&*p)?;
                Ok(s[0] + s[9999])
            })
        }
        "d" => {
            let x = input(&ctx, &pool, 4096, 1024, 1);
            let y = input(&ctx, &pool, 4096, 1024, 2);
            let p = pool.clone();
            Box::new(move || {
                let z = x.matmul(&y)?.persist(&*p)?;
                Ok(z.len() as f64)
            })
        }
        "e" => {
            let x = input(&ctx, &pool, 10_000, 1000, 1);
            let p = pool.clone();
            Box::new(move || {
                let v = x.index(&[
                    Idx::slice(None, None, 2),
                    Idx::slice(Some(100), Some(-100), 1),
                ])?;
                v.mean(None)?.compute_scalar(&*p).map(|s| s.as_f64())
            })
        }
        "f" => {
            let x = input(&ctx, &pool, 10_000, 1000, 1);
            let p = pool.clone();
            Box::new(move || x.std(None, 0)?.compute_scalar(&*p).map(|s| s.as_f64()))
        }
        "g" => {
            let p = pool.clone();
            let ctx = ctx.clone();
            Box::new(move || {
                ctx.random(&[40_000, 40_000], 4000, 4)?
                    .mean(None)?
                    .compute_scalar(&*p)
                    .map(|s| s.as_f64())
            })
        }
        other => panic!("unknown case {other}"),
    };
    let first = run()?;
    let faults0 = minor_faults();
    let mut times = Vec::new();
    for _ in 0..reps {
        let t = Instant::now();
        let v = run()?;
        times.push(t.elapsed().as_secs_f64());
        assert_eq!(v.to_bits(), first.to_bits(), "results differ between runs");
    }
    let faults = minor_faults() - faults0;
    times.sort_by(f64::total_cmp);
    let med = times[times.len() / 2];
    let extra = if case == "d" {
        format!(", {:.1} GFLOP/s", 2.0 * 4096f64.powi(3) / med / 1e9)
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
