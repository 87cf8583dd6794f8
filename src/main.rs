//! The `blockwork` command-line tool: run spec files, draw and measure their graphs, and run
//! the scheduler benchmarks.
//!
//! Exit codes: 0 success; 1 the work failed (a task failed or panicked, an output could not
//! be written, Graphviz failed); 2 bad input (an unreadable or invalid spec file, a key that
//! is not in it, bad arguments); 3 a benchmark workload this build cannot run.

mod cli;

use clap::Parser;
use mimalloc::MiMalloc;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::install_panic_hook();
    match cli::dispatch(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("blockwork: {}", failure.message());
            ExitCode::from(failure.code())
        }
    }
}
