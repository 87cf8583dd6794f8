//! The synchronisation primitives of the executor's lock-free protocols, from `std` (and
//! crossbeam-utils) normally and from `loom` under `--cfg blockwork_loom`, so the same code is model
//! checked. Holds nothing else.

#[cfg(not(blockwork_loom))]
pub(crate) use std::sync::Mutex;
#[cfg(not(blockwork_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering, fence};

#[cfg(blockwork_loom)]
pub(crate) use loom::sync::Mutex;
#[cfg(blockwork_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering, fence};

#[cfg(not(blockwork_loom))]
pub(crate) use crossbeam_utils::sync::{Parker, Unparker};

/// Under loom, a parker is a token behind a loom mutex and condition variable, which the
/// model checker explores. Like crossbeam's `Parker` it can be made on one thread and parked
/// on another, and an unpark before the park is kept (the token is sticky).
#[cfg(blockwork_loom)]
mod loom_park {
    use loom::sync::{Arc, Condvar, Mutex};

    struct Token {
        set: Mutex<bool>,
        cv: Condvar,
    }

    pub(crate) struct Parker {
        unparker: Unparker,
    }

    #[derive(Clone)]
    pub(crate) struct Unparker {
        token: Arc<Token>,
    }

    impl Parker {
        pub(crate) fn new() -> Self {
            Parker {
                unparker: Unparker {
                    token: Arc::new(Token {
                        set: Mutex::new(false),
                        cv: Condvar::new(),
                    }),
                },
            }
        }
        /// Waits for the token, then consumes it.
        pub(crate) fn park(&self) {
            let t = &self.unparker.token;
            let mut set = t.set.lock().unwrap();
            while !*set {
                set = t.cv.wait(set).unwrap();
            }
            *set = false;
        }
        pub(crate) fn unparker(&self) -> &Unparker {
            &self.unparker
        }
    }

    impl Unparker {
        /// Sets the token and wakes the parked thread, if any.
        pub(crate) fn unpark(&self) {
            *self.token.set.lock().unwrap() = true;
            self.token.cv.notify_one();
        }
    }
}
#[cfg(blockwork_loom)]
pub(crate) use loom_park::{Parker, Unparker};

/// A cell with loom's closure-based access API, so that loom can check accesses.
#[cfg(not(blockwork_loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(blockwork_loom))]
impl<T> UnsafeCell<T> {
    pub(crate) fn new(v: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(v))
    }
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }
    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

#[cfg(blockwork_loom)]
pub(crate) use loom::cell::UnsafeCell;

#[cfg(blockwork_loom)]
pub(crate) use loom::thread::{Thread, current as current_thread, park as park_thread};
/// The handle of a thread that waits for a run, and the calls that park and find it.
#[cfg(not(blockwork_loom))]
pub(crate) use std::thread::{Thread, current as current_thread, park as park_thread};

/// One round of a spin-wait: a CPU hint normally; under loom a yield, so the model checker
/// runs the other threads instead of exploring the spin.
#[inline]
pub(crate) fn spin_hint(backoff: &crossbeam_utils::Backoff) {
    #[cfg(not(blockwork_loom))]
    backoff.snooze();
    #[cfg(blockwork_loom)]
    {
        let _ = backoff;
        loom::thread::yield_now();
    }
}
