//! Costs of the distributed executor, for `mpirun` (see `perf/distributed.sh`):
//!
//! - `chain N`: a chain of `N` tasks whose owner alternates between ranks 0 and 1 at every
//!   task, so every edge crosses ranks: the cost of one cross-rank edge (one message, sent
//!   as soon as the value is made), against the same chain on one rank's pool.
//! - `dag N`: a random DAG of `N` nodes (`blockwork::testing`) placed by ranges of the
//!   priority order, against the same plan on one rank's pool.
//!
//! ```text
//! cargo build --release --features distributed --example distributed_bench
//! mpirun -np 2 target/release/examples/distributed_bench chain 2000
//! mpirun -np 2 target/release/examples/distributed_bench dag 100000
//! ```
//!
//! Rank 0 prints the median wall time of 5 runs of each, and its message counts.

use blockwork::distributed::{Distributed, Partitioner, Placement};
use blockwork::testing::{DagConfig, TestDag};
use blockwork::{Arg, Executor, GraphBuilder, Key, Op, Plan, Pool};
use std::time::{Duration, Instant};

fn median(exec: &dyn Fn() -> blockwork::Result<()>) -> blockwork::Result<Duration> {
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        exec()?;
        times.push(t.elapsed());
    }
    times.sort();
    Ok(times[2])
}

fn main() -> blockwork::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let what = args.get(1).map_or("chain", String::as_str);
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let threads: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let exec = Distributed::init(Pool::builder().threads(threads).pin(false).build()?)?;
    let ranks = exec.ranks();
    let (plan, placement) = match what {
        "chain" => {
            let inc = Op::typed("inc", |x: i64| x + 1);
            let mut b = GraphBuilder::new();
            b.literal(("c", 0), 0)?;
            let mut p = Placement::new(Partitioner::Ranges);
            for i in 1..n as i64 {
                b.task(("c", i), &inc, [Arg::key(("c", i - 1))])?;
                p = p.pin_key(Key::tuple("c", [i]), i as usize % ranks.min(2));
            }
            let plan = Plan::new(&b.build(), &[Key::tuple("c", [n as i64 - 1])])?;
            (plan, p)
        }
        "dag" => {
            let cfg = DagConfig {
                min_nodes: n,
                max_nodes: n,
                tracked: false,
                ..DagConfig::default()
            };
            let dag = TestDag::from_seed(7, &cfg);
            (dag.plan()?, Placement::new(Partitioner::Ranges))
        }
        other => {
            eprintln!("usage: distributed_bench chain|dag N [threads]  (not {other})");
            std::process::exit(2);
        }
    };
    let exec = exec.placement(placement);
    let local = median(&|| exec.pool().run(&plan).map(drop))?;
    let spread = median(&|| exec.run(&plan).map(drop))?;
    let s = exec.last_stats();
    if exec.rank() == 0 {
        println!(
            "{what} of {} tasks on {ranks} ranks: {spread:.3?} (one rank's pool alone: \
             {local:.3?}); rank 0 sent {} messages ({} bytes), waited {:.3?}",
            plan.len(),
            s.messages_sent,
            s.bytes_sent,
            s.waiting
        );
    }
    Ok(())
}
