//! A plan consistency checker: the plan's own invariants, then its agreement with the graph,
//! recomputed naively from the graph alone.

use crate::graph::{Graph, Node};
use crate::key::Key;
use crate::plan::{Plan, TaskId};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Checks every invariant a [`Plan`] promises, against the graph it was built from:
///
/// - each task's dependencies are distinct, ascending and smaller than the task; its users
///   likewise and larger; the two edge lists are mirror images; `n_deps` and `n_users` match
///   them (outputs count one extra user); the roots are exactly the tasks without dependencies;
/// - each task is a literal or task node of the graph (never an alias), with the same op, and
///   its dependencies are exactly the node's references with aliases followed;
/// - no key appears twice, and the tasks are exactly the non-alias nodes reachable from the
///   requested keys (culling), each output resolving to its requested key.
///
/// Returns a description of the first violation found.
///
/// ```
/// use blockwork::testing::{DagConfig, TestDag, check_plan};
/// let dag = TestDag::from_seed(3, &DagConfig::default());
/// check_plan(&dag.plan()?).unwrap();
/// # Ok::<(), blockwork::Error>(())
/// ```
pub fn check_plan(plan: &Plan) -> Result<(), String> {
    check_edges(plan)?;
    check_counts(plan)?;
    check_against_graph(plan)?;
    check_culling(plan)
}

fn check_edges(plan: &Plan) -> Result<(), String> {
    let mut edges = 0usize;
    for t in plan.tasks() {
        let deps = plan.deps(t);
        edges += deps.len();
        if deps.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!(
                "deps of {t:?} are not strictly ascending: {deps:?}"
            ));
        }
        if let Some(d) = deps.iter().find(|&&d| d >= t) {
            return Err(format!("{t:?} depends on {d:?}, which is not earlier"));
        }
        let users = plan.users(t);
        if users.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!("users of {t:?} are not strictly ascending"));
        }
        if let Some(u) = users.iter().find(|&&u| u <= t) {
            return Err(format!("{u:?} uses {t:?} but is not later"));
        }
        for d in deps {
            if plan.users(*d).binary_search(&t).is_err() {
                return Err(format!("{t:?} depends on {d:?} but is not among its users"));
            }
        }
        for u in users {
            if plan.deps(*u).binary_search(&t).is_err() {
                return Err(format!(
                    "{u:?} is a user of {t:?} but does not depend on it"
                ));
            }
        }
    }
    if edges != plan.n_edges() {
        return Err(format!(
            "{edges} dependency edges, plan says {}",
            plan.n_edges()
        ));
    }
    Ok(())
}

fn check_counts(plan: &Plan) -> Result<(), String> {
    let (n_deps, n_users) = (plan.n_deps(), plan.n_users());
    if n_deps.len() != plan.len() || n_users.len() != plan.len() {
        return Err("count arrays do not have one entry per task".into());
    }
    let outputs: HashSet<TaskId> = plan.outputs().iter().copied().collect();
    for t in plan.tasks() {
        let i = t.index();
        if n_deps[i] as usize != plan.deps(t).len() {
            return Err(format!(
                "n_deps[{t:?}] = {}, deps = {:?}",
                n_deps[i],
                plan.deps(t)
            ));
        }
        let want = plan.users(t).len() + usize::from(outputs.contains(&t));
        if n_users[i] as usize != want {
            return Err(format!("n_users[{t:?}] = {}, expected {want}", n_users[i]));
        }
    }
    let roots: Vec<TaskId> = plan.tasks().filter(|&t| plan.deps(t).is_empty()).collect();
    if plan.roots() != roots.as_slice() {
        return Err(format!("roots {:?}, expected {roots:?}", plan.roots()));
    }
    if plan.outputs().len() != plan.output_keys().len() {
        return Err("outputs and output keys differ in length".into());
    }
    Ok(())
}

/// Follows aliases from `key` to a literal or task node, naively; returns that node's key.
fn resolve(graph: &Graph, key: &Key) -> Result<Key, String> {
    let mut k = key;
    for _ in 0..=graph.len() {
        match graph.get(k) {
            None => return Err(format!("key {k} (reached from {key}) is not in the graph")),
            Some(Node::Alias(target)) => k = target,
            Some(_) => return Ok(k.clone()),
        }
    }
    Err(format!("alias cycle from {key}"))
}

/// The keys a node refers to directly, aliases not yet followed.
fn refs_of(node: &Node) -> Vec<Key> {
    let mut out = Vec::new();
    node.for_each_ref(|r| out.push(r.clone()));
    out
}

fn check_against_graph(plan: &Plan) -> Result<(), String> {
    let graph = plan.graph();
    let mut seen: HashMap<&Key, TaskId> = HashMap::with_capacity(plan.len());
    for t in plan.tasks() {
        let key = plan.key(t);
        if let Some(prev) = seen.insert(key, t) {
            return Err(format!("key {key} is both {prev:?} and {t:?}"));
        }
        let node = graph
            .get(key)
            .ok_or_else(|| format!("task {t:?} has key {key}, not in the graph"))?;
        match node {
            Node::Alias(_) => return Err(format!("task {t:?} is the alias {key}")),
            Node::Literal(_) if plan.op(t).is_some() => {
                return Err(format!("literal {key} has an op"));
            }
            Node::Task(task) if !plan.op(t).is_some_and(|op| op.same(&task.op)) => {
                return Err(format!("task {key} does not run its node's op"));
            }
            _ => {}
        }
        let want = refs_of(node)
            .iter()
            .map(|r| resolve(graph, r))
            .collect::<Result<BTreeSet<Key>, String>>()?;
        let got: BTreeSet<Key> = plan.deps(t).iter().map(|&d| plan.key(d).clone()).collect();
        if got != want {
            return Err(format!(
                "deps of {key}: plan has {got:?}, graph says {want:?}"
            ));
        }
    }
    Ok(())
}

fn check_culling(plan: &Plan) -> Result<(), String> {
    let graph = plan.graph();
    let mut reachable: HashSet<Key> = HashSet::new();
    let mut stack: Vec<Key> = Vec::new();
    for (t, key) in plan.outputs().iter().zip(plan.output_keys()) {
        let k = resolve(graph, key)?;
        if plan.key(*t) != &k {
            return Err(format!(
                "output {key} resolves to {k}, plan has {}",
                plan.key(*t)
            ));
        }
        stack.push(k);
    }
    while let Some(k) = stack.pop() {
        if reachable.contains(&k) {
            continue;
        }
        if let Some(node) = graph.get(&k) {
            for r in refs_of(node) {
                stack.push(resolve(graph, &r)?);
            }
        }
        reachable.insert(k);
    }
    if reachable.len() != plan.len() {
        return Err(format!(
            "{} nodes are needed by the outputs, the plan has {} tasks",
            reachable.len(),
            plan.len()
        ));
    }
    Ok(())
}
