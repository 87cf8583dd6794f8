//! The pool: persistent pinned workers, run submission, recycling of per-run buffers.

use super::job::{Job, Work};
use super::run_ctx::{RunCtx, callback_error};
use super::run_state::RunState;
use super::sleep::Sleep;
use super::sync::{AtomicBool, Ordering, Parker};
use super::worker::{Shared, WorkerLocal};
use super::{Executor, RunOptions, RunOutput, RunStats, panic_message};
use crate::error::{Error, ErrorKind, Result};
use crate::plan::Plan;
use crossbeam_deque::{Injector, Worker};
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

/// How many recycled run buffers a pool keeps (one per concurrent run is reused).
const KEPT_STATES: usize = 4;

thread_local! {
    /// Address of the `Shared` of the pool this thread works for (0: none).
    static WORKER_OF: Cell<usize> = const { Cell::new(0) };
}

/// Configures a [`Pool`].
///
/// ```
/// use blockwork::Pool;
/// let pool = Pool::builder().threads(2).pin(false).build()?;
/// assert_eq!(pool.threads(), 2);
/// # Ok::<(), blockwork::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct PoolBuilder {
    threads: Option<usize>,
    pin: bool,
    name: String,
}

impl Default for PoolBuilder {
    fn default() -> Self {
        PoolBuilder {
            threads: None,
            pin: true,
            name: "blockwork".to_owned(),
        }
    }
}

impl PoolBuilder {
    /// Number of worker threads (default: the available parallelism).
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = Some(n);
        self
    }

    /// Whether to pin worker `i` to core `i mod cores` (default on). Pinning failures are
    /// ignored: the worker runs unpinned.
    pub fn pin(mut self, pin: bool) -> Self {
        self.pin = pin;
        self
    }

    /// Prefix of the worker threads' names.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Starts the workers. Zero threads, or more than 4096, is an
    /// [`InvalidArgument`](ErrorKind::InvalidArgument) error; failing to spawn is
    /// [`Io`](ErrorKind::Io).
    pub fn build(self) -> Result<Pool> {
        let n = match self.threads {
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if n == 0 || n > 4096 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("a pool needs 1 to 4096 threads, got {n}"),
            ));
        }
        let deques: Vec<Worker<Job>> = (0..n).map(|_| Worker::new_lifo()).collect();
        let parkers: Vec<Parker> = (0..n).map(|_| Parker::new()).collect();
        let shared = Arc::new(Shared {
            injector: Injector::new(),
            stealers: deques.iter().map(Worker::stealer).collect(),
            sleep: Sleep::new(parkers.iter().map(|p| p.unparker().clone()).collect()),
            shutdown: AtomicBool::new(false),
        });
        let cores = if self.pin {
            core_affinity::get_core_ids().unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut pool = Pool {
            shared,
            handles: Vec::with_capacity(n),
            states: Mutex::new(Vec::new()),
            pinned: !cores.is_empty(),
        };
        for (i, (deque, parker)) in deques.into_iter().zip(parkers).enumerate() {
            let shared = pool.shared.clone();
            let core = (!cores.is_empty()).then(|| cores[i % cores.len()]);
            let handle = std::thread::Builder::new()
                .name(format!("{}-{i}", self.name))
                .spawn(move || {
                    // Start hook: pinning is best effort and never part of the loop.
                    if let Some(core) = core {
                        core_affinity::set_for_current(core);
                    }
                    WORKER_OF.with(|w| w.set(Arc::as_ptr(&shared) as usize));
                    WorkerLocal::new(i, deque, parker).run(&shared);
                })?;
            pool.handles.push(handle);
        }
        Ok(pool)
    }
}

/// A persistent work-stealing pool of worker threads.
///
/// One pool serves any number of runs, one after another or concurrently from several
/// threads; a failing run does not disturb the others. Dropping the pool stops and joins
/// its threads (after the runs in progress returned, since they borrow it).
///
/// A task must not submit a run to the pool it is running on (it would wait for workers
/// that are all waiting): that is an [`InvalidArgument`](ErrorKind::InvalidArgument) error.
///
/// ```
/// use blockwork::{Arg, Executor, GraphBuilder, Op, Pool, Value};
/// let add = Op::typed("add", |a: i64, b: i64| a + b);
/// let mut b = GraphBuilder::new();
/// b.literal("x", 1)?.literal("y", 2)?.task("z", &add, [Arg::key("x"), Arg::key("y")])?;
/// let pool = Pool::new(2)?;
/// assert_eq!(pool.get(&b.build(), "z")?, Value::Int(3));
/// # Ok::<(), blockwork::Error>(())
/// ```
pub struct Pool {
    shared: Arc<Shared>,
    handles: Vec<JoinHandle<()>>,
    /// Recycled per-run buffers (their slots are empty).
    states: Mutex<Vec<RunState>>,
    pinned: bool,
}

impl Pool {
    /// A pool of `threads` pinned workers.
    pub fn new(threads: usize) -> Result<Pool> {
        Pool::builder().threads(threads).build()
    }

    /// A builder for other settings.
    pub fn builder() -> PoolBuilder {
        PoolBuilder::default()
    }

    /// Number of worker threads.
    pub fn threads(&self) -> usize {
        self.handles.len()
    }

    /// Whether workers were pinned to cores.
    pub fn pinned(&self) -> bool {
        self.pinned
    }

    fn take_state(&self) -> RunState {
        self.states
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .unwrap_or_default()
    }

    fn return_state(&self, state: RunState) {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        if states.len() < KEPT_STATES {
            states.push(state);
        }
    }

    fn on_own_worker(&self) -> bool {
        WORKER_OF.with(|w| w.get()) == Arc::as_ptr(&self.shared) as usize
    }
}

impl Executor for Pool {
    fn run_with(&self, plan: &Plan, options: &RunOptions) -> Result<RunOutput> {
        if self.on_own_worker() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "a task submitted a run to the pool it runs on; this would deadlock",
            ));
        }
        let start = Instant::now();
        let observer = options.observer.as_deref();
        if let Some(o) = observer {
            catch_unwind(AssertUnwindSafe(|| o.run_started(plan))).map_err(|p| {
                callback_error(plan, "observer run_started", None, panic_message(&*p))
            })?;
        }
        let mut state = self.take_state();
        state.reset(plan);
        let mut ctx = RunCtx::new(plan, state, self.threads(), observer);
        if !plan.is_empty() {
            ctx.add_jobs(1);
            let roots = plan.roots().len() as u32;
            self.shared
                .injector
                .push(Job::new(&ctx, Work::Roots(0, roots)));
            self.shared.sleep.notify(1);
            // Every job of the run ends before `wait` returns; only then may `ctx` move.
            ctx.wait();
        }
        let (mut stats, live) = ctx.tally.stats();
        stats.wall = start.elapsed();
        let mut result = match ctx.take_error() {
            Some(e) => Err(e),
            None => {
                let values: Vec<_> = plan
                    .outputs()
                    .iter()
                    .map(|&t| ctx.state.output(t).expect("outputs are kept"))
                    .collect();
                let mut distinct = plan.outputs().to_vec();
                distinct.sort_unstable();
                distinct.dedup();
                stats.leaked_values = (live - distinct.len() as i64).max(0) as u64;
                match ctx.state.clear_outputs(&distinct) {
                    Some(p) => Err(callback_error(plan, p.what, Some(p.task), p.message)),
                    None => Ok(values),
                }
            }
        };
        // Every slot is emptied before the buffers are recycled, whatever happened: after a
        // failure the run's values are still there, and a value that outlived its run
        // (a bug) must not reach the next one.
        if let (_, Some(p)) = ctx.state.clear() {
            if result.is_ok() {
                result = Err(callback_error(plan, p.what, Some(p.task), p.message));
            }
        }
        if let Some(o) = observer {
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| o.run_finished(plan, &stats))) {
                if result.is_ok() {
                    result = Err(callback_error(
                        plan,
                        "observer run_finished",
                        None,
                        panic_message(&*p),
                    ));
                }
            }
        }
        self.return_state(ctx.state);
        result.map(|values| RunOutput { values, stats })
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        self.shared.sleep.wake_all();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("threads", &self.threads())
            .field("pinned", &self.pinned)
            .finish()
    }
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Pool>();
    let _ = RunStats::default();
}
