//! The synchronisation primitives of the executor's lock-free protocols, from `std` (and
//! crossbeam-utils) normally and from `loom` under `--cfg loom`, so the same code is model
//! checked. Holds nothing else.

#[cfg(not(loom))]
pub(crate) use std::sync::Mutex;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering, fence};

#[cfg(loom)]
pub(crate) use loom::sync::Mutex;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering, fence};

#[cfg(not(loom))]
pub(crate) use crossbeam_utils::sync::{Parker, Unparker};

/// Under loom, parking is loom's thread park, which the model checker explores.
#[cfg(loom)]
mod loom_park {
    pub(crate) struct Parker {
        unparker: Unparker,
    }
    #[derive(Clone)]
    pub(crate) struct Unparker {
        thread: loom::thread::Thread,
    }
    impl Parker {
        pub(crate) fn new() -> Self {
            Parker {
                unparker: Unparker {
                    thread: loom::thread::current(),
                },
            }
        }
        pub(crate) fn park(&self) {
            loom::thread::park();
        }
        pub(crate) fn unparker(&self) -> &Unparker {
            &self.unparker
        }
    }
    impl Unparker {
        pub(crate) fn unpark(&self) {
            self.thread.unpark();
        }
    }
}
#[cfg(loom)]
pub(crate) use loom_park::{Parker, Unparker};

/// A cell with loom's closure-based access API, so that loom can check accesses.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
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

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;
