//! The context of one run on a pool: what its caller and its workers share.
//!
//! The caller owns it (on its stack) for the whole run; jobs point to it and are counted in
//! its [`Latch`], which the caller waits on before it reads the outcome and frees the
//! context. Workers touch it through `&RunCtx` only while their job is counted, and end the
//! job through [`RunCtx::end_jobs`], which takes a raw pointer.

use super::Observer;
use super::latch::Latch;
use super::run_state::RunState;
use super::sync::{AtomicBool, Mutex, Ordering};
use super::tally::RunTally;
use crate::error::Error;
use crate::plan::{Plan, TaskId};

/// Everything one run shares between its caller and the workers.
pub(crate) struct RunCtx<'a> {
    pub(crate) plan: &'a Plan,
    pub(crate) state: RunState,
    pub(crate) observer: Option<&'a dyn Observer>,
    pub(crate) tally: RunTally,
    /// Pools with a thread blocked until this run ends, directly (its caller is one of their
    /// workers) or through other runs: submitting a run to one of them from this run's
    /// tasks could deadlock.
    pub(crate) waiting: Vec<usize>,
    latch: Latch,
    /// Set by the first failure; workers stop starting tasks of this run.
    failed: AtomicBool,
    error: Mutex<Option<Error>>,
}

impl<'a> RunCtx<'a> {
    pub(crate) fn new(
        plan: &'a Plan,
        state: RunState,
        threads: usize,
        observer: Option<&'a dyn Observer>,
        waiting: Vec<usize>,
        max_live_bytes: Option<u64>,
    ) -> Self {
        RunCtx {
            plan,
            state,
            observer,
            waiting,
            tally: RunTally::new(threads, max_live_bytes),
            latch: Latch::new(),
            failed: AtomicBool::new(false),
            error: Mutex::new(None),
        }
    }

    /// Counts jobs about to be pushed.
    #[inline]
    pub(crate) fn add_jobs(&self, n: usize) {
        self.latch.add(n);
    }

    /// Ends `n` jobs of the run: the calling job and the jobs it absorbed.
    ///
    /// # Safety
    /// `this` points to a live context in which the calling job and the `n - 1` others are
    /// still counted. Neither `this` nor any reference into the context may be used after
    /// this call: the caller may free the context as soon as the last job ended.
    #[inline]
    pub(crate) unsafe fn end_jobs(this: *const RunCtx<'_>, n: usize) {
        // SAFETY: the jobs are counted, so the context is alive here; the latch pointer is
        // handed on under the same contract.
        unsafe { Latch::count_down(&raw const (*this).latch, n) };
    }

    /// Whether every job of the run ended.
    pub(crate) fn is_done(&self) -> bool {
        self.latch.is_set()
    }

    /// Jobs of the run counted and not yet ended (a snapshot).
    pub(crate) fn pending_jobs(&self) -> usize {
        self.latch.pending()
    }

    /// Blocks the calling (submitting) thread until every job of the run ended.
    pub(crate) fn wait(&self) {
        self.latch.wait();
    }

    #[inline]
    pub(crate) fn is_failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Records `e` as the run's error unless an earlier one was recorded; stops the run.
    #[cold]
    pub(crate) fn fail(&self, e: Error) {
        let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(e);
        }
        self.failed.store(true, Ordering::Relaxed);
    }

    /// Fails the run with a panic caught outside a task's op: `what` panicked (with
    /// `message`), while handling `task` if known.
    #[cold]
    pub(crate) fn fail_callback(&self, what: &'static str, task: Option<TaskId>, message: String) {
        self.fail(callback_error(self.plan, what, task, message));
    }

    pub(crate) fn take_error(&self) -> Option<Error> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// The error for a panic outside a task's op.
#[cold]
pub(crate) fn callback_error(
    plan: &Plan,
    what: &'static str,
    task: Option<TaskId>,
    message: String,
) -> Error {
    Error::Callback {
        what,
        key: task.map(|t| plan.key(t).clone()),
        message,
    }
}
