//! Interning: graph -> plan.

use super::{Countdown, EncodedArg, LITERAL, MAX_NESTING, Plan, TaskId};
use crate::error::{Error, ErrorKind, Result};
use crate::graph::Op;
use crate::graph::{Arg, Graph, Node, NodeMap};
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
}

struct Builder<'g> {
    map: &'g NodeMap,
    /// Graph node -> task id, or UNSEEN / ON_STACK.
    tid: Vec<u32>,
    /// Resolved references (graph indices) of the nodes on the stack, in argument order.
    refs: Vec<u32>,
    stack: Vec<Frame>,
    plan: Plan,
    /// Scratch for de-duplicating one task's dependencies.
    dep_scratch: Vec<u32>,
    /// Alias node -> the non-alias node it resolves to (UNSEEN until resolved once), so that
    /// each alias chain is followed once however many keys go through it.
    alias_target: Vec<u32>,
    /// Op identity -> index in `plan.op_table`.
    op_index: FxHashMap<usize, u32>,
    /// The last op looked up (identity, index): consecutive tasks usually share their op.
    last_op: (usize, u32),
}

impl<'g> Builder<'g> {
    fn new(graph: &'g Graph) -> Self {
        let map = graph.map();
        let mut b = Builder {
            map,
            tid: vec![UNSEEN; map.len()],
            refs: Vec::new(),
            stack: Vec::new(),
            plan: Plan {
                graph: graph.clone(),
                node: Vec::with_capacity(map.len()),
                ops: Vec::with_capacity(map.len()),
                op_table: Vec::new(),
                arg_offsets: Vec::with_capacity(map.len() + 1),
                args: Vec::with_capacity(map.len() * 2),
                lits: Vec::new(),
                dep_offsets: Vec::with_capacity(map.len() + 1),
                deps: Vec::with_capacity(map.len() * 2),
                user_offsets: Vec::new(),
                users: Vec::new(),
                dep_modes: Vec::new(),
                user_modes: Vec::new(),
                n_deps: Vec::with_capacity(map.len()),
                n_users: Vec::new(),
                roots: Vec::new(),
                outputs: Vec::new(),
                output_keys: Vec::new(),
            },
            dep_scratch: Vec::new(),
            alias_target: Vec::new(),
            op_index: FxHashMap::default(),
            last_op: (0, 0),
        };
        b.plan.arg_offsets.push(0);
        b.plan.dep_offsets.push(0);
        b
    }

    fn build(mut self, outputs: &[Key]) -> Result<Plan> {
        let mut out_nodes = Vec::with_capacity(outputs.len());
        for key in outputs {
            let idx = self.lookup(key, None)?;
            out_nodes.push(idx);
            if self.tid[idx as usize] == UNSEEN {
                self.visit(idx)?;
            }
        }
        let n = self.plan.ops.len();
        self.plan.outputs = out_nodes
            .iter()
            .map(|&i| TaskId(self.tid[i as usize]))
            .collect();
        self.plan.output_keys = outputs.to_vec();
        self.finish_users(n);
        Ok(self.plan)
    }

    /// Resolves a key to a non-alias graph index, following aliases; each alias is followed
    /// once per plan (resolved chains are remembered).
    fn lookup(&mut self, key: &Key, referrer: Option<u32>) -> Result<u32> {
        let missing = |b: &Self, key: &Key, referrer: Option<u32>| Error::MissingKey {
            key: key.clone(),
            referrer: referrer.map(|r| b.key_of(r).clone()),
        };
        let mut idx = self
            .map
            .get_index_of(key)
            .ok_or_else(|| missing(self, key, referrer))?;
        if !matches!(self.map.get_index(idx), Some((_, Node::Alias(_)))) {
            return Ok(idx as u32);
        }
        if self.alias_target.is_empty() {
            self.alias_target = vec![UNSEEN; self.map.len()];
        }
        let mut chain: Vec<usize> = Vec::new();
        while let Some((_, Node::Alias(target))) = self.map.get_index(idx) {
            let known = self.alias_target[idx];
            if known != UNSEEN {
                idx = known as usize;
                break;
            }
            chain.push(idx);
            if chain.len() > self.map.len() {
                return Err(self.alias_cycle(idx));
            }
            let from = idx as u32;
            idx = self
                .map
                .get_index_of(target)
                .ok_or_else(|| missing(self, target, Some(from)))?;
        }
        for a in chain {
            self.alias_target[a] = idx as u32;
        }
        Ok(idx as u32)
    }

    #[cold]
    fn alias_cycle(&self, start: usize) -> Error {
        let mut path = vec![self.key_of(start as u32).clone()];
        let mut idx = start;
        while let Some((_, Node::Alias(t))) = self.map.get_index(idx) {
            idx = self.map.get_index_of(t).unwrap_or(start);
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
        let (_, n) = self.map.get_index(node as usize).expect("index in graph");
        if let Node::Task(t) = n {
            for a in &t.args {
                self.collect_refs(a, node, 0)?;
            }
        }
        self.stack.push(Frame {
            node,
            start: start as u32,
            next: start as u32,
        });
        Ok(())
    }

    fn collect_refs(&mut self, arg: &Arg, node: u32, depth: usize) -> Result<()> {
        if depth > MAX_NESTING {
            return Err(too_deep(self.key_of(node)));
        }
        match arg {
            Arg::Ref(k) => {
                let idx = self.lookup(k, Some(node))?;
                self.refs.push(idx);
            }
            Arg::Lit(_) => {}
            Arg::List(items) => {
                for a in items {
                    self.collect_refs(a, node, depth + 1)?;
                }
            }
            Arg::Task(t) => {
                for a in &t.args {
                    self.collect_refs(a, node, depth + 1)?;
                }
            }
        }
        if self.refs.len() > MAX_ITEMS {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "too many references in one plan",
            ));
        }
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

    /// Assigns the next id to a finished frame and lays out its arguments and dependencies.
    fn emit(&mut self, frame: Frame) -> Result<()> {
        let plan = &mut self.plan;
        if plan.ops.len() >= MAX_ITEMS {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "more than u32::MAX - 2 tasks",
            ));
        }
        let id = plan.ops.len() as u32;
        let (_, node) = self
            .map
            .get_index(frame.node as usize)
            .expect("index in graph");
        let refs = &self.refs[frame.start as usize..];
        let mut cursor = 0usize;
        match node {
            Node::Literal(v) => {
                plan.ops.push(LITERAL);
                plan.args.push(EncodedArg::Lit(plan.lits.len() as u32));
                plan.lits.push(v.clone());
            }
            Node::Task(t) => {
                let op = intern_op(plan, &mut self.op_index, &mut self.last_op, &t.op);
                plan.ops.push(op);
                for a in &t.args {
                    emit_arg(plan, &mut self.op_index, a, refs, &mut cursor, &self.tid);
                }
            }
            Node::Alias(_) => unreachable!("aliases are resolved before visiting"),
        }
        if plan.args.len() > MAX_ITEMS {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "too many arguments in one plan",
            ));
        }
        plan.arg_offsets.push(plan.args.len() as u32);
        plan.node.push(frame.node);

        // Distinct dependencies, ascending.
        let scratch = &mut self.dep_scratch;
        scratch.clear();
        scratch.extend(refs.iter().map(|&r| self.tid[r as usize]));
        scratch.sort_unstable();
        scratch.dedup();
        plan.n_deps.push(scratch.len() as u32);
        if scratch.is_empty() {
            plan.roots.push(TaskId(id));
        }
        plan.deps.extend(scratch.iter().map(|&d| TaskId(d)));
        plan.dep_offsets.push(plan.deps.len() as u32);

        self.tid[frame.node as usize] = id;
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
            let (s, e) = (
                plan.dep_offsets[t] as usize,
                plan.dep_offsets[t + 1] as usize,
            );
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
        plan.user_modes = users
            .iter()
            .map(|u| Countdown::of(plan.n_deps[u.index()]))
            .collect();
        plan.dep_modes = plan
            .deps
            .iter()
            .map(|d| Countdown::of(plan.n_users[d.index()]))
            .collect();
        plan.user_offsets = counts;
        plan.users = users;
    }
}

/// Lays out one argument tree; references come from `refs` in the order they were collected.
fn emit_arg(
    plan: &mut Plan,
    op_index: &mut FxHashMap<usize, u32>,
    arg: &Arg,
    refs: &[u32],
    cursor: &mut usize,
    tid: &[u32],
) {
    match arg {
        Arg::Ref(_) => {
            plan.args.push(EncodedArg::Dep(tid[refs[*cursor] as usize]));
            *cursor += 1;
        }
        Arg::Lit(v) => {
            plan.args.push(EncodedArg::Lit(plan.lits.len() as u32));
            plan.lits.push(v.clone());
        }
        Arg::List(items) => {
            plan.args.push(EncodedArg::List(items.len() as u32));
            for a in items {
                emit_arg(plan, op_index, a, refs, cursor, tid);
            }
        }
        Arg::Task(t) => {
            let op = intern_op(plan, op_index, &mut (0, 0), &t.op);
            plan.args.push(EncodedArg::Nested(op, t.args.len() as u32));
            for a in &t.args {
                emit_arg(plan, op_index, a, refs, cursor, tid);
            }
        }
    }
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
