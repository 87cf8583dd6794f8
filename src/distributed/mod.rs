//! Distributed runs over MPI: one graph, many processes and hosts.
//!
//! The program is started with `mpirun -np N` (SPMD): every rank builds the same graph and
//! the same [`Plan`], and runs it through a [`Distributed`] executor, which implements
//! [`Executor`], so arrays, bags, spec files and hand-built graphs run unchanged.
//!
//! - **Placement.** Every task gets an owner rank from the plan alone, the same on every
//!   rank ([`Placement`], [`Partitioner`]): array blocks and bag partitions by their block
//!   coordinates, other tasks by contiguous ranges of the priority order; pins send a key or
//!   a key prefix to a chosen rank. Literal nodes are on every rank already.
//! - **Streaming.** Each rank runs its whole share as one plan on its local [`Pool`]
//!   ([`Pool::run_fed`]). A value another rank needs is encoded by the worker that made it,
//!   as soon as it is made, and sent once per (value, destination rank) with a non-blocking
//!   point-to-point message; the rank's calling thread runs the communication loop (sends,
//!   probes, receives) meanwhile, and a received value enters the running plan as a ready
//!   input, so the tasks reading it start at once. A value is freed when its last local
//!   reader and its send are done. There is no barrier between tasks: the ranks agree once,
//!   at the end of the run.
//! - **Encoding.** Array blocks travel as raw bytes with their dtype and shape, the other
//!   [`Value`] variants in a small binary format; payloads need a codec ([`Codecs`]). A
//!   value that must cross ranks and whose op declares a payload type without a codec
//!   ([`Op::payload_type`](crate::Op::payload_type)) is a [`Codec`](ErrorKind::Codec) error
//!   naming its key before anything runs; a payload only known when it is made (an op that
//!   declares nothing) is the same error, from the rank that made it, at run time.
//! - **Outputs** arrive on rank 0 (the other ranks get [`Value::Unit`] for outputs they do
//!   not hold), or on every rank with [`Distributed::outputs_on_every_rank`].
//! - **Failure.** A rank whose run fails (a task error or panic, an encoding or decoding
//!   error) stops its run and tells every other rank, which stop theirs; then the ranks
//!   agree on the lowest failing rank, receive the messages still in flight, and every rank
//!   returns the same [`Error::OnRank`] with that rank's error (key, op, message) inside. No
//!   rank waits for a message that will not come, and the executor can run again.
//! - **Preparation.** The owners, the destinations and the rank's share of a plan are
//!   computed at its first run and kept with the plan (they are freed with it), so that
//!   running the same plan again with the same placement, codecs and outputs costs only the
//!   run and one collective that checks that the ranks run the same plan. A plan keeps one:
//!   a run with other settings frees it before it makes its own.
//! - **Statistics.** [`RunStats`] of a distributed run count this rank's messages and bytes
//!   sent and received and its time waiting for data; [`Distributed::last_stats`] has them
//!   too, with the rank.
//!
//! ```no_run
//! use blockwork::distributed::Distributed;
//! use blockwork::{Arg, Executor, GraphBuilder, Op, Pool, Value};
//! // Run with `mpirun -np 2 target/release/examples/...`.
//! let exec = Distributed::init(Pool::new(2)?)?;
//! let inc = Op::typed("inc", |x: i64| x + 1);
//! let mut b = GraphBuilder::new();
//! b.literal(("x", 0), 0)?;
//! for i in 1..100i64 {
//!     b.task(("x", i), &inc, [Arg::key(("x", i - 1))])?;
//! }
//! let v = exec.get(&b.build(), ("x", 99))?;
//! if exec.rank() == 0 {
//!     assert_eq!(v, Value::Int(99));
//! }
//! # Ok::<(), blockwork::Error>(())
//! ```

pub mod codec;
mod outbox;
mod placement;
mod share;

pub use codec::Codecs;
pub use placement::{Partitioner, Placement};

use crate::error::{Error, ErrorKind, Result};
use crate::exec::{Executor, Feed, Pool, RunOptions, RunOutput, RunStats};
use crate::graph::{Node, Op};
use crate::key::{Atom, Key};
use crate::plan::{Plan, TaskId};
use crate::value::Value;
use codec::Reader;
use mpi::collective::SystemOperation;
use mpi::environment::{Threading, Universe};
use mpi::point_to_point::MatchedReceiveVec;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use outbox::Outbox;
use placement::EVERYWHERE;
use share::{Destinations, SEND, Share};
use std::hash::{Hash, Hasher};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Message tag of a value: the task id in the whole plan (4 bytes), then its encoding.
const VALUE: i32 = 1;
/// Message tag of a stop notice: the sender's run failed.
const FAIL: i32 = 2;
/// The error a rank's local run is stopped with when another rank failed.
const STOPPED: &str = "stopped: another rank failed";
/// Rounds of the communication loop without progress spent spinning, then yielding,
/// before it sleeps on its channel between polls.
const SPIN_ROUNDS: u32 = 1 << 10;
const YIELD_ROUNDS: u32 = 1 << 12;
/// The longest sleep of an idle communication loop where only the calling thread calls MPI:
/// how late an incoming message may be noticed after a long quiet time (a local send wakes
/// it at once). Where workers call MPI, the caller's shortest sleep between polls.
const IDLE_SLEEP: Duration = Duration::from_micros(100);

/// What one rank did in a distributed run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DistributedStats {
    /// This rank.
    pub rank: usize,
    /// Ranks in the run.
    pub ranks: usize,
    /// Tasks this rank ran (its own tasks and the literal nodes they read).
    pub tasks_run: u64,
    /// Point-to-point messages sent (one per value and destination rank, and stop notices).
    pub messages_sent: u64,
    /// Point-to-point messages received.
    pub messages_received: u64,
    /// Bytes of messages sent.
    pub bytes_sent: u64,
    /// Bytes of messages received.
    pub bytes_received: u64,
    /// Time spent waiting for other ranks: while values were awaited and no task of this
    /// rank was queued or running, and in the agreement at the end.
    pub waiting: Duration,
}

/// An [`Executor`] that runs each plan across the ranks of an MPI job; see the
/// [module docs](self).
///
/// The runs of one executor take turns (a run started while another is in progress waits
/// for it): they share one communicator. Each rank takes the turns in its own order, so
/// several threads may share one executor only to run one plan: runs of different plans
/// could meet each other's plans on other ranks. That is a
/// [`Distributed`](ErrorKind::Distributed) error on every rank where the plans differ in
/// keys, ops, edges or literal scalars, strings and lists (the plan's fingerprint), but
/// plans that differ only inside opaque payloads (array blocks) are not told apart. For
/// runs of different plans at the same time, give each thread its own executor with
/// [`Distributed::share`], and start the runs in the same order on every rank. A task may
/// run a plan on another executor (started on every rank in the same order); a run started
/// by a task on the executor's pool while the executor runs a plan is a
/// [`Distributed`](ErrorKind::Distributed) error (a task of that run would wait for it).
pub struct Distributed {
    /// A duplicate of the world communicator, so that no other message matches the run's.
    /// Declared before `universe`: it must be freed before MPI is finalized.
    comm: Arc<SharedComm>,
    universe: Option<Universe>,
    /// Whether the MPI library lets worker threads call it (one at a time); see [`Link`].
    any_thread: bool,
    pool: Arc<Pool>,
    placement: Placement,
    codecs: Arc<Codecs>,
    everywhere: bool,
    last: Mutex<DistributedStats>,
    /// Held for the length of a run: the runs of one executor (one communicator) take
    /// turns, so that no message or collective of one is taken for another's.
    running: Mutex<()>,
}

impl std::fmt::Debug for Distributed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Distributed")
            .field("rank", &self.rank())
            .field("ranks", &self.ranks())
            .field("placement", &self.placement)
            .finish()
    }
}

impl Distributed {
    /// Initializes MPI and returns an executor over all its ranks that runs each rank's
    /// share on `pool`. MPI is finalized when the executor is dropped. Initializing twice
    /// in one process is a [`Distributed`](ErrorKind::Distributed) error. MPI is initialized
    /// with `MPI_THREAD_MULTIPLE`: during a run, the pool's workers send the values they
    /// made and poll for the values they await, one thread at a time. Where the library
    /// provides less than `MPI_THREAD_SERIALIZED`, MPI is called from the thread that runs
    /// plans only (each message then passes through that thread, which costs latency).
    pub fn init(pool: Pool) -> Result<Distributed> {
        let (universe, level) = mpi::initialize_with_threading(Threading::Multiple)
            .ok_or_else(|| Error::new(ErrorKind::Distributed, "MPI is already initialized"))?;
        let comm = universe.world().duplicate();
        Ok(Distributed::build(
            comm,
            Some(universe),
            Arc::new(pool),
            any_thread(level),
        ))
    }

    /// An executor over the ranks of `comm` (of an MPI the caller initialized and
    /// finalizes, after dropping this executor). The pool's workers call MPI during runs
    /// if the caller initialized it with `MPI_THREAD_SERIALIZED` or `MPI_THREAD_MULTIPLE`
    /// (under `MPI_THREAD_SERIALIZED`, make no MPI call of your own while a run is in
    /// progress); otherwise only the thread that runs plans does.
    pub fn with_communicator(comm: &SimpleCommunicator, pool: Pool) -> Distributed {
        let level = mpi::environment::threading_support();
        Distributed::build(comm.duplicate(), None, Arc::new(pool), any_thread(level))
    }

    fn build(
        comm: SimpleCommunicator,
        universe: Option<Universe>,
        pool: Arc<Pool>,
        any_thread: bool,
    ) -> Distributed {
        Distributed {
            comm: Arc::new(SharedComm(comm)),
            universe,
            any_thread,
            pool,
            placement: Placement::default(),
            codecs: Arc::new(Codecs::new()),
            everywhere: false,
            last: Mutex::new(DistributedStats::default()),
            running: Mutex::new(()),
        }
    }

    /// Another executor over the same ranks (a duplicate of the communicator) and the same
    /// pool, with the default placement, codecs and outputs. Every rank must call it (it is
    /// collective, on this executor's communicator: not while this executor runs a plan),
    /// and it must be dropped before the executor that initialized MPI.
    pub fn share(&self) -> Distributed {
        Distributed::build(
            self.comm.duplicate(),
            None,
            self.pool.clone(),
            self.any_thread,
        )
    }

    /// This executor with a placement (the same on every rank).
    pub fn placement(mut self, placement: Placement) -> Distributed {
        self.placement = placement;
        self
    }

    /// This executor with codecs for payload types (the same on every rank).
    pub fn codecs(mut self, codecs: Codecs) -> Distributed {
        self.codecs = Arc::new(codecs);
        self
    }

    /// Whether every rank receives every output (default: rank 0 only).
    pub fn outputs_on_every_rank(mut self, everywhere: bool) -> Distributed {
        self.everywhere = everywhere;
        self
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.comm.rank() as usize
    }

    /// Number of ranks.
    pub fn ranks(&self) -> usize {
        self.comm.size() as usize
    }

    /// The local pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// What this rank did in the last run (successful or not).
    pub fn last_stats(&self) -> DistributedStats {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether the MPI library was initialized by this executor.
    pub fn owns_mpi(&self) -> bool {
        self.universe.is_some()
    }

    /// Blocks until every rank reached this call (a collective on this executor's
    /// communicator: not while this executor runs a plan).
    pub fn barrier(&self) {
        self.comm.barrier();
    }

    /// The lowest rank whose `failed` is true, agreed by all ranks (one collective).
    fn lowest_failing(&self, failed: bool, stats: &mut RunStats) -> Option<usize> {
        let started = Instant::now();
        let mine: i32 = if failed {
            self.comm.rank()
        } else {
            self.comm.size()
        };
        let mut lowest = 0i32;
        self.comm
            .all_reduce_into(&mine, &mut lowest, SystemOperation::min());
        stats.waiting += started.elapsed();
        (lowest < self.comm.size()).then_some(lowest as usize)
    }

    /// The error of rank `root` on every rank: its own on `root`, broadcast to the others.
    fn broadcast_error(
        &self,
        plan: &Plan,
        index: &TaskIndex,
        root: usize,
        own: Option<Error>,
    ) -> Error {
        let mut bytes = Vec::new();
        if root == self.rank() {
            encode_error(
                plan,
                index,
                own.as_ref().expect("this rank failed"),
                &mut bytes,
            );
        }
        let mut len = bytes.len() as u64;
        let process = self.comm.process_at_rank(root as i32);
        process.broadcast_into(&mut len);
        bytes.resize(len as usize, 0);
        process.broadcast_into(&mut bytes[..]);
        let error = match own {
            Some(own) if root == self.rank() => own,
            _ => decode_error(plan, &bytes),
        };
        Error::OnRank {
            rank: root,
            error: Box::new(error),
        }
    }

    /// Checks, before anything runs, that every value that crosses ranks can be encoded as
    /// far as its op tells: the same check, with the same answer, on every rank.
    fn check_codecs(&self, plan: &Plan, owner: &[u32], dests: &Destinations) -> Result<()> {
        for t in plan.tasks() {
            let Some(to) = dests.of(t).first() else {
                continue;
            };
            let Some(ty) = plan.op(t).and_then(Op::payload_type) else {
                continue;
            };
            if !self.codecs.can_encode_type(ty) {
                return Err(Error::new(
                    ErrorKind::Codec,
                    format!(
                        "the value of {} (op {}) goes from rank {} to rank {to}, but its \
                         payload type {} has no codec: register one with \
                         distributed::Codecs, or pin its readers to its rank",
                        plan.key(t),
                        plan.op_name(t),
                        owner[t.index()],
                        ty.name()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The run; `stats` is filled in as it goes. What the run derives from the plan (the
    /// placement, the destinations, this rank's share) is kept with the plan and reused by
    /// the next run of the same plan with the same settings.
    fn run_inner(
        &self,
        plan: &Plan,
        options: &RunOptions,
        stats: &mut RunStats,
    ) -> Result<Vec<Value>> {
        let kept = plan.take_derived::<Prepared>(|p| p.settings.fits(self));
        let fp = kept
            .as_ref()
            .map_or_else(|| fingerprint(plan), |p| p.fingerprint);
        // Every rank must have planned the same graph: the least and the greatest
        // fingerprint in one collective.
        let mine = [fp, !fp];
        let mut least = [0u64; 2];
        self.comm
            .all_reduce_into(&mine[..], &mut least[..], SystemOperation::min());
        if least[0] != fp || !least[1] != fp {
            if let Some(kept) = kept {
                plan.put_derived(kept);
            }
            return Err(Error::new(
                ErrorKind::Distributed,
                "the ranks planned different graphs (keys, ops, edges or literal values differ)",
            ));
        }
        let prepared = match kept {
            Some(p) => p,
            None => {
                // A share kept for other settings would be replaced at the end of this run:
                // freed now, so that it is not held with this run's.
                drop(plan.take_derived::<Prepared>(|_| true));
                // The errors of preparing are the same on every rank: all return before
                // sending anything.
                Box::new(self.prepare(plan, fp)?)
            }
        };
        let result = self.run_prepared(plan, &prepared, options, stats);
        plan.put_derived(prepared);
        result
    }

    /// What a run derives from the plan and the settings, before anything runs.
    fn prepare(&self, plan: &Plan, fingerprint: u64) -> Result<Prepared> {
        let settings = Settings::of(self);
        let (rank, ranks) = (settings.rank, settings.ranks);
        let owner = self.placement.owners(plan, ranks as usize)?;
        let everywhere = self.everywhere;
        let wants = |r: u32| everywhere || r == 0;
        let dests = Arc::new(Destinations::new(plan, &owner, ranks, wants));
        self.check_codecs(plan, &owner, &dests)?;
        let index = TaskIndex::new(plan);
        let slot = Arc::new(SendSlot::default());
        let send = send_op(self.codecs.clone(), slot.clone());
        let task_of = |k: &Key| index.task_of(plan, k);
        let share = Share::new(plan, &owner, &dests, rank, wants(rank), &send, &task_of)?;
        Ok(Prepared {
            settings,
            fingerprint,
            owner,
            index,
            dests,
            share,
            slot,
        })
    }

    /// Runs `plan` as `prepared` says; `stats` is filled in as it goes.
    fn run_prepared(
        &self,
        plan: &Plan,
        prepared: &Prepared,
        options: &RunOptions,
        stats: &mut RunStats,
    ) -> Result<Vec<Value>> {
        let Prepared {
            owner,
            index,
            share,
            ..
        } = prepared;
        let link = Arc::new(Link::new(
            self.comm.clone(),
            prepared.dests.clone(),
            self.any_thread,
        ));
        let (tx, rx) = mpsc::channel::<(u32, Vec<u8>)>();
        let tx = (!self.any_thread).then_some(tx);
        // The send tasks reach this run's messages through the slot until the run ends.
        let _sending = prepared.slot.open(RunLink {
            link: link.clone(),
            tx,
        });
        let comm = Comm {
            exec: self,
            plan,
            share,
            link: &link,
        };
        let feeder = |feed: &Feed<'_>| comm.stream(feed, &rx);
        let (out, waited) = if self.any_thread {
            let poll = |feed: &Feed<'_>| comm.poll(feed);
            self.pool
                .run_fed_polled(&share.plan, options, &poll, feeder)
        } else {
            self.pool.run_fed(&share.plan, options, feeder)
        };
        stats.waiting += waited.unwrap_or_default();
        let (out, own) = match out {
            Ok(out) => (Some(out), None),
            Err(e) if is_stop(&e) => (None, None),
            Err(e) => (None, Some(send_error(plan, e))),
        };
        {
            let mut st = link.lock();
            if own.is_some() && !st.announced {
                link.announce(&mut st);
            }
        }
        let root = self.lowest_failing(own.is_some(), stats);
        if let Some(root) = root {
            stats.waiting += comm.drain();
            link.count(stats);
            return Err(self.broadcast_error(plan, index, root, own));
        }
        link.lock().outbox.wait_all();
        link.count(stats);
        // A rank stopped by another's failure is never here: that rank failed.
        let out = out.ok_or_else(|| Error::new(ErrorKind::Distributed, STOPPED))?;
        let local = &out.stats;
        stats.tasks_run = local.tasks_run - share.sends;
        stats.steals = local.steals;
        stats.peak_live_values = local.peak_live_values;
        stats.peak_live_bytes = local.peak_live_bytes;
        stats.peak_tolerance = local.peak_tolerance;
        stats.leaked_values = local.leaked_values;
        let mut values = out.values;
        let mut value = |(i, &t): (usize, &TaskId)| -> Value {
            if owner[t.index()] == EVERYWHERE {
                return match plan.graph().get(plan.key(t)) {
                    Some(Node::Literal(v)) => v.clone(),
                    _ => Value::Unit,
                };
            }
            share.output_at[i].map_or(Value::Unit, |j| std::mem::take(&mut values[j]))
        };
        // An output requested twice is one local output: take it once, clone it after.
        let mut result: Vec<Value> = Vec::with_capacity(plan.outputs().len());
        let mut seen: Vec<Option<usize>> = vec![None; plan.len()];
        for (i, &t) in plan.outputs().iter().enumerate() {
            match seen[t.index()] {
                Some(j) => result.push(result[j].clone()),
                None => {
                    seen[t.index()] = Some(i);
                    result.push(value((i, &t)));
                }
            }
        }
        Ok(result)
    }
}

impl Executor for Distributed {
    fn run_with(&self, plan: &Plan, options: &RunOptions) -> Result<RunOutput> {
        let _turn = match self.running.try_lock() {
            Ok(turn) => turn,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            // A task on this executor's pool waiting for a run of this executor: its own,
            // or one that may need its worker.
            Err(std::sync::TryLockError::WouldBlock) if self.pool.on_own_worker() => {
                return Err(Error::new(
                    ErrorKind::Distributed,
                    "a task running on the executor's pool started a run on the executor \
                     while it runs a plan (a task of that run would wait for it)",
                ));
            }
            Err(std::sync::TryLockError::WouldBlock) => {
                self.running.lock().unwrap_or_else(|p| p.into_inner())
            }
        };
        let start = Instant::now();
        let mut stats = RunStats {
            threads: self.pool.threads(),
            ..RunStats::default()
        };
        let result = self.run_inner(plan, options, &mut stats);
        stats.wall = start.elapsed();
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = DistributedStats {
            rank: self.rank(),
            ranks: self.ranks(),
            tasks_run: stats.tasks_run,
            messages_sent: stats.messages_sent,
            messages_received: stats.messages_received,
            bytes_sent: stats.bytes_sent,
            bytes_received: stats.bytes_received,
            waiting: stats.waiting,
        };
        Ok(RunOutput {
            values: result?,
            stats,
        })
    }
}

/// The op of send tasks: encodes the value (args: the value, its task id in the whole
/// plan) on the worker that runs it and sends it from there (or, where workers may not call
/// MPI, hands it to the run's caller), through the run's link in `slot`.
fn send_op(codecs: Arc<Codecs>, slot: Arc<SendSlot>) -> Op {
    Op::new(SEND, move |args: &[Value]| {
        let t = args.get(1).and_then(Value::as_int).unwrap_or(-1);
        let t = u32::try_from(t).map_err(|_| crate::TaskError::new("not a task id"))?;
        let mut m = t.to_le_bytes().to_vec();
        codecs
            .encode_into(&args[0], &mut m)
            .map_err(|e| crate::TaskError::with_kind(ErrorKind::Codec, e))?;
        if m.len() > i32::MAX as usize {
            return Err(crate::TaskError::with_kind(
                ErrorKind::Codec,
                format!("its encoding takes {} bytes, over 2 GiB", m.len()),
            ));
        }
        let run = slot.0.read().unwrap_or_else(|p| p.into_inner());
        match &*run {
            // The caller's loop is gone only when the run is over.
            Some(RunLink { tx: Some(tx), .. }) => drop(tx.send((t, m))),
            Some(RunLink { link, tx: None }) => link.send_value(t, m),
            None => return Err(crate::TaskError::new("a send task ran outside a run")),
        }
        Ok(Value::Unit)
    })
}

/// The settings a run's preparation depends on; a kept preparation serves a run of an
/// executor whose settings are the same.
struct Settings {
    placement: Placement,
    everywhere: bool,
    rank: u32,
    ranks: u32,
    codecs: Arc<Codecs>,
    any_thread: bool,
}

impl Settings {
    fn of(exec: &Distributed) -> Settings {
        Settings {
            placement: exec.placement.clone(),
            everywhere: exec.everywhere,
            rank: exec.rank() as u32,
            ranks: exec.ranks() as u32,
            codecs: exec.codecs.clone(),
            any_thread: exec.any_thread,
        }
    }

    /// Whether these are `exec`'s settings (compared in place: no copy of its pins per run).
    fn fits(&self, exec: &Distributed) -> bool {
        self.placement == exec.placement
            && self.everywhere == exec.everywhere
            && (self.rank, self.ranks) == (exec.rank() as u32, exec.ranks() as u32)
            && Arc::ptr_eq(&self.codecs, &exec.codecs)
            && self.any_thread == exec.any_thread
    }
}

/// What a run derives from a plan before anything runs, kept with the plan for its next run.
struct Prepared {
    settings: Settings,
    fingerprint: u64,
    /// The owner rank of every task of the plan.
    owner: Vec<u32>,
    index: TaskIndex,
    dests: Arc<Destinations>,
    share: Share,
    /// Where the share's send tasks find the run in progress.
    slot: Arc<SendSlot>,
}

/// The run in progress, as the send tasks of a kept share reach it (empty between runs).
#[derive(Default)]
struct SendSlot(RwLock<Option<RunLink>>);

/// A run's messages: its link, and where workers may not call MPI, the channel to its
/// caller.
struct RunLink {
    link: Arc<Link>,
    tx: Option<mpsc::Sender<(u32, Vec<u8>)>>,
}

impl SendSlot {
    /// Puts `run` in the slot until the returned guard is dropped.
    fn open(&self, run: RunLink) -> SlotGuard<'_> {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Some(run);
        SlotGuard(self)
    }
}

/// Empties its slot when dropped: the run's channel and link go with the run.
struct SlotGuard<'a>(&'a SendSlot);

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        *self.0.0.write().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// Whether `e` is the error a rank's run is stopped with when another rank failed.
fn is_stop(e: &Error) -> bool {
    e.kind() == ErrorKind::Distributed && e.to_string().contains(STOPPED)
}

/// A failed send task's error as the codec error of the value it sends.
fn send_error(plan: &Plan, e: Error) -> Error {
    if let Error::Task { key, message, .. } = &e
        && key.name() == SEND
        && let Some(Atom::Int(t)) = key.atom(0)
        && let Ok(t) = u32::try_from(t)
        && (t as usize) < plan.len()
    {
        return codec_error(plan, TaskId::from_raw(t), message);
    }
    e
}

/// An executor's communicator, shared with the send tasks of its runs.
struct SharedComm(SimpleCommunicator);

// SAFETY: an MPI communicator is a handle to a process-wide object, not tied to a thread.
// Threads other than the run's caller call MPI through it only when the library provides
// MPI_THREAD_SERIALIZED or MPI_THREAD_MULTIPLE (`Link::any_thread`), and then only under
// the run's `Link::state` lock, while the caller makes no other MPI call; otherwise only
// the caller uses it.
unsafe impl Send for SharedComm {}
// SAFETY: as for `Send`.
unsafe impl Sync for SharedComm {}

impl std::ops::Deref for SharedComm {
    type Target = SimpleCommunicator;
    fn deref(&self) -> &SimpleCommunicator {
        &self.0
    }
}

/// Whether an MPI thread level lets threads other than the main one call MPI, one at a time.
fn any_thread(level: Threading) -> bool {
    matches!(level, Threading::Serialized | Threading::Multiple)
}

/// The messages of one run of one rank: what the send tasks, the idle workers that poll
/// and the run's caller share.
struct Link {
    comm: Arc<SharedComm>,
    dests: Arc<Destinations>,
    /// Whether workers call MPI: send tasks send their values themselves and idle workers
    /// poll for arrivals. Otherwise every MPI call is on the run's caller.
    any_thread: bool,
    /// Held around every MPI call of the run (never across a blocking one).
    state: Mutex<LinkState>,
}

/// What the MPI calls of a run change.
struct LinkState {
    outbox: Outbox,
    /// Messages sent to / received from each rank (values and stop notices).
    sent_to: Vec<u64>,
    got_from: Vec<u64>,
    messages_sent: u64,
    bytes_sent: u64,
    messages_received: u64,
    bytes_received: u64,
    /// Whether this rank told the others it failed.
    announced: bool,
    /// Whether another rank's stop notice arrived.
    stopped: bool,
}

impl Link {
    fn new(comm: Arc<SharedComm>, dests: Arc<Destinations>, any_thread: bool) -> Link {
        let ranks = comm.size() as usize;
        Link {
            comm,
            dests,
            any_thread,
            state: Mutex::new(LinkState {
                outbox: Outbox::new(),
                sent_to: vec![0; ranks],
                got_from: vec![0; ranks],
                messages_sent: 0,
                bytes_sent: 0,
                messages_received: 0,
                bytes_received: 0,
                announced: false,
                stopped: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LinkState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The state, unless another thread is calling MPI now.
    fn try_lock(&self) -> Option<std::sync::MutexGuard<'_, LinkState>> {
        match self.state.try_lock() {
            Ok(g) => Some(g),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// Sends the value of `t` to the ranks that need it (not after a failure: they stop).
    fn send_value(&self, t: u32, m: Vec<u8>) {
        let mut st = self.lock();
        if st.announced || st.stopped {
            return;
        }
        let to = self.dests.of(TaskId::from_raw(t));
        for &d in to {
            st.sent_to[d as usize] += 1;
        }
        st.messages_sent += to.len() as u64;
        st.bytes_sent += (m.len() * to.len()) as u64;
        st.outbox.send(&self.comm, to, VALUE, m);
        st.outbox.progress();
    }

    /// Tells every other rank that this one failed.
    fn announce(&self, st: &mut LinkState) {
        st.announced = true;
        let me = self.comm.rank() as u32;
        let others: Vec<u32> = (0..self.comm.size() as u32).filter(|&r| r != me).collect();
        for &r in &others {
            st.sent_to[r as usize] += 1;
        }
        st.messages_sent += others.len() as u64;
        st.outbox
            .send(&self.comm, &others, FAIL, me.to_le_bytes().to_vec());
    }

    /// One arrived message (its bytes and tag), received under the lock; `None` when there
    /// is none, or another thread is calling MPI. Progresses the sends first.
    fn receive_one(&self) -> Option<(Vec<u8>, i32)> {
        let mut st = self.try_lock()?;
        st.outbox.progress();
        let probed = self.comm.any_process().immediate_matched_probe()?;
        let (bytes, status) = probed.matched_receive_vec::<u8>();
        st.got_from[status.source_rank() as usize] += 1;
        st.messages_received += 1;
        st.bytes_received += bytes.len() as u64;
        if status.tag() == FAIL {
            st.stopped = true;
        }
        Some((bytes, status.tag()))
    }

    /// Adds the run's message counts to `stats`.
    fn count(&self, stats: &mut RunStats) {
        let st = self.lock();
        stats.messages_sent += st.messages_sent;
        stats.bytes_sent += st.bytes_sent;
        stats.messages_received += st.messages_received;
        stats.bytes_received += st.bytes_received;
    }

    /// Whether sends are in flight (false while another thread calls MPI).
    fn sending(&self) -> bool {
        self.try_lock().is_some_and(|st| !st.outbox.is_empty())
    }
}

/// One rank's side of the messages of a run, as its caller and its idle workers see it.
struct Comm<'a> {
    exec: &'a Distributed,
    plan: &'a Plan,
    share: &'a Share,
    link: &'a Link,
}

impl Comm<'_> {
    /// The communication loop, on the calling thread while the local run goes on: sends
    /// what the send tasks handed over (when workers may not call MPI), receives values and
    /// delivers them, and stops the run when it or another rank failed. Returns when every
    /// job of the local run ended, with the time spent waiting for other ranks' values.
    ///
    /// Where workers call MPI, the workers send, and idle ones poll ([`Comm::poll`]):
    /// this loop then polls only every [`IDLE_SLEEP`] (the end of the run wakes it), so it
    /// takes no core from them.
    fn stream(&self, feed: &Feed<'_>, rx: &mpsc::Receiver<(u32, Vec<u8>)>) -> Duration {
        let mut quiet = 0u32;
        let mut waiting = Duration::ZERO;
        let mut last = Instant::now();
        loop {
            let mut busy = false;
            while let Ok((t, m)) = rx.try_recv() {
                self.send_value(feed, t, m);
                busy = true;
            }
            busy |= self.receive(feed);
            if feed.is_failed() {
                let mut st = self.link.lock();
                if !st.stopped && !st.announced {
                    // This rank's own failure: tell the others, give up the inputs.
                    self.link.announce(&mut st);
                    drop(st);
                    feed.fail(Error::new(ErrorKind::Distributed, STOPPED));
                }
            }
            let now = Instant::now();
            if feed.is_starved() {
                waiting += now - last;
            }
            last = now;
            if feed.is_finished() {
                // Every send task ran: its message is in the channel.
                while let Ok((t, m)) = rx.try_recv() {
                    self.send_value(feed, t, m);
                }
                return waiting;
            }
            if self.link.any_thread {
                quiet = if busy { 0 } else { quiet.saturating_add(1) };
                if self.link.sending() {
                    std::thread::yield_now();
                } else {
                    // Idle workers poll meanwhile; this loop polls less and less often
                    // while nothing arrives (up to 8 x IDLE_SLEEP apart). The last job of
                    // the run unparks this thread.
                    std::thread::park_timeout(IDLE_SLEEP * (1 << quiet.min(3)));
                }
            } else if busy {
                quiet = 0;
            } else {
                quiet = quiet.saturating_add(1);
                if quiet < SPIN_ROUNDS {
                    std::hint::spin_loop();
                } else if quiet < YIELD_ROUNDS {
                    std::thread::yield_now();
                } else if let Ok((t, m)) = rx.recv_timeout(IDLE_SLEEP) {
                    self.send_value(feed, t, m);
                    quiet = 0;
                }
            }
        }
    }

    /// What an idle worker does while the run awaits values: receives and delivers what
    /// arrived; returns whether values are still awaited or sends in flight.
    fn poll(&self, feed: &Feed<'_>) -> bool {
        self.receive(feed);
        (feed.pending_inputs() > 0 && !feed.is_failed()) || self.link.sending()
    }

    /// Sends a value a send task handed over (not after a failure: the others stop).
    fn send_value(&self, feed: &Feed<'_>, t: u32, m: Vec<u8>) {
        if !feed.is_failed() {
            self.link.send_value(t, m);
        }
    }

    /// Receives every message that has arrived (unless another thread is receiving);
    /// returns whether there was one.
    fn receive(&self, feed: &Feed<'_>) -> bool {
        let mut any = false;
        while let Some((bytes, tag)) = self.link.receive_one() {
            any = true;
            if tag == FAIL {
                feed.fail(Error::new(ErrorKind::Distributed, STOPPED));
                continue;
            }
            if feed.is_failed() {
                continue;
            }
            let delivered = self
                .decode(&bytes)
                .and_then(|(input, v)| feed.deliver(input, v));
            if let Err(e) = delivered {
                // This rank's failure: the caller's loop announces it.
                feed.fail(e);
            }
        }
        any
    }

    /// A value message: the local input it is and its value.
    fn decode(&self, msg: &[u8]) -> Result<(TaskId, Value)> {
        let mut r = Reader(msg);
        let plan = self.plan;
        let t = r
            .array::<4>()
            .map(u32::from_le_bytes)
            .ok()
            .filter(|&t| (t as usize) < plan.len())
            .ok_or_else(|| Error::new(ErrorKind::Codec, "a message names no task"))?;
        let t = TaskId::from_raw(t);
        let input = self.share.input(t).ok_or_else(|| {
            Error::new(
                ErrorKind::Distributed,
                format!("received {}, which this rank does not read", plan.key(t)),
            )
        })?;
        // A user codec runs here: a panic is this rank's failure.
        let decoded = crate::exec::catch(|| self.exec.codecs.decode(r.0))
            .and_then(|r| r.map_err(|e| e.to_string()));
        let v = decoded.map_err(|e| {
            Error::new(
                ErrorKind::Codec,
                format!("the value of {} could not be decoded: {e}", plan.key(t)),
            )
        })?;
        Ok((input, v))
    }

    /// After a failed run: receives every message still in flight to this rank (the
    /// ranks first tell each other how many they sent), and completes the sends.
    fn drain(&self) -> Duration {
        let started = Instant::now();
        let mut st = self.link.lock();
        let mut expect = vec![0u64; st.sent_to.len()];
        self.exec
            .comm
            .all_to_all_into(&st.sent_to[..], &mut expect[..]);
        for (src, &n) in expect.iter().enumerate() {
            let process = self.exec.comm.process_at_rank(src as i32);
            while st.got_from[src] < n {
                let (bytes, _) = process.receive_vec::<u8>();
                st.got_from[src] += 1;
                st.messages_received += 1;
                st.bytes_received += bytes.len() as u64;
            }
        }
        st.outbox.wait_all();
        started.elapsed()
    }
}

/// Graph node index to task id, for finding the task of a key.
struct TaskIndex(Vec<Option<TaskId>>);

impl TaskIndex {
    fn new(plan: &Plan) -> TaskIndex {
        let mut m = vec![None; plan.graph().len()];
        for t in plan.tasks() {
            m[plan.node_index(t)] = Some(t);
        }
        TaskIndex(m)
    }

    /// The task of a key of `plan`'s graph (aliases not followed).
    fn task_of(&self, plan: &Plan, key: &Key) -> Option<TaskId> {
        let index = plan.graph().map().get_index_of(key)?;
        self.0.get(index).copied().flatten()
    }
}

/// A hash of the plan's keys, ops and edges, to check that the ranks agree. SipHash, not a
/// hash linear in its words such as FxHasher (with which two words that differ by 2^63
/// each cancel out): it runs once per plan and settings.
fn fingerprint(plan: &Plan) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    plan.len().hash(&mut h);
    for t in plan.tasks() {
        plan.key(t).hash(&mut h);
        plan.op_name(t).hash(&mut h);
        plan.deps(t).hash(&mut h);
    }
    plan.outputs().hash(&mut h);
    for v in plan.literal_values() {
        hash_literal(v, &mut h);
    }
    h.finish()
}

/// Adds what is cheap to read of a literal value to a fingerprint, so that plans that differ
/// only in their literals rarely agree: scalars whole, strings by length and first 256
/// bytes, lists by length and first items (64 values in all), payloads by kind only (their
/// contents are opaque, and reading their size runs user code).
fn hash_literal(v: &Value, h: &mut impl Hasher) {
    let mut stack = vec![v];
    let mut budget = 64;
    while let Some(v) = stack.pop() {
        if budget == 0 {
            break;
        }
        budget -= 1;
        match v {
            Value::Unit => 0u8.hash(h),
            Value::Bool(b) => (1u8, b).hash(h),
            Value::Int(i) => (2u8, i).hash(h),
            Value::Float(f) => (3u8, f.to_bits()).hash(h),
            Value::Str(s) => {
                (4u8, s.len()).hash(h);
                s.as_bytes()[..s.len().min(256)].hash(h);
            }
            Value::List(items) => {
                (5u8, items.len()).hash(h);
                stack.extend(items.iter().take(64).rev());
            }
            Value::Opaque(_) => 6u8.hash(h),
        }
    }
}

fn codec_error(plan: &Plan, t: TaskId, message: &str) -> Error {
    Error::new(
        ErrorKind::Codec,
        format!(
            "the value of {} cannot be sent to another rank: {message}",
            plan.key(t)
        ),
    )
}

/// The wire form of a run's error: kind, whether it names a task (and which), and for a
/// task error its op, message, panic flag and cause; otherwise its text.
fn encode_error(plan: &Plan, index: &TaskIndex, e: &Error, out: &mut Vec<u8>) {
    let code = |k: ErrorKind| ErrorKind::ALL.iter().position(|&x| x == k).unwrap_or(0) as u8;
    let put = |out: &mut Vec<u8>, s: &str| {
        out.extend((s.len() as u64).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    };
    match e {
        Error::Task {
            key,
            op,
            message,
            panicked,
            cause,
            ..
        } if index.task_of(plan, key).is_some() => {
            let t = index.task_of(plan, key).expect("checked");
            out.push(1);
            out.extend(t.raw().to_le_bytes());
            out.extend([u8::from(*panicked), code(*cause)]);
            put(out, op);
            put(out, message);
        }
        Error::Other { kind, message } => {
            // The kind travels as a code: the text without its "Kind: " prefix, so the
            // receiving rank does not print the kind twice.
            out.push(0);
            out.push(code(*kind));
            put(out, message);
        }
        other => {
            out.push(0);
            out.push(code(other.kind()));
            put(out, &other.to_string());
        }
    }
}

fn decode_error(plan: &Plan, bytes: &[u8]) -> Error {
    let kind = |c: u8| {
        ErrorKind::ALL
            .get(usize::from(c))
            .copied()
            .unwrap_or(ErrorKind::Distributed)
    };
    let text = |r: &mut Reader<'_>| -> Result<String, String> {
        Ok(String::from_utf8_lossy(r.bytes()?).into_owned())
    };
    let mut r = Reader(bytes);
    let decoded = (|| -> Result<Error, String> {
        if r.u8()? == 1 {
            let t = u32::from_le_bytes(r.array()?);
            if t as usize >= plan.len() {
                return Err("no such task".into());
            }
            let (panicked, cause) = (r.u8()? != 0, kind(r.u8()?));
            Ok(Error::Task {
                key: plan.key(TaskId::from_raw(t)).clone(),
                op: text(&mut r)?.into(),
                message: text(&mut r)?,
                panicked,
                cause,
                source: None,
            })
        } else {
            let k = kind(r.u8()?);
            Ok(Error::new(k, text(&mut r)?))
        }
    })();
    decoded
        .unwrap_or_else(|m| Error::new(ErrorKind::Distributed, format!("an unreadable error: {m}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Arg, GraphBuilder, Op};

    #[test]
    fn plans_that_differ_only_in_literals_differ_in_fingerprint() {
        let add = Op::typed("add", |x: i64, y: i64| x + y);
        let plan_of = |node: Value, arg: Value| {
            let mut b = GraphBuilder::new();
            b.literal("a", node).unwrap();
            b.task("s", &add, [Arg::key("a"), Arg::Lit(arg)]).unwrap();
            Plan::new(&b.build(), &[Key::from("s")]).unwrap()
        };
        let list = |n: i64| Value::List((0..n).map(Value::Int).collect());
        let base = fingerprint(&plan_of(Value::Int(1), Value::Int(2)));
        assert_eq!(base, fingerprint(&plan_of(Value::Int(1), Value::Int(2))));
        for (node, arg) in [
            (Value::Int(2), Value::Int(2)),
            (Value::Int(1), Value::Int(3)),
            (Value::Float(1.0), Value::Int(2)),
            (Value::Str("1".into()), Value::Int(2)),
            (list(3), Value::Int(2)),
        ] {
            assert_ne!(base, fingerprint(&plan_of(node, arg)));
        }
        // Lists: their lengths and first items count; a deep list costs a bounded walk.
        assert_ne!(
            fingerprint(&plan_of(list(3), Value::Unit)),
            fingerprint(&plan_of(list(4), Value::Unit))
        );
        let mut deep = Value::Int(0);
        for _ in 0..1000 {
            deep = Value::List(std::sync::Arc::from([deep]));
        }
        fingerprint(&plan_of(deep, Value::Unit));
    }

    #[test]
    fn plans_that_differ_in_the_top_bits_of_two_atoms_differ_in_fingerprint() {
        // Two key atoms that differ by 2^63 each: a hash that is linear in its words
        // (FxHasher) maps both plans to one fingerprint.
        let plan_of = |a: i64| {
            let add = Op::typed("add", |x: i64, y: i64| x + y);
            let mut b = GraphBuilder::new();
            b.literal(("a", a), 1i64).unwrap();
            b.literal(("b", a), 2i64).unwrap();
            b.task("s", &add, [Arg::key(("a", a)), Arg::key(("b", a))])
                .unwrap();
            Plan::new(&b.build(), &[Key::from("s")]).unwrap()
        };
        let (p, q) = (plan_of(0), plan_of(i64::MIN));
        assert_ne!(
            p.tasks().map(|t| p.key(t).clone()).collect::<Vec<_>>(),
            q.tasks().map(|t| q.key(t).clone()).collect::<Vec<_>>()
        );
        assert_ne!(fingerprint(&p), fingerprint(&q));
    }

    #[test]
    fn a_plain_error_crosses_ranks_with_its_kind_once() {
        let plan = Plan::new(&crate::Graph::new(), &[]).unwrap();
        let index = TaskIndex::new(&plan);
        let e = Error::new(ErrorKind::Codec, "the value of x cannot be sent");
        let mut bytes = Vec::new();
        encode_error(&plan, &index, &e, &mut bytes);
        let back = decode_error(&plan, &bytes);
        assert_eq!(back.kind(), ErrorKind::Codec);
        assert_eq!(back.to_string(), e.to_string());
    }

    #[test]
    fn errors_cross_ranks_with_key_op_and_cause() {
        let id = Op::typed("id", |x: i64| x);
        let mut b = GraphBuilder::new();
        b.literal("a", 1).unwrap();
        b.task(("t", 4i64), &id, [Arg::key("a")]).unwrap();
        let plan = Plan::new(&b.build(), &[Key::tuple("t", [4i64])]).unwrap();
        let index = TaskIndex::new(&plan);
        let task = Error::Task {
            key: Key::tuple("t", [4i64]),
            op: "id".into(),
            message: "bad shape".into(),
            panicked: false,
            cause: ErrorKind::Shape,
            source: None,
        };
        let other = Error::new(ErrorKind::Codec, "no codec");
        for e in [task, other] {
            let mut bytes = Vec::new();
            encode_error(&plan, &index, &e, &mut bytes);
            let back = decode_error(&plan, &bytes);
            assert_eq!(back.kind(), e.kind());
            assert_eq!(back.task_key(), e.task_key());
            assert_eq!(back.task_cause(), e.task_cause());
            assert!(back.to_string().contains(&e.to_string()), "{back} / {e}");
        }
        // Garbage reads as a Distributed error, not a panic.
        let garbage = decode_error(&plan, &[1, 200, 0, 0, 0]);
        assert_eq!(garbage.kind(), ErrorKind::Distributed);
    }
}
