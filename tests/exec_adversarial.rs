//! Adversarial sequences against the executors' panic handling and pool reuse.
//!
//! Each test states what the executors promise: a panic outside a task's op (observers,
//! `Payload::nbytes`, `Drop` of values) ends the run with `ErrorKind::CallbackPanicked`,
//! never hangs, aborts or propagates out of `run`; the pool stays usable afterwards; no value
//! outlives its run. Every run is watched by a timeout; tests that may abort the process run
//! their body in a child process (this test binary, re-run with `BW_CHILD` set).

use blockwork::testing::{Tracker, canonical};
use blockwork::*;
use std::panic::{AssertUnwindSafe, catch_unwind, panic_any};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

const HANG: Duration = Duration::from_secs(20);

fn pool(threads: usize) -> Arc<Pool> {
    Arc::new(Pool::builder().threads(threads).pin(false).build().unwrap())
}

fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(HANG)
        .unwrap_or_else(|_| panic!("{what}: no answer within {HANG:?} (hang or panic)"))
}

/// As [`within`], but `None` on a hang (or a panic of `f`) instead of failing the test.
fn within_opt<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(HANG).ok()
}

type Outcome = (
    std::result::Result<std::result::Result<(), ErrorKind>, String>,
    std::result::Result<bool, String>,
);

/// Runs `plan` (with `options`) then a good plan on every executor; returns a line per
/// executor whose outcome differs from `want` for the first run (or that hung, or that was
/// unusable afterwards).
fn check_every_executor(
    what: &str,
    plan: impl Fn() -> Plan,
    options: RunOptions,
    want: ErrorKind,
) -> Vec<String> {
    let mut bad = Vec::new();
    for (name, exec) in execs() {
        let plan = Arc::new(plan());
        let opts = options.clone();
        let got: Option<Outcome> = within_opt(move || {
            let first = run_caught(&*exec, &plan, &opts);
            let after = run_caught(&*exec, &good_plan(), &RunOptions::new());
            (
                first.map(|r| r.map(|_| ()).map_err(|e| e.kind())),
                after.map(|r| r.is_ok()),
            )
        });
        match got {
            None => bad.push(format!("{name}: {what}: HANG (no answer within {HANG:?})")),
            Some((first, after)) => {
                if first != Ok(Err(want)) {
                    bad.push(format!("{name}: {what}: first run gave {first:?}, want Ok(Err({want:?})) (Err(..) = panic escaped run)"));
                }
                if after != Ok(true) {
                    bad.push(format!(
                        "{name}: {what}: executor unusable afterwards: {after:?}"
                    ));
                }
            }
        }
    }
    bad
}

/// Runs `plan` on `exec`, turning a panic that escapes `run_with` into a test failure that
/// says so (instead of an opaque "no answer").
fn run_caught(
    exec: &(dyn Executor + Send + Sync),
    plan: &Plan,
    options: &RunOptions,
) -> std::result::Result<Result<RunOutput>, String> {
    catch_unwind(AssertUnwindSafe(|| exec.run_with(plan, options))).map_err(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "non-string payload".into());
        // Dropping `p` may panic again (it is a Nasty): forget it.
        std::mem::forget(p);
        msg
    })
}

fn execs() -> Vec<(String, Arc<dyn Executor + Send + Sync>)> {
    let mut v: Vec<(String, Arc<dyn Executor + Send + Sync>)> = Vec::new();
    for t in [1, 2, 4] {
        v.push((format!("pool({t})"), pool(t)));
    }
    v.push(("sequential".into(), Arc::new(Sequential::new())));
    v
}

/// A panic payload whose own `Drop` panics again with a `Nasty` one level down, `depth`
/// times; the last level's `Drop` is quiet.
struct Nasty(u32);

impl Drop for Nasty {
    fn drop(&mut self) {
        if self.0 > 0 {
            panic_any(Nasty(self.0 - 1));
        }
    }
}

fn small_chain(make: Op) -> Plan {
    let read = Op::new("read", |a: &[Value]| {
        Ok(Value::Int(i64::from(!a.is_empty())))
    });
    let inc = Op::typed("inc", |x: i64| x + 1);
    let mut b = GraphBuilder::new();
    b.task("a", &make, []).unwrap();
    b.task("b", &read, [Arg::key("a")]).unwrap();
    b.task("out", &inc, [Arg::key("b")]).unwrap();
    Plan::new(&b.build(), &["out".into()]).unwrap()
}

fn good_plan() -> Plan {
    let mut b = GraphBuilder::new();
    b.literal("c", 7).unwrap();
    Plan::new(&b.build(), &["c".into()]).unwrap()
}

/// A task's op panics with a payload whose `Drop` panics (twice over). The op's panic is
/// the run's error; dropping its payload must not kill a worker (hang) or escape `run`.
#[test]
fn op_panic_with_a_payload_whose_drop_panics() {
    let bad = check_every_executor(
        "op panics with Nasty(3)",
        || {
            small_chain(Op::new(
                "make",
                |_: &[Value]| -> std::result::Result<Value, TaskError> { panic_any(Nasty(3)) },
            ))
        },
        RunOptions::new(),
        ErrorKind::TaskPanicked,
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// A task's op panics with a payload whose `Drop` panics once (with a quiet payload): the
/// run's error should still be the task's panic naming its key, not an anonymous
/// "the executor" callback error.
#[test]
fn op_panic_with_a_payload_whose_drop_panics_once_is_a_task_error() {
    let bad = check_every_executor(
        "op panics with Nasty(1)",
        || {
            small_chain(Op::new(
                "make",
                |_: &[Value]| -> std::result::Result<Value, TaskError> { panic_any(Nasty(1)) },
            ))
        },
        RunOptions::new(),
        ErrorKind::TaskPanicked,
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// `nbytes` panics with a payload whose `Drop` panics: on a pool worker the payload is
/// dropped outside any `catch_unwind` in `JobCtx::caught`, which kills the worker and
/// leaves the run's caller waiting forever.
#[test]
fn nbytes_panic_with_a_payload_whose_drop_panics() {
    struct P;
    impl Payload for P {
        fn nbytes(&self) -> usize {
            panic_any(Nasty(2))
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }
    let bad = check_every_executor(
        "nbytes panics with Nasty(2)",
        || small_chain(Op::new("make", |_: &[Value]| Ok(Value::payload(P)))),
        RunOptions::new(),
        ErrorKind::CallbackPanicked,
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// An observer whose hooks panic with a payload whose `Drop` panics.
struct NastyObserver {
    run_started: bool,
    task_started: bool,
    run_finished: bool,
}

impl Observer for NastyObserver {
    fn run_started(&self, _: &Plan) {
        if self.run_started {
            panic_any(Nasty(1));
        }
    }
    fn task_started(&self, _: &Plan, _: TaskId, _: usize) {
        if self.task_started {
            panic_any(Nasty(3));
        }
    }
    fn run_finished(&self, _: &Plan, _: &RunStats) {
        if self.run_finished {
            panic_any(Nasty(1));
        }
    }
}

fn check_nasty_observer(hook: &str, obs: NastyObserver) {
    let obs: Arc<dyn Observer> = Arc::new(obs);
    let bad = check_every_executor(
        &format!("observer {hook} panics with a Nasty payload"),
        good_plan,
        RunOptions::with_observer(obs),
        ErrorKind::CallbackPanicked,
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn observer_run_started_panics_with_a_payload_whose_drop_panics() {
    check_nasty_observer(
        "run_started",
        NastyObserver {
            run_started: true,
            task_started: false,
            run_finished: false,
        },
    );
}

#[test]
fn observer_task_started_panics_with_a_payload_whose_drop_panics() {
    check_nasty_observer(
        "task_started",
        NastyObserver {
            run_started: false,
            task_started: true,
            run_finished: false,
        },
    );
}

#[test]
fn observer_run_finished_panics_with_a_payload_whose_drop_panics() {
    check_nasty_observer(
        "run_finished",
        NastyObserver {
            run_started: false,
            task_started: false,
            run_finished: true,
        },
    );
}

/// A value whose `Drop` panics with a Nasty payload, alive when another task fails: it is
/// dropped while the failed run is cleared (`RunState::clear` / the sequential cleanup),
/// where the payload is dropped outside `catch_unwind`.
#[test]
fn drop_panics_with_a_nasty_payload_while_clearing_a_failed_run() {
    struct D;
    impl Payload for D {
        fn nbytes(&self) -> usize {
            8
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }
    impl Drop for D {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                panic_any(Nasty(1));
            }
        }
    }
    let plan = || {
        let make = Op::new("make", |_: &[Value]| Ok(Value::payload(D)));
        let bad = Op::new("bad", |_: &[Value]| Err(TaskError::new("fails on purpose")));
        let both = Op::new("both", |_: &[Value]| Ok(Value::Int(0)));
        let mut b = GraphBuilder::new();
        b.task("a", &make, []).unwrap();
        b.task("f", &bad, [Arg::key("a")]).unwrap();
        b.task("out", &both, [Arg::key("a"), Arg::key("f")])
            .unwrap();
        Plan::new(&b.build(), &["out".into()]).unwrap()
    };
    let bad = check_every_executor(
        "Nasty drop while clearing a failed run",
        plan,
        RunOptions::new(),
        ErrorKind::TaskFailed,
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Process aborts: run in a child process.

/// Runs test `name` of this binary in a child with `BW_CHILD=name`, and asserts that it
/// exited normally (an abort shows as a signal / non-zero code).
fn in_child(name: &str) {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env("BW_CHILD", name)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child {name} died: {:?}\nstderr tail: {}\nstdout tail: {}",
        out.status,
        &stderr[stderr.len().saturating_sub(1500)..],
        &stdout[stdout.len().saturating_sub(800)..],
    );
}

fn is_child(name: &str) -> bool {
    std::env::var("BW_CHILD").is_ok_and(|v| v == name)
}

/// A payload in a broken state: both `nbytes` and `Drop` panic (no `panicking()` guard).
/// The executors call `value.nbytes()` with the value owned by the unwinding frame, so the
/// `Drop` runs during unwinding: a panic in a destructor during cleanup, and the process
/// aborts.
struct Broken(Arc<AtomicUsize>);

impl Payload for Broken {
    fn nbytes(&self) -> usize {
        self.0.fetch_add(1, Ordering::SeqCst);
        panic!("nbytes of a broken payload")
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl Drop for Broken {
    fn drop(&mut self) {
        panic!("drop of a broken payload");
    }
}

fn broken_plan() -> Plan {
    small_chain(Op::new("make", |_: &[Value]| {
        Ok(Value::payload(Broken(Arc::new(AtomicUsize::new(0)))))
    }))
}

fn broken_body(exec: Arc<dyn Executor + Send + Sync>) {
    let plan = Arc::new(broken_plan());
    let first = within("broken payload", move || {
        run_caught(&*exec, &plan, &RunOptions::new()).map(|r| r.map(|_| ()).map_err(|e| e.kind()))
    });
    assert_eq!(first, Ok(Err(ErrorKind::CallbackPanicked)));
}

#[test]
fn nbytes_and_drop_both_panic_pool() {
    const NAME: &str = "nbytes_and_drop_both_panic_pool";
    if is_child(NAME) {
        broken_body(pool(2));
    } else {
        in_child(NAME);
    }
}

#[test]
fn nbytes_and_drop_both_panic_sequential() {
    const NAME: &str = "nbytes_and_drop_both_panic_sequential";
    if is_child(NAME) {
        broken_body(Arc::new(Sequential::new()));
    } else {
        in_child(NAME);
    }
}

/// `nbytes` that works on the first call (after the task) and panics on the second (when the
/// value is freed inside `Deferred::free`, again owning the value in the unwinding frame),
/// with a `Drop` that panics: aborts on the pool.
#[test]
fn nbytes_panics_only_when_freeing_and_drop_panics_pool() {
    const NAME: &str = "nbytes_panics_only_when_freeing_and_drop_panics_pool";
    struct Sometimes(AtomicUsize);
    impl Payload for Sometimes {
        fn nbytes(&self) -> usize {
            if self.0.fetch_add(1, Ordering::SeqCst) >= 1 {
                panic!("nbytes on the second call");
            }
            8
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }
    impl Drop for Sometimes {
        fn drop(&mut self) {
            panic!("drop of a sometimes payload");
        }
    }
    if !is_child(NAME) {
        return in_child(NAME);
    }
    let plan = Arc::new(small_chain(Op::new("make", |_: &[Value]| {
        Ok(Value::payload(Sometimes(AtomicUsize::new(0))))
    })));
    let exec = pool(2);
    let first = within("sometimes", move || {
        run_caught(&*exec, &plan, &RunOptions::new()).map(|r| r.map(|_| ()).map_err(|e| e.kind()))
    });
    assert_eq!(first, Ok(Err(ErrorKind::CallbackPanicked)));
}

// ---------------------------------------------------------------------------------------
// Attacks that are expected to hold (kept as regression tests).

/// An observer that panics on every single call, on a wide fan (batched countdowns), with
/// concurrent good runs from other threads on the same pool.
#[test]
fn always_panicking_observer_with_concurrent_good_runs() {
    struct Always;
    impl Observer for Always {
        fn run_started(&self, _: &Plan) {}
        fn task_started(&self, _: &Plan, _: TaskId, _: usize) {
            panic_any(42u64)
        }
        fn task_finished(&self, _: &Plan, _: TaskId, _: usize) {
            panic_any(43u64)
        }
        fn run_finished(&self, _: &Plan, _: &RunStats) {
            panic_any(44u64)
        }
    }
    for threads in [1, 2, 4, 8] {
        let pool = pool(threads);
        let tracker = Tracker::new();
        let plan = Arc::new(fan(&tracker, 100));
        let tr = tracker.clone();
        within(
            &format!("always-panicking observer, {threads} threads"),
            move || {
                let callers: Vec<_> = (0..4)
                    .map(|c| {
                        let (pool, plan) = (pool.clone(), plan.clone());
                        std::thread::spawn(move || {
                            for round in 0..100 {
                                if (round + c) % 2 == 0 {
                                    let opts = RunOptions::with_observer(Arc::new(Always));
                                    let e = pool.run_with(&plan, &opts).unwrap_err();
                                    assert_eq!(e.kind(), ErrorKind::CallbackPanicked);
                                } else {
                                    let out = pool.run(&plan).unwrap();
                                    let want: i64 = (0..100).map(|i| i + 1).sum();
                                    assert_eq!(canonical(&out.values[0]).as_int(), Some(want));
                                }
                            }
                        })
                    })
                    .collect();
                for c in callers {
                    c.join().unwrap();
                }
                assert_eq!(tr.live(), 0);
            },
        );
    }
}

/// root -> `width` middles -> one sum.
fn fan(tracker: &Tracker, width: i64) -> Plan {
    let t = tracker.clone();
    let root = Op::new("root", move |_: &[Value]| Ok(t.value(1)));
    let t = tracker.clone();
    let mid = Op::new("mid", move |a: &[Value]| {
        Ok(t.value(canonical(&a[0]).as_int().unwrap() + a[1].as_int().unwrap()))
    });
    let t = tracker.clone();
    let sum = Op::new("sum", move |a: &[Value]| {
        Ok(t.value(a.iter().map(|v| canonical(v).as_int().unwrap()).sum()))
    });
    let mut b = GraphBuilder::new();
    b.task("r", &root, []).unwrap();
    for i in 0..width {
        b.task(("m", i), &mid, [Arg::key("r"), Arg::lit(i)])
            .unwrap();
    }
    b.task("s", &sum, (0..width).map(|i| Arg::key(("m", i))))
        .unwrap();
    Plan::new(&b.build(), &["s".into()]).unwrap()
}

/// The same key requested several times, failing deep chains, empty-ish plans, nested-op
/// panics: nothing leaks, the pool stays usable.
#[test]
fn repeated_keys_deep_chains_and_nested_panics() {
    for threads in [1, 2, 4, 8] {
        let pool = pool(threads);
        let tracker = Tracker::new();
        let t = tracker.clone();
        let inc = Op::new("inc", move |a: &[Value]| {
            Ok(t.value(canonical(&a[0]).as_int().unwrap() + 1))
        });
        let boom = Op::new(
            "boom",
            |_: &[Value]| -> std::result::Result<Value, TaskError> { panic_any(7u8) },
        );
        let pair = Op::new("pair", |a: &[Value]| Ok(Value::Int(a.len() as i64)));
        let mut b = GraphBuilder::new();
        b.literal(("x", 0), 0).unwrap();
        let n = 20_000;
        for i in 1..=n {
            b.task(("x", i), &inc, [Arg::key(("x", i - 1))]).unwrap();
        }
        b.task("bad_end", &boom, [Arg::key(("x", n))]).unwrap();
        b.task(
            "nested",
            &pair,
            [Arg::key(("x", 1)), Arg::task(&boom, [Arg::key(("x", 2))])],
        )
        .unwrap();
        let g = b.build();
        let good = Arc::new(
            Plan::new(
                &g,
                &[
                    ("x", n).into(),
                    ("x", n).into(),
                    ("x", 3).into(),
                    ("x", n).into(),
                ],
            )
            .unwrap(),
        );
        let bad = Arc::new(Plan::new(&g, &["bad_end".into(), ("x", 5).into()]).unwrap());
        let nested = Arc::new(Plan::new(&g, &["nested".into()]).unwrap());
        let tr = tracker.clone();
        within(&format!("deep chains, {threads} threads"), move || {
            for _ in 0..5 {
                let e = pool.run(&bad).unwrap_err();
                assert_eq!(e.kind(), ErrorKind::TaskPanicked, "{e}");
                assert_eq!(tr.live(), 0);
                let e = pool.run(&nested).unwrap_err();
                assert_eq!(e.kind(), ErrorKind::TaskPanicked, "{e}");
                assert_eq!(tr.live(), 0);
                let out = pool.run(&good).unwrap();
                let got: Vec<_> = out
                    .values
                    .iter()
                    .map(|v| canonical(v).as_int().unwrap())
                    .collect();
                assert_eq!(got, vec![n, n, 3, n]);
                assert_eq!(out.stats.leaked_values, 0);
                drop(out);
                assert_eq!(tr.live(), 0);
            }
        });
    }
}

/// Nested runs from observers: an observer's task hook submitting to another pool works,
/// and to the pool it observes too (the worker helps while it waits).
#[test]
fn nested_runs_from_observer_hooks() {
    struct Nest {
        target: Arc<Pool>,
        hits: AtomicUsize,
    }
    impl Observer for Nest {
        fn task_started(&self, _: &Plan, _: TaskId, _: usize) {
            self.hits.fetch_add(1, Ordering::SeqCst);
            self.target.run(&good_plan()).unwrap();
        }
    }
    within("nested runs from observers", || {
        let (a, b) = (pool(1), pool(2));
        let plan = good_plan();
        let obs = Arc::new(Nest {
            target: b.clone(),
            hits: AtomicUsize::new(0),
        });
        a.run_with(&plan, &RunOptions::with_observer(obs.clone()))
            .unwrap();
        assert!(obs.hits.load(Ordering::SeqCst) >= 1);
        let obs = Arc::new(Nest {
            target: a.clone(),
            hits: AtomicUsize::new(0),
        });
        let out = a
            .run_with(&plan, &RunOptions::with_observer(obs.clone()))
            .unwrap();
        assert_eq!(out.values, vec![Value::Int(7)]);
        assert!(obs.hits.load(Ordering::SeqCst) >= 1);
        assert_eq!(a.run(&plan).unwrap().values, vec![Value::Int(7)]);
    });
}

/// A task that submits to its own one-thread pool from a thread it spawned and joins it:
/// the waiting is invisible to the pool (it is keyed on the submitting thread), so this is
/// neither helped nor refused and never ends. Documented on `Pool` as the caller's
/// responsibility; kept here, ignored, as the reproduction.
#[test]
#[ignore = "hangs: nested run on the own pool from a helper thread is not detected"]
fn nested_run_through_a_helper_thread_hangs() {
    within("nested run via helper thread", || {
        let a = pool(1);
        let inner = good_plan();
        let a2 = a.clone();
        let op = Op::new("spawner", move |_: &[Value]| {
            let a3 = a2.clone();
            let plan = Plan::new(
                &{
                    let mut b = GraphBuilder::new();
                    b.literal("c", 1).unwrap();
                    b.build()
                },
                &["c".into()],
            )
            .unwrap();
            let r = std::thread::spawn(move || a3.run(&plan).map(|o| o.values.len()))
                .join()
                .unwrap();
            r.map(|n| Value::Int(n as i64))
                .map_err(|e| TaskError::new(e.to_string()))
        });
        let _ = inner;
        let mut b = GraphBuilder::new();
        b.task("t", &op, []).unwrap();
        let _ = a.get(&b.build(), "t");
    });
}

/// A task's op panics while its flat arguments sit in the worker's scratch buffer, and the
/// observer's `task_finished` hook panics too: `run_one` returns early without clearing the
/// scratch, so the arguments outlive the run on the worker and are prepended to the
/// arguments of the next flat-argument task that worker runs, in a later, good run.
#[test]
fn op_and_task_finished_panic_leave_stale_arguments_for_the_next_run() {
    struct FinishPanics;
    impl Observer for FinishPanics {
        fn task_finished(&self, plan: &Plan, t: TaskId, _: usize) {
            if *plan.key(t) == Key::from("bad") {
                panic!("task_finished panics");
            }
        }
    }
    let tracker = Tracker::new();
    let t = tracker.clone();
    let make = Op::new("make", move |_: &[Value]| Ok(t.value(5)));
    let boom = Op::new(
        "boom",
        |_: &[Value]| -> std::result::Result<Value, TaskError> { panic!("op panics") },
    );
    let count = Op::new("count", |a: &[Value]| Ok(Value::Int(a.len() as i64)));
    let mut b = GraphBuilder::new();
    b.task("x", &make, []).unwrap();
    b.task("bad", &boom, [Arg::key("x"), Arg::lit(1)]).unwrap();
    let bad = Arc::new(Plan::new(&b.build(), &["bad".into()]).unwrap());
    let mut b = GraphBuilder::new();
    b.task("n", &count, [Arg::lit(10), Arg::lit(20)]).unwrap();
    let good = Arc::new(Plan::new(&b.build(), &["n".into()]).unwrap());
    let pool = pool(1);
    let tr = tracker.clone();
    let (err, live_after_bad, next) = within("stale scratch", move || {
        let opts = RunOptions::with_observer(Arc::new(FinishPanics));
        let err = pool.run_with(&bad, &opts).unwrap_err().kind();
        let live = tr.live();
        let next = pool.run(&good).map(|o| o.values).map_err(|e| e.to_string());
        (err, live, next)
    });
    assert_eq!(err, ErrorKind::CallbackPanicked);
    let mut bad = Vec::new();
    if live_after_bad != 0 {
        bad.push(format!(
            "{live_after_bad} value(s) of the failed run outlived it"
        ));
    }
    if next != Ok(vec![Value::Int(2)]) {
        bad.push(format!(
            "a later good run's 2-argument task saw {next:?} arguments (the failed run's \
             arguments were prepended)"
        ));
    }
    assert!(bad.is_empty(), "{}", bad.join("; "));
}

/// Hostile core ids: building must return an error (or ignore the core), not panic or
/// abort the process. `usize::MAX`: `claimed.resize(c + 1)` wraps to 0, then indexing panics.
#[test]
fn core_id_usize_max_does_not_panic() {
    const NAME: &str = "core_id_usize_max_does_not_panic";
    if !is_child(NAME) {
        return in_child(NAME);
    }
    let r = catch_unwind(|| {
        Pool::builder()
            .threads(1)
            .cores(&[usize::MAX])
            .build()
            .map(|_| ())
    });
    let r = r.unwrap_or_else(|_| panic!("cores(&[usize::MAX]) panicked in build()"));
    assert_eq!(r.unwrap_err().kind(), ErrorKind::InvalidArgument);
}

/// A huge core id is refused before anything is sized by it (it once resized the claim
/// table to `id + 1` words and aborted on the allocation).
#[test]
fn huge_core_id_does_not_abort() {
    const NAME: &str = "huge_core_id_does_not_abort";
    if !is_child(NAME) {
        return in_child(NAME);
    }
    let r = catch_unwind(|| {
        Pool::builder()
            .threads(1)
            .cores(&[1usize << 44])
            .build()
            .map(|_| ())
    });
    let r = r.unwrap_or_else(|_| panic!("cores(&[1 << 44]) panicked in build()"));
    assert_eq!(r.unwrap_err().kind(), ErrorKind::InvalidArgument);
}

/// Creating, using and dropping a pool inside a task of another pool; dropping the last
/// handle of a pool from a task of a different pool.
#[test]
fn pools_created_and_dropped_inside_tasks() {
    within("pools inside tasks", || {
        let a = pool(2);
        let holder: Arc<std::sync::Mutex<Option<Arc<Pool>>>> =
            Arc::new(std::sync::Mutex::new(Some(pool(2))));
        let h = holder.clone();
        let op = Op::new("inner_pool", move |_: &[Value]| {
            let c = Pool::builder().threads(3).pin(false).build().unwrap();
            let v = c
                .get(
                    &{
                        let mut b = GraphBuilder::new();
                        b.literal("c", 3).unwrap();
                        b.build()
                    },
                    "c",
                )
                .unwrap();
            drop(c);
            // Drop the only handle of another pool from here.
            drop(h.lock().unwrap().take());
            Ok(v)
        });
        let mut b = GraphBuilder::new();
        for i in 0..8 {
            b.task(("t", i), &op, []).unwrap();
        }
        let keys: Vec<Key> = (0..8).map(|i| Key::from(("t", i))).collect();
        let out = a.run(&Plan::new(&b.build(), &keys).unwrap()).unwrap();
        assert_eq!(out.values, vec![Value::Int(3); 8]);
        assert!(holder.lock().unwrap().is_none());
    });
}

/// The root of a wide fan (> 16 users: batched countdowns) holds a value whose `Drop`
/// panics; it is freed inside a batched flush. Runs of it alternate with good runs of a
/// tracked fan from several threads, on 1, 2, 4 and 8 workers.
#[test]
fn batched_free_of_a_panicking_drop_with_concurrent_good_runs() {
    struct D(Arc<AtomicUsize>);
    impl Payload for D {
        fn nbytes(&self) -> usize {
            8
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }
    impl Drop for D {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
            if !std::thread::panicking() {
                panic_any(17u32);
            }
        }
    }
    for threads in [1, 2, 4, 8] {
        let drops = Arc::new(AtomicUsize::new(0));
        let d = drops.clone();
        let root = Op::new("root", move |_: &[Value]| Ok(Value::payload(D(d.clone()))));
        let mid = Op::new("mid", |a: &[Value]| Ok(Value::Int(a[1].as_int().unwrap())));
        let sum = Op::new("sum", |a: &[Value]| {
            Ok(Value::Int(a.iter().map(|v| v.as_int().unwrap()).sum()))
        });
        let mut b = GraphBuilder::new();
        b.task("r", &root, []).unwrap();
        for i in 0..64 {
            b.task(("m", i), &mid, [Arg::key("r"), Arg::lit(i)])
                .unwrap();
        }
        b.task("s", &sum, (0..64).map(|i| Arg::key(("m", i))))
            .unwrap();
        let bomb = Arc::new(Plan::new(&b.build(), &["s".into()]).unwrap());
        let tracker = Tracker::new();
        let good = Arc::new(fan(&tracker, 40));
        let pool = pool(threads);
        let tr = tracker.clone();
        let dr = drops.clone();
        within(
            &format!("batched drop bomb, {threads} threads"),
            move || {
                let callers: Vec<_> = (0..3)
                    .map(|c| {
                        let (pool, bomb, good) = (pool.clone(), bomb.clone(), good.clone());
                        std::thread::spawn(move || {
                            for round in 0..100 {
                                if (round + c) % 2 == 0 {
                                    let e = pool.run(&bomb).unwrap_err();
                                    assert_eq!(e.kind(), ErrorKind::CallbackPanicked, "{e}");
                                    let Error::Callback { key, .. } = &e else {
                                        unreachable!()
                                    };
                                    assert_eq!(key.as_ref(), Some(&Key::from("r")), "{e}");
                                } else {
                                    let out = pool.run(&good).unwrap();
                                    let want: i64 = (0..40).map(|i| i + 1).sum();
                                    assert_eq!(canonical(&out.values[0]).as_int(), Some(want));
                                }
                            }
                        })
                    })
                    .collect();
                for c in callers {
                    c.join().unwrap();
                }
                assert_eq!(tr.live(), 0);
                assert_eq!(dr.load(Ordering::SeqCst), 150, "each bomb dropped once");
            },
        );
    }
}

/// Many callers on one pool, each cycling through good runs, failing runs, panicking ops,
/// panicking observers (every hook), `nbytes` bombs and `Drop` bombs; also runs of an
/// empty plan. Every good run is correct and nothing outlives the runs.
#[test]
fn mixed_failure_storm_from_many_callers() {
    struct Bomb {
        nbytes: bool,
    }
    impl Payload for Bomb {
        fn nbytes(&self) -> usize {
            if self.nbytes {
                panic!("nbytes bomb");
            }
            1
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }
    impl Drop for Bomb {
        fn drop(&mut self) {
            if !self.nbytes && !std::thread::panicking() {
                panic!("drop bomb");
            }
        }
    }
    struct Obs(u8);
    impl Observer for Obs {
        fn run_started(&self, _: &Plan) {
            if self.0 == 0 {
                panic!("o")
            }
        }
        fn task_started(&self, p: &Plan, t: TaskId, _: usize) {
            if self.0 == 1 && *p.key(t) == Key::from(("m", 20)) {
                panic!("o")
            }
        }
        fn task_finished(&self, p: &Plan, t: TaskId, _: usize) {
            if self.0 == 2 && *p.key(t) == Key::from(("m", 20)) {
                panic!("o")
            }
        }
        fn run_finished(&self, _: &Plan, _: &RunStats) {
            if self.0 == 3 {
                panic!("o")
            }
        }
    }
    for threads in [2, 8] {
        let tracker = Tracker::new();
        let t = tracker.clone();
        let root = Op::new("root", move |_: &[Value]| Ok(t.value(1)));
        let t = tracker.clone();
        let mid = Op::new("mid", move |a: &[Value]| {
            Ok(t.value(canonical(&a[0]).as_int().unwrap() + a[1].as_int().unwrap()))
        });
        let t = tracker.clone();
        let sum = Op::new("sum", move |a: &[Value]| {
            Ok(t.value(a.iter().map(|v| canonical(v).as_int().unwrap()).sum()))
        });
        let fail = Op::new("fail", |_: &[Value]| Err(TaskError::new("no")));
        let boom = Op::new(
            "boom",
            |_: &[Value]| -> std::result::Result<Value, TaskError> { panic!("boom") },
        );
        let nb = Op::new("nb", |_: &[Value]| {
            Ok(Value::payload(Bomb { nbytes: true }))
        });
        let db = Op::new("db", |_: &[Value]| {
            Ok(Value::payload(Bomb { nbytes: false }))
        });
        let mk = |special: Option<&Op>| {
            let mut b = GraphBuilder::new();
            b.task("r", &root, []).unwrap();
            for i in 0..40 {
                let op = if i == 20 {
                    special.unwrap_or(&mid)
                } else {
                    &mid
                };
                b.task(("m", i), op, [Arg::key("r"), Arg::lit(i)]).unwrap();
            }
            b.task(
                "s",
                &sum,
                (0..40)
                    .filter(|&i| i != 20 || special.is_none())
                    .map(|i| Arg::key(("m", i))),
            )
            .unwrap();
            if special.is_some() {
                b.task("s2", &sum, [Arg::key("s"), Arg::key(("m", 20))])
                    .unwrap();
                Arc::new(Plan::new(&b.build(), &["s2".into(), "s".into()]).unwrap())
            } else {
                Arc::new(Plan::new(&b.build(), &["s".into(), "s".into(), "r".into()]).unwrap())
            }
        };
        let good = mk(None);
        let bad: Vec<(Arc<Plan>, ErrorKind)> = vec![
            (mk(Some(&fail)), ErrorKind::TaskFailed),
            (mk(Some(&boom)), ErrorKind::TaskPanicked),
            (mk(Some(&nb)), ErrorKind::CallbackPanicked),
            (mk(Some(&db)), ErrorKind::TaskFailed), // sum of a payload: fails (or drop bomb)
        ];
        let empty = Arc::new(Plan::new(&GraphBuilder::new().build(), &[]).unwrap());
        let pool = pool(threads);
        let tr = tracker.clone();
        within(&format!("failure storm, {threads} threads"), move || {
            let callers: Vec<_> = (0..6)
                .map(|c| {
                    let (pool, good, bad, empty) =
                        (pool.clone(), good.clone(), bad.clone(), empty.clone());
                    std::thread::spawn(move || {
                        let want: i64 = (0..40).map(|i| i + 1).sum();
                        for round in 0..120usize {
                            match (round + c) % 10 {
                                0..=3 => {
                                    let (p, k) = &bad[(round / 10 + c) % bad.len()];
                                    let e = pool.run(p).unwrap_err();
                                    if !p.is_empty() && *k != ErrorKind::TaskFailed {
                                        assert_eq!(e.kind(), *k, "{e}");
                                    }
                                }
                                4..=7 => {
                                    let obs = Obs(((round / 10 + c) % 4) as u8);
                                    let r = pool
                                        .run_with(&good, &RunOptions::with_observer(Arc::new(obs)));
                                    let e = r.unwrap_err();
                                    assert_eq!(e.kind(), ErrorKind::CallbackPanicked, "{e}");
                                }
                                8 => {
                                    assert!(pool.run(&empty).unwrap().values.is_empty());
                                }
                                _ => {
                                    let out = pool.run(&good).unwrap();
                                    let got: Vec<_> = out
                                        .values
                                        .iter()
                                        .map(|v| canonical(v).as_int().unwrap())
                                        .collect();
                                    assert_eq!(got, vec![want, want, 1]);
                                    assert_eq!(out.stats.leaked_values, 0);
                                }
                            }
                        }
                    })
                })
                .collect();
            for c in callers {
                c.join().unwrap();
            }
            assert_eq!(tr.live(), 0, "values outlived their runs");
        });
    }
}
