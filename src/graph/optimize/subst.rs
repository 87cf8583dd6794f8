//! The substitution engine shared by `inline`, `inline_functions`, `fuse` and `dealias`.
//!
//! Each of those rewrites picks a set of nodes whose references are to be replaced by their
//! content ("substituted" nodes), and says which of them stay in the result anyway. The engine
//! then:
//!
//! 1. resolves every reference of every node to a node index once (a CSR, in the order
//!    [`Node::for_each_ref`] visits them, which is the order the rebuild below walks them);
//! 2. orders the substituted nodes so that each comes after the substituted nodes it refers to
//!    (an iterative depth-first walk; a cycle among them aborts the rewrite);
//! 3. computes each substituted node's *expansion* (its content with its own references to
//!    substituted nodes replaced) in that order, then rebuilds every other node the same way;
//! 4. keeps the nodes that are not substituted, plus the substituted ones that are kept.
//!
//! Two limits decide whether one reference is replaced. The nesting limit: the expansion put
//! at that position must not nest arguments deeper than [`MAX_NESTING`], so the result always
//! plans. The merge limit (used by `fuse`): one node must not absorb more than `max_tasks`
//! task nodes. Where a limit says no, the reference stays and the node it names is kept.
//!
//! Cost: an expansion used once and not kept is moved into its user, so a chain of any length
//! is rewritten in linear time and space; an expansion used several times is copied into each
//! use, as dask's `subs` does. Nothing recurses over more than one node's own arguments.

use crate::graph::MAX_NESTING;
use crate::graph::{Arg, Graph, Node, NodeMap, Task};
use crate::key::Key;

/// `Refs::targets` entry of a reference to a key that is not in the graph.
pub(super) const MISSING: usize = usize::MAX;

/// Every reference of every node, resolved to node indices.
pub(super) struct Refs {
    /// Always `n + 1` long, starts at 0, non-decreasing; last == `targets.len()`.
    offsets: Vec<usize>,
    /// Node index of each reference (or [`MISSING`]), node by node, in argument order.
    targets: Vec<usize>,
}

impl Refs {
    pub(super) fn new(map: &NodeMap) -> Refs {
        let mut offsets = Vec::with_capacity(map.len() + 1);
        let mut targets = Vec::with_capacity(map.len());
        offsets.push(0);
        for node in map.values() {
            node.for_each_ref(|k| targets.push(map.get_index_of(k).unwrap_or(MISSING)));
            offsets.push(targets.len());
        }
        Refs { offsets, targets }
    }

    /// The references of node `i`, in argument order.
    pub(super) fn of(&self, i: usize) -> &[usize] {
        &self.targets[self.offsets[i]..self.offsets[i + 1]]
    }

    /// How many times each node is referred to, over all nodes.
    pub(super) fn uses(&self) -> Vec<u32> {
        let mut uses = vec![0u32; self.offsets.len() - 1];
        for &t in &self.targets {
            if t != MISSING {
                uses[t] = uses[t].saturating_add(1);
            }
        }
        uses
    }
}

/// What to substitute and what to keep; see the module docs.
pub(super) struct Rewrite {
    /// Per node: references to it are replaced by its expansion.
    pub(super) sub: Vec<bool>,
    /// Per node: a substituted node that stays in the result anyway.
    pub(super) keep: Vec<bool>,
    /// The most task nodes one node of the result may absorb (itself included).
    pub(super) max_tasks: usize,
}

/// Applies a rewrite. A graph with a cycle among the substituted nodes comes back unchanged.
pub(super) fn apply(graph: &Graph, rewrite: Rewrite, refs: Option<Refs>) -> Graph {
    if !rewrite.sub.contains(&true) {
        return graph.clone();
    }
    let map = graph.map();
    let refs = refs.unwrap_or_else(|| Refs::new(map));
    let Some(order) = dependency_order(&refs, &rewrite.sub) else {
        return graph.clone();
    };
    let mut engine = Engine {
        map,
        uses: refs.uses(),
        refs,
        exp: (0..map.len()).map(|_| None).collect(),
        rewrite,
    };
    for &i in &order {
        let e = engine.expand(i);
        engine.exp[i] = Some(e);
    }
    // Rebuild the other nodes before collecting: a kept expansion is moved into the result,
    // so every use of it must have been made first.
    let mut others: Vec<Option<Node>> = (0..map.len()).map(|_| None).collect();
    for (i, slot) in others.iter_mut().enumerate() {
        if !engine.rewrite.sub[i] {
            *slot = Some(engine.expand(i).node);
        }
    }
    let (sub, keep, exp) = (&engine.rewrite.sub, &engine.rewrite.keep, &mut engine.exp);
    map.keys()
        .zip(others)
        .enumerate()
        .filter_map(|(i, (key, rebuilt))| {
            let node = match (sub[i], keep[i]) {
                (false, _) => rebuilt,
                (true, true) => exp[i].take().map(|e| e.node),
                (true, false) => None,
            };
            node.map(|n| (key.clone(), n))
        })
        .collect()
}

/// The substituted nodes, each after the substituted nodes it refers to; `None` on a cycle.
fn dependency_order(refs: &Refs, sub: &[bool]) -> Option<Vec<usize>> {
    const NEW: u8 = 0;
    const OPEN: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![NEW; sub.len()];
    let mut order = Vec::new();
    // (node, how many of its references have been looked at)
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for root in (0..sub.len()).filter(|&i| sub[i]) {
        if state[root] != NEW {
            continue;
        }
        state[root] = OPEN;
        stack.push((root, 0));
        while let Some(top) = stack.last_mut() {
            let (node, seen) = *top;
            let Some(&r) = refs.of(node).get(seen) else {
                stack.pop();
                state[node] = DONE;
                order.push(node);
                continue;
            };
            top.1 += 1;
            if r != MISSING && sub[r] {
                match state[r] {
                    NEW => {
                        state[r] = OPEN;
                        stack.push((r, 0));
                    }
                    OPEN => return None,
                    _ => {}
                }
            }
        }
    }
    Some(order)
}

/// A node's content with its references to substituted nodes replaced.
struct Expansion {
    node: Node,
    /// Nesting height of `node` read as an argument: 0 for a literal, an alias or a task
    /// without arguments, else one more than its deepest argument's height.
    height: usize,
    /// Task nodes merged into it, itself included.
    tasks: usize,
}

struct Engine<'g> {
    map: &'g NodeMap,
    refs: Refs,
    /// Occurrences of each node among all references.
    uses: Vec<u32>,
    /// Expansions of substituted nodes, until moved into their only user or the result.
    exp: Vec<Option<Expansion>>,
    rewrite: Rewrite,
}

impl Engine<'_> {
    /// The expansion of node `i`. Requires the expansions of the substituted nodes it refers to.
    fn expand(&mut self, i: usize) -> Expansion {
        let map = self.map;
        let (_, node) = map.get_index(i).expect("index in graph");
        let mut cursor = self.refs.offsets[i];
        match node {
            Node::Literal(v) => Expansion {
                node: Node::Literal(v.clone()),
                height: 0,
                tasks: 0,
            },
            Node::Alias(target) => {
                let mut tasks = 0;
                // The alias itself sits where its target's content would go: level 0.
                match self.reference(target, cursor, 0, &mut tasks) {
                    Some(e) => Expansion {
                        node: e.node,
                        height: e.height,
                        tasks,
                    },
                    None => Expansion {
                        node: Node::Alias(target.clone()),
                        height: 0,
                        tasks,
                    },
                }
            }
            Node::Task(t) => {
                let mut tasks = 1;
                let (args, height) = self.args(&t.args, 1, &mut cursor, &mut tasks);
                Expansion {
                    node: Node::Task(Task {
                        op: t.op.clone(),
                        args,
                    }),
                    height,
                    tasks,
                }
            }
        }
    }

    /// Rewrites a list of arguments found at `level` (a node's own arguments are at level 1,
    /// which is depth 0 in the plan's terms). Returns them with the height of their parent.
    fn args(
        &mut self,
        args: &[Arg],
        level: usize,
        cursor: &mut usize,
        tasks: &mut usize,
    ) -> (Vec<Arg>, usize) {
        let mut height = 0;
        let out = args
            .iter()
            .map(|a| {
                let (a, h) = self.arg(a, level, cursor, tasks);
                height = height.max(h + 1);
                a
            })
            .collect();
        (out, height)
    }

    fn arg(
        &mut self,
        arg: &Arg,
        level: usize,
        cursor: &mut usize,
        tasks: &mut usize,
    ) -> (Arg, usize) {
        match arg {
            Arg::Ref(k) => {
                let at = *cursor;
                *cursor += 1;
                match self.reference(k, at, level, tasks) {
                    Some(e) => (into_arg(e.node), e.height),
                    None => (Arg::Ref(k.clone()), 0),
                }
            }
            Arg::Lit(v) => (Arg::Lit(v.clone()), 0),
            Arg::List(items) => {
                let (items, h) = self.args(items, level + 1, cursor, tasks);
                (Arg::List(items), h)
            }
            Arg::Task(t) => {
                let (args, h) = self.args(&t.args, level + 1, cursor, tasks);
                let op = t.op.clone();
                (Arg::Task(Box::new(Task { op, args })), h)
            }
        }
    }

    /// The content to put in place of the reference `refs.targets[at]` (to `key`) found at
    /// `level`, or `None` to keep the reference.
    fn reference(
        &mut self,
        key: &Key,
        at: usize,
        level: usize,
        tasks: &mut usize,
    ) -> Option<Expansion> {
        let r = self.refs.targets[at];
        if r == MISSING || !self.rewrite.sub[r] {
            return None;
        }
        debug_assert!(
            self.exp[r].is_some(),
            "{key} used before expansion or after a move"
        );
        let e = self.exp[r].as_ref()?;
        let merged = tasks.saturating_add(e.tasks);
        if level + e.height > MAX_NESTING + 1 || merged > self.rewrite.max_tasks {
            self.rewrite.keep[r] = true;
            return None;
        }
        *tasks = merged;
        if self.uses[r] == 1 && !self.rewrite.keep[r] {
            // Its only use: move it.
            self.exp[r].take()
        } else {
            Some(Expansion {
                node: e.node.clone(),
                height: e.height,
                tasks: e.tasks,
            })
        }
    }
}

/// A node's content as an argument: a task becomes a nested task, a literal a literal
/// argument, an alias a reference.
fn into_arg(node: Node) -> Arg {
    match node {
        Node::Literal(v) => Arg::Lit(v),
        Node::Alias(k) => Arg::Ref(k),
        Node::Task(t) => Arg::Task(Box::new(t)),
    }
}
