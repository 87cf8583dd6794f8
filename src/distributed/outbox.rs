//! Sends in flight: non-blocking point-to-point sends whose buffers live exactly as long as
//! MPI reads them.
//!
//! A message is encoded once and may go to several ranks: its buffer is handed to MPI
//! (leaked from its `Box`) with a count of the sends reading it, and freed when the last of
//! them completed. Completion is tested oldest first, a bounded number per call, so a long
//! queue costs little per call.

use mpi::point_to_point::Destination;
use mpi::request::{Request, StaticScope};
use mpi::topology::{Communicator, SimpleCommunicator};
use std::collections::VecDeque;

/// Sends tested per [`Outbox::progress`] call.
const TESTS_PER_CALL: usize = 64;

/// One buffer handed to MPI.
struct Leaked {
    /// From `Box::into_raw`; freed by [`Outbox::done`] when `pending` reaches zero.
    ptr: *mut [u8],
    /// Sends reading it that have not completed.
    pending: u32,
}

/// The sends of a rank that have not completed, with their buffers.
pub(crate) struct Outbox {
    sends: VecDeque<(Request<'static, [u8]>, usize)>,
    buffers: Vec<Option<Leaked>>,
    free: Vec<usize>,
}

// SAFETY: the requests and buffers of an outbox are process-wide MPI objects and plain
// memory, not tied to a thread; an outbox moves between threads only inside the run's lock
// (`Link::state`), and MPI is then called from any thread only where the library allows it
// one thread at a time (see `Link::any_thread`).
unsafe impl Send for Outbox {}

impl Outbox {
    /// Whether no send is in flight.
    pub(crate) fn is_empty(&self) -> bool {
        self.sends.is_empty()
    }

    pub(crate) fn new() -> Outbox {
        Outbox {
            sends: VecDeque::new(),
            buffers: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Starts sending `msg` with `tag` to each rank of `dests` (none: the message is
    /// dropped).
    pub(crate) fn send(
        &mut self,
        comm: &SimpleCommunicator,
        dests: &[u32],
        tag: i32,
        msg: Vec<u8>,
    ) {
        if dests.is_empty() {
            return;
        }
        let ptr = Box::into_raw(msg.into_boxed_slice());
        // SAFETY: `ptr` comes from `Box::into_raw` just above, so it is valid and aligned;
        // it is freed only in `done`, after every send made here has completed (MPI reads
        // the buffer no more), and nothing writes it meanwhile: all uses are shared.
        let buf: &'static [u8] = unsafe { &*ptr };
        let id = self.free.pop().unwrap_or_else(|| {
            self.buffers.push(None);
            self.buffers.len() - 1
        });
        self.buffers[id] = Some(Leaked {
            ptr,
            pending: dests.len() as u32,
        });
        for &d in dests {
            let req = comm
                .process_at_rank(d as i32)
                .immediate_send_with_tag(StaticScope, buf, tag);
            self.sends.push_back((req, id));
        }
    }

    /// Tests the oldest sends for completion and frees the buffers no send reads any more.
    pub(crate) fn progress(&mut self) {
        for _ in 0..TESTS_PER_CALL.min(self.sends.len()) {
            let Some((req, id)) = self.sends.pop_front() else {
                return;
            };
            match req.test() {
                Ok(_) => self.done(id),
                Err(req) => {
                    // Later sends usually complete later: stop at the first one pending.
                    self.sends.push_front((req, id));
                    return;
                }
            }
        }
    }

    /// Waits for every send to complete (the receivers must be receiving).
    pub(crate) fn wait_all(&mut self) {
        while let Some((req, id)) = self.sends.pop_front() {
            req.wait_without_status();
            self.done(id);
        }
    }

    /// A send reading buffer `id` completed.
    fn done(&mut self, id: usize) {
        let Some(b) = self.buffers[id].as_mut() else {
            return;
        };
        b.pending -= 1;
        if b.pending == 0 {
            let ptr = b.ptr;
            self.buffers[id] = None;
            self.free.push(id);
            // SAFETY: `ptr` came from `Box::into_raw` in `send`, and every send reading it
            // has completed, so MPI holds no reference to it and the `&'static` made there
            // is no longer used; it is freed once (its entry was cleared above).
            drop(unsafe { Box::from_raw(ptr) });
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        // A request dropped before completion would panic in the MPI bindings, and the
        // buffers must outlive their sends: complete them first.
        self.wait_all();
    }
}
