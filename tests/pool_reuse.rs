//! Sequences on one pool: a failed or panicking run, then good runs of the same shape.
//!
//! A failing run must leave nothing behind that a later run could see (deferred countdowns,
//! slot contents); a panic anywhere outside the op (an observer callback, a value's
//! `nbytes`, a value's `Drop`) must end the run with a typed error instead of hanging it;
//! the pool stays usable after each. Every run here is watched by a timeout so that a hang
//! fails the test instead of stalling the suite.

use blockwork::testing::{Tracked, Tracker, canonical};
use blockwork::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// How long one call may take before it counts as a hang.
const HANG: Duration = Duration::from_secs(if cfg!(miri) { 3600 } else { 60 });

/// Rounds of a sequence: `n`, or 2 under Miri.
fn rounds(n: usize) -> usize {
    if cfg!(miri) { 2 } else { n }
}

fn pool(threads: usize) -> Arc<Pool> {
    Arc::new(Pool::builder().threads(threads).pin(false).build().unwrap())
}

/// Runs `f` on another thread and returns its result, failing the test if it takes longer
/// than [`HANG`].
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(HANG)
        .unwrap_or_else(|_| panic!("{what}: no answer within {HANG:?} (hang or panic)"))
}

/// A root read by `width` middle tasks (so its free countdown is batched), each read by one
/// leaf (a single-dependency continuation); the leaves are the outputs. With `fail`, middle
/// task `fail` returns an error.
fn fan_of_chains(tracker: &Tracker, width: i64, fail: Option<i64>) -> (Graph, Vec<Key>) {
    let t = tracker.clone();
    let root = Op::new("root", move |_: &[Value]| Ok(t.value(1)));
    let t = tracker.clone();
    let mid = Op::new("mid", move |a: &[Value]| {
        let r = canonical(&a[0]).as_int().unwrap();
        let i = a[1].as_int().unwrap();
        Ok(t.value(r + i))
    });
    let bad = Op::new("bad", |_: &[Value]| Err(TaskError::new("fails on purpose")));
    let t = tracker.clone();
    let leaf = Op::new("leaf", move |a: &[Value]| {
        Ok(t.value(canonical(&a[0]).as_int().unwrap() * 10))
    });
    let mut b = GraphBuilder::new();
    b.task("r", &root, []).unwrap();
    for i in 0..width {
        let op = if fail == Some(i) { &bad } else { &mid };
        b.task(("m", i), op, [Arg::key("r"), Arg::lit(i)]).unwrap();
        b.task(("l", i), &leaf, [Arg::key(("m", i))]).unwrap();
    }
    let outs = (0..width).map(|i| Key::from(("l", i))).collect();
    (b.build(), outs)
}

fn ints(out: &RunOutput) -> Vec<i64> {
    out.values
        .iter()
        .map(|v| canonical(v).as_int().unwrap())
        .collect()
}

/// A failing run of a wide fan with continuations, then a good run of the same shape, many
/// times over on one pool: no good run may fail, read an empty slot or free early, and no
/// value may outlive its run.
fn fail_then_reuse(threads: usize, rounds: usize) {
    let pool = pool(threads);
    let tracker = Tracker::new();
    let width = 64;
    let (bad, bad_outs) = fan_of_chains(&tracker, width, Some(width / 2));
    let (good, good_outs) = fan_of_chains(&tracker, width, None);
    let bad = Arc::new(Plan::new(&bad, &bad_outs).unwrap());
    let good = Arc::new(Plan::new(&good, &good_outs).unwrap());
    let want: Vec<i64> = (0..width).map(|i| (1 + i) * 10).collect();
    let tr = tracker.clone();
    within("fail then reuse", move || {
        for round in 0..rounds {
            let e = pool.run(&bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::TaskFailed, "round {round}: {e}");
            assert_eq!(
                tr.live(),
                0,
                "round {round}: values outlived the failed run"
            );
            let out = pool
                .run(&good)
                .unwrap_or_else(|e| panic!("round {round}: good run failed: {e}"));
            assert_eq!(ints(&out), want, "round {round}");
            assert_eq!(out.stats.leaked_values, 0, "round {round}");
            drop(out);
            assert_eq!(tr.live(), 0, "round {round}: values outlived the good run");
        }
    });
}

#[test]
fn fail_then_reuse_1_thread() {
    fail_then_reuse(1, rounds(300));
}

#[test]
fn fail_then_reuse_2_threads() {
    fail_then_reuse(2, rounds(500));
}

#[test]
fn fail_then_reuse_4_threads() {
    fail_then_reuse(4, rounds(500));
}

#[test]
fn fail_then_reuse_8_threads() {
    fail_then_reuse(8, rounds(300));
}

/// Several callers alternate failing and good runs on one pool at once.
#[test]
fn concurrent_fail_and_good_runs() {
    let pool = pool(4);
    let tracker = Tracker::new();
    let (bad, bad_outs) = fan_of_chains(&tracker, 40, Some(7));
    let (good, good_outs) = fan_of_chains(&tracker, 40, None);
    let bad = Arc::new(Plan::new(&bad, &bad_outs).unwrap());
    let good = Arc::new(Plan::new(&good, &good_outs).unwrap());
    let want: Vec<i64> = (0..40).map(|i| (1 + i) * 10).collect();
    within("concurrent fail and good runs", move || {
        let callers: Vec<_> = (0..4)
            .map(|c| {
                let (pool, bad, good, want) =
                    (pool.clone(), bad.clone(), good.clone(), want.clone());
                std::thread::spawn(move || {
                    for round in 0..rounds(150) {
                        if (round + c) % 2 == 0 {
                            assert!(pool.run(&bad).is_err());
                        } else {
                            let out = pool.run(&good).unwrap();
                            assert_eq!(ints(&out), want);
                        }
                    }
                })
            })
            .collect();
        for c in callers {
            c.join().unwrap();
        }
    });
    assert_eq!(tracker.live(), 0);
}

/// Where an observer panics.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Hook {
    RunStarted,
    TaskStarted,
    TaskFinished,
    RunFinished,
}

/// An observer that panics once in `hook` for task key `("m", 3)` (or at the run hooks).
struct Panicky {
    hook: Hook,
    armed: AtomicBool,
}

impl Panicky {
    fn fire(&self, hook: Hook, plan: &Plan, task: Option<TaskId>) {
        let target = task.is_none_or(|t| *plan.key(t) == Key::from(("m", 3)));
        if hook == self.hook && target && self.armed.swap(false, Ordering::SeqCst) {
            panic!("observer hook {hook:?} panics");
        }
    }
}

impl Observer for Panicky {
    fn run_started(&self, plan: &Plan) {
        self.fire(Hook::RunStarted, plan, None);
    }
    fn task_started(&self, plan: &Plan, task: TaskId, _: usize) {
        self.fire(Hook::TaskStarted, plan, Some(task));
    }
    fn task_finished(&self, plan: &Plan, task: TaskId, _: usize) {
        self.fire(Hook::TaskFinished, plan, Some(task));
    }
    fn run_finished(&self, plan: &Plan, _: &RunStats) {
        self.fire(Hook::RunFinished, plan, None);
    }
}

fn check_observer_panic(exec: Arc<dyn Executor + Send + Sync>, hook: Hook) {
    let tracker = Tracker::new();
    let (g, outs) = fan_of_chains(&tracker, 32, None);
    let plan = Arc::new(Plan::new(&g, &outs).unwrap());
    let want: Vec<i64> = (0..32).map(|i| (1 + i) * 10).collect();
    let tr = tracker.clone();
    within(&format!("observer panic in {hook:?}"), move || {
        let obs = Arc::new(Panicky {
            hook,
            armed: AtomicBool::new(true),
        });
        let e = exec
            .run_with(&plan, &RunOptions::with_observer(obs))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::CallbackPanicked, "{hook:?}: {e}");
        let msg = e.to_string();
        assert!(msg.contains("observer"), "{hook:?}: {msg}");
        assert!(msg.contains(&format!("{hook:?} panics")), "{hook:?}: {msg}");
        assert_eq!(tr.live(), 0, "{hook:?}: values outlived the run");
        // The executor is still usable.
        for _ in 0..rounds(20) {
            assert_eq!(ints(&exec.run(&plan).unwrap()), want);
        }
    });
    assert_eq!(tracker.live(), 0);
}

#[test]
fn observer_panics_end_the_run_with_an_error() {
    for hook in [
        Hook::RunStarted,
        Hook::TaskStarted,
        Hook::TaskFinished,
        Hook::RunFinished,
    ] {
        for threads in [1, 2, 4] {
            check_observer_panic(pool(threads), hook);
        }
        check_observer_panic(Arc::new(Sequential::new()), hook);
    }
}

/// A payload whose `nbytes` or `Drop` panics when asked to.
struct Bomb {
    in_nbytes: bool,
    in_drop: bool,
    drops: Arc<AtomicUsize>,
}

impl Payload for Bomb {
    fn nbytes(&self) -> usize {
        if self.in_nbytes {
            panic!("nbytes bomb");
        }
        8
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl Drop for Bomb {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        if self.in_drop && !std::thread::panicking() {
            panic!("drop bomb");
        }
    }
}

/// `a` makes a bomb, `b` reads it (so `a`'s value is freed as `b` finishes), `out` reads
/// `b`. With `fail_later`, a task that runs after `a` fails, so the bomb is dropped while the
/// failed run is cleared instead.
fn bomb_graph(in_nbytes: bool, in_drop: bool, drops: &Arc<AtomicUsize>) -> Graph {
    let d = drops.clone();
    let make = Op::new("make", move |_: &[Value]| {
        Ok(Value::payload(Bomb {
            in_nbytes,
            in_drop,
            drops: d.clone(),
        }))
    });
    let read = Op::new("read", |a: &[Value]| {
        Ok(Value::Int(i64::from(a[0].downcast_ref::<Bomb>().is_some())))
    });
    let inc = Op::typed("inc", |x: i64| x + 1);
    let mut b = GraphBuilder::new();
    b.task("a", &make, []).unwrap();
    b.task("b", &read, [Arg::key("a")]).unwrap();
    b.task("out", &inc, [Arg::key("b")]).unwrap();
    b.build()
}

fn check_bomb(exec: Arc<dyn Executor + Send + Sync>, in_nbytes: bool, in_drop: bool) {
    let drops = Arc::new(AtomicUsize::new(0));
    let g = bomb_graph(in_nbytes, in_drop, &drops);
    let plan = Arc::new(Plan::new(&g, &["out".into()]).unwrap());
    let what = if in_nbytes { "nbytes" } else { "drop" };
    let d = drops.clone();
    within(&format!("{what} bomb"), move || {
        for round in 0..rounds(20) {
            let e = exec.run(&plan).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::CallbackPanicked, "{what}: {e}");
            let msg = e.to_string();
            assert!(msg.contains(&format!("{what} bomb")), "{msg}");
            let Error::Callback { key, .. } = &e else {
                panic!("not a callback error: {e:?}")
            };
            assert_eq!(key.as_ref(), Some(&Key::from("a")), "names the key: {msg}");
            assert_eq!(
                d.load(Ordering::SeqCst),
                round + 1,
                "the bomb was dropped once"
            );
        }
        // The executor is still usable.
        let ok = Plan::new(&bomb_graph(false, false, &d), &["out".into()]).unwrap();
        assert_eq!(exec.run(&ok).unwrap().values, vec![Value::Int(2)]);
    });
}

#[test]
fn a_panicking_nbytes_ends_the_run_with_an_error() {
    for threads in [1, 2, 4] {
        check_bomb(pool(threads), true, false);
    }
    check_bomb(Arc::new(Sequential::new()), true, false);
}

#[test]
fn a_panicking_drop_ends_the_run_with_an_error() {
    for threads in [1, 2, 4] {
        check_bomb(pool(threads), false, true);
    }
    check_bomb(Arc::new(Sequential::new()), false, true);
}

/// A value whose drop panics, alive when another task fails: it is dropped while the failed
/// run is cleared; the run's error is still the task's, and nothing panics out of the call.
#[test]
fn a_panicking_drop_while_clearing_a_failed_run() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let make = Op::new("make", move |_: &[Value]| {
        Ok(Value::payload(Bomb {
            in_nbytes: false,
            in_drop: true,
            drops: d.clone(),
        }))
    });
    let bad = Op::new("bad", |_: &[Value]| Err(TaskError::new("fails on purpose")));
    let both = Op::new("both", |_: &[Value]| Ok(Value::Int(0)));
    let mut b = GraphBuilder::new();
    b.task("a", &make, []).unwrap();
    b.task("f", &bad, [Arg::key("a")]).unwrap();
    b.task("out", &both, [Arg::key("a"), Arg::key("f")])
        .unwrap();
    let plan = Arc::new(Plan::new(&b.build(), &["out".into()]).unwrap());
    let d = drops.clone();
    for exec in [
        pool(2) as Arc<dyn Executor + Send + Sync>,
        Arc::new(Sequential::new()),
    ] {
        let (plan, d) = (plan.clone(), d.clone());
        within("drop bomb while clearing", move || {
            let before = d.load(Ordering::SeqCst);
            let e = exec.run(&plan).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::TaskFailed, "{e}");
            assert_eq!(d.load(Ordering::SeqCst), before + 1);
            let e = exec.run(&plan).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::TaskFailed, "{e}");
        });
    }
}

/// Recycled run buffers hold nothing: every value of a successful run is gone when the
/// caller drops the outputs, including when outputs repeat.
#[test]
fn successful_runs_leave_nothing_behind() {
    let pool = pool(3);
    let tracker = Tracker::new();
    let (g, mut outs) = fan_of_chains(&tracker, 48, None);
    outs.push(outs[0].clone());
    outs.push(Key::from("r"));
    let plan = Plan::new(&g, &outs).unwrap();
    for _ in 0..rounds(200) {
        let out = pool.run(&plan).unwrap();
        assert_eq!(out.values.len(), 50);
        assert_eq!(out.stats.leaked_values, 0);
        drop(out);
        assert_eq!(tracker.live(), 0);
    }
    let _: Option<&Tracked> = None;
}

/// A graph whose one task runs `inner` on `pool` and returns its value plus one.
fn calls_into(pool: Arc<Pool>, inner: Graph, key: &'static str) -> Graph {
    let op = Op::new("nested_run", move |_: &[Value]| {
        let v = pool.get(&inner, key)?;
        Ok(Value::Int(v.as_int().unwrap() + 1))
    });
    let mut b = GraphBuilder::new();
    b.task("outer", &op, []).unwrap();
    b.build()
}

fn constant(x: i64) -> Graph {
    let mut b = GraphBuilder::new();
    b.literal("c", x).unwrap();
    b.build()
}

/// A task on pool A runs a graph on pool B (fine), or on A (its worker helps); one whose
/// task runs a graph back on A from B is
/// refused with a typed error (reported through each enclosing task) instead of deadlocking, also for one-thread pools and deeper
/// cycles (A -> B -> C -> A).
#[test]
fn nested_runs_across_pools_work_and_cycles_are_refused() {
    within("nested runs across pools", || {
        let (a, b, c) = (pool(1), pool(1), pool(2));
        // A -> B: works.
        let g = calls_into(b.clone(), constant(41), "c");
        assert_eq!(a.get(&g, "outer").unwrap(), Value::Int(42));
        // A -> A: the worker helps (see tests/failures.rs).
        let g = calls_into(a.clone(), constant(1), "c");
        assert_eq!(a.get(&g, "outer").unwrap(), Value::Int(2));
        // A -> B -> A: refused (it deadlocked before).
        let to_a = calls_into(a.clone(), constant(1), "c");
        let g = calls_into(b.clone(), to_a, "outer");
        let e = a.get(&g, "outer").unwrap_err();
        assert!(e.to_string().contains("waits for it"), "{e}");
        // A -> B -> C -> A: refused.
        let to_a = calls_into(a.clone(), constant(1), "c");
        let to_c = calls_into(c.clone(), to_a, "outer");
        let g = calls_into(b.clone(), to_c, "outer");
        let e = a.get(&g, "outer").unwrap_err();
        assert!(e.to_string().contains("waits for it"), "{e}");
        // A -> B -> C: works, and every pool is still usable.
        let to_c = calls_into(c.clone(), constant(40), "c");
        let g = calls_into(b.clone(), to_c, "outer");
        assert_eq!(a.get(&g, "outer").unwrap(), Value::Int(42));
        for p in [&a, &b, &c] {
            assert_eq!(p.get(&constant(7), "c").unwrap(), Value::Int(7));
        }
    });
}

/// A task panic that a pool catches and returns as the run's error is not also printed by
/// the panic hook; with `print_panics(true)` it is. Checked in a child process (this test
/// binary, re-run with `BW_QUIET_CHILD` set), whose standard error is read.
#[test]
fn caught_panics_are_not_printed_unless_asked() {
    if let Ok(mode) = std::env::var("BW_QUIET_CHILD") {
        let pool = Pool::builder()
            .threads(2)
            .pin(false)
            .print_panics(mode == "print")
            .build()
            .unwrap();
        let boom = Op::new("boom", |_: &[Value]| -> Result<Value, TaskError> {
            panic!("boom-in-a-task")
        });
        let mut b = GraphBuilder::new();
        b.task("x", &boom, []).unwrap();
        let g = b.build();
        let e = pool.get(&g, "x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TaskPanicked);
        let e = Sequential::new().get(&g, "x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TaskPanicked);
        return;
    }
    let run = |mode: &str| {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "caught_panics_are_not_printed_unless_asked",
                "--nocapture",
            ])
            .env("BW_QUIET_CHILD", mode)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stderr)
            .matches("boom-in-a-task")
            .count()
    };
    assert_eq!(run("quiet"), 0, "a caught panic was printed");
    assert!(run("print") >= 1, "print_panics(true) printed nothing");
}

/// Literal nodes are written into their slots when a pool run starts instead of being
/// scheduled: a literal read by many tasks (batched countdowns), a task reading a literal
/// and one computed value (whose readiness then waits for that value only), a literal that
/// is itself an output, and a plan of literals only. Every run on one pool, many times and
/// on several thread counts, agrees with `Sequential`, counts every node as run, and
/// frees every value.
#[test]
fn literal_nodes_start_in_their_slots() {
    let add = Op::typed("add", |a: i64, b: i64| a + b);
    let sum = Op::new("sum", |xs: &[Value]| {
        Ok(Value::Int(xs.iter().map(|v| v.as_int().unwrap_or(0)).sum()))
    });
    let mut b = GraphBuilder::new();
    b.literal("k", 7).unwrap();
    b.literal("lonely", 3).unwrap();
    b.literal(("unused", 0), 1).unwrap();
    let mut parts = Vec::new();
    for i in 0..40i64 {
        b.literal(("x", i), i).unwrap();
        b.task(("y", i), &add, [Arg::key(("x", i)), Arg::key("k")])
            .unwrap();
        // Reads the literal `k` and one computed value: ready once ("y", i) finishes.
        b.task(("z", i), &add, [Arg::key("k"), Arg::key(("y", i))])
            .unwrap();
        parts.push(Arg::key(("z", i)));
    }
    b.task("total", &sum, parts).unwrap();
    let g = b.build();
    let seq = Sequential::new();
    for outputs in [
        vec![Key::from("total"), Key::from("lonely"), Key::from("k")],
        vec![Key::from("lonely")],
        vec![Key::from(("x", 3)), Key::from("k")],
    ] {
        let plan = Plan::new(&g, &outputs).unwrap();
        let want = seq.run(&plan).unwrap().values;
        for threads in [1, 2, 4] {
            let p = pool(threads);
            for _ in 0..rounds(50) {
                let out = p.run(&plan).unwrap();
                assert_eq!(out.values, want, "{outputs:?} on {threads} threads");
                assert_eq!(out.stats.tasks_run as usize, plan.len());
                assert_eq!(out.stats.leaked_values, 0);
            }
        }
    }
    let plan = Plan::new(&g, &["total".into()]).unwrap();
    let want: i64 = (0..40).map(|i| i + 14).sum();
    assert_eq!(seq.run(&plan).unwrap().values, vec![Value::Int(want)]);
}

/// A literal payload whose `nbytes` panics fails a pool run with an error naming it (it is
/// measured when the run starts), and the pool runs the next plan.
#[test]
fn a_literal_whose_nbytes_panics_fails_the_run_and_the_pool_goes_on() {
    let drops = Arc::new(AtomicUsize::new(0));
    let id = Op::new("id", |xs: &[Value]| Ok(xs[0].clone()));
    let mut b = GraphBuilder::new();
    let bomb = Value::payload(Bomb {
        in_nbytes: true,
        in_drop: false,
        drops: drops.clone(),
    });
    b.literal("a", bomb).unwrap();
    b.task("out", &id, [Arg::key("a")]).unwrap();
    let plan = Plan::new(&b.build(), &["out".into()]).unwrap();
    let ok = {
        let mut b = GraphBuilder::new();
        b.literal("a", 5).unwrap();
        b.task("out", &id, [Arg::key("a")]).unwrap();
        Plan::new(&b.build(), &["out".into()]).unwrap()
    };
    for threads in [1, 2] {
        let p = pool(threads);
        for _ in 0..rounds(10) {
            let e = p.run(&plan).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::CallbackPanicked, "{e}");
            let Error::Callback { key, .. } = &e else {
                panic!("not a callback error: {e:?}")
            };
            assert_eq!(key.as_ref(), Some(&Key::from("a")), "{e}");
            assert_eq!(p.run(&ok).unwrap().values, vec![Value::Int(5)]);
        }
    }
    // Only clones were dropped: the plan still holds the payload.
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(plan);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

/// A bag's map computes an array reduction on the very pool that runs the map: the waiting
/// worker runs other jobs meanwhile (no deadlock, no error), with one worker or several.
#[test]
fn array_reductions_inside_a_bag_map_on_the_same_pool() {
    for threads in [1, 2, 3] {
        within("array reductions inside a bag map", move || {
            let pool = pool(threads);
            let inner = pool.clone();
            let ctx = array::ArrayContext::new();
            let sums = bag::Bag::from_vec((1..=8i64).collect(), 4)
                .unwrap()
                .map(move |n| {
                    // sum(0 .. 10 n) in blocks of 7, and the mean of its squares.
                    let x = ctx.arange_int(0, 10 * n, 1, 7).unwrap();
                    let s = x.sum(None).unwrap().compute_item::<i64>(&*inner).unwrap();
                    let sq = (&x * &x).mean(None).unwrap().compute_f64(&*inner).unwrap();
                    (s, sq)
                });
            let got = sums.compute(&*pool).unwrap();
            let want: Vec<(i64, f64)> = (1..=8i64)
                .map(|n| {
                    let m = 10 * n;
                    let s: i64 = (0..m).sum();
                    let sq = (0..m).map(|i| (i * i) as f64).sum::<f64>() / m as f64;
                    (s, sq)
                })
                .collect();
            assert_eq!(got.len(), want.len());
            for ((s, sq), (ws, wsq)) in got.iter().zip(&want) {
                assert_eq!(s, ws);
                assert!((sq - wsq).abs() <= 1e-9 * wsq, "{sq} {wsq}");
            }
        });
    }
}
