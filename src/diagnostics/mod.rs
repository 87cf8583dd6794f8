//! Diagnostics: progress bars and profiles of runs, pictures and statistics of graphs.
//!
//! `Progress` (with the `progress` feature) and [`Profile`] are [`Observer`]s: pass them in
//! [`RunOptions`](crate::RunOptions) (several at once through [`Observers`]). [`to_dot`]
//! draws a graph for Graphviz; [`GraphInfo`] measures one.

mod dot;
mod info;
mod profile;
#[cfg(feature = "progress")]
mod progress;

pub use dot::to_dot;
pub use info::GraphInfo;
pub use profile::{Profile, TaskSpan};
#[cfg(feature = "progress")]
pub use progress::{PROGRESS_DELAY, Progress};

use crate::exec::{Observer, RunStats};
use crate::plan::{Plan, TaskId};
use std::sync::Arc;

/// Several observers called in turn, as one.
///
/// ```
/// use std::sync::Arc;
/// use blockwork::diagnostics::{Observers, Profile, Progress};
/// use blockwork::{bench_shapes, Executor, Plan, RunOptions, Sequential};
/// let (g, out) = bench_shapes::chain(10);
/// let (progress, profile) = (Arc::new(Progress::hidden()), Arc::new(Profile::new()));
/// let both = Observers(vec![progress.clone(), profile.clone()]);
/// Sequential::new().run_with(&Plan::new(&g, &out)?, &RunOptions::with_observer(Arc::new(both)))?;
/// assert_eq!((progress.finished(), profile.spans().len()), (10, 10));
/// # Ok::<(), blockwork::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Observers(pub Vec<Arc<dyn Observer>>);

impl Observer for Observers {
    fn run_started(&self, plan: &Plan) {
        self.0.iter().for_each(|o| o.run_started(plan));
    }
    fn task_started(&self, plan: &Plan, task: TaskId, worker: usize) {
        self.0
            .iter()
            .for_each(|o| o.task_started(plan, task, worker));
    }
    fn task_finished(&self, plan: &Plan, task: TaskId, worker: usize) {
        self.0
            .iter()
            .for_each(|o| o.task_finished(plan, task, worker));
    }
    fn run_finished(&self, plan: &Plan, stats: &RunStats) {
        self.0.iter().for_each(|o| o.run_finished(plan, stats));
    }
}
