//! Larger than memory, through files: writes a random `.npy` (and/or Zarr store) of about
//! GB gigabytes, reads it back block by block, applies an elementwise expression and a
//! reduction, writes the elementwise result to a second file, and reports each phase's
//! throughput and the process's peak resident set (`VmHWM` of `/proc/self/status`).
//!
//! ```text
//! cargo run --release --example out_of_core -- --gb 2                  # both formats, in $TMPDIR
//! cargo run --release --example out_of_core -- --gb 8 --format npy --dir /data/scratch
//! cargo run --release --example out_of_core -- --gb 32 --format zarr --dir /data/scratch
//! ```
//!
//! Options: `--gb G` (size of the input, default 1; the output is as large again),
//! `--format npy|zarr|both` (default both), `--dir DIR` (where the files go, default the
//! system's temporary directory; they are removed at the end unless `--keep`), `--chunk-mb M`
//! (block size, default 64), `--threads N` (default: the available cores), `--zarr-codec
//! none|zstd|gzip|blosc` (default zstd, level 1), `--out-dtype f64|f32` (the element type
//! of the written result, default f64: the input's; f32 halves the output where disk space is
//! short), `--pool-blocks B` (the buffer pool keeps at most B input-sized blocks for reuse,
//! default two per thread), `--keep-cache` (leave the files' pages in the system's page cache; by default the
//! `.npy` files are streamed, `ArrayContext::with_streaming_files`, so that every phase reads
//! from the disk, also at sizes under the machine's memory).
//!
//! Each phase prints its wall time, its throughput, the CPU time the process spent in it
//! (user + system, all threads) and the peak RSS so far.
//!
//! The input is `random((rows, 8192))` of float64; the expression is `sqrt(2x + 1)`, whose
//! mean over uniform `[0, 1)` values is `(3^1.5 - 1) / 3`; the run checks the computed mean
//! against it, and the mean of the written result against the computed one, and exits with 1
//! if either is off. Peak RSS stays near (threads + a few) blocks, whatever the size.

use blockwork::Pool;
use blockwork::array::{Array, ArrayContext, DType, ZarrCompression, ZarrOptions};
use mimalloc::MiMalloc;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

const COLS: usize = 8192;

/// Peak resident set of this process in bytes (`VmHWM`).
fn peak_rss() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

struct Args {
    gb: f64,
    formats: Vec<&'static str>,
    dir: PathBuf,
    chunk_mb: usize,
    pool_blocks: Option<usize>,
    threads: usize,
    codec: ZarrCompression,
    keep: bool,
    keep_cache: bool,
    out_dtype: DType,
}

fn usage(problem: &str) -> ! {
    eprintln!("{problem}");
    eprintln!(
        "usage: out_of_core [--gb G] [--format npy|zarr|both] [--dir DIR] [--chunk-mb M] \
         [--threads N] [--zarr-codec none|zstd|gzip|blosc] [--out-dtype f64|f32] [--keep] \
         [--keep-cache] [--pool-blocks B]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        gb: 1.0,
        formats: vec!["npy", "zarr"],
        dir: std::env::temp_dir(),
        chunk_mb: 64,
        pool_blocks: None,
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        codec: ZarrCompression::Zstd(1),
        keep: false,
        keep_cache: false,
        out_dtype: DType::F64,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--keep" || flag == "--keep-cache" {
            *(if flag == "--keep" {
                &mut a.keep
            } else {
                &mut a.keep_cache
            }) = true;
            continue;
        }
        let v = it
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        let num = |v: &str| v.parse::<f64>().ok().filter(|x| *x > 0.0);
        match flag.as_str() {
            "--gb" => a.gb = num(&v).unwrap_or_else(|| usage("--gb: a positive number")),
            "--chunk-mb" => {
                a.chunk_mb =
                    num(&v).unwrap_or_else(|| usage("--chunk-mb: a positive number")) as usize
            }
            "--pool-blocks" => {
                a.pool_blocks = Some(
                    v.parse()
                        .unwrap_or_else(|_| usage("--pool-blocks: a whole number")),
                )
            }
            "--threads" => {
                a.threads =
                    num(&v).unwrap_or_else(|| usage("--threads: a positive number")) as usize
            }
            "--dir" => a.dir = PathBuf::from(v),
            "--out-dtype" => {
                a.out_dtype = match v.as_str() {
                    "f64" => DType::F64,
                    "f32" => DType::F32,
                    _ => usage("--out-dtype: f64 or f32"),
                }
            }
            "--format" => {
                a.formats = match v.as_str() {
                    "npy" => vec!["npy"],
                    "zarr" => vec!["zarr"],
                    "both" => vec!["npy", "zarr"],
                    _ => usage("--format: npy, zarr or both"),
                }
            }
            "--zarr-codec" => {
                a.codec = match v.as_str() {
                    "none" => ZarrCompression::None,
                    "zstd" => ZarrCompression::Zstd(1),
                    "gzip" => ZarrCompression::Gzip(1),
                    "blosc" => ZarrCompression::Blosc(1),
                    _ => usage("--zarr-codec: none, zstd, gzip or blosc"),
                }
            }
            _ => usage(&format!("unknown option {flag}")),
        }
    }
    a.chunk_mb = a.chunk_mb.max(1);
    a.threads = a.threads.max(1);
    a
}

/// CPU seconds (user + system, all threads) this process has used, from `/proc/self/stat`
/// (in clock ticks of 1/100 s, Linux's `USER_HZ`); 0 where it cannot be read.
fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces):
    // state is field 3, utime 14 and stime 15.
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    f.iter().sum::<u64>() as f64 / 100.0
}

/// Runs `f`, printing its time and throughput over `bytes`, its CPU time, and the peak RSS
/// so far.
fn phase<T>(what: &str, bytes: u64, f: impl FnOnce() -> blockwork::Result<T>) -> T {
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let out = f().unwrap_or_else(|e| {
        eprintln!("{what}: {e}");
        std::process::exit(1)
    });
    let s = t.elapsed().as_secs_f64();
    println!(
        "  {what:<34} {s:8.2} s  {:8.3} GB/s  cpu {:7.2} s  peak RSS {:8.1} MB",
        bytes as f64 / 1e9 / s,
        cpu_seconds() - cpu,
        peak_rss() as f64 / 1e6
    );
    out
}

fn main() {
    let a = parse_args();
    let rows_per_chunk = (a.chunk_mb << 20) / (COLS * 8);
    let rows = ((a.gb * 1e9) / (COLS * 8) as f64).ceil() as usize;
    let (rows, rows_per_chunk) = (rows.max(1), rows_per_chunk.clamp(1, rows.max(1)));
    let bytes = (rows * COLS * 8) as u64;
    let pool = Pool::new(a.threads).unwrap_or_else(|e| usage(&e.to_string()));
    // A pool that keeps few freed blocks (by default two per thread: each thread's block
    // and its result), so that resident memory is the blocks in flight and those few.
    let block_bytes = rows_per_chunk * COLS * 8;
    let pool_blocks = a.pool_blocks.unwrap_or(2 * a.threads);
    let ctx = ArrayContext::with_pool_limit(pool_blocks * block_bytes)
        .with_streaming_files(!a.keep_cache);
    let chunks = vec![rows_per_chunk, COLS];
    println!(
        "input {rows} x {COLS} float64 = {:.2} GB in blocks of {rows_per_chunk} rows ({:.1} MB), \
         {} threads, page cache {}",
        bytes as f64 / 1e9,
        block_bytes as f64 / 1e6,
        a.threads,
        if a.keep_cache {
            "kept"
        } else {
            "bypassed (streamed files)"
        }
    );
    let expected_mean = (3f64.powf(1.5) - 1.0) / 3.0;
    let mut bad = false;
    for fmt in &a.formats {
        let tag = std::process::id();
        let input = a.dir.join(format!("blockwork-ooc-{tag}-in.{fmt}"));
        let output = a.dir.join(format!("blockwork-ooc-{tag}-out.{fmt}"));
        println!("{fmt}: {} -> {}", input.display(), output.display());
        let zopts = ZarrOptions::new().compression(a.codec);
        let write = |x: &Array, p: &Path| match *fmt {
            "npy" => x.to_npy(p, &pool),
            _ => x.to_zarr(p, &zopts, &pool),
        };
        let read = |p: &Path| match *fmt {
            "npy" => ctx.from_npy(p, chunks.clone()),
            _ => ctx.from_zarr(p),
        };
        phase("write random input", bytes, || {
            write(&ctx.random(&[rows, COLS], chunks.clone(), 7)?, &input)
        });
        let y = |x: Array| x.mul(2.0)?.add(1.0)?.sqrt();
        let mean = phase("read, sqrt(2x + 1), mean", bytes, || {
            y(read(&input)?)?.mean(None)?.compute_f64(&pool)
        });
        let out_bytes = bytes / 8 * a.out_dtype.itemsize() as u64;
        phase("read, sqrt(2x + 1), write", bytes + out_bytes, || {
            write(&y(read(&input)?)?.astype(a.out_dtype)?, &output)
        });
        let written = phase("read result, mean", out_bytes, || {
            read(&output)?.mean(None)?.compute_f64(&pool)
        });
        println!("  mean {mean:.9} (expected about {expected_mean:.9}), written {written:.9}");
        // f32 results carry about 7 digits; their mean is summed in f64.
        let tol = if a.out_dtype == DType::F32 {
            1e-6
        } else {
            1e-9
        };
        if (mean - expected_mean).abs() > 1e-3 || (mean - written).abs() > tol * mean.abs() {
            eprintln!("{fmt}: the means disagree");
            bad = true;
        }
        if !a.keep {
            for p in [&input, &output] {
                let _ = std::fs::remove_file(p).or_else(|_| std::fs::remove_dir_all(p));
            }
        }
    }
    let st = ctx.pool().stats();
    println!(
        "peak RSS {:.1} MB; buffer pool: {} blocks reused, {} allocated",
        peak_rss() as f64 / 1e6,
        st.hits,
        st.misses
    );
    if bad {
        std::process::exit(1);
    }
}
