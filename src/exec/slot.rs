//! Result slots: write-once, read-many, take-once cells for task values.
//!
//! The protocol (enforced by the run-state counters, not by this type):
//! 1. the task's own worker writes the slot once, before it decrements any user's
//!    dependency counter (a release);
//! 2. users read (clone) it only after their dependency counter reached zero (an acquire
//!    that synchronises with every writer's release), and before they decrement the slot's
//!    user counter (a release);
//! 3. whoever takes the user counter to zero (an acquire) takes the value out and drops it;
//!    for requested outputs the counter never reaches zero during the run, and the caller
//!    takes the value after the run has completed (synchronised by the completion latch).
//!
//! So a write is never concurrent with a read or a take, and a take is never concurrent with
//! a read. This is the only module of the executor that touches the cells.

use super::sync::UnsafeCell;
use crate::value::Value;

/// One task's result cell.
pub(crate) struct Slot(UnsafeCell<Option<Value>>);

// SAFETY: access follows the protocol in the module docs: a write happens-before every read
// and the take, reads never overlap a write or the take, and `Value` is `Send + Sync`.
unsafe impl Sync for Slot {}

impl Default for Slot {
    fn default() -> Self {
        Slot(UnsafeCell::new(None))
    }
}

impl Slot {
    /// Stores the task's value.
    ///
    /// # Safety
    /// No other thread reads, writes or takes this slot concurrently (protocol step 1).
    #[inline]
    pub(crate) unsafe fn write(&self, v: Value) {
        // SAFETY: the caller guarantees exclusive access (step 1).
        self.0.with_mut(|p| unsafe { *p = Some(v) });
    }

    /// The stored value, borrowed.
    ///
    /// # Safety
    /// The write happened-before this call, and no take can happen while the returned
    /// reference lives (step 2: the reader has not yet released its use).
    #[inline]
    pub(crate) unsafe fn get(&self) -> &Value {
        // SAFETY: only shared access happens while the reference lives (step 2).
        let v = self.0.with(|p| unsafe { (*p).as_ref() });
        v.expect("slot read before its write")
    }

    /// Takes the value out, leaving the slot empty.
    ///
    /// # Safety
    /// Every access to the slot happened-before this call and none is concurrent (step 3).
    #[inline]
    pub(crate) unsafe fn take(&self) -> Option<Value> {
        // SAFETY: the caller guarantees exclusive access (step 3).
        self.0.with_mut(|p| unsafe { (*p).take() })
    }

    /// Stores a value with exclusive access proven by `&mut` (a literal node's, before
    /// the run starts).
    pub(crate) fn put_mut(&mut self, v: Value) {
        // SAFETY: `&mut self` excludes every other access.
        self.0.with_mut(|p| unsafe { *p = Some(v) });
    }

    /// Clones the value with exclusive access proven by `&mut`.
    pub(crate) fn clone_mut(&mut self) -> Option<Value> {
        // SAFETY: `&mut self` excludes every other access.
        self.0.with(|p| unsafe { (*p).clone() })
    }

    /// Takes the value with exclusive access proven by `&mut`.
    pub(crate) fn take_mut(&mut self) -> Option<Value> {
        // SAFETY: `&mut self` excludes every other access.
        self.0.with_mut(|p| unsafe { (*p).take() })
    }
}
