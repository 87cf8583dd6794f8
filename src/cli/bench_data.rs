//! The data workloads of `blockwork bench`: the array cases `array_a` .. `array_g`
//! (perf/BENCHMARKS.md §2), the 1-d cases `array_sort`, `array_unique`, `array_histogram`
//! and the tall cases `array_tsqr`, `array_svd` (perf/README.md) and `wordcount` (§3), as the cross-engine harness defines them.
//!
//! Arrays: inputs built (and persisted) before timing, one untimed run, then `reps` timed runs
//! in the same process; `seconds` is their median and `value` a summary of the answer (the sum
//! of the result's elements, or the scalar). Word count: the `part-*.txt` files of `--data`,
//! one untimed run (which also brings the files into the page cache), then `reps` timed runs
//! of the whole count; `check` is the sum of the ten largest counts, as every engine prints.

use super::Failure;
use super::bench::{Row, median, run_error, timed};
use blockwork::Executor;
use blockwork::array::ArrayContext;
use blockwork::array::bench::{WORKLOADS, Workload};
use blockwork::bag::corpus;
use serde_json::json;
use std::path::Path;

/// Array sides (element counts for the 1-d cases, row counts for the tall ones) when `--n` is
/// not given: the full sizes of perf/BENCHMARKS.md §2 and perf/README.md, in the order of
/// [`WORKLOADS`].
const FULL_SIDES: [usize; 12] = [
    10_000,
    20_000,
    10_000,
    4096,
    10_000,
    10_000,
    40_000,
    100_000_000,
    100_000_000,
    200_000_000,
    2_000_000,
    2_000_000,
];
/// Words in the word count's answer.
const TOP: usize = 10;

/// Whether `name` is a data workload of this module.
pub(super) fn is_data_workload(name: &str) -> bool {
    name == "wordcount" || Workload::is_known(name)
}

/// The array side `name` runs at without `--n`.
pub(super) fn default_side(name: &str) -> usize {
    WORKLOADS
        .iter()
        .position(|w| *w == name)
        .map_or(0, |i| FULL_SIDES[i])
}

fn bad_input(e: blockwork::Error) -> Failure {
    Failure::BadInput(format!("{e} [{:?}]", e.kind()))
}

/// One array case at side `n`: inputs built, one untimed run, `reps` timed runs.
pub(super) fn array(
    exec: &impl Executor,
    name: &str,
    n: usize,
    reps: usize,
) -> Result<Row, Failure> {
    let ctx = ArrayContext::new();
    let (w, build) = timed(|| Workload::prepare(&ctx, exec, name, n));
    let w = w.map_err(|e| match e.kind() {
        blockwork::ErrorKind::InvalidArgument => bad_input(e),
        _ => run_error(e),
    })?;
    drop(w.run(exec).map_err(run_error)?); // warm: the timed runs recycle its buffers
    let mut times = Vec::with_capacity(reps);
    let mut last = None;
    for _ in 0..reps {
        let (out, t) = timed(|| w.run(exec));
        times.push(t);
        last = Some(out.map_err(run_error)?);
    }
    let value = w
        .value(&last.expect("at least one rep"), exec)
        .map_err(run_error)?;
    let seconds = median(times).as_secs_f64();
    let mut extra = json!({
        "value": value, "chunk": Workload::chunk(name, n), "build_inputs_seconds": build.as_secs_f64(),
        "reps": reps, "buffer_pool": pool_json(&ctx),
    });
    if name == "array_d" {
        extra["gflops"] = json!(2.0 * (n as f64).powi(3) / seconds / 1e9);
    }
    Ok(Row {
        workload: name.to_owned(),
        n,
        seconds,
        extra,
    })
}

/// The word count over `data/part-*.txt`: one untimed run, `reps` timed runs.
pub(super) fn wordcount(exec: &impl Executor, data: &Path, reps: usize) -> Result<Row, Failure> {
    let pattern = format!(
        "{}/part-*.txt",
        glob::Pattern::escape(&data.to_string_lossy())
    );
    let files = blockwork::bag::TextFiles::glob(&pattern)
        .map_err(|e| Failure::BadInput(format!("no corpus in {}: {e}", data.display())))?;
    let mut bytes = 0u64;
    for p in files.files() {
        let meta =
            std::fs::metadata(p).map_err(|e| Failure::BadInput(format!("{}: {e}", p.display())))?;
        bytes += meta.len();
    }
    let first = corpus::top_words(&pattern, TOP, exec).map_err(run_error)?;
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let (top, t) = timed(|| corpus::top_words(&pattern, TOP, exec));
        times.push(t);
        if top.map_err(run_error)? != first {
            return Err(Failure::Failed(
                "the word count changed between runs".into(),
            ));
        }
    }
    let seconds = median(times).as_secs_f64();
    let check: usize = first.iter().map(|(_, c)| c).sum();
    Ok(Row {
        workload: "wordcount".to_owned(),
        n: bytes as usize,
        seconds,
        extra: json!({
            "check": check, "top": &first[..first.len().min(3)], "files": files.files().len(),
            "mb_per_s": bytes as f64 / seconds / 1e6, "reps": reps,
        }),
    })
}

/// The buffer pool's counters as a JSON object.
fn pool_json(ctx: &ArrayContext) -> serde_json::Value {
    let stats = ctx.pool().stats();
    json!({"hits": stats.hits, "misses": stats.misses, "held_bytes": stats.held_bytes})
}
