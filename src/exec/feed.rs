//! Inputs delivered while a run goes on: the [`Feed`] of [`Pool::run_fed`](super::Pool::run_fed).
//!
//! An input is a literal node of a plan made by [`Plan::with_inputs`]: it is not written
//! when the run starts, and its users' readiness countdowns include it. Delivering it does
//! what a worker does when a task finishes ([`RunState::finish_task`]): it writes the slot,
//! counts down the users, and pushes those that became ready onto the pool's injector. The
//! feed holds one job of the run's latch while inputs are outstanding, so the run cannot
//! complete before the last one arrives; the latch is released when the last input is
//! delivered, when the feed fails the run, or when the feeder returns.

use super::job::{Job, Work};
use super::run_ctx::RunCtx;
use super::run_state::{DROP, Deferred, NBYTES};
use super::worker::Shared;
use super::{catch, nbytes_caught};
use crate::error::{Error, ErrorKind, Result};
use crate::plan::{Plan, TaskId};
use crate::value::Value;
use std::sync::Mutex;

/// The inputs of a run in progress, handed to the feeder of
/// [`Pool::run_fed`](super::Pool::run_fed) on the calling thread (and to the poller of
/// [`Pool::run_fed_polled`](super::Pool::run_fed_polled) on idle workers: a feed may be used
/// from several threads at once; deliveries are serialized).
///
/// ```
/// use blockwork::{Arg, GraphBuilder, Key, Op, Plan, Pool, RunOptions, Value};
/// let inc = Op::typed("inc", |x: i64| x + 1);
/// let mut b = GraphBuilder::new();
/// b.literal("x", Value::Unit)?.task("y", &inc, [Arg::key("x")])?;
/// let plan = Plan::with_inputs(&b.build(), &[Key::from("y")], &[Key::from("x")])?;
/// let pool = Pool::new(2)?;
/// let (out, fed) = pool.run_fed(&plan, &RunOptions::new(), |feed| {
///     let x = feed.plan().inputs()[0];
///     feed.deliver(x, Value::Int(41))
/// });
/// fed.unwrap()?;
/// assert_eq!(out?.values, [Value::Int(42)]);
/// # Ok::<(), blockwork::Error>(())
/// ```
pub struct Feed<'a> {
    ctx: &'a RunCtx<'a>,
    shared: &'a Shared,
    /// Held for the whole of a delivery and of a release, so that the feed cannot stop
    /// holding the run open while a delivery is writing into it. A plain `std` mutex: loom
    /// models only one feeding thread, for which it is uncontended.
    inner: Mutex<Inner>,
}

/// The feed's bookkeeping.
struct Inner {
    /// Per input of the plan (in `plan.inputs()` order): delivered already.
    delivered: Vec<bool>,
    /// Inputs not delivered yet.
    left: usize,
    /// Whether the feed still holds its job in the run's latch.
    holding: bool,
}

impl<'a> Feed<'a> {
    /// A feed of `ctx`, whose latch already counts the feed's job.
    pub(crate) fn new(ctx: &'a RunCtx<'a>, shared: &'a Shared) -> Feed<'a> {
        let n = ctx.plan.inputs().len();
        let feed = Feed {
            ctx,
            shared,
            inner: Mutex::new(Inner {
                delivered: vec![false; n],
                left: n,
                holding: true,
            }),
        };
        if n == 0 || ctx.is_failed() {
            feed.release();
        }
        feed
    }

    /// The plan being run.
    pub fn plan(&self) -> &Plan {
        self.ctx.plan
    }

    /// Delivers the value of `input` (one of [`Plan::inputs`]): the tasks that were waiting
    /// only for it become ready. After the run failed the value is dropped. An id that is
    /// not an input, or an input delivered twice, is an
    /// [`InvalidArgument`](ErrorKind::InvalidArgument) error (the run goes on).
    pub fn deliver(&self, input: TaskId, value: Value) -> Result<()> {
        let ctx = self.ctx;
        let plan = ctx.plan;
        let Ok(i) = plan.inputs().binary_search(&input) else {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("{} is not an input of the plan", plan.key(input)),
            ));
        };
        let mut inner = self.lock();
        if std::mem::replace(&mut inner.delivered[i], true) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("input {} was delivered twice", plan.key(input)),
            ));
        }
        inner.left -= 1;
        if !inner.holding || ctx.is_failed() {
            drop(inner);
            self.drop_value(input, value);
            return Ok(());
        }
        match nbytes_caught(&value) {
            Ok(n) => ctx.tally.delivered(n),
            Err(m) => {
                ctx.fail_callback(NBYTES, Some(input), m);
                self.drop_value(input, value);
                self.release_locked(&mut inner);
                return Ok(());
            }
        }
        let shared = self.shared;
        let mut ready = |u: TaskId| {
            ctx.add_jobs(1);
            shared.push_injector(Job::new(ctx, Work::Task(u.raw())));
        };
        let mut defer = Deferred::default();
        // SAFETY: `input` is an input of the plan (checked above), delivered once (the flag
        // above), and has no dependencies (a literal node), so it "ran" once, was ready, and
        // read nothing. The run is live: the feed's job in the latch keeps it from
        // completing (it is ended only under the lock held here), and no task reads the
        // slot before a user is made ready below.
        let freed = unsafe {
            ctx.state
                .finish_task(plan, input, value, &mut defer, &mut ready)
        };
        let flushed = ctx.state.flush(&mut defer, &mut ready);
        debug_assert_eq!(freed.values + flushed.values, 0, "an input frees nothing");
        if inner.left == 0 {
            self.release_locked(&mut inner);
        }
        Ok(())
    }

    /// Fails the run with `error` (unless it failed already): workers start no more of its
    /// tasks, inputs not delivered yet are given up, and the run returns its first error.
    pub fn fail(&self, error: Error) {
        self.ctx.fail(error);
        self.release();
    }

    /// Whether the run failed (a task's error, or [`Feed::fail`]).
    pub fn is_failed(&self) -> bool {
        self.ctx.is_failed()
    }

    /// Inputs not delivered yet.
    pub fn pending_inputs(&self) -> usize {
        self.lock().left
    }

    /// Whether every job of the run ended: every task ran (or the run failed) and no input
    /// is awaited any more.
    pub fn is_finished(&self) -> bool {
        self.ctx.is_done()
    }

    /// Whether the run is waiting for inputs only: some are outstanding, and no job of the
    /// run is queued or running (a snapshot).
    pub fn is_starved(&self) -> bool {
        self.lock().holding && self.ctx.pending_jobs() == 1
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stops holding the run open (idempotent).
    pub(crate) fn release(&self) {
        self.release_locked(&mut self.lock());
    }

    fn release_locked(&self, inner: &mut Inner) {
        if std::mem::replace(&mut inner.holding, false) {
            // SAFETY: the feed's job is counted in the latch (added before the feed was
            // made, ended here once, guarded by `holding` under the feed's lock). The
            // context lives on the stack of `Pool::run_fed`, which reads the outcome only
            // after the feeder returned, every poller of the run was unregistered (no other
            // thread uses the feed any more) and the latch is set, so the references this
            // feed keeps stay valid after the count-down.
            unsafe { RunCtx::end_jobs(self.ctx, 1) };
        }
    }

    #[cold]
    fn drop_value(&self, input: TaskId, value: Value) {
        if let Err(m) = catch(move || drop(value)) {
            self.ctx.fail_callback(DROP, Some(input), m);
        }
    }
}

impl std::fmt::Debug for Feed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("inputs", &self.ctx.plan.inputs().len())
            .field("pending", &self.pending_inputs())
            .finish()
    }
}
