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
//! queues), `RunCtx` (one run; atomics and the result slots), `WorkerLocal` (one thread,
//! plain fields, kept across runs) and `JobCtx` (one job of one run on one worker: what the
//! job holds back, which never outlives it).
//!
//! Panics: a task's op runs under `catch_unwind`, and so does the whole job, so that a panic
//! in an observer callback, a value's `nbytes` or a value's `Drop` ends the run with an
//! [`Error::Callback`](crate::Error::Callback) instead of killing the worker (and hanging
//! the run's caller). The job names what it was doing in `JobCtx::step` (and the run state
//! names the value being freed) so that the error says what panicked.

use super::eval::{Failure, RunTask};
use super::job::{Job, Work};
use super::poll::Pollers;
use super::run_ctx::RunCtx;
use super::run_state::{DROP, Deferred, NBYTES};
use super::sleep::Sleep;
use super::sync::{AtomicBool, Ordering, Parker, spin_hint};
use super::tally::LiveTally;
use super::{PanicPayload, catch, nbytes_caught, over_live_budget, panic_message};
use crate::plan::TaskId;
use crate::value::Value;
use crossbeam_deque::{Injector, Steal, Stealer, Worker};
use crossbeam_utils::Backoff;
use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Roots ranges longer than this are split in half, the upper half pushed for thieves.
/// Small enough that a second worker finds work quickly, large enough that the split and
/// its deque push are paid once per many roots.
const ROOT_GRAIN: u32 = 32;

/// Rounds of `Backoff::snooze` an idle worker spends looking for work before it sleeps.
/// Spinning keeps the wake-up latency of a warm pool in the sub-microsecond range; sleeping
/// afterwards gives the cores back.
#[cfg(not(blockwork_loom))]
const IDLE_ROUNDS: u32 = 200;
/// Under loom, one round: the model checker sees the sleep protocol, not the spinning.
#[cfg(blockwork_loom)]
const IDLE_ROUNDS: u32 = 1;
/// Rounds an idle worker goes on polling, on top of `IDLE_ROUNDS`, while a run of its pool
/// awaits inputs (see `Pool::run_fed_polled`): spinning, then yielding its core. Tens of
/// milliseconds at most; the run's caller polls after that, less often.
const POLL_ROUNDS: u32 = 1 << 14;

thread_local! {
    /// The worker loop running on this thread, and its pool (null on other threads).
    static CURRENT_WORKER: Cell<(*const WorkerLocal, *const Shared)> =
        const { Cell::new((std::ptr::null(), std::ptr::null())) };
}

/// Marks the calling thread as running `worker`'s loop while it lives.
struct CurrentWorker;

impl CurrentWorker {
    fn enter(worker: &WorkerLocal, shared: &Shared) -> CurrentWorker {
        CURRENT_WORKER.with(|c| c.set((worker, shared)));
        CurrentWorker
    }
}

impl Drop for CurrentWorker {
    fn drop(&mut self) {
        CURRENT_WORKER.with(|c| c.set((std::ptr::null(), std::ptr::null())));
    }
}

/// The worker loop running on the calling thread, if it is one of the pool whose queues
/// are `shared`.
fn current_worker_of(shared: &Shared) -> Option<*const WorkerLocal> {
    let (worker, own) = CURRENT_WORKER.with(Cell::get);
    (!worker.is_null() && std::ptr::eq(own, shared)).then_some(worker)
}

/// Whether the calling thread is a worker of the pool whose queues are `shared`.
pub(crate) fn on_worker_of(shared: &Shared) -> bool {
    current_worker_of(shared).is_some()
}

/// On a worker thread of the pool whose queues are `shared`, runs that pool's jobs until
/// `done()` holds, and returns true; returns false at once on any other thread. This is how a
/// task waits for a run it submitted to its own pool: its worker keeps working meanwhile (as
/// rayon's `join` does), so nested runs neither deadlock nor idle the core.
pub(crate) fn help_until(shared: &Shared, done: impl Fn() -> bool) -> bool {
    let Some(worker) = current_worker_of(shared) else {
        return false;
    };
    // SAFETY: `CURRENT_WORKER` points to the worker loop's `WorkerLocal` and `Shared` while
    // that loop runs on this thread (`CurrentWorker` clears it before they go); we are on
    // this thread, inside a job the loop is executing, so both are alive. Only shared
    // references are made: the loop holds `&WorkerLocal` too, and its mutable parts are
    // cells (the scratch is borrowed through a `RefCell`, which a nested job skips).
    let worker = unsafe { &*worker };
    let backoff = Backoff::new();
    while !done() {
        match worker.find_job(shared) {
            Some((job, stolen)) => {
                shared.sleep.took_job();
                worker.execute(shared, job, stolen);
                backoff.reset();
            }
            None => spin_hint(&backoff),
        }
    }
    true
}

thread_local! {
    /// The run whose job this worker thread is executing (null between jobs).
    static CURRENT_RUN: Cell<*const RunCtx<'static>> = const { Cell::new(std::ptr::null()) };
}

/// The pools that wait on the run whose job the calling thread is executing: a copy of that
/// run's [`RunCtx::waiting`], or empty outside a job.
pub(crate) fn waiting_on_current_run() -> Vec<usize> {
    let run = CURRENT_RUN.with(Cell::get);
    if run.is_null() {
        return Vec::new();
    }
    // SAFETY: `CURRENT_RUN` is set only while this thread executes a job of that run (see
    // `WorkerLocal::execute`), so the job is counted and the context is alive; we are on
    // that thread, inside the job (a task's op calling back into an executor).
    unsafe { (*run).waiting.clone() }
}

/// What the whole pool shares.
pub(crate) struct Shared {
    pub(crate) injector: Injector<Job>,
    pub(crate) stealers: Box<[Stealer<Job>]>,
    pub(crate) sleep: Sleep,
    pub(crate) shutdown: AtomicBool,
    /// Pollers of runs awaiting inputs, called by idle workers.
    pub(crate) pollers: Pollers,
}

impl Shared {
    /// Pushes `job` onto `deque` (a worker's own) and wakes a sleeper to steal it.
    #[inline]
    pub(crate) fn push_local(&self, deque: &Worker<Job>, job: Job) {
        self.sleep.will_push();
        deque.push(job);
        self.sleep.notify(1);
    }

    /// Pushes `job` onto the injector and wakes a sleeper to take it.
    pub(crate) fn push_injector(&self, job: Job) {
        self.sleep.will_push();
        self.injector.push(job);
        self.sleep.notify(1);
    }

    /// Whether any queue holds a job (used by sleepers after registering).
    fn has_work(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
            || !self.injector.is_empty()
            || self.stealers.iter().any(|s| !s.is_empty())
    }
}

/// One worker thread's private state.
pub(crate) struct WorkerLocal {
    pub(crate) index: usize,
    pub(crate) deque: Worker<Job>,
    pub(crate) parker: Parker,
    /// Argument buffer for task calls; empty between tasks. A job run while this worker
    /// helps a nested run (see [`help_until`]) finds it borrowed and uses one of its own.
    scratch: RefCell<Vec<Value>>,
    rng: Cell<u64>,
}

impl WorkerLocal {
    pub(crate) fn new(index: usize, deque: Worker<Job>, parker: Parker) -> Self {
        WorkerLocal {
            index,
            deque,
            parker,
            scratch: RefCell::new(Vec::new()),
            rng: Cell::new(
                0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9),
            ),
        }
    }

    /// The worker loop: find a job, run it; idle when there is none; return on shutdown.
    pub(crate) fn run(self, shared: &Shared) {
        let _current = CurrentWorker::enter(&self, shared);
        loop {
            if let Some((job, stolen)) = self.find_job(shared) {
                shared.sleep.took_job();
                self.execute(shared, job, stolen);
            } else if !self.idle(shared) {
                return;
            }
        }
    }

    #[inline]
    pub(crate) fn find_job(&self, shared: &Shared) -> Option<(Job, bool)> {
        if let Some(job) = self.deque.pop() {
            return Some((job, false));
        }
        self.find_job_cold(shared)
    }

    #[cold]
    fn find_job_cold(&self, shared: &Shared) -> Option<(Job, bool)> {
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

    fn next_random(&self) -> u64 {
        // xorshift64*: quality is irrelevant, it only spreads victims.
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Spins for a while (polling for a run's inputs while one awaits them), then sleeps.
    /// Returns false on shutdown.
    #[cold]
    fn idle(&self, shared: &Shared) -> bool {
        let backoff = Backoff::new();
        let (mut rounds, mut polled) = (0, 0);
        while rounds < IDLE_ROUNDS {
            if shared.shutdown.load(Ordering::Relaxed) {
                return false;
            }
            if shared.has_work() {
                return true;
            }
            if shared.pollers.poll() && polled < POLL_ROUNDS {
                polled += 1;
                if shared.has_work() {
                    return true;
                }
            } else {
                rounds += 1;
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

    /// Runs one job of a run (and the tasks it absorbs, see [`JobCtx::absorb`]), then ends
    /// it.
    pub(crate) fn execute(&self, shared: &Shared, job: Job, stolen: bool) {
        let run_ptr = job.run_ptr();
        // Jobs of this run popped from the deque and run inside this one: each was counted
        // in the run's latch when pushed, and ends with this job.
        let mut absorbed = 0;
        {
            // SAFETY: the job (and every job it absorbs) is counted in its run's latch until
            // `end_jobs` below, so the context is alive for this block; no reference into it
            // outlives the block.
            let run = unsafe { &*run_ptr };
            if stolen {
                run.tally.stolen(self.index);
            }
            if !run.is_failed() {
                // A nested job (run while helping) finds the scratch borrowed: its own.
                let mut own = Vec::new();
                let mut borrowed = self.scratch.try_borrow_mut();
                let scratch = match &mut borrowed {
                    Ok(s) => &mut **s,
                    Err(_) => &mut own,
                };
                let mut jc = JobCtx {
                    run,
                    worker: self.index,
                    shared,
                    deque: &self.deque,
                    scratch,
                    defer: Deferred::default(),
                    tally: run.tally.load(self.index),
                    absorbed: 0,
                    blocked_at: usize::MAX,
                };
                let outer = CURRENT_RUN.with(|c| c.replace(run_ptr.cast()));
                if let Err(p) = catch_unwind(AssertUnwindSafe(|| jc.run(job.work))) {
                    jc.caught(p);
                }
                CURRENT_RUN.with(|c| c.set(outer));
                absorbed = jc.absorbed;
                // Dropping `jc` discards (or, if the run goes on, applies) what it held
                // back and stores its counts, before the job ends.
            }
        }
        // SAFETY: the job and the `absorbed` jobs are still counted; nothing of the run is
        // used after this call.
        unsafe { RunCtx::end_jobs(run_ptr, 1 + absorbed) };
    }
}

/// One job of one run on one worker. It borrows the run and the worker's queue and owns the
/// job's held-back countdowns, which are applied before the job ends while the run goes on,
/// or discarded when it failed (the caller then clears every slot). They never reach another
/// job: task ids are reused by the next run, so a stale decrement would corrupt it.
struct JobCtx<'j, 'r> {
    run: &'r RunCtx<'r>,
    worker: usize,
    shared: &'j Shared,
    deque: &'j Worker<Job>,
    scratch: &'j mut Vec<Value>,
    defer: Deferred,
    tally: LiveTally,
    /// How many jobs of this run [`JobCtx::absorb`] took from the deque (they end with
    /// this one).
    absorbed: usize,
    /// The deque's length when `absorb` last found a job it cannot run on top (and put
    /// it back); `usize::MAX` when it did not.
    blocked_at: usize,
}

impl JobCtx<'_, '_> {
    fn run(&mut self, work: Work) {
        match work {
            Work::Task(t) => self.run_chain(TaskId::from_raw(t)),
            Work::Roots(lo, hi) => self.run_roots(lo, hi),
        }
    }

    fn run_roots(&mut self, lo: u32, mut hi: u32) {
        let run = self.run;
        while hi - lo > ROOT_GRAIN {
            let mid = lo + (hi - lo) / 2;
            self.push(Work::Roots(mid, hi));
            hi = mid;
        }
        let roots = run.plan.start_roots();
        let mut r = lo;
        while r < hi {
            if run.is_failed() {
                return;
            }
            // A range under ROOT_GRAIN is still split whenever thieves have emptied our
            // deque: roots can be long tasks (a bag's partitions), and sixteen of them must
            // not all run on one worker while the others idle.
            if hi - r > 1 && self.deque.is_empty() {
                let mid = r + 1 + (hi - r - 1) / 2;
                self.push(Work::Roots(mid, hi));
                hi = mid;
            }
            self.run_chain(roots[r as usize]);
            r += 1;
        }
    }

    /// Makes `work` available to thieves.
    #[inline]
    fn push(&self, work: Work) {
        self.run.add_jobs(1);
        self.shared.push_local(self.deque, Job::new(self.run, work));
    }

    /// Runs `t`, then whatever it makes ready through the continuation slot, until a task
    /// makes nothing ready; then applies deferred decrements, which may continue the chain.
    /// Returns early, leaving decrements held back, when the run failed.
    fn run_chain(&mut self, t: TaskId) {
        let mut next = Some(t);
        loop {
            while let Some(t) = next {
                if self.run.is_failed() {
                    return;
                }
                next = self.run_one(t);
            }
            let mut cont = None;
            let freed = self.run.state.flush(&mut self.defer, &mut |u| {
                continue_or_push(self.run, self.deque, self.shared, &mut cont, u)
            });
            self.tally.freed(&self.run.tally, freed);
            if let Some((d, what, m)) = self.defer.take_panic() {
                self.run.fail_callback(what, Some(d), m);
            }
            next = match cont {
                Some(u) => Some(u),
                None => self.absorb(),
            };
            if next.is_none() {
                return;
            }
        }
    }

    /// The chain ended: takes the newest job from this worker's deque and, when it is a
    /// task of this run, runs it within this job, as the worker would have run it next
    /// (saving a job's set-up and end, which cost more than a small task). Anything else (a
    /// range of roots, a job of another run) goes back on top of the deque, still counted
    /// in its run, for the worker or a thief.
    #[inline]
    fn absorb(&mut self) -> Option<TaskId> {
        if self.deque.len() == self.blocked_at {
            // Nothing was pushed since the job on top was put back.
            return None;
        }
        let job = self.deque.pop()?;
        if std::ptr::eq(job.run_ptr(), self.run)
            && let Work::Task(u) = job.work
        {
            self.absorbed += 1;
            return Some(TaskId::from_raw(u));
        }
        self.shared.push_local(self.deque, job);
        self.blocked_at = self.deque.len();
        None
    }

    /// Runs one task; returns the user to continue with, if it made one ready.
    #[inline]
    fn run_one(&mut self, t: TaskId) -> Option<TaskId> {
        let run = self.run;
        let (plan, state) = (run.plan, &run.state);
        state.prefetch(plan, t);
        if let Some(o) = run.observer {
            let w = self.worker;
            if let Err(m) = catch(|| o.task_started(plan, t, w)) {
                run.fail_callback("observer task_started", Some(t), m);
                return None;
            }
        }
        // SAFETY: `t` is ready (its dependency count reached zero in `finish_task`, or it is
        // a root), so every input's write happened-before, and it has not released them yet.
        let read = |d: u32| unsafe { state.get(d) };
        let scratch = &mut *self.scratch;
        let result = catch_unwind(AssertUnwindSafe(|| plan.run_task(t, &read, scratch)));
        if let Some(o) = run.observer {
            let w = self.worker;
            if let Err(m) = catch(|| o.task_finished(plan, t, w)) {
                run.fail_callback("observer task_finished", Some(t), m);
                if let Ok(Ok(v)) = result {
                    self.drop_value(t, v);
                }
                self.clear_scratch();
                return None;
            }
        }
        let value = match result {
            Ok(Ok(v)) => v,
            Ok(Err(f)) => return self.failed(t, f),
            Err(p) => return self.failed(t, Failure::from_panic(plan, t, p)),
        };
        // `nbytes` runs with the value borrowed: a panic there must not drop the value while
        // unwinding (its `Drop` might panic too, which would abort).
        let nbytes = match nbytes_caught(&value) {
            Ok(n) => n,
            Err(m) => {
                run.fail_callback(NBYTES, Some(t), m);
                self.drop_value(t, value);
                return None;
            }
        };
        let mut cont = None;
        let (deque, shared) = (self.deque, self.shared);
        // SAFETY: `t` ran once, after becoming ready, and has finished reading its inputs.
        let freed = unsafe {
            state.finish_task(plan, t, value, &mut self.defer, &mut |u| {
                continue_or_push(run, deque, shared, &mut cont, u)
            })
        };
        self.tally.finished(&run.tally, nbytes, freed);
        if let Some((d, what, m)) = self.defer.take_panic() {
            run.fail_callback(what, Some(d), m);
        }
        if let Some((live, max)) = run.tally.over_budget(&self.tally) {
            run.fail(over_live_budget(plan, t, live, max));
        }
        cont
    }

    #[cold]
    fn failed(&mut self, t: TaskId, f: Failure) -> Option<TaskId> {
        self.clear_scratch();
        self.run.fail(f.into_error(self.run.plan, t));
        None
    }

    /// Drops `v`, the value of `t`, which never reached its slot; a panic in its `Drop`
    /// fails the run.
    #[cold]
    fn drop_value(&self, t: TaskId, v: Value) {
        if let Err(m) = catch(move || drop(v)) {
            self.run.fail_callback(DROP, Some(t), m);
        }
    }

    /// Empties the argument scratch, whose values' drops may panic too.
    fn clear_scratch(&mut self) {
        let scratch = &mut *self.scratch;
        while let Some(v) = scratch.pop() {
            if let Err(m) = catch(move || drop(v)) {
                self.run.fail_callback(DROP, None, m);
            }
        }
    }

    /// A panic escaped the job's own code (not a task's op): fail the run, naming what
    /// panicked.
    #[cold]
    fn caught(&mut self, payload: PanicPayload) {
        let (what, task) = match self.defer.freeing() {
            Some((t, what)) => (what, Some(t)),
            None => ("the executor", None),
        };
        self.run.fail_callback(what, task, panic_message(payload));
        self.clear_scratch();
    }
}

impl Drop for JobCtx<'_, '_> {
    fn drop(&mut self) {
        if !self.defer.is_empty() && !self.run.is_failed() {
            // Not reached by the run loop, which flushes before every normal return; kept
            // so that the rule holds whatever path ends a job.
            let (run, deque, shared) = (self.run, self.deque, self.shared);
            let defer = &mut self.defer;
            let flushed = catch(|| {
                run.state.flush(defer, &mut |u| {
                    run.add_jobs(1);
                    shared.push_local(deque, Job::new(run, Work::Task(u.raw())));
                })
            });
            match flushed {
                Ok(freed) => self.tally.freed(&run.tally, freed),
                Err(m) => run.fail_callback(DROP, None, m),
            }
        }
        // Whatever is left belongs to a failed run: dropped here, unapplied. So is anything
        // left in the scratch (the worker keeps it for its next job).
        self.defer = Deferred::default();
        self.clear_scratch();
        self.run.tally.store(self.worker, &self.tally);
    }
}

/// The first ready user becomes the continuation; later ones are pushed for thieves.
#[inline]
fn continue_or_push(
    run: &RunCtx<'_>,
    deque: &Worker<Job>,
    shared: &Shared,
    cont: &mut Option<TaskId>,
    u: TaskId,
) {
    if cont.is_none() {
        *cont = Some(u);
    } else {
        run.add_jobs(1);
        shared.push_local(deque, Job::new(run, Work::Task(u.raw())));
    }
}
