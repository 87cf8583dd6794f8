//! The sequential executor: the reference every parallel run is compared against.

use super::{Executor, RunOptions, RunOutput, RunStats};
use crate::error::Result;
use crate::plan::Plan;
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

impl Executor for Sequential {
    fn run_with(&self, plan: &Plan, options: &RunOptions) -> Result<RunOutput> {
        let start = Instant::now();
        let observer = options.observer.as_deref();
        if let Some(o) = observer {
            o.run_started(plan);
        }
        let n = plan.len();
        let mut slots: Vec<Option<Value>> = vec![None; n];
        let mut users_left = plan.n_users().to_vec();
        let mut scratch = Vec::new();
        let mut stats = RunStats {
            threads: 1,
            ..RunStats::default()
        };
        let (mut live_values, mut live_bytes) = (0u64, 0u64);
        // Observers hear of the end of a failed run too, with what it did so far.
        let finished = |e| {
            if let Some(o) = observer {
                let s = RunStats {
                    threads: 1,
                    wall: start.elapsed(),
                    ..RunStats::default()
                };
                o.run_finished(plan, &s);
            }
            e
        };
        for t in plan.tasks() {
            if let Some(o) = observer {
                o.task_started(plan, t, 0);
            }
            let read = |d: u32| {
                slots[d as usize]
                    .as_ref()
                    .expect("dependencies run before their users")
            };
            let result = catch_unwind(AssertUnwindSafe(|| plan.run_task(t, &read, &mut scratch)));
            if let Some(o) = observer {
                o.task_finished(plan, t, 0);
            }
            let value = match result {
                Ok(Ok(v)) => v,
                Ok(Err(f)) => return Err(finished(f.into_error(plan, t))),
                Err(p) => {
                    let e = crate::plan::Failure::from_panic(plan, t, p).into_error(plan, t);
                    return Err(finished(e));
                }
            };
            stats.tasks_run += 1;
            live_values += 1;
            live_bytes += value.nbytes() as u64;
            stats.peak_live_values = stats.peak_live_values.max(live_values);
            stats.peak_live_bytes = stats.peak_live_bytes.max(live_bytes);
            slots[t.index()] = Some(value);
            for &d in plan.deps(t) {
                let left = &mut users_left[d.index()];
                *left -= 1;
                if *left == 0 {
                    let v = slots[d.index()].take().expect("freed once");
                    live_values -= 1;
                    live_bytes -= v.nbytes() as u64;
                }
            }
        }
        let values = plan
            .outputs()
            .iter()
            .map(|t| slots[t.index()].clone().expect("outputs are kept"))
            .collect();
        for t in plan.outputs() {
            slots[t.index()] = None;
        }
        stats.leaked_values = slots.iter().filter(|s| s.is_some()).count() as u64;
        stats.wall = start.elapsed();
        if let Some(o) = observer {
            o.run_finished(plan, &stats);
        }
        Ok(RunOutput { values, stats })
    }
}
