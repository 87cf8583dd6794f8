//! Operations: named, shareable functions of argument values.

use crate::error::TaskError;
use crate::value::{IntoTaskResult, TaskArg, Value};
use std::fmt;
use std::sync::Arc;

/// The body of an operation, type-erased.
trait OpFn: Send + Sync {
    fn call(&self, args: &[Value]) -> Result<Value, TaskError>;
    fn name(&self) -> &str;
    /// The payload type of the op's values, when declared.
    fn payload(&self) -> Option<PayloadType> {
        None
    }
}

struct Named<F> {
    name: Box<str>,
    f: F,
    payload: Option<PayloadType>,
}

/// An op that declares the payload type of its values ([`Op::returns_payload`]).
struct Declared {
    inner: Op,
    payload: PayloadType,
}

impl OpFn for Declared {
    #[inline]
    fn call(&self, args: &[Value]) -> Result<Value, TaskError> {
        self.inner.call(args)
    }
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn payload(&self) -> Option<PayloadType> {
        Some(self.payload)
    }
}

/// The Rust type of the payloads an op returns, as [`Op::payload_type`] declares it: what
/// a distributed run checks against its codecs before anything runs.
///
/// ```
/// use blockwork::graph::PayloadType;
/// let t = PayloadType::of::<Vec<String>>();
/// assert_eq!(t, PayloadType::of::<Vec<String>>());
/// assert!(t.name().contains("Vec"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PayloadType {
    id: std::any::TypeId,
    name: &'static str,
}

impl PayloadType {
    /// The payload type `T` (what [`Payload::as_any`](crate::value::Payload::as_any) of
    /// the values returns).
    pub fn of<T: std::any::Any>() -> PayloadType {
        PayloadType {
            id: std::any::TypeId::of::<T>(),
            name: std::any::type_name::<T>(),
        }
    }

    /// The type's id.
    pub fn id(&self) -> std::any::TypeId {
        self.id
    }

    /// The type's name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl<F> OpFn for Named<F>
where
    F: Fn(&[Value]) -> Result<Value, TaskError> + Send + Sync,
{
    #[inline]
    fn call(&self, args: &[Value]) -> Result<Value, TaskError> {
        (self.f)(args)
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn payload(&self) -> Option<PayloadType> {
        self.payload
    }
}

/// A named operation: what a task runs.
///
/// Cloning an `Op` is an `Arc` clone. Two ops are equal when they are the same allocation
/// (clones of one `Op`). The name appears in errors, DOT pictures and profiles.
///
/// Build one from a closure over raw argument values with [`Op::new`], or from a typed
/// closure with [`Op::typed`], which converts arguments with [`FromValue`](crate::FromValue) and checks the
/// argument count:
///
/// ```
/// use blockwork::{Op, Value};
/// let add = Op::typed("add", |a: i64, b: i64| a + b);
/// assert_eq!(add.call(&[Value::Int(2), Value::Int(3)]).unwrap(), Value::Int(5));
/// assert!(add.call(&[Value::Int(2)]).is_err()); // wrong arity is an error, not a panic
///
/// let total = Op::new("total", |args: &[Value]| {
///     Ok(Value::Int(args.iter().filter_map(Value::as_int).sum()))
/// });
/// assert_eq!(total.name(), "total");
/// ```
#[derive(Clone)]
pub struct Op(Arc<dyn OpFn>);

impl Op {
    /// An operation over the raw argument slice.
    pub fn new<F>(name: impl Into<String>, f: F) -> Op
    where
        F: Fn(&[Value]) -> Result<Value, TaskError> + Send + Sync + 'static,
    {
        Op(Arc::new(Named {
            name: name.into().into_boxed_str(),
            f,
            payload: None,
        }))
    }

    /// An operation from a typed closure of up to eight arguments.
    ///
    /// Arguments convert with [`TaskArg`] (integers, floats, bools, strings, `Vec<T>`,
    /// `Option<T>`, tuples, `ndarray` arrays and views of array blocks, `Arc<T>` payloads,
    /// `Value` itself: see [`typed`](crate::typed)); the return converts with
    /// [`IntoTaskResult`] (the same types, or a `Result` of one whose error converts into
    /// [`TaskError`], so that `?` works on any error type). A wrong argument is an
    /// [`ErrorKind::Type`](crate::ErrorKind::Type) error naming the expected and the actual
    /// type.
    ///
    /// ```
    /// use blockwork::{ErrorKind, Op, TaskError, Value};
    /// let parse = Op::typed("parse", |s: String| -> Result<u32, TaskError> { Ok(s.parse()?) });
    /// assert_eq!(parse.call(&[Value::from("42")])?, Value::Int(42));
    /// assert_eq!(parse.call(&[Value::Int(1)]).unwrap_err().kind(), ErrorKind::Type);
    /// assert!(parse.call(&[Value::from("x")]).unwrap_err().source().unwrap()
    ///     .is::<std::num::ParseIntError>());
    /// # Ok::<(), TaskError>(())
    /// ```
    ///
    /// A closure that returns `Arc<T>` (or a `Result` of one) declares `Arc<T>` (what
    /// the payload holds) as its [payload type](Op::payload_type).
    pub fn typed<Args, F: TypedFn<Args>>(name: impl Into<String>, f: F) -> Op {
        let payload = f.payload_type();
        let f = Arc::new(f);
        Op(Arc::new(Named {
            name: name.into().into_boxed_str(),
            f: move |args: &[Value]| f.call_values(args),
            payload,
        }))
    }

    /// This op, declaring that its values are payloads of type `T` (see
    /// [`Op::payload_type`]). The result is a new op (not [`same`](Op::same) as this one).
    ///
    /// ```
    /// use blockwork::{Op, Value};
    /// use blockwork::graph::PayloadType;
    /// let make = Op::new("make", |_: &[Value]| Ok(Value::opaque(vec![1u8], 1)))
    ///     .returns_payload::<Vec<u8>>();
    /// assert_eq!(make.payload_type(), Some(PayloadType::of::<Vec<u8>>()));
    /// ```
    pub fn returns_payload<T: std::any::Any>(&self) -> Op {
        Op(Arc::new(Declared {
            inner: self.clone(),
            payload: PayloadType::of::<T>(),
        }))
    }

    /// The payload type of the op's values, when it is known before running: declared with
    /// [`Op::returns_payload`], or by an [`Op::typed`] closure returning `Arc<T>`. `None`
    /// for ops whose values are plain (numbers, strings, lists, array blocks) or not known.
    ///
    /// ```
    /// use blockwork::Op;
    /// use blockwork::graph::PayloadType;
    /// use std::sync::Arc;
    /// let words = Op::typed("words", |s: String| Arc::new(vec![s]));
    /// assert_eq!(words.payload_type(), Some(PayloadType::of::<Arc<Vec<String>>>()));
    /// assert_eq!(Op::typed("inc", |x: i64| x + 1).payload_type(), None);
    /// ```
    pub fn payload_type(&self) -> Option<PayloadType> {
        self.0.payload()
    }

    /// Runs the operation on arguments.
    #[inline]
    pub fn call(&self, args: &[Value]) -> Result<Value, TaskError> {
        self.0.call(args)
    }

    /// The operation's name.
    pub fn name(&self) -> &str {
        self.0.name()
    }

    /// An identity for de-duplicating ops: equal for clones of one `Op`.
    pub(crate) fn addr(&self) -> usize {
        Arc::as_ptr(&self.0) as *const () as usize
    }

    /// Whether two ops are the same operation (clones of one `Op`).
    pub fn same(&self, other: &Op) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.0), Arc::as_ptr(&other.0))
    }
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Op({})", self.name())
    }
}

impl PartialEq for Op {
    fn eq(&self, other: &Op) -> bool {
        self.same(other)
    }
}

/// A closure with typed arguments, usable with [`Op::typed`]. Implemented for `Fn(A, ..) -> R`
/// of zero to eight arguments where each argument is [`TaskArg`] (which every
/// [`FromValue`](crate::FromValue) type is) and `R` is [`IntoTaskResult`].
///
/// ```
/// use blockwork::{graph::TypedFn, Value};
/// fn norm(x: f64, y: f64) -> f64 { x.hypot(y) }
/// assert_eq!(norm.call_values(&[Value::Int(3), Value::Float(4.0)]).unwrap(), Value::Float(5.0));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a typed task function",
    label = "not a typed task function",
    note = "a typed task function is `Fn(A, ..) -> R + Send + Sync + 'static` with up to eight `TaskArg` arguments and an `IntoTaskResult` return"
)]
pub trait TypedFn<Args>: Send + Sync + 'static {
    /// Converts the arguments, checks their count, calls, converts the result.
    fn call_values(&self, args: &[Value]) -> Result<Value, TaskError>;

    /// The payload type of the results, when the return type declares one (see
    /// [`IntoTaskResult::payload_type`]).
    fn payload_type(&self) -> Option<PayloadType> {
        None
    }
}

#[cold]
fn arity_error(expected: usize, got: usize) -> TaskError {
    TaskError::with_kind(
        crate::ErrorKind::InvalidArgument,
        format!("expected {expected} arguments, got {got}"),
    )
}

macro_rules! typed_fn {
    ($n:literal; $($a:ident $i:tt),*) => {
        // Two `Fn` bounds: `Fn(A, ..)` names the argument types for inference, and the
        // higher-ranked one takes arguments that borrow from the values for one call
        // (`A::Item<'a>` is `A` itself except for views).
        impl<F, R, $($a),*> TypedFn<($($a,)*)> for F
        where
            F: Fn($($a),*) -> R
                + for<'a> Fn($($a::Item<'a>),*) -> R
                + Send
                + Sync
                + 'static,
            R: IntoTaskResult,
            $($a: TaskArg,)*
        {
            #[inline]
            #[allow(unused_variables, non_snake_case)]
            fn call_values(&self, args: &[Value]) -> Result<Value, TaskError> {
                #[inline(always)]
                #[allow(non_snake_case, clippy::too_many_arguments)]
                fn call<R, $($a),*>(f: &impl Fn($($a),*) -> R, $($a: $a),*) -> R {
                    f($($a),*)
                }
                if args.len() != $n {
                    return Err(arity_error($n, args.len()));
                }
                call(self, $($a::from_arg(&args[$i])?),*).into_task_result()
            }

            fn payload_type(&self) -> Option<PayloadType> {
                R::payload_type()
            }
        }
    };
}
typed_fn!(0;);
typed_fn!(1; A 0);
typed_fn!(2; A 0, B 1);
typed_fn!(3; A 0, B 1, C 2);
typed_fn!(4; A 0, B 1, C 2, D 3);
typed_fn!(5; A 0, B 1, C 2, D 3, E 4);
typed_fn!(6; A 0, B 1, C 2, D 3, E 4, G 5);
typed_fn!(7; A 0, B 1, C 2, D 3, E 4, G 5, H 6);
typed_fn!(8; A 0, B 1, C 2, D 3, E 4, G 5, H 6, I 7);
