//! Graphs: the dask specification, typed.
//!
//! A [`Graph`] maps [`Key`]s to [`Node`]s: a literal value, an alias of another key, or a
//! [`Task`] (an [`Op`] plus [`Arg`]s). Graphs are plain data: build them with
//! [`GraphBuilder`] (which rejects duplicate keys) or [`Graph::insert`] (which replaces, like a
//! dict), rewrite them with the pure functions of [`optimize`], and hand them to an
//! executor. A `Graph` clones in O(1) (its map is shared and copied on write).
//!
//! Each key gets a dense id, its insertion position, when it is inserted, and a key is found
//! without hashing its tuple: a block key `("x", i, j)` through its name and a dense grid of
//! ids (other keys through a hash of the whole key). [`GraphBuilder::build`] resolves every
//! reference to the id of its key once, so planning a graph, however often, looks no key up
//! (a graph changed through [`Graph::insert`] resolves its references again on its next
//! plan). Build keys of one collection from one shared name ([`Key::block`]) and they are
//! found without hashing the name either.

mod map;
mod op;
pub mod optimize;

pub use op::{Op, PayloadType, TypedFn};

use crate::error::{Error, Result};
use crate::key::Key;
use crate::value::Value;
use indexmap::IndexMap;
use rustc_hash::{FxBuildHasher, FxHashSet};
use std::sync::Arc;

/// Limit on the nesting of lists and nested tasks inside one argument, so that evaluation
/// (which recurses over the argument tree) has a bounded stack depth. Planning a deeper
/// graph is a [`TooLarge`](crate::ErrorKind::TooLarge) error.
pub const MAX_NESTING: usize = 256;

/// An argument of a task.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    /// The value of another key (aliases are followed).
    Ref(Key),
    /// A literal value.
    Lit(Value),
    /// A list of arguments; it reaches the op as a [`Value::List`], with nested lists
    /// resolved recursively.
    List(Vec<Arg>),
    /// A task evaluated in place, its result passed as the argument; it has no key of its own.
    Task(Box<Task>),
}

impl Arg {
    /// A reference to a key.
    pub fn key(k: impl Into<Key>) -> Arg {
        Arg::Ref(k.into())
    }
    /// A literal argument.
    pub fn lit(v: impl Into<Value>) -> Arg {
        Arg::Lit(v.into())
    }
    /// A list argument.
    pub fn list(items: impl IntoIterator<Item = Arg>) -> Arg {
        Arg::List(items.into_iter().collect())
    }
    /// A nested task argument.
    pub fn task(op: &Op, args: impl IntoIterator<Item = Arg>) -> Arg {
        Arg::Task(Box::new(Task::new(op, args)))
    }

    /// Calls `f` on every key this argument refers to, in argument order. Walks the
    /// argument tree with a stack of its own, so any depth is fine.
    pub fn for_each_ref(&self, f: &mut impl FnMut(&Key)) {
        Arg::walk_refs(std::slice::from_ref(self), f);
    }

    /// [`Arg::for_each_ref`] over a sequence of arguments.
    fn walk_refs(args: &[Arg], f: &mut impl FnMut(&Key)) {
        let mut stack: Vec<std::slice::Iter<'_, Arg>> = vec![args.iter()];
        while let Some(top) = stack.last_mut() {
            match top.next() {
                None => {
                    stack.pop();
                }
                Some(Arg::Ref(k)) => f(k),
                Some(Arg::Lit(_)) => {}
                Some(Arg::List(items)) => stack.push(items.iter()),
                Some(Arg::Task(t)) => stack.push(t.args.iter()),
            }
        }
    }

    /// How deeply lists and nested tasks nest in this argument (0 for a reference or a
    /// literal), measured without recursion.
    pub(crate) fn nesting(&self) -> usize {
        let mut deepest = 0;
        let mut stack: Vec<std::slice::Iter<'_, Arg>> = Vec::new();
        fn children(a: &Arg) -> Option<std::slice::Iter<'_, Arg>> {
            match a {
                Arg::List(items) => Some(items.iter()),
                Arg::Task(t) => Some(t.args.iter()),
                _ => None,
            }
        }
        stack.extend(children(self));
        while let Some(top) = stack.last_mut() {
            match top.next() {
                None => {
                    stack.pop();
                }
                Some(a) => {
                    // `a` sits `stack.len()` levels down.
                    deepest = deepest.max(stack.len());
                    stack.extend(children(a));
                }
            }
        }
        deepest
    }
}

/// A task: an operation and its arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    /// What to run.
    pub op: Op,
    /// What to pass it, in order.
    pub args: Vec<Arg>,
}

impl Task {
    /// A task from an op and arguments.
    pub fn new(op: &Op, args: impl IntoIterator<Item = Arg>) -> Task {
        Task {
            op: op.clone(),
            args: args.into_iter().collect(),
        }
    }
}

/// What a key maps to.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// A constant value.
    Literal(Value),
    /// Another key's value (followed at planning time).
    Alias(Key),
    /// A computation.
    Task(Task),
}

impl Node {
    /// Calls `f` on every key this node depends on directly (duplicates included).
    pub fn for_each_ref(&self, mut f: impl FnMut(&Key)) {
        match self {
            Node::Literal(_) => {}
            Node::Alias(k) => f(k),
            Node::Task(t) => Arg::walk_refs(&t.args, &mut f),
        }
    }

    /// The distinct keys this node depends on directly, in first-use order.
    ///
    /// Linear in the number of references: a few are de-duplicated by scanning, more through
    /// a hash set.
    pub fn dependencies(&self) -> Vec<Key> {
        /// References beyond which a hash set is cheaper than scanning.
        const SCAN: usize = 16;
        let mut out: Vec<Key> = Vec::new();
        let mut seen: FxHashSet<Key> = FxHashSet::default();
        self.for_each_ref(|k| {
            if out.len() < SCAN {
                if !out.contains(k) {
                    out.push(k.clone());
                }
                return;
            }
            if seen.is_empty() {
                seen.extend(out.iter().cloned());
            }
            if seen.insert(k.clone()) {
                out.push(k.clone());
            }
        });
        out
    }
}

pub(crate) use map::{KIND_ALIAS, KIND_NESTED, KIND_TOO_DEEP, MISSING, NodeMap, Resolved};

/// A task graph: keys mapped to nodes, in insertion order.
///
/// ```
/// use blockwork::{Arg, Executor, Graph, Node, Op, Sequential, Value};
/// let inc = Op::typed("inc", |x: i64| x + 1);
/// let add = Op::typed("add", |a: i64, b: i64| a + b);
/// let mut g = Graph::new();
/// g.insert("x", Node::Literal(Value::Int(1)));
/// g.insert("y", Node::Task(blockwork::Task::new(&inc, [Arg::key("x")])));
/// g.insert("z", Node::Task(blockwork::Task::new(&add, [Arg::key("y"), Arg::lit(10)])));
/// assert_eq!(Sequential::new().get(&g, "z").unwrap(), Value::Int(12));
/// ```
#[derive(Clone, Default)]
pub struct Graph {
    nodes: Arc<NodeMap>,
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Graph {
        Graph::default()
    }

    /// An empty graph with room for `n` nodes.
    pub fn with_capacity(n: usize) -> Graph {
        Graph {
            nodes: Arc::new(NodeMap::with_capacity(n)),
        }
    }

    /// Sets `key` to `node`, returning the node it replaces (dict semantics).
    pub fn insert(&mut self, key: impl Into<Key>, node: Node) -> Option<Node> {
        Arc::make_mut(&mut self.nodes).insert(key.into(), node)
    }

    /// Removes a key, returning its node. Keeps the order of the others.
    pub fn remove(&mut self, key: &Key) -> Option<Node> {
        Arc::make_mut(&mut self.nodes).shift_remove(key)
    }

    /// The node under `key`.
    pub fn get(&self, key: &Key) -> Option<&Node> {
        self.nodes.get(key)
    }

    /// Whether `key` is in the graph.
    pub fn contains(&self, key: &Key) -> bool {
        self.nodes.contains_key(key)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the graph has no keys.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Keys and nodes in insertion order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Key, &Node)> {
        self.nodes.iter()
    }

    /// Keys in insertion order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &Key> {
        self.nodes.keys()
    }

    /// Adds every node of `other`.
    ///
    /// A key that both graphs define must be defined identically in both (the same literal,
    /// the same alias, or a task with the same [`Op`] and the same arguments); otherwise the
    /// merge is a [`DuplicateKey`](crate::ErrorKind::DuplicateKey) error and `self` is left
    /// as it was. Merging a graph into itself, or merging one graph twice, is cheap: maps
    /// that are the same allocation are not compared.
    ///
    /// ```
    /// use blockwork::{ErrorKind, Graph, Node, Value};
    /// let mut a = Graph::new();
    /// a.insert("x", Node::Literal(Value::Int(1)));
    /// let same = a.clone();
    /// a.merge(&same)?;
    /// let mut b = Graph::new();
    /// b.insert("x", Node::Literal(Value::Int(2)));
    /// assert_eq!(a.merge(&b).unwrap_err().kind(), ErrorKind::DuplicateKey);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn merge(&mut self, other: &Graph) -> Result<()> {
        if Arc::ptr_eq(&self.nodes, &other.nodes) || other.is_empty() {
            return Ok(());
        }
        if self.is_empty() {
            self.nodes = other.nodes.clone();
            return Ok(());
        }
        // Check first, so that a failed merge changes nothing.
        for (k, n) in other.iter() {
            if let Some(mine) = self.nodes.get(k)
                && mine != n
            {
                return Err(Error::new(
                    crate::ErrorKind::DuplicateKey,
                    format!("key {k} is defined differently in the two merged graphs"),
                ));
            }
        }
        let map = Arc::make_mut(&mut self.nodes);
        map.reserve(other.len());
        for (k, n) in other.iter() {
            if !map.contains_key(k) {
                map.insert(k.clone(), n.clone());
            }
        }
        Ok(())
    }

    /// Adds every node of `other`, replacing nodes with the same key, without comparing
    /// them: for graphs whose keys name their computation (a key built from a token of the
    /// function and its inputs), where one key cannot mean two things.
    pub(crate) fn merge_same_named(&mut self, other: &Graph) {
        if Arc::ptr_eq(&self.nodes, &other.nodes) {
            return;
        }
        if self.is_empty() {
            self.nodes = other.nodes.clone();
            return;
        }
        let map = Arc::make_mut(&mut self.nodes);
        for (k, n) in other.iter() {
            map.insert(k.clone(), n.clone());
        }
    }

    pub(crate) fn map(&self) -> &NodeMap {
        &self.nodes
    }

    /// For each key, the keys that depend on it directly (dask's `get_dependents`).
    pub fn dependents(&self) -> IndexMap<Key, Vec<Key>, FxBuildHasher> {
        let mut out: IndexMap<Key, Vec<Key>, FxBuildHasher> =
            self.keys().map(|k| (k.clone(), Vec::new())).collect();
        for (k, node) in self.iter() {
            for d in node.dependencies() {
                if let Some(v) = out.get_mut(&d) {
                    v.push(k.clone());
                }
            }
        }
        out
    }
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.nodes.iter()).finish()
    }
}

impl PartialEq for Graph {
    fn eq(&self, other: &Graph) -> bool {
        self.len() == other.len() && self.iter().all(|(k, n)| other.get(k) == Some(n))
    }
}

impl FromIterator<(Key, Node)> for Graph {
    fn from_iter<I: IntoIterator<Item = (Key, Node)>>(iter: I) -> Graph {
        Graph {
            nodes: Arc::new(iter.into_iter().collect()),
        }
    }
}

/// Builds a [`Graph`], rejecting duplicate keys.
///
/// ```
/// use blockwork::{Arg, ErrorKind, Executor, GraphBuilder, Op, Sequential, Value};
/// let inc = Op::typed("inc", |x: i64| x + 1);
/// let add = Op::typed("add", |a: i64, b: i64| a + b);
/// let mut b = GraphBuilder::new();
/// b.literal("x", 1)?;
/// b.task("y", &inc, [Arg::key("x")])?;
/// b.task("z", &add, [Arg::key("y"), Arg::lit(10)])?;
/// assert_eq!(b.literal("x", 2).unwrap_err().kind(), ErrorKind::DuplicateKey);
/// let g = b.build();
/// assert_eq!(Sequential::new().get(&g, "z")?, Value::Int(12));
/// # Ok::<(), blockwork::Error>(())
/// ```
#[derive(Default, Debug)]
pub struct GraphBuilder {
    nodes: NodeMap,
}

impl GraphBuilder {
    /// An empty builder.
    pub fn new() -> GraphBuilder {
        GraphBuilder::default()
    }

    /// An empty builder with room for `n` nodes.
    pub fn with_capacity(n: usize) -> GraphBuilder {
        GraphBuilder {
            nodes: NodeMap::with_capacity(n),
        }
    }

    /// Adds a node; a key already present is a [`DuplicateKey`](crate::ErrorKind::DuplicateKey) error.
    pub fn node(&mut self, key: impl Into<Key>, node: Node) -> Result<&mut Self> {
        match self.nodes.insert_new(key.into(), node) {
            Ok(_) => Ok(self),
            Err((key, _)) if self.nodes.get_index_of(&key).is_some() => {
                Err(Error::DuplicateKey { key })
            }
            Err(_) => Err(Error::new(
                crate::ErrorKind::TooLarge,
                "a graph holds at most u32::MAX - 1 keys",
            )),
        }
    }

    /// Adds a literal.
    pub fn literal(&mut self, key: impl Into<Key>, v: impl Into<Value>) -> Result<&mut Self> {
        self.node(key, Node::Literal(v.into()))
    }

    /// Adds an alias of `target`.
    pub fn alias(&mut self, key: impl Into<Key>, target: impl Into<Key>) -> Result<&mut Self> {
        self.node(key, Node::Alias(target.into()))
    }

    /// Adds a task.
    pub fn task(
        &mut self,
        key: impl Into<Key>,
        op: &Op,
        args: impl IntoIterator<Item = Arg>,
    ) -> Result<&mut Self> {
        self.node(key, Node::Task(Task::new(op, args)))
    }

    /// Number of nodes so far.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether nothing was added yet.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Freezes into a graph, resolving every reference to the id of its key once, so that
    /// planning the graph (as many times as it is run) looks no key up.
    pub fn build(self) -> Graph {
        self.nodes.resolved();
        Graph {
            nodes: Arc::new(self.nodes),
        }
    }
}
