//! Random task graphs for property tests and fuzzing.

use super::{Tracker, digest, mix64};
use crate::error::{ErrorKind, Result, TaskError};
use crate::graph::{Arg, Graph, GraphBuilder, Node, Op, Task};
use crate::key::{Atom, Key};
use crate::plan::Plan;
use crate::value::Value;
use arbitrary::Unstructured;

/// The shape of the random graphs [`TestDag`] makes.
///
/// ```
/// use blockwork::testing::{DagConfig, TestDag};
/// let cfg = DagConfig { max_nodes: 10, ..DagConfig::default() };
/// let dag = TestDag::from_seed(1, &cfg);
/// assert!(dag.graph.len() <= 10);
/// ```
#[derive(Clone, Debug)]
pub struct DagConfig {
    /// Smallest number of nodes (default 0).
    pub min_nodes: usize,
    /// Largest number of nodes (the number is drawn from `min_nodes..=max_nodes`).
    pub max_nodes: usize,
    /// Largest number of references one node makes to earlier nodes (repeats included),
    /// and largest number of top-level arguments of a task.
    pub max_deps: usize,
    /// Largest number of requested outputs (repeats and aliases allowed).
    pub max_outputs: usize,
    /// Deepest nesting of list arguments and nested tasks inside one argument.
    pub max_nesting: usize,
    /// Whether some tasks (or nested tasks) always fail with an error.
    pub failures: bool,
    /// Whether some tasks (or nested tasks) always panic.
    pub panics: bool,
    /// Whether the `mix` operations return [`Tracked`](super::Tracked) payloads counted by
    /// the DAG's tracker (otherwise plain integers).
    pub tracked: bool,
}

impl Default for DagConfig {
    fn default() -> Self {
        DagConfig {
            min_nodes: 0,
            max_nodes: 40,
            max_deps: 4,
            max_outputs: 4,
            max_nesting: 3,
            failures: false,
            panics: false,
            tracked: true,
        }
    }
}

/// A random graph, the keys requested from it, and what running it should do.
///
/// Every task computes an order-sensitive hash of its arguments ([`digest`]), so any
/// executor that passes a wrong, missing or reordered argument gives a different result.
/// The operations:
/// - `mix0`..`mix2`: the hash, as a tracked payload (or a plain integer, see
///   [`DagConfig::tracked`]); with no arguments, a zero-argument task;
/// - `pair`: a two-element list holding its first argument (when that is a payload, so
///   values survive inside lists after their own slot is freed) and the hash;
/// - `nest0`, `nest1`: nested-task operations returning the hash as a plain integer;
/// - `fail`, `panic`: always fail or panic ([`DagConfig::failures`], [`DagConfig::panics`]).
#[derive(Clone, Debug)]
pub struct TestDag {
    /// The graph.
    pub graph: Graph,
    /// The requested keys, in request order.
    pub outputs: Vec<Key>,
    /// Counts the payloads the `mix` operations make.
    pub tracker: Tracker,
    /// Keys of the task nodes that always fail, and how (each node fails in one way at most).
    pub failing: Vec<(Key, ErrorKind)>,
    /// Whether the `mix` operations make tracked payloads.
    tracked: bool,
}

impl TestDag {
    /// A random DAG determined by `seed`.
    pub fn from_seed(seed: u64, config: &DagConfig) -> TestDag {
        let words = 64 + 16 * config.max_nodes.min(1 << 20);
        let bytes: Vec<u8> = (0..words as u64)
            .flat_map(|i| mix64(seed ^ mix64(i)).to_le_bytes())
            .collect();
        TestDag::arbitrary(&mut Unstructured::new(&bytes), config)
    }

    /// A random DAG drawn from fuzzer bytes. Never fails: exhausted input reads as zeros,
    /// which gives smaller graphs (empty input gives an empty graph with no outputs).
    pub fn arbitrary(u: &mut Unstructured<'_>, config: &DagConfig) -> TestDag {
        let tracker = Tracker::new();
        let mut g = Gen {
            u,
            cfg: config,
            ops: Ops::new(config.tracked.then(|| tracker.clone())),
            keys: Vec::new(),
            failing: Vec::new(),
        };
        let n = g.pick(config.min_nodes.min(config.max_nodes), config.max_nodes);
        let mut b = GraphBuilder::with_capacity(n);
        for i in 0..n {
            let key = g.key(i);
            let node = g.node(i, &key);
            g.keys.push(key.clone());
            b.node(key, node).expect("generated keys are distinct");
        }
        let outputs = if n == 0 {
            Vec::new()
        } else {
            // The last node, then others mostly from the later half (which need more).
            let m = g.pick(1, config.max_outputs.max(1));
            let mut outputs = vec![g.keys[n - 1].clone()];
            for _ in 1..m {
                let j = match g.pick(0, 3) {
                    0 => g.pick(0, n - 1),
                    _ => g.pick(n / 2, n - 1),
                };
                outputs.push(g.keys[j].clone());
            }
            outputs
        };
        TestDag {
            graph: b.build(),
            outputs,
            tracker,
            failing: g.failing,
            tracked: config.tracked,
        }
    }

    /// The plan of the requested outputs.
    pub fn plan(&self) -> Result<Plan> {
        Plan::new(&self.graph, &self.outputs)
    }

    /// Tasks of `plan` that make a tracked payload when they run (one each).
    pub fn tracked_tasks(&self, plan: &Plan) -> u64 {
        if !self.tracked {
            return 0;
        }
        plan.tasks()
            .filter(|&t| plan.op(t).is_some_and(|op| op.name().starts_with("mix")))
            .count() as u64
    }

    /// The failing task of `plan` that runs first in priority order, and how it fails.
    pub fn first_failure(&self, plan: &Plan) -> Option<(Key, ErrorKind)> {
        plan.tasks().find_map(|t| {
            self.failure_of(plan.key(t))
                .map(|k| (plan.key(t).clone(), k))
        })
    }

    /// How the node under `key` fails, if it always does.
    pub fn failure_of(&self, key: &Key) -> Option<ErrorKind> {
        self.failing.iter().find(|(k, _)| k == key).map(|&(_, e)| e)
    }
}

/// The operations of one DAG (each DAG has its own, bound to its tracker).
struct Ops {
    mix: [Op; 3],
    pair: Op,
    nest: [Op; 2],
    fail: Op,
    panic: Op,
}

impl Ops {
    fn new(tracker: Option<Tracker>) -> Ops {
        let mix = |i: u64| {
            let tracker = tracker.clone();
            Op::new(format!("mix{i}"), move |args: &[Value]| {
                let h = hash_args(i, args) as i64;
                Ok(match &tracker {
                    Some(t) => t.value(h),
                    None => Value::Int(h),
                })
            })
        };
        let nest = |i: u64| {
            Op::new(format!("nest{i}"), move |args: &[Value]| {
                Ok(Value::Int(hash_args(100 + i, args) as i64))
            })
        };
        Ops {
            mix: [mix(0), mix(1), mix(2)],
            pair: Op::new("pair", |args: &[Value]| {
                let h = hash_args(50, args) as i64;
                let keep = match args.first() {
                    Some(v @ Value::Opaque(_)) => v.clone(),
                    _ => Value::Int(!h),
                };
                Ok(Value::list([keep, Value::Int(h)]))
            }),
            nest: [nest(0), nest(1)],
            fail: Op::new("fail", |_: &[Value]| {
                Err(TaskError::new("injected failure"))
            }),
            panic: Op::new(
                "panic",
                |_: &[Value]| -> std::result::Result<Value, TaskError> { panic!("injected panic") },
            ),
        }
    }
}

fn hash_args(salt: u64, args: &[Value]) -> u64 {
    args.iter()
        .fold(mix64(salt), |h, a| mix64(h.rotate_left(7) ^ digest(a)))
}

/// The generator's state while it draws one DAG.
struct Gen<'a, 'b> {
    u: &'a mut Unstructured<'b>,
    cfg: &'a DagConfig,
    ops: Ops,
    keys: Vec<Key>,
    failing: Vec<(Key, ErrorKind)>,
}

/// What one node may still use while its arguments are drawn.
struct Budget {
    refs: usize,
    /// Whether the node already has its one way of failing.
    failure: Option<ErrorKind>,
}

impl Gen<'_, '_> {
    /// A number in `lo..=hi` (`lo` when the input is exhausted).
    fn pick(&mut self, lo: usize, hi: usize) -> usize {
        if hi <= lo {
            return lo;
        }
        self.u.int_in_range(lo..=hi).unwrap_or(lo)
    }

    fn key(&mut self, i: usize) -> Key {
        match self.pick(0, 2) {
            0 => Key::from(format!("n{i}")),
            1 => Key::from(("n", i)),
            _ => Key::tuple("m", [Atom::from("s"), Atom::from(i)]),
        }
    }

    fn literal(&mut self) -> Value {
        match self.pick(0, 9) {
            0 => Value::list([self.pick(0, 9) as i64, -1]),
            1 => Value::from(format!("s{}", self.pick(0, 99))),
            _ => Value::Int(self.pick(0, 1000) as i64 - 500),
        }
    }

    /// One of the first `i` keys.
    fn earlier(&mut self, i: usize) -> Key {
        let j = self.pick(0, i - 1);
        self.keys[j].clone()
    }

    fn node(&mut self, i: usize, key: &Key) -> Node {
        let c = self.pick(0, 9);
        if i == 0 || c < 2 {
            return Node::Literal(self.literal());
        }
        if c < 3 {
            return Node::Alias(self.earlier(i));
        }
        let mut budget = Budget {
            refs: self.cfg.max_deps,
            failure: None,
        };
        let n_args = match self.pick(0, 5) {
            0 => 0,
            _ => self.pick(1, self.cfg.max_deps.max(1)),
        };
        let mut args: Vec<Arg> = Vec::with_capacity(n_args + 1);
        for _ in 0..n_args {
            // Sometimes repeat the previous argument (a key used twice is one dependency).
            let a = match args.last() {
                Some(prev) if self.pick(0, 5) == 0 => prev.clone(),
                _ => self.arg(i, 0, &mut budget),
            };
            args.push(a);
        }
        let op = self.top_op(&mut budget);
        if let Some(kind) = budget.failure {
            self.failing.push((key.clone(), kind));
        }
        Node::Task(Task::new(&op, args))
    }

    fn top_op(&mut self, budget: &mut Budget) -> Op {
        if let Some(op) = self.failing_op(budget) {
            return op;
        }
        match self.pick(0, 7) {
            0 => self.ops.pair.clone(),
            c => self.ops.mix[c % 3].clone(),
        }
    }

    /// A failing or panicking op, rarely, if allowed and the node has no failure yet.
    fn failing_op(&mut self, budget: &mut Budget) -> Option<Op> {
        if budget.failure.is_some() || !(self.cfg.failures || self.cfg.panics) {
            return None;
        }
        if self.pick(0, 15) != 0 {
            return None;
        }
        let panics = self.cfg.panics && (!self.cfg.failures || self.pick(0, 1) == 1);
        let (op, kind) = if panics {
            (self.ops.panic.clone(), ErrorKind::TaskPanicked)
        } else {
            (self.ops.fail.clone(), ErrorKind::TaskFailed)
        };
        budget.failure = Some(kind);
        Some(op)
    }

    fn arg(&mut self, i: usize, depth: usize, budget: &mut Budget) -> Arg {
        let deeper = depth < self.cfg.max_nesting;
        match self.pick(0, 9) {
            c if c < 6 && i > 0 && budget.refs > 0 => {
                budget.refs -= 1;
                // Half the references go to one of the last few nodes, which makes long
                // paths; the others anywhere before, which makes wide fan-in and fan-out.
                let key = if self.pick(0, 1) == 0 {
                    let back = self.pick(1, i.min(4));
                    self.keys[i - back].clone()
                } else {
                    self.earlier(i)
                };
                Arg::Ref(key)
            }
            6 | 7 if deeper => {
                let n = self.pick(0, 3);
                Arg::List((0..n).map(|_| self.arg(i, depth + 1, budget)).collect())
            }
            8 | 9 if deeper => {
                let n = self.pick(0, 3);
                let args: Vec<Arg> = (0..n).map(|_| self.arg(i, depth + 1, budget)).collect();
                let op = match self.failing_op(budget) {
                    Some(op) => op,
                    None => self.ops.nest[self.pick(0, 1)].clone(),
                };
                Arg::Task(Box::new(Task::new(&op, args)))
            }
            _ => Arg::Lit(self.literal()),
        }
    }
}
