//! Stages: one rank's share of a plan, cut where values cross ranks.
//!
//! Every task gets a *stage*: 0 for a task whose inputs are all on its own rank from the
//! start, and otherwise the largest, over its inputs, of the input's stage, plus one when
//! the input was made on another rank. Stages are computed from the whole plan on every
//! rank alike, so all ranks agree on them. A rank runs its tasks of stage `s` as one plan on
//! its pool; then each rank sends the values of stage `s` that other ranks need and receives
//! those it needs, and stage `s + 1` begins. A value made in stage `s` is read in a later
//! stage only, so the exchange after stage `s` brings every input a rank's stage `s + 1`
//! lacks, and no rank waits for one that waits for it.

use super::placement::EVERYWHERE;
use crate::error::Result;
use crate::graph::{Graph, Node};
use crate::key::Key;
use crate::plan::{Plan, TaskId};
use crate::value::Value;

/// One rank's view of a run: stages, what it sends, receives, keeps and frees.
pub(crate) struct Schedule {
    pub(crate) rank: u32,
    /// Owner rank of each task ([`EVERYWHERE`] for literal nodes).
    pub(crate) owner: Vec<u32>,
    /// Stage of each task (0 for literal nodes).
    pub(crate) stage: Vec<u32>,
    /// Number of stages (the same on every rank).
    pub(crate) stages: u32,
    /// Always `stages + 1` long: this rank's tasks of stage `s` are
    /// `local[local_offsets[s]..local_offsets[s + 1]]`, ascending.
    local_offsets: Vec<u32>,
    local: Vec<TaskId>,
    /// Per task made here: the other ranks that read it, ascending, in CSR form.
    dest_offsets: Vec<u32>,
    dests: Vec<u32>,
    /// Per stage: how many values this rank receives after it.
    pub(crate) receives: Vec<u32>,
    /// Per task: reads left from the store (by this rank's tasks of other stages).
    uses: Vec<u32>,
    /// Per task: an output this rank holds until the end (made here).
    held: Vec<bool>,
}

impl Schedule {
    /// The schedule of `rank`, from the owners of every task. Linear in the plan's size.
    pub(crate) fn new(plan: &Plan, owner: Vec<u32>, rank: u32) -> Schedule {
        let n = plan.len();
        let mut stage = vec![0u32; n];
        for t in plan.tasks() {
            let o = owner[t.index()];
            stage[t.index()] = plan
                .deps(t)
                .iter()
                .filter(|d| owner[d.index()] != EVERYWHERE)
                .map(|d| stage[d.index()] + u32::from(owner[d.index()] != o))
                .max()
                .unwrap_or(0);
        }
        let stages = stage.iter().max().map_or(0, |&s| s + 1);
        let is_local = |t: TaskId| owner[t.index()] == rank;
        // Counting sort of this rank's tasks by stage (ascending ids within a stage).
        let mut local_offsets = vec![0u32; stages as usize + 1];
        for t in plan.tasks().filter(|&t| is_local(t)) {
            local_offsets[stage[t.index()] as usize + 1] += 1;
        }
        for s in 0..stages as usize {
            local_offsets[s + 1] += local_offsets[s];
        }
        let mut fill = local_offsets.clone();
        let mut local = vec![TaskId::from_raw(0); local_offsets[stages as usize] as usize];
        for t in plan.tasks().filter(|&t| is_local(t)) {
            let s = stage[t.index()] as usize;
            local[fill[s] as usize] = t;
            fill[s] += 1;
        }
        let mut dest_offsets = Vec::with_capacity(n + 1);
        dest_offsets.push(0u32);
        let mut dests = Vec::new();
        let mut receives = vec![0u32; stages as usize];
        let mut uses = vec![0u32; n];
        let mut is_output = vec![false; n];
        for &t in plan.outputs() {
            is_output[t.index()] = true;
        }
        let mut held = vec![false; n];
        for t in plan.tasks() {
            let o = owner[t.index()];
            if o == rank {
                let start = dests.len();
                for &u in plan.users(t) {
                    let ou = owner[u.index()];
                    if ou == rank {
                        uses[t.index()] += u32::from(stage[u.index()] != stage[t.index()]);
                    } else if !dests[start..].contains(&ou) {
                        dests.push(ou);
                    }
                }
                dests[start..].sort_unstable();
                held[t.index()] = is_output[t.index()];
            } else if o != EVERYWHERE {
                let readers = plan.users(t).iter().filter(|&&u| is_local(u)).count();
                uses[t.index()] = readers as u32;
                if readers > 0 {
                    receives[stage[t.index()] as usize] += 1;
                }
            }
            dest_offsets.push(dests.len() as u32);
        }
        Schedule {
            rank,
            owner,
            stage,
            stages,
            local_offsets,
            local,
            dest_offsets,
            dests,
            receives,
            uses,
            held,
        }
    }

    /// This rank's tasks of stage `s`, ascending.
    pub(crate) fn local(&self, s: u32) -> &[TaskId] {
        let s = s as usize;
        &self.local[self.local_offsets[s] as usize..self.local_offsets[s + 1] as usize]
    }

    /// The other ranks that read the value of `t` (made here).
    pub(crate) fn dests(&self, t: TaskId) -> &[u32] {
        let i = t.index();
        &self.dests[self.dest_offsets[i] as usize..self.dest_offsets[i + 1] as usize]
    }

    /// Whether a stage-`s` task of this rank reads `d` from the store rather than from its
    /// own stage's plan.
    fn reads_stored(&self, d: TaskId, s: u32) -> bool {
        let o = self.owner[d.index()];
        o != EVERYWHERE && (o != self.rank || self.stage[d.index()] != s)
    }

    /// Whether the value of `t` (made here) must outlive its stage's plan.
    pub(crate) fn keeps(&self, t: TaskId) -> bool {
        self.held[t.index()] || self.uses[t.index()] > 0 || !self.dests(t).is_empty()
    }

    /// The graph of this rank's stage `s`: its tasks' nodes, the aliases they refer
    /// through, literal nodes, and every input made elsewhere or earlier as a literal
    /// taken from `store`. Also returns the keys whose values must outlive the stage.
    pub(crate) fn stage_graph(
        &self,
        plan: &Plan,
        s: u32,
        store: &[Option<Value>],
        task_of: &dyn Fn(&Key) -> Option<TaskId>,
    ) -> Result<(Graph, Vec<Key>)> {
        let full = plan.graph();
        let tasks = self.local(s);
        let mut g = Graph::with_capacity(tasks.len() * 2);
        let mut wanted = Vec::new();
        for &t in tasks {
            let key = plan.key(t);
            let node = full.get(key).expect("a planned key is in its graph");
            g.insert(key.clone(), node.clone());
            if self.keeps(t) {
                wanted.push(key.clone());
            }
            let mut refs = Vec::new();
            node.for_each_ref(|k| refs.push(k.clone()));
            for mut k in refs {
                // Follow aliases until a node that is in the stage graph or made elsewhere.
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
                            debug_assert!(self.reads_stored(d, s));
                            let v = store[d.index()].clone().expect("inputs arrive first");
                            g.insert(k, Node::Literal(v));
                            break;
                        }
                    }
                }
            }
        }
        Ok((g, wanted))
    }

    /// After stage `s`: counts down the stored inputs its tasks read, and frees those read
    /// for the last time and values made in `s` that were only sent.
    pub(crate) fn release(&mut self, plan: &Plan, s: u32, store: &mut [Option<Value>]) {
        let tasks =
            self.local_offsets[s as usize] as usize..self.local_offsets[s as usize + 1] as usize;
        for i in tasks {
            let t = self.local[i];
            for &d in plan.deps(t) {
                if !self.reads_stored(d, s) {
                    continue;
                }
                let left = &mut self.uses[d.index()];
                *left -= 1;
                if *left == 0 && !self.held[d.index()] {
                    store[d.index()] = None;
                }
            }
            if self.uses[t.index()] == 0 && !self.held[t.index()] {
                store[t.index()] = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Arg, GraphBuilder, Op};

    #[test]
    fn stages_count_rank_crossings() {
        let inc = Op::typed("inc", |x: i64| x + 1);
        let mut b = GraphBuilder::new();
        b.literal("c0", 0).unwrap();
        for i in 1..6i64 {
            b.task(("c", i), &inc, [Arg::key(("c", i - 1))]).unwrap();
        }
        b.alias(("c", 0i64), "c0").unwrap();
        let plan = Plan::new(&b.build(), &[Key::tuple("c", [5i64])]).unwrap();
        // Owners alternate 0,0,1,1,0 along the chain c1..c5; the literal is everywhere.
        let owner: Vec<u32> = plan
            .tasks()
            .map(|t| match plan.key(t).atom(0) {
                Some(crate::Atom::Int(i)) => [0, 0, 1, 1, 0][i as usize - 1],
                _ => EVERYWHERE,
            })
            .collect();
        let s0 = Schedule::new(&plan, owner.clone(), 0);
        let s1 = Schedule::new(&plan, owner, 1);
        assert_eq!(s0.stages, 3);
        assert_eq!(
            (s0.local(0).len(), s0.local(1).len(), s0.local(2).len()),
            (2, 0, 1)
        );
        assert_eq!(
            (s1.local(0).len(), s1.local(1).len(), s1.local(2).len()),
            (0, 2, 0)
        );
        assert_eq!(s0.receives, [0, 1, 0]);
        assert_eq!(s1.receives, [1, 0, 0]);
        // Stage 0 of rank 0 is c1 <- c2 with the alias and the literal.
        let task_of = |k: &Key| plan.tasks().find(|&t| plan.key(t) == k);
        let store = vec![None; plan.len()];
        let (g, wanted) = s0.stage_graph(&plan, 0, &store, &task_of).unwrap();
        assert_eq!(g.len(), 4);
        assert_eq!(wanted, [Key::tuple("c", [2i64])]);
    }
}
