//! The builtin ops: arithmetic, comparisons, lists, strings, and ops for benchmarks and
//! tests. Every one checks its argument types and overflow and returns a [`TaskError`]
//! rather than panicking (except `panic`, whose purpose is to panic).

use super::limits::Limits;
use super::registry::{Arity, Registry};
use super::text::{QUOTED_BYTES, quoted};
use crate::array::ArrayContext;
use crate::error::{ErrorKind, TaskError};
use crate::graph::Op;
use crate::value::Value;
use std::cmp::Ordering;
use std::time::{Duration, Instant};

/// An op body: plain, or one that needs the registry's [`Limits`].
#[derive(Clone, Copy)]
enum Body {
    Plain(fn(&[Value]) -> Result<Value, TaskError>),
    Limited(fn(&[Value], &Limits) -> Result<Value, TaskError>),
}
use Body::{Limited, Plain};

/// Every builtin: name, arity, one-line description, body.
const BUILTINS: &[(&str, Arity, &str, Body)] = &[
    (
        "identity",
        Arity::exactly(1),
        "its argument, unchanged",
        Limited(identity),
    ),
    (
        "add",
        Arity::at_least(0),
        "sum of numbers (int if all are ints, checked)",
        Plain(add),
    ),
    ("sub", Arity::exactly(2), "a - b", Plain(sub)),
    (
        "mul",
        Arity::at_least(0),
        "product of numbers (int if all are ints, checked)",
        Plain(mul),
    ),
    (
        "div",
        Arity::exactly(2),
        "a / b as a float; b = 0 is an error",
        Plain(div),
    ),
    (
        "floordiv",
        Arity::exactly(2),
        "floor(a / b), int for ints; b = 0 is an error",
        Plain(floordiv),
    ),
    (
        "mod",
        Arity::exactly(2),
        "a mod b with the sign of b (Python's %)",
        Plain(modulo),
    ),
    (
        "pow",
        Arity::exactly(2),
        "a ** b; int for ints with b >= 0",
        Plain(pow),
    ),
    ("neg", Arity::exactly(1), "-a", Plain(neg)),
    ("abs", Arity::exactly(1), "|a|", Plain(abs)),
    ("inc", Arity::exactly(1), "a + 1", Plain(inc)),
    ("dec", Arity::exactly(1), "a - 1", Plain(dec)),
    (
        "int",
        Arity::exactly(1),
        "to int: floats truncate, strings parse, bools 0/1",
        Plain(to_int),
    ),
    (
        "float",
        Arity::exactly(1),
        "to float: ints convert, strings parse",
        Plain(to_float),
    ),
    (
        "eq",
        Arity::exactly(2),
        "a == b (numbers compare by value, NaN unequal)",
        Limited(eq),
    ),
    ("ne", Arity::exactly(2), "a != b", Limited(ne)),
    (
        "lt",
        Arity::exactly(2),
        "a < b (numbers, strings or bools)",
        Plain(lt),
    ),
    ("le", Arity::exactly(2), "a <= b", Plain(le)),
    ("gt", Arity::exactly(2), "a > b", Plain(gt)),
    ("ge", Arity::exactly(2), "a >= b", Plain(ge)),
    (
        "not",
        Arity::exactly(1),
        "logical not of a bool",
        Plain(not),
    ),
    (
        "and",
        Arity::at_least(0),
        "logical and of bools (true for none)",
        Plain(and),
    ),
    (
        "or",
        Arity::at_least(0),
        "logical or of bools (false for none)",
        Plain(or),
    ),
    (
        "sum",
        Arity::exactly(1),
        "sum of a list of numbers (0 for an empty list)",
        Plain(sum),
    ),
    (
        "min",
        Arity::exactly(1),
        "smallest of a non-empty list of numbers or strings",
        Plain(min),
    ),
    (
        "max",
        Arity::exactly(1),
        "largest of a non-empty list of numbers or strings",
        Plain(max),
    ),
    (
        "len",
        Arity::exactly(1),
        "length of a list, or characters in a string",
        Plain(len),
    ),
    (
        "list",
        Arity::at_least(0),
        "a list of the arguments",
        Limited(list),
    ),
    (
        "concat",
        Arity::at_least(0),
        "the lists given, concatenated",
        Limited(concat),
    ),
    (
        "getitem",
        Arity::exactly(2),
        "element i of a list (negative i counts from the end)",
        Limited(getitem),
    ),
    (
        "str_concat",
        Arity::at_least(0),
        "the strings given, concatenated",
        Limited(str_concat),
    ),
    (
        "inc_u32",
        Arity::exactly(1),
        "a + 1 modulo 2^32 (the benchmark shapes' op)",
        Plain(inc_u32),
    ),
    (
        "add_u32",
        Arity::at_least(0),
        "sum modulo 2^32 (the benchmark shapes' op)",
        Plain(add_u32),
    ),
    (
        "spin",
        Arity::at_least(1),
        "busy-waits ns nanoseconds (at most 60e9); returns ns (later args: deps)",
        Plain(spin),
    ),
    (
        "sleep",
        Arity::at_least(1),
        "sleeps ns nanoseconds (at most 60e9); returns ns (later args: deps)",
        Plain(sleep),
    ),
    (
        "fail",
        Arity::between(0, 1),
        "fails with the message given",
        Plain(fail),
    ),
    (
        "panic",
        Arity::between(0, 1),
        "panics with the message given",
        Plain(panic),
    ),
];

/// A registry of all builtins.
pub(super) fn registry(arrays: &ArrayContext, limits: Limits) -> Registry {
    let mut reg = Registry::with_limits(limits);
    for &(name, arity, doc, body) in BUILTINS {
        // Spec files are checked against the arity when read; graphs built in code are
        // checked here, so that a wrong count is an error rather than an index panic.
        let op = Op::new(name, move |args: &[Value]| {
            if !arity.accepts(args.len()) {
                return Err(TaskError::with_kind(
                    ErrorKind::InvalidArgument,
                    format!("{name} takes {arity} arguments, got {}", args.len()),
                ));
            }
            match body {
                Plain(f) => f(args),
                Limited(f) => f(args, &limits),
            }
        });
        reg.register(op, arity, doc)
            .expect("builtin names are distinct");
    }
    super::array_ops::register(&mut reg, arrays, limits);
    reg
}

#[cold]
fn type_error(what: &str, got: &Value) -> TaskError {
    TaskError::with_kind(
        ErrorKind::Type,
        format!("expected {what}, got {}", got.type_name()),
    )
}

#[cold]
fn overflow() -> TaskError {
    TaskError::with_kind(ErrorKind::Overflow, "integer overflow")
}

#[cold]
fn zero_division() -> TaskError {
    TaskError::with_kind(ErrorKind::InvalidArgument, "division by zero")
}

/// A number argument.
#[derive(Clone, Copy, Debug)]
enum Num {
    I(i64),
    F(f64),
}

impl Num {
    fn of(v: &Value) -> Result<Num, TaskError> {
        match *v {
            Value::Int(i) => Ok(Num::I(i)),
            Value::Float(f) => Ok(Num::F(f)),
            _ => Err(type_error("a number", v)),
        }
    }
    fn as_f64(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::F(f) => f,
        }
    }
    fn value(self) -> Value {
        match self {
            Num::I(i) => Value::Int(i),
            Num::F(f) => Value::Float(f),
        }
    }
    /// Applies the checked int op to two ints, the float op otherwise.
    fn apply(
        self,
        other: Num,
        int: impl Fn(i64, i64) -> Result<i64, TaskError>,
        float: impl Fn(f64, f64) -> Result<f64, TaskError>,
    ) -> Result<Num, TaskError> {
        match (self, other) {
            (Num::I(a), Num::I(b)) => int(a, b).map(Num::I),
            (a, b) => float(a.as_f64(), b.as_f64()).map(Num::F),
        }
    }
}

fn two_numbers(args: &[Value]) -> Result<(Num, Num), TaskError> {
    Ok((Num::of(&args[0])?, Num::of(&args[1])?))
}

fn fold_nums(
    items: &[Value],
    init: i64,
    int: fn(i64, i64) -> Option<i64>,
    float: fn(f64, f64) -> f64,
) -> Result<Value, TaskError> {
    let mut acc = Num::I(init);
    for v in items {
        acc = acc.apply(
            Num::of(v)?,
            |a, b| int(a, b).ok_or_else(overflow),
            |a, b| Ok(float(a, b)),
        )?;
    }
    Ok(acc.value())
}

/// A list argument may be an argument list that the executor assembled for this task (the
/// spec's `[...]`): ops that return one, or an element of one, check it as a new value.
fn passed_on(v: &Value, limits: &Limits) -> Result<Value, TaskError> {
    if matches!(v, Value::List(_)) {
        limits.check_value("the list", v)?;
    }
    Ok(v.clone())
}
fn identity(args: &[Value], limits: &Limits) -> Result<Value, TaskError> {
    passed_on(&args[0], limits)
}
fn add(args: &[Value]) -> Result<Value, TaskError> {
    fold_nums(args, 0, i64::checked_add, |a, b| a + b)
}
fn mul(args: &[Value]) -> Result<Value, TaskError> {
    fold_nums(args, 1, i64::checked_mul, |a, b| a * b)
}
fn sub(args: &[Value]) -> Result<Value, TaskError> {
    let (a, b) = two_numbers(args)?;
    let d = a.apply(
        b,
        |a, b| a.checked_sub(b).ok_or_else(overflow),
        |a, b| Ok(a - b),
    )?;
    Ok(d.value())
}
fn div(args: &[Value]) -> Result<Value, TaskError> {
    let (a, b) = two_numbers(args)?;
    if b.as_f64() == 0.0 {
        return Err(zero_division());
    }
    Ok(Value::Float(a.as_f64() / b.as_f64()))
}
fn floordiv(args: &[Value]) -> Result<Value, TaskError> {
    let (a, b) = two_numbers(args)?;
    let int = |a: i64, b: i64| {
        if b == 0 {
            return Err(zero_division());
        }
        let q = a.checked_div(b).ok_or_else(overflow)?;
        // Truncation rounds towards zero; floor rounds down when the signs differ.
        Ok(if a % b != 0 && ((a < 0) != (b < 0)) {
            q - 1
        } else {
            q
        })
    };
    let float = |a: f64, b: f64| {
        if b == 0.0 {
            return Err(zero_division());
        }
        Ok((a / b).floor())
    };
    Ok(a.apply(b, int, float)?.value())
}
fn modulo(args: &[Value]) -> Result<Value, TaskError> {
    let (a, b) = two_numbers(args)?;
    let int = |a: i64, b: i64| {
        if b == 0 {
            return Err(zero_division());
        }
        let r = a.wrapping_rem(b); // only i64::MIN % -1 wraps, and its remainder is 0
        Ok(if r != 0 && ((r < 0) != (b < 0)) {
            r + b
        } else {
            r
        })
    };
    let float = |a: f64, b: f64| {
        if b == 0.0 {
            return Err(zero_division());
        }
        let r = a % b;
        Ok(if r != 0.0 && ((r < 0.0) != (b < 0.0)) {
            r + b
        } else {
            r
        })
    };
    Ok(a.apply(b, int, float)?.value())
}
fn pow(args: &[Value]) -> Result<Value, TaskError> {
    match two_numbers(args)? {
        // 0, 1 and -1 stay in range whatever the exponent.
        (Num::I(a @ (0 | 1)), Num::I(b)) if b > 0 => Ok(Value::Int(a)),
        (Num::I(-1), Num::I(b)) if b >= 0 => Ok(Value::Int(if b % 2 == 0 { 1 } else { -1 })),
        (Num::I(a), Num::I(b)) if b >= 0 => {
            let e = u32::try_from(b).map_err(|_| overflow())?;
            a.checked_pow(e).map(Value::Int).ok_or_else(overflow)
        }
        (a, b) => Ok(Value::Float(a.as_f64().powf(b.as_f64()))),
    }
}
fn unary(
    args: &[Value],
    int: fn(i64) -> Option<i64>,
    float: fn(f64) -> f64,
) -> Result<Value, TaskError> {
    match Num::of(&args[0])? {
        Num::I(i) => int(i).map(Value::Int).ok_or_else(overflow),
        Num::F(f) => Ok(Value::Float(float(f))),
    }
}
fn neg(args: &[Value]) -> Result<Value, TaskError> {
    unary(args, i64::checked_neg, |f| -f)
}
fn abs(args: &[Value]) -> Result<Value, TaskError> {
    unary(args, i64::checked_abs, f64::abs)
}
fn inc(args: &[Value]) -> Result<Value, TaskError> {
    unary(args, |i| i.checked_add(1), |f| f + 1.0)
}
fn dec(args: &[Value]) -> Result<Value, TaskError> {
    unary(args, |i| i.checked_sub(1), |f| f - 1.0)
}
fn to_int(args: &[Value]) -> Result<Value, TaskError> {
    let v = &args[0];
    let i = match v {
        Value::Int(i) => *i,
        Value::Bool(b) => i64::from(*b),
        // `as` saturates; the range check keeps conversion exact or an error.
        Value::Float(f)
            if f.is_finite()
                && f.trunc() >= -9.223_372_036_854_776e18
                && f.trunc() < 9.223_372_036_854_776e18 =>
        {
            *f as i64
        }
        Value::Float(_) => return Err(overflow()),
        Value::Str(s) => s.trim().parse().map_err(|_| {
            TaskError::with_kind(
                ErrorKind::InvalidArgument,
                format!("not an integer: {}", quoted(s)),
            )
        })?,
        _ => return Err(type_error("a number, bool or string", v)),
    };
    Ok(Value::Int(i))
}
fn to_float(args: &[Value]) -> Result<Value, TaskError> {
    let v = &args[0];
    match v {
        Value::Int(_) | Value::Float(_) => Ok(Value::Float(Num::of(v)?.as_f64())),
        Value::Str(s) => s.trim().parse().map(Value::Float).map_err(|_| {
            TaskError::with_kind(
                ErrorKind::InvalidArgument,
                format!("not a float: {}", quoted(s)),
            )
        }),
        _ => Err(type_error("a number or string", v)),
    }
}

/// The order of two comparable values: numbers by value, strings, bools. `None` when a
/// NaN is involved.
fn compare(a: &Value, b: &Value) -> Result<Option<Ordering>, TaskError> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(Some(x.cmp(y))),
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
            Ok(Num::of(a)?.as_f64().partial_cmp(&Num::of(b)?.as_f64()))
        }
        (Value::Str(x), Value::Str(y)) => Ok(Some(x.cmp(y))),
        (Value::Bool(x), Value::Bool(y)) => Ok(Some(x.cmp(y))),
        _ => Err(TaskError::with_kind(
            ErrorKind::Type,
            format!("cannot compare {} with {}", a.type_name(), b.type_name()),
        )),
    }
}
/// `eq` as [`Value::eq_by_value`] defines it, within the comparison budget.
fn equal(a: &Value, b: &Value, limits: &Limits) -> Result<bool, TaskError> {
    a.eq_by_value(b, limits.max_elements()).ok_or_else(|| {
        TaskError::with_kind(
            ErrorKind::TooLarge,
            format!(
                "comparing more than {} elements is over the value budget",
                limits.max_elements()
            ),
        )
    })
}
fn eq(args: &[Value], limits: &Limits) -> Result<Value, TaskError> {
    Ok(Value::Bool(equal(&args[0], &args[1], limits)?))
}
fn ne(args: &[Value], limits: &Limits) -> Result<Value, TaskError> {
    Ok(Value::Bool(!equal(&args[0], &args[1], limits)?))
}
fn ordered(args: &[Value], accept: fn(Ordering) -> bool) -> Result<Value, TaskError> {
    Ok(Value::Bool(
        compare(&args[0], &args[1])?.is_some_and(accept),
    ))
}
fn lt(args: &[Value]) -> Result<Value, TaskError> {
    ordered(args, Ordering::is_lt)
}
fn le(args: &[Value]) -> Result<Value, TaskError> {
    ordered(args, Ordering::is_le)
}
fn gt(args: &[Value]) -> Result<Value, TaskError> {
    ordered(args, Ordering::is_gt)
}
fn ge(args: &[Value]) -> Result<Value, TaskError> {
    ordered(args, Ordering::is_ge)
}
fn boolean(v: &Value) -> Result<bool, TaskError> {
    v.as_bool().ok_or_else(|| type_error("a bool", v))
}
fn not(args: &[Value]) -> Result<Value, TaskError> {
    Ok(Value::Bool(!boolean(&args[0])?))
}
fn and(args: &[Value]) -> Result<Value, TaskError> {
    let mut all = true;
    for v in args {
        all &= boolean(v)?;
    }
    Ok(Value::Bool(all))
}
fn or(args: &[Value]) -> Result<Value, TaskError> {
    let mut any = false;
    for v in args {
        any |= boolean(v)?;
    }
    Ok(Value::Bool(any))
}

fn the_list(v: &Value) -> Result<&[Value], TaskError> {
    v.as_list().ok_or_else(|| type_error("a list", v))
}
fn sum(args: &[Value]) -> Result<Value, TaskError> {
    fold_nums(the_list(&args[0])?, 0, i64::checked_add, |a, b| a + b)
}
/// The element that `better(candidate, best)` prefers over all others; a NaN wins outright.
fn extreme(args: &[Value], better: fn(Ordering) -> bool) -> Result<Value, TaskError> {
    let items = the_list(&args[0])?;
    let Some(mut best) = items.first() else {
        return Err(TaskError::with_kind(ErrorKind::Empty, "empty list"));
    };
    for v in items {
        match compare(v, best)? {
            Some(o) if better(o) => best = v,
            Some(_) => {}
            None if v.as_float().is_some_and(f64::is_nan) => return Ok(v.clone()),
            None => return Ok(best.clone()), // `best` is the NaN
        }
    }
    Ok(best.clone())
}
fn min(args: &[Value]) -> Result<Value, TaskError> {
    extreme(args, Ordering::is_lt)
}
fn max(args: &[Value]) -> Result<Value, TaskError> {
    extreme(args, Ordering::is_gt)
}
fn len(args: &[Value]) -> Result<Value, TaskError> {
    let n = match &args[0] {
        Value::List(l) => l.len(),
        Value::Str(s) => s.chars().count(),
        v => return Err(type_error("a list or string", v)),
    };
    Ok(Value::Int(n as i64))
}
/// Bytes of a list of `n` element slots.
fn slots(n: usize) -> usize {
    n.saturating_mul(std::mem::size_of::<Value>())
}
/// A list of the arguments: its slots are checked before it is built, and its deep size
/// (the values inside counted too) after, so a list of large values is refused.
fn list(args: &[Value], limits: &Limits) -> Result<Value, TaskError> {
    limits.check("the list", slots(args.len()))?;
    let out = Value::List(args.into());
    limits.check_value("the list", &out)?;
    Ok(out)
}
fn concat(args: &[Value], limits: &Limits) -> Result<Value, TaskError> {
    let mut n = 0usize;
    for v in args {
        n = n.saturating_add(the_list(v)?.len());
    }
    limits.check("the concatenated list", slots(n))?;
    let mut out = Vec::with_capacity(n);
    for v in args {
        out.extend_from_slice(the_list(v)?);
    }
    let out = Value::List(out.into());
    limits.check_value("the concatenated list", &out)?;
    Ok(out)
}
fn getitem(args: &[Value], limits: &Limits) -> Result<Value, TaskError> {
    let items = the_list(&args[0])?;
    let i = args[1]
        .as_int()
        .ok_or_else(|| type_error("an int index", &args[1]))?;
    let at = if i < 0 {
        i.checked_add(items.len() as i64)
    } else {
        Some(i)
    };
    let item = at
        .and_then(|j| usize::try_from(j).ok())
        .and_then(|j| items.get(j))
        .ok_or_else(|| {
            TaskError::with_kind(
                ErrorKind::Index,
                format!("index {i} out of range for a list of {}", items.len()),
            )
        })?;
    passed_on(item, limits)
}
fn str_concat(args: &[Value], limits: &Limits) -> Result<Value, TaskError> {
    let mut n = 0usize;
    for v in args {
        n = n.saturating_add(v.as_str().ok_or_else(|| type_error("a string", v))?.len());
    }
    limits.check("the concatenated string", n)?;
    let mut out = String::with_capacity(n);
    for v in args {
        out.push_str(v.as_str().ok_or_else(|| type_error("a string", v))?);
    }
    Ok(Value::from(out))
}
fn u32_of(v: &Value) -> Result<u64, TaskError> {
    Ok(v.as_int().ok_or_else(|| type_error("an int", v))? as u64)
}
fn inc_u32(args: &[Value]) -> Result<Value, TaskError> {
    Ok(Value::Int(
        (u32_of(&args[0])?.wrapping_add(1) & 0xFFFF_FFFF) as i64,
    ))
}
fn add_u32(args: &[Value]) -> Result<Value, TaskError> {
    let mut acc = 0u64;
    for v in args {
        acc = acc.wrapping_add(u32_of(v)?);
    }
    Ok(Value::Int((acc & 0xFFFF_FFFF) as i64))
}
/// The longest `sleep` or `spin` (one minute): a longer wait in a spec file is a mistake or
/// an attack, and a run must not hang.
const MAX_WAIT_NANOS: i64 = 60_000_000_000;

fn nanos(v: &Value) -> Result<(i64, Duration), TaskError> {
    match v.as_int() {
        Some(ns) if (0..=MAX_WAIT_NANOS).contains(&ns) => Ok((ns, Duration::from_nanos(ns as u64))),
        _ => Err(TaskError::with_kind(
            ErrorKind::InvalidArgument,
            format!(
                "expected an int of nanoseconds from 0 to {MAX_WAIT_NANOS} (one minute), got {}",
                shown(v)
            ),
        )),
    }
}
fn spin(args: &[Value]) -> Result<Value, TaskError> {
    let (ns, d) = nanos(&args[0])?;
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
    Ok(Value::Int(ns))
}
fn sleep(args: &[Value]) -> Result<Value, TaskError> {
    let (ns, d) = nanos(&args[0])?;
    std::thread::sleep(d);
    Ok(Value::Int(ns))
}
/// A value for a message: its debug text when short, else its type and length (a list shared
/// many times over could take forever to print); a long string is cut ([`quoted`]).
fn shown(v: &Value) -> String {
    match v {
        Value::List(l) if v.deep_size(QUOTED_BYTES).is_none() => {
            format!("<a list of {} elements, too large to show>", l.len())
        }
        Value::Str(s) => quoted(s),
        _ => format!("{v:?}"),
    }
}
/// The message of `fail` and `panic`: a string as it is (cut after [`QUOTED_BYTES`] bytes,
/// as [`quoted`] cuts), another value as [`shown`].
fn message(args: &[Value], default: &str) -> String {
    match args.first() {
        Some(Value::Str(s)) if s.len() <= QUOTED_BYTES => s.to_string(),
        Some(v) => shown(v),
        None => default.to_owned(),
    }
}
fn fail(args: &[Value]) -> Result<Value, TaskError> {
    Err(TaskError::new(message(args, "failed on purpose")))
}
fn panic(args: &[Value]) -> Result<Value, TaskError> {
    panic!("{}", message(args, "panicked on purpose"))
}
