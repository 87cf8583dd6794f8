//! Failures and embedding: failing and panicking tasks (top-level and nested) are reported
//! with their key and op and leave the pool usable and nothing alive; runs on one pool from
//! several threads do not disturb each other; observers see every task once; bad pool
//! arguments, re-entrant submission and pool shutdown.
//!
//! Under Miri (sizes shrink): see `tests/exec_equivalence.rs` for the command and its flags.

use blockwork::testing::{Tracked, Tracker, canonical};
use blockwork::*;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier, OnceLock};

const RERUNS: usize = if cfg!(miri) { 5 } else { 1000 };
const CALLERS: usize = 4;
const RUNS_PER_CALLER: usize = if cfg!(miri) { 3 } else { 200 };

fn pool(threads: usize) -> Pool {
    Pool::builder().threads(threads).pin(false).build().unwrap()
}

/// A fan of `width` tracked values summed by `sum`, where `("w", bad)` (if any) runs `bad_op`.
fn fan(tracker: &Tracker, width: i64, bad: Option<(i64, &Op)>) -> Graph {
    let t = tracker.clone();
    let make = Op::new("make", move |a: &[Value]| {
        Ok(t.value(a[0].as_int().unwrap()))
    });
    let t = tracker.clone();
    let sum = Op::new("sum", move |a: &[Value]| {
        Ok(t.value(a.iter().map(|v| canonical(v).as_int().unwrap()).sum()))
    });
    let mut b = GraphBuilder::new();
    for i in 0..width {
        match bad {
            Some((j, op)) if i == j => b.task(("w", i), op, [Arg::key(("w", i - 1))]),
            _ => b.task(("w", i), &make, [Arg::lit(i)]),
        }
        .unwrap();
    }
    b.task("sum", &sum, (0..width).map(|i| Arg::key(("w", i))))
        .unwrap();
    b.build()
}

fn fan_sum(width: i64) -> i64 {
    width * (width - 1) / 2
}

fn assert_task_error(e: &Error, key: &Key, op: &str, kind: ErrorKind, message: &str) {
    assert_eq!(e.kind(), kind, "{e}");
    let Error::Task {
        key: k,
        op: o,
        message: m,
        panicked,
        cause,
        ..
    } = e
    else {
        panic!("not a task error: {e:?}")
    };
    assert_eq!((k, &**o, m.as_str()), (key, op, message));
    assert_eq!(*panicked, kind == ErrorKind::TaskPanicked);
    assert_eq!(*panicked, *cause == ErrorKind::TaskPanicked);
    assert_eq!(e.task_key(), Some(key));
    let shown = e.to_string();
    assert!(
        shown.contains(&key.to_string()) && shown.contains(op),
        "{shown}"
    );
}

#[test]
fn failing_and_panicking_tasks_name_key_and_op_then_the_pool_recovers() {
    let boom = Op::new("boom", |_| Err(TaskError::new("it broke")));
    let panics = Op::new("kaboom", |_| panic!("it panicked"));
    let pool = pool(3);
    let tracker = Tracker::new();
    for (op, kind, msg) in [
        (&boom, ErrorKind::TaskFailed, "it broke"),
        (&panics, ErrorKind::TaskPanicked, "it panicked"),
    ] {
        let g = fan(&tracker, 100, Some((57, op)));
        let key = Key::from(("w", 57));
        let e = Sequential::new().get(&g, "sum").unwrap_err();
        assert_task_error(&e, &key, op.name(), kind, msg);
        assert_eq!(tracker.live(), 0, "the sequential run freed everything");
        for _ in 0..20 {
            let e = pool.get(&g, "sum").unwrap_err();
            assert_task_error(&e, &key, op.name(), kind, msg);
            assert_eq!(tracker.live(), 0, "the failed pool run freed everything");
        }
    }
    // The same pool then runs a thousand more graphs correctly, still freeing everything.
    for i in 0..RERUNS {
        let width = 1 + (i as i64 * 7) % 90;
        let good = fan(&tracker, width, None);
        let plan = Plan::new(&good, &[Key::from("sum")]).unwrap();
        let out = pool.run(&plan).unwrap();
        assert_eq!(canonical(&out.values[0]), Value::Int(fan_sum(width)));
        assert_eq!(out.stats.tasks_run as usize, plan.len());
        assert_eq!(out.stats.leaked_values, 0);
        drop(out);
        assert_eq!(tracker.live(), 0);
    }
}

#[test]
fn a_typed_error_keeps_its_message() {
    // An op's `Error` converts into the task failure: kind TaskFailed, the message kept.
    let checked = Op::typed("checked_div", |a: i64, b: i64| -> Result<i64> {
        if b == 0 {
            Err(Error::new(ErrorKind::InvalidArgument, "division by zero"))
        } else {
            Ok(a / b)
        }
    });
    let mut b = GraphBuilder::new();
    b.task("q", &checked, [Arg::lit(1), Arg::lit(0)]).unwrap();
    b.task("wrong_type", &checked, [Arg::lit("x"), Arg::lit(1)])
        .unwrap();
    b.task("fine", &checked, [Arg::lit(7), Arg::lit(2)])
        .unwrap();
    let g = b.build();
    let e = pool(2).get(&g, "q").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TaskFailed);
    assert_eq!(e.task_key(), Some(&Key::from("q")));
    assert!(e.to_string().contains("division by zero"), "{e}");
    let e = Sequential::new().get(&g, "wrong_type").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TaskFailed);
    assert!(e.to_string().contains("expected int, got str"), "{e}");
    assert_eq!(pool(2).get(&g, "fine").unwrap(), Value::Int(3));
}

#[test]
fn failure_inside_a_nested_task_names_the_holder_and_the_nested_op() {
    let tracker = Tracker::new();
    let t = tracker.clone();
    let make = Op::new("make", move |a: &[Value]| Ok(t.value(a.len() as i64)));
    let inner_fail = Op::new("inner_fail", |_| Err(TaskError::new("deep trouble")));
    let inner_panic = Op::new("inner_panic", |_| panic!("deep panic"));
    let id = Op::typed("id", |v: Value| v);
    for (op, kind, msg) in [
        (&inner_fail, ErrorKind::TaskFailed, "deep trouble"),
        (&inner_panic, ErrorKind::TaskPanicked, "deep panic"),
    ] {
        let mut b = GraphBuilder::new();
        b.task("a", &make, []).unwrap();
        let nested = Arg::list([
            Arg::key("a"),
            Arg::task(&id, [Arg::task(op, [Arg::key("a")])]),
        ]);
        b.task(("holder", 3), &make, [nested]).unwrap();
        b.task("after", &make, [Arg::key(("holder", 3))]).unwrap();
        let g = b.build();
        let key = Key::from(("holder", 3));
        let e = Sequential::new().get(&g, "after").unwrap_err();
        // The key is the node holding the nested task; the op is the one that failed.
        assert_task_error(&e, &key, op.name(), kind, msg);
        let e = pool(2).get(&g, "after").unwrap_err();
        assert_task_error(&e, &key, op.name(), kind, msg);
        assert_eq!(tracker.live(), 0);
    }
}

#[test]
fn a_failing_run_does_not_disturb_a_concurrent_run() {
    let pool = pool(2);
    let boom = Op::new("boom", |_| Err(TaskError::new("bad")));
    let good_tracker = Tracker::new();
    let bad_tracker = Tracker::new();
    let good = fan(&good_tracker, 300, None);
    let bad = fan(&bad_tracker, 300, Some((150, &boom)));
    let good_plan = Plan::new(&good, &[Key::from("sum")]).unwrap();
    let bad_plan = Plan::new(&bad, &[Key::from("sum")]).unwrap();
    let rounds = RUNS_PER_CALLER;
    let start = Barrier::new(2);
    std::thread::scope(|s| {
        s.spawn(|| {
            start.wait();
            for _ in 0..rounds {
                let e = pool.run(&bad_plan).unwrap_err();
                assert_eq!(e.task_key(), Some(&Key::from(("w", 150))));
            }
        });
        start.wait();
        for _ in 0..rounds {
            let out = pool.run(&good_plan).unwrap();
            assert_eq!(canonical(&out.values[0]), Value::Int(fan_sum(300)));
            assert_eq!(out.stats.tasks_run as usize, good_plan.len());
            assert_eq!(out.stats.leaked_values, 0);
        }
    });
    assert_eq!(good_tracker.live(), 0);
    assert_eq!(bad_tracker.live(), 0);
}

#[test]
fn many_concurrent_callers_share_one_pool() {
    let pool = pool(2);
    let tracker = Tracker::new();
    let graphs: Vec<(Plan, i64)> = (0..CALLERS as i64)
        .map(|c| {
            let width = 10 + 7 * c;
            let g = fan(&tracker, width, None);
            (Plan::new(&g, &[Key::from("sum")]).unwrap(), fan_sum(width))
        })
        .collect();
    std::thread::scope(|s| {
        for (plan, want) in &graphs {
            let pool = &pool;
            s.spawn(move || {
                for _ in 0..RUNS_PER_CALLER {
                    let out = pool.run(plan).unwrap();
                    let got = out.values[0].downcast_ref::<Tracked>().unwrap().get();
                    assert_eq!(got, *want);
                    assert_eq!(out.stats.tasks_run as usize, plan.len());
                }
            });
        }
    });
    assert_eq!(tracker.live(), 0);
}

/// Counts every callback, per task.
struct Counting {
    n: usize,
    threads: usize,
    started: Vec<AtomicU32>,
    finished: Vec<AtomicU32>,
    runs: [AtomicU32; 2],
}

impl Counting {
    fn new(n: usize, threads: usize) -> Counting {
        Counting {
            n,
            threads,
            started: (0..n).map(|_| AtomicU32::new(0)).collect(),
            finished: (0..n).map(|_| AtomicU32::new(0)).collect(),
            runs: Default::default(),
        }
    }
}

impl Observer for Counting {
    fn run_started(&self, plan: &Plan) {
        assert_eq!(plan.len(), self.n);
        self.runs[0].fetch_add(1, Ordering::SeqCst);
    }
    fn task_started(&self, _: &Plan, task: TaskId, worker: usize) {
        assert!(worker < self.threads);
        // A task starts only once, and only after it has not finished.
        assert_eq!(self.finished[task.index()].load(Ordering::SeqCst), 0);
        self.started[task.index()].fetch_add(1, Ordering::SeqCst);
    }
    fn task_finished(&self, _: &Plan, task: TaskId, worker: usize) {
        assert!(worker < self.threads);
        self.finished[task.index()].fetch_add(1, Ordering::SeqCst);
    }
    fn run_finished(&self, _: &Plan, stats: &RunStats) {
        assert_eq!(stats.tasks_run as usize, self.n);
        self.runs[1].fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn observers_see_every_task_start_and_finish_exactly_once() {
    let tracker = Tracker::new();
    let g = fan(&tracker, 500, None);
    let plan = Plan::new(&g, &[Key::from("sum")]).unwrap();
    let seq: Box<dyn Executor> = Box::new(Sequential::new());
    for (exec, threads) in [(seq, 1), (Box::new(pool(3)) as Box<dyn Executor>, 3)] {
        let counting = Arc::new(Counting::new(plan.len(), threads));
        let out = exec
            .run_with(&plan, &RunOptions::with_observer(counting.clone()))
            .unwrap();
        assert_eq!(canonical(&out.values[0]), Value::Int(fan_sum(500)));
        for t in plan.tasks() {
            assert_eq!(counting.started[t.index()].load(Ordering::SeqCst), 1);
            assert_eq!(counting.finished[t.index()].load(Ordering::SeqCst), 1);
        }
        assert_eq!(
            counting.runs.each_ref().map(|r| r.load(Ordering::SeqCst)),
            [1, 1]
        );
    }
}

#[test]
fn pool_argument_errors() {
    let e = Pool::new(0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let e = Pool::builder().threads(0).pin(false).build().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains('0'), "{e}");
    let e = Pool::builder().threads(100_000).build().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

/// A task computing a graph on the pool it runs on: its worker helps (runs the pool's jobs
/// while it waits), so this works with one thread and with nesting several levels deep,
/// and a wide nested fan is shared with the other workers.
#[test]
fn a_task_computing_on_its_own_pool_is_helped_not_deadlocked() {
    for threads in [1, 2, 4] {
        let pool: Arc<OnceLock<Pool>> = Arc::new(OnceLock::new());
        let calls = Arc::new(AtomicU32::new(0));
        // level(n): a graph whose task computes level(n - 1) on the same pool, summing a fan of
        // 40 leaves at the bottom.
        fn level(pool: &Arc<OnceLock<Pool>>, calls: &Arc<AtomicU32>, n: u32) -> Graph {
            let mut b = GraphBuilder::new();
            if n == 0 {
                let leaf = Op::typed("leaf", |i: i64| i * 2);
                let sum = Op::new("sum", |a: &[Value]| {
                    Ok(Value::Int(a.iter().map(|v| v.as_int().unwrap()).sum()))
                });
                for i in 0..40i64 {
                    b.task(("leaf", i), &leaf, [Arg::lit(i)]).unwrap();
                }
                b.task("top", &sum, (0..40i64).map(|i| Arg::key(("leaf", i))))
                    .unwrap();
            } else {
                let inner = level(pool, calls, n - 1);
                let (p, c) = (pool.clone(), calls.clone());
                let nested = Op::new("nested", move |_: &[Value]| {
                    c.fetch_add(1, Ordering::SeqCst);
                    let v = p.get().expect("set").get(&inner, "top")?;
                    Ok(Value::Int(v.as_int().unwrap() + 1))
                });
                // Two nested computations side by side, so workers help each other.
                b.task("a", &nested, []).unwrap();
                b.task("b", &nested, []).unwrap();
                let add = Op::typed("add", |x: i64, y: i64| x + y);
                b.task("top", &add, [Arg::key("a"), Arg::key("b")]).unwrap();
            }
            b.build()
        }
        let g = level(&pool, &calls, 3);
        pool.set(self::pool(threads)).unwrap();
        // level 0: 2 * (0 + ... + 39) = 1560; level n: 2 * (level n-1 + 1).
        let want = (0..3).fold(1560i64, |v, _| 2 * (v + 1));
        let p = pool.get().unwrap();
        for _ in 0..20 {
            assert_eq!(
                p.get(&g, "top").unwrap(),
                Value::Int(want),
                "{threads} threads"
            );
        }
        assert_eq!(calls.load(Ordering::SeqCst), 20 * (2 + 4 + 8));
        // The pool runs graphs from a caller's thread as before.
        let mut b = GraphBuilder::new();
        b.literal("k", 6).unwrap();
        assert_eq!(p.get(&b.build(), "k").unwrap(), Value::Int(6));
    }
}

/// Worker threads that have run their thread-local destructors, i.e. exited.
static EXITED: AtomicU32 = AtomicU32::new(0);

/// Counts its thread's exit when the thread's locals are destroyed.
struct ExitGuard;

impl Drop for ExitGuard {
    fn drop(&mut self) {
        EXITED.fetch_add(1, Ordering::SeqCst);
    }
}

thread_local! {
    static GUARD: std::cell::RefCell<Option<ExitGuard>> = const { std::cell::RefCell::new(None) };
}

#[test]
fn dropping_a_pool_joins_its_threads() {
    // Five tasks that wait for each other occupy all five workers at once; each leaves a
    // thread-local guard in its worker. A thread runs its locals' destructors before it
    // ends, so once `drop(pool)` has returned (joined every worker) all five have counted.
    const N: usize = 5;
    let pool = Pool::builder().threads(N).pin(false).build().unwrap();
    let arrived = Arc::new(AtomicU32::new(0));
    let a = arrived.clone();
    let meet = Op::new("meet", move |_: &[Value]| {
        GUARD.with(|g| *g.borrow_mut() = Some(ExitGuard));
        a.fetch_add(1, Ordering::SeqCst);
        let start = std::time::Instant::now();
        while a.load(Ordering::SeqCst) < N as u32 {
            if start.elapsed() > std::time::Duration::from_secs(20) {
                return Err(TaskError::new("the workers never met"));
            }
            std::thread::yield_now();
        }
        Ok(Value::Unit)
    });
    // One root whose users are pushed for the other workers to steal: a worker stuck in
    // `meet` cannot take a second one, so each of the five runs on its own worker.
    let mut b = GraphBuilder::new();
    b.task("start", &Op::typed("start", || 0i64), []).unwrap();
    for i in 0..N {
        b.task(("meet", i), &meet, [Arg::key("start")]).unwrap();
    }
    let keys: Keys = (0..N)
        .map(|i| Keys::from(("meet", i)))
        .collect::<Vec<_>>()
        .into();
    pool.compute(&b.build(), &keys).unwrap();
    assert_eq!(arrived.load(Ordering::SeqCst), N as u32);
    assert_eq!(
        EXITED.load(Ordering::SeqCst),
        0,
        "the workers are still alive"
    );
    drop(pool);
    assert_eq!(
        EXITED.load(Ordering::SeqCst),
        N as u32,
        "drop returned before the workers ended"
    );
}

#[test]
fn a_pool_dropped_right_after_creation_or_while_idle_shuts_down() {
    // Dropping must not hang, whether the workers are starting, spinning or parked: each
    // drop runs on a helper thread that has ten seconds to finish it.
    for i in 0..if cfg!(miri) { 4 } else { 20 } {
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let pool = Pool::builder()
                .threads(1 + i % 4)
                .pin(false)
                .build()
                .unwrap();
            if i % 2 == 0 {
                std::thread::sleep(std::time::Duration::from_millis(2 + i as u64));
            }
            drop(pool);
            done.send(()).unwrap();
        });
        let waited = finished.recv_timeout(std::time::Duration::from_secs(10));
        assert!(waited.is_ok(), "dropping pool {i} did not finish");
    }
}

#[test]
fn runs_after_the_workers_went_to_sleep() {
    // Idle workers spin a while, then park; a run submitted after that must wake them.
    let pool = pool(3);
    let tracker = Tracker::new();
    let g = fan(&tracker, 50, None);
    for i in 0..if cfg!(miri) { 2 } else { 20 } {
        std::thread::sleep(std::time::Duration::from_millis(if i % 2 == 0 {
            15
        } else {
            1
        }));
        assert_eq!(
            canonical(&pool.get(&g, "sum").unwrap()),
            Value::Int(fan_sum(50))
        );
    }
    assert_eq!(tracker.live(), 0);
}
