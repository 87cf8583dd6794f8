//! Arguments, dispatch and exit codes of the `blockwork` binary.

mod bench;
mod bench_data;
mod commands;

use blockwork::array::ArrayContext;
use blockwork::spec::{Registry, Spec, SpecError};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

/// Why a command did not succeed, and the exit code that says so.
pub(crate) enum Failure {
    /// The work itself failed (exit 1).
    Failed(String),
    /// The input was bad (exit 2).
    BadInput(String),
    /// A benchmark workload this build cannot run (exit 3).
    Unsupported(String),
}

impl Failure {
    pub(crate) fn code(&self) -> u8 {
        match self {
            Failure::Failed(_) => 1,
            Failure::BadInput(_) => 2,
            Failure::Unsupported(_) => 3,
        }
    }
    pub(crate) fn message(&self) -> &str {
        match self {
            Failure::Failed(m) | Failure::BadInput(m) | Failure::Unsupported(m) => m,
        }
    }
}

impl From<SpecError> for Failure {
    fn from(e: SpecError) -> Self {
        Failure::BadInput(format!("{e} [{:?}]", e.kind()))
    }
}

pub(crate) type Outcome = Result<(), Failure>;

/// Run task graphs written as JSON spec files, draw and measure them, and benchmark the
/// scheduler.
///
/// Exit codes: 0 success; 1 the work failed (a task failed or panicked, an output could not
/// be written, Graphviz failed); 2 bad input (invalid spec, unknown key, bad arguments);
/// 3 a benchmark workload this build cannot run.
#[derive(Parser)]
#[command(name = "blockwork", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a spec file and print the requested values as JSON.
    Run(RunArgs),
    /// Write a Graphviz picture of a spec's graph (.dot, or .svg/.png/.pdf through `dot`).
    Dot(DotArgs),
    /// Print a spec's size and shape: tasks, edges, depth, width, critical path, ops.
    Info(InfoArgs),
    /// Run the benchmarks (the scheduler shapes of perf/BENCHMARKS.md §1 by default; the array
    /// cases array_a .. array_g, array_sort, array_unique, array_histogram and wordcount on
    /// request) and print the times.
    Bench(bench::BenchArgs),
    /// List the builtin ops that spec files can name.
    Ops,
}

#[derive(Args)]
struct RunArgs {
    /// The spec file (`-` for standard input).
    spec: PathBuf,
    /// A key to compute: a name, or a JSON tuple key such as '["x", 0]'. Repeatable;
    /// default: the spec's outputs, else every key nothing depends on.
    #[arg(long = "get", value_name = "KEY")]
    get: Vec<String>,
    /// Worker threads (default: the available parallelism).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=4096))]
    threads: Option<u16>,
    /// Do not pin workers to cores.
    #[arg(long)]
    no_pin: bool,
    /// Run on the caller's thread with the sequential executor.
    #[arg(long, conflicts_with_all = ["threads", "no_pin"])]
    sequential: bool,
    /// Run across the ranks of an MPI job: start with `mpirun -np N blockwork run --mpi
    /// SPEC`; every rank reads the spec and runs its share on its own pool, and rank 0
    /// prints the values (and the statistics of every rank with --stats).
    #[cfg(feature = "distributed")]
    #[arg(long, conflicts_with_all = ["sequential", "progress", "profile"])]
    mpi: bool,
    /// Show a progress bar on standard error when the run lasts more than about a second.
    #[arg(long)]
    progress: bool,
    /// Write a Chrome trace-event profile of the run (opens in Perfetto).
    #[arg(long, value_name = "TRACE_JSON")]
    profile: Option<PathBuf>,
    /// Print run statistics on standard error.
    #[arg(long)]
    stats: bool,
    /// Most bytes one value may take: builtins that would make a larger value, and printing
    /// or comparing one, fail with TooLarge (default 1 GiB). The printed values share it:
    /// together they must fit, a value printed under several keys counting once per key.
    #[arg(long, value_name = "BYTES", default_value_t = blockwork::spec::DEFAULT_MAX_VALUE_BYTES)]
    max_value_bytes: usize,
    /// Most bytes the run's live values may take together: a task whose value takes the
    /// total over it fails with TooLarge (default: four times --max-value-bytes).
    #[arg(long, value_name = "BYTES")]
    max_live_bytes: Option<u64>,
    /// Largest spec file accepted (default 256 MiB).
    #[arg(long, value_name = "BYTES", default_value_t = blockwork::spec::DEFAULT_MAX_SPEC_BYTES)]
    max_spec_bytes: u64,
}

#[derive(Args)]
struct DotArgs {
    /// The spec file (`-` for standard input).
    spec: PathBuf,
    /// Output file: .dot or .gv for DOT text, .svg, .png or .pdf to render with Graphviz
    /// (default: DOT on standard output).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Args)]
struct InfoArgs {
    /// The spec file (`-` for standard input).
    spec: PathBuf,
    /// Print as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs a parsed command line.
pub(crate) fn dispatch(cli: Cli) -> Outcome {
    match cli.command {
        Command::Run(a) => commands::run(a),
        Command::Dot(a) => commands::dot(a),
        Command::Info(a) => commands::info(a),
        Command::Bench(a) => bench::bench(a),
        Command::Ops => commands::ops(),
    }
}

/// Set while a run is in progress: a task's panic is caught by the executor and reported as
/// the run's error, so the default hook's message (and backtrace) would say it twice.
static IN_RUN: AtomicBool = AtomicBool::new(false);

/// Installs a panic hook that stays quiet during runs and defers to the default otherwise.
pub(crate) fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !IN_RUN.load(Ordering::Relaxed) {
            default(info);
        }
    }));
}

/// Calls `f` with task panics reported only through the run's error.
fn quietly<T>(f: impl FnOnce() -> T) -> T {
    IN_RUN.store(true, Ordering::Relaxed);
    let out = f();
    IN_RUN.store(false, Ordering::Relaxed);
    out
}

/// Reads a spec file of builtin ops, or standard input for `-`, of at most the default size;
/// its `array.*` ops make their arrays in a context of this run's own.
fn load(path: &std::path::Path) -> Result<Spec, Failure> {
    let registry = Registry::with_arrays(ArrayContext::new());
    load_with(path, &registry, blockwork::spec::DEFAULT_MAX_SPEC_BYTES)
}

/// Reads a spec file, or standard input for `-`, of at most `max_bytes` bytes.
fn load_with(path: &std::path::Path, reg: &Registry, max_bytes: u64) -> Result<Spec, Failure> {
    if path.as_os_str() == "-" {
        return Ok(Spec::read_from(
            std::io::stdin().lock(),
            "standard input",
            reg,
            max_bytes,
        )?);
    }
    Ok(Spec::read_file_with(path, reg, max_bytes)?)
}
