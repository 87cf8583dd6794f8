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
mod document;
mod error;
#[cfg(feature = "testing")]
mod fuzz;
mod json;
mod limits;
mod read;
mod registry;
mod text;
mod write;

pub use array_ops::{ArrayValue, MAX_BLOCK_ELEMENTS, MAX_BLOCKS, MAX_LIST_ELEMENTS};
pub use document::{FORMAT, MAX_DEPTH, Spec, sinks};
pub use error::{SpecError, SpecErrorKind};
#[cfg(feature = "testing")]
pub use fuzz::{FUZZ_BUDGET_BYTES, fuzz_spec_budget, fuzz_spec_json};
pub use limits::{DEFAULT_MAX_SPEC_BYTES, DEFAULT_MAX_VALUE_BYTES, Limits};
pub use registry::{Arity, Entry, Registry, builtin};
pub use text::{key_text, parse_key, value_json_text, value_to_json};
