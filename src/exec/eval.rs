//! Evaluating a task: gather its arguments from the results it depends on, call its op.
//! Execution, not planning: the plan describes tasks, this runs one of them.

use crate::error::{Error, TaskError};
use crate::graph::Op;
use crate::plan::{EncodedArg, Plan, TaskId};
use crate::value::Value;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// Why a task produced no value: its op (or a nested op) failed or panicked.
pub(crate) struct Failure {
    pub(crate) op: Arc<str>,
    pub(crate) message: String,
    pub(crate) panicked: bool,
    pub(crate) cause: crate::error::ErrorKind,
    pub(crate) source: Option<crate::error::Source>,
}

impl Failure {
    /// The run-level error for task `t`.
    #[cold]
    pub(crate) fn into_error(self, plan: &Plan, t: TaskId) -> Error {
        Error::Task {
            key: plan.key(t).clone(),
            op: self.op,
            message: self.message,
            panicked: self.panicked,
            cause: self.cause,
            source: self.source,
        }
    }

    /// A failure from a caught panic payload.
    #[cold]
    pub(crate) fn from_panic(
        plan: &Plan,
        t: TaskId,
        payload: Box<dyn std::any::Any + Send>,
    ) -> Failure {
        let message = super::panic_message(payload);
        Failure {
            op: plan.op_name(t).into(),
            message,
            panicked: true,
            cause: crate::error::ErrorKind::TaskPanicked,
            source: None,
        }
    }
}

#[cold]
fn nested_panic(op: &str, payload: super::PanicPayload) -> Failure {
    Failure {
        op: op.into(),
        message: super::panic_message(payload),
        panicked: true,
        cause: crate::error::ErrorKind::TaskPanicked,
        source: None,
    }
}

#[cold]
fn failed(op: &str, e: TaskError) -> Failure {
    Failure {
        op: op.into(),
        message: e.message().to_owned(),
        panicked: false,
        cause: e.kind(),
        source: e.shared_source(),
    }
}

/// Evaluates the tasks of one plan.
pub(crate) trait RunTask {
    /// Runs task `t`: see [`run_task`].
    fn run_task<'v>(
        &self,
        t: TaskId,
        read: &impl Fn(u32) -> &'v Value,
        scratch: &mut Vec<Value>,
    ) -> Result<Value, Failure>;
}

impl RunTask for Plan {
    #[inline]
    fn run_task<'v>(
        &self,
        t: TaskId,
        read: &impl Fn(u32) -> &'v Value,
        scratch: &mut Vec<Value>,
    ) -> Result<Value, Failure> {
        run_task(self, t, read, scratch)
    }
}

/// Runs task `t` of `plan`: reads its inputs with `read`, using `scratch` (left empty) for
/// the top-level arguments, and returns the op's value.
///
/// `read(d)` must return the value of dependency `d`, which the caller guarantees is
/// finished. Panics in the op propagate; the executors catch them around this call.
#[inline]
fn run_task<'v>(
    plan: &Plan,
    t: TaskId,
    read: &impl Fn(u32) -> &'v Value,
    scratch: &mut Vec<Value>,
) -> Result<Value, Failure> {
    let args = plan.args(t);
    let Some(op) = plan.op(t) else {
        // A literal node: its one argument is the value.
        return Ok(match args[0] {
            EncodedArg::Lit(i) => plan.lit(i).clone(),
            _ => unreachable!("literal nodes hold one literal argument"),
        });
    };
    // Fastest path: one reference or one literal, passed where it lies without a copy.
    let single = match args {
        [EncodedArg::Dep(d)] => Some(read(*d)),
        [EncodedArg::Lit(i)] => Some(plan.lit(*i)),
        _ => None,
    };
    if let Some(v) = single {
        return op
            .call(std::slice::from_ref(v))
            .map_err(|e| failed(op.name(), e));
    }
    // Fast path: flat arguments (references and literals), the common case.
    for a in args {
        match *a {
            EncodedArg::Dep(d) => scratch.push(read(d).clone()),
            EncodedArg::Lit(i) => scratch.push(plan.lit(i).clone()),
            EncodedArg::List(_) | EncodedArg::Nested(..) => {
                scratch.clear();
                return run_task_nested(plan, op, args, read, scratch);
            }
        }
    }
    let out = op.call(scratch);
    scratch.clear();
    out.map_err(|e| failed(op.name(), e))
}

/// `run_task` for argument lists holding lists or nested tasks.
#[cold]
#[inline(never)]
fn run_task_nested<'v>(
    plan: &Plan,
    op: &Op,
    args: &[EncodedArg],
    read: &impl Fn(u32) -> &'v Value,
    scratch: &mut Vec<Value>,
) -> Result<Value, Failure> {
    let mut pos = 0;
    while pos < args.len() {
        match eval_arg(plan, args, &mut pos, read) {
            Ok(v) => scratch.push(v),
            Err(f) => {
                scratch.clear();
                return Err(f);
            }
        }
    }
    let out = op.call(scratch);
    scratch.clear();
    out.map_err(|e| failed(op.name(), e))
}

/// Evaluates the argument tree starting at `args[*pos]`, advancing `pos` past it.
/// Recursion depth is bounded by [`MAX_NESTING`](crate::graph::MAX_NESTING), checked when
/// the plan was built.
fn eval_arg<'v>(
    plan: &Plan,
    args: &[EncodedArg],
    pos: &mut usize,
    read: &impl Fn(u32) -> &'v Value,
) -> Result<Value, Failure> {
    let a = args[*pos];
    *pos += 1;
    match a {
        EncodedArg::Dep(d) => Ok(read(d).clone()),
        EncodedArg::Lit(i) => Ok(plan.lit(i).clone()),
        EncodedArg::List(n) => {
            let mut items = Vec::with_capacity(n as usize);
            for _ in 0..n {
                items.push(eval_arg(plan, args, pos, read)?);
            }
            Ok(Value::List(items.into()))
        }
        EncodedArg::Nested(op, n) => {
            let mut items = Vec::with_capacity(n as usize);
            for _ in 0..n {
                items.push(eval_arg(plan, args, pos, read)?);
            }
            let op = plan.table_op(op);
            // A nested op's panic is caught here, so that the error names the op that
            // panicked, as it does for one that fails; the executors catch the rest.
            match catch_unwind(AssertUnwindSafe(|| op.call(&items))) {
                Ok(result) => result.map_err(|e| failed(op.name(), e)),
                Err(payload) => Err(nested_panic(op.name(), payload)),
            }
        }
    }
}
