//! Blockwork and rayon in one process: runs submitted from rayon's threads, rayon used inside
//! tasks, and both at once with separate rayon pools, checked against plain loops.

use blockwork::{Arg, Executor, GraphBuilder, Op, Pool, Sequential, Value};
use rayon::prelude::*;

/// A graph summing `f(i)` for `i` in `0..n` through one task per `i` and a final sum, with
/// `op` as `f`.
fn sum_graph(op: &Op, n: i64) -> blockwork::Graph {
    let add = Op::typed("sum", |xs: Vec<i64>| xs.iter().sum::<i64>());
    let mut b = GraphBuilder::new();
    for i in 0..n {
        b.task(("f", i), op, [Arg::lit(i)]).unwrap();
    }
    b.task(
        "total",
        &add,
        [Arg::list((0..n).map(|i| Arg::key(("f", i))))],
    )
    .unwrap();
    b.build()
}

/// An op summing the range `range(i)` with rayon's parallel iterators, on a 2-thread rayon
/// pool of its own.
fn par_sum_op(range: fn(i64) -> std::ops::Range<i64>) -> Op {
    let inner = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    Op::typed("par_sum", move |i: i64| {
        inner.install(|| range(i).into_par_iter().sum::<i64>())
    })
}

#[test]
fn runs_submitted_from_rayon_threads_share_one_pool() {
    let pool = Pool::builder().threads(2).pin(false).build().unwrap();
    let square = Op::typed("square", |x: i64| x * x);
    let callers = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap();
    let totals: Vec<i64> = callers.install(|| {
        (1..=32i64)
            .into_par_iter()
            .map(|n| {
                let g = sum_graph(&square, n);
                pool.get(&g, "total").unwrap().as_int().unwrap()
            })
            .collect()
    });
    for (n, total) in (1..=32i64).zip(totals) {
        assert_eq!(total, (0..n).map(|i| i * i).sum::<i64>(), "n = {n}");
    }
}

#[test]
fn tasks_may_use_rayon_inside() {
    // Each task sums its own range with rayon's parallel iterators on a pool of its own.
    let par_sum = par_sum_op(|i| 0..1000 * (i + 1));
    let g = sum_graph(&par_sum, 16);
    let want: i64 = (0..16i64).map(|i| (0..1000 * (i + 1)).sum::<i64>()).sum();
    let pool = Pool::builder().threads(2).pin(false).build().unwrap();
    assert_eq!(pool.get(&g, "total").unwrap(), Value::Int(want));
    assert_eq!(
        Sequential::new().get(&g, "total").unwrap(),
        Value::Int(want)
    );
}

#[test]
fn rayon_callers_and_rayon_inside_tasks_with_separate_pools() {
    // Callers on one rayon pool, tasks using another: no thread of either waits on itself.
    let par_sum = par_sum_op(|i| 0..i + 1);
    let pool = Pool::builder().threads(2).pin(false).build().unwrap();
    let callers = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let totals: Vec<i64> = callers.install(|| {
        (1..=24i64)
            .into_par_iter()
            .map(|n| {
                pool.get(&sum_graph(&par_sum, n), "total")
                    .unwrap()
                    .as_int()
                    .unwrap()
            })
            .collect()
    });
    for (n, total) in (1..=24i64).zip(totals) {
        let want: i64 = (0..n).map(|i| i * (i + 1) / 2).sum();
        assert_eq!(total, want, "n = {n}");
    }
}
