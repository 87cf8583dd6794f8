//! The sequential executor: the reference every parallel run is compared against.

use super::eval::{Failure, RunTask};
use super::pool::QuietPanics;
use super::run_ctx::callback_error;
use super::run_state::{DROP, NBYTES};
use super::{
    Executor, Observer, RunOptions, RunOutput, RunStats, catch, nbytes_caught, over_live_budget,
    panic_message,
};
use crate::error::Result;
use crate::plan::{Plan, TaskId};
use crate::value::Value;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

/// Runs a plan on the caller's thread, task by task in priority order (the plan's id order,
/// which is topological), freeing each value when its last user has run.
///
/// It uses no recursion, so a chain of ten million tasks runs without growing the stack, and
/// shares no code with [`Pool`](super::Pool) beyond argument evaluation, so that the two
/// check each other.
///
/// ```
/// use blockwork::{Arg, Executor, GraphBuilder, Op, Sequential, Value};
/// let inc = Op::typed("inc", |x: i64| x + 1);
/// let mut b = GraphBuilder::new();
/// b.literal(("x", 0), 0)?;
/// for i in 1..100i64 {
///     b.task(("x", i), &inc, [Arg::key(("x", i - 1))])?;
/// }
/// assert_eq!(Sequential::new().get(&b.build(), ("x", 99))?, Value::Int(99));
/// # Ok::<(), blockwork::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Sequential;

impl Sequential {
    /// The sequential executor.
    pub fn new() -> Sequential {
        Sequential
    }
}

/// What the sequential loop is doing outside a task's op, to name a panic.
#[derive(Clone, Copy)]
enum Step {
    Idle,
    /// Dropping this task's value (its `nbytes` runs under its own guard).
    Dropping(TaskId),
}

impl Executor for Sequential {
    fn run_with(&self, plan: &Plan, options: &RunOptions) -> Result<RunOutput> {
        if !plan.inputs().is_empty() {
            return Err(super::pool::inputs_need_feed(plan));
        }
        let start = Instant::now();
        // Every panic of the run is caught and returned: keep the panic hook quiet meanwhile.
        let _quiet = QuietPanics::new();
        let observer = options.observer.as_deref();
        let hook = |what: &'static str, t: Option<TaskId>, f: &dyn Fn(&dyn Observer)| match observer
        {
            Some(o) => catch(|| f(o)).map_err(|m| callback_error(plan, what, t, m)),
            None => Ok(()),
        };
        hook("observer run_started", None, &|o| o.run_started(plan))?;
        let mut slots: Vec<Option<Value>> = vec![None; plan.len()];
        let mut stats = RunStats {
            threads: 1,
            ..RunStats::default()
        };
        let mut step = Step::Idle;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let hook = observer.is_some().then_some(&hook as &TaskHook);
            let max_live = options.max_live_bytes.unwrap_or(u64::MAX);
            run_tasks(plan, &mut slots, &mut stats, &mut step, hook, max_live)
        }));
        let mut result = match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e),
            Err(p) => {
                let (what, t) = match step {
                    Step::Dropping(t) => (DROP, Some(t)),
                    Step::Idle => ("the executor", None),
                };
                Err(callback_error(plan, what, t, panic_message(p)))
            }
        };
        let values: Vec<Value> = match result {
            Ok(()) => plan
                .outputs()
                .iter()
                .map(|t| slots[t.index()].clone().expect("outputs are kept"))
                .collect(),
            Err(_) => Vec::new(),
        };
        if result.is_ok() {
            for t in plan.outputs() {
                slots[t.index()] = None;
            }
            stats.leaked_values = slots.iter().filter(|s| s.is_some()).count() as u64;
        }
        // Every value left is dropped here, each under its own guard: after a failure the
        // run's values are still in their slots.
        for (i, slot) in slots.iter_mut().enumerate() {
            let Some(v) = slot.take() else { continue };
            if let Err(m) = catch(move || drop(v))
                && result.is_ok()
            {
                let t = Some(TaskId::from_raw(i as u32));
                result = Err(callback_error(plan, DROP, t, m));
            }
        }
        stats.wall = start.elapsed();
        // Observers hear of the end of a failed run too, with what it did so far.
        let finished = hook("observer run_finished", None, &|o| {
            o.run_finished(plan, &stats)
        });
        result.and(finished)?;
        Ok(RunOutput { values, stats })
    }
}

/// Calls an observer hook under `catch_unwind`: (what, task, the call).
type TaskHook<'a> = dyn Fn(&'static str, Option<TaskId>, &dyn Fn(&dyn Observer)) -> Result<()> + 'a;

/// Runs every task in id order, freeing values at their last use, failing once the live
/// values take more than `max_live` bytes. `step` names what runs outside an op, for a panic
/// that escapes.
fn run_tasks(
    plan: &Plan,
    slots: &mut [Option<Value>],
    stats: &mut RunStats,
    step: &mut Step,
    hook: Option<&TaskHook>,
    max_live: u64,
) -> Result<()> {
    let mut users_left = plan.n_users().to_vec();
    let mut scratch = Vec::new();
    let (mut live_values, mut live_bytes) = (0u64, 0u64);
    for t in plan.tasks() {
        if let Some(hook) = hook {
            hook("observer task_started", Some(t), &|o| {
                o.task_started(plan, t, 0)
            })?;
        }
        let read = |d: u32| {
            slots[d as usize]
                .as_ref()
                .expect("dependencies run before their users")
        };
        let result = catch_unwind(AssertUnwindSafe(|| plan.run_task(t, &read, &mut scratch)));
        // Arguments left by a panicking op; their drops may panic too.
        while let Some(v) = scratch.pop() {
            catch(move || drop(v)).map_err(|m| callback_error(plan, DROP, Some(t), m))?;
        }
        if let Some(hook) = hook {
            hook("observer task_finished", Some(t), &|o| {
                o.task_finished(plan, t, 0)
            })?;
        }
        let value = match result {
            Ok(Ok(v)) => v,
            Ok(Err(f)) => return Err(f.into_error(plan, t)),
            Err(p) => return Err(Failure::from_panic(plan, t, p).into_error(plan, t)),
        };
        stats.tasks_run += 1;
        live_values += 1;
        // The value goes to its slot first: `nbytes` then runs with it borrowed, so that a
        // panic there does not drop it while unwinding (its `Drop` might panic too).
        let slot = &mut slots[t.index()];
        let value = &*slot.insert(value);
        let nbytes = nbytes_caught(value).map_err(|m| callback_error(plan, NBYTES, Some(t), m))?;
        live_bytes += nbytes as u64;
        if live_bytes > max_live {
            return Err(over_live_budget(plan, t, live_bytes, max_live));
        }
        stats.peak_live_values = stats.peak_live_values.max(live_values);
        stats.peak_live_bytes = stats.peak_live_bytes.max(live_bytes);
        for &d in plan.deps(t) {
            let left = &mut users_left[d.index()];
            *left -= 1;
            if *left == 0 {
                let v = slots[d.index()].take().expect("freed once");
                live_values -= 1;
                match nbytes_caught(&v) {
                    Ok(n) => live_bytes -= n as u64,
                    Err(m) => {
                        let e = callback_error(plan, NBYTES, Some(d), m);
                        catch(move || drop(v)).ok();
                        return Err(e);
                    }
                }
                *step = Step::Dropping(d);
                drop(v);
                *step = Step::Idle;
            }
        }
    }
    Ok(())
}
