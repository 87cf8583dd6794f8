//! Test support shared by the test suite, the fuzz targets and the benches.
//!
//! Compiled only with the `testing` cargo feature. Nothing here is meant for production runs:
//! the checkers report disagreements as a [`Mismatch`], and the fuzz entry point panics on one.
//!
//! - [`Tracker`] and [`Tracked`]: a payload whose constructor and `Drop` count live values,
//!   so a test checks freeing independently of the executor's own [`RunStats`](crate::RunStats).
//! - [`DagConfig`] and [`TestDag`]: random task graphs (from a seed, or from
//!   [`arbitrary::Unstructured`] bytes) mixing literals, aliases and alias chains, list
//!   arguments, nested tasks, repeated arguments, zero-argument tasks and several outputs.
//! - [`check_plan`]: a plan's invariants, and its agreement with the graph it came from.
//! - [`Differential`], [`differential`] and [`fuzz_dag_differential`]: run one plan on the
//!   [`Sequential`](crate::Sequential) oracle and on pools of several sizes, and compare
//!   values, errors, statistics and freeing.
//!
//! ```
//! use blockwork::testing::{DagConfig, Differential, TestDag};
//! let dag = TestDag::from_seed(7, &DagConfig::default());
//! let diff = Differential::new(&[1, 2])?;
//! let report = diff.check_dag(&dag).unwrap();
//! assert_eq!(report.tasks, dag.plan()?.len());
//! assert_eq!(dag.tracker.live(), 0); // every value the run made was dropped
//! # Ok::<(), blockwork::Error>(())
//! ```

mod check;
mod dag;
mod differential;

pub use check::check_plan;
pub use dag::{DagConfig, TestDag};
pub use differential::{Differential, Mismatch, Report, differential, fuzz_dag_differential};

use crate::value::{Payload, Value};
use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// The counters behind a [`Tracker`].
#[derive(Default, Debug)]
struct Counts {
    live: AtomicI64,
    peak: AtomicI64,
    created: AtomicU64,
}

/// Counts the [`Tracked`] payloads alive, the most alive at once, and how many were made.
///
/// Give each test its own tracker (they are cheap): the counts are then exact for that test
/// even while other tests run in parallel. Clones share the counts.
///
/// ```
/// use blockwork::testing::Tracker;
/// let t = Tracker::new();
/// let a = t.value(1);
/// let b = a.clone(); // a clone shares the payload: still one live value
/// assert_eq!((t.live(), t.peak(), t.created()), (1, 1, 1));
/// drop((a, b));
/// assert_eq!(t.live(), 0);
/// ```
#[derive(Clone, Default, Debug)]
pub struct Tracker(Arc<Counts>);

impl Tracker {
    /// A tracker with all counts zero.
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// A new tracked payload holding `x`, as a [`Value`].
    pub fn value(&self, x: i64) -> Value {
        Value::payload(Tracked::new(self, x))
    }

    /// Payloads alive now.
    pub fn live(&self) -> i64 {
        self.0.live.load(Ordering::SeqCst)
    }

    /// The most payloads alive at once since creation or the last [`reset_peak`](Self::reset_peak).
    pub fn peak(&self) -> i64 {
        self.0.peak.load(Ordering::SeqCst)
    }

    /// Payloads made so far.
    pub fn created(&self) -> u64 {
        self.0.created.load(Ordering::SeqCst)
    }

    /// Restarts the peak from the current live count.
    pub fn reset_peak(&self) {
        self.0.peak.store(self.live(), Ordering::SeqCst);
    }
}

/// A payload that counts itself in a [`Tracker`] from construction to `Drop`.
#[derive(Debug)]
pub struct Tracked {
    value: i64,
    counts: Arc<Counts>,
}

impl Tracked {
    /// Makes a payload holding `value`, counted by `tracker`.
    pub fn new(tracker: &Tracker, value: i64) -> Tracked {
        let c = &tracker.0;
        c.created.fetch_add(1, Ordering::SeqCst);
        let live = c.live.fetch_add(1, Ordering::SeqCst) + 1;
        c.peak.fetch_max(live, Ordering::SeqCst);
        Tracked {
            value,
            counts: c.clone(),
        }
    }

    /// The number it holds.
    pub fn get(&self) -> i64 {
        self.value
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.counts.live.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Payload for Tracked {
    fn nbytes(&self) -> usize {
        std::mem::size_of::<i64>()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A value with every [`Tracked`] payload replaced by its number (lists recursively), so
/// results of different runs compare by content rather than by payload identity.
///
/// ```
/// use blockwork::{Value, testing::{Tracker, canonical}};
/// let t = Tracker::new();
/// let v = Value::list([t.value(3), Value::Int(4)]);
/// assert_eq!(canonical(&v), Value::list([3i64, 4]));
/// ```
pub fn canonical(v: &Value) -> Value {
    match v {
        Value::List(items) => Value::List(items.iter().map(canonical).collect()),
        Value::Opaque(_) => match v.downcast_ref::<Tracked>() {
            Some(t) => Value::Int(t.get()),
            None => v.clone(),
        },
        other => other.clone(),
    }
}

/// An order-sensitive structural hash of a value: lists hash differently from their
/// flattened elements, and tracked payloads hash as their number. Used by the random DAGs'
/// operations, so that a wrong argument, a wrong order or a lost nesting changes the result.
pub fn digest(v: &Value) -> u64 {
    match v {
        Value::Unit => 0x5555,
        Value::Bool(b) => mix64(0xB001 + u64::from(*b)),
        Value::Int(i) => mix64(*i as u64),
        Value::Float(f) => mix64(f.to_bits() ^ 0xF10A7),
        Value::Str(s) => s.bytes().fold(0x57A1, |h, b| mix64(h ^ u64::from(b))),
        Value::List(items) => items
            .iter()
            .fold(0x1157 ^ items.len() as u64, |h, x| mix64(h ^ digest(x))),
        Value::Opaque(_) => match v.downcast_ref::<Tracked>() {
            Some(t) => mix64(t.get() as u64),
            None => 0x0BA0,
        },
    }
}

/// The splitmix64 finaliser: a cheap, well-mixing bijection on `u64`.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
