//! Errors: one enum, each variant a distinct class of failure with its diagnostic payload.
//!
//! Every fallible public function returns [`Result`]. Tests and callers branch on
//! [`Error::kind`], which is `Copy` and stable, rather than on message text.

use crate::key::Key;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// The original error behind a failure, shared so that errors stay cheap to clone.
pub type Source = Arc<dyn StdError + Send + Sync + 'static>;

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
    /// An operation on a [`Filtered`](crate::array::Filtered) (the result of a boolean
    /// mask) needs chunk lengths that are not known until its blocks are computed: operands
    /// from different masks, an operand of more than one element, an arg reduction.
    /// `Filtered::compute_chunk_sizes` gives an array whose lengths are known.
    UnknownChunks,
    /// Reading or writing a file failed.
    Io,
    /// A file's contents are malformed: a JSON or CSV record that does not parse or does not
    /// fit the requested type, or store metadata that does not parse.
    Parse,
    /// A spec file could not be parsed or checked.
    Spec,
    /// Code the executor calls outside a task's op panicked: an [`Observer`] callback, a
    /// value's [`Payload::nbytes`] or a value's `Drop`. The run ends with this error and the
    /// executor stays usable.
    ///
    /// [`Observer`]: crate::Observer
    /// [`Payload::nbytes`]: crate::Payload::nbytes
    CallbackPanicked,
    /// A value could not cross between the ranks of a distributed run: its type has no
    /// codec, or its encoding is too large or malformed.
    Codec,
    /// The ranks of a distributed run disagree (different plans) or cannot exchange
    /// messages.
    Distributed,
}

#[cfg(feature = "distributed")]
impl ErrorKind {
    /// Every kind, in declaration order (the wire numbering of distributed runs).
    pub(crate) const ALL: [ErrorKind; 17] = [
        ErrorKind::MissingKey,
        ErrorKind::Cycle,
        ErrorKind::DuplicateKey,
        ErrorKind::TaskFailed,
        ErrorKind::TaskPanicked,
        ErrorKind::TooLarge,
        ErrorKind::InvalidArgument,
        ErrorKind::Shape,
        ErrorKind::Index,
        ErrorKind::Overflow,
        ErrorKind::Type,
        ErrorKind::Empty,
        ErrorKind::Io,
        ErrorKind::Spec,
        ErrorKind::CallbackPanicked,
        ErrorKind::Codec,
        ErrorKind::Distributed,
    ];
}

/// Everything that can go wrong in Blockwork.
///
/// ```
/// use blockwork::{ErrorKind, Graph, Key, Sequential, Executor};
/// let g = Graph::new();
/// let err = Sequential::new().get(&g, "nothing").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::MissingKey);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// A reference to a key that is not in the graph.
    MissingKey {
        /// The key that was not found.
        key: Key,
        /// The node that refers to it, or `None` when it was requested directly.
        referrer: Option<Key>,
    },
    /// A cycle, listed from one key back to itself (`a -> b -> a`).
    Cycle {
        /// The keys on the cycle; the first and last are the same key.
        path: Vec<Key>,
    },
    /// A builder was given the same key twice.
    DuplicateKey {
        /// The key given twice.
        key: Key,
    },
    /// A task failed or panicked while running.
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
        /// The error the operation failed with, when its [`TaskError`] was converted from
        /// one (an `io::Error` returned with `?`, say): what
        /// [`source`](std::error::Error::source) of this error returns.
        source: Option<Source>,
    },
    /// Code the executor called outside a task's op panicked (an observer callback, a value's
    /// `nbytes` or `Drop`); see [`ErrorKind::CallbackPanicked`].
    Callback {
        /// What panicked, for example `observer task_started` or `drop of a value`.
        what: &'static str,
        /// The task being started, finished or freed, when there is one.
        key: Option<Key>,
        /// The panic payload.
        message: String,
    },
    /// A distributed run failed on rank `rank`: every rank of the run returns this error,
    /// with the failing rank's own error inside. Its [`kind`](Error::kind),
    /// [`task_key`](Error::task_key) and [`task_cause`](Error::task_cause) are the inner
    /// error's.
    OnRank {
        /// The rank where the failure happened.
        rank: usize,
        /// What went wrong there.
        error: Box<Error>,
    },
    /// Any other class of error, with a message.
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
            Error::OnRank { error, .. } => error.kind(),
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
            Error::OnRank { error, .. } => error.task_cause(),
            _ => None,
        }
    }

    /// The key of the failing task, for task errors.
    pub fn task_key(&self) -> Option<&Key> {
        match self {
            Error::Task { key, .. } => Some(key),
            Error::OnRank { error, .. } => error.task_key(),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::MissingKey { key, referrer } => {
                write!(f, "missing key {key}")?;
                match referrer {
                    Some(r) => write!(f, " (referenced by {r})"),
                    None => Ok(()),
                }
            }
            Error::Cycle { path } => write!(f, "cycle detected: {}", CyclePath(path)),
            Error::DuplicateKey { key } => write!(f, "duplicate key {key}"),
            Error::Task {
                key,
                op,
                message,
                panicked,
                ..
            } => {
                let how = if *panicked { "panicked" } else { "failed" };
                write!(f, "task {key} ({op}) {how}: {message}")
            }
            Error::Callback { what, key, message } => {
                write!(f, "{what} panicked")?;
                if let Some(k) = key {
                    write!(f, " (task {k})")?;
                }
                write!(f, ": {message}")
            }
            Error::OnRank { rank, error } => write!(f, "on rank {rank}: {error}"),
            Error::Other { kind, message } => write!(f, "{kind:?}: {message}"),
        }
    }
}

/// The source of a task failure is the operation's own error, downcastable to its type:
///
/// ```
/// use blockwork::{Executor, GraphBuilder, Op, Sequential, TaskError};
/// let open = Op::typed("open", |path: String| -> Result<i64, TaskError> {
///     std::fs::File::open(path)?;
///     Ok(1)
/// });
/// let mut g = GraphBuilder::new();
/// g.task("f", &open, [blockwork::Arg::lit("/no/such/file")])?;
/// let err = Sequential::new().get(&g.build(), "f").unwrap_err();
/// let io = std::error::Error::source(&err).unwrap().downcast_ref::<std::io::Error>().unwrap();
/// assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
/// # Ok::<(), blockwork::Error>(())
/// ```
impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Error::Task {
                source: Some(s), ..
            } => Some(&**s),
            Error::OnRank { error, .. } => error.source(),
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

/// What an operation returns when it fails: a class, a message and, when it was converted
/// from another error, that error as its source.
///
/// The executor wraps it into [`Error::Task`] with the failing key and op name; the class is
/// kept for errors that are not plain task failures (a shape error inside an array kernel is
/// still reported as a failed task, with the shape message), and the source becomes the
/// run error's [`source`](std::error::Error::source).
///
/// Any error type converts into it, so `?` works in an operation on `io::Error`,
/// `ndarray::ShapeError`, Blockwork's own [`Error`] or an error type of your own; so do
/// strings, as messages (`Err("bad input".into())`). The class follows the error:
/// [`ErrorKind::Io`] for `io::Error`, [`ErrorKind::Shape`] for `ShapeError`, the error's own
/// kind for an [`Error`], [`ErrorKind::TaskFailed`] otherwise. (Because of that blanket
/// conversion, `TaskError` itself does not implement `std::error::Error`, as with `anyhow`;
/// [`TaskError::source`] gives the converted error.)
///
/// ```
/// use blockwork::{ErrorKind, TaskError};
/// let e = TaskError::new("division by zero");
/// assert_eq!(e.message(), "division by zero");
///
/// fn read(path: &str) -> Result<String, TaskError> {
///     Ok(std::fs::read_to_string(path)?)
/// }
/// let e = read("/no/such/file").unwrap_err();
/// assert_eq!(e.kind(), ErrorKind::Io);
/// let io = e.source().unwrap().downcast_ref::<std::io::Error>().unwrap();
/// assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
/// ```
#[derive(Debug, Clone)]
pub struct TaskError {
    kind: ErrorKind,
    message: String,
    source: Option<Source>,
}

impl TaskError {
    /// A task failure with a message.
    #[cold]
    pub fn new(message: impl Into<String>) -> TaskError {
        TaskError::with_kind(ErrorKind::TaskFailed, message)
    }

    /// A failure of a specific class (for example [`ErrorKind::Type`]).
    ///
    /// ```
    /// use blockwork::{ErrorKind, TaskError};
    /// assert_eq!(TaskError::with_kind(ErrorKind::Shape, "2 != 3").kind(), ErrorKind::Shape);
    /// ```
    #[cold]
    pub fn with_kind(kind: ErrorKind, message: impl Into<String>) -> TaskError {
        TaskError {
            kind,
            message: message.into(),
            source: None,
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

    /// The error this one was converted from, if any.
    ///
    /// ```
    /// use blockwork::TaskError;
    /// assert!(TaskError::new("plain").source().is_none());
    /// let e = TaskError::from("12x".parse::<i64>().unwrap_err());
    /// assert!(e.source().unwrap().is::<std::num::ParseIntError>());
    /// ```
    pub fn source(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.source.as_deref()
    }

    /// The shared source, for the run error that wraps this one.
    pub(crate) fn shared_source(&self) -> Option<Source> {
        self.source.clone()
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Any error converts into a task error that keeps it as its source; a string becomes the
/// message of an [`ErrorKind::TaskFailed`] error with no source.
///
/// ```
/// use blockwork::{ErrorKind, TaskError};
/// let e: TaskError = "bad input".into();
/// assert_eq!((e.kind(), e.message()), (ErrorKind::TaskFailed, "bad input"));
/// assert!(e.source().is_none());
/// let e = TaskError::from(blockwork::Error::new(ErrorKind::Shape, "2 != 3"));
/// assert_eq!(e.kind(), ErrorKind::Shape);
/// ```
impl<E: Into<Box<dyn StdError + Send + Sync + 'static>>> From<E> for TaskError {
    #[cold]
    fn from(e: E) -> Self {
        let boxed: Box<dyn StdError + Send + Sync + 'static> = e.into();
        let message = boxed.to_string();
        let kind = if let Some(e) = boxed.downcast_ref::<Error>() {
            e.kind()
        } else if boxed.is::<std::io::Error>() {
            ErrorKind::Io
        } else if boxed.is::<ndarray::ShapeError>() {
            ErrorKind::Shape
        } else {
            ErrorKind::TaskFailed
        };
        // A string converts into std's private string error, whose `Debug` is the quoted
        // message: a message of ours, not an error worth keeping as a source.
        let plain = boxed.source().is_none() && format!("{boxed:?}") == format!("{message:?}");
        TaskError {
            kind,
            message,
            source: (!plain).then(|| Arc::from(boxed)),
        }
    }
}
