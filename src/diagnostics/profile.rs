//! A profile of one run, written as Chrome trace-event JSON (opens in Perfetto).

use crate::exec::Observer;
use crate::plan::{Plan, TaskId};
use crossbeam_utils::CachePadded;
use serde_json::json;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Event buffers, one cache line each; worker `w` appends to lane `w % LANES`.
const LANES: usize = 64;

/// One task as it ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskSpan {
    /// The task.
    pub task: TaskId,
    /// The worker that ran it (0 for the sequential executor).
    pub worker: usize,
    /// When it started, from the start of the run.
    pub start: Duration,
    /// When it finished, from the start of the run.
    pub end: Duration,
}

struct Record {
    t0: Instant,
    /// Start of each task, in nanoseconds from `t0`, written by the worker that starts it.
    starts: Box<[AtomicU64]>,
    lanes: Box<[CachePadded<Mutex<Vec<TaskSpan>>>]>,
}

/// An [`Observer`] that records when and where each task of a run ran.
///
/// It records the first run it observes (a plan can be run again with a fresh `Profile`).
/// Each task start stores a timestamp; each finish appends a span to its worker's buffer.
/// [`Profile::write_chrome_trace`] writes the trace: one lane per worker, one slice per task
/// named by its key, with its op as the category.
///
/// ```
/// use std::sync::Arc;
/// use blockwork::diagnostics::Profile;
/// use blockwork::{bench_shapes, Executor, Plan, Pool, RunOptions};
/// let (g, out) = bench_shapes::independent(100);
/// let plan = Plan::new(&g, &out)?;
/// let profile = Arc::new(Profile::new());
/// Pool::new(2)?.run_with(&plan, &RunOptions::with_observer(profile.clone()))?;
/// assert_eq!(profile.spans().len(), plan.len());
/// let mut trace = Vec::new();
/// profile.write_chrome_trace(&plan, &mut trace)?;
/// let parsed: serde_json::Value = serde_json::from_slice(&trace).unwrap();
/// assert!(parsed["traceEvents"].as_array().unwrap().len() > plan.len());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Default)]
pub struct Profile {
    record: OnceLock<Record>,
}

impl Profile {
    /// An empty profile.
    pub fn new() -> Profile {
        Profile::default()
    }

    /// The spans of the recorded run, by start time.
    pub fn spans(&self) -> Vec<TaskSpan> {
        let Some(r) = self.record.get() else {
            return Vec::new();
        };
        let mut out: Vec<TaskSpan> = r
            .lanes
            .iter()
            .flat_map(|l| l.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .collect();
        out.sort_by_key(|s| (s.start, s.worker));
        out
    }

    /// Writes the recorded run as Chrome trace-event JSON. `plan` must be the plan that ran
    /// (it names the tasks). Times are in microseconds from the start of the run.
    pub fn write_chrome_trace(&self, plan: &Plan, mut out: impl Write) -> io::Result<()> {
        let spans = self.spans();
        let mut workers: Vec<usize> = spans.iter().map(|s| s.worker).collect();
        workers.sort_unstable();
        workers.dedup();
        out.write_all(b"{\"displayTimeUnit\": \"ns\", \"traceEvents\": [\n")?;
        let process = json!({"name": "process_name", "ph": "M", "pid": 1, "tid": 0, "args": {"name": "blockwork run"}});
        write!(out, "{process}")?;
        for w in &workers {
            let thread = json!({"name": "thread_name", "ph": "M", "pid": 1, "tid": w, "args": {"name": format!("worker {w}")}});
            write!(out, ",\n{thread}")?;
        }
        for s in &spans {
            if s.task.index() >= plan.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the profile is of another plan",
                ));
            }
            let key = plan.key(s.task).to_string();
            let op = plan.op_name(s.task);
            let event = json!({
                "name": key, "cat": op, "ph": "X", "pid": 1, "tid": s.worker,
                "ts": micros(s.start), "dur": micros(s.end.saturating_sub(s.start)),
                "args": {"key": key, "op": op},
            });
            write!(out, ",\n{event}")?;
        }
        out.write_all(b"\n]}\n")?;
        out.flush()
    }
}

fn micros(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e3
}

fn nanos_since(t0: Instant) -> u64 {
    u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

impl Observer for Profile {
    fn run_started(&self, plan: &Plan) {
        let _ = self.record.set(Record {
            t0: Instant::now(),
            starts: (0..plan.len()).map(|_| AtomicU64::new(0)).collect(),
            lanes: (0..LANES)
                .map(|_| CachePadded::new(Mutex::new(Vec::new())))
                .collect(),
        });
    }

    #[inline]
    fn task_started(&self, _plan: &Plan, task: TaskId, _worker: usize) {
        if let Some(r) = self.record.get()
            && let Some(s) = r.starts.get(task.index())
        {
            s.store(nanos_since(r.t0), Ordering::Relaxed);
        }
    }

    #[inline]
    fn task_finished(&self, _plan: &Plan, task: TaskId, worker: usize) {
        let Some(r) = self.record.get() else { return };
        let Some(start) = r.starts.get(task.index()) else {
            return;
        };
        // The same worker stored the start; Relaxed is enough within one thread.
        let start = Duration::from_nanos(start.load(Ordering::Relaxed));
        let end = Duration::from_nanos(nanos_since(r.t0));
        let span = TaskSpan {
            task,
            worker,
            start,
            end,
        };
        r.lanes[worker % LANES]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(span);
    }
}
