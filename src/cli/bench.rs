//! `blockwork bench`: the scheduler-overhead shapes, timed, and the data workloads of
//! [`bench_data`].
//!
//! With `--json`, one JSON object per measurement on standard output, as every engine of the
//! cross-engine harness prints: `{"engine": "blockwork", "workload", "n", "seconds",
//! "peak_rss_bytes", ...}`; a workload this build cannot run exits with code 3.

use super::bench_data::{self, is_data_workload};
use super::{Failure, Outcome};
use blockwork::array::bench::{TALL_COLS, Workload};
use blockwork::bench_shapes::{self, SHAPES, shape_tasks};
use blockwork::{Executor, Graph, Key, Plan, Pool, RunOptions, RunOutput, Sequential, Value};
use clap::Args;
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Tasks per shape when `--n` is not given.
const DEFAULT_N: usize = 100_000;
/// Untimed round trips before `latency10` is measured.
const LATENCY_WARMUP: usize = 100;
/// Timed round trips of `latency10` when `--reps` is not given.
const LATENCY_REPS: usize = 10_000;

#[derive(Args)]
pub(crate) struct BenchArgs {
    /// One workload: independent, chain, tree, wavefront, random_dag, latency10, array_a ..
    /// array_g, array_sort, array_unique, array_histogram, array_tsqr, array_svd or wordcount
    /// (default: the shapes and latency10).
    #[arg(long)]
    workload: Option<String>,
    /// Tasks per shape (default 100000, at most 1e8), the side of the square arrays (default:
    /// the full size of perf/BENCHMARKS.md, at most 200000), ignored by wordcount; accepts
    /// 100000, 1e5 or 100_000. A larger value, or one whose estimated memory (about 400 bytes
    /// a task; 8 n^2 bytes per array held) is over MemAvailable of /proc/meminfo, is bad input
    /// (exit 2), refused before anything is built.
    #[arg(long, value_parser = parse_n)]
    n: Option<usize>,
    /// Worker threads (default: the available parallelism).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=4096))]
    threads: Option<u16>,
    /// Timed repetitions per workload; the median is reported (default: 1, and 10000 round
    /// trips for latency10). A shape is built and planned once untimed-for-the-median (its
    /// cold time is in the JSON as `first_build_seconds`, `first_plan_seconds`), then `reps`
    /// times each, and run once untimed, then `reps` times.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    reps: Option<u32>,
    /// Do not pin workers to cores.
    #[arg(long)]
    no_pin: bool,
    /// Run on the sequential executor instead of the pool.
    #[arg(long, conflicts_with_all = ["threads", "no_pin"])]
    sequential: bool,
    /// Print one JSON object per workload instead of a table.
    #[arg(long)]
    json: bool,
    /// The word count's corpus: the directory holding its part-*.txt files.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

/// Most tasks `--n` may ask of a scheduler shape.
const MAX_SHAPE_TASKS: usize = 100_000_000;
/// Largest array side `--n` may ask of an array workload.
const MAX_ARRAY_SIDE: usize = 200_000;
/// Most elements `--n` may ask of a 1-d array workload.
const MAX_ARRAY_ELEMENTS: usize = 10_000_000_000;

/// `n` for workload `w` within the caps, or bad input.
fn check_size(w: &str, n: usize) -> Result<(), Failure> {
    let (cap, what) = match w {
        "wordcount" | "latency10" => return Ok(()),
        _ if Workload::is_flat(w) => (MAX_ARRAY_ELEMENTS, "an element count"),
        _ if Workload::is_tall(w) => (MAX_ARRAY_ELEMENTS / TALL_COLS, "a row count"),
        _ if is_data_workload(w) => (MAX_ARRAY_SIDE, "an array side"),
        _ => (MAX_SHAPE_TASKS, "a task count"),
    };
    if n > cap {
        return Err(Failure::BadInput(format!(
            "--n {n} is over the largest {what} {w} runs ({cap})"
        )));
    }
    let (Some(need), Some(have)) = (estimated_bytes(w, n), mem_available()) else {
        return Ok(());
    };
    if need > have {
        return Err(Failure::BadInput(format!(
            "--n {n} needs an estimated {need} bytes for {w}, more than the {have} bytes \
             available (MemAvailable in /proc/meminfo)"
        )));
    }
    Ok(())
}

/// Peak bytes a task of a scheduler shape takes, graph, plan and run together (measured:
/// `independent` at 4e6 tasks peaks at 1.56 GB, about 390 bytes a task).
const SHAPE_BYTES_PER_TASK: u64 = 400;

/// Estimated peak memory of workload `w` at `--n n`: per task for the scheduler shapes, per
/// `n x n` f64 array held for the array cases (inputs and results; the generated-and-reduced
/// cases hold none). `None` where nothing scales with `n`.
fn estimated_bytes(w: &str, n: usize) -> Option<u64> {
    let n = n as u64;
    let square = n.saturating_mul(n).saturating_mul(8);
    let arrays = match w {
        "wordcount" | "latency10" => return None,
        _ if !is_data_workload(w) => return Some(n.saturating_mul(SHAPE_BYTES_PER_TASK)),
        // Two inputs, and the last result beside the one being made.
        "array_a" | "array_d" => 4,
        "array_c" | "array_e" | "array_f" => 1,
        // The input, each block's sorted keys and values, and the output.
        "array_sort" => return Some(n.saturating_mul(8 * 4)),
        // The input and a block's keys being tallied.
        "array_unique" => return Some(n.saturating_mul(8)),
        // The input, the result (Q, or U) and the blocks' Q factors of the first level.
        "array_tsqr" | "array_svd" => return Some(n.saturating_mul(TALL_COLS as u64 * 8 * 3)),
        _ => return None,
    };
    Some(square.saturating_mul(arrays))
}

/// `MemAvailable` of `/proc/meminfo` in bytes (`None` where there is no such file).
fn mem_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.saturating_mul(1024))
}

fn parse_n(text: &str) -> Result<usize, String> {
    let t = text.replace('_', "");
    if let Ok(n) = t.parse::<usize>() {
        return Ok(n);
    }
    match t.parse::<f64>() {
        Ok(f) if f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f < 1e15 => Ok(f as usize),
        _ => Err(format!("'{text}' is not a task count")),
    }
}

/// The executor a benchmark runs on.
enum Exec {
    Seq(Sequential),
    Pool(Pool),
}

impl Executor for Exec {
    fn run_with(&self, plan: &Plan, options: &RunOptions) -> blockwork::Result<RunOutput> {
        match self {
            Exec::Seq(s) => s.run_with(plan, options),
            Exec::Pool(p) => p.run_with(plan, options),
        }
    }
}

/// One measurement.
pub(super) struct Row {
    pub(super) workload: String,
    pub(super) n: usize,
    pub(super) seconds: f64,
    pub(super) extra: serde_json::Value,
}

pub(super) fn bench(a: BenchArgs) -> Outcome {
    let workloads: Vec<String> = match &a.workload {
        Some(w) => vec![w.clone()],
        None => SHAPES
            .iter()
            .chain(&["latency10"])
            .map(|s| s.to_string())
            .collect(),
    };
    for w in &workloads {
        if bench_shapes::shape(w, 0).is_none() && !is_data_workload(w) {
            let known = SHAPES.join(", ");
            return Err(Failure::Unsupported(format!(
                "unsupported workload '{w}' (this build runs {known}, latency10, array_a .. \
                 array_g, array_sort, array_unique, array_histogram, array_tsqr, array_svd and \
                 wordcount)"
            )));
        }
        if w == "wordcount" && a.data.is_none() {
            return Err(Failure::BadInput(
                "wordcount needs --data DIR (the corpus' part-*.txt files)".into(),
            ));
        }
    }
    if let Some(n) = a.n {
        for w in &workloads {
            check_size(w, n)?;
        }
    }
    let (exec, threads) = executor(&a)?;
    if !a.json && workloads.iter().any(|w| !is_data_workload(w)) {
        print_line([
            "workload",
            "n",
            "tasks",
            "build/task",
            "plan/task",
            "run/task",
            "sum/task",
            "peak live",
            "check",
        ]);
    }
    for w in &workloads {
        let reps = a.reps.unwrap_or(1) as usize;
        let row = match w.as_str() {
            "latency10" => latency(&exec, a.reps.map_or(LATENCY_REPS, |r| r as usize))?,
            "wordcount" => bench_data::wordcount(&exec, a.data.as_deref().expect("checked"), reps)?,
            _ if is_data_workload(w) => {
                let n = a.n.unwrap_or_else(|| bench_data::default_side(w));
                bench_data::array(&exec, w, n, reps)?
            }
            _ => shape(&exec, w, a.n.unwrap_or(DEFAULT_N), reps)?,
        };
        if a.json {
            print_record(&row, threads);
        } else if is_data_workload(w) {
            print_data_row(&row);
        } else {
            print_row(&row);
        }
    }
    Ok(())
}

/// The executor the arguments ask for, and its thread count.
fn executor(a: &BenchArgs) -> Result<(Exec, usize), Failure> {
    if a.sequential {
        return Ok((Exec::Seq(Sequential::new()), 1));
    }
    let mut b = Pool::builder().pin(!a.no_pin);
    if let Some(t) = a.threads {
        b = b.threads(usize::from(t));
    }
    let pool = b.build().map_err(|e| Failure::BadInput(e.to_string()))?;
    let threads = pool.threads();
    Ok((Exec::Pool(pool), threads))
}

/// One JSON line: the harness's required fields first, then the details.
fn print_record(row: &Row, threads: usize) {
    let mut record = json!({
        "engine": "blockwork", "workload": row.workload, "n": row.n,
        "seconds": row.seconds, "peak_rss_bytes": peak_rss_bytes(), "threads": threads,
    });
    if let (Some(r), Some(extra)) = (record.as_object_mut(), row.extra.as_object()) {
        r.extend(extra.clone());
    }
    println!("{record}");
}

fn print_line(cells: [&str; 9]) {
    let [w, n, tasks, build, plan, run, sum, live, check] = cells;
    println!(
        "{w:<12} {n:>9} {tasks:>9} {build:>11} {plan:>11} {run:>11} {sum:>11} {live:>11} {check:>11}"
    );
}

fn print_row(row: &Row) {
    let ns = |field: &str| {
        row.extra[field].as_f64().map_or("-".to_string(), |s| {
            format!(
                "{:.1} ns",
                s * 1e9 / shape_tasks(&row.workload, row.n).max(1) as f64
            )
        })
    };
    let run = if row.workload == "latency10" {
        format!("{:.2} us rt", row.seconds * 1e6)
    } else {
        format!(
            "{:.1} ns",
            row.seconds * 1e9 / shape_tasks(&row.workload, row.n).max(1) as f64
        )
    };
    print_line([
        &row.workload,
        &row.n.to_string(),
        &row.extra["tasks"].to_string(),
        &ns("build_seconds"),
        &ns("plan_seconds"),
        &run,
        &ns("total_seconds"),
        &format!("{} B", row.extra["peak_live_bytes"]),
        &row.extra["check"].to_string(),
    ]);
}

/// A data workload's line: time, and the answer's summary.
fn print_data_row(row: &Row) {
    let answer = match row.extra.get("check") {
        Some(c) => format!("check {c}"),
        None => format!("value {}", row.extra["value"]),
    };
    println!(
        "{:<12} {:>9} {:>11.6} s  {answer}",
        row.workload, row.n, row.seconds
    );
}

pub(super) fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t0 = Instant::now();
    let out = f();
    (out, t0.elapsed())
}

pub(super) fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort_unstable();
    xs[xs.len() / 2]
}

pub(super) fn run_error(e: blockwork::Error) -> Failure {
    Failure::Failed(format!("{e} [{:?}]", e.kind()))
}

fn check_of(out: &RunOutput) -> serde_json::Value {
    match out.values.first() {
        Some(Value::Int(i)) => json!(i),
        _ => serde_json::Value::Null,
    }
}

fn shape(exec: &Exec, name: &str, n: usize, reps: usize) -> Result<Row, Failure> {
    // Build and plan are timed like the run: the first (cold) time is reported on its own,
    // the median of `reps` more (each after the previous result is dropped, so the
    // allocator's memory is reused, as in an application that builds graphs repeatedly).
    let build_once = || timed(|| bench_shapes::shape(name, n).expect("a known shape"));
    let ((mut graph, mut outputs), first_build) = build_once();
    let mut builds = Vec::with_capacity(reps);
    for _ in 0..reps {
        drop((graph, outputs));
        let ((g, o), t) = build_once();
        (graph, outputs) = (g, o);
        builds.push(t);
    }
    let (plan, first_plan) = timed(|| Plan::new(&graph, &outputs));
    let mut plan = plan.map_err(run_error)?;
    let mut plans = Vec::with_capacity(reps);
    for _ in 0..reps {
        drop(plan);
        let (p, t) = timed(|| Plan::new(&graph, &outputs));
        plan = p.map_err(run_error)?;
        plans.push(t);
    }
    let warm = exec.run(&plan).map_err(run_error)?; // wakes the pool, faults in memory
    drop(warm);
    let mut times = Vec::with_capacity(reps);
    let mut last = None;
    for _ in 0..reps {
        let (out, t) = timed(|| exec.run(&plan));
        times.push(t);
        last = Some(out.map_err(run_error)?);
    }
    let out = last.expect("at least one rep");
    let (build, planning, run) = (median(builds), median(plans), median(times));
    Ok(Row {
        workload: name.to_owned(),
        n,
        seconds: run.as_secs_f64(),
        extra: json!({
            "tasks": shape_tasks(name, n), "graph_nodes": graph.len(), "plan_tasks": plan.len(),
            "build_seconds": build.as_secs_f64(), "plan_seconds": planning.as_secs_f64(),
            "total_seconds": (build + planning + run).as_secs_f64(),
            "first_build_seconds": first_build.as_secs_f64(),
            "first_plan_seconds": first_plan.as_secs_f64(),
            "check": check_of(&out), "steals": out.stats.steals,
            "peak_live_bytes": out.stats.peak_live_bytes, "reps": reps,
        }),
    })
}

/// Round trips of the ten-task graph: planning and running (`seconds`), and running an
/// already planned graph (`run_only_seconds`).
fn latency(exec: &Exec, reps: usize) -> Result<Row, Failure> {
    let (graph, outputs): (Graph, Vec<Key>) = bench_shapes::latency10();
    let plan = Plan::new(&graph, &outputs).map_err(run_error)?;
    for _ in 0..LATENCY_WARMUP {
        exec.get(&graph, outputs[0].clone()).map_err(run_error)?;
    }
    let mut round_trips = Vec::with_capacity(reps);
    let mut run_only = Vec::with_capacity(reps);
    for _ in 0..reps {
        let (v, t) = timed(|| exec.get(&graph, outputs[0].clone()));
        v.map_err(run_error)?;
        round_trips.push(t);
        let (v, t) = timed(|| exec.run(&plan));
        v.map_err(run_error)?;
        run_only.push(t);
    }
    let out = exec.run(&plan).map_err(run_error)?;
    Ok(Row {
        workload: "latency10".to_owned(),
        n: 10,
        seconds: median(round_trips).as_secs_f64(),
        extra: json!({
            "tasks": 10, "run_only_seconds": median(run_only).as_secs_f64(),
            "check": check_of(&out), "peak_live_bytes": out.stats.peak_live_bytes, "reps": reps,
        }),
    })
}

/// Peak resident set size of this process (VmHWM), or 0 where /proc is not available.
fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}
