//! A progress bar over a run, drawn with indicatif once the run has lasted a while.

use crate::exec::{Observer, RunStats};
use crate::plan::{Plan, TaskId};
use crossbeam_utils::CachePadded;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Counters, one cache line each, that workers add their finished tasks to; worker `w` uses
/// lane `w % LANES`, so workers never share a line below this many threads.
const LANES: usize = 64;
/// How often the bar is redrawn.
const TICK: Duration = Duration::from_millis(100);
/// How long a run goes before its bar appears, so short runs print nothing.
pub const PROGRESS_DELAY: Duration = Duration::from_secs(1);

struct Shared {
    finished: Box<[CachePadded<AtomicU64>]>,
    total: AtomicU64,
    /// Set when the run ends; the condvar wakes the ticker.
    done: Mutex<bool>,
    wake: Condvar,
    delay: Duration,
    visible: bool,
}

impl Shared {
    fn finished(&self) -> u64 {
        self.finished
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }
}

/// An [`Observer`] that shows a progress bar on standard error for runs longer than a delay
/// ([`PROGRESS_DELAY`] by default).
///
/// Workers only add to a per-worker counter; a ticker thread, started with the run and
/// joined when it ends, draws the bar. Nothing is drawn when standard error is not a
/// terminal. One `Progress` observes one run at a time.
///
/// ```
/// use std::sync::Arc;
/// use blockwork::diagnostics::Progress;
/// use blockwork::{bench_shapes, Executor, Plan, RunOptions, Sequential};
/// let (g, out) = bench_shapes::tree(64);
/// let progress = Arc::new(Progress::hidden());
/// let plan = Plan::new(&g, &out)?;
/// Sequential::new().run_with(&plan, &RunOptions::with_observer(progress.clone()))?;
/// assert_eq!(progress.finished(), 127);
/// # Ok::<(), blockwork::Error>(())
/// ```
pub struct Progress {
    shared: Arc<Shared>,
    ticker: Mutex<Option<JoinHandle<()>>>,
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl Progress {
    /// A bar on standard error that appears after [`PROGRESS_DELAY`].
    pub fn new() -> Progress {
        Progress::with_delay(PROGRESS_DELAY)
    }

    /// A bar on standard error that appears after `delay`.
    pub fn with_delay(delay: Duration) -> Progress {
        Progress::build(delay, true)
    }

    /// Counts finished tasks without drawing anything.
    pub fn hidden() -> Progress {
        Progress::build(Duration::MAX, false)
    }

    fn build(delay: Duration, visible: bool) -> Progress {
        Progress {
            shared: Arc::new(Shared {
                finished: (0..LANES)
                    .map(|_| CachePadded::new(AtomicU64::new(0)))
                    .collect(),
                total: AtomicU64::new(0),
                done: Mutex::new(false),
                wake: Condvar::new(),
                delay,
                visible,
            }),
            ticker: Mutex::new(None),
        }
    }

    /// Tasks finished in the current (or last) run.
    pub fn finished(&self) -> u64 {
        self.shared.finished()
    }

    /// Tasks in the current (or last) run.
    pub fn total(&self) -> u64 {
        self.shared.total.load(Ordering::Relaxed)
    }

    fn stop_ticker(&self) {
        *self.shared.done.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.shared.wake.notify_all();
        let handle = self.ticker.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

/// The ticker: waits for the delay, then redraws every [`TICK`] until the run is done.
fn tick(shared: &Shared) {
    let start = Instant::now();
    let mut bar: Option<ProgressBar> = None;
    let mut done = shared.done.lock().unwrap_or_else(|p| p.into_inner());
    while !*done {
        done = shared
            .wake
            .wait_timeout(done, TICK)
            .unwrap_or_else(|p| p.into_inner())
            .0;
        if bar.is_none() && start.elapsed() >= shared.delay {
            let b = ProgressBar::with_draw_target(
                Some(shared.total.load(Ordering::Relaxed)),
                ProgressDrawTarget::stderr(),
            );
            let style = ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {human_pos}/{human_len} tasks ({per_sec}, eta {eta})",
            )
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            b.set_style(style);
            bar = Some(b);
        }
        if let Some(b) = &bar {
            b.set_position(shared.finished());
        }
    }
    if let Some(b) = bar {
        b.set_position(shared.finished());
        b.finish();
    }
}

impl Observer for Progress {
    fn run_started(&self, plan: &Plan) {
        self.stop_ticker(); // a previous run that did not report its end
        for c in self.shared.finished.iter() {
            c.store(0, Ordering::Relaxed);
        }
        self.shared
            .total
            .store(plan.len() as u64, Ordering::Relaxed);
        *self.shared.done.lock().unwrap_or_else(|p| p.into_inner()) = false;
        if self.shared.visible {
            let shared = self.shared.clone();
            let handle = std::thread::Builder::new()
                .name("blockwork-progress".into())
                .spawn(move || tick(&shared))
                .ok(); // no thread, no bar: the run itself is unaffected
            *self.ticker.lock().unwrap_or_else(|p| p.into_inner()) = handle;
        }
    }

    #[inline]
    fn task_finished(&self, _plan: &Plan, _task: TaskId, worker: usize) {
        self.shared.finished[worker % LANES].fetch_add(1, Ordering::Relaxed);
    }

    fn run_finished(&self, _plan: &Plan, _stats: &RunStats) {
        self.stop_ticker();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop_ticker();
    }
}
