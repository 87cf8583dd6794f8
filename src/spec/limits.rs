//! Budgets that keep small spec files from growing huge values.

use crate::error::{ErrorKind, TaskError};
use crate::value::Value;

/// Default for [`Limits::max_value_bytes`]: 1 GiB.
pub const DEFAULT_MAX_VALUE_BYTES: usize = 1 << 30;

/// Default cap on the size of a spec file read by [`Spec::read_file`](super::Spec::read_file)
/// and by the command line: 256 MiB.
pub const DEFAULT_MAX_SPEC_BYTES: u64 = 256 << 20;

/// How large the values that builtin ops make, compare or convert may be.
///
/// A value's size is measured as [`Value::deep_size`] does: 24 bytes per element slot plus
/// the bytes of each string, with a list that is shared counted each time it is reached (that
/// is what walking, printing or converting it costs). The builtins that grow their output
/// (`concat`, `str_concat`, `list`) refuse a result over the budget, counting the values
/// inside; `identity` and `getitem` refuse to pass on a list over it; `eq` and `ne` refuse
/// to compare more than `max_value_bytes / 24` element pairs; `array.from_list` refuses a
/// nested list over the budget, `array.compute` an array whose nested list would be, and
/// `array.matmul` a product whose output block and largest operand blocks together are;
/// every `array.*` op refuses to make an array whose elements (elements × item size) are
/// over it.
/// Each fails with [`ErrorKind::TooLarge`].
///
/// ```
/// use blockwork::spec::{Limits, Registry, Spec};
/// use blockwork::{ErrorKind, Executor, Sequential};
/// let reg = Registry::builtins_with_limits(Limits { max_value_bytes: 1000 });
/// let text = r#"{"nodes": [
///     {"key": "a", "literal": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]},
///     {"key": "b", "op": "concat", "args": [{"ref": "a"}, {"ref": "a"}, {"ref": "a"}, {"ref": "a"}, {"ref": "a"}]}
/// ]}"#;
/// let spec = Spec::from_slice_with(text.as_bytes(), &reg)?;
/// let err = Sequential::new().get(spec.graph(), "b").unwrap_err();
/// assert_eq!(err.task_cause(), Some(ErrorKind::TooLarge));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes one value may take (default [`DEFAULT_MAX_VALUE_BYTES`]).
    pub max_value_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
        }
    }
}

impl Limits {
    /// Most element pairs `eq` and `ne` compare: one per element slot of the budget.
    pub fn max_elements(&self) -> usize {
        self.max_value_bytes / std::mem::size_of::<Value>()
    }

    /// `Ok` if `bytes` is within the budget, else a [`TooLarge`](ErrorKind::TooLarge) error
    /// naming `what`.
    pub fn check(&self, what: &str, bytes: usize) -> Result<(), TaskError> {
        if bytes <= self.max_value_bytes {
            Ok(())
        } else {
            Err(self.too_large(what))
        }
    }

    /// `Ok` if `v` written out in full ([`Value::deep_size`]) is within the budget.
    pub fn check_value(&self, what: &str, v: &Value) -> Result<(), TaskError> {
        match v.deep_size(self.max_value_bytes) {
            Some(_) => Ok(()),
            None => Err(self.too_large(what)),
        }
    }

    #[cold]
    fn too_large(&self, what: &str) -> TaskError {
        TaskError::with_kind(
            ErrorKind::TooLarge,
            format!(
                "{what} is over the value budget of {} bytes",
                self.max_value_bytes
            ),
        )
    }
}
