//! Array workloads a-g of perf/BENCHMARKS.md §2 (2 worker threads unless the name says `t1`).
//!
//! `cargo bench --bench array` runs them all (g is the slowest: filter it out with
//! `cargo bench --bench array -- '^[a-f]'`). Inputs are built and persisted before timing;
//! criterion's warm-up is the untimed first run.

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use blockwork::Pool;
use blockwork::array::{Array, ArrayContext, Idx};
use criterion::{Criterion, criterion_group, criterion_main};
use mimalloc::MiMalloc;
use std::time::Duration;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn input(ctx: &ArrayContext, pool: &Pool, n: usize, chunk: usize, seed: u64) -> Array {
    ctx.random(&[n, n], chunk, seed)
        .unwrap()
        .persist(pool)
        .unwrap()
}

fn arrays(c: &mut Criterion) {
    let ctx = ArrayContext::new();
    let pools = [(1, Pool::new(1).unwrap()), (2, Pool::new(2).unwrap())];
    let mut g = c.benchmark_group("array");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    {
        let p = &pools[1].1;
        let x = input(&ctx, p, 10_000, 1000, 1);
        let y = input(&ctx, p, 10_000, 1000, 2);
        for (t, p) in &pools {
            g.bench_function(format!("a_elementwise_t{t}"), |b| {
                b.iter(|| {
                    x.add(1.0)
                        .unwrap()
                        .mul(2.0)
                        .unwrap()
                        .sub(&y)
                        .unwrap()
                        .persist(p)
                        .unwrap()
                })
            });
            g.bench_function(format!("c_transpose_sum_t{t}"), |b| {
                b.iter(|| {
                    x.add(x.t())
                        .unwrap()
                        .sum(Some(0))
                        .unwrap()
                        .compute::<f64>(p)
                        .unwrap()
                })
            });
            g.bench_function(format!("e_slice_mean_t{t}"), |b| {
                let idx = [
                    Idx::slice(None, None, 2),
                    Idx::slice(Some(100), Some(-100), 1),
                ];
                b.iter(|| {
                    x.index(&idx)
                        .unwrap()
                        .mean(None)
                        .unwrap()
                        .compute_scalar(p)
                        .unwrap()
                })
            });
            g.bench_function(format!("f_std_t{t}"), |b| {
                b.iter(|| x.std(None, 0).unwrap().compute_scalar(p).unwrap())
            });
        }
    }
    for (t, p) in &pools {
        g.bench_function(format!("b_random_sum_t{t}"), |b| {
            b.iter(|| {
                ctx.random(&[20_000, 20_000], 2000, 3)
                    .unwrap()
                    .sum(None)
                    .unwrap()
                    .compute_scalar(p)
                    .unwrap()
            })
        });
    }
    {
        let p = &pools[1].1;
        let x = input(&ctx, p, 4096, 1024, 1);
        let y = input(&ctx, p, 4096, 1024, 2);
        for (t, p) in &pools {
            g.bench_function(format!("d_matmul_t{t}"), |b| {
                b.iter(|| x.matmul(&y).unwrap().persist(p).unwrap())
            });
        }
    }
    for (t, p) in &pools {
        g.bench_function(format!("g_big_mean_t{t}"), |b| {
            b.iter(|| {
                ctx.random(&[40_000, 40_000], 4000, 4)
                    .unwrap()
                    .mean(None)
                    .unwrap()
                    .compute_scalar(p)
                    .unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, arrays);
criterion_main!(benches);
