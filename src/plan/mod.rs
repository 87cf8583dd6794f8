//! The plan: a graph interned into a flat arena of integer-indexed tasks.
//!
//! [`Plan::new`] walks the graph from the requested keys (so only what they need is kept),
//! follows aliases, checks for missing keys and cycles, and lays the reachable tasks out as
//! struct-of-arrays indexed by [`TaskId`]:
//!
//! ```text
//!  task t:   rows[t] = { op, arg, dep, user }   one 16-byte header: what a worker reads first
//!            op_table[rows[t].op]  what to run (LITERAL: a literal node, its value is args[0])
//!            args[rows[t].arg .. rows[t+1].arg]     prefix-encoded argument trees
//!            deps[rows[t].dep .. rows[t+1].dep]     distinct tasks t reads, ascending
//!            users[rows[t].user .. rows[t+1].user]  distinct tasks reading t, ascending
//!            n_deps[t], n_users[t]                  the counts the executors copy per run
//! ```
//!
//! Ids are assigned in the post-order of a depth-first walk from the outputs, so every
//! dependency has a smaller id than its users and the id order is the static priority: a
//! subtree is finished before the next one is started, which keeps the live set small (the
//! role of dask's `order`). The pool does not schedule literal nodes: it writes their values
//! into their slots when a run starts, and counts their users' readiness from
//! `start_deps` (the dependencies that are not literal nodes). A plan made by
//! [`Plan::with_inputs`] has *inputs*: literal nodes whose values arrive while a run goes on
//! (see [`Pool::run_fed`](crate::Pool::run_fed)); their users' countdowns include them. A plan is immutable, `Send + Sync`, and can be run any number of
//! times, from any number of threads.

mod build;

use crate::graph::{Graph, Op};
use crate::key::Key;
use crate::value::Value;
use std::fmt;

/// A dense task index inside one [`Plan`]. Only the plan builder mints them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(u32);

impl TaskId {
    /// The id as an index into per-task arrays.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
    #[inline]
    pub(crate) fn raw(self) -> u32 {
        self.0
    }
    #[inline]
    pub(crate) fn from_raw(i: u32) -> TaskId {
        TaskId(i)
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}", self.0)
    }
}

/// One element of the flat, prefix-encoded argument store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EncodedArg {
    /// The result of a task.
    Dep(u32),
    /// `lits[i]`.
    Lit(u32),
    /// A list of the next `n` argument trees.
    List(u32),
    /// `op_table[op]` applied to the next `n` argument trees.
    Nested(u32, u32),
}

/// How a finishing task counts down one end of an edge, precomputed per edge so the
/// executor need not look up the other task's counts (a random memory access).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Countdown {
    /// The counter starts at one: this edge is its only decrementer, so no atomic is needed.
    One,
    /// A plain atomic decrement.
    Atomic,
    /// The counter is large (more than [`BATCH_FAN`]): decrements are batched per job so many
    /// workers do not fight over one cache line.
    Batched,
}

/// Counters larger than this use [`Countdown::Batched`].
#[cfg(not(blockwork_loom))]
pub(crate) const BATCH_FAN: u32 = 16;
/// Under loom, small enough that a model of a few tasks exercises the batched paths.
#[cfg(blockwork_loom)]
pub(crate) const BATCH_FAN: u32 = 2;

impl Countdown {
    fn of(count: u32) -> Countdown {
        match count {
            1 => Countdown::One,
            c if c > BATCH_FAN => Countdown::Batched,
            _ => Countdown::Atomic,
        }
    }
}

/// The `op` of a literal node's row.
pub(crate) const LITERAL: u32 = u32::MAX;

pub use crate::graph::MAX_NESTING;

/// A task's header: its op and where its arguments, dependencies and users start (they end
/// where the next row's start). Four of them share a cache line, so running a task reads
/// one line of headers where separate offset arrays cost four.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, align(16))]
pub(crate) struct Row {
    /// Index into `op_table`; [`LITERAL`] for a literal node (and the closing row).
    pub(crate) op: u32,
    /// Start of the task's argument trees in `args`.
    pub(crate) arg: u32,
    /// Start of the task's dependencies in `deps` (and `dep_modes`).
    pub(crate) dep: u32,
    /// Start of the task's users in `users` (and `user_modes`).
    pub(crate) user: u32,
}

/// A graph interned for execution. See the [module docs](self) for the layout.
///
/// ```
/// use blockwork::{Arg, GraphBuilder, Op, Plan, Key};
/// let inc = Op::typed("inc", |x: i64| x + 1);
/// let mut b = GraphBuilder::new();
/// b.literal("x", 1)?.task("y", &inc, [Arg::key("x")])?.task("unused", &inc, [Arg::key("x")])?;
/// let plan = Plan::new(&b.build(), &[Key::from("y")])?;
/// assert_eq!(plan.len(), 2); // "unused" is culled
/// # Ok::<(), blockwork::Error>(())
/// ```
pub struct Plan {
    /// The graph the plan was built from; keeps keys and ops alive for messages.
    graph: Graph,
    /// Graph node index of each task (for its key).
    node: Vec<u32>,
    /// Per task its header, plus one closing row holding the ends of `args`, `deps` and
    /// `users` (always `len() + 1` long; offsets non-decreasing, starting at 0).
    rows: Vec<Row>,
    /// The distinct ops of the plan (of tasks and nested tasks), each stored once.
    op_table: Vec<Op>,
    /// Argument trees of all tasks, concatenated.
    args: Vec<EncodedArg>,
    /// Literal values referenced by [`EncodedArg::Lit`].
    lits: Vec<Value>,
    /// Distinct dependencies of each task, ascending; each is smaller than the task.
    deps: Vec<TaskId>,
    /// Distinct dependents of each task, ascending; each is larger than the task.
    users: Vec<TaskId>,
    /// Parallel to `deps`: how the dependency's `n_users` counter is counted down.
    dep_modes: Vec<Countdown>,
    /// Parallel to `users`: how the user's `n_deps` counter is counted down.
    user_modes: Vec<Countdown>,
    /// `n_deps[t] == deps(t).len()`: the countdown to readiness.
    n_deps: Vec<u32>,
    /// `users(t).len()`, plus one if `t` is a requested output: the countdown to freeing.
    /// An output never reaches zero during a run; the caller takes its value at the end.
    n_users: Vec<u32>,
    /// Tasks with no dependencies, ascending (priority order).
    roots: Vec<TaskId>,
    /// Literal nodes, ascending. The pool writes their values into their slots when a run
    /// starts instead of scheduling them.
    literal_tasks: Vec<TaskId>,
    /// `n_deps` less the literal dependencies: the readiness countdown's start in the pool.
    /// Empty when no literal node has a user (then it equals `n_deps`).
    start_deps: Vec<u32>,
    /// The tasks the pool starts from: those that are not literal nodes and whose
    /// dependencies are all literal nodes, ascending. Empty when `start_deps` is.
    start_roots: Vec<TaskId>,
    /// Literal nodes whose values are delivered while a run goes on
    /// ([`Plan::with_inputs`]), ascending. They are neither written at the start nor
    /// scheduled: their users' countdowns wait for them.
    inputs: Vec<TaskId>,
    /// The requested outputs, in request order (repeats allowed).
    outputs: Vec<TaskId>,
    /// The requested keys, in request order.
    output_keys: Vec<Key>,
    /// What an executor derived from this plan to run it again faster (the distributed
    /// executor's share of it), freed with the plan; see [`Plan::take_derived`].
    #[cfg_attr(not(any(feature = "distributed", test)), allow(dead_code))]
    derived: Derived,
}

/// The slot of [`Plan`]'s derived state: one value of any type, taken out for the length of a
/// run (so that two runs never share it) and put back after.
#[derive(Default)]
#[cfg_attr(not(any(feature = "distributed", test)), allow(dead_code))]
pub(crate) struct Derived(std::sync::Mutex<Option<Box<dyn std::any::Any + Send + Sync>>>);

impl Plan {
    /// Checks that every reference of `graph` resolves and that it has no cycle, without
    /// running anything: plans every key of the graph and drops the plan.
    ///
    /// ```
    /// use blockwork::{Arg, ErrorKind, GraphBuilder, Op, Plan};
    /// let id = Op::typed("id", |x: i64| x);
    /// let mut b = GraphBuilder::new();
    /// b.task("a", &id, [Arg::key("b")]).unwrap();
    /// b.task("b", &id, [Arg::key("a")]).unwrap();
    /// let err = Plan::validate(&b.build()).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Cycle);
    /// assert!(err.to_string().contains("a -> b -> a"));
    /// ```
    pub fn validate(graph: &Graph) -> crate::error::Result<()> {
        let all: Vec<Key> = graph.keys().cloned().collect();
        Plan::new(graph, &all).map(drop)
    }

    /// Number of tasks.
    #[inline]
    pub fn len(&self) -> usize {
        self.node.len()
    }

    /// Whether the plan has no tasks (nothing was requested).
    pub fn is_empty(&self) -> bool {
        self.node.is_empty()
    }

    /// Number of dependency edges (distinct pairs).
    pub fn n_edges(&self) -> usize {
        self.deps.len()
    }

    /// The key of a task.
    pub fn key(&self, t: TaskId) -> &Key {
        self.graph
            .map()
            .get_index(self.node[t.index()] as usize)
            .map(|(k, _)| k)
            .expect("plan node index is in its graph")
    }

    /// The name of a task's op (`"literal"` for literal nodes).
    pub fn op_name(&self, t: TaskId) -> &str {
        self.op(t).map_or("literal", Op::name)
    }

    /// The op of a task, `None` for a literal node.
    pub fn op(&self, t: TaskId) -> Option<&Op> {
        self.op_table.get(self.rows[t.index()].op as usize)
    }

    /// Distinct dependencies of a task, ascending.
    #[inline]
    pub fn deps(&self, t: TaskId) -> &[TaskId] {
        let (a, b) = self.bounds(t);
        &self.deps[a.dep as usize..b.dep as usize]
    }

    /// Distinct dependents of a task, ascending.
    #[inline]
    pub fn users(&self, t: TaskId) -> &[TaskId] {
        let (a, b) = self.bounds(t);
        &self.users[a.user as usize..b.user as usize]
    }

    /// The per-task dependency counts (the readiness countdown's start).
    pub fn n_deps(&self) -> &[u32] {
        &self.n_deps
    }

    /// The per-task user counts (the freeing countdown's start; outputs count one extra).
    pub fn n_users(&self) -> &[u32] {
        &self.n_users
    }

    /// Tasks without dependencies, in priority order.
    pub fn roots(&self) -> &[TaskId] {
        &self.roots
    }

    /// The requested outputs, in request order.
    pub fn outputs(&self) -> &[TaskId] {
        &self.outputs
    }

    /// The requested keys, in request order.
    pub fn output_keys(&self) -> &[Key] {
        &self.output_keys
    }

    /// All task ids in priority order.
    pub fn tasks(&self) -> impl ExactSizeIterator<Item = TaskId> + use<> {
        (0..self.len() as u32).map(TaskId)
    }

    /// The graph this plan was built from.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Literal nodes, ascending: the pool writes them into their slots when a run starts.
    #[inline]
    pub(crate) fn literal_tasks(&self) -> &[TaskId] {
        &self.literal_tasks
    }

    /// The inputs: literal nodes whose values a run receives while it goes on (see
    /// [`Plan::with_inputs`]), ascending. Empty for a plan made by [`Plan::new`].
    ///
    /// ```
    /// use blockwork::{Arg, GraphBuilder, Key, Op, Plan, Value};
    /// let inc = Op::typed("inc", |x: i64| x + 1);
    /// let mut b = GraphBuilder::new();
    /// b.literal("x", Value::Unit)?.task("y", &inc, [Arg::key("x")])?;
    /// let plan = Plan::with_inputs(&b.build(), &[Key::from("y")], &[Key::from("x")])?;
    /// assert_eq!(plan.inputs().len(), 1);
    /// assert_eq!(plan.key(plan.inputs()[0]), &Key::from("x"));
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn inputs(&self) -> &[TaskId] {
        &self.inputs
    }

    /// The value of literal node `t`.
    #[inline]
    pub(crate) fn literal_value(&self, t: TaskId) -> &Value {
        match self.args(t) {
            [EncodedArg::Lit(i)] => self.lit(*i),
            _ => unreachable!("literal nodes hold one literal argument"),
        }
    }

    /// Per task, the dependencies that are not literal nodes: the pool's readiness
    /// countdown starts there (literal nodes are written when the run starts).
    #[inline]
    pub(crate) fn start_deps(&self) -> &[u32] {
        if self.start_deps.is_empty() {
            &self.n_deps
        } else {
            &self.start_deps
        }
    }

    /// The tasks a pool run starts from: tasks that are not literal nodes and depend on
    /// literal nodes only (or on nothing), in priority order.
    #[inline]
    pub(crate) fn start_roots(&self) -> &[TaskId] {
        if self.literal_tasks.is_empty() && self.inputs.is_empty() {
            &self.roots
        } else {
            &self.start_roots
        }
    }

    /// Dependencies of `t` with the countdown mode of each one's user counter.
    #[inline]
    pub(crate) fn deps_with_modes(&self, t: TaskId) -> (&[TaskId], &[Countdown]) {
        let (a, b) = self.bounds(t);
        let r = a.dep as usize..b.dep as usize;
        (&self.deps[r.clone()], &self.dep_modes[r])
    }

    /// Users of `t` with the countdown mode of each one's dependency counter.
    #[inline]
    pub(crate) fn users_with_modes(&self, t: TaskId) -> (&[TaskId], &[Countdown]) {
        let (a, b) = self.bounds(t);
        let r = a.user as usize..b.user as usize;
        (&self.users[r.clone()], &self.user_modes[r])
    }

    /// The index in [`Plan::graph`] of a task's node.
    #[cfg(feature = "distributed")]
    pub(crate) fn node_index(&self, t: TaskId) -> usize {
        self.node[t.index()] as usize
    }

    /// Every literal value of the plan (of literal nodes and of tasks' arguments), in plan
    /// order.
    #[cfg_attr(not(feature = "distributed"), allow(dead_code))]
    pub(crate) fn literal_values(&self) -> &[Value] {
        &self.lits
    }

    /// Literal `i` of the argument store ([`EncodedArg::Lit`]).
    #[inline]
    pub(crate) fn lit(&self, i: u32) -> &Value {
        &self.lits[i as usize]
    }

    /// Op `i` of the op table ([`EncodedArg::Nested`]).
    #[inline]
    pub(crate) fn table_op(&self, i: u32) -> &Op {
        &self.op_table[i as usize]
    }

    #[inline]
    pub(crate) fn args(&self, t: TaskId) -> &[EncodedArg] {
        let (a, b) = self.bounds(t);
        &self.args[a.arg as usize..b.arg as usize]
    }

    /// Task `t`'s row and the next one (whose starts end `t`'s ranges).
    #[inline]
    fn bounds(&self, t: TaskId) -> (&Row, &Row) {
        match self.rows.get(t.index()..t.index() + 2) {
            Some([a, b]) => (a, b),
            _ => panic!("task {t:?} is not in this plan"),
        }
    }
}

// Used by the distributed executor (and the tests) only.
#[cfg_attr(not(any(feature = "distributed", test)), allow(dead_code))]
impl Plan {
    /// Takes the derived state left by an earlier run, if it is a `T` for which `fits`
    /// holds; otherwise leaves the slot as it is.
    pub(crate) fn take_derived<T: std::any::Any + Send + Sync>(
        &self,
        fits: impl FnOnce(&T) -> bool,
    ) -> Option<Box<T>> {
        let mut slot = self.derived.0.lock().unwrap_or_else(|p| p.into_inner());
        if !slot.as_ref()?.downcast_ref::<T>().is_some_and(fits) {
            return None;
        }
        slot.take()?.downcast().ok()
    }

    /// Keeps `state` with the plan for a later run (replacing what was there).
    pub(crate) fn put_derived<T: std::any::Any + Send + Sync>(&self, state: Box<T>) {
        *self.derived.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(state);
    }
}

impl fmt::Debug for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plan")
            .field("tasks", &self.len())
            .field("edges", &self.n_edges())
            .field("outputs", &self.output_keys)
            .finish()
    }
}

#[cfg(test)]
mod tests;
