//! Checks of the distributed executor against single-process runs, for `mpirun`:
//!
//! ```text
//! cargo build --release --features distributed --example distributed_check
//! mpirun -np 4 target/release/examples/distributed_check
//! ```
//!
//! Every rank runs every check; rank 0 prints one line per check and a summary line
//! (`N passed, M failed`), and the process exits non-zero when a check failed on any rank.
//! `tests/distributed.rs` runs it with 2 and 4 ranks.

use blockwork::array::{ArrayContext, Reduction};
use blockwork::distributed::{Codecs, Distributed, Partitioner, Placement};
use blockwork::ndarray::{Array2, ArrayD};
use blockwork::testing::{DagConfig, TestDag};
use blockwork::{
    Arg, Error, ErrorKind, Executor, GraphBuilder, Key, Op, Plan, Pool, Sequential, TaskError,
    Value,
};

type Check = Result<(), String>;

/// One named check, run on every rank.
type Named = (&'static str, fn(&Distributed) -> Check);

fn main() -> blockwork::Result<()> {
    let pool = || Pool::builder().threads(2).pin(false).build();
    let every = Distributed::init(pool()?)?.outputs_on_every_rank(true);
    let rank = every.rank();
    let checks: [Named; 16] = [
        ("random DAGs, three partitioners", random_dags),
        ("chain alternating ranks", alternating_chain),
        ("a failure mid-stream, then a good run", failure_mid_stream),
        (
            "a value with no codec, found before running",
            no_codec_before_running,
        ),
        ("arrays against one process", arrays),
        (
            "the benchmark's array cases against one process",
            array_cases,
        ),
        ("outputs on rank 0 only", rank_zero_outputs),
        ("a failing task on one rank", failing_task),
        ("a panicking task on one rank", panicking_task),
        ("a value with no codec", no_codec),
        ("a user codec (serde)", user_codec),
        ("bag groupby and word count", bags),
        (
            "one plan again: other settings, after a failure, two threads",
            one_plan_again,
        ),
        (
            "a share kept for other settings is freed before a new one is made",
            kept_share_replaced,
        ),
        ("a run started inside a task is an error", run_inside_a_task),
        (
            "two threads, two plans differing in a literal: no wrong answer",
            two_plans_two_threads,
        ),
    ];
    let (mut passed, mut failed) = (0, 0);
    for (name, check) in &checks {
        let mine = check(&every);
        // Said before the ranks compare (where a check that failed on one rank only could
        // leave another waiting).
        if let Err(m) = &mine {
            eprintln!("rank {rank}: {name}: {m}");
        }
        // A check passes when it passed on every rank.
        let ok = all_ranks_ok(&every, mine.is_ok())?;
        if rank == 0 {
            println!("{} {name}", if ok { "ok  " } else { "FAIL" });
        }
        if ok {
            passed += 1;
        } else {
            failed += 1;
        }
    }
    if rank == 0 {
        let s = every.last_stats();
        println!(
            "rank 0 of the last run: {} sent / {} received messages, {} / {} bytes",
            s.messages_sent, s.messages_received, s.bytes_sent, s.bytes_received
        );
        println!("{passed} passed, {failed} failed");
    }
    drop(every);
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

/// Whether `ok` holds on every rank: a tiny graph whose single output is pinned to each
/// rank in turn would do, but a reduction through the executor itself is simpler.
fn all_ranks_ok(exec: &Distributed, ok: bool) -> blockwork::Result<bool> {
    let mut b = GraphBuilder::new();
    let flag = Op::typed("flag", move |_: i64| i64::from(ok));
    let all = Op::new("all", |args: &[Value]| {
        Ok(Value::Bool(args.iter().all(|v| v.as_int() == Some(1))))
    });
    let mut keys = Vec::new();
    for r in 0..exec.ranks() {
        b.task(format!("ok-{r}"), &flag, [Arg::lit(0)])?;
        keys.push(Arg::key(format!("ok-{r}")));
    }
    b.task("all", &all, keys)?;
    let mut placement = Placement::new(Partitioner::Ranges);
    for r in 0..exec.ranks() {
        placement = placement.pin_key(format!("ok-{r}"), r);
    }
    // A run with every rank's own flag op: the graphs differ only in the ops' behaviour.
    let exec_pinned = exec.share().placement(placement);
    let v = exec_pinned
        .outputs_on_every_rank(true)
        .get(&b.build(), "all")?;
    Ok(v == Value::Bool(true))
}

fn compare(what: &str, got: &[Value], want: &[Value]) -> Check {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

fn random_dags(exec: &Distributed) -> Check {
    let cfg = DagConfig {
        min_nodes: 1,
        max_nodes: 80,
        tracked: false,
        ..DagConfig::default()
    };
    let placements = [
        Partitioner::Blocks,
        Partitioner::BlockCyclic,
        Partitioner::Ranges,
    ];
    for seed in 0..60u64 {
        let dag = TestDag::from_seed(seed, &cfg);
        let plan = dag.plan().map_err(|e| e.to_string())?;
        let want = Sequential::new()
            .run(&plan)
            .map_err(|e| e.to_string())?
            .values;
        let p = Placement::new(placements[seed as usize % 3]);
        let d = exec.share().placement(p).outputs_on_every_rank(true);
        let got = d
            .run(&plan)
            .map_err(|e| format!("seed {seed}: {e}"))?
            .values;
        compare(&format!("seed {seed}"), &got, &want)?;
    }
    Ok(())
}

/// A chain of `n` tasks `("c", i)`, task `i` on rank `i % ranks`, with `fail_at` failing.
fn chain(exec: &Distributed, n: i64, fail_at: Option<i64>) -> Result<(Plan, Placement), String> {
    let step = Op::typed("step", move |x: i64| -> Result<i64, TaskError> {
        if fail_at == Some(x % 1000) {
            return Err(TaskError::new("refused mid-stream"));
        }
        Ok(x % 1000 + 1)
    });
    let mut b = GraphBuilder::new();
    b.literal(("c", 0), 0).map_err(|e| e.to_string())?;
    let mut placement = Placement::new(Partitioner::Ranges);
    for i in 1..n {
        b.task(("c", i), &step, [Arg::key(("c", i - 1))])
            .map_err(|e| e.to_string())?;
        placement = placement.pin_key(Key::tuple("c", [i]), i as usize % exec.ranks());
    }
    let plan = Plan::new(&b.build(), &[Key::tuple("c", [n - 1])]).map_err(|e| e.to_string())?;
    Ok((plan, placement))
}

fn alternating_chain(exec: &Distributed) -> Check {
    let n = 200i64;
    let (plan, placement) = chain(exec, n, None)?;
    let want = Sequential::new()
        .run(&plan)
        .map_err(|e| e.to_string())?
        .values;
    let d = exec
        .share()
        .placement(placement)
        .outputs_on_every_rank(true);
    let out = d.run(&plan).map_err(|e| e.to_string())?;
    compare("chain", &out.values, &want)?;
    if exec.ranks() == 1 {
        return Ok(());
    }
    // One message per edge (each crosses ranks), and the output to every other rank.
    let (me, ranks) = (exec.rank() as i64, exec.ranks() as i64);
    let mine = |i: i64| i % ranks == me;
    let last = n - 1;
    let sent =
        (1..last).filter(|&i| mine(i)).count() as i64 + if mine(last) { ranks - 1 } else { 0 };
    let received = (2..=last).filter(|&i| mine(i)).count() as i64 + i64::from(!mine(last));
    let s = &out.stats;
    if (s.messages_sent as i64, s.messages_received as i64) != (sent, received) {
        return Err(format!(
            "sent {} and received {} messages, want {sent} and {received}",
            s.messages_sent, s.messages_received
        ));
    }
    if s.bytes_sent == 0 || d.last_stats().messages_sent != s.messages_sent {
        return Err("byte counts or last_stats disagree with the messages".into());
    }
    Ok(())
}

fn failure_mid_stream(exec: &Distributed) -> Check {
    let n = 200i64;
    // Task ("c", 101) reads 100 and fails, on rank 101 % ranks, with values in flight.
    let (plan, placement) = chain(exec, n, Some(100))?;
    let d = exec
        .share()
        .placement(placement)
        .outputs_on_every_rank(true);
    let culprit = 101 % exec.ranks();
    match d.run(&plan) {
        Err(Error::OnRank { rank, error })
            if rank == culprit && error.task_key() == Some(&Key::tuple("c", [101i64])) => {}
        Err(e) => return Err(format!("wrong error: {e}")),
        Ok(_) => return Err("the run succeeded".into()),
    }
    // The same executor runs a good chain afterwards, with every value right.
    let (good, placement) = chain(exec, n, None)?;
    let d = d.placement(placement);
    let want = Sequential::new()
        .run(&good)
        .map_err(|e| e.to_string())?
        .values;
    let got = d.run(&good).map_err(|e| e.to_string())?.values;
    compare("after a failure mid-stream", &got, &want)
}

/// A task that starts a run on the executor running it gets a typed error (it would wait
/// for the run it is part of), one on another executor runs, and the outer run goes on.
fn run_inside_a_task(exec: &Distributed) -> Check {
    let e = |e: Error| e.to_string();
    let inner = std::sync::Arc::new(exec.share().outputs_on_every_rank(true));
    let mut g = GraphBuilder::new();
    g.literal("x", 41).map_err(e)?;
    let inc = Op::typed("inc", |x: i64| x + 1);
    g.task("y", &inc, [Arg::key("x")]).map_err(e)?;
    let small = std::sync::Arc::new(g.build());
    // The executor running the outer plan, set once it is made.
    let outer_slot = std::sync::Arc::new(std::sync::OnceLock::<Distributed>::new());
    let (runner, graph, slot) = (inner.clone(), small.clone(), outer_slot.clone());
    let nested = Op::new("nested", move |args: &[Value]| {
        let got = match args[0].as_int() {
            Some(0) => runner.get(&graph, "y"),
            _ => match slot.get() {
                Some(outer) => outer.get(&graph, "y"),
                None => return Err(TaskError::new("no outer executor")),
            },
        };
        let said = match got {
            Err(err) if err.kind() == ErrorKind::Distributed => "refused".to_string(),
            Err(err) => format!("another error: {err}"),
            Ok(v) => format!("ran: {v:?}"),
        };
        Ok(Value::Str(said.into()))
    });
    let mut b = GraphBuilder::new();
    let mut keys = Vec::new();
    let mut placement = Placement::new(Partitioner::Ranges);
    for r in 0..exec.ranks() as i64 {
        for which in 0..2i64 {
            b.task(("nested", r, which), &nested, [Arg::lit(which)])
                .map_err(e)?;
            let k = Key::tuple("nested", [r, which]);
            placement = placement.pin_key(k.clone(), r as usize);
            keys.push(k);
        }
    }
    let outer = inner
        .share()
        .placement(placement)
        .outputs_on_every_rank(true);
    let outer = outer_slot.get_or_init(|| outer);
    let plan = Plan::new(&b.build(), &keys).map_err(e)?;
    let got = outer.run(&plan).map_err(e)?.values;
    let want: Vec<Value> = (0..exec.ranks())
        .flat_map(|_| ["ran: 42", "refused"])
        .map(|s| Value::Str(s.into()))
        .collect();
    compare("nested runs", &got, &want)?;
    // Both executors run as usual afterwards.
    for d in [&*inner, outer] {
        let v = d.get(&small, "y").map_err(e)?;
        compare("after", &[v], &[Value::Int(42)])?;
    }
    Ok(())
}

/// Two threads run two plans that differ only in a literal on one executor: each rank
/// takes the turns in its own order, so ranks may meet different plans; such a run must fail
/// (the plans' fingerprints differ) on every rank, never return the other plan's values.
fn two_plans_two_threads(exec: &Distributed) -> Check {
    let e = |e: Error| e.to_string();
    let add = Op::typed("add", |x: i64, y: i64| x + y);
    let mut plans = Vec::new();
    for base in [1000i64, 2000] {
        let mut b = GraphBuilder::new();
        b.literal(("x", 0i64), base).map_err(e)?;
        for i in 1..40i64 {
            b.task(("x", i), &add, [Arg::key(("x", i - 1)), Arg::lit(i)])
                .map_err(e)?;
        }
        let mut placement = Placement::new(Partitioner::Ranges);
        for i in 1..40i64 {
            placement = placement.pin_key(Key::tuple("x", [i]), i as usize % exec.ranks());
        }
        let plan = Plan::new(&b.build(), &[Key::tuple("x", [39i64])]).map_err(e)?;
        plans.push((plan, base + (1..40).sum::<i64>(), placement));
    }
    let d = exec.share().outputs_on_every_rank(true);
    let d = d.placement(plans[0].2.clone());
    let outcomes: Vec<Result<(usize, usize), String>> = std::thread::scope(|s| {
        let runs: Vec<_> = plans
            .iter()
            .map(|(plan, want, _)| {
                let d = &d;
                s.spawn(move || -> Result<(usize, usize), String> {
                    let (mut right, mut refused) = (0, 0);
                    for _ in 0..20 {
                        match d.run(plan) {
                            Ok(out) if out.values == [Value::Int(*want)] => right += 1,
                            Ok(out) => return Err(format!("wrong answer: {:?}", out.values)),
                            Err(err) if err.kind() == ErrorKind::Distributed => refused += 1,
                            Err(err) => return Err(format!("another error: {err}")),
                        }
                    }
                    Ok((right, refused))
                })
            })
            .collect();
        runs.into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a thread panicked".into())))
            .collect()
    });
    for o in outcomes {
        o?;
    }
    Ok(())
}

/// One plan run many times: what the first run derived from it is kept with it and must
/// serve only runs with the same settings; a failed run leaves it usable; two threads
/// running it on one executor at once take turns.
fn one_plan_again(exec: &Distributed) -> Check {
    use std::sync::atomic::{AtomicBool, Ordering};
    let e = |e: Error| e.to_string();
    // A random DAG (values depend on every edge), with one extra task that fails while
    // `refuse` is set.
    let cfg = DagConfig {
        min_nodes: 60,
        max_nodes: 60,
        tracked: false,
        ..DagConfig::default()
    };
    let dag = TestDag::from_seed(7, &cfg);
    let refuse = std::sync::Arc::new(AtomicBool::new(false));
    let flag = refuse.clone();
    let gate = Op::new("gate", move |args: &[Value]| {
        if flag.load(Ordering::SeqCst) {
            return Err(TaskError::new("refused on purpose"));
        }
        Ok(args[0].clone())
    });
    let mut graph = dag.graph.clone();
    let task = blockwork::Task::new(&gate, [Arg::key(dag.outputs[0].clone())]);
    graph.insert("gate", blockwork::Node::Task(task));
    let mut outputs = dag.outputs.clone();
    outputs.push("gate".into());
    let plan = Plan::new(&graph, &outputs).map_err(e)?;
    let want = Sequential::new().run(&plan).map_err(e)?.values;
    // Outputs on rank 0 only: the other ranks hold their own outputs and `()` for the rest.
    let rank0 = |what: &str, got: &[Value]| -> Check {
        let held = |(g, w): (&Value, &Value)| g == w || (exec.rank() != 0 && *g == Value::Unit);
        if got.len() == want.len() && got.iter().zip(&want).all(held) {
            Ok(())
        } else {
            Err(format!("{what}: got {got:?}, want {want:?}"))
        }
    };
    let ranges = exec.share().placement(Placement::new(Partitioner::Ranges));
    let cyclic = exec
        .share()
        .placement(Placement::new(Partitioner::BlockCyclic));
    // The same plan, alternating executors whose placement or outputs differ.
    for round in 0..2 {
        let got = ranges.run(&plan).map_err(e)?.values;
        rank0(&format!("ranges, round {round}"), &got)?;
        let got = exec.run(&plan).map_err(e)?.values;
        compare(&format!("everywhere, round {round}"), &got, &want)?;
        let got = cyclic.run(&plan).map_err(e)?.values;
        rank0(&format!("cyclic, round {round}"), &got)?;
    }
    // A failed run of the plan, then a good one on the same executor.
    refuse.store(true, Ordering::SeqCst);
    if exec.run(&plan).is_ok() {
        return Err("the refusing run succeeded".into());
    }
    refuse.store(false, Ordering::SeqCst);
    let got = exec.run(&plan).map_err(e)?.values;
    compare("after a failure", &got, &want)?;
    // Two threads running the plan on one executor at once, three times each.
    let results: Vec<Result<Vec<Value>, String>> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| -> Result<Vec<Value>, String> {
                    let mut last = Vec::new();
                    for _ in 0..3 {
                        last = exec.run(&plan).map_err(e)?.values;
                    }
                    Ok(last)
                })
            })
            .collect();
        runs.into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a thread panicked".into())))
            .collect()
    });
    for got in results {
        compare("two threads", &got?, &want)?;
    }
    Ok(())
}

/// A plan keeps one share, which a run with other settings replaces: the old one is freed
/// before the new one is made, not after the run (so that the two are never held at once).
/// Whether the first executor's codecs are alive tells whether its share is.
fn kept_share_replaced(exec: &Distributed) -> Check {
    let e = |e: Error| e.to_string();
    let alive = std::sync::Arc::new(());
    let held = alive.clone();
    let mut codecs = Codecs::new();
    codecs.custom::<u8>(
        "held",
        move |_, _| {
            let _ = &held;
            Err("not sent".into())
        },
        |_, _| Err("not sent".into()),
    );
    let weak = std::sync::Arc::downgrade(&alive);
    let live = Op::typed("live", move |_: i64| weak.strong_count() as i64);
    let mut b = GraphBuilder::new();
    b.literal("x", 0).map_err(e)?;
    b.task("n", &live, [Arg::key("x")]).map_err(e)?;
    let plan = Plan::new(&b.build(), &[Key::from("n")]).map_err(e)?;
    let first = exec.share().codecs(codecs).outputs_on_every_rank(true);
    let got = first.run(&plan).map_err(e)?.values;
    compare("during the first run", &got, &[Value::Int(2)])?;
    drop(first);
    if std::sync::Arc::strong_count(&alive) != 2 {
        return Err("the first share is not kept with the plan".into());
    }
    let second = exec.share().outputs_on_every_rank(true);
    let got = second.run(&plan).map_err(e)?.values;
    compare("during the second run", &got, &[Value::Int(1)])?;
    let got = second.run(&plan).map_err(e)?.values;
    compare("the second share again", &got, &[Value::Int(1)])
}

fn arrays(exec: &Distributed) -> Check {
    let e = |e: Error| e.to_string();
    let data = Array2::from_shape_fn((37, 11), |(i, j)| {
        ((i * 31 + j * 7) % 101) as f64 / 10.0 + (i % (j + 2)) as f64
    });
    for chunks in [[37, 11], [5, 11], [8, 3], [1, 4]] {
        let ctx = ArrayContext::new();
        let x = ctx
            .from_shared(data.clone().into_shared(), chunks)
            .map_err(e)?;
        let cols = Reduction::axis(Some(0)).keepdims(true);
        let z = (&x - &x.mean(cols.clone()).map_err(e)?) / &x.std(cols, 1).map_err(e)?;
        let cov = z.t().matmul(&z).map_err(e)?;
        let total = x.sum(Reduction::all()).map_err(e)?;
        let cum = x.cumsum(1).map_err(e)?;
        // Every output block gathers pieces of input blocks from other ranks.
        let re = x.rechunk([7, 2]).map_err(e)?.rechunk([13, 11]).map_err(e)?;
        for (name, a) in [
            ("cov", &cov),
            ("sum", &total),
            ("cumsum", &cum),
            ("z", &z),
            ("rechunk", &re),
        ] {
            let want: ArrayD<f64> = a.compute(&Sequential::new()).map_err(e)?;
            let got: ArrayD<f64> = a.compute(exec).map_err(e)?;
            if got != want {
                return Err(format!("{name} with chunks {chunks:?} differs"));
            }
        }
    }
    Ok(())
}

/// The array workloads of the benchmarks (`array_a` .. `array_g`, sort, unique, histogram,
/// tsqr, svd) at small sizes: every output identical to a run on `Sequential`.
fn array_cases(exec: &Distributed) -> Check {
    use blockwork::array::bench::{Output, WORKLOADS, Workload};
    let e = |e: Error| e.to_string();
    let seq = Sequential::new();
    let arrays = |out: &Output| -> Result<Vec<ArrayD<f64>>, String> {
        let list = match out {
            Output::Array(a) => std::slice::from_ref(a),
            Output::Factors(f) => f.as_slice(),
            Output::Vector(_) | Output::Scalar(_) => &[],
        };
        list.iter()
            .map(|a| a.compute::<f64>(&seq).map_err(e))
            .collect()
    };
    for name in WORKLOADS {
        let n = if Workload::is_flat(name) {
            3000
        } else if Workload::is_tall(name) {
            // The smallest the tall cases take: 20 row blocks of 100 x 100.
            2000
        } else {
            // Case e drops 100 columns at each end.
            240
        };
        let ctx = ArrayContext::new();
        let w = Workload::prepare(&ctx, &seq, name, n).map_err(e)?;
        let (want, got) = (w.run(&seq).map_err(e)?, w.run(exec).map_err(e)?);
        let same = match (&want, &got) {
            (Output::Scalar(a), Output::Scalar(b)) => a.to_bits() == b.to_bits(),
            (Output::Vector(a), Output::Vector(b)) => a == b,
            _ => arrays(&want)? == arrays(&got)?,
        };
        if !same {
            return Err(format!("{name} at {n} differs from one process"));
        }
    }
    Ok(())
}

fn rank_zero_outputs(exec: &Distributed) -> Check {
    let sq = Op::typed("sq", |x: i64| x * x);
    let mut b = GraphBuilder::new();
    let mut keys = Vec::new();
    for i in 0..16i64 {
        b.task(("sq", i), &sq, [Arg::lit(i)])
            .map_err(|e| e.to_string())?;
        keys.push(Key::tuple("sq", [i]));
    }
    let plan = Plan::new(&b.build(), &keys).map_err(|e| e.to_string())?;
    let d = exec.share();
    let got = d.run(&plan).map_err(|e| e.to_string())?.values;
    if exec.rank() == 0 {
        let want: Vec<Value> = (0..16i64).map(|i| Value::Int(i * i)).collect();
        compare("rank 0", &got, &want)
    } else if got.len() == 16 {
        Ok(())
    } else {
        Err(format!("{} values for 16 outputs", got.len()))
    }
}

/// A graph whose task `("bad", 3)` runs `op` on the last rank, with work around it on
/// every rank.
fn graph_with(op: &Op) -> blockwork::Result<(blockwork::Graph, Vec<Key>)> {
    let inc = Op::typed("inc", |x: i64| x + 1);
    let sum = Op::new("sum", |args: &[Value]| {
        Ok(Value::Int(args.iter().filter_map(Value::as_int).sum()))
    });
    let mut b = GraphBuilder::new();
    let mut parts = Vec::new();
    for i in 0..8i64 {
        if i == 3 {
            b.task(("bad", i), op, [Arg::lit(i)])?;
            b.task(("x", i), &inc, [Arg::key(("bad", i))])?;
        } else {
            b.task(("x", i), &inc, [Arg::lit(i)])?;
        }
        parts.push(Arg::key(("x", i)));
    }
    b.task("total", &sum, parts)?;
    Ok((b.build(), vec![Key::from("total")]))
}

fn expect_failure(exec: &Distributed, op: &Op, kind: ErrorKind) -> Check {
    let (g, keys) = graph_with(op).map_err(|e| e.to_string())?;
    let plan = Plan::new(&g, &keys).map_err(|e| e.to_string())?;
    let last = exec.ranks() - 1;
    let d = exec
        .share()
        .placement(Placement::default().pin_prefix("bad", last));
    match d.run(&plan) {
        Err(Error::OnRank { rank, error }) => {
            let ok = rank == last
                && error.kind() == kind
                && error.task_key() == Some(&Key::tuple("bad", [3i64]))
                && matches!(&*error, Error::Task { op: o, .. } if &**o == op.name());
            if !ok {
                return Err(format!("wrong error: rank {rank}: {error}"));
            }
        }
        Err(other) => return Err(format!("not an OnRank error: {other}")),
        Ok(_) => return Err("the run succeeded".into()),
    }
    // The executor is usable afterwards.
    let fine = Op::typed("fine", |x: i64| x);
    let (g, keys) = graph_with(&fine).map_err(|e| e.to_string())?;
    let plan = Plan::new(&g, &keys).map_err(|e| e.to_string())?;
    let got = d
        .outputs_on_every_rank(true)
        .run(&plan)
        .map_err(|e| e.to_string())?;
    compare("after the failure", &got.values, &[Value::Int(36)])
}

fn failing_task(exec: &Distributed) -> Check {
    let op = Op::new("refuse", |_: &[Value]| Err(TaskError::new("refused")));
    expect_failure(exec, &op, ErrorKind::TaskFailed)
}

fn panicking_task(exec: &Distributed) -> Check {
    let op = Op::new("explode", |_: &[Value]| panic!("boom"));
    expect_failure(exec, &op, ErrorKind::TaskPanicked)
}

struct Secret(i64);

/// `reader = open(secret)`, `secret = make()`: a value of a type with no codec, read by a
/// task that unwraps it.
fn secret_plan(make: &Op) -> Result<Plan, String> {
    let open = Op::new("open", |a: &[Value]| {
        Ok(Value::Int(
            a[0].downcast_ref::<Secret>().map_or(-1, |s| s.0),
        ))
    });
    let mut b = GraphBuilder::new();
    b.task("secret", make, []).map_err(|e| e.to_string())?;
    b.task("reader", &open, [Arg::key("secret")])
        .map_err(|e| e.to_string())?;
    let plan = Plan::new(&b.build(), &[Key::from("reader")]).map_err(|e| e.to_string())?;
    Ok(plan)
}

fn no_codec(exec: &Distributed) -> Check {
    if exec.ranks() < 2 {
        return Ok(());
    }
    let make = Op::new("make", |_: &[Value]| Ok(Value::opaque(Secret(7), 8)));
    let plan = secret_plan(&make)?;
    let d = exec.share().placement(
        Placement::default()
            .pin_key("secret", 0)
            .pin_key("reader", 1),
    );
    match d.run(&plan) {
        Err(e @ Error::OnRank { rank: 0, .. })
            if e.kind() == ErrorKind::Codec && e.to_string().contains("secret") =>
        {
            Ok(())
        }
        Err(e) => Err(format!("wrong error: {e}")),
        Ok(_) => Err("the run succeeded".into()),
    }
}

/// Calls of the op of [`no_codec_before_running`] (none may happen).
static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn no_codec_before_running(exec: &Distributed) -> Check {
    if exec.ranks() < 2 {
        return Ok(());
    }
    let make = Op::new("make", |_: &[Value]| {
        MADE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(Value::opaque(Secret(7), 8))
    })
    .returns_payload::<Secret>();
    let plan = secret_plan(&make)?;
    let d = exec.share().placement(
        Placement::default()
            .pin_key("secret", 0)
            .pin_key("reader", 1),
    );
    match d.run(&plan) {
        // The same error on every rank, without a rank: nothing ran.
        Err(e) if e.kind() == ErrorKind::Codec && e.to_string().contains("secret") => {}
        Err(e) => return Err(format!("wrong error: {e}")),
        Ok(_) => return Err("the run succeeded".into()),
    }
    if MADE.load(std::sync::atomic::Ordering::SeqCst) != 0 {
        return Err("the op ran before the codec error".into());
    }
    // Kept on one rank, the same graph runs.
    let d = exec
        .share()
        .placement(
            Placement::default()
                .pin_key("secret", 1)
                .pin_key("reader", 1),
        )
        .outputs_on_every_rank(true);
    let got = d.run(&plan).map_err(|e| e.to_string())?.values;
    compare("kept together", &got, &[Value::Int(7)])
}

fn user_codec(exec: &Distributed) -> Check {
    let make = Op::typed("make", |n: i64| -> Vec<String> {
        (0..n).map(|i| format!("w{i}")).collect()
    });
    let join = Op::typed("join", |a: Vec<String>, b: Vec<String>| {
        a.join(",") + ";" + &b.join(",")
    });
    let mut b = GraphBuilder::new();
    b.task("a", &make, [Arg::lit(3)])
        .map_err(|e| e.to_string())?;
    b.task("b", &make, [Arg::lit(2)])
        .map_err(|e| e.to_string())?;
    b.task("j", &join, [Arg::key("a"), Arg::key("b")])
        .map_err(|e| e.to_string())?;
    let plan = Plan::new(&b.build(), &[Key::from("j")]).map_err(|e| e.to_string())?;
    let mut codecs = Codecs::new();
    codecs.serde_opaque::<Vec<String>>();
    let last = exec.ranks() - 1;
    let d = exec
        .share()
        .codecs(codecs)
        .placement(
            Placement::default()
                .pin_key("a", last)
                .pin_key("b", 0)
                .pin_key("j", last / 2),
        )
        .outputs_on_every_rank(true);
    let got = d.run(&plan).map_err(|e| e.to_string())?.values;
    compare("serde codec", &got, &[Value::from("w0,w1,w2;w0,w1")])
}

fn bags(exec: &Distributed) -> Check {
    use blockwork::bag::Bag;
    let e = |e: Error| e.to_string();
    let words: Vec<String> = (0..300)
        .map(|i| format!("w{}", (i * 7 + i / 13) % 17))
        .collect();
    let bag = Bag::from_vec(words.clone(), 6).map_err(e)?;
    let mut codecs = Codecs::new();
    codecs
        .partition::<String>()
        .partition::<(String, Vec<String>)>()
        .partition::<(String, usize)>()
        .serde_opaque::<Vec<Vec<(String, String)>>>();
    let d = exec.share().codecs(codecs).outputs_on_every_rank(true);
    let grouped = bag.groupby(|w: &String| w.clone());
    let mut got: Vec<(String, usize)> = grouped
        .map(|(k, v): (String, Vec<String>)| (k, v.len()))
        .compute(&d)
        .map_err(e)?;
    let mut want: Vec<(String, usize)> = grouped
        .map(|(k, v): (String, Vec<String>)| (k, v.len()))
        .compute(&Sequential::new())
        .map_err(e)?;
    got.sort();
    want.sort();
    if got != want {
        return Err(format!("groupby: got {got:?}, want {want:?}"));
    }
    // The word count: counters per partition, merged in a tree, the top 5.
    let lines: Vec<String> = (0..120)
        .map(|i| format!("w{} w{} w{}", i % 7, (i * 3) % 11, i % 2))
        .collect();
    let lines = Bag::from_vec(lines, 5).map_err(e)?;
    let counts = lines.frequencies_by(|line: &String, words: &mut blockwork::bag::Counter<str>| {
        line.split_ascii_whitespace().for_each(|w| words.add(w))
    });
    let top = counts.topk(5, |&(_, n)| n);
    let got = top.compute(&d).map_err(e)?;
    let want = top.compute(&Sequential::new()).map_err(e)?;
    if got != want {
        return Err(format!("word count: got {got:?}, want {want:?}"));
    }
    Ok(())
}
