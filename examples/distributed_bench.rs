//! Costs of the distributed executor, for `mpirun` (see `perf/distributed.sh` and
//! `perf/run --only distributed`):
//!
//! - `xchain N`: a chain of `N` tasks whose owner alternates between ranks 0 and 1 at every
//!   task, so every edge crosses ranks: the cost of one cross-rank edge (one message, sent
//!   as soon as the value is made), against the same chain on one rank's pool.
//! - `xdag N`: the random DAG of `N` tasks of `blockwork bench` placed by ranges of the
//!   priority order, against the same plan on one rank's pool.
//! - a scheduler shape of `blockwork bench` (`independent`, `chain`, `tree`, `wavefront`,
//!   `random_dag`) of `N` tasks, placed by the default partitioner: each timed call plans
//!   the graph and runs it (as dask's `client.get` orders a graph on every call), so each
//!   prepares the ranks' shares; the same plan run again (its shares kept) is reported
//!   apart;
//! - an array case `array_b`, `array_c`, `array_d` or `array_g` at side `N` (as `blockwork
//!   bench`; outputs on every rank, since the case's summary is computed from them);
//! - `wordcount` over the `part-*.txt` files of `DATA` (`N` is ignored).
//!
//! ```text
//! cargo build --release --features distributed --example distributed_bench
//! mpirun -np 2 target/release/examples/distributed_bench xchain 2000
//! mpirun -np 2 target/release/examples/distributed_bench --json random_dag 100000 1
//! mpirun -np 2 target/release/examples/distributed_bench --json wordcount 0 1 /tmp/corpus
//! ```
//!
//! Arguments: `[--json] [--reps R] WORKLOAD N [THREADS] [DATA]`, `THREADS` per rank
//! (default 1; with more than one, start `mpirun --bind-to none`: Open MPI binds each of
//! one or two ranks to a single core). One untimed run, then the median of `R` (default 5) timed runs; rank 0
//! prints a line, or with `--json` one JSON object as `blockwork bench --json` does (engine
//! `blockwork-mpi-RxT`), with rank 0's messages, bytes and waiting time, the first call's
//! time (`first_seconds`: for xchain and xdag the run that prepares the shares) and for a
//! shape the kept plan's time (`kept_plan_seconds`).

use blockwork::array::ArrayContext;
use blockwork::array::bench::Workload;
use blockwork::distributed::{Codecs, Distributed, Partitioner, Placement};
use blockwork::{Arg, Executor, GraphBuilder, Key, Op, Plan, Pool, RunStats, Value};
use std::time::{Duration, Instant};

/// Timings of `median`.
struct Timed<T> {
    /// The median of the timed calls.
    median: Duration,
    /// The first call, timed apart (the first run of a plan prepares its share).
    first: Duration,
    /// The last call's result.
    last: T,
}

/// One call, then `reps` timed ones.
fn median<T>(reps: usize, f: &dyn Fn() -> blockwork::Result<T>) -> blockwork::Result<Timed<T>> {
    let t = Instant::now();
    let mut last = f()?;
    let first = t.elapsed();
    let mut times = Vec::new();
    for _ in 0..reps {
        let t = Instant::now();
        last = f()?;
        times.push(t.elapsed());
    }
    times.sort();
    Ok(Timed {
        median: times[times.len() / 2],
        first,
        last,
    })
}

/// The alternating chain, pinned key by key.
fn xchain(n: usize, ranks: usize) -> blockwork::Result<(Plan, Placement)> {
    let inc = Op::typed("inc", |x: i64| x + 1);
    let mut b = GraphBuilder::new();
    b.literal(("c", 0), 0)?;
    let mut p = Placement::new(Partitioner::Ranges);
    for i in 1..n as i64 {
        b.task(("c", i), &inc, [Arg::key(("c", i - 1))])?;
        p = p.pin_key(Key::tuple("c", [i]), i as usize % ranks.min(2));
    }
    let plan = Plan::new(&b.build(), &[Key::tuple("c", [n as i64 - 1])])?;
    Ok((plan, p))
}

fn main() -> blockwork::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.first().is_some_and(|a| a == "--json");
    if json {
        args.remove(0);
    }
    let mut reps = 5usize;
    if args.first().is_some_and(|a| a == "--reps") {
        reps = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5).max(1);
        args.drain(..2);
    }
    let what = args.first().map_or("xchain", String::as_str).to_owned();
    let n: usize = args
        .get(1)
        .and_then(|s| s.parse::<f64>().ok())
        .map_or(2000, |x| x as usize);
    let threads: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let data = args.get(3).cloned();
    let exec = Distributed::init(Pool::builder().threads(threads).pin(false).build()?)?;
    let (ranks, rank) = (exec.ranks(), exec.rank());
    let engine = format!("blockwork-mpi-{ranks}x{threads}");
    // A shape's time when its plan is run again (the share kept with it), and the first run
    // (of a shape or xchain/xdag: with the rank's share prepared).
    let (mut warm, mut first) = (None, None);
    // (seconds, one rank's pool alone if measured, the check, the stats of the last run)
    let (seconds, local, check, stats): (Duration, Option<Duration>, f64, RunStats) =
        match what.as_str() {
            "xchain" | "xdag" => {
                let (plan, placement) = if what == "xchain" {
                    xchain(n, ranks)?
                } else {
                    // The random DAG of `blockwork bench`, cut into contiguous ranges of its
                    // priority order.
                    let (graph, outputs) = blockwork::bench_shapes::random_dag(n);
                    let plan = Plan::new(&graph, &outputs)?;
                    (plan, Placement::new(Partitioner::Ranges))
                };
                let exec = exec.placement(placement);
                let local = median(reps, &|| exec.pool().run(&plan))?.median;
                let Timed {
                    median: spread,
                    first: cold,
                    last: out,
                } = median(reps, &|| exec.run(&plan))?;
                first = Some(cold);
                let check = out.values[0].as_int().unwrap_or(0) as f64;
                (spread, Some(local), check, out.stats)
            }
            w if blockwork::bench_shapes::shape(w, 0).is_some() => {
                // Each call plans the graph and runs it (as dask's `client.get` of a graph
                // orders it on each call): the rank's share is prepared every time.
                let (graph, outputs) = blockwork::bench_shapes::shape(w, n).expect("a shape");
                let Timed {
                    median: t,
                    first: cold,
                    last: out,
                } = median(reps, &|| exec.run(&Plan::new(&graph, &outputs)?))?;
                first = Some(cold);
                // The same plan run again: its share is kept with it.
                let plan = Plan::new(&graph, &outputs)?;
                let kept = median(reps, &|| exec.run(&plan))?.median;
                warm = Some(kept);
                let check = out.values.first().and_then(Value::as_int).unwrap_or(0) as f64;
                (t, None, check, out.stats)
            }
            "array_b" | "array_c" | "array_d" | "array_g" => {
                let exec = exec.outputs_on_every_rank(true);
                let ctx = ArrayContext::new();
                let w = Workload::prepare(&ctx, &exec, &what, n)?;
                let Timed {
                    median: t,
                    last: out,
                    ..
                } = median(reps, &|| w.run(&exec))?;
                let mut stats = RunStats::default();
                stats.messages_sent = exec.last_stats().messages_sent;
                let check = w.value(&out, &exec)?;
                (t, None, check, stats)
            }
            "wordcount" => {
                let Some(dir) = data else {
                    eprintln!("wordcount needs the corpus directory (DATA)");
                    std::process::exit(2);
                };
                // The line blocks (strings) and the top-k partitions of (word as bytes, count)
                // pairs cross ranks; the count tables have a built-in codec.
                let mut codecs = Codecs::new();
                codecs.partition::<String>().partition::<(Vec<u8>, usize)>();
                let exec = exec.outputs_on_every_rank(true).codecs(codecs);
                let pattern = format!("{dir}/part-*.txt");
                let Timed {
                    median: t,
                    last: top,
                    ..
                } = median(reps, &|| {
                    blockwork::bag::corpus::top_words(&pattern, 10, &exec)
                })?;
                let check = top.iter().map(|(_, c)| *c).sum::<usize>() as f64;
                let mut stats = RunStats::default();
                stats.messages_sent = exec.last_stats().messages_sent;
                (t, None, check, stats)
            }
            other => {
                eprintln!(
                    "usage: distributed_bench [--json] [--reps R] WORKLOAD N [THREADS] [DATA] \
                     (xchain, xdag, a shape, array_b/c/d/g or wordcount; not {other})"
                );
                std::process::exit(3);
            }
        };
    if rank != 0 {
        return Ok(());
    }
    let s = &stats;
    let edges = n.saturating_sub(2).max(1) as f64;
    if json {
        let secs =
            |d: Option<Duration>| d.map_or("null".to_string(), |l| l.as_secs_f64().to_string());
        let (local_s, first_s, kept_s) = (secs(local), secs(first), secs(warm));
        println!(
            "{{\"engine\": \"{engine}\", \"workload\": \"{what}\", \"n\": {n}, \"seconds\": {}, \
             \"ranks\": {ranks}, \"threads\": {threads}, \"reps\": {reps}, \"check\": {check}, \
             \"local_seconds\": {local_s}, \"first_seconds\": {first_s}, \
             \"kept_plan_seconds\": {kept_s}, \"per_edge_us\": {}, \"messages_sent\": {}, \
             \"bytes_sent\": {}, \"waiting_seconds\": {}}}",
            seconds.as_secs_f64(),
            seconds.as_secs_f64() * 1e6 / edges,
            s.messages_sent,
            s.bytes_sent,
            s.waiting.as_secs_f64()
        );
    } else {
        println!(
            "{what} n={n} on {ranks} ranks x {threads} threads: {seconds:.3?} \
             (first run: {first:.3?}; the plan run again: {warm:.3?}; one rank's pool alone: \
             {local:.3?}); {:.2} us per edge of a chain; rank 0 sent {} messages ({} bytes), \
             waited {:.3?}; check {check}",
            seconds.as_secs_f64() * 1e6 / edges,
            s.messages_sent,
            s.bytes_sent,
            s.waiting
        );
    }
    Ok(())
}
