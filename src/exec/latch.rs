//! The completion latch of one run: counts the run's jobs and wakes the caller when the last
//! one ends. Knows nothing about tasks.
//!
//! The caller owns the run's context (this latch included) on its stack and may free it as
//! soon as it sees `done`. So the last job must not hold a reference into the context after
//! its store to `done`: [`Latch::count_down`] takes a raw pointer, as rayon-core's
//! `Latch::set(this: *const Self)` does, and touches the latch only through short-lived
//! references to its atomics (interior-mutable memory, like `Arc`'s count) and a clone of the
//! caller's thread handle made before the store.

use super::sync::{
    AtomicBool, AtomicUsize, Ordering, Thread, current_thread, park_thread, spin_hint,
};
use crossbeam_utils::{Backoff, CachePadded};

/// Times a waiting caller yields its core, after spinning, before it parks: long enough to
/// catch the end of a run of a few microseconds without a futex wake-up.
const WAIT_YIELDS: u32 = 2000;

/// Counts the jobs of one run; set when the count returns to zero.
pub(crate) struct Latch {
    /// Jobs of this run not yet ended: queued or running.
    pending: CachePadded<AtomicUsize>,
    /// Set (Release) by the job whose end took `pending` to zero.
    done: AtomicBool,
    /// The thread that waits.
    caller: Thread,
}

impl Latch {
    /// A latch for a run submitted from the calling thread.
    pub(crate) fn new() -> Latch {
        Latch {
            pending: CachePadded::new(AtomicUsize::new(0)),
            done: AtomicBool::new(false),
            caller: current_thread(),
        }
    }

    /// Counts `n` jobs about to be made available.
    #[inline]
    pub(crate) fn add(&self, n: usize) {
        self.pending.fetch_add(n, Ordering::Relaxed);
    }

    /// Ends `n` jobs (the calling job and jobs it ran within itself); the end of the last
    /// one sets the latch and wakes the caller.
    ///
    /// # Safety
    /// `this` points to a live latch in which the `n` jobs are still counted (so the
    /// caller is still waiting and the latch cannot be freed before this job's decrement).
    /// Neither `this` nor any reference into the run's context may be used after this call.
    #[inline]
    pub(crate) unsafe fn count_down(this: *const Latch, n: usize) {
        // AcqRel: every job's writes (slots, counters) happen-before the final decrement,
        // which the caller acquires through `done`.
        // SAFETY: the jobs are still counted, so the latch is alive; the reference made for
        // the call covers only the atomic, which another thread may free once the decrement
        // is done (as with `Arc`'s count).
        let last = unsafe { (*this).pending.fetch_sub(n, Ordering::AcqRel) } == n;
        if last {
            // SAFETY: this job took the count to zero: the caller waits for `done`, which
            // is not set yet, so the latch is alive.
            unsafe { Latch::set(this) };
        }
    }

    #[cold]
    unsafe fn set(this: *const Latch) {
        // Clone the handle first: once `done` is set the caller may free the latch.
        // SAFETY: `done` is not set yet (see `count_down`), so the latch is alive.
        let caller = unsafe { (*this).caller.clone() };
        // SAFETY: as above; after this store `this` is never used again.
        unsafe { (*this).done.store(true, Ordering::Release) };
        // Under loom the caller spins (see `wait`): loom's thread-park tokens interfere with
        // the condition variables the workers' parkers use (loom issue 422).
        #[cfg(not(blockwork_loom))]
        caller.unpark();
        #[cfg(blockwork_loom)]
        drop(caller);
    }

    /// Jobs counted and not yet ended (a snapshot).
    pub(crate) fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// Whether the latch is set.
    pub(crate) fn is_set(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Blocks the calling (submitting) thread until the latch is set.
    pub(crate) fn wait(&self) {
        let backoff = Backoff::new();
        let mut yields = 0;
        while !self.done.load(Ordering::Acquire) {
            if cfg!(blockwork_loom) || !backoff.is_completed() {
                // Under loom always: a yield lets the model run the workers.
                spin_hint(&backoff);
            } else if yields < WAIT_YIELDS {
                // Yielding keeps a small run's round trip in microseconds without taking
                // a core from the workers when they need it.
                yields += 1;
                std::thread::yield_now();
            } else {
                park_thread();
            }
        }
    }
}
