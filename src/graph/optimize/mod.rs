//! Rewrites: pure functions from a graph to a graph, after `dask.optimization`.
//!
//! | rewrite | what it does |
//! |---|---|
//! | [`cull`] | keeps only the requested keys and what they need |
//! | [`inline`] | puts the content of chosen keys (and optionally of constants) into the nodes that use them |
//! | [`inline_functions`] | inlines cheap tasks into their users and drops them |
//! | [`fuse`] | merges linear chains of tasks into one task under the chain's last key |
//! | [`dealias`] | points references past aliases and drops the aliases |
//!
//! Common rules:
//!
//! - **Pure.** Each takes `&Graph` and returns a new [`Graph`]; the input is never changed
//!   (a graph clones in O(1) and copies on write, so a rewrite with nothing to do is free).
//! - **Order.** Surviving keys keep their relative insertion order.
//! - **Nesting.** Content put in place of a reference becomes a nested [`Arg::Task`],
//!   [`Arg::Lit`] or [`Arg::Ref`]. No rewrite nests arguments deeper than
//!   [`crate::graph::MAX_NESTING`]: where inlining one more level would, the
//!   reference stays and the key it names stays in the graph. A rewritten graph therefore
//!   plans whenever the original does, and evaluating it recurses no deeper.
//! - **Bad input.** [`cull`] returns a typed error for a missing key. The other rewrites
//!   return a graph: references to missing keys stay as they are, requested keys that are not
//!   in the graph are ignored, and a cycle through the keys a rewrite would substitute leaves
//!   the graph unchanged (where dask raises), so that [`Plan::new`](crate::Plan::new) reports
//!   the cycle when the graph is run.
//! - **Cost.** [`cull`], [`fuse`] and [`dealias`] run in time and space linear in the size of
//!   the graph; nothing recurses along a chain, so a chain of millions of tasks is fine.
//!   [`inline`] and [`inline_functions`] copy an inlined expansion into each of its uses, as
//!   dask does (an expansion with a single use that is dropped is moved instead).
//!
//! ```
//! use blockwork::graph::optimize::{cull, fuse};
//! use blockwork::{Arg, Executor, GraphBuilder, Key, Op, Sequential, Value};
//! let inc = Op::typed("inc", |x: i64| x + 1);
//! let mut b = GraphBuilder::new();
//! b.literal("a", 1)?.task("b", &inc, [Arg::key("a")])?.task("c", &inc, [Arg::key("b")])?;
//! b.task("unused", &inc, [Arg::key("a")])?;
//! let keys = [Key::from("c")];
//! let g = fuse(&cull(&b.build(), &keys)?, &keys);
//! assert_eq!(g.len(), 1); // c = inc(inc(1))
//! assert_eq!(Sequential::new().get(&g, "c")?, Value::Int(3));
//! # Ok::<(), blockwork::Error>(())
//! ```

mod subst;

use super::{Arg, Graph, Node, Op};
use crate::error::{Error, Result};
use crate::graph::MAX_NESTING;
use crate::key::Key;
use subst::{MISSING, Refs, Rewrite};

/// The most tasks [`fuse`] merges into one task.
///
/// A fused task holds its chain as nested tasks, and evaluating it recurses once per link, so
/// chains are cut into segments of at most this many tasks, each kept under the key of its
/// most downstream task. Half of [`MAX_NESTING`] leaves room for arguments that the links
/// already nest.
pub const MAX_FUSED_CHAIN: usize = MAX_NESTING / 2;

/// Keeps only `keys` and everything they depend on (dask's `cull`).
///
/// Dependencies are followed through references in any nested argument (lists and nested
/// tasks) and through aliases. Surviving keys keep their order; when everything survives the
/// result shares the input's storage.
///
/// Errors: a requested key that is not in the graph, or a reference from a kept node to a
/// missing key, is a [`MissingKey`](crate::ErrorKind::MissingKey) error (naming the node that
/// refers to it). Cycles are not an error here: they are kept, and reported when the graph is
/// planned.
///
/// ```
/// use blockwork::graph::optimize::cull;
/// use blockwork::{Arg, ErrorKind, GraphBuilder, Key, Op};
/// let inc = Op::typed("inc", |x: i64| x + 1);
/// let mut b = GraphBuilder::new();
/// b.literal("x", 1)?.alias("y", "x")?.task("z", &inc, [Arg::list([Arg::key("y")])])?;
/// b.task("other", &inc, [Arg::key("x")])?;
/// let g = cull(&b.build(), &[Key::from("z")])?;
/// let keys: Vec<String> = g.keys().map(|k| k.to_string()).collect();
/// assert_eq!(keys, ["x", "y", "z"]);
/// assert_eq!(cull(&g, &[Key::from("nope")]).unwrap_err().kind(), ErrorKind::MissingKey);
/// # Ok::<(), blockwork::Error>(())
/// ```
pub fn cull(graph: &Graph, keys: &[Key]) -> Result<Graph> {
    let map = graph.map();
    let mut needed = vec![false; map.len()];
    let mut stack = Vec::new();
    for key in keys {
        let i = map.get_index_of(key).ok_or_else(|| Error::MissingKey {
            key: key.clone(),
            referrer: None,
        })?;
        if !std::mem::replace(&mut needed[i], true) {
            stack.push(i);
        }
    }
    let mut count = stack.len();
    while let Some(i) = stack.pop() {
        let (key, node) = map.get_index(i).expect("index in graph");
        let mut missing = None;
        node.for_each_ref(|r| match map.get_index_of(r) {
            Some(j) => {
                if !std::mem::replace(&mut needed[j], true) {
                    stack.push(j);
                    count += 1;
                }
            }
            None => {
                missing.get_or_insert_with(|| r.clone());
            }
        });
        if let Some(missing) = missing {
            return Err(Error::MissingKey {
                key: missing,
                referrer: Some(key.clone()),
            });
        }
    }
    if count == map.len() {
        return Ok(graph.clone());
    }
    Ok(map
        .iter()
        .zip(&needed)
        .filter(|(_, keep)| **keep)
        .map(|((k, n), _)| (k.clone(), n.clone()))
        .collect())
}

/// Puts the content of `keys` in place of every reference to them (dask's `inline`).
///
/// A task becomes a nested [`Arg::Task`], a literal an [`Arg::Lit`], an alias a reference to
/// its target (itself replaced if the target is inlined too). With `inline_constants`, every
/// literal and alias node is inlined as well. As in dask, the inlined keys stay in the graph,
/// holding their own rewritten content; [`cull`] removes those no longer needed. Keys not in
/// the graph are ignored; a cycle among the inlined keys, or among them and the constants,
/// leaves the graph unchanged. See the [module docs](self) for the nesting limit.
///
/// ```
/// use blockwork::graph::optimize::inline;
/// use blockwork::{Arg, GraphBuilder, Key, Node, Op, Task};
/// let inc = Op::typed("inc", |x: i64| x + 1);
/// let add = Op::typed("add", |a: i64, b: i64| a + b);
/// let mut b = GraphBuilder::new();
/// b.literal("x", 1)?.task("y", &inc, [Arg::key("x")])?;
/// b.task("z", &add, [Arg::key("x"), Arg::key("y")])?;
/// let g = b.build();
///
/// // Constants only: {x: 1, y: inc(1), z: add(1, y)}
/// let c = inline(&g, &[], true);
/// let z = Task::new(&add, [Arg::lit(1), Arg::key("y")]);
/// assert_eq!(c.get(&Key::from("z")), Some(&Node::Task(z)));
///
/// // y as well: z = add(1, inc(1)), and y stays.
/// let y = inline(&g, &[Key::from("y")], true);
/// let z = Task::new(&add, [Arg::lit(1), Arg::task(&inc, [Arg::lit(1)])]);
/// assert_eq!(y.get(&Key::from("z")), Some(&Node::Task(z)));
/// assert_eq!(y.len(), 3);
///
/// // y without constants: z = add(x, inc(x)).
/// let n = inline(&g, &[Key::from("y")], false);
/// let z = Task::new(&add, [Arg::key("x"), Arg::task(&inc, [Arg::key("x")])]);
/// assert_eq!(n.get(&Key::from("z")), Some(&Node::Task(z)));
/// # Ok::<(), blockwork::Error>(())
/// ```
pub fn inline(graph: &Graph, keys: &[Key], inline_constants: bool) -> Graph {
    let map = graph.map();
    let mut sub = vec![false; map.len()];
    for key in keys {
        if let Some(i) = map.get_index_of(key) {
            sub[i] = true;
        }
    }
    if inline_constants {
        mark_constants(graph, &mut sub);
    }
    let keep = vec![true; map.len()];
    subst::apply(graph, rewrite(sub, keep, usize::MAX), None)
}

fn mark_constants(graph: &Graph, sub: &mut [bool]) {
    for (s, (_, node)) in sub.iter_mut().zip(graph.iter()) {
        if matches!(node, Node::Literal(_) | Node::Alias(_)) {
            *s = true;
        }
    }
}

fn rewrite(sub: Vec<bool>, keep: Vec<bool>, max_tasks: usize) -> Rewrite {
    Rewrite {
        sub,
        keep,
        max_tasks,
    }
}

/// Names an op for [`inline_functions`]: an [`Op`] (the same op, as [`Op::same`]), or an op
/// name (`&str`, `String`), which matches every op of that name.
pub trait OpMatch {
    /// Whether `op` is the one named.
    fn matches(&self, op: &Op) -> bool;
}

impl OpMatch for Op {
    fn matches(&self, op: &Op) -> bool {
        self.same(op)
    }
}

impl OpMatch for str {
    fn matches(&self, op: &Op) -> bool {
        self == op.name()
    }
}

impl OpMatch for String {
    fn matches(&self, op: &Op) -> bool {
        self.as_str() == op.name()
    }
}

impl<T: OpMatch + ?Sized> OpMatch for &T {
    fn matches(&self, op: &Op) -> bool {
        (**self).matches(op)
    }
}

/// Inlines cheap tasks into the tasks that use them and drops them (dask's
/// `inline_functions`).
///
/// A task is inlined when every op in it (nested tasks included) matches one of `fast_ops`,
/// some node refers to it, and it is not one of `output_keys`. Its uses get its content as a
/// nested task and the task itself is removed, unless a use had to keep the reference
/// because of the nesting limit (see the [module docs](self)); then it stays. With
/// `inline_constants`, literals and aliases are inlined too, and stay in the graph as in
/// [`inline`]. No `fast_ops` means no change. A cycle among the inlined keys leaves the graph
/// unchanged.
///
/// ```
/// use blockwork::graph::optimize::inline_functions;
/// use blockwork::{Arg, Executor, GraphBuilder, Key, Node, Op, Sequential, Task, Value};
/// let inc = Op::typed("inc", |x: i64| x + 1);
/// let double = Op::typed("double", |x: i64| 2 * x);
/// let add = Op::typed("add", |a: i64, b: i64| a + b);
/// let mut b = GraphBuilder::new();
/// b.task("out", &add, [Arg::key("i"), Arg::key("d")])?;
/// b.task("i", &inc, [Arg::key("x")])?.task("d", &double, [Arg::key("y")])?;
/// b.literal("x", 1)?.literal("y", 1)?;
/// let g = b.build();
/// let out = [Key::from("out")];
///
/// let f = inline_functions(&g, &out, &[&inc], false);
/// let want = Task::new(&add, [Arg::task(&inc, [Arg::key("x")]), Arg::key("d")]);
/// assert_eq!(f.get(&out[0]), Some(&Node::Task(want)));
/// assert!(!f.contains(&Key::from("i")));
/// assert_eq!(Sequential::new().get(&f, "out")?, Value::Int(4));
///
/// // Ops can also be named.
/// assert_eq!(inline_functions(&g, &out, &["inc"], false), f);
/// # Ok::<(), blockwork::Error>(())
/// ```
pub fn inline_functions<M: OpMatch>(
    graph: &Graph,
    output_keys: &[Key],
    fast_ops: &[M],
    inline_constants: bool,
) -> Graph {
    if fast_ops.is_empty() {
        return graph.clone();
    }
    let map = graph.map();
    let refs = Refs::new(map);
    let uses = refs.uses();
    let mut sub = vec![false; map.len()];
    for (i, (_, node)) in graph.iter().enumerate() {
        if let Node::Task(t) = node {
            let fast = |op: &Op| fast_ops.iter().any(|m| m.matches(op));
            sub[i] = uses[i] > 0 && fast(&t.op) && t.args.iter().all(|a| all_ops(a, &fast));
        }
    }
    for key in output_keys {
        if let Some(i) = map.get_index_of(key) {
            sub[i] = false;
        }
    }
    let mut keep = vec![false; map.len()];
    if inline_constants {
        mark_constants(graph, &mut keep);
        for (s, k) in sub.iter_mut().zip(&keep) {
            *s |= *k;
        }
    }
    subst::apply(graph, rewrite(sub, keep, usize::MAX), Some(refs))
}

/// Whether `pred` holds for every op of the nested tasks in `arg`.
fn all_ops(arg: &Arg, pred: &impl Fn(&Op) -> bool) -> bool {
    match arg {
        Arg::Ref(_) | Arg::Lit(_) => true,
        Arg::List(items) => items.iter().all(|a| all_ops(a, pred)),
        Arg::Task(t) => pred(&t.op) && t.args.iter().all(|a| all_ops(a, pred)),
    }
}

/// Merges linear chains into single tasks (dask's `fuse` without renaming).
///
/// A node is merged into its user when that user is the only node referring to it, refers to
/// it exactly once (a literal may be referred to several times), and refers to nothing else;
/// the user keeps its key and holds the merged node as a nested task (a literal as a literal
/// argument). Requested `keys` are never merged away or renamed; they may absorb the chain
/// above them. Chains are cut into segments of at most [`MAX_FUSED_CHAIN`] tasks, and the
/// nesting limit of the [module docs](self) holds. A cycle through mergeable nodes leaves the
/// graph unchanged.
///
/// Requested keys that are not in the graph are ignored; a node referring to a missing key is
/// never merged into.
///
/// ```
/// use blockwork::graph::optimize::fuse;
/// use blockwork::{Arg, GraphBuilder, Key, Node, Op, Task};
/// let inc = Op::typed("inc", |x: i64| x + 1);
/// let mut b = GraphBuilder::new();
/// b.literal("a", 1)?.task("b", &inc, [Arg::key("a")])?.task("c", &inc, [Arg::key("b")])?;
/// let g = b.build();
///
/// let f = fuse(&g, &[Key::from("c")]);
/// let c = Task::new(&inc, [Arg::task(&inc, [Arg::lit(1)])]);
/// assert_eq!(f.len(), 1);
/// assert_eq!(f.get(&Key::from("c")), Some(&Node::Task(c)));
///
/// // "b" requested: it stays, and only the chain above it is merged into it.
/// let f = fuse(&g, &[Key::from("b"), Key::from("c")]);
/// assert_eq!(f.get(&Key::from("b")), Some(&Node::Task(Task::new(&inc, [Arg::lit(1)]))));
/// assert_eq!(f.get(&Key::from("c")), Some(&Node::Task(Task::new(&inc, [Arg::key("b")]))));
/// # Ok::<(), blockwork::Error>(())
/// ```
pub fn fuse(graph: &Graph, keys: &[Key]) -> Graph {
    let map = graph.map();
    let n = map.len();
    let refs = Refs::new(map);
    let uses = refs.uses();
    // The only distinct dependency of each node, if it has exactly one and it exists.
    let only_dep = |p: usize| -> Option<usize> {
        let r = refs.of(p);
        let first = *r.first()?;
        (first != MISSING && first != p && r.iter().all(|&x| x == first)).then_some(first)
    };
    // Distinct dependents of each node (saturating at 2), and the last one seen.
    let mut dependents = vec![0u8; n];
    let mut user = vec![usize::MAX; n];
    let mut scratch = Vec::new();
    for p in 0..n {
        scratch.clear();
        scratch.extend(refs.of(p).iter().copied().filter(|&c| c != MISSING));
        scratch.sort_unstable();
        scratch.dedup();
        for &c in &scratch {
            dependents[c] = dependents[c].saturating_add(1);
            user[c] = p;
        }
    }
    let mut sub: Vec<bool> = (0..n)
        .map(|c| {
            let literal = matches!(map.get_index(c), Some((_, Node::Literal(_))));
            dependents[c] == 1 && only_dep(user[c]) == Some(c) && (uses[c] == 1 || literal)
        })
        .collect();
    for key in keys {
        if let Some(i) = map.get_index_of(key) {
            sub[i] = false;
        }
    }
    let keep = vec![false; n];
    subst::apply(graph, rewrite(sub, keep, MAX_FUSED_CHAIN), Some(refs))
}

/// Points every reference to an alias at the alias's ultimate target and removes the alias
/// nodes, except requested `keys`, which stay as aliases of their ultimate target (dask's
/// `dealias`).
///
/// An alias chain ending at a missing key leaves references to that missing key. A cycle of
/// aliases leaves the graph unchanged.
///
/// ```
/// use blockwork::graph::optimize::dealias;
/// use blockwork::{Arg, GraphBuilder, Key, Node, Op, Task};
/// let range = Op::typed("range", |n: i64| (0..n).collect::<Vec<i64>>());
/// let sum = Op::typed("sum", |v: Vec<i64>| v.iter().sum::<i64>());
/// let inc = Op::typed("inc", |x: i64| x + 1);
/// let mut b = GraphBuilder::new();
/// b.task("a", &range, [Arg::lit(5)])?.alias("b", "a")?.alias("c", "b")?;
/// b.task("d", &sum, [Arg::key("c")])?.alias("e", "d")?.task("f", &inc, [Arg::key("e")])?;
/// let g = dealias(&b.build(), &[Key::from("c")]);
/// let keys: Vec<String> = g.keys().map(|k| k.to_string()).collect();
/// assert_eq!(keys, ["a", "c", "d", "f"]);
/// assert_eq!(g.get(&Key::from("c")), Some(&Node::Alias(Key::from("a"))));
/// assert_eq!(g.get(&Key::from("d")), Some(&Node::Task(Task::new(&sum, [Arg::key("a")]))));
/// assert_eq!(g.get(&Key::from("f")), Some(&Node::Task(Task::new(&inc, [Arg::key("d")]))));
/// # Ok::<(), blockwork::Error>(())
/// ```
pub fn dealias(graph: &Graph, keys: &[Key]) -> Graph {
    let map = graph.map();
    let sub: Vec<bool> = graph
        .iter()
        .map(|(_, node)| matches!(node, Node::Alias(_)))
        .collect();
    let mut keep = vec![false; map.len()];
    for key in keys {
        if let Some(i) = map.get_index_of(key) {
            keep[i] = true;
        }
    }
    subst::apply(graph, rewrite(sub, keep, usize::MAX), None)
}
