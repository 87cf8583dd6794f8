//! Graph statistics: sizes, depth, width, the critical path and the ops used.

use crate::error::Result;
use crate::graph::{Arg, Graph, Node, Task};
use crate::key::Key;
use crate::plan::{Plan, TaskId};
use std::collections::BTreeMap;
use std::fmt;

/// What a graph is made of and how it is shaped, as `blockwork info` prints it.
///
/// Depth, width and the critical path are computed over the interned plan of all keys
/// (aliases followed), in one pass over the tasks in dependency order, without recursion.
///
/// ```
/// use blockwork::diagnostics::GraphInfo;
/// use blockwork::bench_shapes;
/// let (g, _) = bench_shapes::chain(100);
/// let info = GraphInfo::of(&g)?;
/// assert_eq!((info.tasks, info.edges, info.depth, info.width), (100, 99, 100, 1));
/// assert_eq!(info.critical_path.len(), 100);
/// # Ok::<(), blockwork::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphInfo {
    /// Keys in the graph.
    pub nodes: usize,
    /// Nodes that run an op.
    pub tasks: usize,
    /// Literal nodes.
    pub literals: usize,
    /// Alias nodes.
    pub aliases: usize,
    /// Tasks nested inside arguments (run in place, without keys of their own).
    pub nested_tasks: usize,
    /// Distinct dependencies between nodes, aliases followed.
    pub edges: usize,
    /// Nodes (tasks and literals) on the longest chain of dependencies.
    pub depth: usize,
    /// The most nodes at one level, where a node's level is one more than its deepest input's.
    pub width: usize,
    /// The longest chain of tasks, counting only nodes that run an op, first to last.
    pub critical_path: Vec<Key>,
    /// Nodes that nothing depends on.
    pub sinks: usize,
    /// Uses of each op by name, nested tasks included.
    pub ops: BTreeMap<String, usize>,
}

impl GraphInfo {
    /// Statistics of `graph`; a missing key or a cycle is an error, as for running it.
    pub fn of(graph: &Graph) -> Result<GraphInfo> {
        let all: Vec<Key> = graph.keys().cloned().collect();
        let plan = Plan::new(graph, &all)?;
        let mut info = GraphInfo {
            nodes: graph.len(),
            tasks: 0,
            literals: 0,
            aliases: 0,
            nested_tasks: 0,
            edges: plan.n_edges(),
            depth: 0,
            width: 0,
            critical_path: Vec::new(),
            sinks: 0,
            ops: BTreeMap::new(),
        };
        info.count_nodes(graph);
        info.shape(&plan);
        Ok(info)
    }

    fn count_nodes(&mut self, graph: &Graph) {
        let mut stack: Vec<&Task> = Vec::new();
        for (_, node) in graph.iter() {
            match node {
                Node::Literal(_) => self.literals += 1,
                Node::Alias(_) => self.aliases += 1,
                Node::Task(t) => {
                    self.tasks += 1;
                    stack.push(t);
                }
            }
            let mut top = true;
            while let Some(t) = stack.pop() {
                *self.ops.entry(t.op.name().to_owned()).or_default() += 1;
                self.nested_tasks += usize::from(!top);
                top = false;
                let mut args: Vec<&Arg> = t.args.iter().collect();
                while let Some(a) = args.pop() {
                    match a {
                        Arg::Task(t) => stack.push(t),
                        Arg::List(items) => args.extend(items.iter()),
                        Arg::Ref(_) | Arg::Lit(_) => {}
                    }
                }
            }
        }
    }

    /// Levels, widths and the critical path, in one pass: the plan numbers every dependency
    /// below its users.
    fn shape(&mut self, plan: &Plan) {
        let n = plan.len();
        let mut level = vec![0usize; n];
        let mut cost = vec![0usize; n];
        let mut via: Vec<Option<usize>> = vec![None; n];
        let mut per_level: Vec<usize> = Vec::new();
        for t in plan.tasks() {
            let i = t.index();
            let mut best: Option<usize> = None;
            for d in plan.deps(t) {
                let d = d.index();
                level[i] = level[i].max(level[d]);
                if best.is_none_or(|b| cost[d] > cost[b]) {
                    best = Some(d);
                }
            }
            level[i] += 1;
            cost[i] = best.map_or(0, |b| cost[b]) + usize::from(plan.op(t).is_some());
            via[i] = best;
            if per_level.len() < level[i] {
                per_level.resize(level[i], 0);
            }
            per_level[level[i] - 1] += 1;
            self.sinks += usize::from(plan.users(t).is_empty());
        }
        self.depth = per_level.len();
        self.width = per_level.iter().copied().max().unwrap_or(0);
        let mut at = (0..n).max_by_key(|&i| (cost[i], std::cmp::Reverse(i)));
        while let Some(i) = at {
            let t = TaskId::from_raw(i as u32);
            if plan.op(t).is_some() {
                self.critical_path.push(plan.key(t).clone());
            }
            at = via[i];
        }
        self.critical_path.reverse();
    }
}

impl fmt::Display for GraphInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "nodes:          {}", self.nodes)?;
        writeln!(f, "  tasks:        {}", self.tasks)?;
        writeln!(f, "  literals:     {}", self.literals)?;
        writeln!(f, "  aliases:      {}", self.aliases)?;
        writeln!(f, "nested tasks:   {}", self.nested_tasks)?;
        writeln!(f, "edges:          {}", self.edges)?;
        writeln!(f, "depth:          {}", self.depth)?;
        writeln!(f, "width:          {}", self.width)?;
        writeln!(f, "sinks:          {}", self.sinks)?;
        write!(f, "critical path:  {} tasks", self.critical_path.len())?;
        const SHOWN: usize = 6;
        if !self.critical_path.is_empty() {
            let keys: Vec<String> = self
                .critical_path
                .iter()
                .take(SHOWN)
                .map(Key::to_string)
                .collect();
            let more = if self.critical_path.len() > SHOWN {
                " -> ..."
            } else {
                ""
            };
            write!(f, " ({}{more})", keys.join(" -> "))?;
        }
        writeln!(f)?;
        writeln!(f, "ops:")?;
        for (name, count) in &self.ops {
            writeln!(f, "  {name:<14}{count}")?;
        }
        Ok(())
    }
}
