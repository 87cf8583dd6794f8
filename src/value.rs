//! Values: what tasks take and return.
//!
//! A [`Value`] is a small enum (24 bytes) that is cheap to clone: scalars are inline, and
//! everything with a heap payload sits behind an `Arc`. Each value reports its size in bytes
//! ([`Value::nbytes`]) so that runs can account for live memory. Freeing a value is dropping
//! it; payloads with pooled storage return it to their pool in their own `Drop`.

use crate::error::{ErrorKind, TaskError};
use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// A dynamic value passed between tasks.
///
/// ```
/// use blockwork::Value;
/// let v = Value::from(vec![1i64, 2, 3]);
/// assert_eq!(v.as_list().unwrap().len(), 3);
/// assert_eq!(Value::from(2.5).as_float(), Some(2.5));
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Value {
    /// Nothing (a task run for its effect).
    #[default]
    Unit,
    /// A boolean.
    Bool(bool),
    /// A 64-bit integer.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// An immutable string.
    Str(Arc<str>),
    /// A list of values (nested list arguments arrive as lists).
    List(Arc<[Value]>),
    /// An opaque shared payload: array blocks, bag partitions, user types.
    Opaque(Arc<dyn Payload>),
}

/// A type that can travel inside [`Value::Opaque`].
///
/// Implemented for every `Any + Send + Sync` type through [`Value::opaque`], which records a
/// size estimate; implement it yourself to report a size that changes with the contents.
pub trait Payload: Any + Send + Sync {
    /// Bytes this payload holds (heap included), for live-memory accounting.
    fn nbytes(&self) -> usize;
    /// A short type name for messages.
    fn type_name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }
    /// `self` as `Any`, for downcasting.
    fn as_any(&self) -> &dyn Any;
}

/// A payload wrapper with a fixed size estimate, made by [`Value::opaque`].
struct Sized<T> {
    value: T,
    nbytes: usize,
}

impl<T: Any + Send + Sync> Payload for Sized<T> {
    fn nbytes(&self) -> usize {
        self.nbytes
    }
    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }
    fn as_any(&self) -> &dyn Any {
        &self.value
    }
}

impl Value {
    /// Wraps any shareable value, with a size estimate in bytes for accounting.
    ///
    /// ```
    /// use blockwork::Value;
    /// let v = Value::opaque(vec![1u8; 10], 10);
    /// assert_eq!(v.downcast_ref::<Vec<u8>>().unwrap().len(), 10);
    /// assert_eq!(v.nbytes(), 10);
    /// ```
    pub fn opaque<T: Any + Send + Sync>(value: T, nbytes: usize) -> Value {
        Value::Opaque(Arc::new(Sized { value, nbytes }))
    }

    /// Wraps a payload that reports its own size.
    pub fn payload<P: Payload>(p: P) -> Value {
        Value::Opaque(Arc::new(p))
    }

    /// The opaque payload as `T`, if it is one.
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        match self {
            Value::Opaque(p) => p.as_any().downcast_ref::<T>(),
            _ => None,
        }
    }

    /// Bytes held by this value, heap included. A list counts its element slots and their
    /// payloads one level deep (see `list_nbytes`), so this is O(len) even for deeply shared
    /// nested lists.
    #[inline]
    pub fn nbytes(&self) -> usize {
        match self {
            Value::Unit => 0,
            Value::Bool(_) => 1,
            Value::Int(_) | Value::Float(_) => 8,
            Value::Str(s) => s.len(),
            Value::Opaque(p) => p.nbytes(),
            Value::List(l) => list_nbytes(l),
        }
    }

    /// A short name of the variant, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Unit => "unit",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::List(_) => "list",
            Value::Opaque(p) => p.type_name(),
        }
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match *self {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }
    /// The float (integers convert), if this is a number.
    pub fn as_float(&self) -> Option<f64> {
        match *self {
            Value::Float(f) => Some(f),
            Value::Int(i) => Some(i as f64),
            _ => None,
        }
    }
    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    /// The elements, if this is a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
    /// A list value from anything iterable into values.
    pub fn list<V: Into<Value>>(items: impl IntoIterator<Item = V>) -> Value {
        Value::List(items.into_iter().map(Into::into).collect())
    }
}

/// A list's own bytes: its element slots plus the payload of each element, without
/// descending into nested lists (they may be shared, and walking a shared structure once per
/// appearance can take exponential time); a nested list counts its own slots.
#[inline(never)]
fn list_nbytes(l: &[Value]) -> usize {
    let slots = std::mem::size_of_val(l);
    let payloads: usize = l
        .iter()
        .map(|v| match v {
            Value::List(inner) => std::mem::size_of_val::<[Value]>(inner),
            other => other.nbytes(),
        })
        .sum();
    slots + payloads
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Unit => f.write_str("()"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::List(l) => f.debug_list().entries(l.iter()).finish(),
            Value::Opaque(p) => write!(f, "<{} ({} bytes)>", p.type_name(), p.nbytes()),
        }
    }
}

/// Structural equality; opaque payloads compare by identity. Floats compare as IEEE values
/// except that NaN equals NaN, so results can be compared between executors.
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Unit, Value::Unit) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b || (a.is_nan() && b.is_nan()),
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Opaque(a), Value::Opaque(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

macro_rules! value_from {
    ($($t:ty => $v:ident ($conv:expr)),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(x: $t) -> Value {
                Value::$v($conv(x))
            }
        }
    )*};
}
value_from! {
    bool => Bool(|x| x),
    i64 => Int(|x| x),
    i32 => Int(i64::from),
    u32 => Int(i64::from),
    f64 => Float(|x| x),
    f32 => Float(f64::from),
    &str => Str(Arc::from),
    String => Str(Arc::from),
    Arc<str> => Str(|x| x),
}

impl From<()> for Value {
    fn from(_: ()) -> Value {
        Value::Unit
    }
}
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Value {
        Value::list(v)
    }
}

/// Conversion from a [`Value`] argument into a Rust type, for typed operations.
///
/// ```
/// use blockwork::{FromValue, Value};
/// assert_eq!(i64::from_value(&Value::Int(3)).unwrap(), 3);
/// assert!(i64::from_value(&Value::from("no")).is_err());
/// ```
pub trait FromValue: std::marker::Sized {
    /// Converts, or reports a type error naming what was expected.
    fn from_value(v: &Value) -> Result<Self, TaskError>;
}

#[cold]
fn type_error(expected: &str, got: &Value) -> TaskError {
    TaskError::with_kind(
        ErrorKind::Type,
        format!("expected {expected}, got {}", got.type_name()),
    )
}

impl FromValue for Value {
    fn from_value(v: &Value) -> Result<Self, TaskError> {
        Ok(v.clone())
    }
}
impl FromValue for i64 {
    #[inline]
    fn from_value(v: &Value) -> Result<Self, TaskError> {
        v.as_int().ok_or_else(|| type_error("int", v))
    }
}
impl FromValue for f64 {
    #[inline]
    fn from_value(v: &Value) -> Result<Self, TaskError> {
        v.as_float().ok_or_else(|| type_error("float", v))
    }
}
impl FromValue for bool {
    #[inline]
    fn from_value(v: &Value) -> Result<Self, TaskError> {
        v.as_bool().ok_or_else(|| type_error("bool", v))
    }
}
impl FromValue for String {
    fn from_value(v: &Value) -> Result<Self, TaskError> {
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| type_error("str", v))
    }
}
impl FromValue for Arc<str> {
    fn from_value(v: &Value) -> Result<Self, TaskError> {
        match v {
            Value::Str(s) => Ok(s.clone()),
            _ => Err(type_error("str", v)),
        }
    }
}
impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(v: &Value) -> Result<Self, TaskError> {
        v.as_list()
            .ok_or_else(|| type_error("list", v))?
            .iter()
            .map(T::from_value)
            .collect()
    }
}

/// Conversion of an operation's return into a task result: any `Into<Value>` type, a
/// `Result` of one, or a `Value`.
pub trait IntoTaskResult {
    /// Converts into the executor's result type.
    fn into_task_result(self) -> Result<Value, TaskError>;
}

impl<T: Into<Value>, E: Into<TaskError>> IntoTaskResult for Result<T, E> {
    #[inline]
    fn into_task_result(self) -> Result<Value, TaskError> {
        self.map(Into::into).map_err(Into::into)
    }
}
macro_rules! into_result_plain {
    ($($t:ty),*) => {$(
        impl IntoTaskResult for $t {
            #[inline]
            fn into_task_result(self) -> Result<Value, TaskError> {
                Ok(self.into())
            }
        }
    )*};
}
into_result_plain!(
    Value,
    bool,
    i64,
    i32,
    u32,
    f64,
    f32,
    String,
    &str,
    Arc<str>,
    ()
);
impl<T: Into<Value>> IntoTaskResult for Vec<T> {
    fn into_task_result(self) -> Result<Value, TaskError> {
        Ok(Value::list(self))
    }
}
