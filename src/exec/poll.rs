//! Pollers of runs in progress: functions that idle workers call while a run awaits inputs
//! (see [`Pool::run_fed_polled`](super::Pool::run_fed_polled)), so that the thread that
//! would otherwise wait for work is the one that fetches it. Knows nothing about tasks.
//!
//! A poller borrows the stack of the run's caller (its feed and its closure), so it is
//! registered with its lifetime erased: it is called only under the registry's lock, and
//! unregistered under that lock, before anything it borrows goes. Plain `std` types: loom
//! models no poller, and the registry stays out of its view.

use super::feed::Feed;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A poller's function: polls for the run's inputs, delivers what arrived, and returns
/// whether the run still awaits some (idle workers then keep polling a while).
pub(crate) type PollFn<'a> = dyn Fn(&Feed<'_>) -> bool + Sync + 'a;

/// One registered poller, its lifetime erased.
struct Entry {
    id: usize,
    feed: *const Feed<'static>,
    poll: *const PollFn<'static>,
}

// SAFETY: both pointees are `Sync` (a feed is; the closure is required to be), and they are
// dereferenced only under the registry's lock while registered, on whichever thread holds
// it; the registration guard removes the entry before they are freed.
unsafe impl Send for Entry {}

/// The pollers of a pool's runs in progress.
#[derive(Default)]
pub(crate) struct Pollers {
    /// Number of registered pollers, read without the lock by idle workers.
    count: AtomicUsize,
    next_id: AtomicUsize,
    list: Mutex<Vec<Entry>>,
}

impl Pollers {
    /// Registers `poll` on `feed` until the returned guard is dropped.
    ///
    /// # Safety
    /// The guard must be dropped (not leaked) before `feed` and `poll` are: the registry
    /// holds pointers to both until then.
    pub(crate) unsafe fn register<'g>(
        &'g self,
        feed: &'g Feed<'_>,
        poll: &'g PollFn<'_>,
    ) -> Registration<'g> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let feed: *const Feed<'static> = (feed as *const Feed<'_>).cast();
        // SAFETY: only the lifetime of the trait object changes (same layout); the pointer
        // is used under the contract above.
        let poll: *const PollFn<'static> =
            unsafe { std::mem::transmute::<*const PollFn<'_>, *const PollFn<'static>>(poll) };
        let mut list = self.lock();
        list.push(Entry { id, feed, poll });
        self.count.store(list.len(), Ordering::Release);
        Registration { pollers: self, id }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.list.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Called by an idle worker: polls every registered run (unless another thread is
    /// polling them now). Returns whether a run awaits inputs (true too while another
    /// thread polls).
    #[inline]
    pub(crate) fn poll(&self) -> bool {
        if self.count.load(Ordering::Relaxed) == 0 {
            return false;
        }
        self.poll_cold()
    }

    #[cold]
    fn poll_cold(&self) -> bool {
        let Ok(list) = self.list.try_lock() else {
            return true;
        };
        let mut awaited = false;
        for e in list.iter() {
            // SAFETY: the entry is registered (we hold the lock its guard removes it
            // under), so its feed and closure are alive; both are `Sync`.
            let (feed, poll) = unsafe { (&*e.feed, &*e.poll) };
            // A panicking poller must not take the worker down: the run fails instead.
            match super::catch(|| poll(feed)) {
                Ok(a) => awaited |= a,
                Err(m) => feed.fail(super::run_ctx::callback_error(
                    feed.plan(),
                    "the poller of run_fed_polled",
                    None,
                    m,
                )),
            }
        }
        awaited
    }
}

/// Keeps a poller registered while it lives.
pub(crate) struct Registration<'g> {
    pollers: &'g Pollers,
    id: usize,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        // Waits for a poll in progress: after this, no thread uses the entry.
        let mut list = self.pollers.lock();
        list.retain(|e| e.id != self.id);
        self.pollers.count.store(list.len(), Ordering::Release);
    }
}
