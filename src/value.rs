//! Values: what tasks take and return.
//!
//! A [`Value`] is a small enum (24 bytes) that is cheap to clone: scalars are inline, and
//! everything with a heap payload sits behind an `Arc`. Each value reports its size in bytes
//! ([`Value::nbytes`]) so that runs can account for live memory. Freeing a value is dropping
//! it; payloads with pooled storage return it to their pool in their own `Drop`.

pub use crate::typed::{FromValue, IntoTaskResult, TaskArg};
use std::any::{Any, TypeId};
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
    /// The contents moved out as the type `want`, boxed (a `Box` of exactly that type), for
    /// [`Value::try_take`] of a type other than the payload's own; `None`, leaving the
    /// payload as it was, for a type it does not offer (the default: none). Called only on
    /// the last reference, which is dropped right after.
    fn take_as(&mut self, want: TypeId) -> Option<Box<dyn Any>> {
        let _ = want;
        None
    }
}

/// A payload wrapper with a fixed size estimate, made by [`Value::opaque`].
struct FixedSizePayload<T> {
    value: T,
    nbytes: usize,
}

impl<T: Any + Send + Sync> Payload for FixedSizePayload<T> {
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
        Value::Opaque(Arc::new(FixedSizePayload { value, nbytes }))
    }

    /// The payload of type `T` by value, without a copy, when this value holds the only
    /// reference to it; otherwise the value back, unchanged. `T` is the type given to
    /// [`Value::opaque`] or [`Value::payload`]; the contents of an `Arc<T>` a typed task
    /// returned (when nothing else holds the `Arc`); or, for an array block (what a typed
    /// task returning an `ndarray` array gives), its
    /// [`BlockData`](crate::array::BlockData) or its array as `ArrayD<E>`, or `Array1<E>`
    /// to `Array3<E>` of its number of axes.
    ///
    /// ```
    /// use blockwork::Value;
    /// let v = Value::opaque(vec![1.0f64; 4], 32);
    /// let shared = v.clone();
    /// let v = v.try_take::<Vec<f64>>().unwrap_err(); // `shared` still refers to it
    /// drop(shared);
    /// assert_eq!(v.try_take::<Vec<f64>>().unwrap(), vec![1.0; 4]);
    /// assert!(Value::Int(1).try_take::<i64>().is_err()); // not a payload
    ///
    /// let make = blockwork::Op::typed("make", || ndarray::Array2::<f64>::eye(3));
    /// let m = make.call(&[])?.try_take::<ndarray::Array2<f64>>().unwrap(); // no copy
    /// assert_eq!(m.diag().sum(), 3.0);
    /// # Ok::<(), blockwork::TaskError>(())
    /// ```
    pub fn try_take<T: Any + Send + Sync>(self) -> Result<T, Value> {
        let Value::Opaque(p) = &self else {
            return Err(self);
        };
        let p = p.clone();
        drop(self);
        let concrete = Any::type_id(&*p);
        if concrete == TypeId::of::<FixedSizePayload<T>>() {
            return unwrap_payload::<FixedSizePayload<T>>(p).map(|f| f.value);
        }
        if concrete == TypeId::of::<T>() {
            return unwrap_payload::<T>(p);
        }
        if concrete == TypeId::of::<FixedSizePayload<Arc<T>>>() {
            let arc = unwrap_payload::<FixedSizePayload<Arc<T>>>(p)?.value;
            return Arc::try_unwrap(arc)
                .map_err(|arc| Value::opaque(arc, std::mem::size_of::<T>()));
        }
        // Another type the payload offers (an array block gives its array).
        let mut p = p;
        let Some(inner) = Arc::get_mut(&mut p) else {
            return Err(Value::Opaque(p));
        };
        match inner.take_as(TypeId::of::<T>()).map(|b| b.downcast::<T>()) {
            Some(Ok(t)) => Ok(*t),
            _ => Err(Value::Opaque(p)),
        }
    }

    /// The payload of type `T` by value: taken without a copy when this is the only
    /// reference to it (see [`Value::try_take`]), cloned otherwise. `None` when the value
    /// holds no `T`.
    ///
    /// ```
    /// use blockwork::Value;
    /// let v = Value::opaque(String::from("model"), 5);
    /// let kept = v.clone();
    /// assert_eq!(v.take_or_clone::<String>().as_deref(), Some("model")); // cloned
    /// assert_eq!(kept.take_or_clone::<String>().as_deref(), Some("model")); // taken
    /// assert_eq!(Value::Int(1).take_or_clone::<String>(), None);
    /// ```
    pub fn take_or_clone<T: Any + Send + Sync + Clone>(self) -> Option<T> {
        match self.try_take::<T>() {
            Ok(t) => Some(t),
            Err(v) => v.downcast_ref::<T>().cloned(),
        }
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

/// Moves a payload whose concrete type is `P` out of its `Arc`, when `p` is the only
/// reference; gives it back otherwise.
fn unwrap_payload<P: Any + Send + Sync>(mut p: Arc<dyn Payload>) -> Result<P, Value> {
    // Values never hold weak references, so a unique `get_mut` means `into_inner` succeeds.
    if Arc::get_mut(&mut p).is_none() {
        return Err(Value::Opaque(p));
    }
    let any: Arc<dyn Any + Send + Sync> = p;
    any.downcast::<P>()
        .ok()
        .and_then(Arc::into_inner)
        .ok_or(Value::Unit)
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

/// Debug text (`[1, "a", 2.5]`), written with an explicit stack so that lists nested
/// millions deep print without overflowing the thread's stack. A list shared many times is
/// printed each time it is reached: callers that print values from untrusted input bound the
/// size first with [`Value::deep_size`].
impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Value::List(l) = self else {
            return scalar_debug(self, f);
        };
        f.write_str("[")?;
        // Each open list: the elements not yet written, and whether one was written.
        let mut stack: Vec<(std::slice::Iter<'_, Value>, bool)> = vec![(l.iter(), false)];
        while let Some((items, started)) = stack.last_mut() {
            let Some(v) = items.next() else {
                stack.pop();
                f.write_str("]")?;
                continue;
            };
            if std::mem::replace(started, true) {
                f.write_str(", ")?;
            }
            match v {
                Value::List(inner) => {
                    f.write_str("[")?;
                    stack.push((inner.iter(), false));
                }
                scalar => scalar_debug(scalar, f)?,
            }
        }
        Ok(())
    }
}

fn scalar_debug(v: &Value, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match v {
        Value::Unit => f.write_str("()"),
        Value::Bool(b) => write!(f, "{b}"),
        Value::Int(i) => write!(f, "{i}"),
        Value::Float(x) => write!(f, "{x:?}"),
        Value::Str(s) => write!(f, "{s:?}"),
        Value::List(l) => write!(f, "<list of {}>", l.len()),
        Value::Opaque(p) => write!(f, "<{} ({} bytes)>", p.type_name(), p.nbytes()),
    }
}

/// Structural equality; opaque payloads compare by identity. Floats compare as IEEE values
/// except that NaN equals NaN, and an int never equals a float, so that results can be
/// compared exactly between executors (the spec builtin `eq` compares numbers by value
/// instead, see [`Value::eq_by_value`]).
///
/// The comparison uses an explicit stack (lists nested millions deep compare without
/// overflowing the thread's stack) and compares each pair of shared sublists once, so
/// lists that share their parts compare in time linear in their distinct parts.
///
/// ```
/// use blockwork::Value;
/// assert_eq!(Value::list([f64::NAN]), Value::list([f64::NAN]));
/// assert_ne!(Value::list([1i64]), Value::list([1.0]));
/// ```
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        compare_lists(self, other, true, usize::MAX, |a, b| match (a, b) {
            (Value::Float(a), Value::Float(b)) => a == b || (a.is_nan() && b.is_nan()),
            _ => scalar_identical(a, b),
        })
        .unwrap_or(false)
    }
}

/// Scalars of the same variant and contents (floats by IEEE `==`), opaque payloads by identity.
fn scalar_identical(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Unit, Value::Unit) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Int(a), Value::Int(b)) => a == b,
        (Value::Float(a), Value::Float(b)) => a == b,
        (Value::Str(a), Value::Str(b)) => a == b,
        (Value::Opaque(a), Value::Opaque(b)) => Arc::ptr_eq(a, b),
        _ => false,
    }
}

/// Numbers by value (`1 == 1.0`, NaN unequal to everything), other scalars as
/// [`scalar_identical`].
fn scalar_by_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
            a.as_float() == b.as_float()
        }
        _ => scalar_identical(a, b),
    }
}

/// The address of a list's elements, to recognise shared sublists.
fn list_addr(l: &Arc<[Value]>) -> usize {
    Arc::as_ptr(l).cast::<Value>() as usize
}

/// Compares two values element by element with `scalar` for everything but lists, without
/// recursion. `same_is_equal`: a list shared by both sides is equal to itself without looking
/// (true unless `scalar` can say a value differs from itself, as IEEE NaN does). Pairs of
/// sublists already found equal are not compared again. `Err(())` once more than `max_steps`
/// elements were compared.
fn compare_lists(
    a: &Value,
    b: &Value,
    same_is_equal: bool,
    max_steps: usize,
    scalar: impl Fn(&Value, &Value) -> bool,
) -> Result<bool, ()> {
    let (Value::List(la), Value::List(lb)) = (a, b) else {
        return Ok(!matches!(a, Value::List(_)) && !matches!(b, Value::List(_)) && scalar(a, b));
    };
    if la.len() != lb.len() {
        return Ok(false);
    }
    if same_is_equal && Arc::ptr_eq(la, lb) {
        return Ok(true);
    }
    let mut equal_pairs: rustc_hash::FxHashSet<(usize, usize)> = Default::default();
    let mut stack = vec![(la, lb, 0usize)];
    let mut steps = 0usize;
    while let Some(top) = stack.last_mut() {
        let (xa, xb) = (top.0, top.1);
        let (Some(x), Some(y)) = (xa.get(top.2), xb.get(top.2)) else {
            stack.pop();
            if !stack.is_empty() {
                // Only nested pairs can be reached again.
                equal_pairs.insert((list_addr(xa), list_addr(xb)));
            }
            continue;
        };
        top.2 += 1;
        steps += 1;
        if steps > max_steps {
            return Err(());
        }
        match (x, y) {
            (Value::List(ya), Value::List(yb)) => {
                if ya.len() != yb.len() {
                    return Ok(false);
                }
                let skip = (same_is_equal && Arc::ptr_eq(ya, yb))
                    || ya.is_empty()
                    || equal_pairs.contains(&(list_addr(ya), list_addr(yb)));
                if !skip {
                    stack.push((ya, yb, 0));
                }
            }
            (Value::List(_), _) | (_, Value::List(_)) => return Ok(false),
            _ if !scalar(x, y) => return Ok(false),
            _ => {}
        }
    }
    Ok(true)
}

impl Value {
    /// Equality as the spec builtin `eq` defines it: numbers compare by value (`1 == 1.0`), NaN
    /// equals nothing (not even itself, also inside lists), lists compare element by element,
    /// strings, bools and unit by contents, opaque payloads by identity. `None` when more than
    /// `max_elements` element pairs would have to be compared (each shared sublist counts each
    /// time it is reached, except that a pair of sublists found equal once is not compared
    /// again).
    ///
    /// ```
    /// use blockwork::Value;
    /// let nan = Value::list([f64::NAN]);
    /// assert_eq!(nan.eq_by_value(&nan, 100), Some(false));
    /// assert_eq!(Value::list([1i64]).eq_by_value(&Value::list([1.0]), 100), Some(true));
    /// ```
    pub fn eq_by_value(&self, other: &Value, max_elements: usize) -> Option<bool> {
        compare_lists(self, other, false, max_elements, scalar_by_value).ok()
    }

    /// The bytes this value would take written out in full: each element slot
    /// (`size_of::<Value>()`) and each string's bytes, counting a shared sublist each time it
    /// is reached. `None` as soon as the count passes `limit`, so the walk takes at most about
    /// `limit / size_of::<Value>()` steps however much the value shares.
    ///
    /// ```
    /// use blockwork::Value;
    /// let x = Value::list([1i64, 2]);
    /// let twice = Value::list([x.clone(), x]);
    /// assert_eq!(twice.deep_size(1 << 20), Some(24 * 2 + 24 * 4 + 24));
    /// assert_eq!(twice.deep_size(100), None);
    /// ```
    pub fn deep_size(&self, limit: usize) -> Option<usize> {
        const SLOT: usize = std::mem::size_of::<Value>();
        let mut total = SLOT;
        let mut stack: Vec<&[Value]> = Vec::new();
        let visit = |v: &Value, total: &mut usize| -> Option<()> {
            match v {
                Value::Str(s) => *total = total.checked_add(s.len())?,
                Value::List(l) => *total = total.checked_add(SLOT.checked_mul(l.len())?)?,
                _ => {}
            }
            (*total <= limit).then_some(())
        };
        visit(self, &mut total)?;
        if let Value::List(l) = self {
            stack.push(l);
        }
        while let Some(items) = stack.pop() {
            for v in items {
                visit(v, &mut total)?;
                if let Value::List(l) = v
                    && !l.is_empty()
                {
                    stack.push(l);
                }
            }
        }
        Some(total)
    }
}

/// Dropping a list drops its nested lists with an explicit stack, so that a list nested
/// millions deep is freed without overflowing the thread's stack.
impl Drop for Value {
    #[inline]
    fn drop(&mut self) {
        // Inlined: a scalar, a string or a payload costs a tag test here; only lists take
        // the loop below.
        if let Value::List(l) = self {
            drop_list(l);
        }
    }
}

/// Frees the nested lists of `l` one level at a time (a deep list would overflow the stack
/// if each level's drop called the next).
#[cold]
#[inline(never)]
fn drop_list(l: &mut Arc<[Value]>) {
    // Only a list this value holds alone is freed here; other holders keep the rest.
    let Some(items) = Arc::get_mut(l) else { return };
    let mut stack: Vec<Value> = Vec::new();
    take_nested(items, &mut stack);
    while let Some(mut v) = stack.pop() {
        if let Value::List(l) = &mut v
            && let Some(items) = Arc::get_mut(l)
        {
            take_nested(items, &mut stack);
        }
        // `v` now holds no nested list of its own, so dropping it does not recurse.
    }
}

/// Moves the nested lists out of `items` onto `stack`, leaving unit in their place.
fn take_nested(items: &mut [Value], stack: &mut Vec<Value>) {
    for v in items {
        if matches!(v, Value::List(l) if !l.is_empty()) {
            stack.push(std::mem::take(v));
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
