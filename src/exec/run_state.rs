//! Per-run state: the two countdowns and the result slots.
//!
//! `deps_left[t]` starts at `plan.n_deps()[t]` and counts down as t's dependencies finish;
//! the decrement that reaches zero makes t ready. `users_left[t]` starts at
//! `plan.n_users()[t]` and counts down as t's users finish; the decrement that reaches zero
//! frees t's value. [`RunState::finish_task`] is the only place either is decremented.
//!
//! Memory ordering (the argument for both counters):
//! - A finishing task writes its slot *before* its `fetch_sub(AcqRel)` on each user's
//!   `deps_left`. All decrements of one counter are read-modify-writes, so they form one
//!   release sequence; the decrement that reaches zero acquires it and so happens-after
//!   every dependency's slot write. A ready task may therefore read all its inputs.
//! - A user clones its inputs *before* its `fetch_sub(AcqRel)` on each input's
//!   `users_left`. The decrement that reaches zero acquires every earlier user's release,
//!   so every read of the slot happened-before the take that frees it.
//! - Requested outputs hold one extra user that is never released during the run: their
//!   values survive until the caller takes them after the completion latch.
//!
//! Buffers are recycled between runs (see `Pool`): first use of fresh memory costs page
//! faults, and a run of a million tasks would otherwise fault in tens of megabytes.

use super::slot::Slot;
use super::sync::{AtomicU32, Ordering};
use crate::plan::{Plan, TaskId};
use crate::value::Value;

/// A dependent with more dependencies than this has its readiness countdown batched within
/// a job (see [`Deferred`]), and likewise an input with more users than this has its freeing
/// countdown batched: many workers decrementing one counter per task would serialise on its
/// cache line.
#[cfg(not(loom))]
pub(crate) const DEFER_FAN: u32 = 16;
/// Under loom, small enough that a model of a few tasks exercises the batched paths.
#[cfg(loom)]
pub(crate) const DEFER_FAN: u32 = 2;

const NONE: u32 = u32::MAX;

/// Decrements a worker holds back within one job: one pending (counter, amount) pair for
/// readiness and one for freeing. A job must [`flush`](RunState::flush) before it ends.
pub(crate) struct Deferred {
    ready: (u32, u32),
    users: (u32, u32),
}

impl Default for Deferred {
    fn default() -> Self {
        Deferred {
            ready: (NONE, 0),
            users: (NONE, 0),
        }
    }
}

/// Values and bytes freed by one call.
#[derive(Default, Clone, Copy, Debug)]
#[must_use]
pub(crate) struct Freed {
    pub(crate) values: u64,
    pub(crate) bytes: u64,
}

impl Freed {
    fn add(&mut self, v: Option<Value>) {
        if let Some(v) = v {
            self.values += 1;
            self.bytes += v.nbytes() as u64;
        }
    }
    pub(crate) fn merge(&mut self, o: Freed) {
        self.values += o.values;
        self.bytes += o.bytes;
    }
}

/// The per-run countdowns and slots. Shared by all workers through `&`.
#[derive(Default)]
pub(crate) struct RunState {
    deps_left: Vec<AtomicU32>,
    users_left: Vec<AtomicU32>,
    slots: Vec<Slot>,
}

impl RunState {
    /// Sizes the state for `plan` and loads its counts. Every slot must be empty (a state
    /// is only recycled after [`RunState::clear`] or a successful run took its outputs).
    pub(crate) fn reset(&mut self, plan: &Plan) {
        let n = plan.len();
        self.deps_left.truncate(n);
        self.users_left.truncate(n);
        self.slots.truncate(n);
        for (a, &c) in self.deps_left.iter().zip(plan.n_deps()) {
            a.store(c, Ordering::Relaxed);
        }
        for (a, &c) in self.users_left.iter().zip(plan.n_users()) {
            a.store(c, Ordering::Relaxed);
        }
        let have = self.deps_left.len();
        self.deps_left
            .extend(plan.n_deps()[have..].iter().map(|&c| AtomicU32::new(c)));
        self.users_left
            .extend(plan.n_users()[have..].iter().map(|&c| AtomicU32::new(c)));
        self.slots.resize_with(n, Slot::default);
    }

    /// The value of finished task `d`.
    ///
    /// # Safety
    /// `d` finished and the caller's task is one of its users that became ready through
    /// [`RunState::finish_task`] (so the write happened-before) and has not yet released it.
    #[inline]
    pub(crate) unsafe fn read(&self, d: u32) -> Value {
        // SAFETY: forwarded from the caller (slot protocol step 2).
        unsafe { self.slots[d as usize].read() }
    }

    /// Publishes `value` as task `t`'s result, counts down its users' dependencies and its
    /// inputs' users. Calls `ready(u)` for each user that became ready, in priority order,
    /// and returns what was freed.
    ///
    /// # Safety
    /// `t` ran exactly once in this run, after becoming ready, and has finished reading its
    /// inputs.
    pub(crate) unsafe fn finish_task(
        &self,
        plan: &Plan,
        t: TaskId,
        value: Value,
        defer: &mut Deferred,
        ready: &mut impl FnMut(TaskId),
    ) -> Freed {
        // SAFETY: t runs once, so nobody else writes its slot, and no user can read it
        // before the decrements below (slot protocol step 1).
        unsafe { self.slots[t.index()].write(value) };
        let n_deps = plan.n_deps();
        for &u in plan.users(t) {
            if n_deps[u.index()] > DEFER_FAN {
                self.defer_ready(defer, u.raw(), ready);
            } else if self.deps_left[u.index()].fetch_sub(1, Ordering::AcqRel) == 1 {
                ready(u);
            }
        }
        let mut freed = Freed::default();
        let n_users = plan.n_users();
        for &d in plan.deps(t) {
            if n_users[d.index()] > DEFER_FAN {
                freed.merge(self.defer_users(defer, d.raw()));
            } else if self.users_left[d.index()].fetch_sub(1, Ordering::AcqRel) == 1 {
                // SAFETY: we took the count to zero: every other user's reads
                // happened-before (step 3).
                freed.add(unsafe { self.slots[d.index()].take() });
            }
        }
        freed
    }

    fn defer_ready(&self, defer: &mut Deferred, u: u32, ready: &mut impl FnMut(TaskId)) {
        if defer.ready.0 != u {
            self.flush_ready(defer, ready);
            defer.ready.0 = u;
        }
        defer.ready.1 += 1;
    }

    fn defer_users(&self, defer: &mut Deferred, d: u32) -> Freed {
        let mut freed = Freed::default();
        if defer.users.0 != d {
            freed = self.flush_users(defer);
            defer.users.0 = d;
        }
        defer.users.1 += 1;
        freed
    }

    fn flush_ready(&self, defer: &mut Deferred, ready: &mut impl FnMut(TaskId)) {
        let (u, k) = std::mem::replace(&mut defer.ready, (NONE, 0));
        if k > 0 && self.deps_left[u as usize].fetch_sub(k, Ordering::AcqRel) == k {
            ready(TaskId::from_raw(u));
        }
    }

    fn flush_users(&self, defer: &mut Deferred) -> Freed {
        let (d, k) = std::mem::replace(&mut defer.users, (NONE, 0));
        let mut freed = Freed::default();
        if k > 0 && self.users_left[d as usize].fetch_sub(k, Ordering::AcqRel) == k {
            // SAFETY: as in `finish_task`: the count reached zero with our decrement.
            freed.add(unsafe { self.slots[d as usize].take() });
        }
        freed
    }

    /// Applies every held-back decrement. Must run before the job that deferred them ends,
    /// or the run could wait forever for a task that is ready but never announced.
    pub(crate) fn flush(&self, defer: &mut Deferred, ready: &mut impl FnMut(TaskId)) -> Freed {
        self.flush_ready(defer, ready);
        self.flush_users(defer)
    }

    /// Clones an output's value after the run completed.
    pub(crate) fn output(&mut self, t: TaskId) -> Option<Value> {
        self.slots[t.index()].clone_mut()
    }

    /// Empties the slots of `outputs` (after a successful run every other slot is empty).
    pub(crate) fn clear_outputs(&mut self, outputs: &[TaskId]) {
        for t in outputs {
            drop(self.slots[t.index()].take_mut());
        }
    }

    /// Empties every slot (after a failed run), returning what was freed.
    pub(crate) fn clear(&mut self) -> Freed {
        let mut freed = Freed::default();
        for s in &mut self.slots {
            freed.add(s.take_mut());
        }
        freed
    }
}
