//! Jobs: what workers pass around through their deques. A job names its run by pointer and
//! carries either one ready task or a range of the plan's roots. No scheduling policy here.

use super::run_ctx::RunCtx;
use std::ptr::NonNull;

/// What a job asks a worker to do.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Work {
    /// Run this ready task (and whatever it makes ready, through the continuation slot).
    Task(u32),
    /// Run `plan.start_roots()[lo..hi]`, splitting off halves for thieves while it is large.
    Roots(u32, u32),
}

/// A unit of work for one run.
pub(crate) struct Job {
    ctx: NonNull<RunCtx<'static>>,
    pub(crate) work: Work,
}

// SAFETY: a job is a pointer to a `RunCtx` (which is `Sync`: atomics, a mutex, and slots whose
// protocol is thread-safe) plus plain data. The run keeps the context alive until every job
// that points to it has ended, which is what `RunCtx::pending` counts.
unsafe impl Send for Job {}

impl Job {
    /// A job of the run `ctx`. The caller must have counted it in `ctx.pending`.
    pub(crate) fn new(ctx: &RunCtx<'_>, work: Work) -> Job {
        Job {
            ctx: NonNull::from(ctx).cast(),
            work,
        }
    }

    /// The run this job belongs to. Dereferencing it is sound while the job has not ended
    /// (it is counted in the run's latch, so the run's caller is still waiting).
    #[inline]
    pub(crate) fn run_ptr<'a>(&self) -> *const RunCtx<'a> {
        self.ctx.as_ptr().cast::<RunCtx<'a>>()
    }
}
