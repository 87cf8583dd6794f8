//! rayon in its natural forms, and a plain serial loop, on the scheduler shapes of
//! perf/BENCHMARKS.md §1. No task graph is built: this is the floor a graph engine is held to.
//!
//!   rayon-baseline --workload NAME --variant VARIANT [--n N] [--threads T] [--reps R]
//!
//! variants: par_iter (independent), scope (independent, latency10: scope.spawn per task),
//! join (tree), diagonals (wavefront, one par_iter per anti-diagonal), serial (the five
//! shapes as loops on one thread). Ops wrap at 2^32 like every engine here, so `check` agrees.
//! Prints one JSON line; exits 3 when the variant cannot express the workload.

use rayon::prelude::*;
use std::hint::black_box;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

/// splitmix64 and the random DAG, exactly as perf/py/common.py defines them.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Dependencies in CSR form, plus the sinks (tasks nobody depends on).
struct Dag {
    offsets: Vec<usize>,
    deps: Vec<usize>,
    sinks: Vec<usize>,
}

fn random_dag(n: usize, seed: u64) -> Dag {
    let mut rng = SplitMix64(seed);
    let (mut offsets, mut deps) = (vec![0], Vec::new());
    let mut has_user = vec![false; n];
    for i in 0..n {
        if i > 0 {
            let k = 1 + rng.next() % 4;
            let mut d: Vec<usize> = (0..k).map(|_| (rng.next() % i as u64) as usize).collect();
            d.sort_unstable();
            d.dedup();
            for &j in &d {
                has_user[j] = true;
            }
            deps.extend(d);
        }
        offsets.push(deps.len());
    }
    let sinks = (0..n).filter(|&i| !has_user[i]).collect();
    Dag { offsets, deps, sinks }
}

fn side(n: usize) -> usize {
    let mut s = (n as f64).sqrt() as usize;
    while (s + 1) * (s + 1) <= n {
        s += 1;
    }
    while s * s > n {
        s -= 1;
    }
    s
}

// ---- rayon, natural forms ------------------------------------------------------------------

fn independent_par_iter(n: usize) -> u32 {
    (0..n as u32)
        .into_par_iter()
        .map(|i| black_box(i) + 1)
        .reduce(|| 0, u32::wrapping_add)
}

fn independent_scope(n: usize, slots: &[AtomicU32]) -> u32 {
    rayon::scope(|s| {
        for (i, slot) in slots.iter().enumerate().take(n) {
            s.spawn(move |_| slot.store(i as u32 + 1, Ordering::Relaxed));
        }
    });
    slots.iter().fold(0u32, |acc, v| acc.wrapping_add(v.load(Ordering::Relaxed)))
}

fn tree_join(lo: usize, hi: usize) -> u32 {
    if hi - lo == 1 {
        return lo as u32 + 1;
    }
    let mid = lo + (hi - lo) / 2;
    let (a, b) = rayon::join(|| tree_join(lo, mid), || tree_join(mid, hi));
    a.wrapping_add(b)
}

/// Cell (i, j) lies on diagonal d = i + j; buffers are indexed by i.
fn wavefront_diagonals(s: usize) -> u32 {
    let mut prev = vec![0u32; s];
    let mut cur = vec![0u32; s];
    prev[0] = 1; // diagonal 0: cell (0, 0)
    for d in 1..2 * s - 1 {
        let lo = d.saturating_sub(s - 1);
        let hi = d.min(s - 1);
        let p = &prev;
        cur[lo..=hi].par_iter_mut().enumerate().for_each(|(k, c)| {
            let i = lo + k;
            let up = if i > 0 { p[i - 1] } else { 0 }; // (i-1, j)
            let left = if d - i > 0 { p[i] } else { 0 }; // (i, j-1)
            *c = up.wrapping_add(left);
        });
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[s - 1]
}

/// latency10: root, 8 tasks on it, one join; one round trip from outside the pool.
fn latency10(pool: &rayon::ThreadPool) -> u32 {
    pool.install(|| {
        let root = black_box(1u32);
        let mids: Vec<AtomicU32> = (0..8).map(|_| AtomicU32::new(0)).collect();
        rayon::scope(|s| {
            for (i, m) in mids.iter().enumerate() {
                s.spawn(move |_| m.store(root + i as u32, Ordering::Relaxed));
            }
        });
        mids.iter().fold(0u32, |acc, v| acc.wrapping_add(v.load(Ordering::Relaxed)))
    })
}

// ---- serial loops, no engine: values stored per task as an engine would -------------------

fn serial(workload: &str, n: usize, vals: &mut Vec<u32>, dag: Option<&Dag>) -> u32 {
    vals.clear();
    match workload {
        "independent" => {
            vals.extend((0..n).map(|i| black_box(i as u32) + 1));
            vals.iter().fold(0u32, |a, &v| a.wrapping_add(v))
        }
        "chain" => {
            vals.push(black_box(1));
            for i in 1..n {
                let x = vals[i - 1] + 1;
                vals.push(black_box(x));
            }
            vals[n - 1]
        }
        "tree" => {
            vals.extend((0..n).map(|i| black_box(i as u32) + 1));
            let (mut lo, mut hi) = (0, n); // the current level is vals[lo..hi]
            while hi - lo > 1 {
                for j in (lo..hi - 1).step_by(2) {
                    let x = vals[j].wrapping_add(vals[j + 1]);
                    vals.push(x);
                }
                if (hi - lo) % 2 == 1 {
                    let odd = vals[hi - 1];
                    vals.push(odd); // carried up (the graph engines store no extra task)
                }
                (lo, hi) = (hi, vals.len());
            }
            vals[lo]
        }
        "wavefront" => {
            let s = side(n);
            vals.resize(s * s, 0);
            for i in 0..s {
                for j in 0..s {
                    let mut x = if i == 0 && j == 0 { 1 } else { 0 };
                    if i > 0 {
                        x += vals[(i - 1) * s + j];
                    }
                    if j > 0 {
                        x += vals[i * s + j - 1];
                    }
                    vals[i * s + j] = black_box(x);
                }
            }
            vals[s * s - 1]
        }
        "random_dag" => {
            let g = dag.expect("random_dag needs its DAG");
            for i in 0..n {
                let x = g.deps[g.offsets[i]..g.offsets[i + 1]]
                    .iter()
                    .fold(1u32, |a, &d| a.wrapping_add(vals[d]));
                vals.push(black_box(x));
            }
            g.sinks.iter().fold(0u32, |a, &k| a.wrapping_add(vals[k]))
        }
        _ => unreachable!(),
    }
}

fn supported(workload: &str, variant: &str) -> bool {
    matches!(
        (variant, workload),
        ("par_iter", "independent")
            | ("scope", "independent" | "latency10")
            | ("join", "tree")
            | ("diagonals", "wavefront")
            | ("serial", "independent" | "chain" | "tree" | "wavefront" | "random_dag")
    )
}

fn peak_rss_bytes() -> u64 {
    // VmHWM in /proc/self/status, in kB.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn main() {
    let (mut workload, mut variant) = (String::new(), String::new());
    let (mut n, mut threads, mut reps) = (1_000_000usize, 2usize, 10_000usize);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || {
            args.next().unwrap_or_else(|| {
                eprintln!("missing value for {a}");
                std::process::exit(2)
            })
        };
        match a.as_str() {
            "--workload" => workload = val(),
            "--variant" => variant = val(),
            "--n" => n = val().parse::<f64>().expect("--n") as usize,
            "--threads" => threads = val().parse().expect("--threads"),
            "--reps" => reps = val().parse().expect("--reps"),
            "--json" => {}
            _ => {
                eprintln!("unknown argument {a}");
                std::process::exit(2)
            }
        }
    }
    let engine = if variant == "serial" { "serial".to_string() } else { format!("rayon-{variant}") };
    if !supported(&workload, &variant) || n == 0 {
        eprintln!("{engine}: unsupported workload '{workload}'");
        std::process::exit(3);
    }
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
    let dag = (workload == "random_dag").then(|| random_dag(n, 42));
    let slots: Vec<AtomicU32> = if variant == "scope" { (0..n).map(|_| AtomicU32::new(0)).collect() } else { Vec::new() };
    let mut vals = Vec::with_capacity(2 * n);

    let mut run_once = || -> u32 {
        match variant.as_str() {
            "par_iter" => pool.install(|| independent_par_iter(n)),
            "scope" if workload == "latency10" => latency10(&pool),
            "scope" => pool.install(|| independent_scope(n, &slots)),
            "join" => pool.install(|| tree_join(0, n)),
            "diagonals" => pool.install(|| wavefront_diagonals(side(n))),
            _ => serial(&workload, n, &mut vals, dag.as_ref()),
        }
    };

    let (seconds, check);
    if workload == "latency10" {
        for _ in 0..100 {
            run_once(); // warm-up
        }
        let mut t: Vec<f64> = (0..reps)
            .map(|_| {
                let t0 = Instant::now();
                black_box(run_once());
                t0.elapsed().as_secs_f64()
            })
            .collect();
        t.sort_by(f64::total_cmp);
        seconds = t[t.len() / 2];
        check = run_once();
        n = 10;
    } else {
        run_once(); // warm-up: wakes the pool, faults in memory
        let t0 = Instant::now();
        check = run_once();
        seconds = t0.elapsed().as_secs_f64();
    }
    let tasks = match workload.as_str() {
        "tree" => 2 * n - 1,
        "wavefront" => side(n) * side(n),
        _ => n,
    };
    println!(
        "{{\"engine\": \"{engine}\", \"workload\": \"{workload}\", \"n\": {n}, \"seconds\": {seconds:.9}, \
         \"peak_rss_bytes\": {}, \"tasks\": {tasks}, \"check\": {check}, \"threads\": {threads}}}",
        peak_rss_bytes()
    );
}
