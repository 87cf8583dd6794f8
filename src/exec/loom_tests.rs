//! Loom models of the executor's lock-free protocols (`RUSTFLAGS="--cfg blockwork_loom"`).
//!
//! Run with (a target directory of its own, since the flag rebuilds everything):
//!
//! ```text
//! RUSTFLAGS="--cfg blockwork_loom" CARGO_TARGET_DIR=target/loom cargo test --release --lib loom
//! ```
//!
//! - The countdown and freeing protocol of `run_state.rs`: small plans run by 2 or 3 threads
//!   that each finish tasks and run what they made ready. Loom checks every interleaving
//!   (within the preemption bound) for data races on the result slots (a read concurrent with
//!   the write or the take is reported by loom's cell); we check that every input read
//!   finds a written value, that each value is freed exactly once, and that only the output
//!   survives the run. `BATCH_FAN` is 2 under loom, so the fan-in and fan-out models go
//!   through the batched (deferred) countdowns too.
//! - The real worker code (`WorkerLocal::find_job` and `execute`, the job context, the
//!   continuation path and the batched countdowns) on two threads: a run with a failing
//!   task, then a good run of the same shape on the same workers.
//! - The park/unpark protocol of `sleep.rs`: sleepers that register, re-check and park
//!   against notifiers that publish work and wake; a lost wake-up leaves a thread parked
//!   forever, which loom reports as a deadlock.

use super::job::{Job, Work};
use super::run_ctx::RunCtx;
use super::run_state::{Deferred, RunState};
use super::sleep::Sleep;
use super::sync::{AtomicBool, AtomicUsize, Ordering, Parker};
use super::worker::{Shared, WorkerLocal};
use crate::graph::{Arg, GraphBuilder, Op};
use crate::key::Key;
use crate::plan::BATCH_FAN as DEFER_FAN;
use crate::plan::{Plan, TaskId};
use crate::value::{Payload, Value};
use crossbeam_deque::{Injector, Worker};
use loom::sync::Arc;
use loom::thread;
use std::sync::atomic::AtomicI64;

/// Counts live payloads; plain std atomics, only read after the threads are joined.
#[derive(Default)]
struct Live {
    live: AtomicI64,
    made: AtomicI64,
}

/// A task value that counts itself in a [`Live`].
struct Counted {
    n: i64,
    live: std::sync::Arc<Live>,
}

impl Counted {
    fn value(live: &std::sync::Arc<Live>, n: i64) -> Value {
        live.live.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        live.made.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Value::payload(Counted {
            n,
            live: live.clone(),
        })
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.live
            .live
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Payload for Counted {
    fn nbytes(&self) -> usize {
        8
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn number(v: &Value) -> i64 {
    v.downcast_ref::<Counted>().expect("a counted value").n
}

/// `root` (no inputs) feeding `width` middle tasks, all feeding `sink`. Width 2 is the
/// diamond; width 3 makes both the sink's fan-in and the root's fan-out exceed `DEFER_FAN`.
/// Task values are computed by the model, not by the ops (which are never called).
fn fan_plan(width: usize) -> Plan {
    let never = Op::new("model", |_| {
        unreachable!("the model computes values itself")
    });
    let mut b = GraphBuilder::new();
    b.task("root", &never, []).unwrap();
    for i in 0..width {
        b.task(("mid", i), &never, [Arg::key("root")]).unwrap();
    }
    let mids = (0..width).map(|i| Arg::key(("mid", i)));
    b.task("sink", &never, mids).unwrap();
    Plan::new(&b.build(), &[Key::from("sink")]).unwrap()
}

/// Runs `first` and then everything it makes ready, depth first, on this thread, as a
/// worker's continuation chain does. Each task's value is 1 + the sum of its inputs.
/// Returns the number of values this thread freed.
fn run_chain(state: &RunState, plan: &Plan, live: &std::sync::Arc<Live>, first: TaskId) -> u64 {
    let mut todo = vec![first];
    let mut freed = 0;
    let mut defer = Deferred::default();
    while let Some(t) = todo.pop() {
        // SAFETY: `t` became ready through `finish_task`/`flush` on some thread (or is a
        // root), so its inputs' writes happened-before, and it has not released them yet.
        let sum: i64 = plan
            .deps(t)
            .iter()
            .map(|d| number(unsafe { state.get(d.raw()) }))
            .sum();
        let value = Counted::value(live, 1 + sum);
        let mut ready = Vec::new();
        // SAFETY: `t` runs exactly once (it was handed to exactly one thread) and has
        // finished reading its inputs.
        let f = unsafe { state.finish_task(plan, t, value, &mut defer, &mut |u| ready.push(u)) };
        freed += f.values;
        todo.extend(ready);
    }
    let mut ready = Vec::new();
    freed += state.flush(&mut defer, &mut |u| ready.push(u)).values;
    for u in ready {
        freed += run_chain(state, plan, live, u);
    }
    freed
}

/// One model run of a fan plan: the root on the main thread, then each task it makes ready
/// on a thread of its own.
fn check_fan(plan: &std::sync::Arc<Plan>) {
    let live = std::sync::Arc::new(Live::default());
    let mut state = RunState::default();
    state.reset(plan);
    let state = Arc::new(state);
    let root = plan.roots()[0];
    let mut defer = Deferred::default();
    let mut ready = Vec::new();
    let root_value = Counted::value(&live, 1);
    // SAFETY: the root has no inputs and runs once, here.
    let f =
        unsafe { state.finish_task(plan, root, root_value, &mut defer, &mut |u| ready.push(u)) };
    let mut freed = f.values + state.flush(&mut defer, &mut |u| ready.push(u)).values;
    assert_eq!(
        ready.len(),
        plan.users(root).len(),
        "every middle task is ready"
    );
    let handles: Vec<_> = ready
        .into_iter()
        .map(|t| {
            let (state, plan, live) = (state.clone(), plan.clone(), live.clone());
            thread::spawn(move || run_chain(&state, &plan, &live, t))
        })
        .collect();
    for h in handles {
        freed += h.join().unwrap();
    }
    let mut state = Arc::try_unwrap(state).unwrap_or_else(|_| panic!("threads joined"));
    let n = plan.len() as i64;
    let sink = plan.outputs()[0];
    let width = n - 2;
    assert_eq!(
        live.made.load(std::sync::atomic::Ordering::SeqCst),
        n,
        "each task ran once"
    );
    assert_eq!(
        freed as i64,
        n - 1,
        "every value but the output freed exactly once"
    );
    assert_eq!(live.live.load(std::sync::atomic::Ordering::SeqCst), 1);
    let out = state.output(sink).expect("the output is kept");
    assert_eq!(number(&out), 1 + width * 2);
    drop(out);
    assert!(state.clear_outputs(&[sink]).is_none());
    assert_eq!(state.clear().0.values, 0, "nothing else was left");
    assert_eq!(live.live.load(std::sync::atomic::Ordering::SeqCst), 0);
}

fn model(preemptions: Option<usize>, f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = preemptions;
    b.check(f);
}

#[test]
fn loom_diamond_countdown_and_free() {
    let plan = std::sync::Arc::new(fan_plan(2));
    assert!(plan.n_deps()[plan.outputs()[0].index()] <= DEFER_FAN);
    model(None, move || check_fan(&plan));
}

#[test]
fn loom_fan_three_threads_deferred_countdowns() {
    let plan = std::sync::Arc::new(fan_plan(3));
    let sink = plan.outputs()[0].index();
    assert!(plan.n_deps()[sink] > DEFER_FAN && plan.n_users()[0] > DEFER_FAN);
    model(None, move || check_fan(&plan));
}

/// One sleeper, one notifier: the sleeper must see the work, however the two interleave.
#[test]
fn loom_sleep_no_lost_wakeup() {
    model(None, || {
        let parker = Parker::new();
        let sleep = Arc::new(Sleep::new(vec![parker.unparker().clone()]));
        let work = Arc::new(AtomicBool::new(false));
        let notifier = {
            let (sleep, work) = (sleep.clone(), work.clone());
            thread::spawn(move || {
                // Relaxed on purpose: the protocol must rely on its SeqCst fences only.
                work.store(true, Ordering::Relaxed);
                sleep.notify(1);
            })
        };
        while !work.load(Ordering::Relaxed) {
            sleep.sleep(0, || parker.park(), || work.load(Ordering::Relaxed));
        }
        notifier.join().unwrap();
    });
}

/// Two sleepers and two units of work published one at a time: each sleeper must get one.
/// Three threads with locks: bounded to 3 preemptions (about 4 s; 4 preemptions also pass,
/// in about 30 s). The other models are checked without a bound.
#[test]
fn loom_sleep_two_sleepers_two_notifies() {
    model(Some(3), || {
        let parkers = [Parker::new(), Parker::new()];
        let unparkers = parkers.iter().map(|p| p.unparker().clone()).collect();
        let sleep = Arc::new(Sleep::new(unparkers));
        let work = Arc::new(AtomicUsize::new(0));
        let take = |work: &AtomicUsize| {
            let mut n = work.load(Ordering::Relaxed);
            while n > 0 {
                match work.compare_exchange(n, n - 1, Ordering::Relaxed, Ordering::Relaxed) {
                    Ok(_) => return true,
                    Err(m) => n = m,
                }
            }
            false
        };
        let sleepers: Vec<_> = parkers
            .into_iter()
            .enumerate()
            .map(|(i, parker)| {
                let (sleep, work) = (sleep.clone(), work.clone());
                thread::spawn(move || {
                    while !take(&work) {
                        let has_work = || work.load(Ordering::Relaxed) > 0;
                        sleep.sleep(i, || parker.park(), has_work);
                    }
                })
            })
            .collect();
        for _ in 0..2 {
            work.fetch_add(1, Ordering::Relaxed);
            sleep.notify(1);
        }
        for s in sleepers {
            s.join().unwrap();
        }
    });
}

/// `root` read by three `mid` tasks (a batched free countdown under loom), each read by one
/// `leaf` (a continuation); the leaves are the outputs. With `fail`, `("mid", 1)` fails.
fn fan_of_chains(fail: bool) -> Plan {
    let root = Op::new("root", |_| Ok(Value::Int(1)));
    let mid = Op::typed("mid", |r: i64, i: i64| r + i);
    let bad = Op::new("bad", |_| {
        Err(crate::error::TaskError::new("fails on purpose"))
    });
    let leaf = Op::typed("leaf", |m: i64| m * 10);
    let mut b = GraphBuilder::new();
    b.task("root", &root, []).unwrap();
    let mut outs = Vec::new();
    for i in 0..3i64 {
        let op = if fail && i == 1 { &bad } else { &mid };
        b.task(("mid", i), op, [Arg::key("root"), Arg::lit(i)])
            .unwrap();
        b.task(("leaf", i), &leaf, [Arg::key(("mid", i))]).unwrap();
        outs.push(Key::from(("leaf", i)));
    }
    Plan::new(&b.build(), &outs).unwrap()
}

/// A failing run and then a good run of the same shape on one two-worker pool, built from
/// the real parts: workers run the real loop (`WorkerLocal::run`: deques, stealing, the sleep
/// protocol, job contexts, the continuation path, batched countdowns) and the caller submits
/// and waits as `Pool::run_with` does. The failure is reported, the good run's outputs are
/// right, and nothing the failed run held back reaches the good one.
#[test]
fn loom_fail_then_reuse_on_real_workers() {
    let bad: &'static Plan = Box::leak(Box::new(fan_of_chains(true)));
    let good: &'static Plan = Box::leak(Box::new(fan_of_chains(false)));
    assert!(good.n_users()[good.roots()[0].index()] > DEFER_FAN);
    model(Some(2), move || {
        let deques: Vec<Worker<Job>> = (0..2).map(|_| Worker::new_lifo()).collect();
        let parkers: Vec<Parker> = (0..2).map(|_| Parker::new()).collect();
        let shared = Arc::new(Shared {
            injector: Injector::new(),
            stealers: deques.iter().map(Worker::stealer).collect(),
            sleep: Sleep::new(parkers.iter().map(|p| p.unparker().clone()).collect()),
            shutdown: AtomicBool::new(false),
            pollers: Default::default(),
        });
        let workers: Vec<_> = deques
            .into_iter()
            .zip(parkers)
            .enumerate()
            .map(|(i, (d, p))| {
                let shared = shared.clone();
                thread::spawn(move || WorkerLocal::new(i, d, p).run(&shared))
            })
            .collect();
        for plan in [bad, good] {
            let mut state = RunState::default();
            state.reset(plan);
            let mut ctx = RunCtx::new(plan, state, 2, None, Vec::new(), None);
            ctx.add_jobs(1);
            let roots = plan.start_roots().len() as u32;
            shared.push_injector(Job::new(&ctx, Work::Roots(0, roots)));
            ctx.wait();
            let error = ctx.take_error();
            if std::ptr::eq(plan, bad) {
                let e = error.expect("the failing run reports its error");
                assert_eq!(e.kind(), crate::error::ErrorKind::TaskFailed, "{e}");
            } else {
                assert!(error.is_none(), "the good run failed: {error:?}");
                let got: Vec<_> = plan
                    .outputs()
                    .iter()
                    .map(|&t| ctx.state.output(t).expect("outputs are kept"))
                    .collect();
                let want: Vec<_> = (0..3).map(|i| Value::Int((1 + i) * 10)).collect();
                assert_eq!(got, want);
                assert!(ctx.state.clear_outputs(plan.outputs()).is_none());
                assert_eq!(ctx.state.clear().0.values, 0, "only outputs were left");
            }
            let _ = ctx.state.clear();
        }
        shared.shutdown.store(true, Ordering::SeqCst);
        shared.sleep.wake_all();
        for w in workers {
            w.join().unwrap();
        }
    });
}

/// Inputs `x` and `y` (delivered by the submitting thread) and a root task `r`: `a = x + 1`
/// (its only dependency is an input), `b = x + y`, and the output `c = a + b + r` (three
/// dependencies: batched countdowns under loom).
fn fed_plan() -> Plan {
    let add = Op::new("add", |a: &[Value]| {
        Ok(Value::Int(a.iter().filter_map(Value::as_int).sum()))
    });
    let mut b = GraphBuilder::new();
    b.literal("x", Value::Unit).unwrap();
    b.literal("y", Value::Unit).unwrap();
    b.task("r", &add, [Arg::lit(100i64)]).unwrap();
    b.task("a", &add, [Arg::key("x"), Arg::lit(1i64)]).unwrap();
    b.task("b", &add, [Arg::key("x"), Arg::key("y")]).unwrap();
    b.task("c", &add, [Arg::key("a"), Arg::key("b"), Arg::key("r")])
        .unwrap();
    let inputs = [Key::from("x"), Key::from("y")];
    Plan::with_inputs(&b.build(), &[Key::from("c")], &inputs).unwrap()
}

/// `Feed::deliver` on the submitting thread while a worker runs the real loop: the
/// deliveries' slot writes and countdowns race with the worker's, as in `Pool::run_fed`.
/// The output is right, and every value but the output is freed.
#[test]
fn loom_feed_delivers_while_a_worker_runs() {
    let plan: &'static Plan = Box::leak(Box::new(fed_plan()));
    assert!(plan.n_deps()[plan.outputs()[0].index()] > DEFER_FAN);
    model(Some(2), move || {
        let deque = Worker::new_lifo();
        let parker = Parker::new();
        let shared = Arc::new(Shared {
            injector: Injector::new(),
            stealers: vec![deque.stealer()].into_boxed_slice(),
            sleep: Sleep::new(vec![parker.unparker().clone()]),
            shutdown: AtomicBool::new(false),
            pollers: Default::default(),
        });
        let worker = {
            let shared = shared.clone();
            thread::spawn(move || WorkerLocal::new(0, deque, parker).run(&shared))
        };
        let mut state = RunState::default();
        state.reset(plan);
        let mut ctx = RunCtx::new(plan, state, 1, None, Vec::new(), None);
        // The feed's job, then the roots, as `Pool::run_fed` does.
        ctx.add_jobs(1);
        ctx.add_jobs(1);
        let roots = plan.start_roots().len() as u32;
        shared.push_injector(Job::new(&ctx, Work::Roots(0, roots)));
        {
            let feed = super::feed::Feed::new(&ctx, &shared);
            for (i, &t) in plan.inputs().iter().enumerate() {
                feed.deliver(t, Value::Int(10 * (i as i64 + 1))).unwrap();
            }
            feed.release();
        }
        ctx.wait();
        assert!(ctx.take_error().is_none());
        // x = 10, y = 20: a = 11, b = 30, r = 100.
        let out = ctx.state.output(plan.outputs()[0]);
        assert_eq!(out, Some(Value::Int(141)));
        assert!(ctx.state.clear_outputs(plan.outputs()).is_none());
        assert_eq!(ctx.state.clear().0.values, 0, "only the output was left");
        shared.shutdown.store(true, Ordering::SeqCst);
        shared.sleep.wake_all();
        worker.join().unwrap();
    });
}
