//! The `array.*` builtins: blocked arrays in spec files.
//!
//! An array travels between tasks as an [`ArrayValue`]: an opaque value holding the lazy
//! [`Array`] (its recipe, not its elements). Ops such as `array.add` build a bigger recipe;
//! `array.compute` (or `array.to_list`) runs it on a [`Sequential`] executor inside its own
//! task and returns the elements as nested lists. The blocks therefore never become nodes of
//! the spec's graph, and one `array.compute` uses one thread.

use super::limits::Limits;
use super::registry::{Arity, Registry};
use crate::array::{
    Array, ArrayContext, BinOp, BlockData, ChunkSpec, DType, Operand, ReduceOp, Reduction, Scalar,
    UnOp, binary, unary,
};
use crate::error::{Error, ErrorKind, TaskError};
use crate::exec::Sequential;
use crate::graph::Op;
use crate::value::{Payload, Value};
use std::any::Any;
use std::sync::Arc;

/// Most blocks an array made in a spec file may have.
pub const MAX_BLOCKS: usize = 1 << 20;
/// Most elements one block of an array made in a spec file may have.
pub const MAX_BLOCK_ELEMENTS: usize = 1 << 27;
/// Most elements `array.compute` turns into a nested list.
pub const MAX_LIST_ELEMENTS: usize = 1 << 24;

/// An array as a spec value: the lazy [`Array`] inside an opaque [`Value`].
///
/// ```
/// use blockwork::spec::{ArrayValue, Spec};
/// use blockwork::{Executor, Sequential};
/// let spec = Spec::from_json(r#"{"nodes": {"x": {"op": "array.ones", "args": [[4], 2]}}}"#)?;
/// let v = Sequential::new().get(spec.graph(), "x")?;
/// assert_eq!(v.downcast_ref::<ArrayValue>().unwrap().array().shape(), &[4]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct ArrayValue {
    array: Array,
}

impl ArrayValue {
    /// `array` as a value that `array.*` ops accept.
    pub fn value(array: Array) -> Value {
        Value::payload(ArrayValue { array })
    }

    /// The array.
    pub fn array(&self) -> &Array {
        &self.array
    }
}

impl Payload for ArrayValue {
    /// The recipe's own size: the elements exist only inside `array.compute`.
    fn nbytes(&self) -> usize {
        std::mem::size_of::<Array>()
    }
    fn type_name(&self) -> &'static str {
        "array"
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

type Body = Arc<dyn Fn(&ArrayContext, &str, &[Value]) -> Result<Value, TaskError> + Send + Sync>;

/// Adds the array ops to `reg`; the arrays they make live in `ctx` (its buffer pool), and
/// the ops that turn arrays into values or multiply them enforce `limits`.
pub(super) fn register(reg: &mut Registry, ctx: &ArrayContext, limits: Limits) {
    for (name, arity, doc, body) in table(limits) {
        let ctx = ctx.clone();
        let op = Op::new(name, move |args: &[Value]| {
            if !arity.accepts(args.len()) {
                return Err(fail(
                    name,
                    ErrorKind::InvalidArgument,
                    format!("takes {arity} arguments, got {}", args.len()),
                ));
            }
            body(&ctx, name, args)
        });
        reg.register(op, arity, doc)
            .expect("array op names are distinct");
    }
}

/// The body of an op that makes no new array from scratch.
fn body(f: fn(&str, &[Value]) -> Result<Value, TaskError>) -> Body {
    Arc::new(move |_, op, args| f(op, args))
}

/// The body of an op that makes an array in the registry's context.
fn making(f: fn(&ArrayContext, &str, &[Value]) -> Result<Value, TaskError>) -> Body {
    Arc::new(f)
}

const BINARY: &[(&str, BinOp)] = &[
    ("array.add", BinOp::Add),
    ("array.sub", BinOp::Sub),
    ("array.mul", BinOp::Mul),
    ("array.div", BinOp::Div),
    ("array.floordiv", BinOp::FloorDiv),
    ("array.mod", BinOp::Rem),
    ("array.pow", BinOp::Pow),
    ("array.maximum", BinOp::Maximum),
    ("array.minimum", BinOp::Minimum),
    ("array.eq", BinOp::Eq),
    ("array.ne", BinOp::Ne),
    ("array.lt", BinOp::Lt),
    ("array.le", BinOp::Le),
    ("array.gt", BinOp::Gt),
    ("array.ge", BinOp::Ge),
];

const UNARY: &[(&str, UnOp)] = &[
    ("array.neg", UnOp::Neg),
    ("array.abs", UnOp::Abs),
    ("array.exp", UnOp::Exp),
    ("array.log", UnOp::Log),
    ("array.sqrt", UnOp::Sqrt),
    ("array.sin", UnOp::Sin),
    ("array.cos", UnOp::Cos),
    ("array.tanh", UnOp::Tanh),
    ("array.floor", UnOp::Floor),
    ("array.ceil", UnOp::Ceil),
];

const REDUCE: &[(&str, ReduceOp)] = &[
    ("array.sum", ReduceOp::Sum),
    ("array.prod", ReduceOp::Prod),
    ("array.mean", ReduceOp::Mean),
    ("array.min", ReduceOp::Min),
    ("array.max", ReduceOp::Max),
];

fn table(limits: Limits) -> Vec<(&'static str, Arity, &'static str, Body)> {
    let mut t: Vec<(&'static str, Arity, &'static str, Body)> = vec![
        (
            "array.from_list",
            Arity::between(1, 2),
            "array of a nested list of numbers or bools [, chunks]",
            Arc::new(move |ctx: &ArrayContext, op: &str, a: &[Value]| {
                limits.check_value("the nested list", &a[0])?;
                from_list(ctx, op, a)
            }),
        ),
        (
            "array.zeros",
            Arity::between(2, 3),
            "zeros of shape, chunks [, dtype]",
            making(|ctx, op, a| filled(ctx, op, a, 0)),
        ),
        (
            "array.ones",
            Arity::between(2, 3),
            "ones of shape, chunks [, dtype]",
            making(|ctx, op, a| filled(ctx, op, a, 1)),
        ),
        (
            "array.full",
            Arity::exactly(3),
            "shape, chunks, value: every element the value",
            making(full),
        ),
        (
            "array.arange",
            Arity::between(2, 4),
            "[start,] stop [, step], chunks: int if all ints",
            making(arange),
        ),
        (
            "array.random",
            Arity::exactly(3),
            "shape, chunks, seed: uniform floats on [0, 1)",
            making(random),
        ),
        (
            "array.matmul",
            Arity::exactly(2),
            "matrix product a @ b",
            Arc::new(move |_, op: &str, a: &[Value]| matmul(op, a, &limits)),
        ),
        (
            "array.transpose",
            Arity::exactly(1),
            "axes reversed",
            body(|op, a| out(op, Ok(array(op, &a[0])?.t()))),
        ),
        (
            "array.std",
            Arity::between(1, 3),
            "standard deviation [, axis [, ddof]]",
            body(|op, a| spread(op, a, true)),
        ),
        (
            "array.var",
            Arity::between(1, 3),
            "variance [, axis [, ddof]]",
            body(|op, a| spread(op, a, false)),
        ),
        (
            "array.shape",
            Arity::exactly(1),
            "the shape, as a list of ints",
            body(shape),
        ),
        (
            "array.compute",
            Arity::exactly(1),
            "computes an array: nested lists (a scalar for 0-d)",
            Arc::new(move |_, op: &str, a: &[Value]| compute(op, a, &limits)),
        ),
        (
            "array.to_list",
            Arity::exactly(1),
            "the same as array.compute (NumPy's tolist)",
            Arc::new(move |_, op: &str, a: &[Value]| compute(op, a, &limits)),
        ),
    ];
    for &(name, op) in BINARY {
        let f: Body = Arc::new(move |_, name, a| elementwise2(name, op, a));
        t.push((name, Arity::exactly(2), "elementwise; arrays or scalars", f));
    }
    for &(name, op) in UNARY {
        let f: Body = Arc::new(move |_, name, a| out(name, unary(op, array(name, &a[0])?)));
        t.push((name, Arity::exactly(1), "elementwise, of one array", f));
    }
    for &(name, op) in REDUCE {
        let f: Body = Arc::new(move |_, name, a| reduce(name, op, a));
        t.push((name, Arity::between(1, 2), "reduction [, axis or axes]", f));
    }
    t
}

#[cold]
fn fail(op: &str, kind: ErrorKind, msg: impl std::fmt::Display) -> TaskError {
    TaskError::with_kind(kind, format!("{op}: {msg}"))
}

/// An array result, checked against the spec limits, or the array error named by the op.
fn out(op: &str, r: crate::error::Result<Array>) -> Result<Value, TaskError> {
    let a = r.map_err(|e| lift(op, e))?;
    let nblocks = a.chunks().nblocks();
    if nblocks > MAX_BLOCKS || largest_block(&a).is_none_or(|b| b > MAX_BLOCK_ELEMENTS) {
        return Err(fail(
            op,
            ErrorKind::TooLarge,
            format!(
                "array of shape {:?} in {nblocks} blocks is over the limits \
                 ({MAX_BLOCKS} blocks, {MAX_BLOCK_ELEMENTS} elements a block)",
                a.shape()
            ),
        ));
    }
    Ok(ArrayValue::value(a))
}

/// Elements of the largest block of `a` (`None` if that overflows).
fn largest_block(a: &Array) -> Option<usize> {
    let c = a.chunks();
    (0..c.ndim())
        .map(|k| c.axis(k).iter().copied().max().unwrap_or(0))
        .try_fold(1usize, |acc, n| acc.checked_mul(n))
}

fn lift(op: &str, e: Error) -> TaskError {
    fail(op, e.kind(), e)
}

fn array<'a>(op: &str, v: &'a Value) -> Result<&'a Array, TaskError> {
    v.downcast_ref::<ArrayValue>()
        .map(ArrayValue::array)
        .ok_or_else(|| {
            fail(
                op,
                ErrorKind::Type,
                format!("expected an array, got {}", v.type_name()),
            )
        })
}

fn int(op: &str, what: &str, v: &Value) -> Result<i64, TaskError> {
    v.as_int().ok_or_else(|| {
        fail(
            op,
            ErrorKind::Type,
            format!("{what}: expected an int, got {}", v.type_name()),
        )
    })
}

fn size(op: &str, what: &str, v: &Value) -> Result<usize, TaskError> {
    let i = int(op, what, v)?;
    usize::try_from(i).map_err(|_| fail(op, ErrorKind::InvalidArgument, format!("{what}: {i} < 0")))
}

/// A shape: an int or a list of ints, none negative.
fn shape_arg(op: &str, v: &Value) -> Result<Vec<usize>, TaskError> {
    match v.as_list() {
        Some(items) => items.iter().map(|x| size(op, "shape", x)).collect(),
        None => Ok(vec![size(op, "shape", v)?]),
    }
}

/// Chunks: an int (every axis), a list of ints (one per axis), or a list of lists of block
/// lengths.
fn chunks_arg(op: &str, v: &Value) -> Result<ChunkSpec, TaskError> {
    let Some(items) = v.as_list() else {
        return Ok(ChunkSpec::Same(size(op, "chunks", v)?));
    };
    if items.iter().any(|x| x.as_list().is_some()) {
        let lists = items
            .iter()
            .map(|x| shape_arg(op, x))
            .collect::<Result<_, _>>()?;
        return Ok(ChunkSpec::Explicit(lists));
    }
    Ok(ChunkSpec::PerAxis(
        items
            .iter()
            .map(|x| size(op, "chunks", x))
            .collect::<Result<_, _>>()?,
    ))
}

/// The blocks `spec` would cut `shape` into, refused over [`MAX_BLOCKS`] before the grid is
/// built (a zero-length axis may otherwise ask for any number of blocks).
fn check_grid(op: &str, shape: &[usize], spec: &ChunkSpec) -> Result<(), TaskError> {
    let per_axis = |k: usize, n: usize| match (shape.get(k), n) {
        (Some(&d), n) if n > 0 => d.div_ceil(n).max(1),
        _ => 1,
    };
    let counts: Vec<usize> = match spec {
        ChunkSpec::Same(n) => (0..shape.len()).map(|k| per_axis(k, *n)).collect(),
        ChunkSpec::PerAxis(v) => v.iter().enumerate().map(|(k, &n)| per_axis(k, n)).collect(),
        ChunkSpec::Explicit(_) => return Ok(()), // written out, so already bounded
    };
    let total = counts.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n));
    if total.is_none_or(|t| t > MAX_BLOCKS) {
        return Err(fail(
            op,
            ErrorKind::TooLarge,
            format!("shape {shape:?} with chunks {spec:?} is over {MAX_BLOCKS} blocks"),
        ));
    }
    Ok(())
}

fn grid(op: &str, shape: &Value, chunks: &Value) -> Result<(Vec<usize>, ChunkSpec), TaskError> {
    let shape = shape_arg(op, shape)?;
    let spec = chunks_arg(op, chunks)?;
    check_grid(op, &shape, &spec)?;
    Ok((shape, spec))
}

fn dtype_arg(op: &str, v: &Value) -> Result<DType, TaskError> {
    let name = v.as_str().ok_or_else(|| {
        fail(
            op,
            ErrorKind::Type,
            format!("dtype: expected a string, got {}", v.type_name()),
        )
    })?;
    [DType::Bool, DType::I32, DType::I64, DType::F32, DType::F64]
        .into_iter()
        .find(|t| t.name() == name)
        .ok_or_else(|| {
            fail(
                op,
                ErrorKind::InvalidArgument,
                format!("unknown dtype '{name}' (bool, int32, int64, float32, float64)"),
            )
        })
}

fn scalar(v: &Value) -> Option<Scalar> {
    match *v {
        Value::Bool(b) => Some(Scalar::Bool(b)),
        Value::Int(i) => Some(Scalar::I64(i)),
        Value::Float(f) => Some(Scalar::F64(f)),
        _ => None,
    }
}

fn filled(ctx: &ArrayContext, op: &str, a: &[Value], value: i64) -> Result<Value, TaskError> {
    let (shape, spec) = grid(op, &a[0], &a[1])?;
    let dtype = a.get(2).map_or(Ok(DType::F64), |d| dtype_arg(op, d))?;
    out(op, ctx.full(&shape, spec, Scalar::I64(value).cast(dtype)))
}

fn full(ctx: &ArrayContext, op: &str, a: &[Value]) -> Result<Value, TaskError> {
    let (shape, spec) = grid(op, &a[0], &a[1])?;
    let v = scalar(&a[2]).ok_or_else(|| {
        fail(
            op,
            ErrorKind::Type,
            format!("value: expected a number or bool, got {}", a[2].type_name()),
        )
    })?;
    out(op, ctx.full(&shape, spec, v))
}

fn arange(ctx: &ArrayContext, op: &str, a: &[Value]) -> Result<Value, TaskError> {
    let (nums, chunks) = a.split_at(a.len() - 1);
    let spec = chunks_arg(op, &chunks[0])?;
    let ints: Option<Vec<i64>> = nums.iter().map(Value::as_int).collect();
    if let Some(v) = ints {
        let (start, stop, step) = match v[..] {
            [stop] => (0, stop, 1),
            [start, stop] => (start, stop, 1),
            [start, stop, step] => (start, stop, step),
            _ => unreachable!("arity is 2 to 4"),
        };
        let span = (stop as i128 - start as i128).unsigned_abs();
        let len = span.div_ceil(step.unsigned_abs().max(1) as u128);
        check_grid(op, &[usize::try_from(len).unwrap_or(usize::MAX)], &spec)?;
        return out(op, ctx.arange_int(start, stop, step, spec));
    }
    let f: Vec<f64> = nums
        .iter()
        .map(|v| match *v {
            Value::Int(i) => Ok(i as f64),
            Value::Float(f) => Ok(f),
            _ => Err(fail(
                op,
                ErrorKind::Type,
                format!("expected a number, got {}", v.type_name()),
            )),
        })
        .collect::<Result<_, _>>()?;
    let (start, stop, step) = match f[..] {
        [stop] => (0.0, stop, 1.0),
        [start, stop] => (start, stop, 1.0),
        [start, stop, step] => (start, stop, step),
        _ => unreachable!("arity is 2 to 4"),
    };
    let len = ((stop - start) / step).ceil();
    if len.is_finite() && len > 0.0 {
        check_grid(op, &[len.min(usize::MAX as f64) as usize], &spec)?;
    }
    out(op, ctx.arange(start, stop, step, spec))
}

fn random(ctx: &ArrayContext, op: &str, a: &[Value]) -> Result<Value, TaskError> {
    let (shape, spec) = grid(op, &a[0], &a[1])?;
    let seed = size(op, "seed", &a[2])? as u64;
    out(op, ctx.random(&shape, spec, seed))
}

fn operand(op: &str, v: &Value) -> Result<Operand, TaskError> {
    if let Some(x) = v.downcast_ref::<ArrayValue>() {
        return Ok(Operand::Array(x.array().clone()));
    }
    scalar(v).map(Operand::Scalar).ok_or_else(|| {
        fail(
            op,
            ErrorKind::Type,
            format!("expected an array or a number, got {}", v.type_name()),
        )
    })
}

fn elementwise2(op: &str, bin: BinOp, a: &[Value]) -> Result<Value, TaskError> {
    let (x, y) = (operand(op, &a[0])?, operand(op, &a[1])?);
    if matches!((&x, &y), (Operand::Scalar(_), Operand::Scalar(_))) {
        return Err(fail(
            op,
            ErrorKind::Type,
            "needs at least one array operand",
        ));
    }
    out(op, binary(bin, x, y))
}

/// `null` (all axes), an int, or a list of ints.
fn axes_arg(op: &str, v: Option<&Value>) -> Result<Reduction, TaskError> {
    match v {
        None | Some(Value::Unit) => Ok(Reduction::all()),
        Some(Value::List(items)) => {
            let axes = items
                .iter()
                .map(|x| int(op, "axis", x).map(|i| i as isize))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Reduction::axes(axes))
        }
        Some(x) => Ok(Reduction::axis(Some(int(op, "axis", x)? as isize))),
    }
}

fn reduce(op: &str, r: ReduceOp, a: &[Value]) -> Result<Value, TaskError> {
    let x = array(op, &a[0])?;
    let how = axes_arg(op, a.get(1))?;
    out(op, x.reduce(r, &how))
}

fn spread(op: &str, a: &[Value], std: bool) -> Result<Value, TaskError> {
    let x = array(op, &a[0])?;
    let how = axes_arg(op, a.get(1))?;
    let ddof = a.get(2).map_or(Ok(0), |d| size(op, "ddof", d))?;
    let r = if std {
        ReduceOp::Std(ddof)
    } else {
        ReduceOp::Var(ddof)
    };
    out(op, x.reduce(r, &how))
}

/// `x @ y`, refused when one output block with the largest block of each operand (what one
/// product task holds at once) is over the value budget.
fn matmul(op: &str, a: &[Value], limits: &Limits) -> Result<Value, TaskError> {
    let (x, y) = (array(op, &a[0])?, array(op, &a[1])?);
    let r = x.matmul(y).map_err(|e| lift(op, e))?;
    let item = r.dtype().itemsize();
    let bytes = [x, y, &r]
        .iter()
        .map(|a| largest_block(a).and_then(|n| n.checked_mul(item)))
        .try_fold(0usize, |acc, b| acc.checked_add(b?));
    limits
        .check(
            "one block product (an output block and the largest block of each operand)",
            bytes.unwrap_or(usize::MAX),
        )
        .map_err(|e| fail(op, ErrorKind::TooLarge, e.message()))?;
    out(op, Ok(r))
}

fn shape(op: &str, a: &[Value]) -> Result<Value, TaskError> {
    let x = array(op, &a[0])?;
    Ok(Value::list(x.shape().iter().map(|&d| d as i64)))
}

/// Bytes of the nested list of an array of `shape`, as [`Value::deep_size`] counts them: one
/// slot for the list itself and one for each element of each level (`None` on overflow).
fn nested_list_bytes(shape: &[usize]) -> Option<usize> {
    let mut slots = 1usize;
    let mut level = 1usize;
    for &d in shape {
        level = level.checked_mul(d)?;
        slots = slots.checked_add(level)?;
    }
    slots.checked_mul(std::mem::size_of::<Value>())
}

/// The elements of an array as nested lists, refused before anything is computed when the
/// list would be over the value budget.
fn compute(op: &str, a: &[Value], limits: &Limits) -> Result<Value, TaskError> {
    let x = array(op, &a[0])?;
    limits
        .check(
            "the nested list of the array",
            nested_list_bytes(x.shape()).unwrap_or(usize::MAX),
        )
        .map_err(|e| fail(op, ErrorKind::TooLarge, e.message()))?;
    if x.len() > MAX_LIST_ELEMENTS {
        return Err(fail(
            op,
            ErrorKind::TooLarge,
            format!(
                "{} elements are over the {MAX_LIST_ELEMENTS} a list may hold",
                x.len()
            ),
        ));
    }
    let data = x
        .compute_data(&Sequential::new())
        .map_err(|e| lift(op, e))?;
    Ok(to_value(&data))
}

/// The elements of `data` as nested lists (a scalar for 0-d).
pub(crate) fn to_value(data: &BlockData) -> Value {
    fn nest(shape: &[usize], items: &mut impl Iterator<Item = Value>) -> Value {
        match shape.split_first() {
            None => items.next().expect("as many items as the shape says"),
            Some((&n, rest)) => Value::from((0..n).map(|_| nest(rest, items)).collect::<Vec<_>>()),
        }
    }
    let shape = data.shape().to_vec();
    match data {
        BlockData::Bool(a) => nest(&shape, &mut a.iter().map(|&b| Value::Bool(b))),
        BlockData::I32(a) => nest(&shape, &mut a.iter().map(|&i| Value::Int(i.into()))),
        BlockData::I64(a) => nest(&shape, &mut a.iter().map(|&i| Value::Int(i))),
        BlockData::F32(a) => nest(&shape, &mut a.iter().map(|&f| Value::Float(f.into()))),
        BlockData::F64(a) => nest(&shape, &mut a.iter().map(|&f| Value::Float(f))),
    }
}

/// Most dimensions of an array made from a nested list.
const MAX_FROM_LIST_NDIM: usize = 64;

/// The shape of a nested list, and its leaves in row-major order.
fn flatten<'a>(op: &str, v: &'a Value) -> Result<(Vec<usize>, Vec<&'a Value>), TaskError> {
    let mut shape = Vec::new();
    let mut probe = v;
    while let Some(items) = probe.as_list() {
        if shape.len() == MAX_FROM_LIST_NDIM {
            return Err(fail(
                op,
                ErrorKind::Shape,
                format!("a nested list deeper than {MAX_FROM_LIST_NDIM} levels"),
            ));
        }
        shape.push(items.len());
        match items.first() {
            Some(first) => probe = first,
            None => break,
        }
    }
    let mut leaves = Vec::new();
    collect(op, v, &shape, &mut leaves)?;
    Ok((shape, leaves))
}

fn collect<'a>(
    op: &str,
    v: &'a Value,
    shape: &[usize],
    leaves: &mut Vec<&'a Value>,
) -> Result<(), TaskError> {
    match (shape.split_first(), v.as_list()) {
        (None, None) => leaves.push(v),
        (Some((&n, rest)), Some(items)) if items.len() == n => {
            for x in items.iter() {
                collect(op, x, rest, leaves)?;
            }
        }
        _ => {
            return Err(fail(
                op,
                ErrorKind::Shape,
                "the nested lists are not rectangular",
            ));
        }
    }
    Ok(())
}

fn from_list(ctx: &ArrayContext, op: &str, a: &[Value]) -> Result<Value, TaskError> {
    let (shape, leaves) = flatten(op, &a[0])?;
    let spec = match a.get(1) {
        Some(c) => chunks_arg(op, c)?,
        None => ChunkSpec::Explicit(shape.iter().map(|&d| vec![d]).collect()),
    };
    check_grid(op, &shape, &spec)?;
    let dim = ndarray::IxDyn(&shape);
    let mismatch = |v: &Value| {
        fail(
            op,
            ErrorKind::Type,
            format!(
                "elements must be all bools or all numbers, got {}",
                v.type_name()
            ),
        )
    };
    let r = if leaves.iter().all(|v| matches!(v, Value::Bool(_))) && !leaves.is_empty() {
        let data: Vec<bool> = leaves.iter().filter_map(|v| v.as_bool()).collect();
        ctx.from_ndarray(
            &ndarray::ArrayD::from_shape_vec(dim, data).expect("sized"),
            spec,
        )
    } else if leaves.iter().all(|v| matches!(v, Value::Int(_))) && !leaves.is_empty() {
        let data: Vec<i64> = leaves.iter().filter_map(|v| v.as_int()).collect();
        ctx.from_ndarray(
            &ndarray::ArrayD::from_shape_vec(dim, data).expect("sized"),
            spec,
        )
    } else {
        let data = leaves
            .iter()
            .map(|v| match **v {
                Value::Int(i) => Ok(i as f64),
                Value::Float(f) => Ok(f),
                _ => Err(mismatch(v)),
            })
            .collect::<Result<Vec<f64>, _>>()?;
        ctx.from_ndarray(
            &ndarray::ArrayD::from_shape_vec(dim, data).expect("sized"),
            spec,
        )
    };
    out(op, r)
}
