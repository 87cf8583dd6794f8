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
//! - **Stages.** A task's stage counts the rank crossings on the way to it (see `stage.rs`).
//!   Each rank runs its tasks of one stage as one plan on its local [`Pool`], then the ranks
//!   exchange the values of that stage that other ranks read, with non-blocking
//!   point-to-point messages, one per (value, destination rank), and the next stage begins.
//!   Received values enter the next stages as literal inputs; a value is dropped once its
//!   last reader on the rank has run and it has been sent.
//! - **Encoding.** Array blocks travel as raw bytes with their dtype and shape, the other
//!   [`Value`] variants in a small binary format; payloads need a codec ([`Codecs`]), and
//!   one without is a [`Codec`](ErrorKind::Codec) error naming its key.
//! - **Outputs** arrive on rank 0 (the other ranks get [`Value::Unit`] for outputs they do
//!   not hold), or on every rank with [`Distributed::outputs_on_every_rank`].
//! - **Failure.** After each stage the ranks agree on whether one failed (a task error or
//!   panic, an encoding error): if so, every rank returns the same [`Error::OnRank`], with
//!   the lowest failing rank and its error (key, op, message) inside; no rank waits for a
//!   message that will not come, and the executor can run again.
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
mod placement;
mod stage;

pub use codec::Codecs;
pub use placement::{Partitioner, Placement};

use crate::error::{Error, ErrorKind, Result};
use crate::exec::{Executor, Pool, RunOptions, RunOutput, RunStats};
use crate::graph::Node;
use crate::key::Key;
use crate::plan::{Plan, TaskId};
use crate::value::Value;
use codec::Reader;
use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::request::WaitGuard;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use placement::EVERYWHERE;
use stage::Schedule;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What one rank did in a distributed run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DistributedStats {
    /// This rank.
    pub rank: usize,
    /// Ranks in the run.
    pub ranks: usize,
    /// Stages the plan was cut into (the same on every rank).
    pub stages: u32,
    /// Tasks this rank ran.
    pub tasks_run: u64,
    /// Point-to-point messages sent (one per value and destination rank).
    pub messages_sent: u64,
    /// Point-to-point messages received.
    pub messages_received: u64,
    /// Bytes of values sent.
    pub bytes_sent: u64,
    /// Bytes of values received.
    pub bytes_received: u64,
    /// Time spent waiting for other ranks: receiving values and agreeing after each stage.
    pub waiting: Duration,
}

/// An [`Executor`] that runs each plan across the ranks of an MPI job; see the
/// [module docs](self).
pub struct Distributed {
    /// A duplicate of the world communicator, so that no other message matches the run's.
    /// Declared before `universe`: it must be freed before MPI is finalized.
    comm: SimpleCommunicator,
    universe: Option<Universe>,
    pool: Arc<Pool>,
    placement: Placement,
    codecs: Codecs,
    everywhere: bool,
    last: Mutex<DistributedStats>,
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
    /// in one process is a [`Distributed`](ErrorKind::Distributed) error.
    pub fn init(pool: Pool) -> Result<Distributed> {
        let universe = mpi::initialize()
            .ok_or_else(|| Error::new(ErrorKind::Distributed, "MPI is already initialized"))?;
        let comm = universe.world().duplicate();
        Ok(Distributed::build(comm, Some(universe), Arc::new(pool)))
    }

    /// An executor over the ranks of `comm` (of an MPI the caller initialized and
    /// finalizes, after dropping this executor).
    pub fn with_communicator(comm: &SimpleCommunicator, pool: Pool) -> Distributed {
        Distributed::build(comm.duplicate(), None, Arc::new(pool))
    }

    fn build(comm: SimpleCommunicator, universe: Option<Universe>, pool: Arc<Pool>) -> Distributed {
        Distributed {
            comm,
            universe,
            pool,
            placement: Placement::default(),
            codecs: Codecs::new(),
            everywhere: false,
            last: Mutex::new(DistributedStats::default()),
        }
    }

    /// Another executor over the same ranks (a duplicate of the communicator) and the same
    /// pool, with the default placement, codecs and outputs. Every rank must call it (it is
    /// collective), and it must be dropped before the executor that initialized MPI.
    pub fn share(&self) -> Distributed {
        Distributed::build(self.comm.duplicate(), None, self.pool.clone())
    }

    /// This executor with a placement (the same on every rank).
    pub fn placement(mut self, placement: Placement) -> Distributed {
        self.placement = placement;
        self
    }

    /// This executor with codecs for payload types (the same on every rank).
    pub fn codecs(mut self, codecs: Codecs) -> Distributed {
        self.codecs = codecs;
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

    /// Blocks until every rank reached this call.
    pub fn barrier(&self) {
        self.comm.barrier();
    }

    /// The lowest rank whose `failed` is true, agreed by all ranks (one collective).
    fn lowest_failing(&self, failed: bool, stats: &mut DistributedStats) -> Option<usize> {
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

    /// Agrees with the other ranks on whether any has failed; if one has, returns the
    /// lowest failing rank's error on every rank.
    fn agree(
        &self,
        plan: &Plan,
        index: &TaskIndex,
        pending: &mut Option<Error>,
        stats: &mut DistributedStats,
    ) -> Result<()> {
        let Some(root) = self.lowest_failing(pending.is_some(), stats) else {
            return Ok(());
        };
        let mut bytes = Vec::new();
        if root == self.rank() {
            encode_error(
                plan,
                index,
                pending.as_ref().expect("this rank failed"),
                &mut bytes,
            );
        }
        let mut len = bytes.len() as u64;
        let process = self.comm.process_at_rank(root as i32);
        process.broadcast_into(&mut len);
        bytes.resize(len as usize, 0);
        process.broadcast_into(&mut bytes[..]);
        let error = match pending.take() {
            Some(own) if root == self.rank() => own,
            _ => decode_error(plan, &bytes),
        };
        Err(Error::OnRank {
            rank: root,
            error: Box::new(error),
        })
    }

    /// Sends `outgoing` (destination, message) without blocking, receives `expect`
    /// messages, and waits for the sends. Returns the messages received.
    fn exchange(
        &self,
        outgoing: &[(u32, Vec<u8>)],
        expect: u32,
        stats: &mut DistributedStats,
    ) -> Vec<Vec<u8>> {
        let mut received = Vec::with_capacity(expect as usize);
        mpi::request::scope(|scope| {
            let sends: Vec<WaitGuard<'_, [u8], _>> = outgoing
                .iter()
                .map(|(dest, msg)| {
                    let p = self.comm.process_at_rank(*dest as i32);
                    WaitGuard::from(p.immediate_send(scope, &msg[..]))
                })
                .collect();
            let started = Instant::now();
            for _ in 0..expect {
                let (msg, _status) = self.comm.any_process().receive_vec::<u8>();
                stats.bytes_received += msg.len() as u64;
                received.push(msg);
            }
            drop(sends);
            stats.waiting += started.elapsed();
        });
        stats.messages_sent += outgoing.len() as u64;
        stats.bytes_sent += outgoing.iter().map(|(_, m)| m.len() as u64).sum::<u64>();
        stats.messages_received += expect as u64;
        received
    }

    /// Encodes the values of `tasks` for their destinations: (destination, message) pairs,
    /// or the codec error naming the first key that cannot be sent.
    fn encode_sends(
        &self,
        plan: &Plan,
        sends: impl Iterator<Item = (TaskId, u32)>,
        store: &[Option<Value>],
    ) -> Result<Vec<(u32, Vec<u8>)>> {
        let mut out: Vec<(u32, Vec<u8>)> = Vec::new();
        let mut last: Option<(TaskId, Vec<u8>)> = None;
        for (t, dest) in sends {
            let msg = match &last {
                Some((lt, m)) if *lt == t => m.clone(),
                _ => {
                    let v = store[t.index()].as_ref().expect("a value to send is kept");
                    let mut m = t.raw().to_le_bytes().to_vec();
                    // A user codec runs here: its panic is this rank's failure, not its end.
                    crate::exec::catch(|| self.codecs.encode_into(v, &mut m))
                        .and_then(|r| r)
                        .map_err(|e| codec_error(plan, t, &e))?;
                    if m.len() > i32::MAX as usize {
                        let e = format!("its encoding takes {} bytes, over 2 GiB", m.len());
                        return Err(codec_error(plan, t, &e));
                    }
                    last = Some((t, m.clone()));
                    m
                }
            };
            out.push((dest, msg));
        }
        Ok(out)
    }

    /// Decodes received messages into the store.
    fn decode_received(
        &self,
        plan: &Plan,
        msgs: Vec<Vec<u8>>,
        store: &mut [Option<Value>],
    ) -> Result<()> {
        for msg in msgs {
            let mut r = Reader(&msg);
            let t = r
                .array::<4>()
                .map(u32::from_le_bytes)
                .ok()
                .filter(|&t| (t as usize) < plan.len())
                .ok_or_else(|| Error::new(ErrorKind::Codec, "a message names no task"))?;
            // A user codec runs here too: a panic is this rank's failure.
            let decoded = crate::exec::catch(|| self.codecs.decode(r.0))
                .and_then(|r| r.map_err(|e| e.to_string()));
            let v = decoded.map_err(|e| {
                Error::new(
                    ErrorKind::Codec,
                    format!("the value of {}: {e}", plan.key(TaskId::from_raw(t))),
                )
            })?;
            store[t as usize] = Some(v);
        }
        Ok(())
    }

    /// Runs stage `s` of this rank on the pool, keeping the values that outlive it.
    fn run_stage(
        &self,
        (plan, index): (&Plan, &TaskIndex),
        sched: &Schedule,
        s: u32,
        store: &mut [Option<Value>],
        options: &RunOptions,
        total: &mut RunStats,
    ) -> Result<()> {
        if sched.local(s).is_empty() {
            return Ok(());
        }
        let task_of = |k: &Key| index.task_of(plan, k);
        let (graph, wanted) = sched.stage_graph(plan, s, store, &task_of)?;
        let sub = Plan::new(&graph, &wanted)?;
        let out = self.pool.run_with(&sub, options)?;
        for (k, v) in wanted.iter().zip(out.values) {
            let t = task_of(k).expect("a planned key");
            store[t.index()] = Some(v);
        }
        let s = out.stats;
        total.tasks_run += s.tasks_run;
        total.steals += s.steals;
        total.peak_live_values = total.peak_live_values.max(s.peak_live_values);
        total.peak_live_bytes = total.peak_live_bytes.max(s.peak_live_bytes);
        total.peak_tolerance = total.peak_tolerance.max(s.peak_tolerance);
        Ok(())
    }

    /// The run; `stats` is filled in as it goes.
    fn run_inner(
        &self,
        plan: &Plan,
        options: &RunOptions,
        stats: &mut DistributedStats,
        total: &mut RunStats,
    ) -> Result<Vec<Value>> {
        let mut pending: Option<Error> = None;
        // Every rank must have planned the same graph.
        let fp = fingerprint(plan);
        let (mut lo, mut hi) = (0u64, 0u64);
        self.comm
            .all_reduce_into(&fp, &mut lo, SystemOperation::min());
        self.comm
            .all_reduce_into(&fp, &mut hi, SystemOperation::max());
        if lo != hi {
            return Err(Error::new(
                ErrorKind::Distributed,
                "the ranks planned different graphs (keys, ops or edges differ)",
            ));
        }
        let owner = self.placement.owners(plan, self.ranks())?;
        let mut sched = Schedule::new(plan, owner, self.rank() as u32);
        let index = &TaskIndex::new(plan);
        stats.stages = sched.stages;
        let mut store: Vec<Option<Value>> = vec![None; plan.len()];
        for s in 0..sched.stages {
            if pending.is_none()
                && let Err(e) = self.run_stage((plan, index), &sched, s, &mut store, options, total)
            {
                pending = Some(e);
            }
            let mut outgoing = Vec::new();
            if pending.is_none() {
                let sends = sched
                    .local(s)
                    .iter()
                    .flat_map(|&t| sched.dests(t).iter().map(move |&d| (t, d)));
                match self.encode_sends(plan, sends, &store) {
                    Ok(o) => outgoing = o,
                    Err(e) => pending = Some(e),
                }
            }
            self.agree(plan, index, &mut pending, stats)?;
            let msgs = self.exchange(&outgoing, sched.receives[s as usize], stats);
            drop(outgoing);
            if let Err(e) = self.decode_received(plan, msgs, &mut store) {
                pending = Some(e);
            }
            sched.release(plan, s, &mut store);
        }
        self.agree(plan, index, &mut pending, stats)?;
        self.gather_outputs(plan, index, &sched, store, stats)
    }

    /// Brings the outputs to rank 0 (or every rank) and returns them in request order.
    fn gather_outputs(
        &self,
        plan: &Plan,
        index: &TaskIndex,
        sched: &Schedule,
        mut store: Vec<Option<Value>>,
        stats: &mut DistributedStats,
    ) -> Result<Vec<Value>> {
        let (rank, ranks) = (self.rank() as u32, self.ranks() as u32);
        let wants = |r: u32| self.everywhere || r == 0;
        let mut distinct: Vec<TaskId> = plan.outputs().to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        let mut pending = None;
        let mut sends = Vec::new();
        let mut expect = 0u32;
        for &t in &distinct {
            let o = sched.owner[t.index()];
            if o == EVERYWHERE {
                continue;
            }
            if o == rank {
                sends.extend(
                    (0..ranks)
                        .filter(|&r| r != rank && wants(r))
                        .map(|r| (t, r)),
                );
            } else if wants(rank) {
                expect += 1;
            }
        }
        let outgoing = match self.encode_sends(plan, sends.into_iter(), &store) {
            Ok(o) => o,
            Err(e) => {
                pending = Some(e);
                Vec::new()
            }
        };
        self.agree(plan, index, &mut pending, stats)?;
        let msgs = self.exchange(&outgoing, expect, stats);
        if let Err(e) = self.decode_received(plan, msgs, &mut store) {
            pending = Some(e);
        }
        self.agree(plan, index, &mut pending, stats)?;
        let value = |t: TaskId| -> Value {
            if sched.owner[t.index()] == EVERYWHERE {
                return match plan.graph().get(plan.key(t)) {
                    Some(Node::Literal(v)) => v.clone(),
                    _ => Value::Unit,
                };
            }
            store[t.index()].clone().unwrap_or(Value::Unit)
        };
        Ok(plan.outputs().iter().map(|&t| value(t)).collect())
    }
}

impl Executor for Distributed {
    fn run_with(&self, plan: &Plan, options: &RunOptions) -> Result<RunOutput> {
        let start = Instant::now();
        let mut stats = DistributedStats {
            rank: self.rank(),
            ranks: self.ranks(),
            ..DistributedStats::default()
        };
        let mut total = RunStats {
            threads: self.pool.threads(),
            ..RunStats::default()
        };
        let result = self.run_inner(plan, options, &mut stats, &mut total);
        stats.tasks_run = total.tasks_run;
        total.wall = start.elapsed();
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = stats;
        Ok(RunOutput {
            values: result?,
            stats: total,
        })
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

/// A hash of the plan's keys, ops and edges, to check that the ranks agree.
fn fingerprint(plan: &Plan) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    plan.len().hash(&mut h);
    for t in plan.tasks() {
        plan.key(t).hash(&mut h);
        plan.op_name(t).hash(&mut h);
        plan.deps(t).hash(&mut h);
    }
    plan.outputs().hash(&mut h);
    h.finish()
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
