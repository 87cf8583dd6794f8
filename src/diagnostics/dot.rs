//! Graphviz pictures of graphs.

use crate::graph::{Arg, Graph, Node, Task};
use crate::key::Key;
use crate::value::Value;
use rustc_hash::FxHashSet;
use std::fmt::Write;

/// Longest label line, in characters, before it is cut with an ellipsis.
const LABEL_CHARS: usize = 48;

/// The graph in Graphviz DOT: one node per key (tasks as ellipses labelled with their call,
/// literals as boxes with their value, aliases dashed), an edge from each dependency to its
/// user, and the keys in `highlight` drawn with a double border. Data flows upwards, as in
/// dask's pictures.
///
/// ```
/// use blockwork::diagnostics::to_dot;
/// use blockwork::{Arg, GraphBuilder, Key, Op};
/// let inc = Op::typed("inc", |x: i64| x + 1);
/// let mut b = GraphBuilder::new();
/// b.literal("x", 1)?.task("y", &inc, [Arg::key("x")])?;
/// let dot = to_dot(&b.build(), &[Key::from("y")]);
/// assert!(dot.starts_with("digraph"));
/// assert!(dot.contains("n0 -> n1"));
/// assert!(dot.contains("inc(x)"));
/// # Ok::<(), blockwork::Error>(())
/// ```
pub fn to_dot(graph: &Graph, highlight: &[Key]) -> String {
    let highlight: FxHashSet<&Key> = highlight.iter().collect();
    let mut out = String::with_capacity(96 * graph.len() + 128);
    out.push_str(
        "digraph blockwork {\n  rankdir=BT;\n  node [fontname=\"Helvetica\", fontsize=10];\n",
    );
    for (i, (key, node)) in graph.iter().enumerate() {
        let (shape, style, second) = match node {
            Node::Literal(v) => ("box", "solid", format!("= {}", short_value(v))),
            Node::Alias(target) => ("box", "dashed", format!("alias of {target}")),
            Node::Task(t) => ("ellipse", "solid", call_label(t)),
        };
        let label = format!("{}\n{}", cut(&key.to_string()), second);
        let peripheries = if highlight.contains(key) { 2 } else { 1 };
        let _ = writeln!(
            out,
            "  n{i} [label=\"{}\", shape={shape}, style={style}, peripheries={peripheries}];",
            escape(&label)
        );
    }
    for (i, (_, node)) in graph.iter().enumerate() {
        for dep in node.dependencies() {
            if let Some(j) = graph.map().get_index_of(&dep) {
                let _ = writeln!(out, "  n{j} -> n{i};");
            }
        }
    }
    out.push_str("}\n");
    out
}

/// `op(arg, ...)` with references shown by key, cut at [`LABEL_CHARS`].
fn call_label(t: &Task) -> String {
    let mut s = String::new();
    write_task(&mut s, t);
    cut(&s)
}

/// Writes a call; stops descending once the text is past the label length, so deep
/// argument trees cost little and recurse little.
fn write_task(s: &mut String, t: &Task) {
    s.push_str(t.op.name());
    s.push('(');
    for (i, a) in t.args.iter().enumerate() {
        if s.chars().count() > LABEL_CHARS {
            break;
        }
        if i > 0 {
            s.push_str(", ");
        }
        write_arg(s, a);
    }
    s.push(')');
}

fn write_arg(s: &mut String, a: &Arg) {
    if s.chars().count() > LABEL_CHARS {
        return;
    }
    match a {
        Arg::Ref(k) => {
            let _ = write!(s, "{k}");
        }
        Arg::Lit(v) => s.push_str(&short_value(v)),
        Arg::List(items) => {
            s.push('[');
            for (i, item) in items.iter().enumerate() {
                if s.chars().count() > LABEL_CHARS {
                    break;
                }
                if i > 0 {
                    s.push_str(", ");
                }
                write_arg(s, item);
            }
            s.push(']');
        }
        Arg::Task(t) => write_task(s, t),
    }
}

fn short_value(v: &Value) -> String {
    match v {
        Value::List(items) => format!("[{} items]", items.len()),
        other => cut(&format!("{other:?}")),
    }
}

fn cut(s: &str) -> String {
    if s.chars().count() <= LABEL_CHARS {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(LABEL_CHARS - 1).collect();
    out.push('…');
    out
}

/// A DOT double-quoted string body: quotes and backslashes escaped, newlines as `\n`.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}
