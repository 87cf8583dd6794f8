//! Spec files: task graphs written as JSON, made of builtin ops named in a [`Registry`].
//!
//! The format is documented in `docs/spec-format.md`. In short: a list of nodes, each with a
//! key (a string, or `[name, atoms...]` for a tuple key) and one of a `literal`, an `alias` of
//! another key, or an `op` with `args`; arguments are JSON literals, lists of arguments,
//! explicit references `{"ref": key}`, or nested tasks `{"op": ..., "args": [...]}`.
//!
//! ```
//! use blockwork::spec::Spec;
//! use blockwork::{Executor, Sequential, Value};
//! let spec = Spec::from_json(r#"{
//!     "nodes": [
//!         {"key": "x", "literal": 1},
//!         {"key": ["y", 0], "op": "inc", "args": [{"ref": "x"}]},
//!         {"key": "z", "op": "add", "args": [{"ref": ["y", 0]}, 10, {"op": "len", "args": [[1, 2]]}]}
//!     ],
//!     "outputs": ["z"]
//! }"#)?;
//! assert_eq!(Sequential::new().get(spec.graph(), "z")?, Value::Int(14));
//! // Graphs of builtin ops round-trip through JSON unchanged.
//! assert_eq!(Spec::from_json(&spec.to_json()?)?, spec);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Every problem in a file is a [`SpecError`] with its [`SpecErrorKind`] and the JSON path of
//! the offending part; reading never panics and never runs anything.

mod array_ops;
mod builtins;
mod error;
#[cfg(feature = "testing")]
mod fuzz;
mod json;
mod limits;
mod read;
mod registry;
mod write;

pub use array_ops::{ArrayValue, MAX_BLOCK_ELEMENTS, MAX_BLOCKS, MAX_LIST_ELEMENTS};
pub use error::{SpecError, SpecErrorKind};
#[cfg(feature = "testing")]
pub use fuzz::{FUZZ_BUDGET_BYTES, fuzz_spec_budget, fuzz_spec_json};
pub use limits::{DEFAULT_MAX_SPEC_BYTES, DEFAULT_MAX_VALUE_BYTES, Limits};
pub use registry::{Arity, Entry, Registry};

use crate::graph::{Graph, Op};
use crate::key::Key;
use crate::value::Value;
use json::{Json, Path};
use rustc_hash::FxHashSet;

/// The format name written to the `format` field; the reader accepts it or no `format`.
pub const FORMAT: &str = "blockwork-spec/1";

/// Deepest JSON nesting allowed inside one node (in its literal, alias or arguments), so that
/// every file read can be written back and read again. The JSON reader itself stops at 128
/// levels for the whole document.
pub const MAX_DEPTH: usize = 100;

/// A graph and the keys it is meant to produce: the contents of a spec file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Spec {
    graph: Graph,
    outputs: Vec<Key>,
    description: Option<String>,
}

impl Spec {
    /// A spec of `graph` with requested `outputs` (possibly none).
    pub fn new<K: Into<Key>>(graph: Graph, outputs: impl IntoIterator<Item = K>) -> Spec {
        Spec {
            graph,
            outputs: outputs.into_iter().map(Into::into).collect(),
            description: None,
        }
    }

    /// The same spec with a free-text description (written to the `description` field).
    pub fn with_description(mut self, description: impl Into<String>) -> Spec {
        self.description = Some(description.into());
        self
    }

    /// Reads a spec naming builtin ops.
    pub fn from_json(text: &str) -> Result<Spec, SpecError> {
        Spec::from_slice_with(text.as_bytes(), Registry::builtins())
    }

    /// Reads a spec from bytes (which must be UTF-8 JSON) naming builtin ops.
    pub fn from_slice(bytes: &[u8]) -> Result<Spec, SpecError> {
        Spec::from_slice_with(bytes, Registry::builtins())
    }

    /// Reads a spec whose ops come from `registry`.
    pub fn from_slice_with(bytes: &[u8], registry: &Registry) -> Result<Spec, SpecError> {
        let json: Json = json::parse(bytes).map_err(|e| {
            SpecError::new(
                SpecErrorKind::Syntax,
                Path::ROOT,
                format!("not valid JSON: {e}"),
            )
        })?;
        read::read(&json, registry)
    }

    /// Reads a spec file naming builtin ops. A file over [`DEFAULT_MAX_SPEC_BYTES`] is a
    /// [`TooLarge`](SpecErrorKind::TooLarge) error; [`Spec::read_file_with`] sets another cap.
    pub fn read_file(path: impl AsRef<std::path::Path>) -> Result<Spec, SpecError> {
        Spec::read_file_with(path, Registry::builtins(), DEFAULT_MAX_SPEC_BYTES)
    }

    /// Reads a spec file whose ops come from `registry`, refusing a file of more than
    /// `max_bytes` bytes (also one that never ends, such as `/dev/zero`) with a
    /// [`TooLarge`](SpecErrorKind::TooLarge) error before reading past the cap.
    pub fn read_file_with(
        path: impl AsRef<std::path::Path>,
        registry: &Registry,
        max_bytes: u64,
    ) -> Result<Spec, SpecError> {
        let path = path.as_ref();
        let cannot = |e: std::io::Error| {
            SpecError::new(
                SpecErrorKind::Io,
                Path::ROOT,
                format!("cannot read {}: {e}", path.display()),
            )
        };
        let file = std::fs::File::open(path).map_err(cannot)?;
        Spec::read_from(file, &path.display().to_string(), registry, max_bytes)
    }

    /// Reads a spec from `reader` (`name` says what it is, for messages), refusing more than
    /// `max_bytes` bytes with a [`TooLarge`](SpecErrorKind::TooLarge) error.
    ///
    /// ```
    /// use blockwork::spec::{Registry, Spec, SpecErrorKind};
    /// let text = br#"{"nodes": [{"key": "x", "literal": 1}]}"#;
    /// assert!(Spec::read_from(&text[..], "text", Registry::builtins(), 100).is_ok());
    /// let err = Spec::read_from(&text[..], "text", Registry::builtins(), 10).unwrap_err();
    /// assert_eq!(err.kind(), SpecErrorKind::TooLarge);
    /// ```
    pub fn read_from(
        reader: impl std::io::Read,
        name: &str,
        registry: &Registry,
        max_bytes: u64,
    ) -> Result<Spec, SpecError> {
        use std::io::Read;
        let mut bytes = Vec::new();
        reader
            .take(max_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| {
                SpecError::new(
                    SpecErrorKind::Io,
                    Path::ROOT,
                    format!("cannot read {name}: {e}"),
                )
            })?;
        if bytes.len() as u64 > max_bytes {
            return Err(SpecError::new(
                SpecErrorKind::TooLarge,
                Path::ROOT,
                format!("{name} is larger than the spec size cap of {max_bytes} bytes"),
            ));
        }
        Spec::from_slice_with(&bytes, registry)
    }

    /// The spec as JSON, for a graph of builtin ops.
    pub fn to_json(&self) -> Result<String, SpecError> {
        self.to_json_with(Registry::builtins())
    }

    /// The spec as JSON, for a graph whose ops are all in `registry`. An op that is not (by
    /// identity), an opaque value, or nesting beyond [`MAX_DEPTH`] is an error.
    pub fn to_json_with(&self, registry: &Registry) -> Result<String, SpecError> {
        write::write(self, registry)
    }

    /// The graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The requested outputs, in file order (possibly empty).
    pub fn outputs(&self) -> &[Key] {
        &self.outputs
    }

    /// The description, if the file has one.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// What to compute when nothing else is asked: the requested outputs, or, when the file
    /// names none, every key that no other node refers to.
    pub fn targets(&self) -> Vec<Key> {
        if self.outputs.is_empty() {
            sinks(&self.graph)
        } else {
            self.outputs.clone()
        }
    }

    /// The graph and the requested outputs.
    pub fn into_parts(self) -> (Graph, Vec<Key>) {
        (self.graph, self.outputs)
    }
}

/// The builtin op of that name (the same op each call, so graphs built with it round-trip).
///
/// ```
/// use blockwork::spec::builtin;
/// use blockwork::Value;
/// let add = builtin("add").unwrap();
/// assert_eq!(add.call(&[Value::Int(2), Value::Float(0.5)]).unwrap(), Value::Float(2.5));
/// assert!(builtin("no such op").is_none());
/// ```
pub fn builtin(name: &str) -> Option<Op> {
    Registry::builtins().get(name).map(|e| e.op.clone())
}

/// A value as JSON, as spec files write literals: `null` for unit, numbers, strings, arrays
/// for lists, and `{"float": "nan" | "inf" | "-inf"}` for floats JSON cannot hold. Opaque
/// values, and lists nested deeper than [`MAX_DEPTH`], have no JSON form.
///
/// ```
/// use blockwork::spec::value_to_json;
/// use blockwork::Value;
/// let v = Value::list([Value::Int(1), Value::Float(f64::NAN), Value::from("a")]);
/// assert_eq!(value_to_json(&v).unwrap().to_string(), r#"[1,{"float":"nan"},"a"]"#);
/// ```
pub fn value_to_json(v: &Value) -> Result<serde_json::Value, SpecError> {
    write::value_at(v, &Path::ROOT, 1)
}

/// A key as written on a command line: JSON (`"x"` or `["x", 0, 1]`) when the text starts
/// with `"` or `[`, otherwise the text itself as a string key.
///
/// ```
/// use blockwork::spec::parse_key;
/// use blockwork::Key;
/// assert_eq!(parse_key("total").unwrap(), Key::from("total"));
/// assert_eq!(parse_key(r#"["x", 0, "a"]"#).unwrap(), Key::tuple("x", [0.into(), "a".into()] as [blockwork::Atom; 2]));
/// assert!(parse_key("[1, 2]").is_err());
/// ```
pub fn parse_key(text: &str) -> Result<Key, SpecError> {
    if !(text.starts_with('[') || text.starts_with('"')) {
        return Ok(Key::from(text));
    }
    let json: Json = json::parse(text.as_bytes()).map_err(|e| {
        SpecError::new(
            SpecErrorKind::BadKey,
            Path::ROOT,
            format!("not a JSON key: {e}"),
        )
    })?;
    read::key(&json, &Path::ROOT)
}

/// A key as the text that [`parse_key`] reads back as the same key: a string key as itself,
/// unless it starts with `[` or `"`, in which case as a JSON string; a tuple key as a JSON
/// array. `blockwork run` names its outputs this way, so that a string key that looks like a
/// tuple (`"('x', 0)"`) and the tuple key `('x', 0)` never print alike.
///
/// ```
/// use blockwork::spec::{key_text, parse_key};
/// use blockwork::Key;
/// let tuple = Key::from(("x", 0));
/// assert_eq!(key_text(&tuple), r#"["x",0]"#);
/// assert_eq!(key_text(&Key::from("total")), "total");
/// assert_eq!(key_text(&Key::from(r#"["x",0]"#)), r#""[\"x\",0]""#);
/// for k in [tuple, Key::from("('x', 0)"), Key::from(r#"["x",0]"#), Key::from("\"q")] {
///     assert_eq!(parse_key(&key_text(&k)).unwrap(), k);
/// }
/// ```
pub fn key_text(key: &Key) -> String {
    let n = key.name();
    if !(key.is_tuple() || n.starts_with('[') || n.starts_with('"')) {
        return n.to_string();
    }
    write::key_json(key).to_string()
}

/// A value as JSON text, in the form of [`value_to_json`] but at any nesting depth (written
/// with an explicit stack), and only if it fits `max_bytes` as [`Value::deep_size`] measures
/// it (a shared sublist counts each time it is written). Opaque values are written as a
/// string of their debug text (`"<type (n bytes)>"`). A value over the budget is a
/// [`TooLarge`](crate::ErrorKind::TooLarge) error, before anything is written.
///
/// ```
/// use blockwork::spec::value_json_text;
/// use blockwork::{ErrorKind, Value};
/// let v = Value::list([Value::Int(1), Value::Float(f64::INFINITY), Value::list([Value::from("a")])]);
/// assert_eq!(value_json_text(&v, 1 << 20).unwrap(), r#"[1,{"float":"inf"},["a"]]"#);
/// assert_eq!(value_json_text(&v, 10).unwrap_err().kind(), ErrorKind::TooLarge);
/// ```
pub fn value_json_text(v: &Value, max_bytes: usize) -> crate::Result<String> {
    if v.deep_size(max_bytes).is_none() {
        return Err(crate::Error::new(
            crate::ErrorKind::TooLarge,
            format!("a value over the budget of {max_bytes} bytes cannot be printed"),
        ));
    }
    let mut out = String::new();
    write::value_text(v, &mut out);
    Ok(out)
}

/// Keys that no node of `graph` refers to, in graph order: what a graph is for.
pub fn sinks(graph: &Graph) -> Vec<Key> {
    let mut used: FxHashSet<Key> = FxHashSet::default();
    for (_, node) in graph.iter() {
        node.for_each_ref(|k| {
            used.insert(k.clone());
        });
    }
    graph
        .keys()
        .filter(|k| !used.contains(k))
        .cloned()
        .collect()
}
