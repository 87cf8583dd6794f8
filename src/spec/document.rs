//! The [`Spec`] type: a graph and the keys it is meant to produce, read from and written to
//! JSON (by `read` and `write`), and the format constants both sides share.

use super::json::{self, Json, Path};
use super::limits::DEFAULT_MAX_SPEC_BYTES;
use super::{Registry, SpecError, SpecErrorKind, read, write};
use crate::graph::Graph;
use crate::key::Key;
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
    pub(super) graph: Graph,
    pub(super) outputs: Vec<Key>,
    pub(super) description: Option<String>,
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
