//! Reductions over generated arrays never materialise a block: memory stays bounded by the
//! partials, whatever the logical size.

use blockwork::array::ArrayContext;
use blockwork::{Executor, Plan, Pool};

/// Peak resident set of this process in bytes (Linux `VmHWM`).
fn peak_rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn mean_with_stats(n: usize, chunk: usize, threads: usize) -> (f64, u64) {
    let ctx = ArrayContext::new();
    let m = ctx.random(&[n, n], chunk, 4).unwrap().mean(None).unwrap();
    let plan = Plan::new(&m.graph().unwrap(), &m.keys()).unwrap();
    let out = Pool::new(threads).unwrap().run(&plan).unwrap();
    let v = out.values[0]
        .downcast_ref::<blockwork::array::Block>()
        .unwrap()
        .data()
        .as_array::<f64>()
        .unwrap()[[]];
    (v, out.stats.peak_live_bytes)
}

#[test]
fn random_mean_keeps_only_partials_alive() {
    let block_bytes = 400 * 400 * 8;
    let (m, peak) = mean_with_stats(4000, 400, 2);
    assert!((m - 0.5).abs() < 1e-3, "{m}");
    // 100 blocks of 1.28 MB each were reduced; none was ever a live value.
    assert!(peak < block_bytes as u64 / 4, "peak live bytes {peak}");
}

/// Benchmark case g at full size: a 40000 x 40000 random array (12.8 GB if it were stored)
/// reduced to its mean. Run with
/// `cargo test --release --test array_out_of_core -- --ignored --nocapture`.
#[test]
#[ignore = "12.8 GB logical array; takes about a second on two cores"]
fn random_40000_squared_mean_in_bounded_memory() {
    let t = std::time::Instant::now();
    let (m, peak_live) = mean_with_stats(40_000, 4000, 2);
    let rss = peak_rss().unwrap_or(0);
    eprintln!(
        "mean {m} in {:?}; peak live bytes {peak_live}; peak RSS {} MB",
        t.elapsed(),
        rss >> 20
    );
    assert!((m - 0.5).abs() < 1e-4, "{m}");
    assert!(peak_live < 1 << 20, "peak live bytes {peak_live}");
    assert!(rss < 150 << 20, "peak RSS {} MB", rss >> 20);
}
