//! Writing: a [`Spec`] as JSON, one node per line, in the form the reader reads back equal.

use super::json::Path;
use super::{FORMAT, MAX_DEPTH, Registry, Spec, SpecError, SpecErrorKind as K};
use crate::graph::{Arg, Node, Task};
use crate::key::{Atom, Key};
use crate::value::Value;
use serde_json::{Map, Value as J, json};

/// Writes a spec document.
pub(super) fn write(spec: &Spec, reg: &Registry) -> Result<String, SpecError> {
    let root = Path::ROOT;
    let nodes_path = root.field("nodes");
    let mut out = String::with_capacity(64 * spec.graph.len() + 64);
    out.push_str("{\n  \"format\": ");
    out.push_str(&J::from(FORMAT).to_string());
    if let Some(d) = &spec.description {
        out.push_str(",\n  \"description\": ");
        out.push_str(&J::from(d.as_str()).to_string());
    }
    out.push_str(",\n  \"nodes\": [");
    for (i, (k, node)) in spec.graph.iter().enumerate() {
        let path = nodes_path.index(i);
        out.push_str(if i == 0 { "\n    " } else { ",\n    " });
        out.push_str(&node_json(k, node, reg, &path)?.to_string());
    }
    out.push_str(if spec.graph.is_empty() { "]" } else { "\n  ]" });
    if !spec.outputs.is_empty() {
        let outputs: Vec<J> = spec.outputs.iter().map(key_json).collect();
        out.push_str(",\n  \"outputs\": ");
        out.push_str(&J::Array(outputs).to_string());
    }
    out.push_str("\n}\n");
    Ok(out)
}

fn node_json(k: &Key, node: &Node, reg: &Registry, path: &Path) -> Result<J, SpecError> {
    let mut m = Map::new();
    m.insert("key".into(), key_json(k));
    match node {
        Node::Literal(v) => {
            m.insert("literal".into(), value_at(v, &path.field("literal"), 1)?);
        }
        Node::Alias(target) => {
            m.insert("alias".into(), key_json(target));
        }
        Node::Task(t) => task_into(&mut m, t, reg, path, 1)?,
    }
    // The reader limits the nesting of a node's contents (its fields' values), not of the
    // node object, so that both file forms give the same limit.
    if m.values().map(depth).max().unwrap_or(0) > MAX_DEPTH {
        return Err(too_deep(path));
    }
    Ok(J::Object(m))
}

/// `"op"` and `"args"` of a task into `m`, `depth` recursion steps into its node.
fn task_into(
    m: &mut Map<String, J>,
    t: &Task,
    reg: &Registry,
    path: &Path,
    depth: usize,
) -> Result<(), SpecError> {
    let name = t.op.name();
    let Some(entry) = reg.get(name).filter(|e| e.op.same(&t.op)) else {
        let msg = format!("op '{name}' is not in the registry, so a spec file cannot name it");
        return Err(SpecError::new(K::Unserializable, path.field("op"), msg));
    };
    let args_path = path.field("args");
    if !entry.arity.accepts(t.args.len()) {
        let msg = format!(
            "op '{name}' takes {} arguments, got {}",
            entry.arity,
            t.args.len()
        );
        return Err(SpecError::new(K::Arity, args_path, msg));
    }
    let mut args = Vec::with_capacity(t.args.len());
    for (i, a) in t.args.iter().enumerate() {
        args.push(arg_json(a, reg, &args_path.index(i), depth + 1)?);
    }
    m.insert("op".into(), J::from(t.op.name()));
    if !args.is_empty() {
        m.insert("args".into(), J::Array(args)); // absent means none, and nests less
    }
    Ok(())
}

/// An argument, `depth` recursion steps into its node.
fn arg_json(a: &Arg, reg: &Registry, path: &Path, depth: usize) -> Result<J, SpecError> {
    check_depth(path, depth)?;
    Ok(match a {
        Arg::Ref(k) => json!({ "ref": key_json(k) }),
        Arg::Lit(v @ (Value::List(_) | Value::Opaque(_))) => {
            json!({ "lit": value_at(v, &path.field("lit"), depth + 1)? })
        }
        Arg::Lit(v) => value_at(v, path, depth)?,
        Arg::List(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(arg_json(item, reg, &path.index(i), depth + 1)?);
            }
            J::Array(out)
        }
        Arg::Task(t) => {
            let mut m = Map::new();
            task_into(&mut m, t, reg, path, depth + 1)?;
            J::Object(m)
        }
    })
}

/// Each recursion step of the writer opens at least one JSON array or object, so a step
/// count above [`MAX_DEPTH`] already means the node cannot be read back; stopping there also
/// bounds the recursion on graphs built in code.
fn check_depth(path: &Path, depth: usize) -> Result<(), SpecError> {
    if depth > MAX_DEPTH {
        return Err(too_deep(path));
    }
    Ok(())
}

#[cold]
fn too_deep(path: &Path) -> SpecError {
    let msg = format!("nested deeper than {MAX_DEPTH} JSON levels within one node");
    SpecError::new(K::TooLarge, path, msg)
}

/// JSON nesting of a value: 0 for scalars, 1 + the deepest element for arrays and objects.
pub(super) fn depth(j: &J) -> usize {
    match j {
        J::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        J::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// A key as JSON: a string, or `[name, atoms...]`.
pub(super) fn key_json(k: &Key) -> J {
    if !k.is_tuple() {
        return J::from(k.name());
    }
    let mut out = Vec::with_capacity(k.n_atoms() + 1);
    out.push(J::from(k.name()));
    out.extend(k.atoms().map(|a| match a {
        Atom::Int(i) => J::from(i),
        Atom::Str(s) => J::from(&*s),
    }));
    J::Array(out)
}

/// Appends `v` as JSON text to `out`, with an explicit stack (any depth); opaque values as a
/// string of their debug text.
pub(super) fn value_text(v: &Value, out: &mut String) {
    use std::fmt::Write;
    let scalar = |v: &Value, out: &mut String| {
        let j = match v {
            Value::Opaque(_) => J::from(format!("{v:?}")),
            other => value_at(other, &Path::ROOT, 1).unwrap_or(J::Null),
        };
        let _ = write!(out, "{j}");
    };
    let Value::List(l) = v else {
        return scalar(v, out);
    };
    out.push('[');
    let mut stack: Vec<(std::slice::Iter<'_, Value>, bool)> = vec![(l.iter(), false)];
    while let Some((items, started)) = stack.last_mut() {
        let Some(item) = items.next() else {
            stack.pop();
            out.push(']');
            continue;
        };
        if std::mem::replace(started, true) {
            out.push(',');
        }
        match item {
            Value::List(inner) => {
                out.push('[');
                stack.push((inner.iter(), false));
            }
            other => scalar(other, out),
        }
    }
}

/// A value as JSON (see [`value_to_json`](super::value_to_json)), `depth` recursion steps
/// into its node.
pub(super) fn value_at(v: &Value, path: &Path, depth: usize) -> Result<J, SpecError> {
    check_depth(path, depth)?;
    Ok(match v {
        Value::Unit => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Float(f) if f.is_finite() => J::from(*f),
        Value::Float(f) if f.is_nan() => json!({ "float": "nan" }),
        Value::Float(f) if *f > 0.0 => json!({ "float": "inf" }),
        Value::Float(_) => json!({ "float": "-inf" }),
        Value::Str(s) => J::from(&**s),
        Value::List(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(value_at(item, &path.index(i), depth + 1)?);
            }
            J::Array(out)
        }
        Value::Opaque(p) => {
            let msg = format!("a {} value has no JSON form", p.type_name());
            return Err(SpecError::new(K::Unserializable, path, msg));
        }
    })
}
