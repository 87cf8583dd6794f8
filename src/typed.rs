//! Typed conversions between [`Value`]s and Rust types, for [`Op::typed`](crate::Op::typed)
//! and [`delayed`](crate::delayed()).
//!
//! - [`FromValue`]: an argument value into an owned Rust type (numbers, strings, `Vec<T>`,
//!   `Option<T>`, tuples, `ndarray` arrays, `Arc<T>` of any payload type).
//! - [`TaskArg`]: what a typed closure may take, which is every [`FromValue`] type plus
//!   `ndarray` views borrowing an array block in place.
//! - [`IntoTaskResult`]: what a typed closure may return (the same types, and `Result`s of
//!   them whose error converts into [`TaskError`]).
//!
//! `ndarray` arrays travel as array blocks ([`array::Block`](crate::array::Block)), the same
//! payload the blocks of an [`Array`](crate::array::Array) are, so a typed op reads blocks of
//! an array computation and its array results report their size in bytes.
//!
//! ```
//! use blockwork::{Op, Value};
//! use ndarray::{Array1, ArrayView1, array};
//!
//! let scale = Op::typed("scale", |a: Array1<f64>, k: f32| a * f64::from(k));
//! let total = Op::typed("total", |a: ArrayView1<f64>| a.sum()); // reads the block in place
//! let block = scale.call(&[Op::typed("v", || array![1.0, 2.0]).call(&[])?, Value::from(2.0)])?;
//! assert_eq!(block.nbytes(), 16);
//! assert_eq!(total.call(&[block])?, Value::Float(6.0));
//! # Ok::<(), blockwork::TaskError>(())
//! ```
//!
//! A type with no conversion is a compile error naming it:
//!
//! ```compile_fail,E0277
//! struct Model;
//! let op = blockwork::Op::typed("fit", |m: Model| 1i64); // `Model` cannot be read from a task value
//! ```
//!
//! and so is one returned:
//!
//! ```compile_fail,E0277
//! struct Model;
//! let op = blockwork::Op::typed("fit", |n: i64| Model); // `Model` cannot be returned from a typed task
//! ```
//!
//! Wrong values at run time are [`ErrorKind::Type`] errors naming what was expected and
//! what came; integers that do not fit are [`ErrorKind::Overflow`] errors.

use crate::array::{Block, Element};
use crate::error::{ErrorKind, TaskError};
use crate::value::Value;
use ndarray::{Array, ArrayView, Dimension};
use std::any::Any;
use std::sync::Arc;

/// Conversion from a [`Value`] argument into a Rust type, for typed operations.
///
/// ```
/// use blockwork::{ErrorKind, FromValue, Value};
/// assert_eq!(i64::from_value(&Value::Int(3)).unwrap(), 3);
/// assert_eq!(i64::from_value(&Value::from("no")).unwrap_err().kind(), ErrorKind::Type);
/// let pair = Value::list([Value::Int(1), Value::from("a")]);
/// assert_eq!(<(usize, String)>::from_value(&pair).unwrap(), (1, "a".to_string()));
/// assert_eq!(Option::<f32>::from_value(&Value::Unit).unwrap(), None);
/// assert_eq!(u32::from_value(&Value::Int(-1)).unwrap_err().kind(), ErrorKind::Overflow);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be read from a task value",
    label = "`{Self}` has no `FromValue` conversion",
    note = "typed tasks take numbers, bool, String, Vec<T>, Option<T>, tuples, ndarray arrays and views, Value, or Arc<T> of a payload type"
)]
pub trait FromValue: Sized {
    /// Converts, or reports a type error naming what was expected.
    fn from_value(v: &Value) -> Result<Self, TaskError>;
}

/// What a typed closure may take as an argument: every [`FromValue`] type, and views that
/// borrow from the argument value for the length of the call (`ndarray::ArrayView` of an
/// array block). `Item<'a>` is the type handed to the closure for a value borrowed for `'a`.
///
/// ```
/// use blockwork::{Op, Value};
/// use ndarray::ArrayViewD;
/// let len = Op::typed("len", |a: ArrayViewD<f64>| a.len() as i64);
/// let block = Op::typed("make", || ndarray::ArrayD::<f64>::zeros(vec![2, 3])).call(&[])?;
/// assert_eq!(len.call(&[block])?, Value::Int(6));
/// # Ok::<(), blockwork::TaskError>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a typed task argument",
    label = "`{Self}` has no `TaskArg` conversion"
)]
pub trait TaskArg {
    /// The argument as the closure receives it, borrowing the value for `'a`.
    type Item<'a>;
    /// Converts, or reports a type error naming what was expected.
    fn from_arg(v: &Value) -> Result<Self::Item<'_>, TaskError>;
}

impl<T: FromValue> TaskArg for T {
    type Item<'a> = T;
    #[inline]
    fn from_arg(v: &Value) -> Result<T, TaskError> {
        T::from_value(v)
    }
}

/// Conversion of an operation's return into a task result: numbers, strings, `Vec<T>`,
/// `Option<T>` (`None` is unit), tuples (lists), `ndarray` arrays (array blocks), `Arc<T>`
/// of a payload type, a `Value`, or a `Result` of one whose error converts into
/// [`TaskError`]. `Output` is the type the result reads back as ([`FromValue`]), which is
/// what a [`Delayed`](crate::delayed::Delayed) of this return computes to.
///
/// ```
/// use blockwork::{ErrorKind, IntoTaskResult, Value};
/// assert_eq!((1usize, "a").into_task_result().unwrap(), Value::list([Value::Int(1), Value::from("a")]));
/// assert_eq!(u64::MAX.into_task_result().unwrap_err().kind(), ErrorKind::Overflow);
/// let failed: Result<i64, std::io::Error> = Err(std::io::ErrorKind::NotFound.into());
/// assert_eq!(failed.into_task_result().unwrap_err().kind(), ErrorKind::Io);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a typed task",
    label = "`{Self}` has no `IntoTaskResult` conversion",
    note = "typed tasks return numbers, bool, strings, Vec<T>, Option<T>, tuples, ndarray arrays, Value, Arc<T> of a payload type, or a Result of one"
)]
pub trait IntoTaskResult {
    /// The Rust type the result converts back into.
    type Output;
    /// Converts into the executor's result type.
    fn into_task_result(self) -> Result<Value, TaskError>;

    /// The payload type of the values this type converts into, when they are payloads
    /// (`Arc<T>`: `Arc<T>`, what the payload holds); `None` otherwise.
    fn payload_type() -> Option<crate::graph::PayloadType>
    where
        Self: Sized,
    {
        None
    }
}

#[cold]
pub(crate) fn type_error(expected: &str, got: &Value) -> TaskError {
    TaskError::with_kind(
        ErrorKind::Type,
        format!("expected {expected}, got {}", got.type_name()),
    )
}

#[cold]
fn range_error(ty: &str, x: impl std::fmt::Display) -> TaskError {
    TaskError::with_kind(ErrorKind::Overflow, format!("{x} does not fit in {ty}"))
}

impl FromValue for Value {
    fn from_value(v: &Value) -> Result<Self, TaskError> {
        Ok(v.clone())
    }
}
impl FromValue for () {
    fn from_value(v: &Value) -> Result<Self, TaskError> {
        match v {
            Value::Unit => Ok(()),
            _ => Err(type_error("unit", v)),
        }
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
impl FromValue for f32 {
    /// Rounds to the nearest `f32`; a finite number beyond `f32`'s range is an overflow.
    fn from_value(v: &Value) -> Result<Self, TaskError> {
        let x = v.as_float().ok_or_else(|| type_error("float", v))?;
        let y = x as f32;
        if y.is_infinite() && x.is_finite() {
            return Err(range_error("f32", x));
        }
        Ok(y)
    }
}
impl FromValue for bool {
    #[inline]
    fn from_value(v: &Value) -> Result<Self, TaskError> {
        v.as_bool().ok_or_else(|| type_error("bool", v))
    }
}

macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            #[inline]
            fn from_value(v: &Value) -> Result<Self, TaskError> {
                let i = v.as_int().ok_or_else(|| type_error(stringify!($t), v))?;
                <$t>::try_from(i).map_err(|_| range_error(stringify!($t), i))
            }
        }
    )*};
}
int_from_value!(i32, u32, u64, usize);

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
/// Unit is `None`; anything else converts as `T`.
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Result<Self, TaskError> {
        match v {
            Value::Unit => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}
/// A payload of type `T`: shared without a copy when the value holds an `Arc<T>` (as an
/// [`IntoTaskResult`] of `Arc<T>` makes) or a `T` made by [`Value::payload`].
impl<T: Any + Send + Sync> FromValue for Arc<T> {
    fn from_value(v: &Value) -> Result<Self, TaskError> {
        if let Some(a) = v.downcast_ref::<Arc<T>>() {
            return Ok(a.clone());
        }
        if let Value::Opaque(p) = v
            && Any::type_id(&**p) == std::any::TypeId::of::<T>()
        {
            let any: Arc<dyn Any + Send + Sync> = p.clone();
            if let Ok(a) = any.downcast::<T>() {
                return Ok(a);
            }
        }
        Err(type_error(std::any::type_name::<T>(), v))
    }
}

macro_rules! tuple_conversions {
    ($n:literal; $($a:ident $i:tt),*) => {
        impl<$($a: FromValue),*> FromValue for ($($a,)*) {
            fn from_value(v: &Value) -> Result<Self, TaskError> {
                match v.as_list() {
                    Some(l) if l.len() == $n => Ok(($($a::from_value(&l[$i])?,)*)),
                    _ => Err(tuple_error($n, v)),
                }
            }
        }
        impl<$($a: IntoTaskResult),*> IntoTaskResult for ($($a,)*) {
            type Output = ($($a::Output,)*);
            fn into_task_result(self) -> Result<Value, TaskError> {
                Ok(Value::List(Arc::from([$(self.$i.into_task_result()?),*])))
            }
        }
    };
}
tuple_conversions!(1; A 0);
tuple_conversions!(2; A 0, B 1);
tuple_conversions!(3; A 0, B 1, C 2);
tuple_conversions!(4; A 0, B 1, C 2, D 3);
tuple_conversions!(5; A 0, B 1, C 2, D 3, E 4);
tuple_conversions!(6; A 0, B 1, C 2, D 3, E 4, G 5);

#[cold]
fn tuple_error(n: usize, v: &Value) -> TaskError {
    match v.as_list() {
        Some(l) => TaskError::with_kind(
            ErrorKind::Type,
            format!("expected a list of {n}, got a list of {}", l.len()),
        ),
        None => type_error(&format!("a list of {n}"), v),
    }
}

impl<T: IntoTaskResult, E: Into<TaskError>> IntoTaskResult for Result<T, E> {
    type Output = T::Output;
    #[inline]
    fn into_task_result(self) -> Result<Value, TaskError> {
        self.map_err(Into::into)?.into_task_result()
    }
    fn payload_type() -> Option<crate::graph::PayloadType> {
        T::payload_type()
    }
}
macro_rules! into_result_plain {
    ($($t:ty => $out:ty),*) => {$(
        impl IntoTaskResult for $t {
            type Output = $out;
            #[inline]
            fn into_task_result(self) -> Result<Value, TaskError> {
                Ok(self.into())
            }
        }
    )*};
}
into_result_plain!(
    Value => Value,
    bool => bool,
    i64 => i64,
    i32 => i32,
    u32 => u32,
    f64 => f64,
    f32 => f32,
    String => String,
    &str => String,
    Arc<str> => Arc<str>,
    () => ()
);
macro_rules! into_result_int {
    ($($t:ty),*) => {$(
        /// An integer above `i64::MAX` is an [`ErrorKind::Overflow`] error.
        impl IntoTaskResult for $t {
            type Output = $t;
            #[inline]
            fn into_task_result(self) -> Result<Value, TaskError> {
                i64::try_from(self)
                    .map(Value::Int)
                    .map_err(|_| range_error("int", self))
            }
        }
    )*};
}
into_result_int!(u64, usize);

impl<T: IntoTaskResult> IntoTaskResult for Vec<T> {
    type Output = Vec<T::Output>;
    fn into_task_result(self) -> Result<Value, TaskError> {
        let items: Result<Vec<Value>, TaskError> =
            self.into_iter().map(T::into_task_result).collect();
        Ok(Value::List(items?.into()))
    }
}
/// `None` is unit.
impl<T: IntoTaskResult> IntoTaskResult for Option<T> {
    type Output = Option<T::Output>;
    fn into_task_result(self) -> Result<Value, TaskError> {
        self.map_or(Ok(Value::Unit), T::into_task_result)
    }
}
/// An opaque payload; its reported size is `size_of::<T>()` (the `Arc`'s target, not what
/// it owns on the heap).
impl<T: Any + Send + Sync> IntoTaskResult for Arc<T> {
    type Output = Arc<T>;
    fn into_task_result(self) -> Result<Value, TaskError> {
        Ok(Value::opaque(self, std::mem::size_of::<T>()))
    }
    fn payload_type() -> Option<crate::graph::PayloadType> {
        // `Value::opaque` keeps the `Arc` itself: that is what the payload holds.
        Some(crate::graph::PayloadType::of::<Arc<T>>())
    }
}

/// The array block inside `v`, as an array of `T` and dimension `D`.
fn array_view<T: Element, D: Dimension>(v: &Value) -> Result<ArrayView<'_, T, D>, TaskError> {
    let block = v
        .downcast_ref::<Block>()
        .ok_or_else(|| type_error(&format!("an array block of {}", T::DTYPE), v))?;
    let a = T::array_ref(block.data()).ok_or_else(|| {
        TaskError::with_kind(
            ErrorKind::Type,
            format!(
                "expected an array block of {}, got one of {}",
                T::DTYPE,
                block.dtype()
            ),
        )
    })?;
    a.view().into_dimensionality::<D>().map_err(|_| {
        TaskError::with_kind(
            ErrorKind::Shape,
            format!(
                "expected an array block of {} axes, got {} axes",
                D::NDIM.map_or("any number of".to_string(), |n| n.to_string()),
                a.ndim()
            ),
        )
    })
}

/// An array block as an owned array (a copy; [`TaskArg`] views read it in place).
impl<T: Element, D: Dimension> FromValue for Array<T, D> {
    fn from_value(v: &Value) -> Result<Self, TaskError> {
        array_view(v).map(|a| a.to_owned())
    }
}
/// A view of an array block, borrowed for the call.
impl<T: Element, D: Dimension> TaskArg for ArrayView<'_, T, D> {
    type Item<'a> = ArrayView<'a, T, D>;
    fn from_arg(v: &Value) -> Result<ArrayView<'_, T, D>, TaskError> {
        array_view(v)
    }
}
/// An array block (standard layout; its size is the element bytes).
impl<T: Element, D: Dimension> IntoTaskResult for Array<T, D> {
    type Output = Array<T, D>;
    fn into_task_result(self) -> Result<Value, TaskError> {
        Ok(Block::new(T::wrap(self.into_dyn()), None).into_value())
    }
}
