//! Placement: which rank runs each task, decided the same way on every rank from the plan.

use crate::error::{Error, ErrorKind, Result};
use crate::key::{Atom, Key};
use crate::plan::{Plan, TaskId};
use rustc_hash::FxHashMap;

/// Owner of a task that every rank has (a literal node: its value is in every rank's graph).
pub(crate) const EVERYWHERE: u32 = u32::MAX;

/// How tasks are spread over ranks when no pin applies.
///
/// A *block key* is a tuple key whose atoms are all non-negative integers, such as
/// `("x", 2, 0)` (array blocks, bag partitions). Literal nodes belong to every rank: each
/// rank built the same graph, so their values are already everywhere.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Partitioner {
    /// Block keys by their coordinates: each collection (name and arity) is cut into
    /// contiguous ranges of its largest block axis, one per rank, so that blocks with the
    /// same coordinates in collections of the same grid meet on one rank. Other tasks by
    /// [`Ranges`](Partitioner::Ranges).
    #[default]
    Blocks,
    /// Block keys dealt round-robin along the largest block axis (block `i` of that axis to
    /// rank `i % ranks`); other tasks by [`Ranges`](Partitioner::Ranges).
    BlockCyclic,
    /// Contiguous ranges of the plan's priority (topological) order, ignoring keys, each
    /// with the same number of tasks give or take 1/8: each boundary is placed, within
    /// 1/16 of a range's length of its balanced position, where the fewest values cross it
    /// (each a message).
    Ranges,
}

/// A rule that sends some tasks to a given rank before the partitioner is asked.
#[derive(Clone, Debug, PartialEq)]
enum Pin {
    /// This exact key.
    Key(Key),
    /// Every key whose name starts with this.
    Prefix(String),
    /// Every task whose op's name starts with this.
    Op(String),
    /// Every task whose op's name starts with this, and every task that reads one of
    /// those, transitively.
    OpAndReaders(String),
}

/// The partitioner and the pins of a distributed executor. Tasks that no pin and no block
/// key places go by [`Ranges`](Partitioner::Ranges) whatever the partitioner.
///
/// ```
/// use blockwork::distributed::{Partitioner, Placement};
/// let p = Placement::new(Partitioner::Ranges)
///     .pin_key("model", 0)
///     .pin_prefix("load-", 1);
/// assert_eq!(p.partitioner(), Partitioner::Ranges);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Placement {
    partitioner: Partitioner,
    pins: Vec<(Pin, usize)>,
}

impl Placement {
    /// A placement with this partitioner and no pins.
    pub fn new(partitioner: Partitioner) -> Placement {
        Placement {
            partitioner,
            pins: Vec::new(),
        }
    }

    /// The partitioner.
    pub fn partitioner(&self) -> Partitioner {
        self.partitioner
    }

    /// Runs the task of `key` on `rank`. The first matching pin wins.
    pub fn pin_key(mut self, key: impl Into<Key>, rank: usize) -> Placement {
        self.pins.push((Pin::Key(key.into()), rank));
        self
    }

    /// Runs every task whose key's name starts with `prefix` on `rank`.
    pub fn pin_prefix(mut self, prefix: impl Into<String>, rank: usize) -> Placement {
        self.pins.push((Pin::Prefix(prefix.into()), rank));
        self
    }

    /// Runs every task whose op's name starts with `prefix` on `rank` (for ops whose values
    /// have no codec, so that they and their readers stay together).
    pub fn pin_op(mut self, prefix: impl Into<String>, rank: usize) -> Placement {
        self.pins.push((Pin::Op(prefix.into()), rank));
        self
    }

    /// Runs every task whose op's name starts with `prefix` on `rank`, and with it every
    /// task that reads such a task's value, directly or through others: for values that
    /// have no codec, so that no reader of them is elsewhere (`blockwork run --mpi` keeps
    /// the `array.*` recipes of a spec file so).
    pub fn pin_op_and_readers(mut self, prefix: impl Into<String>, rank: usize) -> Placement {
        self.pins.push((Pin::OpAndReaders(prefix.into()), rank));
        self
    }

    /// The owner rank of every task of `plan` ([`EVERYWHERE`] for literal nodes). Linear in
    /// the plan's size (times the length of key and op names and the number of distinct
    /// prefix lengths, where prefix pins are given) plus the number of pins. A pin naming a
    /// rank `>= ranks` is an [`InvalidArgument`](ErrorKind::InvalidArgument) error.
    pub(crate) fn owners(&self, plan: &Plan, ranks: usize) -> Result<Vec<u32>> {
        const UNSET: u32 = u32::MAX - 1;
        if let Some((pin, r)) = self.pins.iter().find(|(_, r)| *r >= ranks) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("{pin:?} pins to rank {r}, but the run has {ranks} ranks"),
            ));
        }
        let pins = PinIndex::new(&self.pins);
        let mut owner = vec![UNSET; plan.len()];
        // The rank a task is pinned to with its readers, per task (in priority order, so a
        // task's dependencies are decided before it).
        let mut sticky: Vec<Option<u32>> = vec![None; plan.len()];
        for t in plan.tasks() {
            if plan.op(t).is_none() {
                owner[t.index()] = EVERYWHERE;
                continue;
            }
            let inherited = plan.deps(t).iter().find_map(|d| sticky[d.index()]);
            if let Some(i) = pins.first_match(plan.key(t), plan.op_name(t)) {
                let (pin, r) = &self.pins[i];
                owner[t.index()] = *r as u32;
                if matches!(pin, Pin::OpAndReaders(_)) {
                    sticky[t.index()] = Some(*r as u32);
                }
            } else if let Some(r) = inherited {
                owner[t.index()] = r;
                sticky[t.index()] = Some(r);
            }
        }
        if self.partitioner != Partitioner::Ranges {
            self.place_blocks(plan, ranks, &mut owner, UNSET);
        }
        // What is left: contiguous ranges of the priority order, balanced by count, each
        // boundary where the fewest values cross it near its balanced position.
        let order: Vec<TaskId> = plan.tasks().filter(|t| owner[t.index()] == UNSET).collect();
        let starts = range_starts(plan, &order, ranks);
        let mut r = 0;
        for (j, t) in order.iter().enumerate() {
            while r + 1 < ranks && j >= starts[r + 1] {
                r += 1;
            }
            owner[t.index()] = r as u32;
        }
        Ok(owner)
    }

    /// Places the unplaced block keys by their coordinates along their collection's largest
    /// axis.
    fn place_blocks(&self, plan: &Plan, ranks: usize, owner: &mut [u32], unset: u32) {
        let coords = |k: &Key| -> Option<Vec<u64>> {
            if !k.is_tuple() || k.n_atoms() == 0 {
                return None;
            }
            k.atoms()
                .map(|a| match a {
                    Atom::Int(i) => u64::try_from(i).ok(),
                    Atom::Str(_) => None,
                })
                .collect()
        };
        // The extent of each collection: one past its largest coordinate on each axis.
        let mut extents: FxHashMap<(&str, usize), Vec<u64>> = FxHashMap::default();
        for t in plan.tasks().filter(|t| owner[t.index()] == unset) {
            let key = plan.key(t);
            let Some(c) = coords(key) else { continue };
            let e = extents
                .entry((key.name(), c.len()))
                .or_insert_with(|| vec![0; c.len()]);
            for (e, &i) in e.iter_mut().zip(&c) {
                *e = (*e).max(i.saturating_add(1));
            }
        }
        for t in plan.tasks() {
            if owner[t.index()] != unset {
                continue;
            }
            let key = plan.key(t);
            let Some(c) = coords(key) else { continue };
            let e = &extents[&(key.name(), c.len())];
            // The largest axis, the first one on ties.
            let axis = (0..e.len()).fold(0, |best, a| if e[a] > e[best] { a } else { best });
            let (i, n) = (c[axis] as u128, e[axis] as u128);
            let r = match self.partitioner {
                Partitioner::BlockCyclic => i % ranks as u128,
                _ => i * ranks as u128 / n,
            };
            owner[t.index()] = r as u32;
        }
    }
}

/// How far a range boundary may move from its balanced position, as a fraction of the mean
/// range length: each range keeps within 1 +- 2 / `SLACK` of the mean.
const SLACK: usize = 16;

/// Where each of `ranks` contiguous ranges of `order` (tasks in priority order) starts:
/// boundary `r` is at its balanced position `ceil(r * n / ranks)`, or within
/// `n / ranks / SLACK` of it where fewer values of tasks of `order` cross it to a reader
/// in `order` (the balanced one on ties, then the earlier). Linear in the tasks and edges.
fn range_starts(plan: &Plan, order: &[TaskId], ranks: usize) -> Vec<usize> {
    let n = order.len();
    // pos[t]: the position of task t in `order` (+1; 0 where it is not in `order`).
    let mut pos = vec![0u32; plan.len()];
    for (j, t) in order.iter().enumerate() {
        pos[t.index()] = j as u32 + 1;
    }
    // cut[p]: the values made before position p and read at or after it (each is a
    // message from the ranks before the boundary to those after it).
    let mut delta = vec![0i64; n + 1];
    for (i, &t) in order.iter().enumerate() {
        // The last reader in `order` (users are ascending, as positions are).
        let last = plan
            .users(t)
            .iter()
            .rev()
            .map(|u| pos[u.index()])
            .find(|&p| p > 0);
        if let Some(last) = last {
            // The value crosses the boundaries i + 1 ..= last - 1 (its reader's position).
            delta[i + 1] += 1;
            delta[last as usize] -= 1;
        }
    }
    let mut cut = Vec::with_capacity(n + 1);
    let mut c = 0i64;
    for d in &delta {
        c += d;
        cut.push(c);
    }
    let slack = n / ranks / SLACK;
    let mut starts = vec![0usize; ranks];
    for (r, start) in starts.iter_mut().enumerate().skip(1) {
        let balanced = (r * n).div_ceil(ranks);
        let (lo, hi) = (balanced.saturating_sub(slack), (balanced + slack).min(n));
        *start = (lo..=hi)
            .min_by_key(|&p| (cut[p], p.abs_diff(balanced), p))
            .unwrap_or(balanced);
    }
    starts
}

/// The pins, indexed so that the first one matching a task is found in time independent of
/// the number of pins: key pins by key, prefix pins by prefix (a name is looked up by each
/// of its prefixes as long as a pin's prefix).
struct PinIndex<'a> {
    keys: FxHashMap<&'a Key, usize>,
    names: Prefixes<'a>,
    ops: Prefixes<'a>,
}

/// Prefix pins of one kind: the first pin of each prefix, and the prefixes' lengths.
#[derive(Default)]
struct Prefixes<'a> {
    first: FxHashMap<&'a str, usize>,
    /// The distinct lengths of the prefixes, ascending.
    lens: Vec<usize>,
}

impl<'a> Prefixes<'a> {
    fn insert(&mut self, prefix: &'a str, i: usize) {
        self.first.entry(prefix).or_insert(i);
        self.lens.push(prefix.len());
    }

    fn seal(&mut self) {
        self.lens.sort_unstable();
        self.lens.dedup();
    }

    /// The first pin whose prefix `s` starts with: `s` is looked up by its prefixes of the
    /// pins' lengths only, so that a long name costs time linear in its length.
    fn first_match(&self, s: &str) -> Option<usize> {
        self.lens
            .iter()
            .take_while(|&&n| n <= s.len())
            .filter_map(|&n| self.first.get(s.get(..n)?).copied())
            .min()
    }
}

impl<'a> PinIndex<'a> {
    fn new(pins: &'a [(Pin, usize)]) -> PinIndex<'a> {
        let mut ix = PinIndex {
            keys: FxHashMap::default(),
            names: Prefixes::default(),
            ops: Prefixes::default(),
        };
        // In order, keeping the first pin of each key or prefix.
        for (i, (pin, _)) in pins.iter().enumerate() {
            match pin {
                Pin::Key(k) => {
                    ix.keys.entry(k).or_insert(i);
                }
                Pin::Prefix(p) => ix.names.insert(p, i),
                Pin::Op(p) | Pin::OpAndReaders(p) => ix.ops.insert(p, i),
            }
        }
        ix.names.seal();
        ix.ops.seal();
        ix
    }

    /// The index of the first pin matching a task's key or op name.
    fn first_match(&self, key: &Key, op: &str) -> Option<usize> {
        [
            self.keys.get(key).copied(),
            self.names.first_match(key.name()),
            self.ops.first_match(op),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Arg, GraphBuilder, Op};

    fn array_plan() -> Plan {
        let id = Op::typed("id", |x: i64| x);
        let mut b = GraphBuilder::new();
        let mut outs = Vec::new();
        for i in 0..4i64 {
            for j in 0..2i64 {
                b.literal(("in", i, j), i).unwrap();
                b.task(("x", i, j), &id, [Arg::key(("in", i, j))]).unwrap();
                b.task(("y", i, j), &id, [Arg::key(("x", i, j))]).unwrap();
                outs.push(Key::tuple("y", [i, j]));
            }
        }
        b.task("total", &id, [Arg::key(("y", 0i64, 0i64))]).unwrap();
        outs.push("total".into());
        Plan::new(&b.build(), &outs).unwrap()
    }

    fn owner_of(plan: &Plan, owners: &[u32], key: Key) -> u32 {
        let t = plan.tasks().find(|&t| plan.key(t) == &key).unwrap();
        owners[t.index()]
    }

    #[test]
    fn blocks_follow_the_largest_axis_and_align_collections() {
        let plan = array_plan();
        let owners = Placement::default().owners(&plan, 2).unwrap();
        for i in 0..4i64 {
            for j in 0..2i64 {
                let want = (i as u32) * 2 / 4;
                assert_eq!(owner_of(&plan, &owners, Key::tuple("x", [i, j])), want);
                assert_eq!(owner_of(&plan, &owners, Key::tuple("y", [i, j])), want);
                let lit = owner_of(&plan, &owners, Key::tuple("in", [i, j]));
                assert_eq!(lit, EVERYWHERE);
            }
        }
        let cyclic = Placement::new(Partitioner::BlockCyclic)
            .owners(&plan, 2)
            .unwrap();
        assert_eq!(owner_of(&plan, &cyclic, Key::tuple("x", [3i64, 1])), 1);
        assert_eq!(owner_of(&plan, &cyclic, Key::tuple("x", [2i64, 1])), 0);
    }

    #[test]
    fn ranges_balance_by_count_and_pins_win() {
        let plan = array_plan();
        let owners = Placement::new(Partitioner::Ranges)
            .pin_prefix("y", 2)
            .pin_op("nothing-", 1)
            .owners(&plan, 3)
            .unwrap();
        let mut counts = [0usize; 3];
        for t in plan.tasks() {
            let o = owners[t.index()];
            if o == EVERYWHERE {
                continue;
            }
            if plan.key(t).name() == "y" {
                assert_eq!(o, 2);
            } else {
                counts[o as usize] += 1;
            }
        }
        // 9 unpinned tasks (8 "x" and "total") over 3 ranks.
        assert_eq!(counts, [3, 3, 3]);
        let bad = Placement::default().pin_key("total", 5).owners(&plan, 2);
        assert_eq!(bad.unwrap_err().kind(), ErrorKind::InvalidArgument);
        let by_op = Placement::default()
            .pin_op("i", 1)
            .owners(&plan, 2)
            .unwrap();
        assert!(
            plan.tasks()
                .all(|t| [1, EVERYWHERE].contains(&by_op[t.index()]))
        );
    }

    /// A chain of `n` tasks, each pinned by its key (as a user pins every block by hand).
    fn pinned_chain(n: usize) -> (Plan, Placement) {
        let id = Op::typed("id", |x: i64| x);
        let mut b = GraphBuilder::new();
        b.literal(("c", 0i64), 0).unwrap();
        let mut p = Placement::new(Partitioner::Ranges);
        for i in 1..n as i64 {
            b.task(("c", i), &id, [Arg::key(("c", i - 1))]).unwrap();
            p = p.pin_key(Key::tuple("c", [i]), (i % 2) as usize);
        }
        let plan = Plan::new(&b.build(), &[Key::tuple("c", [n as i64 - 1])]).unwrap();
        (plan, p)
    }

    /// Panics unless the owners of `large` (ten times `small` in some measure) take well
    /// under a hundred times as long as those of `small`: best of three, three attempts (a
    /// loaded machine). Both plans' output is on rank 1.
    fn assert_owners_linear(what: &str, small: &(Plan, Placement), large: &(Plan, Placement)) {
        let best = |(plan, p): &(Plan, Placement)| {
            (0..3)
                .map(|_| {
                    let t = std::time::Instant::now();
                    let owners = p.owners(plan, 2).unwrap();
                    assert_eq!(owners[plan.outputs()[0].index()], 1);
                    t.elapsed()
                })
                .min()
                .unwrap()
        };
        let mut report = Vec::new();
        for _ in 0..3 {
            let (s, l) = (best(small), best(large));
            let ratio = l.as_secs_f64() / s.as_secs_f64().max(1e-4);
            if ratio < 30.0 {
                return;
            }
            report.push(format!("{s:?} -> {l:?} (x{ratio:.0})"));
        }
        panic!("placement grows faster than linearly with {what}: {report:?}");
    }

    #[test]
    fn many_pins_cost_linear_time() {
        // Ten times the tasks and pins (a scan of the pins per task is quadratic).
        assert_owners_linear("pins", &pinned_chain(2_000), &pinned_chain(20_000));
    }

    #[test]
    fn long_names_cost_linear_time_with_a_prefix_pin() {
        // Names ten times longer (looking a name up by each of its prefixes hashes a
        // quadratic number of bytes). One prefix pin of each kind that matches nothing, and
        // one that matches every task.
        let p = Placement::default()
            .pin_prefix("m", 0)
            .pin_op("j", 0)
            .pin_prefix("nn", 1);
        let plan_of = |len: usize| {
            let id = Op::typed("id", |x: i64| x);
            let name = "n".repeat(len);
            let mut b = GraphBuilder::new();
            b.literal((name.as_str(), 0i64), 0i64).unwrap();
            for i in 1..20i64 {
                b.task((name.as_str(), i), &id, [Arg::key((name.as_str(), i - 1))])
                    .unwrap();
            }
            let out = Key::tuple(name.as_str(), [19i64]);
            (Plan::new(&b.build(), &[out]).unwrap(), p.clone())
        };
        assert_owners_linear("name length", &plan_of(4_000), &plan_of(40_000));
    }

    #[test]
    fn prefixes_match_whole_characters_and_the_first_pin_wins() {
        let mut p = Prefixes::default();
        for (i, prefix) in ["\u{e9}", "a\u{e9}", "", "a", "a\u{e9}"]
            .into_iter()
            .enumerate()
        {
            p.insert(prefix, i);
        }
        p.seal();
        assert_eq!(p.lens, [0, 1, 2, 3]);
        // "a\u{e9}" is three bytes: its prefix of two bytes is not a whole character.
        assert_eq!(p.first_match("a\u{e9}x"), Some(1));
        assert_eq!(p.first_match("\u{e9}"), Some(0));
        assert_eq!(p.first_match("b"), Some(2));
        let mut q = Prefixes::default();
        q.insert("ab", 0);
        q.insert("a", 1);
        q.seal();
        assert_eq!(q.first_match("abc"), Some(0));
        assert_eq!(q.first_match("a\u{e9}"), Some(1));
        assert_eq!(q.first_match(""), None);
    }

    #[test]
    fn the_first_matching_pin_wins_whatever_its_kind() {
        let plan = array_plan();
        let key = Key::tuple("x", [1i64, 0]);
        // A prefix pin before a key pin wins, and the other way round.
        let p = Placement::default()
            .pin_prefix("x", 1)
            .pin_key(key.clone(), 0)
            .pin_key(key.clone(), 1);
        let owners = p.owners(&plan, 2).unwrap();
        assert_eq!(owner_of(&plan, &owners, key.clone()), 1);
        let p = Placement::default()
            .pin_key(key.clone(), 0)
            .pin_prefix("x", 1)
            .pin_op("", 1);
        let owners = p.owners(&plan, 2).unwrap();
        assert_eq!(owner_of(&plan, &owners, key.clone()), 0);
        assert_eq!(owner_of(&plan, &owners, Key::tuple("x", [2i64, 0])), 1);
        // An empty prefix matches every key; an op prefix before a key pin wins.
        let p = Placement::default()
            .pin_op("i", 0)
            .pin_key(key.clone(), 1)
            .pin_prefix("", 1);
        let owners = p.owners(&plan, 2).unwrap();
        assert!(
            plan.tasks()
                .all(|t| [0, EVERYWHERE].contains(&owners[t.index()]))
        );
        let p = Placement::default().pin_prefix("", 1);
        let owners = p.owners(&plan, 2).unwrap();
        assert!(
            plan.tasks()
                .all(|t| [1, EVERYWHERE].contains(&owners[t.index()]))
        );
        // A prefix that is not a whole character of a name matches nothing wrongly.
        let p = Placement::default()
            .pin_prefix("\u{e9}", 1)
            .pin_prefix("y", 0);
        let owners = p.owners(&plan, 2).unwrap();
        assert_eq!(owner_of(&plan, &owners, Key::tuple("y", [3i64, 1])), 0);
    }
}

#[cfg(test)]
mod range_tests {
    use super::*;
    use crate::testing::{DagConfig, TestDag};
    use crate::{Arg, GraphBuilder, Key, Op};

    #[test]
    fn a_range_boundary_moves_to_where_no_edge_crosses() {
        // Two chains of 48 and 52 tasks: the balanced boundary (50) would cut the second
        // chain; 48 sends nothing across and is within the slack.
        let id = Op::typed("id", |x: i64| x);
        let mut b = GraphBuilder::new();
        for (name, len) in [("a", 48i64), ("b", 52)] {
            b.task((name, 0i64), &id, [Arg::lit(0)]).unwrap();
            for i in 1..len {
                b.task((name, i), &id, [Arg::key((name, i - 1))]).unwrap();
            }
        }
        let outs = [Key::tuple("a", [47i64]), Key::tuple("b", [51i64])];
        let plan = Plan::new(&b.build(), &outs).unwrap();
        let owners = Placement::new(Partitioner::Ranges)
            .owners(&plan, 2)
            .unwrap();
        for t in plan.tasks() {
            let want = u32::from(plan.key(t).name() == "b");
            assert_eq!(owners[t.index()], want, "{}", plan.key(t));
        }
    }

    #[test]
    fn range_boundaries_send_the_fewest_values_within_the_slack() {
        let cfg = DagConfig {
            min_nodes: 1,
            max_nodes: 400,
            tracked: false,
            ..DagConfig::default()
        };
        for seed in 0..40u64 {
            let plan = TestDag::from_seed(seed, &cfg).plan().unwrap();
            let order: Vec<TaskId> = plan.tasks().filter(|&t| plan.op(t).is_some()).collect();
            let n = order.len();
            let at: std::collections::HashMap<TaskId, usize> =
                order.iter().enumerate().map(|(j, &t)| (t, j)).collect();
            // Brute force: the values made before boundary p and read at or after it.
            let cut = |p: usize| {
                order
                    .iter()
                    .filter(|&&d| {
                        at[&d] < p
                            && plan
                                .users(d)
                                .iter()
                                .any(|u| at.get(u).is_some_and(|&j| j >= p))
                    })
                    .count()
            };
            for ranks in 1..6usize {
                let owners = Placement::new(Partitioner::Ranges)
                    .owners(&plan, ranks)
                    .unwrap();
                let mine: Vec<usize> = order.iter().map(|t| owners[t.index()] as usize).collect();
                // Contiguous, ascending ranges covering every rank in order.
                assert!(mine.windows(2).all(|w| w[0] <= w[1]), "seed {seed}");
                let slack = n / ranks / SLACK;
                for r in 1..ranks {
                    let start = mine.iter().take_while(|&&o| o < r).count();
                    let balanced = (r * n).div_ceil(ranks);
                    assert!(start.abs_diff(balanced) <= slack, "seed {seed} rank {r}");
                    let (lo, hi) = (balanced.saturating_sub(slack), (balanced + slack).min(n));
                    let best = (lo..=hi).map(cut).min().unwrap();
                    assert_eq!(cut(start), best, "seed {seed}, {ranks} ranks, boundary {r}");
                }
            }
        }
    }
}
