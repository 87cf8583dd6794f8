//! The in-crate body of the `spec_json` fuzz target, also run by `cargo test` on the corpus.

use super::{ArrayValue, Spec, SpecError};
use crate::exec::{Executor, Pool, Sequential};
use crate::graph::{Arg, Graph, Node, Op, Task};
use crate::plan::Plan;
use crate::value::Value;
use crate::{ErrorKind, TaskError};
use rustc_hash::FxHashMap;
use std::sync::OnceLock;

/// Largest graph the fuzz body runs (bigger ones are only read and written).
const FUZZ_MAX_NODES: usize = 512;
/// Largest value, in [`bounded_size`] units, that an op may take or return under fuzzing.
const FUZZ_MAX_SIZE: usize = 1 << 16;
/// Ops that waste time or panic on purpose: graphs using them are not run under fuzzing.
const FUZZ_SKIPPED_OPS: &[&str] = &["spin", "sleep", "panic"];

/// Checks one input as a spec file, panicking only when Blockwork itself is wrong:
///
/// 1. reading arbitrary bytes returns a spec or a [`SpecError`], never a panic;
/// 2. a spec read writes back to JSON, and that reads back equal (the round trip);
/// 3. a small spec runs on [`Sequential`] and on a [`Pool`] with the same outcome: equal
///    values, or an error on both, and no leaked values.
///
/// Ops run under a size guard (a bound on the values they take and return) so that small inputs
/// cannot build huge values, and graphs using `spin`, `sleep` or `panic` are not run.
///
/// ```
/// blockwork::spec::fuzz_spec_json(br#"{"nodes": {"a": 1, "b": {"op": "inc", "args": [{"ref": "a"}]}}}"#);
/// blockwork::spec::fuzz_spec_json(b"not json");
/// ```
pub fn fuzz_spec_json(data: &[u8]) {
    let spec = match Spec::from_slice(data) {
        Ok(spec) => spec,
        Err(e) => {
            check_error(&e);
            return;
        }
    };
    let text = spec.to_json().expect("a spec that was read can be written");
    let again = Spec::from_json(&text).expect("a written spec reads back");
    assert_eq!(again, spec, "the round trip changed the spec:\n{text}");
    if spec.graph().len() > FUZZ_MAX_NODES || uses_skipped_ops(spec.graph()) {
        return;
    }
    let graph = guarded(spec.graph());
    let plan = Plan::new(&graph, &spec.targets()).expect("a spec that was read plans");
    let seq = Sequential::new().run(&plan);
    let par = fuzz_pool().run(&plan);
    match (seq, par) {
        (Ok(a), Ok(b)) => {
            assert!(
                a.values.len() == b.values.len()
                    && a.values.iter().zip(&b.values).all(|(x, y)| same(x, y)),
                "sequential and pool results differ: {:?} vs {:?}",
                a.values,
                b.values
            );
            assert_eq!((a.stats.leaked_values, b.stats.leaked_values), (0, 0));
        }
        (Err(a), Err(b)) => {
            assert!(matches!(a.kind(), ErrorKind::TaskFailed), "{a}");
            assert!(matches!(b.kind(), ErrorKind::TaskFailed), "{b}");
        }
        (a, b) => panic!("executors disagree: sequential {a:?}, pool {b:?}"),
    }
}

/// Equal values, where two arrays are equal when their names are (names hash the recipe,
/// and each executor makes its own array value).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(x, y)| same(x, y))
        }
        (Value::Opaque(_), Value::Opaque(_)) => {
            match (
                a.downcast_ref::<ArrayValue>(),
                b.downcast_ref::<ArrayValue>(),
            ) {
                (Some(x), Some(y)) => x.array().name() == y.array().name(),
                _ => a == b,
            }
        }
        _ => a == b,
    }
}

fn check_error(e: &SpecError) {
    let shown = e.to_string();
    assert!(
        e.path().starts_with('$'),
        "error path {:?} of {shown}",
        e.path()
    );
    assert!(!e.message().is_empty());
}

fn fuzz_pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        Pool::builder()
            .threads(2)
            .pin(false)
            .build()
            .expect("a two-thread pool")
    })
}

fn uses_skipped_ops(g: &Graph) -> bool {
    let mut found = false;
    for (_, node) in g.iter() {
        if let Node::Task(t) = node {
            for_each_task(t, &mut |t| found |= FUZZ_SKIPPED_OPS.contains(&t.op.name()));
        }
    }
    found
}

fn for_each_task(t: &Task, f: &mut impl FnMut(&Task)) {
    f(t);
    for a in &t.args {
        for_each_arg_task(a, f);
    }
}

fn for_each_arg_task(a: &Arg, f: &mut impl FnMut(&Task)) {
    match a {
        Arg::Task(t) => for_each_task(t, f),
        Arg::List(items) => items.iter().for_each(|a| for_each_arg_task(a, f)),
        Arg::Ref(_) | Arg::Lit(_) => {}
    }
}

/// The graph with every op replaced by a size-guarded op of the same name.
fn guarded(g: &Graph) -> Graph {
    let mut ops: FxHashMap<String, Op> = FxHashMap::default();
    g.iter()
        .map(|(k, node)| {
            let node = match node {
                Node::Task(t) => Node::Task(guard_task(t, &mut ops)),
                other => other.clone(),
            };
            (k.clone(), node)
        })
        .collect()
}

fn guard_task(t: &Task, ops: &mut FxHashMap<String, Op>) -> Task {
    let op = ops
        .entry(t.op.name().to_owned())
        .or_insert_with(|| guard(t.op.clone()))
        .clone();
    let args = t.args.iter().map(|a| guard_arg(a, ops)).collect();
    Task { op, args }
}

fn guard_arg(a: &Arg, ops: &mut FxHashMap<String, Op>) -> Arg {
    match a {
        Arg::Task(t) => Arg::Task(Box::new(guard_task(t, ops))),
        Arg::List(items) => Arg::List(items.iter().map(|a| guard_arg(a, ops)).collect()),
        other => other.clone(),
    }
}

fn guard(inner: Op) -> Op {
    let name = inner.name().to_owned();
    Op::new(name, move |args: &[Value]| {
        if bounded_size(args, FUZZ_MAX_SIZE).is_none() {
            return Err(TaskError::with_kind(
                ErrorKind::TooLarge,
                "arguments over the fuzz size budget",
            ));
        }
        let out = inner.call(args)?;
        if bounded_size(std::slice::from_ref(&out), FUZZ_MAX_SIZE).is_none() {
            return Err(TaskError::with_kind(
                ErrorKind::TooLarge,
                "result over the fuzz size budget",
            ));
        }
        Ok(out)
    })
}

/// The size of `values` counting one unit per value, per 8 bytes of string and per element
/// or block of an array (what computing it costs), or `None` once
/// it exceeds `budget`. Shared sublists count each time they appear, which is what a walk
/// over the value (printing it, summing its bytes) costs; the budget bounds that walk.
fn bounded_size(values: &[Value], budget: usize) -> Option<usize> {
    let mut stack: Vec<&Value> = values.iter().collect();
    let mut total = 0usize;
    while let Some(v) = stack.pop() {
        total += 1;
        match v {
            Value::Str(s) => total += s.len() / 8,
            Value::List(items) => stack.extend(items.iter()),
            Value::Opaque(_) => {
                if let Some(a) = v.downcast_ref::<ArrayValue>() {
                    let a = a.array();
                    total = total.saturating_add(a.len().max(a.chunks().nblocks()));
                }
            }
            _ => {}
        }
        if total + stack.len() > budget {
            return None;
        }
    }
    Some(total)
}
