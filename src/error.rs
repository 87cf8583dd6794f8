//! Errors: one enum, each variant a distinct class of failure with its diagnostic payload.
//!
//! Every fallible public function returns [`Result`]. Tests and callers branch on
//! [`Error::kind`], which is `Copy` and stable, rather than on message text.

use crate::key::Key;
use std::fmt;
use std::sync::Arc;

/// The class of an [`Error`], for matching without destructuring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A task refers to a key that is not in the graph, or a requested key is absent.
    MissingKey,
    /// The graph has a cycle.
    Cycle,
    /// A builder was given the same key twice.
    DuplicateKey,
    /// A task's operation returned an error.
    TaskFailed,
    /// A task's operation panicked.
    TaskPanicked,
    /// A graph or plan exceeds a structural limit (task count, nesting depth).
    TooLarge,
    /// An argument was out of its domain (bad thread count, bad option, wrong type).
    InvalidArgument,
    /// Shapes or chunk grids that do not fit together.
    Shape,
    /// An index or axis out of range, or a zero step.
    Index,
    /// A size computation overflowed.
    Overflow,
    /// A value had the wrong type for the operation.
    Type,
    /// A reduction over nothing where the result is undefined (the mean of no values).
    Empty,
    /// Reading or writing a file failed.
    Io,
    /// A spec file could not be parsed or checked.
    Spec,
    /// Code the executor calls outside a task's op panicked: an [`Observer`] callback, a
    /// value's [`Payload::nbytes`] or a value's `Drop`. The run ends with this error and the
    /// executor stays usable.
    ///
    /// [`Observer`]: crate::Observer
    /// [`Payload::nbytes`]: crate::Payload::nbytes
    CallbackPanicked,
}

/// Everything that can go wrong in Blockwork.
///
/// ```
/// use blockwork::{ErrorKind, Graph, Key, Sequential, Executor};
/// let g = Graph::new();
/// let err = Sequential::new().get(&g, "nothing").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::MissingKey);
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A reference to a key that is not in the graph.
    #[error("missing key {key}{}", referrer.as_ref().map(|r| format!(" (referenced by {r})")).unwrap_or_default())]
    MissingKey {
        /// The key that was not found.
        key: Key,
        /// The node that refers to it, or `None` when it was requested directly.
        referrer: Option<Key>,
    },
    /// A cycle, listed from one key back to itself (`a -> b -> a`).
    #[error("cycle detected: {}", CyclePath(path))]
    Cycle {
        /// The keys on the cycle; the first and last are the same key.
        path: Vec<Key>,
    },
    /// A builder was given the same key twice.
    #[error("duplicate key {key}")]
    DuplicateKey {
        /// The key given twice.
        key: Key,
    },
    /// A task failed or panicked while running.
    #[error("task {key} ({op}) {}: {message}", if *panicked { "panicked" } else { "failed" })]
    Task {
        /// The key of the task (for a nested task, the key of the node that holds it).
        key: Key,
        /// The name of the operation that failed (for a failure inside a nested task, the
        /// nested task's operation).
        op: Arc<str>,
        /// What the operation reported, or the panic payload.
        message: String,
        /// Whether the operation panicked rather than returning an error.
        panicked: bool,
        /// The class the operation gave its error ([`TaskError::kind`]), for example
        /// [`ErrorKind::Type`] or [`ErrorKind::Shape`]; [`ErrorKind::TaskPanicked`] for a panic.
        cause: ErrorKind,
    },
    /// Code the executor called outside a task's op panicked (an observer callback, a value's
    /// `nbytes` or `Drop`); see [`ErrorKind::CallbackPanicked`].
    #[error("{what} panicked{}: {message}", key.as_ref().map(|k| format!(" (task {k})")).unwrap_or_default())]
    Callback {
        /// What panicked, for example `observer task_started` or `drop of a value`.
        what: &'static str,
        /// The task being started, finished or freed, when there is one.
        key: Option<Key>,
        /// The panic payload.
        message: String,
    },
    /// Any other class of error, with a message.
    #[error("{kind:?}: {message}")]
    Other {
        /// The class.
        kind: ErrorKind,
        /// What went wrong.
        message: String,
    },
}

impl Error {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::MissingKey { .. } => ErrorKind::MissingKey,
            Error::Cycle { .. } => ErrorKind::Cycle,
            Error::DuplicateKey { .. } => ErrorKind::DuplicateKey,
            Error::Task {
                panicked: false, ..
            } => ErrorKind::TaskFailed,
            Error::Task { panicked: true, .. } => ErrorKind::TaskPanicked,
            Error::Callback { .. } => ErrorKind::CallbackPanicked,
            Error::Other { kind, .. } => *kind,
        }
    }

    /// An error of the given class with a message.
    #[cold]
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error::Other {
            kind,
            message: message.into(),
        }
    }

    /// For task errors, the class the operation reported (its [`TaskError::kind`]).
    pub fn task_cause(&self) -> Option<ErrorKind> {
        match self {
            Error::Task { cause, .. } => Some(*cause),
            _ => None,
        }
    }

    /// The key of the failing task, for task errors.
    pub fn task_key(&self) -> Option<&Key> {
        match self {
            Error::Task { key, .. } => Some(key),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    #[cold]
    fn from(e: std::io::Error) -> Self {
        Error::new(ErrorKind::Io, e.to_string())
    }
}

struct CyclePath<'a>(&'a [Key]);

impl fmt::Display for CyclePath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, k) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" -> ")?;
            }
            write!(f, "{k}")?;
        }
        Ok(())
    }
}

/// A `Result` with Blockwork's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What an operation returns when it fails: a class and a message.
///
/// The executor wraps it into [`Error::Task`] with the failing key and op name; the class is
/// kept for errors that are not plain task failures (a shape error inside an array kernel is
/// still reported as a failed task, with the shape message).
///
/// ```
/// use blockwork::TaskError;
/// let e = TaskError::new("division by zero");
/// assert_eq!(e.message(), "division by zero");
/// ```
#[derive(Debug, Clone)]
pub struct TaskError {
    kind: ErrorKind,
    message: String,
}

impl TaskError {
    /// A task failure with a message.
    #[cold]
    pub fn new(message: impl Into<String>) -> TaskError {
        TaskError {
            kind: ErrorKind::TaskFailed,
            message: message.into(),
        }
    }

    /// A failure of a specific class (for example [`ErrorKind::Type`]).
    #[cold]
    pub fn with_kind(kind: ErrorKind, message: impl Into<String>) -> TaskError {
        TaskError {
            kind,
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The class given at construction.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TaskError {}

impl From<Error> for TaskError {
    #[cold]
    fn from(e: Error) -> Self {
        TaskError {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}
impl From<String> for TaskError {
    #[cold]
    fn from(s: String) -> Self {
        TaskError::new(s)
    }
}
impl From<&str> for TaskError {
    #[cold]
    fn from(s: &str) -> Self {
        TaskError::new(s)
    }
}
