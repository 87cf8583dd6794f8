//! Errors of reading and writing spec files, each with the JSON path of the problem.

use crate::error::{Error, ErrorKind};
use std::fmt;

/// What is wrong with a spec file (or with a graph that cannot be written as one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SpecErrorKind {
    /// The file is not JSON (or nests deeper than the reader allows).
    Syntax,
    /// A JSON value of the wrong type where something else was expected.
    WrongType,
    /// A required field is absent.
    MissingField,
    /// A field the format does not know (often a typo).
    UnknownField,
    /// The same field twice in one object.
    DuplicateField,
    /// A node object holds none or several of `literal`, `alias` and `op`.
    AmbiguousNode,
    /// The `format` field names a version this reader does not know.
    UnknownFormat,
    /// A key that is neither a string nor `[name, atom...]` with integer or string atoms.
    BadKey,
    /// A literal that no [`Value`](crate::Value) represents (an integer beyond `i64`, an
    /// unknown special float).
    BadValue,
    /// An op name that the registry does not have.
    UnknownOp,
    /// An op given a number of arguments outside its arity.
    Arity,
    /// Two nodes with the same key.
    DuplicateKey,
    /// A reference, alias or output naming a key that is not in the file.
    MissingKey,
    /// A cycle among the nodes.
    Cycle,
    /// The graph exceeds a structural limit (argument nesting).
    TooLarge,
    /// The file could not be read.
    Io,
    /// A graph that cannot be written as a spec: an op that is not in the registry, or an
    /// opaque value.
    Unserializable,
}

/// A spec file problem: what is wrong, where (a JSON path such as `$.nodes[3].args[0]`), and a
/// message that names the key of the node involved.
///
/// Converts into [`Error`] with the matching [`ErrorKind`] (missing keys, cycles and
/// duplicate keys keep their own kinds, the rest are [`ErrorKind::Spec`]).
///
/// ```
/// use blockwork::spec::{Spec, SpecErrorKind};
/// let err = Spec::from_json(r#"{"nodes": [{"key": "x", "op": "nope"}]}"#).unwrap_err();
/// assert_eq!(err.kind(), SpecErrorKind::UnknownOp);
/// assert_eq!(err.path(), "$.nodes[0].op");
/// assert!(err.to_string().contains("unknown op 'nope'"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    kind: SpecErrorKind,
    path: String,
    message: String,
}

impl SpecError {
    /// An error of `kind` at `path`.
    #[cold]
    pub fn new(kind: SpecErrorKind, path: impl fmt::Display, message: impl Into<String>) -> Self {
        SpecError {
            kind,
            path: path.to_string(),
            message: message.into(),
        }
    }

    /// What is wrong.
    pub fn kind(&self) -> SpecErrorKind {
        self.kind
    }

    /// Where: a JSON path from the document root `$`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The message, without the path.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The class of [`Error`] this converts into.
    pub fn error_kind(&self) -> ErrorKind {
        match self.kind {
            SpecErrorKind::MissingKey => ErrorKind::MissingKey,
            SpecErrorKind::Cycle => ErrorKind::Cycle,
            SpecErrorKind::DuplicateKey => ErrorKind::DuplicateKey,
            SpecErrorKind::TooLarge => ErrorKind::TooLarge,
            SpecErrorKind::Io => ErrorKind::Io,
            SpecErrorKind::Unserializable => ErrorKind::InvalidArgument,
            _ => ErrorKind::Spec,
        }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {}: {}", self.path, self.message)
    }
}

impl std::error::Error for SpecError {}

impl From<SpecError> for Error {
    #[cold]
    fn from(e: SpecError) -> Error {
        Error::new(e.error_kind(), e.to_string())
    }
}
