//! Parking idle workers without lost wake-ups. Knows nothing about tasks.
//!
//! Protocol (a Dekker-style handshake; both sides put a SeqCst fence between their write
//! and their read):
//! - A worker going to sleep: registers itself in `idle` and increments `sleeping`, then a
//!   SeqCst fence, then re-checks every queue (and the shutdown flag). If it finds anything
//!   it unregisters and goes back to work; otherwise it parks.
//! - A thread that made work available (pushed a job): SeqCst fence, then reads `sleeping`;
//!   if non-zero it takes sleepers out of `idle` under the lock and unparks them.
//!
//! Either the pusher's read of `sleeping` sees the registration (and unparks the sleeper), or
//! the sleeper's fence comes later in the single total order of SeqCst fences, and then its
//! re-check sees the pushed job. Unpark tokens are sticky, so an unpark that lands between
//! the re-check and the park makes the park return at once. A worker woken spuriously
//! unregisters itself under the lock and goes round its loop again.

use super::sync::{AtomicUsize, Mutex, Ordering, Unparker, fence};

/// The pool's sleep state.
pub(crate) struct Sleep {
    /// Number of workers registered in `idle`; read without the lock on the push path.
    sleeping: AtomicUsize,
    /// Indices of registered (parked or about to park) workers.
    idle: Mutex<Vec<usize>>,
    unparkers: Box<[Unparker]>,
    /// Under loom only: stands in for the release/acquire edge that crossbeam's deques and
    /// injector give from a push to the pop or steal that takes the job. Loom cannot see
    /// crossbeam's own atomics, so without it a model would find a worker reading a run's
    /// context with no visible happens-before from the thread that made it.
    #[cfg(blockwork_loom)]
    handoff: AtomicUsize,
}

impl Sleep {
    pub(crate) fn new(unparkers: Vec<Unparker>) -> Sleep {
        Sleep {
            sleeping: AtomicUsize::new(0),
            idle: Mutex::new(Vec::with_capacity(unparkers.len())),
            unparkers: unparkers.into_boxed_slice(),
            #[cfg(blockwork_loom)]
            handoff: AtomicUsize::new(0),
        }
    }

    /// Called after making `n` jobs available: wakes up to `n` sleepers.
    #[inline]
    pub(crate) fn notify(&self, n: usize) {
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::Relaxed) > 0 {
            self.wake(n);
        }
    }

    /// Called right before a job is pushed (see `handoff`); a no-op outside loom.
    #[inline]
    pub(crate) fn will_push(&self) {
        #[cfg(blockwork_loom)]
        self.handoff.fetch_add(1, Ordering::Release);
    }

    /// Called by a worker that took a job (see `handoff`); a no-op outside loom.
    #[inline]
    pub(crate) fn took_job(&self) {
        // An RMW reads the latest value, so it synchronises with every earlier push's
        // release.
        #[cfg(blockwork_loom)]
        self.handoff.fetch_add(0, Ordering::AcqRel);
    }

    #[cold]
    fn wake(&self, n: usize) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..n {
            let Some(i) = idle.pop() else { break };
            self.sleeping.fetch_sub(1, Ordering::Relaxed);
            self.unparkers[i].unpark();
        }
    }

    /// Wakes every sleeper (shutdown).
    pub(crate) fn wake_all(&self) {
        fence(Ordering::SeqCst);
        self.wake(usize::MAX);
    }

    /// Parks worker `index` unless `has_work()` says otherwise after registration.
    pub(crate) fn sleep(&self, index: usize, park: impl FnOnce(), has_work: impl FnOnce() -> bool) {
        {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            idle.push(index);
            self.sleeping.fetch_add(1, Ordering::SeqCst);
        }
        fence(Ordering::SeqCst);
        if !has_work() {
            park();
        }
        self.unregister(index);
    }

    /// Removes `index` from `idle` if a waker has not already done so.
    fn unregister(&self, index: usize) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = idle.iter().position(|&i| i == index) {
            idle.swap_remove(p);
            self.sleeping.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
