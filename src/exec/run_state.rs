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
//! - A counter that starts at one has a single decrementer, so it is never touched: a user
//!   whose only dependency just finished is ready at once (the finishing worker wrote the
//!   slot and hands the user on through its own continuation slot or a deque push, both of
//!   which synchronise), and an input whose only user just finished is freed at once.
//! - Requested outputs hold one extra user that is never released during the run: their
//!   values survive until the caller takes them after the completion latch.
//!
//! Buffers are recycled between runs (see `Pool`): first use of fresh memory costs page
//! faults, and a run of a million tasks would otherwise fault in tens of megabytes.

use super::slot::Slot;
use super::sync::{AtomicU32, Ordering};
use crate::plan::{Countdown, Plan, TaskId};
use crate::value::Value;

const NONE: u32 = u32::MAX;

/// Decrements one job holds back (for [`Countdown::Batched`] edges): one pending (counter,
/// amount) pair for readiness and one for freeing. It belongs to one job of one run: a job
/// [`flush`](RunState::flush)es it before it ends, or drops it unapplied when the run
/// failed; it never outlives the job (task ids are reused by the next run).
///
/// It also names the value being freed while one is (`freeing`), so that a panic in a value's
/// `nbytes` or `Drop` can be reported with the value's key.
pub(crate) struct Deferred {
    ready: (u32, u32),
    users: (u32, u32),
    /// The task whose value is being dropped, and what runs (`DROP`).
    freeing: (u32, &'static str),
    /// The first panic caught in a freed value's `nbytes`: (its task, `NBYTES`, message).
    panic: Option<(TaskId, &'static str, String)>,
}

impl Default for Deferred {
    fn default() -> Self {
        Deferred {
            ready: (NONE, 0),
            users: (NONE, 0),
            freeing: (NONE, ""),
            panic: None,
        }
    }
}

impl Deferred {
    /// Whether no decrement is held back.
    pub(crate) fn is_empty(&self) -> bool {
        self.ready.1 == 0 && self.users.1 == 0
    }

    /// A panic caught in a freed value's `nbytes`, to be reported by the job.
    #[inline]
    pub(crate) fn take_panic(&mut self) -> Option<(TaskId, &'static str, String)> {
        self.panic.as_ref()?;
        self.panic.take()
    }

    /// The task whose value was being dropped and what was running, if any.
    pub(crate) fn freeing(&self) -> Option<(TaskId, &'static str)> {
        let (t, what) = self.freeing;
        (t != NONE).then(|| (TaskId::from_raw(t), what))
    }

    /// Takes the value of `d` out of `cell` and drops it, counting it in `freed`; `freeing`
    /// names `d` meanwhile.
    ///
    /// # Safety
    /// As [`Slot::take`]: every other access to the slot happened-before, none is concurrent.
    #[inline]
    unsafe fn free(&mut self, cell: &TaskCell, d: u32, freed: &mut Freed) {
        // SAFETY: forwarded from the caller.
        if let Some(v) = unsafe { cell.slot.take() } {
            freed.values += 1;
            // `nbytes` runs with `v` borrowed, so a panic there does not drop `v` while
            // unwinding (its `Drop` might panic too, which would abort).
            match super::nbytes_caught(&v) {
                Ok(n) => freed.bytes += n as u64,
                Err(m) => {
                    if self.panic.is_none() {
                        self.panic = Some((TaskId::from_raw(d), NBYTES, m));
                    }
                }
            }
            // A panic in `Drop` unwinds to the job's guard, which finds `d` named here.
            self.freeing = (d, DROP);
            drop(v);
            self.freeing = (NONE, "");
        }
    }
}

#[inline(always)]
fn prefetch_read<T>(p: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it never faults and has no architectural effect, and
    // SSE is part of the x86_64 baseline.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>((p as *const T).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Values and bytes freed by one call.
#[derive(Default, Clone, Copy, Debug)]
#[must_use]
pub(crate) struct Freed {
    pub(crate) values: u64,
    pub(crate) bytes: u64,
}

impl Freed {
    pub(crate) fn merge(&mut self, o: Freed) {
        self.values += o.values;
        self.bytes += o.bytes;
    }
}

/// One task's run-time state, kept together so that touching a task (reading its value,
/// counting it down) costs one cache miss, not three: 32 bytes, two to a cache line.
#[repr(C)]
#[derive(Default)]
struct TaskCell {
    slot: Slot,
    deps_left: AtomicU32,
    users_left: AtomicU32,
}

/// The per-run countdowns and slots. Shared by all workers through `&`.
#[derive(Default)]
pub(crate) struct RunState {
    cells: Vec<TaskCell>,
}

impl RunState {
    /// Sizes the state for `plan` and loads its counts. Every slot must be empty (a state
    /// is only recycled after [`RunState::clear`] or a successful run took its outputs).
    pub(crate) fn reset(&mut self, plan: &Plan) {
        let n = plan.len();
        self.cells.truncate(n);
        self.cells.resize_with(n, TaskCell::default);
        let counts = plan.start_deps().iter().zip(plan.n_users());
        for (c, (&d, &u)) in self.cells.iter().zip(counts) {
            c.deps_left.store(d, Ordering::Relaxed);
            c.users_left.store(u, Ordering::Relaxed);
        }
    }

    /// Writes every literal node's value into its slot: literal nodes are not scheduled,
    /// and their users' countdowns (`Plan::start_deps`) do not wait for them. Returns the
    /// values and bytes written, or the literal node whose value's `nbytes` panicked (with
    /// the message); the slots written so far stay for [`RunState::clear`].
    pub(crate) fn load_literals(&mut self, plan: &Plan) -> Result<Freed, (TaskId, String)> {
        let mut loaded = Freed::default();
        for &t in plan.literal_tasks() {
            // A clone shares the plan's value (every variant is reference-counted or
            // plain), so dropping it cannot run a payload's `Drop`.
            let v = plan.literal_value(t).clone();
            loaded.bytes += super::nbytes_caught(&v).map_err(|m| (t, m))? as u64;
            loaded.values += 1;
            self.cells[t.index()].slot.put_mut(v);
        }
        Ok(loaded)
    }

    /// The value of finished task `d`, borrowed.
    ///
    /// # Safety
    /// `d` finished and the caller's task is one of its users that became ready through
    /// [`RunState::finish_task`] (so the write happened-before), and the reference is dropped
    /// before that task finishes (which releases `d`).
    #[inline]
    pub(crate) unsafe fn get(&self, d: u32) -> &Value {
        // SAFETY: forwarded from the caller (slot protocol step 2).
        unsafe { self.cells[d as usize].slot.get() }
    }

    /// Asks the CPU to start loading the cells task `t` will touch (its inputs' and its
    /// users'), so that their cache misses overlap instead of stalling one after another.
    #[inline]
    pub(crate) fn prefetch(&self, plan: &Plan, t: TaskId) {
        let (deps, _) = plan.deps_with_modes(t);
        let (users, _) = plan.users_with_modes(t);
        for x in deps.iter().chain(users) {
            if let Some(c) = self.cells.get(x.index()) {
                prefetch_read(c);
            }
        }
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
        unsafe { self.cells[t.index()].slot.write(value) };
        let (users, modes) = plan.users_with_modes(t);
        for (&u, &mode) in users.iter().zip(modes) {
            match mode {
                // t is u's only dependency: nobody else counts u down.
                Countdown::One => ready(u),
                Countdown::Batched => self.defer_ready(defer, u.raw(), ready),
                Countdown::Atomic => {
                    let left = &self.cells[u.index()].deps_left;
                    if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                        ready(u);
                    }
                }
            }
        }
        let mut freed = Freed::default();
        let (deps, modes) = plan.deps_with_modes(t);
        for (&d, &mode) in deps.iter().zip(modes) {
            let cell = &self.cells[d.index()];
            match mode {
                // SAFETY: t is d's only user and has finished reading it: no other access
                // to the slot can follow (step 3 with a count of one).
                Countdown::One => unsafe { defer.free(cell, d.raw(), &mut freed) },
                Countdown::Batched => freed.merge(self.defer_users(defer, d.raw())),
                Countdown::Atomic => {
                    if cell.users_left.fetch_sub(1, Ordering::AcqRel) == 1 {
                        // SAFETY: we took the count to zero: every other user's reads
                        // happened-before (step 3).
                        unsafe { defer.free(cell, d.raw(), &mut freed) };
                    }
                }
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
        if k > 0
            && self.cells[u as usize]
                .deps_left
                .fetch_sub(k, Ordering::AcqRel)
                == k
        {
            ready(TaskId::from_raw(u));
        }
    }

    fn flush_users(&self, defer: &mut Deferred) -> Freed {
        let (d, k) = std::mem::replace(&mut defer.users, (NONE, 0));
        let mut freed = Freed::default();
        if k == 0 {
            return freed;
        }
        let cell = &self.cells[d as usize];
        if cell.users_left.fetch_sub(k, Ordering::AcqRel) == k {
            // SAFETY: as in `finish_task`: the count reached zero with our decrement.
            unsafe { defer.free(cell, d, &mut freed) };
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
        self.cells[t.index()].slot.clone_mut()
    }

    /// Empties the slots of `outputs` (after a successful run every other slot is empty).
    /// Returns the first panic of a value's `nbytes` or `Drop`, if any.
    pub(crate) fn clear_outputs(&mut self, outputs: &[TaskId]) -> Option<FreePanic> {
        let mut first = None;
        for &t in outputs {
            if let Some(v) = self.cells[t.index()].slot.take_mut() {
                free_caught(t, v, &mut Freed::default(), &mut first);
            }
        }
        first
    }

    /// Empties every slot (after a failed run), returning what was freed and the first panic
    /// of a value's `nbytes` or `Drop`. Every slot is emptied even when some values panic.
    pub(crate) fn clear(&mut self) -> (Freed, Option<FreePanic>) {
        let mut freed = Freed::default();
        let mut first = None;
        for (i, c) in self.cells.iter_mut().enumerate() {
            if let Some(v) = c.slot.take_mut() {
                free_caught(TaskId::from_raw(i as u32), v, &mut freed, &mut first);
            }
        }
        (freed, first)
    }
}

/// A panic raised while freeing a value outside any worker: in its `nbytes` or its `Drop`.
pub(crate) struct FreePanic {
    /// The task whose value it was.
    pub(crate) task: TaskId,
    /// `"nbytes of a value"` or `"drop of a value"`.
    pub(crate) what: &'static str,
    /// The panic's message.
    pub(crate) message: String,
}

/// Counts and drops `v`, the value of `t`, catching a panic in either step; the first panic
/// is kept in `first`.
fn free_caught(t: TaskId, v: Value, freed: &mut Freed, first: &mut Option<FreePanic>) {
    let mut note = |what, message| {
        if first.is_none() {
            *first = Some(FreePanic {
                task: t,
                what,
                message,
            });
        }
    };
    freed.values += 1;
    match super::catch(|| v.nbytes()) {
        Ok(n) => freed.bytes += n as u64,
        Err(m) => note(NBYTES, m),
    }
    if let Err(m) = super::catch(move || drop(v)) {
        note(DROP, m);
    }
}

/// What panicked, as [`Error::Callback`](crate::Error::Callback) names it.
pub(crate) const NBYTES: &str = "nbytes of a value";
/// What panicked, as [`Error::Callback`](crate::Error::Callback) names it.
pub(crate) const DROP: &str = "drop of a value";
