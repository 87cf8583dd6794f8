//! `run`, `dot`, `info` and `ops`.

use super::{DotArgs, Failure, InfoArgs, Outcome, RunArgs, load, load_with, quietly};
use blockwork::diagnostics::{GraphInfo, Observers, Profile, Progress, to_dot};
use blockwork::spec::{Limits, Registry, key_text, parse_key, value_json_text};
use blockwork::{
    Error, ErrorKind, Executor, Key, Observer, Plan, Pool, RunOptions, RunOutput, Sequential, Value,
};
use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

/// An error from planning or running: bad input for missing keys and the like, a failure
/// for everything that happened while running.
/// A task that stopped at the value budget ([`Limits`]) is bad input too: the spec asked for
/// more than the run allows.
fn run_error(e: Error) -> Failure {
    if e.task_cause() == Some(ErrorKind::TooLarge) {
        return Failure::BadInput(format!("{e} [TooLarge]"));
    }
    match e.kind() {
        ErrorKind::MissingKey
        | ErrorKind::Cycle
        | ErrorKind::TooLarge
        | ErrorKind::InvalidArgument => Failure::BadInput(format!("{e} [{:?}]", e.kind())),
        kind => Failure::Failed(format!("{e} [{kind:?}]")),
    }
}

/// A failed write; the error names its path ([`blockwork::files::write_atomically`]).
fn write_failed(e: std::io::Error) -> Failure {
    Failure::Failed(format!("cannot write {e}"))
}

/// The default budget of a run's live values, in value budgets.
const DEFAULT_LIVE_PER_VALUE: u64 = 4;

pub(super) fn run(a: RunArgs) -> Outcome {
    let limits = Limits {
        max_value_bytes: a.max_value_bytes,
    };
    // This run's own array context: its buffer pool lives as long as the run.
    let registry = Registry::with_arrays_and_limits(blockwork::array::ArrayContext::new(), limits);
    let spec = load_with(&a.spec, &registry, a.max_spec_bytes)?;
    let keys: Vec<Key> = if a.get.is_empty() {
        spec.targets()
    } else {
        a.get
            .iter()
            .map(|k| parse_key(k))
            .collect::<Result<_, _>>()?
    };
    let plan = Plan::new(spec.graph(), &keys).map_err(run_error)?;
    let profile = a.profile.as_ref().map(|_| Arc::new(Profile::new()));
    let mut observers: Vec<Arc<dyn Observer>> = Vec::new();
    if a.progress {
        observers.push(Arc::new(Progress::new()));
    }
    if let Some(p) = &profile {
        observers.push(p.clone());
    }
    let options = match observers.len() {
        0 => RunOptions::default(),
        1 => RunOptions::with_observer(observers.pop().expect("one")),
        _ => RunOptions::with_observer(Arc::new(Observers(observers))),
    }
    .max_live_bytes(a.max_live_bytes.unwrap_or_else(|| {
        u64::try_from(a.max_value_bytes)
            .unwrap_or(u64::MAX)
            .saturating_mul(DEFAULT_LIVE_PER_VALUE)
    }));
    #[cfg(feature = "distributed")]
    if a.mpi {
        return run_mpi(&a, &keys, &plan, limits.max_value_bytes);
    }
    let result = if a.sequential {
        quietly(|| Sequential::new().run_with(&plan, &options))
    } else {
        let mut pool = Pool::builder().pin(!a.no_pin);
        if let Some(t) = a.threads {
            pool = pool.threads(usize::from(t));
        }
        let pool = pool.build().map_err(run_error)?;
        quietly(|| pool.run_with(&plan, &options))
    };
    drop(options); // ends the progress bar before anything else is printed
    if let (Some(path), Some(p)) = (&a.profile, &profile) {
        blockwork::files::write_atomically(path, |w| p.write_chrome_trace(&plan, w))
            .map_err(write_failed)?;
    }
    let out = result.map_err(run_error)?;
    if a.stats {
        print_stats(&out);
    }
    print_values(&keys, &out.values, limits.max_value_bytes)
}

/// `run --mpi`: the plan across the ranks of an MPI job; rank 0 prints the values.
#[cfg(feature = "distributed")]
fn run_mpi(a: &RunArgs, keys: &[Key], plan: &Plan, max_bytes: usize) -> Outcome {
    use blockwork::distributed::Distributed;
    let mut pool = Pool::builder().pin(!a.no_pin);
    if let Some(t) = a.threads {
        pool = pool.threads(usize::from(t));
    }
    // Array recipes (`array.*` values) have no codec: they stay on rank 0 with their readers.
    let placement = blockwork::distributed::Placement::default().pin_op_and_readers("array.", 0);
    let exec = Distributed::init(pool.build().map_err(run_error)?)
        .map_err(run_error)?
        .placement(placement);
    let result = quietly(|| exec.run(plan));
    let s = exec.last_stats();
    if a.stats {
        eprintln!(
            "rank {}/{}: tasks run: {}  sent: {} messages, {} bytes  received: {} \
             messages, {} bytes  waiting: {:.3?}",
            s.rank,
            s.ranks,
            s.tasks_run,
            s.messages_sent,
            s.bytes_sent,
            s.messages_received,
            s.bytes_received,
            s.waiting
        );
    }
    let out = result.map_err(run_error)?;
    if exec.rank() != 0 {
        return Ok(());
    }
    print_values(keys, &out.values, max_bytes)
}

fn print_stats(out: &RunOutput) {
    let s = &out.stats;
    eprintln!(
        "tasks run: {}  wall: {:.3?}  threads: {}  steals: {}  peak live: {} values, {} bytes",
        s.tasks_run, s.wall, s.threads, s.steals, s.peak_live_values, s.peak_live_bytes
    );
}

/// Prints `{"key": value, ...}`, one key per line, each key once, in request order. Keys are
/// written as `--get` takes them ([`key_text`]). The values printed must fit `max_bytes`
/// together, each measured as [`Value::deep_size`] does: a value that several keys name
/// (aliases) counts once for each of them, as it is printed once for each.
fn print_values(keys: &[Key], values: &[Value], max_bytes: usize) -> Outcome {
    let mut seen = std::collections::HashSet::new();
    let mut lines = Vec::new();
    let mut left = max_bytes;
    for (k, v) in keys.iter().zip(values) {
        if !seen.insert(k) {
            continue;
        }
        let over = |e: Error| {
            Failure::BadInput(format!(
                "the value of {k}: {e} (the printed values share one budget of {max_bytes} \
                 bytes) [{:?}]",
                e.kind()
            ))
        };
        let text = value_json_text(v, left).map_err(over)?;
        left -= v
            .deep_size(left)
            .expect("measured within `left` just above");
        lines.push((json!(key_text(k)).to_string(), text));
    }
    let written = (|| {
        let stdout = std::io::stdout();
        let mut w = std::io::BufWriter::new(stdout.lock());
        w.write_all(b"{")?;
        for (i, (k, v)) in lines.iter().enumerate() {
            let sep = if i == 0 { "\n  " } else { ",\n  " };
            write!(w, "{sep}{k}: {v}")?;
        }
        w.write_all(if lines.is_empty() { b"}\n" } else { b"\n}\n" })?;
        w.flush()
    })();
    written.map_err(|e| Failure::Failed(format!("cannot write the results: {e}")))
}

pub(super) fn dot(a: DotArgs) -> Outcome {
    let spec = load(&a.spec)?;
    blockwork::Plan::validate(spec.graph()).map_err(run_error)?;
    let text = to_dot(spec.graph(), &spec.targets());
    let Some(path) = a.output else {
        return std::io::stdout()
            .write_all(text.as_bytes())
            .map_err(|e| Failure::Failed(format!("cannot write DOT: {e}")));
    };
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "dot" | "gv" => blockwork::files::write_atomically(&path, |w| w.write_all(text.as_bytes()))
            .map_err(write_failed),
        "svg" | "png" | "pdf" => render(&text, &ext, &path),
        _ => Err(Failure::BadInput(format!(
            "cannot tell the format of {} (use .dot, .gv, .svg, .png or .pdf)",
            path.display()
        ))),
    }
}

/// Renders DOT text with Graphviz's `dot` into `path`, written as
/// [`blockwork::files::write_atomically`] does (a failed render leaves no partial file).
fn render(text: &str, format: &str, path: &Path) -> Outcome {
    let mut child = Command::new("dot")
        .arg(format!("-T{format}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Failure::Failed(format!(
                "cannot run Graphviz `dot` ({e}); install graphviz, or write a .dot file"
            ))
        })?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    // Fed from another thread: `dot` may write output before it has read all its input.
    let (fed, out) = std::thread::scope(|s| {
        let feeder = s.spawn(move || stdin.write_all(text.as_bytes()));
        let out = child.wait_with_output();
        (feeder.join().unwrap_or(Ok(())), out)
    });
    let out = out.map_err(|e| Failure::Failed(format!("Graphviz `dot` failed: {e}")))?;
    if !out.status.success() || fed.is_err() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(Failure::Failed(format!(
            "Graphviz `dot` failed ({}): {}",
            out.status,
            err.trim()
        )));
    }
    blockwork::files::write_atomically(path, |w| w.write_all(&out.stdout)).map_err(write_failed)
}

pub(super) fn info(a: InfoArgs) -> Outcome {
    let spec = load(&a.spec)?;
    let info = GraphInfo::of(spec.graph()).map_err(run_error)?;
    let text = if a.json {
        let path: Vec<String> = info.critical_path.iter().map(Key::to_string).collect();
        let v = json!({
            "nodes": info.nodes, "tasks": info.tasks, "literals": info.literals,
            "aliases": info.aliases, "nested_tasks": info.nested_tasks, "edges": info.edges,
            "depth": info.depth, "width": info.width, "sinks": info.sinks,
            "critical_path_length": info.critical_path.len(), "critical_path": path,
            "ops": info.ops,
        });
        format!("{v}\n")
    } else {
        info.to_string()
    };
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(|e| Failure::Failed(format!("cannot write: {e}")))
}

pub(super) fn ops() -> Outcome {
    let rows: Vec<[String; 3]> = Registry::builtins()
        .iter()
        .map(|e| {
            [
                e.op.name().to_owned(),
                e.arity.to_string(),
                e.doc.to_owned(),
            ]
        })
        .collect();
    let header = ["OP", "ARGUMENTS", "DESCRIPTION"].map(String::from);
    let width = |i: usize| {
        std::iter::once(&header)
            .chain(&rows)
            .map(|r| r[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let (w0, w1) = (width(0), width(1));
    let mut text = String::new();
    for [name, arity, doc] in std::iter::once(&header).chain(&rows) {
        text.push_str(&format!("{name:<w0$}  {arity:<w1$}  {doc}\n"));
    }
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(|e| Failure::Failed(format!("cannot write: {e}")))
}
