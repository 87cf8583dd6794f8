//! The differential runner: one plan on the sequential oracle and on pools of several sizes.

use super::{DagConfig, TestDag, Tracker, canonical, check_plan};
use crate::error::{Error, ErrorKind, Result};
use crate::exec::{Executor, Pool, RunOutput, Sequential};
use crate::graph::Graph;
use crate::key::Key;
use crate::plan::Plan;
use crate::value::Value;
use arbitrary::Unstructured;
use std::fmt;
use std::sync::OnceLock;

/// A disagreement found by a [`Differential`] run (or a broken plan invariant).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch(pub String);

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Mismatch {}

/// What the oracle computed, once every executor agreed.
#[derive(Clone, Debug)]
pub struct Report {
    /// Tasks in the plan (0 when planning failed).
    pub tasks: usize,
    /// The outputs with tracked payloads made plain ([`canonical`]), or the error's class.
    pub outcome: std::result::Result<Vec<Value>, ErrorKind>,
    /// Runs compared against the oracle.
    pub runs: usize,
}

/// Runs plans on [`Sequential`] and on a set of pools, and checks that they agree.
///
/// For every run it checks: the same output values (or, for failing graphs, a task error
/// of the expected class naming a failing key); `tasks_run == plan.len()` and
/// `leaked_values == 0` after a success; the thread count in the statistics. For a
/// [`TestDag`] it also checks freeing through the DAG's [`Tracker`](super::Tracker), independently of the
/// executor's statistics:
/// - each run makes exactly one payload per `mix` task of the plan (every task ran once);
/// - after the run returned and its outputs were dropped, no payload is alive;
/// - during the run, the payloads alive at once never exceeded the run's reported
///   `peak_live_values` (exact for the sequential executor), plus the run's
///   `peak_tolerance` (`threads × 64` for a pool, whose reported peak lags by at most that much).
///
/// A tracker's counts are only exact if no other run of the same DAG is in flight.
#[derive(Debug)]
pub struct Differential {
    pools: Vec<Pool>,
    repeats: usize,
}

impl Differential {
    /// Pools of the given sizes, unpinned. Each plan runs once on each pool.
    pub fn new(threads: &[usize]) -> Result<Differential> {
        let pools = threads
            .iter()
            .map(|&n| {
                Pool::builder()
                    .threads(n)
                    .pin(false)
                    .name("bw-diff")
                    .build()
            })
            .collect::<Result<_>>()?;
        Ok(Differential { pools, repeats: 1 })
    }

    /// Runs each plan `n` times on each pool (at least once).
    pub fn with_repeats(mut self, n: usize) -> Differential {
        self.repeats = n.max(1);
        self
    }

    /// The thread counts of the pools.
    pub fn threads(&self) -> Vec<usize> {
        self.pools.iter().map(Pool::threads).collect()
    }

    /// Compares the executors on any graph. Planning errors are reported in the outcome; a
    /// task error of the oracle must be matched by a task error of every pool (the first
    /// error wins, so a pool may report another failing task).
    pub fn check(&self, graph: &Graph, outputs: &[Key]) -> std::result::Result<Report, Mismatch> {
        match Plan::new(graph, outputs) {
            Ok(plan) => self.compare(&plan, &Expect::default()),
            Err(e) => Ok(Report {
                tasks: 0,
                outcome: Err(e.kind()),
                runs: 0,
            }),
        }
    }

    /// Compares the executors on a random DAG, with its freeing and failure checks.
    pub fn check_dag(&self, dag: &TestDag) -> std::result::Result<Report, Mismatch> {
        let plan = dag
            .plan()
            .map_err(|e| Mismatch(format!("a generated DAG does not plan: {e}")))?;
        let expect = Expect {
            dag: Some(dag),
            made_per_run: dag.tracked_tasks(&plan),
            first_failure: dag.first_failure(&plan),
        };
        if dag.tracker.live() != 0 {
            return Err(Mismatch("tracked payloads alive before the run".into()));
        }
        self.compare(&plan, &expect)
    }

    fn compare(&self, plan: &Plan, expect: &Expect<'_>) -> std::result::Result<Report, Mismatch> {
        check_plan(plan).map_err(|e| Mismatch(format!("plan check: {e}")))?;
        let reference = check_run(plan, expect, None, "sequential", 1, |p| {
            Sequential::new().run(p)
        })?;
        let mut runs = 0;
        for pool in &self.pools {
            for _ in 0..self.repeats {
                let name = format!("pool({})", pool.threads());
                // Compared with the reference inside; only a mismatch matters here.
                let _same =
                    check_run(plan, expect, Some(&reference), &name, pool.threads(), |p| {
                        pool.run(p)
                    })?;
                runs += 1;
            }
        }
        Ok(Report {
            tasks: plan.len(),
            outcome: reference,
            runs,
        })
    }
}

/// What a run of a plan should do, beyond agreeing with the oracle.
#[derive(Default)]
struct Expect<'a> {
    dag: Option<&'a TestDag>,
    made_per_run: u64,
    /// The first failing task in priority order, which is the one the oracle must report.
    first_failure: Option<(Key, ErrorKind)>,
}

type Outcome = std::result::Result<Vec<Value>, ErrorKind>;

/// Runs once and checks the run on its own and against the reference outcome.
fn check_run(
    plan: &Plan,
    expect: &Expect<'_>,
    reference: Option<&Outcome>,
    name: &str,
    threads: usize,
    run: impl FnOnce(&Plan) -> Result<RunOutput>,
) -> std::result::Result<Outcome, Mismatch> {
    let fail = |msg: String| Err(Mismatch(format!("{name}: {msg}")));
    let tracker = expect.dag.map(|d| &d.tracker);
    let made_before = tracker.map_or(0, Tracker::created);
    if let Some(t) = tracker {
        t.reset_peak();
    }
    let result = run(plan);
    let outcome = match result {
        Ok(out) => check_success(plan, expect, reference.is_none(), threads, out).or_else(fail)?,
        Err(e) => check_failure(plan, expect, reference.is_none(), &e).or_else(fail)?,
    };
    if let Some(t) = tracker {
        let made = t.created() - made_before;
        if made > expect.made_per_run || (outcome.is_ok() && made != expect.made_per_run) {
            return fail(format!(
                "made {made} payloads, expected {}",
                expect.made_per_run
            ));
        }
        if t.live() != 0 {
            return fail(format!("{} payloads alive after the run", t.live()));
        }
    }
    match reference {
        Some(r) if !same_outcome(r, &outcome) => {
            fail(format!("outcome {outcome:?}, sequential gave {r:?}"))
        }
        _ => Ok(outcome),
    }
}

fn same_outcome(a: &Outcome, b: &Outcome) -> bool {
    match (a, b) {
        (Ok(x), Ok(y)) => x == y,
        // Several tasks may fail; a pool may meet another one first, of the other class.
        (Err(_), Err(_)) => true,
        _ => false,
    }
}

fn check_success(
    plan: &Plan,
    expect: &Expect<'_>,
    is_oracle: bool,
    threads: usize,
    out: RunOutput,
) -> std::result::Result<Outcome, String> {
    if let Some((key, kind)) = &expect.first_failure {
        return Err(format!("succeeded, but {key} always fails ({kind:?})"));
    }
    let s = &out.stats;
    if out.values.len() != plan.outputs().len() {
        return Err(format!(
            "{} values for {} outputs",
            out.values.len(),
            plan.outputs().len()
        ));
    }
    if s.tasks_run as usize != plan.len() || s.leaked_values != 0 || s.threads != threads {
        return Err(format!("stats {s:?} for a plan of {} tasks", plan.len()));
    }
    if s.peak_live_values as usize > plan.len() {
        return Err(format!(
            "peak of {} values in a plan of {}",
            s.peak_live_values,
            plan.len()
        ));
    }
    if let Some(t) = expect.dag.map(|d| &d.tracker) {
        // The oracle's peak is exact; a pool's lags by up to its stated tolerance, 64 values
        // per worker.
        let slack = s.peak_tolerance as i64;
        let documented = if is_oracle { 0 } else { threads as i64 * 64 };
        if slack != documented {
            return Err(format!("peak tolerance {slack}, documented {documented}"));
        }
        let bound = s.peak_live_values as i64 + slack;
        if t.peak() > bound {
            return Err(format!(
                "{} payloads alive at once, bound {bound}",
                t.peak()
            ));
        }
    }
    let values: Vec<Value> = out.values.iter().map(canonical).collect();
    drop(out);
    Ok(Ok(values))
}

fn check_failure(
    plan: &Plan,
    expect: &Expect<'_>,
    is_oracle: bool,
    e: &Error,
) -> std::result::Result<Outcome, String> {
    let Error::Task { key, op, .. } = e else {
        return Err(format!("failed with a non-task error: {e}"));
    };
    let Some(dag) = expect.dag else {
        return Ok(Err(e.kind()));
    };
    match dag.failure_of(key) {
        None => return Err(format!("task {key} ({op}) failed, but it never fails: {e}")),
        Some(kind) if kind != e.kind() => {
            return Err(format!("task {key} should fail as {kind:?}: {e}"));
        }
        Some(_) => {}
    }
    if !plan.tasks().any(|t| plan.key(t) == key) {
        return Err(format!("failing task {key} is not in the plan"));
    }
    if is_oracle && expect.first_failure.as_ref().map(|f| &f.0) != Some(key) {
        return Err(format!(
            "the oracle reported {key}, not the first failing task"
        ));
    }
    Ok(Err(e.kind()))
}

/// The shared differential runner behind [`differential`]: pools of 1 to 4 threads.
fn shared() -> &'static Differential {
    static SHARED: OnceLock<Differential> = OnceLock::new();
    SHARED.get_or_init(|| Differential::new(&[1, 2, 3, 4]).expect("test pools start"))
}

/// Compares [`Sequential`] with pools of 1, 2, 3 and 4 threads on `graph` and `outputs`
/// (see [`Differential::check`]). The pools are created on first use and kept for the
/// process, so repeated calls cost no thread start-up.
///
/// ```
/// use blockwork::{Arg, GraphBuilder, Op, Value, Key};
/// let add = Op::typed("add", |a: i64, b: i64| a + b);
/// let mut b = GraphBuilder::new();
/// b.literal("x", 1)?.task("y", &add, [Arg::key("x"), Arg::key("x")])?;
/// let report = blockwork::testing::differential(&b.build(), &[Key::from("y")]).unwrap();
/// assert_eq!(report.outcome, Ok(vec![Value::Int(2)]));
/// # Ok::<(), blockwork::Error>(())
/// ```
pub fn differential(graph: &Graph, outputs: &[Key]) -> std::result::Result<Report, Mismatch> {
    shared().check(graph, outputs)
}

/// The fuzz target body: draws a DAG from `data` (with failing tasks, without panicking
/// ones, which a fuzzer's panic hook would count as crashes) and checks it with
/// [`differential`]'s pools. Panics on any mismatch; any input, including empty, tiny or
/// deep ones, is otherwise handled.
pub fn fuzz_dag_differential(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let pick = |u: &mut Unstructured<'_>, hi: usize| u.int_in_range(0..=hi).unwrap_or(0);
    let config = DagConfig {
        min_nodes: 0,
        max_nodes: 16 + pick(&mut u, 240),
        max_deps: 1 + pick(&mut u, 7),
        max_outputs: 1 + pick(&mut u, 5),
        max_nesting: pick(&mut u, 4),
        failures: pick(&mut u, 3) == 0,
        panics: false,
        tracked: true,
    };
    let dag = TestDag::arbitrary(&mut u, &config);
    if let Err(m) = shared().check_dag(&dag) {
        panic!(
            "differential mismatch: {m}\ngraph: {:?}\noutputs: {:?}",
            dag.graph, dag.outputs
        );
    }
}
