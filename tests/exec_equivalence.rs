//! The pool computes exactly what the sequential oracle computes, on random DAGs, and frees
//! every value it makes.
//!
//! The random DAGs come from `blockwork::testing` (random node count; each node a literal, an
//! alias of an earlier node, or a task referring to up to `max_deps` earlier nodes through
//! plain, repeated, list and nested-task arguments; several requested outputs). Each case runs
//! on `Sequential` and on pools of 1, 2, 3 and 8 threads.
//!
//! More cases: `PROPTEST_CASES=5000 cargo test --release --test exec_equivalence`, and the
//! ignored large-DAG soak: `cargo test --release --test exec_equivalence -- --ignored`.
//!
//! Under Miri, with sizes shrunk by `cfg!(miri)`:
//! `MIRIFLAGS="-Zmiri-disable-isolation -Zmiri-tree-borrows -Zmiri-ignore-leaks -Zmiri-preemption-rate=0" cargo +nightly miri test --test NAME`.
//! The flags are crossbeam's own for its deque and epoch crates: Tree Borrows because
//! crossbeam-epoch breaks the Stacked Borrows rules in its intrusive list; ignore-leaks
//! because its global collector still holds its bookkeeping when the process exits (leaks of
//! our own values are checked by the tests themselves, with `testing::Tracker`); no
//! preemption (threads switch only where they block or yield) because a stealer's
//! speculative read of a deque slot races
//! with the owner's next write by design (the value is discarded when its CAS fails), which
//! Miri reports as a data race once a thread can be preempted in the middle of `steal`. The
//! data-race detector stays on for everything else, our result slots included.

use blockwork::testing::{DagConfig, Differential, TestDag, Tracker, canonical};
use blockwork::*;
use proptest::prelude::*;
use std::sync::OnceLock;

/// Pools of 1, 2, 3 and 8 threads, shared by every case of this file.
fn pools() -> &'static Differential {
    static D: OnceLock<Differential> = OnceLock::new();
    D.get_or_init(|| Differential::new(&[1, 2, 3, 8]).unwrap())
}

fn config(max_nodes: usize, max_deps: usize, max_nesting: usize) -> DagConfig {
    DagConfig {
        max_nodes,
        max_deps,
        max_outputs: 5,
        max_nesting,
        ..DagConfig::default()
    }
}

/// Runs the differential check and a few properties of the DAG itself.
fn check(dag: &TestDag) -> Result<testing::Report, TestCaseError> {
    let report = pools()
        .check_dag(dag)
        .map_err(|m| TestCaseError::fail(format!("{m}\n{:?}\n{:?}", dag.graph, dag.outputs)))?;
    prop_assert_eq!(report.runs, 4);
    prop_assert_eq!(dag.tracker.live(), 0);
    Ok(report)
}

/// Cases per property: `PROPTEST_CASES` if set, else 400 (2 under Miri).
fn cases() -> u32 {
    if cfg!(miri) {
        return 2;
    }
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// DAGs drawn from raw bytes: shrinking the bytes shrinks the DAG.
    #[test]
    fn pool_equals_sequential_from_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
        let dag = TestDag::arbitrary(&mut arbitrary::Unstructured::new(&bytes), &config(40, 4, 3));
        check(&dag)?;
    }

    /// DAGs drawn from a seed, with the shape parameters varied too.
    #[test]
    fn pool_equals_sequential_from_seed(
        seed in any::<u64>(),
        nodes in 1usize..120,
        deps in 0usize..6,
        nesting in 0usize..4,
    ) {
        let dag = TestDag::from_seed(seed, &config(nodes, deps, nesting));
        let report = check(&dag)?;
        // Several outputs may name the same task or an alias of it: the values must agree.
        if let Ok(values) = &report.outcome {
            let plan = dag.plan().unwrap();
            for (i, a) in plan.outputs().iter().enumerate() {
                for (j, b) in plan.outputs().iter().enumerate() {
                    if a == b {
                        prop_assert_eq!(&values[i], &values[j]);
                    }
                }
            }
        }
    }

    /// Failing tasks: every executor fails, with a task error naming a failing key, and
    /// frees everything it made (checked by the differential runner).
    #[test]
    fn failures_agree(seed in any::<u64>()) {
        let cfg = DagConfig { failures: true, ..config(60, 4, 2) };
        let dag = TestDag::from_seed(seed, &cfg);
        check(&dag)?;
    }
}

#[test]
fn dag_generator_covers_every_feature() {
    // Over a handful of seeds, the generator emits each kind of node and argument, so the
    // properties above are not vacuous.
    let mut seen = [false; 7];
    for seed in 0..40 {
        let dag = TestDag::from_seed(seed, &config(60, 4, 3));
        for (_, node) in dag.graph.iter() {
            match node {
                Node::Literal(_) => seen[0] = true,
                Node::Alias(_) => seen[1] = true,
                Node::Task(t) => {
                    seen[2] |= t.args.is_empty();
                    seen[3] |= t.args.iter().any(|a| matches!(a, Arg::List(_)));
                    seen[4] |= t.args.iter().any(|a| matches!(a, Arg::Task(_)));
                    seen[5] |= t.args.windows(2).any(|w| w[0] == w[1]);
                }
            }
        }
        seen[6] |= dag.outputs.len() > 1;
    }
    assert_eq!(
        seen, [true; 7],
        "literal, alias, zero-arg, list, nested, repeat, outputs"
    );
}

/// Something that runs a plan: the sequential executor or a fresh pool.
type RunFn = dyn Fn(&Plan) -> Result<RunOutput>;

#[test]
fn freeing_is_checked_independently_of_the_stats() {
    // A wide diamond of tracked payloads: one source, W middles, one sink summing them (W
    // above the batching threshold of the countdowns). Bound stated: at most the values the
    // plan ever holds at once (1 source + W middles) + 1 new sink value, for every executor;
    // and 0 after the outputs are dropped.
    const W: i64 = if cfg!(miri) { 20 } else { 200 };
    let t = Tracker::new();
    let t1 = t.clone();
    let make = Op::new("make", move |args: &[Value]| {
        let x: i64 = args.iter().map(|a| canonical(a).as_int().unwrap()).sum();
        Ok(t1.value(x + 1))
    });
    let mut b = GraphBuilder::new();
    b.task("src", &make, []).unwrap();
    for i in 0..W {
        b.task(("mid", i), &make, [Arg::key("src"), Arg::lit(i)])
            .unwrap();
    }
    let mids: Vec<Arg> = (0..W).map(|i| Arg::key(("mid", i))).collect();
    b.task("sink", &make, mids).unwrap();
    let g = b.build();
    let plan = Plan::new(&g, &[Key::from("sink")]).unwrap();
    let want = Value::Int(1 + (0..W).map(|i| 2 + i).sum::<i64>());
    let executors: Vec<Box<RunFn>> = vec![
        Box::new(|p| Sequential::new().run(p)),
        Box::new(|p| Pool::builder().threads(1).pin(false).build()?.run(p)),
        Box::new(|p| Pool::builder().threads(3).pin(false).build()?.run(p)),
        Box::new(|p| Pool::builder().threads(8).pin(false).build()?.run(p)),
    ];
    for run in &executors {
        t.reset_peak();
        let made = t.created();
        let out = run(&plan).unwrap();
        assert_eq!(canonical(&out.values[0]), want);
        assert_eq!(t.live(), 1, "only the output is alive after the run");
        assert_eq!(
            t.created() - made,
            W as u64 + 2,
            "every task made one value"
        );
        assert!(t.peak() <= W + 2, "peak {} above the bound", t.peak());
        // The source is freed only after all W middles, so they were alive together.
        assert!(
            t.peak() > W,
            "peak {}: the middles should coexist",
            t.peak()
        );
        drop(out);
        assert_eq!(t.live(), 0);
    }
}

#[test]
#[ignore = "soak: large random DAGs; cargo test --release --test exec_equivalence -- --ignored"]
fn large_random_dags_soak() {
    let diff = Differential::new(&[1, 2, 3, 8]).unwrap().with_repeats(3);
    for seed in 0..200 {
        let dag = TestDag::from_seed(seed, &config(3000, 6, 3));
        diff.check_dag(&dag).unwrap();
    }
}

#[test]
fn fuzz_entry_handles_odd_inputs() {
    // Empty, tiny, constant, and long inputs: no panic, no hang.
    testing::fuzz_dag_differential(&[]);
    testing::fuzz_dag_differential(&[0]);
    testing::fuzz_dag_differential(&[255]);
    testing::fuzz_dag_differential(&[0; 64]);
    testing::fuzz_dag_differential(&[255; 4096]);
    let ramp: Vec<u8> = (0..if cfg!(miri) { 300 } else { 20_000 })
        .map(|i: u32| (i * 37 % 251) as u8)
        .collect();
    for start in (0..ramp.len()).step_by(if cfg!(miri) { 150 } else { 997 }) {
        testing::fuzz_dag_differential(&ramp[start..]);
    }
}

#[test]
fn deep_chains_and_wide_fans_agree() {
    // Shapes the random generator rarely makes: a long chain through aliases and nested
    // tasks, and one task reading a thousand others (the batched countdowns).
    let inc = Op::typed("inc", |x: i64| x + 1);
    let sum = Op::typed("sum", |xs: Vec<i64>| xs.iter().sum::<i64>());
    let n = if cfg!(miri) { 40 } else { 5_000 };
    let mut b = GraphBuilder::new();
    b.literal(("c", 0), 0).unwrap();
    for i in 1..n {
        match i % 3 {
            0 => b.alias(("c", i), ("c", i - 1)),
            1 => b.task(("c", i), &inc, [Arg::key(("c", i - 1))]),
            _ => b.task(("c", i), &inc, [Arg::task(&inc, [Arg::key(("c", i - 1))])]),
        }
        .unwrap();
    }
    let fan = (0..n).map(|i| Arg::key(("c", i)));
    b.task("fan", &sum, [Arg::list(fan)]).unwrap();
    let g = b.build();
    let report = testing::differential(&g, &[Key::from(("c", n - 1)), Key::from("fan")]).unwrap();
    let chain = |i: i64| (i / 3) * 3 + [0, 1, 3][(i % 3) as usize];
    let want_fan: i64 = (0..n).map(chain).sum();
    assert_eq!(
        report.outcome,
        Ok(vec![Value::Int(chain(n - 1)), Value::Int(want_fan)])
    );
}

#[test]
fn recycled_run_buffers_fit_plans_of_every_size() {
    // One pool alternates between plans of very different sizes, from two threads at once,
    // so recycled per-run buffers are reused for larger and smaller plans.
    let pool = Pool::builder().threads(2).pin(false).build().unwrap();
    let sizes = if cfg!(miri) {
        vec![3, 30, 1]
    } else {
        vec![5, 5000, 1, 300, 20_000, 2]
    };
    let dags: Vec<(Plan, Value)> = sizes
        .iter()
        .map(|&n| {
            let dag = TestDag::from_seed(
                n as u64,
                &DagConfig {
                    tracked: false,
                    ..config(n, 3, 2)
                },
            );
            let plan = dag.plan().unwrap();
            let want = Sequential::new().run(&plan).unwrap().values;
            (plan, Value::list(want))
        })
        .collect();
    std::thread::scope(|s| {
        for offset in 0..2 {
            let (pool, dags) = (&pool, &dags);
            s.spawn(move || {
                for round in 0..if cfg!(miri) { 2 } else { 30 } {
                    let (plan, want) = &dags[(round + offset) % dags.len()];
                    let out = pool.run(plan).unwrap();
                    assert_eq!(&Value::list(out.values), want);
                    assert_eq!(out.stats.leaked_values, 0);
                }
            });
        }
    });
}

#[test]
fn the_differential_runner_reports_disagreements() {
    // An op whose result depends on how often it ran: the pools see other values than the
    // oracle did, and the runner must say so.
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
    let c = calls.clone();
    let unstable = Op::new("unstable", move |_: &[Value]| {
        Ok(Value::Int(
            c.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
        ))
    });
    let mut b = GraphBuilder::new();
    b.task("x", &unstable, []).unwrap();
    let m = testing::differential(&b.build(), &[Key::from("x")]).unwrap_err();
    assert!(m.to_string().contains("pool(1)"), "{m}");

    // A DAG whose op keeps a tracked payload alive after the run: a leak the executor's own
    // statistics cannot see, caught by the tracker.
    let mut dag = TestDag::from_seed(5, &config(10, 2, 1));
    let stash = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (t, s) = (dag.tracker.clone(), stash.clone());
    let leaky = Op::new("mix_leaky", move |_: &[Value]| {
        let v = t.value(1);
        s.lock().unwrap().push(v.clone());
        Ok(v)
    });
    let mut g = dag.graph.clone();
    g.insert("leak", Node::Task(Task::new(&leaky, [])));
    dag.graph = g;
    dag.outputs.push(Key::from("leak"));
    let m = Differential::new(&[2])
        .unwrap()
        .check_dag(&dag)
        .unwrap_err();
    assert!(m.to_string().contains("alive after the run"), "{m}");
}
