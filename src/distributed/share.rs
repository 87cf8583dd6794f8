//! One rank's share of a plan: the plan it runs, what it sends and what it receives.
//!
//! Rank `r` runs a single plan made of its own tasks (with the aliases and literal nodes
//! they refer to). Every value made on another rank that a task of `r` reads, or that `r`
//! returns as an output, is an *input* of that plan ([`Plan::with_inputs`]): it is
//! delivered while the plan runs, when its message arrives. Every task of `r` whose value
//! another rank needs is followed by a *send task*, which encodes the value on the worker
//! that made it, hands the bytes to the rank's communication loop and returns; the value
//! itself is then freed as soon as its last local reader and its send task are done.
//!
//! Both directions are computed from the whole plan and the owners, which are the same on
//! every rank: rank `d` is among the destinations of task `t` exactly when `t` is an input
//! of rank `d`.

use super::placement::EVERYWHERE;
use crate::error::{Error, ErrorKind, Result};
use crate::graph::{Arg, Graph, Node, Op, Task};
use crate::key::Key;
use crate::plan::{Plan, TaskId};
use crate::value::Value;

/// The key name (and op name) of send tasks.
pub(crate) const SEND: &str = "blockwork.distributed.send";

/// Not a task id (in `Share::input_of`).
const NONE: u32 = u32::MAX;

/// The destinations of every task: per task, the other ranks that need its value.
pub(crate) struct Destinations {
    offsets: Vec<u32>,
    ranks: Vec<u32>,
}

impl Destinations {
    /// Computed from the whole plan and the owners: task `t`'s value goes to every other
    /// rank that owns a reader of it, and, for an output, to the ranks that return outputs
    /// (`wants(r)`). Literal nodes go nowhere: every rank has them. Linear in the plan.
    pub(crate) fn new(plan: &Plan, owner: &[u32], ranks: u32, wants: impl Fn(u32) -> bool) -> Self {
        let mut is_output = vec![false; plan.len()];
        for &t in plan.outputs() {
            is_output[t.index()] = true;
        }
        let mut offsets = Vec::with_capacity(plan.len() + 1);
        offsets.push(0u32);
        let mut out = Vec::new();
        for t in plan.tasks() {
            let o = owner[t.index()];
            if o != EVERYWHERE {
                let start = out.len();
                for &u in plan.users(t) {
                    let ou = owner[u.index()];
                    if ou != o && !out[start..].contains(&ou) {
                        out.push(ou);
                    }
                }
                if is_output[t.index()] {
                    for r in (0..ranks).filter(|&r| r != o && wants(r)) {
                        if !out[start..].contains(&r) {
                            out.push(r);
                        }
                    }
                }
                out[start..].sort_unstable();
            }
            offsets.push(out.len() as u32);
        }
        Destinations {
            offsets,
            ranks: out,
        }
    }

    /// The other ranks that need the value of `t`, ascending.
    pub(crate) fn of(&self, t: TaskId) -> &[u32] {
        let i = t.index();
        &self.ranks[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }
}

/// The plan one rank runs, and how its inputs and outputs map to the whole plan's tasks.
pub(crate) struct Share {
    /// The rank's plan.
    pub(crate) plan: Plan,
    /// Per task of the whole plan: the local input it arrives as ([`NONE`]: not an input).
    input_of: Vec<u32>,
    /// Per output of the whole plan (in request order): its index among the local plan's
    /// outputs, if this rank returns it.
    pub(crate) output_at: Vec<Option<usize>>,
    /// Number of send tasks (they are counted in the local run's tasks).
    pub(crate) sends: u64,
}

impl Share {
    /// The share of `rank`. `send` is the op of send tasks: it gets the value and the
    /// task's id in the whole plan. `returns` tells whether this rank returns outputs.
    /// A key of the whole graph named like a send task is an
    /// [`InvalidArgument`](ErrorKind::InvalidArgument) error.
    pub(crate) fn new(
        plan: &Plan,
        owner: &[u32],
        dests: &Destinations,
        rank: u32,
        returns: bool,
        send: &Op,
        task_of: &dyn Fn(&Key) -> Option<TaskId>,
    ) -> Result<Share> {
        let full = plan.graph();
        let mut g = Graph::with_capacity(plan.len() / 2 + 16);
        let mut inputs: Vec<Key> = Vec::new();
        let mut outputs: Vec<Key> = Vec::new();
        let mut sends = 0u64;
        // Inserts `k`'s node, following aliases until a node already present: a literal
        // node is copied, a task of another rank becomes an input.
        let reach = |g: &mut Graph, inputs: &mut Vec<Key>, mut k: Key| {
            while !g.contains(&k) {
                match full.get(&k).expect("a planned reference resolves") {
                    Node::Alias(target) => {
                        let target = target.clone();
                        g.insert(k, Node::Alias(target.clone()));
                        k = target;
                    }
                    Node::Literal(v) => {
                        g.insert(k, Node::Literal(v.clone()));
                        break;
                    }
                    Node::Task(_) => {
                        let d = task_of(&k).expect("a planned task");
                        debug_assert_ne!(owner[d.index()], rank, "own tasks come first");
                        g.insert(k.clone(), Node::Literal(Value::Unit));
                        inputs.push(k);
                        break;
                    }
                }
            }
        };
        for t in plan.tasks().filter(|t| owner[t.index()] == rank) {
            let key = plan.key(t);
            let node = full.get(key).expect("a planned key is in its graph");
            let mut refs = Vec::new();
            node.for_each_ref(|k| refs.push(k.clone()));
            g.insert(key.clone(), node.clone());
            for k in refs {
                reach(&mut g, &mut inputs, k);
            }
            if !dests.of(t).is_empty() {
                let sk = Key::tuple(SEND, [i64::from(t.raw())]);
                if full.contains(&sk) {
                    return Err(Error::new(
                        ErrorKind::InvalidArgument,
                        format!("key {sk} is reserved for the distributed executor"),
                    ));
                }
                let task = Task::new(send, [Arg::key(key.clone()), Arg::lit(i64::from(t.raw()))]);
                g.insert(sk.clone(), Node::Task(task));
                outputs.push(sk);
                sends += 1;
            }
        }
        let mut output_at = vec![None; plan.outputs().len()];
        let mut first = vec![NONE; plan.len()];
        for (i, &t) in plan.outputs().iter().enumerate() {
            let o = owner[t.index()];
            if o == EVERYWHERE || (o != rank && !returns) {
                continue;
            }
            if first[t.index()] == NONE {
                first[t.index()] = outputs.len() as u32;
                if o != rank {
                    reach(&mut g, &mut inputs, plan.key(t).clone());
                }
                outputs.push(plan.key(t).clone());
            }
            output_at[i] = Some(first[t.index()] as usize);
        }
        let local = Plan::with_inputs(&g, &outputs, &inputs)?;
        let mut input_of = vec![NONE; plan.len()];
        for &i in local.inputs() {
            let t = task_of(local.key(i)).expect("an input is a planned task");
            input_of[t.index()] = i.raw();
        }
        Ok(Share {
            plan: local,
            input_of,
            output_at,
            sends,
        })
    }

    /// The local input that task `t` of the whole plan arrives as, if it is one.
    pub(crate) fn input(&self, t: TaskId) -> Option<TaskId> {
        let i = *self.input_of.get(t.index())?;
        (i != NONE).then(|| TaskId::from_raw(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Executor, GraphBuilder, Sequential};

    #[test]
    fn shares_send_what_others_read_and_receive_it_as_inputs() {
        let inc = Op::typed("inc", |x: i64| x + 1);
        let mut b = GraphBuilder::new();
        b.literal("c0", 0).unwrap();
        b.alias(("c", 0i64), "c0").unwrap();
        for i in 1..6i64 {
            b.task(("c", i), &inc, [Arg::key(("c", i - 1))]).unwrap();
        }
        let plan = Plan::new(&b.build(), &[Key::tuple("c", [5i64])]).unwrap();
        // Owners alternate 0,0,1,1,0 along c1..c5; the literal is everywhere.
        let owner: Vec<u32> = plan
            .tasks()
            .map(|t| match plan.key(t).atom(0) {
                Some(crate::Atom::Int(i)) => [0, 0, 1, 1, 0][i as usize - 1],
                _ => EVERYWHERE,
            })
            .collect();
        let task_of = |k: &Key| plan.tasks().find(|&t| plan.key(t) == k);
        let dests = Destinations::new(&plan, &owner, 2, |r| r == 0);
        let send = Op::typed(SEND, |_: Value, _: i64| ());
        let s0 = Share::new(&plan, &owner, &dests, 0, true, &send, &task_of).unwrap();
        let s1 = Share::new(&plan, &owner, &dests, 1, false, &send, &task_of).unwrap();
        // Rank 0 sends c2 and receives c4; rank 1 sends c4 and receives c2.
        let names = |p: &Plan, ts: &[TaskId]| -> Vec<String> {
            ts.iter().map(|&t| p.key(t).to_string()).collect()
        };
        assert_eq!(
            names(&s0.plan, s0.plan.inputs()),
            [Key::tuple("c", [4i64]).to_string()]
        );
        assert_eq!(
            names(&s1.plan, s1.plan.inputs()),
            [Key::tuple("c", [2i64]).to_string()]
        );
        assert_eq!((s0.sends, s1.sends), (1, 1));
        assert_eq!(s0.output_at, [Some(1)]);
        assert_eq!(s1.output_at, [None]);
        let c4 = task_of(&Key::tuple("c", [4i64])).unwrap();
        assert!(s0.input(c4).is_some() && s1.input(c4).is_none());
        // Without its input, the share refuses to run through `run`.
        let err = Sequential::new().run(&s0.plan).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    }
}
