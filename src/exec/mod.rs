//! Executors: run a [`Plan`] and return the values of its outputs.
//!
//! - [`Sequential`] runs on the caller's thread in priority order. It is the oracle every
//!   test of the parallel executor compares against.
//! - [`Pool`] is a persistent set of worker threads, pinned to cores, that steal work from
//!   each other. One pool serves many runs, one after another or concurrently from several
//!   caller threads.
//!
//! Both free each intermediate value the moment its last user finishes, report
//! [`RunStats`], call an optional [`Observer`] on every task, and turn the first failing or
//! panicking task into an [`Error::Task`] naming its key and op.

mod eval;
mod feed;
mod job;
mod latch;
mod poll;
mod pool;
mod run_ctx;
mod run_state;
mod sequential;
mod sleep;
mod slot;
pub(crate) mod sync;
mod tally;
mod worker;

#[cfg(all(test, blockwork_loom))]
mod loom_tests;

pub use feed::Feed;
pub use pool::{Pool, PoolBuilder};
pub use sequential::Sequential;

use crate::error::{Error, ErrorKind, Result};
use crate::graph::Graph;
use crate::key::Key;
use crate::plan::{Plan, TaskId};
use crate::value::Value;
use std::sync::Arc;
use std::time::Duration;

/// What one run did.
///
/// ```
/// use blockwork::{Executor, GraphBuilder, Plan, Pool};
/// let mut b = GraphBuilder::new();
/// b.literal("x", 1)?;
/// let plan = Plan::new(&b.build(), &["x".into()])?;
/// let stats = Pool::new(2)?.run(&plan)?.stats;
/// assert_eq!((stats.tasks_run, stats.leaked_values), (1, 0));
/// assert!(stats.peak_live_values + stats.peak_tolerance >= 1);
/// # Ok::<(), blockwork::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunStats {
    /// Tasks that ran to completion.
    pub tasks_run: u64,
    /// Jobs taken from another worker's deque or from the injector.
    pub steals: u64,
    /// Largest number of task values alive at once. Exact for [`Sequential`]; a [`Pool`]'s
    /// workers publish their counts in batches, so the true peak may exceed this by up to
    /// [`peak_tolerance`](RunStats::peak_tolerance).
    pub peak_live_values: u64,
    /// Largest number of bytes held by live task values at once, as reported by
    /// [`Value::nbytes`]; batched like `peak_live_values` (up to 1 MiB per worker).
    pub peak_live_bytes: u64,
    /// How many values the true peak may exceed `peak_live_values` by: 0 for
    /// [`Sequential`], 64 per worker for a [`Pool`].
    pub peak_tolerance: u64,
    /// Values still held by the run when it returned, outputs excluded: always 0 after a
    /// successful run (every intermediate was freed at its last use).
    pub leaked_values: u64,
    /// Wall time from submission to completion.
    pub wall: Duration,
    /// Worker threads that served the run (1 for [`Sequential`]).
    pub threads: usize,
    /// Point-to-point messages this process sent to others in a distributed run (one per
    /// value and destination, as `Distributed` sends them); 0 for a local run.
    pub messages_sent: u64,
    /// Point-to-point messages this process received in a distributed run; 0 for a local run.
    pub messages_received: u64,
    /// Bytes of the messages sent; 0 for a local run.
    pub bytes_sent: u64,
    /// Bytes of the messages received; 0 for a local run.
    pub bytes_received: u64,
    /// Time this process waited for data in a distributed run: while values from other
    /// processes were awaited and no task of its own was queued or running, plus the
    /// agreement at the run's end. Zero for a local run.
    pub waiting: Duration,
}

/// Callbacks on task start and finish, for progress bars and profiles.
///
/// Observers are called from worker threads, concurrently; keep them cheap. When no observer
/// is set, the executor does one well-predicted branch per task. The pool writes literal
/// nodes into their slots when a run starts, on the calling thread: their start and finish
/// are reported then, as on worker 0, before any other task's.
pub trait Observer: Send + Sync {
    /// A run of `plan` is starting.
    fn run_started(&self, plan: &Plan) {
        let _ = plan;
    }
    /// Task `task` starts on `worker` (0 for the sequential executor).
    fn task_started(&self, plan: &Plan, task: TaskId, worker: usize) {
        let _ = (plan, task, worker);
    }
    /// Task `task` finished on `worker` (successfully or not).
    fn task_finished(&self, plan: &Plan, task: TaskId, worker: usize) {
        let _ = (plan, task, worker);
    }
    /// The run ended.
    fn run_finished(&self, plan: &Plan, stats: &RunStats) {
        let _ = (plan, stats);
    }
}

/// Options for one run.
///
/// ```
/// use blockwork::{Observer, RunOptions};
/// use std::sync::Arc;
/// struct Quiet;
/// impl Observer for Quiet {}
/// let options = RunOptions::new().observer(Arc::new(Quiet));
/// assert!(options.observer.is_some());
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct RunOptions {
    /// Called on every task start and finish.
    pub observer: Option<Arc<dyn Observer>>,
    /// Most bytes the run's live values may hold together, as [`Value::nbytes`] counts them
    /// (`None`: no limit). A task whose value takes the total over it fails the run with a
    /// [`TooLarge`](crate::ErrorKind::TooLarge) task error. [`Sequential`] counts exactly; a
    /// [`Pool`] counts each worker's recent changes only in batches of up to 1 MiB, so its count
    /// may be off by up to 1 MiB a thread either way.
    ///
    /// [`Value::nbytes`]: crate::Value::nbytes
    pub max_live_bytes: Option<u64>,
}

impl RunOptions {
    /// Default options: no observer.
    pub fn new() -> RunOptions {
        RunOptions::default()
    }

    /// These options with an observer.
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> RunOptions {
        self.observer = Some(observer);
        self
    }

    /// Options with an observer.
    pub fn with_observer(observer: Arc<dyn Observer>) -> RunOptions {
        RunOptions::new().observer(observer)
    }

    /// These options with a bound on the bytes of the run's live values together (see
    /// [`RunOptions::max_live_bytes`]).
    ///
    /// ```
    /// use blockwork::{Arg, ErrorKind, Executor, GraphBuilder, Op, Plan, RunOptions, Sequential, Value};
    /// // Two strings of 600 bytes each, both requested: 1200 bytes live at the end.
    /// let text = Op::new("text", |a: &[Value]| Ok(Value::from("x".repeat(a[0].as_int().unwrap_or(0) as usize))));
    /// let mut b = GraphBuilder::new();
    /// b.task("a", &text, [Arg::lit(600i64)])?.task("b", &text, [Arg::lit(600i64)])?;
    /// let plan = Plan::new(&b.build(), &["a".into(), "b".into()])?;
    /// let err = Sequential::new().run_with(&plan, &RunOptions::new().max_live_bytes(1000)).unwrap_err();
    /// assert_eq!(err.task_cause(), Some(ErrorKind::TooLarge));
    /// assert!(Sequential::new().run_with(&plan, &RunOptions::new().max_live_bytes(1200)).is_ok());
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn max_live_bytes(mut self, bytes: u64) -> RunOptions {
        self.max_live_bytes = Some(bytes);
        self
    }
}

/// The error of a run whose live values went over [`RunOptions::max_live_bytes`] when task
/// `t` finished.
#[cold]
pub(crate) fn over_live_budget(plan: &Plan, t: TaskId, live: u64, max: u64) -> Error {
    Error::Task {
        key: plan.key(t).clone(),
        op: plan.op_name(t).into(),
        message: format!(
            "the run's live values would take {live} bytes, over its budget of {max} bytes"
        ),
        panicked: false,
        cause: ErrorKind::TooLarge,
        source: None,
    }
}

/// The result of a run: output values in the plan's request order, and statistics.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// One value per requested key, in request order.
    pub values: Vec<Value>,
    /// What the run did.
    pub stats: RunStats,
}

/// One key or a nested list of keys, for [`Executor::compute`].
///
/// ```
/// use blockwork::{Keys, Key};
/// let k: Keys = vec![Keys::from("a"), Keys::from(vec!["b", "c"])].into();
/// assert_eq!(k.flatten(), vec![Key::from("a"), Key::from("b"), Key::from("c")]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Keys {
    /// A single key.
    One(Key),
    /// A list of nested key lists.
    Many(Vec<Keys>),
}

impl Keys {
    /// The keys, depth first.
    pub fn flatten(&self) -> Vec<Key> {
        let mut out = Vec::new();
        self.flatten_into(&mut out);
        out
    }
    fn flatten_into(&self, out: &mut Vec<Key>) {
        match self {
            Keys::One(k) => out.push(k.clone()),
            Keys::Many(ks) => ks.iter().for_each(|k| k.flatten_into(out)),
        }
    }
    fn shape(&self, values: &mut std::vec::IntoIter<Value>) -> Computed {
        match self {
            Keys::One(_) => Computed::One(values.next().expect("one value per key")),
            Keys::Many(ks) => Computed::Many(ks.iter().map(|k| k.shape(values)).collect()),
        }
    }
}

impl<K: Into<Key>> From<K> for Keys {
    fn from(k: K) -> Keys {
        Keys::One(k.into())
    }
}
impl<K: Into<Keys>> From<Vec<K>> for Keys {
    fn from(ks: Vec<K>) -> Keys {
        Keys::Many(ks.into_iter().map(Into::into).collect())
    }
}

/// Values in the same nesting as the [`Keys`] that asked for them.
#[derive(Clone, Debug, PartialEq)]
pub enum Computed {
    /// The value of one key.
    One(Value),
    /// Values of a nested list of keys.
    Many(Vec<Computed>),
}

impl Computed {
    /// The value, if this is a single one.
    pub fn as_value(&self) -> Option<&Value> {
        match self {
            Computed::One(v) => Some(v),
            Computed::Many(_) => None,
        }
    }
    /// The list, if this is a list.
    pub fn as_list(&self) -> Option<&[Computed]> {
        match self {
            Computed::Many(l) => Some(l),
            Computed::One(_) => None,
        }
    }
}

/// Something that runs plans: [`Sequential`] or [`Pool`].
pub trait Executor {
    /// Runs a plan with options.
    fn run_with(&self, plan: &Plan, options: &RunOptions) -> Result<RunOutput>;

    /// Runs a plan.
    fn run(&self, plan: &Plan) -> Result<RunOutput> {
        self.run_with(plan, &RunOptions::default())
    }

    /// The value of one key: plans only what it needs, runs, returns.
    fn get(&self, graph: &Graph, key: impl Into<Key>) -> Result<Value>
    where
        Self: std::marker::Sized,
    {
        let plan = Plan::new(graph, &[key.into()])?;
        let mut out = self.run(&plan)?;
        Ok(out.values.pop().expect("one output"))
    }

    /// The values of a key or nested list of keys, in the same nesting (dask's `get` with a
    /// list of keys).
    ///
    /// ```
    /// use blockwork::{Computed, Executor, GraphBuilder, Keys, Sequential, Value};
    /// let mut b = GraphBuilder::new();
    /// b.literal("a", 1)?.literal("b", 2)?;
    /// let g = b.build();
    /// let got = Sequential::new().compute(&g, &vec![Keys::from("a"), Keys::from(vec!["b", "a"])].into())?;
    /// assert_eq!(got, Computed::Many(vec![
    ///     Computed::One(Value::Int(1)),
    ///     Computed::Many(vec![Computed::One(Value::Int(2)), Computed::One(Value::Int(1))]),
    /// ]));
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    fn compute(&self, graph: &Graph, keys: &Keys) -> Result<Computed>
    where
        Self: std::marker::Sized,
    {
        let plan = Plan::new(graph, &keys.flatten())?;
        let out = self.run(&plan)?;
        Ok(keys.shape(&mut out.values.into_iter()))
    }
}

/// A caught panic's payload.
pub(crate) type PanicPayload = Box<dyn std::any::Any + Send>;

/// Extracts a message from a panic payload, then disposes of the payload safely: a payload
/// whose own `Drop` panics must not unwind out of the executor (or abort it).
pub(crate) fn panic_message(payload: PanicPayload) -> String {
    let message = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    };
    dispose(payload);
    message
}

/// Drops a panic payload under `catch_unwind`; the payload of a panic in that drop is
/// dropped the same way, a few times, and then leaked rather than dropped unguarded.
fn dispose(mut payload: PanicPayload) {
    for _ in 0..8 {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(payload))) {
            Ok(()) => return,
            Err(next) => payload = next,
        }
    }
    std::mem::forget(payload);
}

/// `v.nbytes()`, with a panic returned as its message. Only payloads (and lists, which may
/// hold them) run code of the user's, so scalars and strings skip the guard: this is on the
/// path of every task.
#[inline]
pub(crate) fn nbytes_caught(v: &Value) -> Result<usize, String> {
    match v {
        Value::Opaque(_) | Value::List(_) => catch(|| v.nbytes()),
        _ => Ok(v.nbytes()),
    }
}

/// Runs `f`, returning a panic as its message (the payload disposed of safely).
#[inline]
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(panic_message)
}
