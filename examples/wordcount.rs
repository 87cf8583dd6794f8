//! Word count over a glob of text files: lines -> words -> frequencies -> top 10.
//!
//! ```text
//! cargo run --release --example wordcount -- [--generate DIR --mb 200] [--threads 2] [--runs 5] [--no-pin] GLOB
//! ```
//!
//! `--generate DIR` first writes the benchmark corpus (16 files, `--mb` megabytes in all,
//! Zipf-distributed words from a 10 000-word vocabulary, fixed seed) into DIR; the glob
//! then defaults to `DIR/*.txt`. Each run reads the files afresh; the figure printed is
//! the median over `--runs` runs, in MB/s (10^6 bytes) of input. Workers are pinned to
//! cores unless `--no-pin` is given.

use blockwork::Pool;
use blockwork::bag::{TextFiles, corpus};
use mimalloc::MiMalloc;
use std::path::PathBuf;
use std::time::Instant;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

struct Args {
    generate: Option<PathBuf>,
    mb: u64,
    threads: usize,
    runs: usize,
    pin: bool,
    pattern: Option<String>,
}

fn parse_args() -> std::result::Result<Args, String> {
    let mut args = Args {
        generate: None,
        mb: 200,
        threads: 2,
        runs: 1,
        pin: true,
        pattern: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--generate" => args.generate = Some(value("--generate")?.into()),
            "--mb" => args.mb = value("--mb")?.parse().map_err(|e| format!("--mb: {e}"))?,
            "--threads" => {
                args.threads = value("--threads")?
                    .parse()
                    .map_err(|e| format!("--threads: {e}"))?
            }
            "--runs" => {
                args.runs = value("--runs")?
                    .parse()
                    .map_err(|e| format!("--runs: {e}"))?
            }
            "--no-pin" => args.pin = false,
            "-h" | "--help" => return Err(String::new()),
            _ if a.starts_with("--") => return Err(format!("unknown option {a}")),
            _ => args.pattern = Some(a),
        }
    }
    Ok(args)
}

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!(
                "{msg}\nusage: wordcount [--generate DIR --mb MB] [--threads N] [--runs N] [--no-pin] GLOB"
            );
            std::process::exit(2);
        }
    };
    if let Some(dir) = &args.generate {
        let t = Instant::now();
        let files = corpus::generate(dir, args.mb * 1_000_000, 16, corpus::SEED)?;
        eprintln!(
            "wrote {} files into {} in {:.1?}",
            files.len(),
            dir.display(),
            t.elapsed()
        );
    }
    let pattern = match (&args.pattern, &args.generate) {
        (Some(p), _) => p.clone(),
        (None, Some(dir)) => format!("{}/*.txt", dir.display()),
        (None, None) => {
            eprintln!("give a GLOB or --generate DIR");
            std::process::exit(2);
        }
    };
    let bytes: u64 = TextFiles::glob(&pattern)?
        .files()
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum();
    let pool = Pool::builder()
        .threads(args.threads)
        .pin(args.pin)
        .build()?;
    let mut times = Vec::with_capacity(args.runs);
    let mut top = Vec::new();
    for _ in 0..args.runs.max(1) {
        let t = Instant::now();
        top = corpus::top_words(&pattern, 10, &pool)?;
        times.push(t.elapsed().as_secs_f64());
    }
    for (word, n) in &top {
        println!("{n:>10} {word}");
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let mb = bytes as f64 / 1e6;
    println!(
        "{mb:.1} MB in {median:.3} s (median of {} runs, {} threads): {:.0} MB/s",
        times.len(),
        args.threads,
        mb / median
    );
    Ok(())
}
