//! Run statistics kept by the workers: tasks, steals and the live-value counts behind the
//! reported peaks. Knows nothing about scheduling.
//!
//! Each worker keeps its change in live values and bytes privately ([`LiveTally`]) and
//! publishes it into the run's shared counters only when it reaches [`LIVE_FLUSH_VALUES`]
//! values or [`LIVE_FLUSH_BYTES`] bytes, so the reported peak is within
//! `threads × LIVE_FLUSH_VALUES` of the true one.

use super::RunStats;
use super::run_state::Freed;
use super::sync::Ordering;
use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicI64, AtomicU64};

/// Values a worker may hold unpublished; see the module docs.
pub(crate) const LIVE_FLUSH_VALUES: i64 = 64;

/// Bytes a worker may hold unpublished; see the module docs.
pub(crate) const LIVE_FLUSH_BYTES: i64 = 1 << 20;

/// Adds to a counter that only the calling thread writes: a load and a store, no
/// read-modify-write.
#[inline]
fn add_single_writer(a: &AtomicU64, by: u64) {
    a.store(a.load(Ordering::Relaxed) + by, Ordering::Relaxed);
}

#[inline]
fn add_single_writer_i64(a: &AtomicI64, by: i64) {
    a.store(a.load(Ordering::Relaxed) + by, Ordering::Relaxed);
}

#[inline]
fn offer_peak(peak: &AtomicI64, candidate: i64) {
    if candidate > peak.load(Ordering::Relaxed) {
        peak.fetch_max(candidate, Ordering::Relaxed);
    }
}

/// Counters one worker keeps for one run; only that worker writes them, at job ends.
#[derive(Default)]
struct WorkerCounters {
    tasks: AtomicU64,
    steals: AtomicU64,
    /// Change in live values not yet published to `RunTally::live_values`.
    values: AtomicI64,
    /// Change in live bytes not yet published to `RunTally::live_bytes`.
    bytes: AtomicI64,
}

/// The run's statistics, shared by its workers.
pub(crate) struct RunTally {
    workers: Box<[CachePadded<WorkerCounters>]>,
    live_values: CachePadded<AtomicI64>,
    live_bytes: AtomicI64,
    peak_values: AtomicI64,
    peak_bytes: AtomicI64,
    /// Literal nodes written when the run started (counted as tasks run).
    literals: u64,
    /// [`RunOptions::max_live_bytes`](super::RunOptions::max_live_bytes), `i64::MAX` for none.
    max_live_bytes: i64,
}

impl RunTally {
    pub(crate) fn new(threads: usize, max_live_bytes: Option<u64>) -> RunTally {
        RunTally {
            max_live_bytes: max_live_bytes
                .map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX)),
            workers: (0..threads).map(|_| CachePadded::default()).collect(),
            live_values: CachePadded::new(AtomicI64::new(0)),
            live_bytes: AtomicI64::new(0),
            peak_values: AtomicI64::new(0),
            peak_bytes: AtomicI64::new(0),
            literals: 0,
        }
    }

    /// Counts the literal nodes written before the run started: as tasks run, and as live
    /// values and bytes.
    pub(crate) fn preload(&mut self, loaded: Freed) {
        self.literals = loaded.values;
        let (v, b) = (loaded.values as i64, loaded.bytes as i64);
        self.live_values = CachePadded::new(AtomicI64::new(v));
        self.live_bytes = AtomicI64::new(b);
        self.peak_values = AtomicI64::new(v);
        self.peak_bytes = AtomicI64::new(b);
    }

    /// A value of `bytes` entered the run from outside (an input delivered by a
    /// [`Feed`](super::Feed)): counted as live, not as a task run.
    pub(crate) fn delivered(&self, bytes: usize) {
        let lv = self.live_values.fetch_add(1, Ordering::Relaxed) + 1;
        let lb = self.live_bytes.fetch_add(bytes as i64, Ordering::Relaxed) + bytes as i64;
        offer_peak(&self.peak_values, lv);
        offer_peak(&self.peak_bytes, lb);
    }

    /// Worker `w` took a job from another worker or from the injector.
    #[inline]
    pub(crate) fn stolen(&self, w: usize) {
        add_single_writer(&self.workers[w].steals, 1);
    }

    /// Worker `w`'s unpublished change, taken at the start of a job (a job that worker `w`
    /// runs while this one waits, helping a nested run, starts from zero and adds its own
    /// back at its end).
    #[inline]
    pub(crate) fn load(&self, w: usize) -> LiveTally {
        let c = &self.workers[w];
        let (values, bytes) = (
            c.values.load(Ordering::Relaxed),
            c.bytes.load(Ordering::Relaxed),
        );
        c.values.store(0, Ordering::Relaxed);
        c.bytes.store(0, Ordering::Relaxed);
        LiveTally {
            tasks: 0,
            values,
            bytes,
            high_values: values,
            high_bytes: bytes,
            made_bytes: bytes,
        }
    }

    /// Adds worker `w`'s counts back at the end of a job.
    #[inline]
    pub(crate) fn store(&self, w: usize, tally: &LiveTally) {
        let c = &self.workers[w];
        add_single_writer(&c.tasks, tally.tasks);
        add_single_writer_i64(&c.values, tally.values);
        add_single_writer_i64(&c.bytes, tally.bytes);
        // Offer the job's high point on top of what is published: two loads, and an RMW
        // only when the peak grows.
        offer_peak(
            &self.peak_values,
            self.live_values.load(Ordering::Relaxed) + tally.high_values,
        );
        offer_peak(
            &self.peak_bytes,
            self.live_bytes.load(Ordering::Relaxed) + tally.high_bytes,
        );
    }

    /// The live bytes of the run as this worker sees them (what is published, and its own
    /// change including the value it just made) when that is over the run's budget:
    /// `Some((live, budget))`. Other workers' unpublished changes are not seen.
    #[inline]
    pub(crate) fn over_budget(&self, tally: &LiveTally) -> Option<(u64, u64)> {
        if self.max_live_bytes == i64::MAX {
            return None;
        }
        let live = self
            .live_bytes
            .load(Ordering::Relaxed)
            .saturating_add(tally.made_bytes);
        (live > self.max_live_bytes).then(|| (live.max(0) as u64, self.max_live_bytes as u64))
    }

    /// Moves a worker's unpublished live-value change into the shared counters.
    #[cold]
    fn publish(&self, tally: &mut LiveTally) {
        let (v, b) = (
            std::mem::take(&mut tally.values),
            std::mem::take(&mut tally.bytes),
        );
        let lv = self.live_values.fetch_add(v, Ordering::Relaxed) + v;
        let lb = self.live_bytes.fetch_add(b, Ordering::Relaxed) + b;
        // `high_*` were relative to the old published base; rebase them on the new one.
        offer_peak(&self.peak_values, lv - v + tally.high_values);
        offer_peak(&self.peak_bytes, lb - b + tally.high_bytes);
        tally.high_values = 0;
        tally.high_bytes = 0;
    }

    /// The run's statistics; call after completion. Also returns the exact number of values
    /// still alive (outputs included).
    pub(crate) fn stats(&self) -> (RunStats, i64) {
        let mut s = RunStats {
            threads: self.workers.len(),
            peak_tolerance: self.workers.len() as u64 * LIVE_FLUSH_VALUES as u64,
            tasks_run: self.literals,
            ..RunStats::default()
        };
        let (mut live, mut bytes) = (
            self.live_values.load(Ordering::Relaxed),
            self.live_bytes.load(Ordering::Relaxed),
        );
        for c in self.workers.iter() {
            s.tasks_run += c.tasks.load(Ordering::Relaxed);
            s.steals += c.steals.load(Ordering::Relaxed);
            live += c.values.load(Ordering::Relaxed);
            bytes += c.bytes.load(Ordering::Relaxed);
        }
        let peak_v = self.peak_values.load(Ordering::Relaxed).max(live);
        let peak_b = self.peak_bytes.load(Ordering::Relaxed).max(bytes);
        s.peak_live_values = peak_v.max(0) as u64;
        s.peak_live_bytes = peak_b.max(0) as u64;
        (s, live)
    }
}

/// A worker's counts within one job: tasks run, and the change in live values and bytes
/// not yet published to the run's shared counters (always below the flush thresholds).
#[derive(Default)]
pub(crate) struct LiveTally {
    tasks: u64,
    values: i64,
    bytes: i64,
    /// Highest `values` / `bytes` seen during the job, offered as a peak at its end.
    high_values: i64,
    high_bytes: i64,
    /// `bytes` at the end of the last task, after its value was made and before its inputs
    /// were freed (relative to what is published).
    made_bytes: i64,
}

impl LiveTally {
    /// A task finished, creating a value of `created_bytes` and freeing `freed`.
    #[inline]
    pub(crate) fn finished(&mut self, run: &RunTally, created_bytes: usize, freed: Freed) {
        self.tasks += 1;
        // The new value exists before the inputs are freed: count the high point first.
        self.high_values = self.high_values.max(self.values + 1);
        self.high_bytes = self.high_bytes.max(self.bytes + created_bytes as i64);
        self.values += 1 - freed.values as i64;
        self.bytes += created_bytes as i64 - freed.bytes as i64;
        self.check(run);
        // Whether or not `check` published: the new value with its freed inputs still live,
        // relative to the published count.
        self.made_bytes = self.bytes + freed.bytes as i64;
    }

    /// Values were freed outside a task's end (by deferred countdowns).
    #[inline]
    pub(crate) fn freed(&mut self, run: &RunTally, freed: Freed) {
        self.values -= freed.values as i64;
        self.bytes -= freed.bytes as i64;
        self.check(run);
    }

    #[inline]
    fn check(&mut self, run: &RunTally) {
        if self.values.abs() >= LIVE_FLUSH_VALUES || self.bytes.abs() >= LIVE_FLUSH_BYTES {
            run.publish(self);
        }
    }
}
