//! Interning: graph -> plan.

use super::{Countdown, EncodedArg, LITERAL, MAX_NESTING, Plan, Row, TaskId};
use crate::error::{Error, ErrorKind, Result};
use crate::graph::Op;
use crate::graph::{
    Arg, Graph, KIND_ALIAS, KIND_NESTED, KIND_TOO_DEEP, MISSING, Node, NodeMap, Resolved,
};
use crate::key::Key;
use rustc_hash::FxHashMap;

/// `tid` marks for graph nodes not yet assigned a task id.
const UNSEEN: u32 = u32::MAX;
/// `tid` mark for a node on the DFS stack (seeing it again means a cycle).
const ON_STACK: u32 = u32::MAX - 1;
/// Largest number of tasks or arguments a plan holds (ids and offsets are `u32`).
const MAX_ITEMS: usize = (u32::MAX - 2) as usize;

/// One node being visited: its resolved references are `refs[start..end]`, and `next` is
/// the first one whose subtree has not been entered yet.
struct Frame {
    node: u32,
    start: u32,
    next: u32,
}

impl Plan {
    /// Interns the part of `graph` that `outputs` need.
    ///
    /// Errors: a missing key ([`MissingKey`](ErrorKind::MissingKey), naming the key and the
    /// node that refers to it), a cycle ([`Cycle`](ErrorKind::Cycle), naming its keys),
    /// arguments nested deeper than [`MAX_NESTING`] or more than `u32::MAX - 2` tasks or
    /// arguments ([`TooLarge`](ErrorKind::TooLarge)).
    pub fn new(graph: &Graph, outputs: &[Key]) -> Result<Plan> {
        Builder::new(graph).build(outputs)
    }

    /// A plan of `outputs` in which the literal nodes named by `inputs` are *inputs*: their
    /// values (the graph holds placeholders) are delivered while a run goes on, through
    /// [`Pool::run_fed`](crate::Pool::run_fed), and the tasks that read them wait for them.
    /// Inputs that `outputs` do not need are left out of the plan. Such a plan runs only
    /// through `run_fed`: the executors' `run` refuses it.
    ///
    /// Errors: those of [`Plan::new`]; a key in `inputs` that is not a literal node of
    /// `graph` is an [`InvalidArgument`](ErrorKind::InvalidArgument) error.
    ///
    /// ```
    /// use blockwork::{Arg, GraphBuilder, Key, Op, Plan, Value};
    /// let add = Op::typed("add", |a: i64, b: i64| a + b);
    /// let mut b = GraphBuilder::new();
    /// b.literal("x", Value::Unit)?.literal("one", 1)?;
    /// b.task("y", &add, [Arg::key("x"), Arg::key("one")])?;
    /// let plan = Plan::with_inputs(&b.build(), &[Key::from("y")], &[Key::from("x")])?;
    /// assert_eq!(plan.inputs().len(), 1);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn with_inputs(graph: &Graph, outputs: &[Key], inputs: &[Key]) -> Result<Plan> {
        let mut plan = Plan::new(graph, outputs)?;
        if inputs.is_empty() {
            return Ok(plan);
        }
        let map = graph.map();
        let mut is_input = vec![false; map.len()];
        for k in inputs {
            match map.get_index_of(k) {
                Some(i) if matches!(map.get_index(i), Some((_, Node::Literal(_)))) => {
                    is_input[i] = true;
                }
                _ => {
                    return Err(Error::new(
                        ErrorKind::InvalidArgument,
                        format!("input {k} is not a literal node of the graph"),
                    ));
                }
            }
        }
        plan.inputs = (0..plan.len() as u32)
            .map(TaskId)
            .filter(|&t| {
                plan.rows[t.index()].op == LITERAL && is_input[plan.node[t.index()] as usize]
            })
            .collect();
        plan.count_starts();
        Ok(plan)
    }

    /// From the dependencies, users and inputs: the literal nodes written at the start,
    /// the readiness countdowns' starts, the tasks a pool run starts from and the
    /// countdown mode of every edge.
    fn count_starts(&mut self) {
        let n = self.len();
        let mut input = vec![false; n];
        for &t in &self.inputs {
            input[t.index()] = true;
        }
        self.literal_tasks = (0..n as u32)
            .filter(|&t| self.rows[t as usize].op == LITERAL && !input[t as usize])
            .map(TaskId)
            .collect();
        self.start_deps = Vec::new();
        self.start_roots = Vec::new();
        if !self.literal_tasks.is_empty() || !self.inputs.is_empty() {
            // Literal nodes never finish in the pool (they are written when a run starts):
            // their users count down only their other dependencies. Inputs finish when
            // they are delivered, so their users count them.
            let mut start = self.n_deps.clone();
            for &l in &self.literal_tasks {
                for u in self.users(l) {
                    start[u.index()] -= 1;
                }
            }
            self.start_roots = (0..n as u32)
                .filter(|&t| start[t as usize] == 0 && self.rows[t as usize].op != LITERAL)
                .map(TaskId)
                .collect();
            if start != self.n_deps {
                self.start_deps = start;
            }
        }
        let start = if self.start_deps.is_empty() {
            &self.n_deps
        } else {
            &self.start_deps
        };
        self.user_modes = self
            .users
            .iter()
            .map(|u| Countdown::of(start[u.index()]))
            .collect();
        self.dep_modes = self
            .deps
            .iter()
            .map(|d| Countdown::of(self.n_users[d.index()]))
            .collect();
    }
}

struct Builder<'g> {
    map: &'g NodeMap,
    /// Every node's references as graph indices (resolved once per graph).
    resolved: &'g Resolved,
    /// Graph node -> task id, or UNSEEN / ON_STACK.
    tid: Vec<u32>,
    /// Resolved references (graph indices) of the nodes on the stack, in argument order.
    refs: Vec<u32>,
    stack: Vec<Frame>,
    plan: Plan,
    /// Alias node -> the non-alias node it resolves to (UNSEEN until resolved once), so that
    /// each alias chain is followed once however many keys go through it.
    alias_target: Vec<u32>,
    /// Encoded length of the arguments of each task with list or nested-task arguments, by
    /// graph index (measured while checking their depth; empty if there are none).
    nested_len: Vec<u32>,
    /// Op identity -> index in `plan.op_table`.
    op_index: FxHashMap<usize, u32>,
    /// The last op looked up (identity, index): consecutive tasks usually share their op.
    last_op: (usize, u32),
}

impl<'g> Builder<'g> {
    fn new(graph: &'g Graph) -> Self {
        let map = graph.map();
        Builder {
            map,
            resolved: map.resolved(),
            tid: vec![UNSEEN; map.len()],
            refs: Vec::new(),
            stack: Vec::new(),
            plan: Plan {
                graph: graph.clone(),
                node: Vec::new(),
                rows: Vec::new(),
                op_table: Vec::new(),
                args: Vec::new(),
                lits: Vec::new(),
                deps: Vec::new(),
                users: Vec::new(),
                dep_modes: Vec::new(),
                user_modes: Vec::new(),
                n_deps: Vec::new(),
                n_users: Vec::new(),
                roots: Vec::new(),
                literal_tasks: Vec::new(),
                start_deps: Vec::new(),
                start_roots: Vec::new(),
                inputs: Vec::new(),
                outputs: Vec::new(),
                output_keys: Vec::new(),
                derived: Default::default(),
            },
            alias_target: Vec::new(),
            nested_len: Vec::new(),
            op_index: FxHashMap::default(),
            last_op: (0, 0),
        }
    }

    /// Plans `outputs` in three passes. The first walks the graph depth-first from the
    /// outputs over compact arrays only (resolved references, node kinds, task ids), finding
    /// missing keys and cycles and numbering the tasks in post-order. The other two read the
    /// graph's nodes in graph order, which is sequential in memory however the ids fall: one
    /// sizes every task's arguments and dependencies, the other writes them in place.
    fn build(mut self, outputs: &[Key]) -> Result<Plan> {
        let mut out_nodes = Vec::with_capacity(outputs.len());
        for key in outputs {
            let idx = self.lookup(key)?;
            out_nodes.push(idx);
            if self.tid[idx as usize] == UNSEEN {
                self.visit(idx)?;
            }
        }
        self.stack = Vec::new();
        self.refs = Vec::new();
        let n = self.plan.node.len();
        self.lay_out(n)?;
        self.plan.outputs = out_nodes
            .iter()
            .map(|&i| TaskId(self.tid[i as usize]))
            .collect();
        self.plan.output_keys = outputs.to_vec();
        self.finish_users(n);
        Ok(self.plan)
    }

    /// The distinct task ids node `node` depends on, ascending, into `out`.
    #[inline]
    fn deps_of(&self, node: usize, out: &mut Vec<u32>) {
        out.clear();
        out.extend(self.resolved.of(node).iter().map(|&r| self.task_of(r)));
        if out.len() > 1 {
            out.sort_unstable();
            out.dedup();
        }
    }

    /// The task id a reference to graph node `r` reads (aliases followed).
    #[inline]
    fn task_of(&self, r: u32) -> u32 {
        let r = match self.alias_target.get(r as usize) {
            Some(&a) if a != UNSEEN => a,
            _ => r,
        };
        self.tid[r as usize]
    }

    /// Passes two and three: sizes and writes every task's arguments and dependencies.
    fn lay_out(&mut self, n: usize) -> Result<()> {
        let map = self.map;
        // Pass two, in graph order: argument and dependency counts by task.
        let mut arg_len = vec![0u32; n];
        let mut dep_len = vec![0u32; n];
        let mut scratch = Vec::new();
        let (mut total_args, mut total_deps) = (0u64, 0u64);
        for (i, (_, node)) in map.iter().enumerate() {
            let t = self.tid[i];
            if t >= ON_STACK {
                continue; // not needed, or an alias
            }
            let a = match node {
                Node::Literal(_) => 1,
                Node::Task(_) if self.resolved.kind(i) >= KIND_NESTED => {
                    u64::from(self.nested_len[i])
                }
                Node::Task(task) => task.args.len() as u64,
                Node::Alias(_) => unreachable!("aliases get no task id"),
            };
            self.deps_of(i, &mut scratch);
            arg_len[t as usize] = u32::try_from(a).unwrap_or(u32::MAX);
            dep_len[t as usize] = scratch.len() as u32;
            total_args += a;
            total_deps += scratch.len() as u64;
        }
        if total_args > MAX_ITEMS as u64 || total_deps > MAX_ITEMS as u64 {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "too many arguments in one plan",
            ));
        }
        let plan = &mut self.plan;
        plan.rows = rows_from(&arg_len, &dep_len);
        plan.roots = (0..n as u32)
            .filter(|&t| dep_len[t as usize] == 0)
            .map(TaskId)
            .collect();
        plan.n_deps = dep_len;
        drop(arg_len);
        plan.args = vec![EncodedArg::Lit(0); total_args as usize];
        plan.deps = vec![TaskId(0); total_deps as usize];
        // Pass three, in graph order: each task's op, arguments and dependencies, in place.
        for (i, (_, node)) in map.iter().enumerate() {
            let t = self.tid[i];
            if t >= ON_STACK {
                continue;
            }
            self.deps_of(i, &mut scratch);
            let plan = &mut self.plan;
            let d0 = plan.rows[t as usize].dep as usize;
            for (slot, &d) in plan.deps[d0..d0 + scratch.len()].iter_mut().zip(&scratch) {
                *slot = TaskId(d);
            }
            let mut at = plan.rows[t as usize].arg as usize;
            match node {
                Node::Literal(v) => {
                    plan.args[at] = EncodedArg::Lit(plan.lits.len() as u32);
                    plan.lits.push(v.clone());
                }
                Node::Task(task) => {
                    plan.rows[t as usize].op =
                        intern_op(plan, &mut self.op_index, &mut self.last_op, &task.op);
                    let refs = self.resolved.of(i);
                    let mut cursor = 0;
                    for a in &task.args {
                        self.emit_arg(a, refs, &mut cursor, &mut at);
                    }
                }
                Node::Alias(_) => unreachable!("aliases get no task id"),
            }
        }
        Ok(())
    }

    /// Lays out one argument tree at `args[*at..]`; references come from `refs` (the node's
    /// resolved references) in argument order.
    fn emit_arg(&mut self, arg: &Arg, refs: &[u32], cursor: &mut usize, at: &mut usize) {
        let encoded = match arg {
            Arg::Ref(_) => {
                let d = self.task_of(refs[*cursor]);
                *cursor += 1;
                EncodedArg::Dep(d)
            }
            Arg::Lit(v) => {
                let plan = &mut self.plan;
                plan.lits.push(v.clone());
                EncodedArg::Lit(plan.lits.len() as u32 - 1)
            }
            Arg::List(items) => {
                self.plan.args[*at] = EncodedArg::List(items.len() as u32);
                *at += 1;
                for a in items {
                    self.emit_arg(a, refs, cursor, at);
                }
                return;
            }
            Arg::Task(t) => {
                let op = intern_op(&mut self.plan, &mut self.op_index, &mut (0, 0), &t.op);
                self.plan.args[*at] = EncodedArg::Nested(op, t.args.len() as u32);
                *at += 1;
                for a in &t.args {
                    self.emit_arg(a, refs, cursor, at);
                }
                return;
            }
        };
        self.plan.args[*at] = encoded;
        *at += 1;
    }

    /// Resolves an output key to a non-alias graph index.
    fn lookup(&mut self, key: &Key) -> Result<u32> {
        let idx = self
            .map
            .get_index_of(key)
            .ok_or_else(|| Error::MissingKey {
                key: key.clone(),
                referrer: None,
            })?;
        self.follow(idx as u32)
    }

    /// Follows aliases from graph index `idx` to a non-alias node; each alias is followed
    /// once per plan (resolved chains are remembered).
    fn follow(&mut self, idx: u32) -> Result<u32> {
        if self.resolved.kind(idx as usize) != KIND_ALIAS {
            return Ok(idx);
        }
        if self.alias_target.is_empty() {
            self.alias_target = vec![UNSEEN; self.map.len()];
        }
        let mut idx = idx as usize;
        let mut chain: Vec<usize> = Vec::new();
        while self.resolved.kind(idx) == KIND_ALIAS {
            let known = self.alias_target[idx];
            if known != UNSEEN {
                idx = known as usize;
                break;
            }
            chain.push(idx);
            if chain.len() > self.map.len() {
                return Err(self.alias_cycle(idx));
            }
            let target = self.resolved.of(idx)[0];
            if target == MISSING {
                return Err(self.missing_ref(idx as u32, 0));
            }
            idx = target as usize;
        }
        for a in chain {
            self.alias_target[a] = idx as u32;
        }
        Ok(idx as u32)
    }

    /// The error for node `node`'s `nth` reference, whose key is not in the graph.
    #[cold]
    fn missing_ref(&self, node: u32, nth: usize) -> Error {
        let (referrer, n) = self.map.get_index(node as usize).expect("index in graph");
        let mut i = 0;
        let mut key = None;
        n.for_each_ref(|k| {
            if i == nth {
                key = Some(k.clone());
            }
            i += 1;
        });
        Error::MissingKey {
            key: key.expect("the reference exists"),
            referrer: Some(referrer.clone()),
        }
    }

    #[cold]
    fn alias_cycle(&self, start: usize) -> Error {
        let mut path = vec![self.key_of(start as u32).clone()];
        let mut idx = start;
        while let Some((_, Node::Alias(_))) = self.map.get_index(idx) {
            idx = match self.resolved.of(idx)[0] {
                MISSING => start,
                t => t as usize,
            };
            path.push(self.key_of(idx as u32).clone());
            if idx == start {
                break;
            }
        }
        Error::Cycle { path }
    }

    fn key_of(&self, idx: u32) -> &Key {
        self.map
            .get_index(idx as usize)
            .map(|(k, _)| k)
            .expect("index in graph")
    }

    /// Iterative depth-first walk from `root`, assigning ids in post-order.
    fn visit(&mut self, root: u32) -> Result<()> {
        self.push_frame(root)?;
        // While a frame is on top, its children are exactly refs[start..]: frames above it
        // truncated `refs` back to their own start when they finished.
        while let Some(top) = self.stack.last_mut() {
            if (top.next as usize) < self.refs.len() {
                let child = self.refs[top.next as usize];
                top.next += 1;
                match self.tid[child as usize] {
                    UNSEEN => self.push_frame(child)?,
                    ON_STACK => return Err(self.cycle(child)),
                    _ => {}
                }
            } else {
                let frame = self.stack.pop().expect("non-empty");
                self.emit(frame)?;
            }
        }
        Ok(())
    }

    fn push_frame(&mut self, node: u32) -> Result<()> {
        self.tid[node as usize] = ON_STACK;
        let start = self.refs.len();
        if self.resolved.kind(node as usize) == KIND_TOO_DEEP {
            return Err(too_deep(self.key_of(node)));
        }
        if self.resolved.kind(node as usize) == KIND_NESTED {
            let (_, n) = self.map.get_index(node as usize).expect("index in graph");
            if let Node::Task(t) = n {
                let mut len = 0u64;
                for a in &t.args {
                    len += encoded_len(a, 0).ok_or_else(|| too_deep(self.key_of(node)))?;
                }
                if self.nested_len.is_empty() {
                    self.nested_len = vec![0; self.map.len()];
                }
                self.nested_len[node as usize] = u32::try_from(len).unwrap_or(u32::MAX);
            }
        }
        let resolved = self.resolved;
        for (nth, &r) in resolved.of(node as usize).iter().enumerate() {
            if r == MISSING {
                return Err(self.missing_ref(node, nth));
            }
            let idx = self.follow(r)?;
            self.refs.push(idx);
        }
        if self.refs.len() > MAX_ITEMS {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "too many references in one plan",
            ));
        }
        self.stack.push(Frame {
            node,
            start: start as u32,
            next: start as u32,
        });
        Ok(())
    }

    #[cold]
    fn cycle(&self, child: u32) -> Error {
        let pos = self
            .stack
            .iter()
            .position(|f| f.node == child)
            .expect("node marked on-stack is on the stack");
        let mut path: Vec<Key> = self.stack[pos..]
            .iter()
            .map(|f| self.key_of(f.node).clone())
            .collect();
        path.push(self.key_of(child).clone());
        Error::Cycle { path }
    }

    /// Assigns the next id to a finished frame.
    fn emit(&mut self, frame: Frame) -> Result<()> {
        let plan = &mut self.plan;
        if plan.node.len() >= MAX_ITEMS {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "more than u32::MAX - 2 tasks",
            ));
        }
        self.tid[frame.node as usize] = plan.node.len() as u32;
        plan.node.push(frame.node);
        self.refs.truncate(frame.start as usize);
        Ok(())
    }

    /// Builds the dependents CSR from the dependencies, and the user counts.
    fn finish_users(&mut self, n: usize) {
        let plan = &mut self.plan;
        let mut counts = vec![0u32; n + 1];
        for d in &plan.deps {
            counts[d.index() + 1] += 1;
        }
        for i in 0..n {
            counts[i + 1] += counts[i];
        }
        let mut fill = counts.clone();
        let mut users = vec![TaskId(0); plan.deps.len()];
        for t in 0..n {
            let (s, e) = (plan.rows[t].dep as usize, plan.rows[t + 1].dep as usize);
            for d in &plan.deps[s..e] {
                let slot = &mut fill[d.index()];
                users[*slot as usize] = TaskId(t as u32);
                *slot += 1;
            }
        }
        plan.n_users = counts.windows(2).map(|w| w[1] - w[0]).collect();
        let mut requested = vec![false; n];
        for o in &plan.outputs {
            if !std::mem::replace(&mut requested[o.index()], true) {
                plan.n_users[o.index()] += 1;
            }
        }
        for (row, &c) in plan.rows.iter_mut().zip(&counts) {
            row.user = c;
        }
        plan.users = users;
        plan.count_starts();
    }
}

/// Number of [`EncodedArg`]s an argument tree at nesting `depth` takes, or `None` if it
/// nests deeper than [`MAX_NESTING`].
fn encoded_len(arg: &Arg, depth: usize) -> Option<u64> {
    if depth > MAX_NESTING {
        return None;
    }
    let items = match arg {
        Arg::Ref(_) | Arg::Lit(_) => return Some(1),
        Arg::List(items) => items,
        Arg::Task(t) => &t.args,
    };
    let mut len = 1u64;
    for a in items {
        len += encoded_len(a, depth + 1)?;
    }
    Some(len)
}

/// One row per task plus the closing one, with argument and dependency starts as prefix
/// sums of the counts (the caller checked the totals fit) and every op [`LITERAL`] until
/// written.
fn rows_from(arg_len: &[u32], dep_len: &[u32]) -> Vec<Row> {
    let mut out = Vec::with_capacity(arg_len.len() + 1);
    let (mut arg, mut dep) = (0u32, 0u32);
    for (&a, &d) in arg_len.iter().zip(dep_len) {
        out.push(Row {
            op: LITERAL,
            arg,
            dep,
            user: 0,
        });
        arg += a;
        dep += d;
    }
    out.push(Row {
        op: LITERAL,
        arg,
        dep,
        user: 0,
    });
    out
}

/// The index of `op` in the plan's op table, adding it on first sight.
#[inline]
fn intern_op(
    plan: &mut Plan,
    index: &mut FxHashMap<usize, u32>,
    last: &mut (usize, u32),
    op: &Op,
) -> u32 {
    let addr = op.addr();
    if last.0 == addr {
        return last.1;
    }
    let i = *index.entry(addr).or_insert_with(|| {
        plan.op_table.push(op.clone());
        (plan.op_table.len() - 1) as u32
    });
    *last = (addr, i);
    i
}

#[cold]
fn too_deep(key: &Key) -> Error {
    Error::new(
        ErrorKind::TooLarge,
        format!("arguments of {key} are nested deeper than {MAX_NESTING} levels"),
    )
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Plan>();
    is::<Graph>();
}
