//! Building and planning the scheduler shapes, timed by the calling thread's on-CPU time
//! (`/proc/thread-self/schedstat`), so that other processes on a shared machine slow the
//! figures less than wall-clock time would (caches and memory bandwidth are still shared).
//!
//! `cargo bench --bench build_plan_cpu [-- N]` (default N = 1e6): for each shape, the median
//! of 5 builds (`bench_shapes::shape`) and 5 plans (`Plan::new`), in ns per nominal task.
//! Linux only (elsewhere it says so and exits).

use blockwork::Plan;
use blockwork::bench_shapes::{SHAPES, shape, shape_tasks};
use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// Nanoseconds this thread has run on a CPU.
fn on_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<f64>().ok())
        .map_or(1_000_000, |x| x as usize);
    if on_cpu_ns().is_none() {
        println!("build_plan_cpu needs /proc/thread-self/schedstat (Linux)");
        return;
    }
    let now = || on_cpu_ns().expect("checked above");
    println!(
        "{:<12} {:>14} {:>14}",
        "shape", "build ns/task", "plan ns/task"
    );
    for &name in SHAPES {
        let (mut builds, mut plans) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            let t0 = now();
            let (graph, outputs) = shape(name, n).expect("a known shape");
            let t1 = now();
            let plan = Plan::new(&graph, &outputs).expect("the shapes plan");
            let t2 = now();
            builds.push(t1 - t0);
            plans.push(t2 - t1);
            drop((plan, graph));
        }
        builds.sort_unstable();
        plans.sort_unstable();
        let per = |x: u64| x as f64 / shape_tasks(name, n) as f64;
        println!(
            "{name:<12} {:>14.1} {:>14.1}",
            per(builds[2]),
            per(plans[2])
        );
    }
}
