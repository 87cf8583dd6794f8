//! The per-run context and the worker loop.
//!
//! A worker looks for work in this order: its own deque (LIFO), a batch from the injector,
//! then one job stolen from another worker, starting at a random victim. A job runs a chain
//! of tasks: after each task, the first user it made ready (the one with the highest
//! priority) runs next from the continuation slot without touching a deque; the others are
//! pushed for thieves. When nothing is found the worker spins briefly, then sleeps (see
//! `sleep.rs`).
//!
//! State is split by who touches it: `Shared` (immutable after start, plus lock-free
//! queues), `RunCtx` (one run; atomics and the result slots) and `WorkerLocal` (one thread,
//! plain fields).

use super::job::{Job, Work};
use super::run_state::{Deferred, Freed, RunState};
use super::sleep::Sleep;
use super::sync::{AtomicBool, AtomicUsize, Mutex, Ordering, Parker};
use super::{Observer, RunStats};
use crate::error::Error;
use crate::plan::{Failure, Plan, TaskId};
use crate::value::Value;
use crossbeam_deque::{Injector, Steal, Stealer, Worker};
use crossbeam_utils::{Backoff, CachePadded};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::thread::Thread;

/// Roots ranges longer than this are split in half, the upper half pushed for thieves.
/// Small enough that a second worker finds work quickly, large enough that the split and
/// its deque push are paid once per many roots.
const ROOT_GRAIN: u32 = 32;

/// Rounds of `Backoff::snooze` an idle worker spends looking for work before it sleeps.
/// Spinning keeps the wake-up latency of a warm pool in the sub-microsecond range; sleeping
/// afterwards gives the cores back.
const IDLE_ROUNDS: u32 = 200;

/// Times a waiting caller yields its core, after spinning, before it parks: long enough to
/// catch the end of a run of a few microseconds without a futex wake-up.
const WAIT_YIELDS: u32 = 2000;

/// A worker publishes its live-value count into the run's shared counter once its
/// unpublished change reaches this many values (or [`LIVE_FLUSH_BYTES`] bytes), so the
/// reported peak is within `threads × LIVE_FLUSH_VALUES` of the true one.
pub const LIVE_FLUSH_VALUES: i64 = 64;

/// Byte counterpart of [`LIVE_FLUSH_VALUES`].
pub const LIVE_FLUSH_BYTES: i64 = 1 << 20;

/// What the whole pool shares.
pub(crate) struct Shared {
    pub(crate) injector: Injector<Job>,
    pub(crate) stealers: Box<[Stealer<Job>]>,
    pub(crate) sleep: Sleep,
    pub(crate) shutdown: AtomicBool,
}

impl Shared {
    /// Whether any queue holds a job (used by sleepers after registering).
    fn has_work(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
            || !self.injector.is_empty()
            || self.stealers.iter().any(|s| !s.is_empty())
    }
}

/// Counters one worker keeps for one run; only that worker writes them, at job ends.
#[derive(Default)]
pub(crate) struct WorkerCounters {
    tasks: AtomicU64,
    steals: AtomicU64,
    /// Change in live values not yet published to `RunCtx::live_values`.
    values: AtomicI64,
    /// Change in live bytes not yet published to `RunCtx::live_bytes`.
    bytes: AtomicI64,
}

/// Adds to a counter that only the calling thread writes: a load and a store, no RMW.
#[inline]
fn bump(a: &AtomicU64, by: u64) {
    a.store(a.load(Ordering::Relaxed) + by, Ordering::Relaxed);
}

#[inline]
fn offer_peak(peak: &AtomicI64, candidate: i64) {
    if candidate > peak.load(Ordering::Relaxed) {
        peak.fetch_max(candidate, Ordering::Relaxed);
    }
}

/// Everything one run shares between its caller and the workers.
pub(crate) struct RunCtx<'a> {
    pub(crate) plan: &'a Plan,
    pub(crate) state: RunState,
    pub(crate) observer: Option<&'a dyn Observer>,
    /// Jobs of this run not yet ended: queued or running. The decrement that reaches zero
    /// ends the run; it is the last access a worker makes to the context.
    pending: CachePadded<AtomicUsize>,
    /// Set by the first failure; workers stop starting tasks of this run.
    failed: AtomicBool,
    error: Mutex<Option<Error>>,
    /// The completion latch: set (Release) after `pending` reached zero.
    done: AtomicBool,
    caller: Thread,
    counters: Box<[CachePadded<WorkerCounters>]>,
    live_values: CachePadded<AtomicI64>,
    live_bytes: AtomicI64,
    peak_values: AtomicI64,
    peak_bytes: AtomicI64,
}

impl<'a> RunCtx<'a> {
    pub(crate) fn new(
        plan: &'a Plan,
        state: RunState,
        threads: usize,
        observer: Option<&'a dyn Observer>,
    ) -> Self {
        RunCtx {
            plan,
            state,
            observer,
            pending: CachePadded::new(AtomicUsize::new(0)),
            failed: AtomicBool::new(false),
            error: Mutex::new(None),
            done: AtomicBool::new(false),
            caller: std::thread::current(),
            counters: (0..threads).map(|_| CachePadded::default()).collect(),
            live_values: CachePadded::new(AtomicI64::new(0)),
            live_bytes: AtomicI64::new(0),
            peak_values: AtomicI64::new(0),
            peak_bytes: AtomicI64::new(0),
        }
    }

    /// Counts a job about to be pushed.
    #[inline]
    pub(crate) fn add_jobs(&self, n: usize) {
        self.pending.fetch_add(n, Ordering::Relaxed);
    }

    /// Ends one job. After this returns the context may be gone: it must be the caller's
    /// last use of `self`.
    #[inline]
    fn end_job(&self) {
        // AcqRel: every job's writes (slots, counters) happen-before the final decrement,
        // which the caller acquires through `done`.
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.complete();
        }
    }

    #[cold]
    fn complete(&self) {
        // Clone the handle first: once `done` is set the caller may free the context.
        let caller = self.caller.clone();
        self.done.store(true, Ordering::Release);
        caller.unpark();
    }

    /// Blocks the calling (submitting) thread until the run completed.
    pub(crate) fn wait(&self) {
        let backoff = Backoff::new();
        let mut yields = 0;
        while !self.done.load(Ordering::Acquire) {
            if !backoff.is_completed() {
                backoff.snooze();
            } else if yields < WAIT_YIELDS {
                // Yielding keeps a small run's round trip in microseconds without taking
                // a core from the workers when they need it.
                yields += 1;
                std::thread::yield_now();
            } else {
                std::thread::park();
            }
        }
    }

    #[inline]
    fn is_failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    #[cold]
    fn fail(&self, e: Error) {
        let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(e);
        }
        self.failed.store(true, Ordering::Relaxed);
    }

    pub(crate) fn take_error(&self) -> Option<Error> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Moves a worker's unpublished live-value change into the shared counters.
    #[cold]
    fn publish(&self, acc: &mut Acc) {
        let (v, b) = (
            std::mem::take(&mut acc.values),
            std::mem::take(&mut acc.bytes),
        );
        let lv = self.live_values.fetch_add(v, Ordering::Relaxed) + v;
        let lb = self.live_bytes.fetch_add(b, Ordering::Relaxed) + b;
        // `high_*` were relative to the old published base; rebase them on the new one.
        offer_peak(&self.peak_values, lv - v + acc.high_values);
        offer_peak(&self.peak_bytes, lb - b + acc.high_bytes);
        acc.high_values = 0;
        acc.high_bytes = 0;
    }

    /// Loads worker `w`'s unpublished change at the start of a job.
    #[inline]
    fn load_acc(&self, w: usize) -> Acc {
        let c = &self.counters[w];
        let (values, bytes) = (
            c.values.load(Ordering::Relaxed),
            c.bytes.load(Ordering::Relaxed),
        );
        Acc {
            tasks: 0,
            values,
            bytes,
            high_values: values,
            high_bytes: bytes,
        }
    }

    /// Stores worker `w`'s counts back at the end of a job.
    #[inline]
    fn store_acc(&self, w: usize, acc: &Acc) {
        let c = &self.counters[w];
        bump(&c.tasks, acc.tasks);
        c.values.store(acc.values, Ordering::Relaxed);
        c.bytes.store(acc.bytes, Ordering::Relaxed);
        // Offer the job's high point on top of what is published: two loads, and an RMW
        // only when the peak grows.
        offer_peak(
            &self.peak_values,
            self.live_values.load(Ordering::Relaxed) + acc.high_values,
        );
        offer_peak(
            &self.peak_bytes,
            self.live_bytes.load(Ordering::Relaxed) + acc.high_bytes,
        );
    }

    /// The run's statistics; call after completion. Also returns the exact number of values
    /// still alive (outputs included).
    pub(crate) fn stats(&self) -> (RunStats, i64) {
        let mut s = RunStats {
            threads: self.counters.len(),
            ..RunStats::default()
        };
        let (mut live, mut bytes) = (
            self.live_values.load(Ordering::Relaxed),
            self.live_bytes.load(Ordering::Relaxed),
        );
        for c in self.counters.iter() {
            s.tasks_run += c.tasks.load(Ordering::Relaxed);
            s.steals += c.steals.load(Ordering::Relaxed);
            live += c.values.load(Ordering::Relaxed);
            bytes += c.bytes.load(Ordering::Relaxed);
        }
        let peak_v = self.peak_values.load(Ordering::Relaxed).max(live);
        let peak_b = self.peak_bytes.load(Ordering::Relaxed).max(bytes);
        s.peak_live_values = peak_v.max(0) as u64;
        s.peak_live_bytes = peak_b.max(0) as u64;
        (s, live)
    }
}

/// A worker's counts within one job: tasks run, and the change in live values and bytes
/// not yet published to the run's shared counters (always below the flush thresholds).
#[derive(Default)]
struct Acc {
    tasks: u64,
    values: i64,
    bytes: i64,
    /// Highest `values` / `bytes` seen during the job, offered as a peak at its end.
    high_values: i64,
    high_bytes: i64,
}

impl Acc {
    #[inline]
    fn record(&mut self, ctx: &RunCtx<'_>, created_bytes: usize, freed: Freed) {
        self.tasks += 1;
        // The new value exists before the inputs are freed: count the high point first.
        self.high_values = self.high_values.max(self.values + 1);
        self.high_bytes = self.high_bytes.max(self.bytes + created_bytes as i64);
        self.values += 1 - freed.values as i64;
        self.bytes += created_bytes as i64 - freed.bytes as i64;
        self.check(ctx);
    }

    #[inline]
    fn freed(&mut self, ctx: &RunCtx<'_>, freed: Freed) {
        self.values -= freed.values as i64;
        self.bytes -= freed.bytes as i64;
        self.check(ctx);
    }

    #[inline]
    fn check(&mut self, ctx: &RunCtx<'_>) {
        if self.values.abs() >= LIVE_FLUSH_VALUES || self.bytes.abs() >= LIVE_FLUSH_BYTES {
            ctx.publish(self);
        }
    }
}

/// One worker thread's private state.
pub(crate) struct WorkerLocal {
    pub(crate) index: usize,
    pub(crate) deque: Worker<Job>,
    pub(crate) parker: Parker,
    scratch: Vec<Value>,
    defer: Deferred,
    acc: Acc,
    rng: u64,
}

impl WorkerLocal {
    pub(crate) fn new(index: usize, deque: Worker<Job>, parker: Parker) -> Self {
        WorkerLocal {
            index,
            deque,
            parker,
            scratch: Vec::new(),
            defer: Deferred::default(),
            acc: Acc::default(),
            rng: 0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9),
        }
    }

    /// The worker loop: find a job, run it; idle when there is none; return on shutdown.
    pub(crate) fn run(mut self, shared: &Shared) {
        loop {
            if let Some((job, stolen)) = self.find_job(shared) {
                self.execute(shared, job, stolen);
            } else if !self.idle(shared) {
                return;
            }
        }
    }

    #[inline]
    fn find_job(&mut self, shared: &Shared) -> Option<(Job, bool)> {
        if let Some(job) = self.deque.pop() {
            return Some((job, false));
        }
        self.find_job_cold(shared)
    }

    #[cold]
    fn find_job_cold(&mut self, shared: &Shared) -> Option<(Job, bool)> {
        loop {
            let mut retry = false;
            match shared.injector.steal_batch_and_pop(&self.deque) {
                Steal::Success(job) => return Some((job, true)),
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
            let n = shared.stealers.len();
            let start = self.next_random() as usize % n;
            for i in (start..n).chain(0..start) {
                if i == self.index {
                    continue;
                }
                match shared.stealers[i].steal() {
                    Steal::Success(job) => return Some((job, true)),
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            if !retry {
                return None;
            }
        }
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*: quality is irrelevant, it only spreads victims.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Spins for a while, then sleeps. Returns false on shutdown.
    #[cold]
    fn idle(&mut self, shared: &Shared) -> bool {
        let backoff = Backoff::new();
        for _ in 0..IDLE_ROUNDS {
            if shared.shutdown.load(Ordering::Relaxed) {
                return false;
            }
            if shared.has_work() {
                return true;
            }
            if backoff.is_completed() {
                std::thread::yield_now();
            } else {
                backoff.snooze();
            }
        }
        let parker = &self.parker;
        shared
            .sleep
            .sleep(self.index, || parker.park(), || shared.has_work());
        !shared.shutdown.load(Ordering::Relaxed)
    }

    /// Runs one job of a run, then ends it.
    fn execute(&mut self, shared: &Shared, job: Job, stolen: bool) {
        // SAFETY: the job is counted in its run's `pending` until `end_job` below, so the
        // context is alive for this whole call; `ctx` is not used after `end_job`.
        let ctx = unsafe { job.ctx() };
        if stolen {
            bump(&ctx.counters[self.index].steals, 1);
        }
        if !ctx.is_failed() {
            self.acc = ctx.load_acc(self.index);
            match job.work {
                Work::Task(t) => self.run_chain(shared, ctx, TaskId::from_raw(t)),
                Work::Roots(lo, hi) => self.run_roots(shared, ctx, lo, hi),
            }
            ctx.store_acc(self.index, &self.acc);
        }
        ctx.end_job();
    }

    fn run_roots(&mut self, shared: &Shared, ctx: &RunCtx<'_>, lo: u32, mut hi: u32) {
        while hi - lo > ROOT_GRAIN {
            let mid = lo + (hi - lo) / 2;
            ctx.add_jobs(1);
            self.deque.push(Job::new(ctx, Work::Roots(mid, hi)));
            shared.sleep.notify(1);
            hi = mid;
        }
        let roots = ctx.plan.roots();
        let mut r = lo;
        while r < hi {
            // A range under ROOT_GRAIN is still split whenever thieves have emptied our
            // deque: roots can be long tasks (a bag's partitions), and sixteen of them must
            // not all run on one worker while the others idle.
            if hi - r > 1 && self.deque.is_empty() {
                let mid = r + 1 + (hi - r - 1) / 2;
                ctx.add_jobs(1);
                self.deque.push(Job::new(ctx, Work::Roots(mid, hi)));
                shared.sleep.notify(1);
                hi = mid;
            }
            self.run_chain(shared, ctx, roots[r as usize]);
            r += 1;
        }
    }

    /// Runs `t`, then whatever it makes ready through the continuation slot, until a task
    /// makes nothing ready; then applies deferred decrements, which may continue the chain.
    fn run_chain(&mut self, shared: &Shared, ctx: &RunCtx<'_>, t: TaskId) {
        let mut next = Some(t);
        loop {
            while let Some(t) = next {
                if ctx.is_failed() {
                    return;
                }
                next = self.run_one(shared, ctx, t);
            }
            let mut cont = None;
            let freed = ctx.state.flush(&mut self.defer, &mut |u| {
                self_push_or_continue(&self.deque, shared, ctx, &mut cont, u)
            });
            self.acc.freed(ctx, freed);
            match cont {
                Some(u) => next = Some(u),
                None => return,
            }
        }
    }

    /// Runs one task; returns the user to continue with, if it made one ready.
    #[inline]
    fn run_one(&mut self, shared: &Shared, ctx: &RunCtx<'_>, t: TaskId) -> Option<TaskId> {
        let plan = ctx.plan;
        let state = &ctx.state;
        state.prefetch(plan, t);
        if let Some(o) = ctx.observer {
            o.task_started(plan, t, self.index);
        }
        // SAFETY: `t` is ready (its dependency count reached zero in `finish_task`, or it is
        // a root), so every input's write happened-before, and it has not released them yet.
        let read = |d: u32| unsafe { state.get(d) };
        let scratch = &mut self.scratch;
        let result = catch_unwind(AssertUnwindSafe(|| plan.run_task(t, &read, scratch)));
        if let Some(o) = ctx.observer {
            o.task_finished(plan, t, self.index);
        }
        let value = match result {
            Ok(Ok(v)) => v,
            Ok(Err(f)) => return self.failed(ctx, t, f),
            Err(p) => return self.failed(ctx, t, Failure::from_panic(plan, t, p)),
        };
        let mut cont = None;
        let nbytes = value.nbytes();
        // SAFETY: `t` ran once, after becoming ready, and has finished reading its inputs.
        let freed = unsafe {
            state.finish_task(plan, t, value, &mut self.defer, &mut |u| {
                self_push_or_continue(&self.deque, shared, ctx, &mut cont, u)
            })
        };
        self.acc.record(ctx, nbytes, freed);
        cont
    }

    #[cold]
    fn failed(&mut self, ctx: &RunCtx<'_>, t: TaskId, f: Failure) -> Option<TaskId> {
        self.scratch.clear();
        ctx.fail(f.into_error(ctx.plan, t));
        None
    }
}

/// The first ready user becomes the continuation; later ones are pushed for thieves.
#[inline]
fn self_push_or_continue(
    deque: &Worker<Job>,
    shared: &Shared,
    ctx: &RunCtx<'_>,
    cont: &mut Option<TaskId>,
    u: TaskId,
) {
    if cont.is_none() {
        *cont = Some(u);
    } else {
        ctx.add_jobs(1);
        deque.push(Job::new(ctx, Work::Task(u.raw())));
        shared.sleep.notify(1);
    }
}
