//! Scheduler overhead on the five graph shapes of perf/BENCHMARKS.md §1, interning and execution
//! timed separately, on `Pool` (2 threads) and `Sequential`, with rayon baselines and the
//! 10-task round-trip latency.
//!
//! `cargo bench --bench shapes` (all), or filter: `cargo bench --bench shapes -- exec_pool2/chain`.
//! Throughput is reported in tasks ("elements"); ns per task = 1e9 / (elements per second).

#![allow(missing_docs)] // criterion_group! generates undocumented items

use blockwork::bench_shapes::{SHAPES, latency10, shape, shape_tasks};
use blockwork::{Executor, Plan, Pool, Sequential};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mimalloc::MiMalloc;
use std::hint::black_box;
use std::time::Duration;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn shapes(c: &mut Criterion) {
    let pool = Pool::new(2).expect("pool");
    let seq = Sequential::new();
    for n in [100_000usize, 1_000_000] {
        for &name in SHAPES {
            let (graph, outs) = shape(name, n).expect("known shape");
            let plan = Plan::new(&graph, &outs).unwrap();
            let want = seq.run(&plan).unwrap().values;
            assert_eq!(pool.run(&plan).unwrap().values, want, "{name}");
            // Nominal task count, as the other engines' figures use (perf/BENCHMARKS.md §1).
            let tasks = shape_tasks(name, n) as u64;
            let mut g = c.benchmark_group(format!("{name}/{n}"));
            g.sample_size(10)
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(3))
                .throughput(Throughput::Elements(tasks));
            g.bench_function("build", |b| b.iter(|| shape(name, n).expect("known shape")));
            g.bench_function("intern", |b| b.iter(|| Plan::new(&graph, &outs).unwrap()));
            g.bench_function("exec_pool2", |b| b.iter(|| pool.run(&plan).unwrap()));
            g.bench_function("exec_seq", |b| b.iter(|| seq.run(&plan).unwrap()));
            g.finish();
        }
    }
}

fn latency(c: &mut Criterion) {
    let pool = Pool::new(2).expect("pool");
    let (graph, outs) = latency10();
    let plan = Plan::new(&graph, &outs).unwrap();
    c.bench_function("latency10/pool2", |b| b.iter(|| pool.run(&plan).unwrap()));
}

/// rayon in its natural forms, as the baseline the target table names.
fn rayon_baselines(c: &mut Criterion) {
    let rp = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    for n in [100_000usize, 1_000_000] {
        let mut g = c.benchmark_group(format!("rayon/{n}"));
        g.sample_size(10)
            .measurement_time(Duration::from_secs(3))
            .throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new("independent_par_iter", n), |b| {
            use rayon::prelude::*;
            b.iter(|| {
                rp.install(|| {
                    (0..n as i64)
                        .into_par_iter()
                        .map(|x| black_box(x) + 1)
                        .sum::<i64>()
                })
            })
        });
        g.bench_function(BenchmarkId::new("independent_scope_spawn", n), |b| {
            let out: Vec<std::sync::atomic::AtomicI64> = (0..n)
                .map(|_| std::sync::atomic::AtomicI64::new(0))
                .collect();
            b.iter(|| {
                rp.scope(|s| {
                    for (i, o) in out.iter().enumerate() {
                        s.spawn(move |_| {
                            o.store(
                                black_box(i as i64) + 1,
                                std::sync::atomic::Ordering::Relaxed,
                            )
                        });
                    }
                })
            })
        });
        g.bench_function(BenchmarkId::new("tree_join", n), |b| {
            fn reduce(lo: i64, hi: i64) -> i64 {
                if hi - lo == 1 {
                    return black_box(lo);
                }
                let mid = lo + (hi - lo) / 2;
                let (a, b) = rayon::join(|| reduce(lo, mid), || reduce(mid, hi));
                a.wrapping_add(b)
            }
            b.iter(|| rp.install(|| reduce(0, n as i64)))
        });
        g.finish();
    }
}

/// A random DAG of 1e5 tasks that pass real values (integers, lists, nested tasks, aliases
/// and literals, from `blockwork::testing`), every task needed: the nodes nobody reads are
/// joined by a fan-in-8 tree of tasks counting their arguments. The DAG's payloads are not
/// tracked: the test tracker's shared counters would make threads contend on one cache line,
/// which measures the tracker. Building, planning, and running it on `Sequential` and on
/// pools of 1 and 2 threads.
fn values_dag_graph(n: usize) -> (blockwork::Graph, blockwork::Key) {
    use blockwork::testing::{DagConfig, TestDag};
    use blockwork::{Arg, Key, Op, Value};
    let cfg = DagConfig {
        min_nodes: n,
        max_nodes: n,
        tracked: false,
        ..DagConfig::default()
    };
    let dag = TestDag::from_seed(7, &cfg);
    let mut g = dag.graph.clone();
    let mut level: Vec<Key> = g
        .dependents()
        .into_iter()
        .filter(|(_, users)| users.is_empty())
        .map(|(k, _)| k)
        .collect();
    let count = Op::new("count", |args: &[Value]| Ok(Value::Int(args.len() as i64)));
    let mut depth = 0;
    while level.len() > 1 {
        level = level
            .chunks(8)
            .enumerate()
            .map(|(j, group)| {
                let key = Key::tuple("join", [depth, j as i64]);
                let task = blockwork::Task::new(&count, group.iter().cloned().map(Arg::Ref));
                g.insert(key.clone(), blockwork::Node::Task(task));
                key
            })
            .collect();
        depth += 1;
    }
    (g, level.pop().expect("a non-empty DAG"))
}

fn values_dag(c: &mut Criterion) {
    let n = 100_000;
    let (graph, out) = values_dag_graph(n);
    let outs = [out];
    let plan = Plan::new(&graph, &outs).expect("a generated DAG plans");
    // Every node is needed; aliases are not tasks.
    assert!(plan.len() > n / 2, "{} tasks", plan.len());
    eprintln!(
        "values_dag: {} tasks, {} graph nodes",
        plan.len(),
        graph.len()
    );
    let seq = Sequential::new();
    let want = seq.run(&plan).unwrap().values;
    let mut g = c.benchmark_group(format!("values_dag/{n}"));
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(plan.len() as u64));
    g.bench_function("intern", |b| b.iter(|| Plan::new(&graph, &outs).unwrap()));
    g.bench_function("exec_seq", |b| b.iter(|| seq.run(&plan).unwrap()));
    for threads in [1, 2] {
        let pool = Pool::new(threads).expect("pool");
        assert_eq!(pool.run(&plan).unwrap().values, want);
        g.bench_function(format!("exec_pool{threads}"), |b| {
            b.iter(|| pool.run(&plan).unwrap())
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = shapes, latency, rayon_baselines, values_dag
}
criterion_main!(benches);
