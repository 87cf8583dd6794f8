//! The pool: persistent pinned workers, run submission, recycling of per-run buffers.

use super::feed::Feed;
use super::job::{Job, Work};
use super::poll::PollFn;
use super::run_ctx::{RunCtx, callback_error};
use super::run_state::{NBYTES, RunState};
use super::sleep::Sleep;
use super::sync::{AtomicBool, Ordering, Parker};
use super::tally::LiveTally;
use super::worker::{Shared, WorkerLocal, help_until, on_worker_of, waiting_on_current_run};
use super::{Executor, Observer, RunOptions, RunOutput, RunStats, catch, over_live_budget};
use crate::error::{Error, ErrorKind, Result};
use crate::plan::Plan;
use crossbeam_deque::{Injector, Worker};
use std::cell::Cell;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

/// How many recycled run buffers a pool keeps (one per concurrent run is reused).
const KEPT_STATES: usize = 4;

thread_local! {
    /// Address of the `Shared` of the pool this thread works for (0: none).
    static WORKER_OF: Cell<usize> = const { Cell::new(0) };
}

/// Cores claimed by the pinned pools of this process, with how many pools pin to each, so
/// that a second pool does not pin its workers onto the cores of the first.
static CLAIMED_CORES: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// Claims cores for a new pool's `threads` workers: the `wanted` ones as given when the
/// caller chose them, otherwise the first cores no other pool of the process has claimed.
/// Returns one core (or none: unpinned) per worker.
fn claim_cores(threads: usize, wanted: Option<&[usize]>) -> Vec<Option<usize>> {
    let mut claimed = CLAIMED_CORES.lock().unwrap_or_else(|p| p.into_inner());
    let chosen: Vec<usize> = match wanted {
        Some(cores) => cores.iter().copied().take(threads).collect(),
        None => {
            let all = core_affinity::get_core_ids().unwrap_or_default();
            all.into_iter()
                .map(|c| c.id)
                .filter(|&c| claimed.get(c).is_none_or(|&n| n == 0))
                .take(threads)
                .collect()
        }
    };
    for &c in &chosen {
        if claimed.len() <= c {
            claimed.resize(c + 1, 0);
        }
        claimed[c] += 1;
    }
    (0..threads).map(|i| chosen.get(i).copied()).collect()
}

/// Gives back the cores a pool claimed.
fn release_cores(cores: &[Option<usize>]) {
    let mut claimed = CLAIMED_CORES.lock().unwrap_or_else(|p| p.into_inner());
    for &c in cores.iter().flatten() {
        if let Some(n) = claimed.get_mut(c) {
            *n = n.saturating_sub(1);
        }
    }
}

/// Installs, once per process, a panic hook that stays silent on threads marked quiet (pool
/// workers, and callers while a sequential run calls ops) and delegates to the hook that was
/// installed before it everywhere else. A panic there is caught and returned as an error,
/// so printing it as well would report it twice.
pub(crate) fn install_quiet_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

thread_local! {
    /// Whether panics on this thread are caught by the executor and returned as errors.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Keeps the panic hook quiet on the calling thread while it lives (a run's caller: every
/// panic of the run is caught and returned as its error).
pub(crate) struct QuietPanics {
    was: bool,
}

impl QuietPanics {
    pub(crate) fn new() -> QuietPanics {
        install_quiet_panic_hook();
        QuietPanics {
            was: QUIET.with(|q| q.replace(true)),
        }
    }
}

impl Drop for QuietPanics {
    fn drop(&mut self) {
        QUIET.with(|q| q.set(self.was));
    }
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
    cores: Option<Vec<usize>>,
    name: String,
    print_panics: bool,
}

impl Default for PoolBuilder {
    fn default() -> Self {
        PoolBuilder {
            threads: None,
            pin: true,
            cores: None,
            name: "blockwork".to_owned(),
            print_panics: false,
        }
    }
}

impl PoolBuilder {
    /// Number of worker threads (default: the available parallelism).
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = Some(n);
        self
    }

    /// Whether to pin workers to cores (default on). Each worker is pinned to a core of its
    /// own that no other pinned pool of this process has claimed; workers beyond the free
    /// cores run unpinned, so a second pool never doubles up on the first pool's cores.
    /// Pinning failures are ignored: the worker runs unpinned.
    pub fn pin(mut self, pin: bool) -> Self {
        self.pin = pin;
        self
    }

    /// Pins worker `i` to `cores[i]` (core ids as the operating system numbers them), even
    /// if another pool uses them; workers beyond the list run unpinned. Implies `pin(true)`.
    ///
    /// ```
    /// use blockwork::Pool;
    /// let pool = Pool::builder().threads(2).cores(&[0]).build()?;
    /// assert!(pool.cores()[1].is_none());
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn cores(mut self, cores: &[usize]) -> Self {
        self.cores = Some(cores.to_vec());
        self.pin = true;
        self
    }

    /// Whether a panic in a task (or in an observer, or in a value's `nbytes` or `Drop`) on
    /// a worker is also printed by the process's panic hook (default off: it is returned as
    /// the run's error, and printing it too would report it twice). Off installs, once per
    /// process, a panic hook that is silent on pool workers and delegates to the previously
    /// installed hook on every other thread.
    pub fn print_panics(mut self, print: bool) -> Self {
        self.print_panics = print;
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
            pollers: Default::default(),
        });
        if let Some(wanted) = &self.cores {
            let known: Vec<usize> = core_affinity::get_core_ids()
                .unwrap_or_default()
                .into_iter()
                .map(|c| c.id)
                .collect();
            if let Some(bad) = wanted.iter().find(|c| !known.contains(c)) {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("core {bad} is not one of this machine's cores {known:?}"),
                ));
            }
        }
        let cores = if self.pin {
            claim_cores(n, self.cores.as_deref())
        } else {
            vec![None; n]
        };
        if !self.print_panics {
            install_quiet_panic_hook();
        }
        let quiet = !self.print_panics;
        let mut pool = Pool {
            shared,
            handles: Vec::with_capacity(n),
            states: Mutex::new(Vec::new()),
            cores,
            print_panics: self.print_panics,
        };
        for (i, (deque, parker)) in deques.into_iter().zip(parkers).enumerate() {
            let shared = pool.shared.clone();
            let core = pool.cores[i];
            let handle = std::thread::Builder::new()
                .name(format!("{}-{i}", self.name))
                .spawn(move || {
                    // Start hook: pinning is best effort and never part of the loop.
                    if let Some(id) = core {
                        core_affinity::set_for_current(core_affinity::CoreId { id });
                    }
                    QUIET.with(|q| q.set(quiet));
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
/// A task may compute a graph on the pool it runs on: its worker does not block but runs the
/// pool's jobs (of any run) until the nested run is done, as rayon's `join` does, so nested
/// parallelism neither deadlocks nor idles a core. A task may also compute on another pool
/// (A to B), whose caller thread then blocks. What cannot work is a cycle through blocked
/// threads: a task of pool B computing on pool A while a worker of A is blocked waiting for
/// that task's run (A's task computes on B, whose task computes on A). A's workers might all
/// be waiting, so that is an [`InvalidArgument`](ErrorKind::InvalidArgument) error instead of
/// a possible deadlock.
///
/// The pool sees only the thread that submits: a task that waits for a run submitted by a
/// thread it spawned (or for anything else that needs this pool's workers) can still
/// deadlock a pool whose workers are all waiting. Submit from the task itself.
///
/// With rayon: a `Pool` may be shared by rayon's threads (each `run` or `get` from a rayon
/// task blocks that rayon worker until the run is done, as any blocking call does), and a
/// task may use rayon inside (`par_iter`, `ThreadPool::install`). Do not combine the two on
/// one rayon pool: if every thread of a rayon pool waits on Blockwork runs whose tasks need
/// that same rayon pool, nothing is left to run them. Give the tasks a rayon pool of their
/// own, or call Blockwork from threads that are not rayon's (tested in
/// `tests/rayon_interop.rs`).
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
    /// The core each worker is pinned to, if any (claimed in `CLAIMED_CORES`).
    cores: Vec<Option<usize>>,
    print_panics: bool,
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

    /// Whether any worker was pinned to a core.
    pub fn pinned(&self) -> bool {
        self.cores.iter().any(Option::is_some)
    }

    /// The core each worker was pinned to (`None`: unpinned), by worker index.
    pub fn cores(&self) -> &[Option<usize>] {
        &self.cores
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
}

impl Executor for Pool {
    fn run_with(&self, plan: &Plan, options: &RunOptions) -> Result<RunOutput> {
        if !plan.inputs().is_empty() {
            return Err(inputs_need_feed(plan));
        }
        self.run_core(plan, options, None, None)
    }
}

/// The error of running a plan with inputs through `run`.
pub(crate) fn inputs_need_feed(plan: &Plan) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        format!(
            "the plan has {} inputs delivered while it runs: run it with Pool::run_fed",
            plan.inputs().len()
        ),
    )
}

impl Pool {
    /// Whether the calling thread is one of this pool's workers (inside a task it runs).
    #[cfg_attr(not(feature = "distributed"), allow(dead_code))]
    pub(crate) fn on_own_worker(&self) -> bool {
        on_worker_of(&self.shared)
    }

    /// Runs a plan whose [inputs](Plan::inputs) arrive while it runs: `feeder` is called on
    /// the calling thread once the run has started, with a [`Feed`] through which it
    /// delivers them (from a network, say); the workers run every task whose inputs are
    /// there meanwhile. When the feeder returns, inputs it did not deliver fail the run
    /// (unless it failed already) with an [`InvalidArgument`](ErrorKind::InvalidArgument)
    /// error, and the run's remaining jobs are waited for. A plan without inputs runs as
    /// with [`Executor::run_with`], the feeder seeing a feed with nothing to deliver.
    ///
    /// A panic in the feeder fails the run with an [`Error::Callback`] (the feeder's result
    /// is then `None`).
    ///
    /// Returns the run's outcome and what the feeder returned, `None` when the run ended
    /// before the feeder was called (a run submitted from a task to a pool that waits for
    /// it, or an observer's `run_started` that panicked). Inputs are not reported to the
    /// observer. A failed run leaves the pool ready for the next one.
    ///
    /// ```
    /// use blockwork::{Arg, GraphBuilder, Key, Op, Plan, Pool, RunOptions, Value};
    /// let add = Op::typed("add", |a: i64, b: i64| a + b);
    /// let mut b = GraphBuilder::new();
    /// b.literal("x", Value::Unit)?.literal("y", Value::Unit)?;
    /// b.task("z", &add, [Arg::key("x"), Arg::key("y")])?;
    /// let plan = Plan::with_inputs(&b.build(), &[Key::from("z")], &["x".into(), "y".into()])?;
    /// let pool = Pool::new(2)?;
    /// let (out, _) = pool.run_fed(&plan, &RunOptions::new(), |feed| {
    ///     for (i, &t) in feed.plan().inputs().iter().enumerate() {
    ///         feed.deliver(t, Value::Int(i as i64 + 1)).unwrap();
    ///     }
    /// });
    /// assert_eq!(out?.values, [Value::Int(3)]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn run_fed<R>(
        &self,
        plan: &Plan,
        options: &RunOptions,
        feeder: impl FnOnce(&Feed<'_>) -> R,
    ) -> (Result<RunOutput>, Option<R>) {
        self.run_fed_core(plan, options, None, feeder)
    }

    /// [`Pool::run_fed`], with a poller: while the run is in progress, idle workers of the
    /// pool call `poll` with the run's feed (one thread at a time, between jobs), so that
    /// the thread that would wait for work fetches the inputs itself and runs what they make
    /// ready, with no hand-off between threads. `poll` delivers what arrived and returns
    /// whether inputs are still awaited: idle workers then keep polling, spinning and then
    /// yielding their cores, for up to tens of milliseconds before they sleep (the feeder
    /// should poll too, less often). No worker calls `poll` once the feeder returned.
    /// A panic in `poll` fails the run with an [`Error::Callback`].
    ///
    /// ```
    /// use blockwork::{Arg, GraphBuilder, Key, Op, Plan, Pool, RunOptions, Value};
    /// use std::sync::Mutex;
    /// let inc = Op::typed("inc", |x: i64| x + 1);
    /// let mut b = GraphBuilder::new();
    /// b.literal("x", Value::Unit)?.task("y", &inc, [Arg::key("x")])?;
    /// let plan = Plan::with_inputs(&b.build(), &[Key::from("y")], &[Key::from("x")])?;
    /// // Values that "arrive" (from a network, say), taken by whichever thread polls first.
    /// let inbox = Mutex::new(vec![Value::Int(41)]);
    /// let poll = |feed: &blockwork::Feed<'_>| {
    ///     if let Some(v) = inbox.lock().unwrap().pop() {
    ///         feed.deliver(feed.plan().inputs()[0], v).unwrap();
    ///     }
    ///     feed.pending_inputs() > 0
    /// };
    /// let pool = Pool::new(2)?;
    /// let (out, _) = pool.run_fed_polled(&plan, &RunOptions::new(), &poll, |feed| {
    ///     while !feed.is_finished() {
    ///         poll(feed);
    ///         std::thread::yield_now();
    ///     }
    /// });
    /// assert_eq!(out?.values, [Value::Int(42)]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn run_fed_polled<R>(
        &self,
        plan: &Plan,
        options: &RunOptions,
        poll: &(dyn Fn(&Feed<'_>) -> bool + Sync),
        feeder: impl FnOnce(&Feed<'_>) -> R,
    ) -> (Result<RunOutput>, Option<R>) {
        self.run_fed_core(plan, options, Some(poll), feeder)
    }

    fn run_fed_core<R>(
        &self,
        plan: &Plan,
        options: &RunOptions,
        poll: Option<&PollFn<'_>>,
        feeder: impl FnOnce(&Feed<'_>) -> R,
    ) -> (Result<RunOutput>, Option<R>) {
        let mut feeder = Some(feeder);
        let mut fed = None;
        let out = self.run_core(
            plan,
            options,
            Some(&mut |feed: &Feed<'_>| {
                if let Some(f) = feeder.take() {
                    fed = Some(f(feed));
                }
            }),
            poll,
        );
        (out, fed)
    }

    /// A run; with a feeder, the plan's inputs are delivered through it (see
    /// [`Pool::run_fed`]).
    fn run_core(
        &self,
        plan: &Plan,
        options: &RunOptions,
        feeder: Option<&mut dyn FnMut(&Feed<'_>)>,
        poll: Option<&PollFn<'_>>,
    ) -> Result<RunOutput> {
        // Pools that would wait on this run: those waiting on the run whose task submits it
        // (if any), and the pool whose worker submits it, unless that is this pool (whose
        // worker then helps: it runs this pool's jobs while it waits).
        let me = Arc::as_ptr(&self.shared) as usize;
        let mut waiting = waiting_on_current_run();
        if waiting.contains(&me) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "a task submitted a run to a pool that waits for it (the pool it runs on, or \
                 one whose run started this task through other pools); this could deadlock",
            ));
        }
        let worker_of = WORKER_OF.with(|w| w.get());
        if worker_of != 0 && worker_of != me && !waiting.contains(&worker_of) {
            waiting.push(worker_of);
        }
        let start = Instant::now();
        let _quiet = (!self.print_panics).then(QuietPanics::new);
        let observer = options.observer.as_deref();
        if let Some(o) = observer {
            catch(|| o.run_started(plan))
                .map_err(|m| callback_error(plan, "observer run_started", None, m))?;
        }
        let mut state = self.take_state();
        state.reset(plan);
        let loaded = state.load_literals(plan);
        let mut ctx = RunCtx::new(
            plan,
            state,
            self.threads(),
            observer,
            waiting,
            options.max_live_bytes,
        );
        match loaded {
            Ok(loaded) => ctx.tally.preload(loaded),
            Err((t, m)) => ctx.fail_callback(NBYTES, Some(t), m),
        }
        // The literals alone may be over the run's budget of live bytes.
        if let Some((live, max)) = ctx.tally.over_budget(&LiveTally::default())
            && let Some(&t) = plan.literal_tasks().last()
        {
            ctx.fail(over_live_budget(plan, t, live, max));
        }
        if let Some(o) = observer
            && !ctx.is_failed()
        {
            report_literals(&ctx, o);
        }
        // The feed's job: it holds the run open while inputs are awaited.
        let mut started = feeder.is_some();
        if started {
            ctx.add_jobs(1);
        }
        let roots = plan.start_roots().len() as u32;
        if roots > 0 && !ctx.is_failed() {
            started = true;
            ctx.add_jobs(1);
            self.shared
                .push_injector(Job::new(&ctx, Work::Roots(0, roots)));
        }
        if let Some(feeder) = feeder {
            let feed = Feed::new(&ctx, &self.shared);
            // SAFETY: the registration is dropped at the end of this block, before `feed`
            // (declared before it) and before `poll` (borrowed for the whole call).
            let polled = poll.map(|p| unsafe { self.shared.pollers.register(&feed, p) });
            // A panicking feeder must not unwind past the run while its jobs are queued:
            // it fails the run instead, like a panic anywhere else outside a task's op.
            if let Err(m) = catch(|| feeder(&feed)) {
                feed.fail(callback_error(plan, "the feeder of run_fed", None, m));
            }
            // No worker polls the run after this.
            drop(polled);
            if feed.pending_inputs() > 0 && !feed.is_failed() {
                feed.fail(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "the feeder returned with {} of the plan's inputs not delivered",
                        feed.pending_inputs()
                    ),
                ));
            }
            feed.release();
        }
        // Every job of the run ends before the wait returns; only then may `ctx` move.
        // On a worker of this pool (a task computing a graph on its own pool), help.
        if started && !help_until(&self.shared, || ctx.is_done()) {
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
        if let (_, Some(p)) = ctx.state.clear()
            && result.is_ok()
        {
            result = Err(callback_error(plan, p.what, Some(p.task), p.message));
        }
        if let Some(o) = observer
            && let Err(m) = catch(|| o.run_finished(plan, &stats))
            && result.is_ok()
        {
            result = Err(callback_error(plan, "observer run_finished", None, m));
        }
        self.return_state(ctx.state);
        result.map(|values| RunOutput { values, stats })
    }
}

/// Literal nodes are written into their slots when a run starts, by the calling thread:
/// the observer sees each start and finish then, as on worker 0. A panic fails the run.
#[cold]
fn report_literals(ctx: &RunCtx<'_>, o: &dyn Observer) {
    let plan = ctx.plan;
    for &t in plan.literal_tasks() {
        if let Err(m) = catch(|| o.task_started(plan, t, 0)) {
            return ctx.fail_callback("observer task_started", Some(t), m);
        }
        if let Err(m) = catch(|| o.task_finished(plan, t, 0)) {
            return ctx.fail_callback("observer task_finished", Some(t), m);
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        self.shared.sleep.wake_all();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
        release_cores(&self.cores);
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("threads", &self.threads())
            .field("cores", &self.cores)
            .finish()
    }
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Pool>();
    // Idle workers poll with the feed of a run (`Pool::run_fed_polled`).
    is::<Feed<'static>>();
    let _ = RunStats::default();
}
