//! Memory behaviour: the live set of a tree reduction stays small whatever the number of
//! leaves, measured both by the executors' statistics and independently by a payload that
//! counts itself; and a chain of a million tasks runs without exhausting the stack.
//!
//! The million-task chain runs in release builds only; in debug builds it is ignored. The
//! ten-million-task chain (about 3.2 GB of graph and plan) is kept out of the default run:
//! `cargo test --release --test memory -- --ignored` runs it.
//!
//! Under Miri (sizes shrink): see `tests/exec_equivalence.rs` for the command and its flags.

use blockwork::testing::{Tracked, Tracker};
use blockwork::*;
use std::sync::Arc;

const LEAVES_LOG2: u32 = if cfg!(miri) { 6 } else { 16 };

/// A binary tree reduction over `2^depth` leaf tasks, each leaf and each sum a tracked
/// payload. Returns the graph and the root key.
fn tree(depth: u32, tracker: &Tracker) -> (Graph, Key) {
    let t = tracker.clone();
    let leaf = Op::new("leaf", move |a: &[Value]| {
        Ok(t.value(a[0].as_int().expect("an index")))
    });
    let t = tracker.clone();
    let add = Op::new("add", move |a: &[Value]| {
        let x = |v: &Value| v.downcast_ref::<Tracked>().expect("tracked").get();
        Ok(t.value(x(&a[0]) + x(&a[1])))
    });
    let n = 1usize << depth;
    let mut b = GraphBuilder::with_capacity(2 * n);
    for i in 0..n {
        b.task(("t", 0, i), &leaf, [Arg::lit(i as i64)]).unwrap();
    }
    for level in 1..=depth as usize {
        for i in 0..n >> level {
            let l = Arg::key(("t", level - 1, 2 * i));
            let r = Arg::key(("t", level - 1, 2 * i + 1));
            b.task(("t", level, i), &add, [l, r]).unwrap();
        }
    }
    (b.build(), Key::from(("t", depth as usize, 0)))
}

/// Runs the tree once and returns (reported peak, tracked peak), after checking the sum,
/// the task count and that everything is freed.
fn run_tree(exec: &dyn Fn(&Plan) -> Result<RunOutput>, depth: u32) -> (i64, i64) {
    let tracker = Tracker::new();
    let (g, root) = tree(depth, &tracker);
    let plan = Plan::new(&g, &[root]).unwrap();
    let n = 1i64 << depth;
    let out = exec(&plan).unwrap();
    let sum = out.values[0].downcast_ref::<Tracked>().unwrap().get();
    assert_eq!(sum, n * (n - 1) / 2);
    assert_eq!(out.stats.tasks_run as usize, plan.len());
    assert_eq!(out.stats.leaked_values, 0);
    assert_eq!(tracker.created() as usize, plan.len(), "each task ran once");
    assert_eq!(tracker.live(), 1, "only the root is alive");
    let reported = out.stats.peak_live_values as i64;
    drop(out);
    assert_eq!(tracker.live(), 0);
    (reported, tracker.peak())
}

#[test]
fn tree_reduction_sequential_peak_is_depth_plus_two() {
    // Post-order: at the deepest point one pending left sibling per level above the leaves
    // (depth - 1 of them), both leaves, and the sum being made: exactly depth + 2.
    for depth in [1, 4, 10, LEAVES_LOG2] {
        let (reported, tracked) = run_tree(&|p| Sequential::new().run(p), depth);
        assert_eq!(tracked, depth as i64 + 2, "true peak at depth {depth}");
        assert_eq!(reported, tracked, "the sequential peak is exact");
    }
}

/// The bound for a pool of `threads` workers on a tree of `depth` levels.
///
/// The pool hands out the leaves (its roots) as aligned, halved ranges; each worker
/// reduces its range in post-order, so it holds at most `depth + 2` values of its own, and
/// each range boundary leaves at most one finished subtree per level waiting for its
/// sibling. We allow `2 × threads × (depth + 2)`: linear in the threads and in the depth,
/// independent of the number of leaves (a tree of 2^16 leaves has 131 071 tasks).
fn pool_bound(threads: usize, depth: u32) -> i64 {
    2 * threads as i64 * (depth as i64 + 2)
}

#[test]
fn tree_reduction_pool_peak_is_bounded() {
    for threads in [2, 8] {
        let pool = Pool::builder().threads(threads).pin(false).build().unwrap();
        let slack = threads as i64 * 64;
        let mut worst = 0;
        for _ in 0..3 {
            let (reported, tracked) = run_tree(&|p| pool.run(p), LEAVES_LOG2);
            let bound = pool_bound(threads, LEAVES_LOG2);
            assert!(
                tracked <= bound,
                "{threads} threads: true peak {tracked} > {bound}"
            );
            // The reported peak lags the true one by at most one flush per worker.
            assert!(
                (reported - tracked).abs() <= slack,
                "{threads} threads: reported {reported}, true {tracked}"
            );
            worst = worst.max(tracked);
        }
        eprintln!("{threads} threads, 2^{LEAVES_LOG2} leaves: true peak {worst}");
    }
}

#[test]
fn tree_reduction_pool_peak_does_not_grow_with_leaves() {
    // Sixteen times the leaves may add at most 4 levels' worth of values per worker.
    let threads = 2;
    let pool = Pool::builder().threads(threads).pin(false).build().unwrap();
    let small = LEAVES_LOG2 - 4;
    let peak = |d| {
        (0..3)
            .map(|_| run_tree(&|p| pool.run(p), d).1)
            .max()
            .unwrap()
    };
    let (a, b) = (peak(small), peak(LEAVES_LOG2));
    assert!(
        b <= a + pool_bound(threads, 4),
        "2^{small}: {a}, 2^{LEAVES_LOG2}: {b}"
    );
}

/// A chain `('c', 0) = 0`, `('c', i) = ('c', i - 1) + 1`, of `n` tasks.
fn chain(n: usize) -> (Graph, Key) {
    let inc = Op::typed("inc", |x: i64| x + 1);
    let name: Arc<str> = "c".into();
    let key = |i: usize| Key::block(&name, &[i]);
    let mut b = GraphBuilder::with_capacity(n);
    b.literal(key(0), 0).unwrap();
    for i in 1..n {
        b.task(key(i), &inc, [Arg::key(key(i - 1))]).unwrap();
    }
    (b.build(), key(n - 1))
}

/// Runs a chain of `n` tasks on both executors: one live value at a time, nothing leaked,
/// and no recursion as deep as the chain.
fn long_chain_sequential_and_pool(n: usize) {
    let (g, last) = chain(n);
    let plan = Plan::new(&g, &[last]).unwrap();
    drop(g);
    assert_eq!(plan.len(), n);
    let want = Value::Int(n as i64 - 1);
    let s = Sequential::new().run(&plan).unwrap();
    assert_eq!(s.values, std::slice::from_ref(&want));
    assert!(s.stats.peak_live_values <= 2, "{:?}", s.stats);
    let pool = Pool::builder().threads(2).pin(false).build().unwrap();
    let p = pool.run(&plan).unwrap();
    assert_eq!(p.values, [want]);
    assert_eq!(p.stats.tasks_run as usize, n);
    assert_eq!(p.stats.leaked_values, 0);
    assert!(p.stats.peak_live_values <= 2 + p.stats.peak_tolerance);
}

#[test]
#[cfg_attr(debug_assertions, ignore = "a million tasks: release builds only")]
fn million_task_chain_sequential_and_pool() {
    long_chain_sequential_and_pool(if cfg!(miri) { 1_000 } else { 1_000_000 });
}

#[test]
#[ignore = "about 3.2 GB: cargo test --release --test memory -- --ignored"]
fn ten_million_task_chain_sequential_and_pool() {
    long_chain_sequential_and_pool(10_000_000);
}
