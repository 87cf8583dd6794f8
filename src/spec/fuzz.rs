//! The in-crate bodies of the `spec_json` and `spec_budget` fuzz targets, also run by
//! `cargo test` on their corpora.

use super::{ArrayValue, Limits, Registry, Spec, SpecError, value_json_text};
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

/// The value budget the `spec_budget` target reads specs with: 1 MiB.
pub const FUZZ_BUDGET_BYTES: usize = 1 << 20;
/// The array ops the `spec_budget` target runs (other array ops have their own limits, on
/// arrays rather than on values, and are left to `spec_json`).
const BUDGET_ARRAY_OPS: &[&str] = &["array.from_list", "array.shape", "array.sum"];

/// Checks one input as a spec file read with a small value budget
/// ([`FUZZ_BUDGET_BYTES`]) and run without any other guard: every builtin that grows, compares
/// or converts values must stay within the budget by itself.
///
/// 1. reading returns a spec or a [`SpecError`];
/// 2. a spec of at most 512 nodes, using no op that sleeps, spins or panics and no array op
///    but `array.from_list`, `array.shape` and `array.sum`, runs on [`Sequential`] to values
///    or to a task error (typed, never a panic);
/// 3. each value it produces prints as JSON ([`value_json_text`]) within the budget, or
///    is refused with [`TooLarge`](ErrorKind::TooLarge); printed text is at most 8 times the
///    budget (escapes included).
///
/// Memory stays bounded because nothing is built past the budget: the fuzzer runs with a
/// 512 MiB RSS limit to catch one that is.
///
/// ```
/// blockwork::spec::fuzz_spec_budget(br#"{"nodes": {"a": [1, 2], "b": {"op": "concat", "args": [{"ref": "a"}, {"ref": "a"}]}}}"#);
/// blockwork::spec::fuzz_spec_budget(b"not json");
/// ```
pub fn fuzz_spec_budget(data: &[u8]) {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    let reg = REGISTRY.get_or_init(|| {
        Registry::builtins_with_limits(Limits {
            max_value_bytes: FUZZ_BUDGET_BYTES,
        })
    });
    let spec = match Spec::from_slice_with(data, reg) {
        Ok(spec) => spec,
        Err(e) => {
            check_error(&e);
            return;
        }
    };
    if spec.graph().len() > FUZZ_MAX_NODES || !budget_ops_only(spec.graph()) {
        return;
    }
    let Ok(plan) = Plan::new(spec.graph(), &spec.targets()) else {
        return; // typed planning errors (nesting) are `spec_json`'s concern
    };
    match Sequential::new().run(&plan) {
        Ok(out) => {
            for v in &out.values {
                match value_json_text(v, FUZZ_BUDGET_BYTES) {
                    Ok(text) => assert!(
                        text.len() <= 8 * FUZZ_BUDGET_BYTES,
                        "{} bytes of JSON printed within the budget",
                        text.len()
                    ),
                    Err(e) => assert_eq!(e.kind(), ErrorKind::TooLarge, "{e}"),
                }
            }
        }
        Err(e) => assert_eq!(e.kind(), ErrorKind::TaskFailed, "{e}"),
    }
}

fn budget_ops_only(g: &Graph) -> bool {
    let mut ok = true;
    for (_, node) in g.iter() {
        if let Node::Task(t) = node {
            for_each_task(t, &mut |t| {
                let name = t.op.name();
                ok &= !FUZZ_SKIPPED_OPS.contains(&name)
                    && (!name.starts_with("array.") || BUDGET_ARRAY_OPS.contains(&name));
            });
        }
    }
    ok
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
