//! Array workloads a-g of perf/BENCHMARKS.md §2 (2 worker threads unless the name says `t1`).
//!
//! `cargo bench --bench array` runs them all (g is the slowest: filter it out with
//! `cargo bench --bench array -- '^[a-f]'`). Inputs are built and persisted before timing;
//! criterion's warm-up is the untimed first run. `cargo bench --bench array -- wrap_200mb`
//! times wrapping a caller's 200 MB ndarray by copy and in place. `cargo bench --bench array
//! -- linalg` times `tsqr` and `svd` of a tall 200,000 × 100 matrix in 10 row blocks (a tenth
//! of the rows of the 2,000,000 × 100 case of `dask.array.linalg.tsqr`), Q and R (or U, s and
//! Vh) computed in one run.

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use blockwork::array::{Array, ArrayContext, Idx, linalg};
use blockwork::{Pool, compute, ndarray};
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

/// Wrapping a caller's 200 MB ndarray (5000 x 5000 `f64`, blocks of 1000 x 1000): a copy
/// and a content hash (`from_ndarray`) against an in-place read (`from_shared`). Then the
/// first use of each: the sum of all elements on two threads.
fn wrap(c: &mut Criterion) {
    let ctx = ArrayContext::new();
    let pool = Pool::new(2).unwrap();
    let a = ndarray::Array2::from_shape_fn((5000, 5000), |(i, j)| (i ^ j) as f64).into_shared();
    let dyn_a = a.clone().into_dyn().into_owned();
    let mut g = c.benchmark_group("wrap_200mb");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("from_ndarray", |b| {
        b.iter(|| ctx.from_ndarray(&dyn_a, 1000).unwrap())
    });
    g.bench_function("from_shared", |b| {
        b.iter(|| ctx.from_shared(a.clone(), 1000).unwrap())
    });
    g.bench_function("from_ndarray_then_sum", |b| {
        b.iter(|| {
            let x = ctx.from_ndarray(&dyn_a, 1000).unwrap();
            x.sum(None).unwrap().compute_f64(&pool).unwrap()
        })
    });
    g.bench_function("from_shared_then_sum", |b| {
        b.iter(|| {
            let x = ctx.from_shared(a.clone(), 1000).unwrap();
            x.sum(None).unwrap().compute_f64(&pool).unwrap()
        })
    });
    g.finish();
}

/// `tsqr` and `svd` of a tall-and-skinny matrix (200,000 × 100 `f64`, 10 row blocks), every
/// factor computed in one run.
fn tall_skinny(c: &mut Criterion) {
    let ctx = ArrayContext::new();
    let pools = [(1, Pool::new(1).unwrap()), (2, Pool::new(2).unwrap())];
    let a = ctx
        .random(&[200_000, 100], vec![20_000, 100], 1)
        .unwrap()
        .persist(&pools[1].1)
        .unwrap();
    let mut g = c.benchmark_group("linalg");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for (t, p) in &pools {
        g.bench_function(format!("tsqr_200k_x_100_t{t}"), |b| {
            b.iter(|| {
                let (q, r) = linalg::tsqr(&a).unwrap();
                compute((&q, &r), p).unwrap()
            })
        });
        g.bench_function(format!("svd_200k_x_100_t{t}"), |b| {
            b.iter(|| {
                let (u, s, vh) = linalg::svd(&a).unwrap();
                compute((&u, &s, &vh), p).unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, arrays, wrap, tall_skinny);
criterion_main!(benches);
