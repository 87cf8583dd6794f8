//! Loom models of the executor's lock-free protocols (`RUSTFLAGS="--cfg loom"`).
//!
//! Run with (a target directory of its own, since the flag rebuilds everything):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test --release --lib loom
//! ```
//!
//! - The countdown and freeing protocol of `run_state.rs`: small plans run by 2 or 3 threads
//!   that each finish tasks and run what they made ready. Loom checks every interleaving
//!   (within the preemption bound) for data races on the result slots (a read concurrent with
//!   the write or the take is reported by loom's cell); we check that every input read
//!   finds a written value, that each value is freed exactly once, and that only the output
//!   survives the run. `BATCH_FAN` is 2 under loom, so the fan-in and fan-out models go
//!   through the batched (deferred) countdowns too.
//! - The park/unpark protocol of `sleep.rs`: sleepers that register, re-check and park
//!   against notifiers that publish work and wake; a lost wake-up leaves a thread parked
//!   forever, which loom reports as a deadlock.

use super::run_state::{Deferred, RunState};
use super::sleep::Sleep;
use super::sync::{AtomicBool, AtomicUsize, Ordering, Parker};
use crate::graph::{Arg, GraphBuilder, Op};
use crate::key::Key;
use crate::plan::BATCH_FAN as DEFER_FAN;
use crate::plan::{Plan, TaskId};
use crate::value::{Payload, Value};
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
    state.clear_outputs(&[sink]);
    assert_eq!(state.clear().values, 0, "nothing else was left");
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
