//! `Pool::run_fed`: plans whose inputs arrive while they run, against the sequential
//! executor on the same graphs with the inputs' values written in; failures, misuse, and
//! the pool's reuse after each.

use blockwork::testing::{DagConfig, TestDag};
use blockwork::*;
use std::time::Duration;

fn pool(threads: usize) -> Pool {
    Pool::builder().threads(threads).pin(false).build().unwrap()
}

/// A small deterministic generator for choices and orders.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The graph with about half its literal nodes turned into inputs (their values replaced
/// by a placeholder), the input keys and their true values, in a shuffled order.
fn with_inputs(graph: &Graph, rng: &mut Rng) -> (Graph, Vec<(Key, Value)>) {
    let mut g = graph.clone();
    let mut inputs = Vec::new();
    for k in graph.keys() {
        if let Some(Node::Literal(v)) = graph.get(k)
            && rng.next().is_multiple_of(2)
        {
            inputs.push((k.clone(), v.clone()));
            g.insert(k.clone(), Node::Literal(Value::Str("placeholder".into())));
        }
    }
    for i in (1..inputs.len()).rev() {
        inputs.swap(i, rng.next() as usize % (i + 1));
    }
    (g, inputs)
}

/// Runs `plan` on `pool`, delivering `values` in order, pausing now and then so that the
/// workers run what is ready meanwhile.
fn run_delivering(pool: &Pool, plan: &Plan, values: &[(Key, Value)]) -> Result<RunOutput> {
    let (out, fed) = pool.run_fed(plan, &RunOptions::new(), |feed| {
        for (i, (k, v)) in values.iter().enumerate() {
            // Inputs the outputs do not need are not in the plan.
            let Some(&t) = feed
                .plan()
                .inputs()
                .iter()
                .find(|&&t| feed.plan().key(t) == k)
            else {
                continue;
            };
            feed.deliver(t, v.clone())?;
            if i % 3 == 0 {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
        Ok::<(), Error>(())
    });
    fed.expect("the feeder ran")?;
    out
}

#[test]
fn fed_runs_agree_with_sequential_on_random_dags() {
    let cfg = DagConfig {
        min_nodes: 1,
        max_nodes: 60,
        tracked: false,
        ..DagConfig::default()
    };
    let pools = [pool(1), pool(3)];
    let mut fed = 0;
    for seed in 0..300u64 {
        let dag = TestDag::from_seed(seed, &cfg);
        let want = Sequential::new().run(&dag.plan().unwrap()).unwrap().values;
        let mut rng = Rng(seed * 2 + 1);
        let (g, inputs) = with_inputs(&dag.graph, &mut rng);
        let keys: Vec<Key> = inputs.iter().map(|(k, _)| k.clone()).collect();
        let plan = Plan::with_inputs(&g, &dag.outputs, &keys).unwrap();
        fed += plan.inputs().len();
        let got = run_delivering(&pools[seed as usize % 2], &plan, &inputs).unwrap();
        assert_eq!(got.values, want, "seed {seed}");
        assert_eq!(got.stats.leaked_values, 0, "seed {seed}");
    }
    assert!(fed > 300, "too few inputs exercised: {fed}");
}

/// `x` (an input) read by 40 tasks, which `total` sums; `y` (an input) read by `bad`,
/// which fails when `y` is negative.
fn fan_graph() -> (Graph, Vec<Key>) {
    let inc = Op::typed("inc", |x: i64, i: i64| x + i);
    let sum = Op::new("sum", |a: &[Value]| {
        Ok(Value::Int(a.iter().filter_map(Value::as_int).sum()))
    });
    let bad = Op::typed("bad", |y: i64| -> Result<i64, TaskError> {
        if y < 0 {
            Err(TaskError::new("negative"))
        } else {
            Ok(y)
        }
    });
    let mut b = GraphBuilder::new();
    b.literal("x", Value::Unit).unwrap();
    b.literal("y", Value::Unit).unwrap();
    let mut parts = Vec::new();
    for i in 0..40i64 {
        b.task(("f", i), &inc, [Arg::key("x"), Arg::lit(i)])
            .unwrap();
        parts.push(Arg::key(("f", i)));
    }
    parts.push(Arg::key("b"));
    b.task("b", &bad, [Arg::key("y")]).unwrap();
    b.task("total", &sum, parts).unwrap();
    (b.build(), vec!["x".into(), "y".into()])
}

#[test]
fn a_failure_while_inputs_are_awaited_then_good_runs_on_the_same_pool() {
    let (g, inputs) = fan_graph();
    let plan = Plan::with_inputs(&g, &["total".into()], &inputs).unwrap();
    let (x, y) = (plan.inputs()[0], plan.inputs()[1]);
    let (x, y) = if plan.key(x) == &Key::from("x") {
        (x, y)
    } else {
        (y, x)
    };
    for threads in [1, 2, 4] {
        let pool = pool(threads);
        for round in 0..20 {
            // `y` first and bad: the run fails while `x` is still awaited.
            let (out, _) = pool.run_fed(&plan, &RunOptions::new(), |feed| {
                feed.deliver(y, Value::Int(-1)).unwrap();
                while !feed.is_failed() {
                    std::thread::yield_now();
                }
                // After the failure a delivery is accepted and dropped.
                feed.deliver(x, Value::Int(1)).unwrap();
            });
            let err = out.unwrap_err();
            assert_eq!(err.task_key(), Some(&Key::from("b")), "round {round}");
            // The feed can fail the run itself.
            let (out, _) = pool.run_fed(&plan, &RunOptions::new(), |feed| {
                feed.deliver(x, Value::Int(1)).unwrap();
                feed.fail(Error::new(ErrorKind::Distributed, "given up"));
            });
            assert_eq!(out.unwrap_err().kind(), ErrorKind::Distributed);
            // Then a good run, against the sequential executor on the literal graph.
            let mut lit = g.clone();
            lit.insert("x", Node::Literal(Value::Int(round)));
            lit.insert("y", Node::Literal(Value::Int(5)));
            let want = Sequential::new().get(&lit, "total").unwrap();
            let (out, _) = pool.run_fed(&plan, &RunOptions::new(), |feed| {
                feed.deliver(x, Value::Int(round)).unwrap();
                feed.deliver(y, Value::Int(5)).unwrap();
            });
            let out = out.unwrap();
            assert_eq!(out.values, [want], "threads {threads} round {round}");
            assert_eq!(out.stats.leaked_values, 0);
        }
    }
}

fn fan_plan() -> (Graph, Plan) {
    let (g, inputs) = fan_graph();
    let plan = Plan::with_inputs(&g, &["total".into()], &inputs).unwrap();
    (g, plan)
}

#[test]
fn a_plan_with_inputs_needs_a_feed() {
    let (g, plan) = fan_plan();
    assert_eq!(
        pool(2).run(&plan).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        Sequential::new().run(&plan).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    // A key that is not a literal node cannot be an input.
    let err = Plan::with_inputs(&g, &["total".into()], &["b".into()]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn a_panicking_feeder_fails_the_run() {
    let (_, plan) = fan_plan();
    let pool = pool(2);
    let (out, fed) = pool.run_fed(&plan, &RunOptions::new(), |feed| {
        feed.deliver(feed.plan().inputs()[0], Value::Int(1))
            .unwrap();
        panic!("the network went away")
    });
    assert!(fed.is_none());
    let err = out.unwrap_err();
    assert!(matches!(err, Error::Callback { .. }), "{err}");
    assert!(err.to_string().contains("the network went away"), "{err}");
    check_pool_works(&pool);
}

#[test]
fn a_feeder_that_delivers_nothing_fails_the_run() {
    let (_, plan) = fan_plan();
    let pool = pool(2);
    let (out, _) = pool.run_fed(&plan, &RunOptions::new(), |_| ());
    assert_eq!(out.unwrap_err().kind(), ErrorKind::InvalidArgument);
    check_pool_works(&pool);
}

#[test]
fn delivering_twice_or_a_task_is_an_error() {
    let (_, plan) = fan_plan();
    let pool = pool(2);
    let (out, fed) = pool.run_fed(&plan, &RunOptions::new(), deliver_twice_then_a_task);
    assert_eq!(
        fed.unwrap(),
        (ErrorKind::InvalidArgument, ErrorKind::InvalidArgument)
    );
    assert!(out.is_ok());
    check_pool_works(&pool);
}

#[test]
fn a_plan_without_inputs_runs_fed() {
    let (g, _) = fan_plan();
    let pool = pool(2);
    let plan = literal_plan(&g);
    let (out, fed) = pool.run_fed(&plan, &RunOptions::new(), |feed| feed.pending_inputs());
    assert_eq!((out.unwrap().values, fed), (vec![Value::Int(5)], Some(0)));
    check_pool_works(&pool);
}

/// Delivers the first input twice and the output once (both errors), then the second
/// input; returns the two errors' kinds.
fn deliver_twice_then_a_task(feed: &Feed<'_>) -> (ErrorKind, ErrorKind) {
    let t = feed.plan().inputs()[0];
    feed.deliver(t, Value::Int(1)).unwrap();
    let twice = feed.deliver(t, Value::Int(1)).unwrap_err().kind();
    let total = *feed.plan().outputs().first().unwrap();
    let not_input = feed.deliver(total, Value::Int(1)).unwrap_err().kind();
    feed.deliver(feed.plan().inputs()[1], Value::Int(1))
        .unwrap();
    (twice, not_input)
}

/// `g` with its input `x` defined as a literal, planned for `f[3]`: nothing to feed.
fn literal_plan(g: &Graph) -> Plan {
    let mut lit = g.clone();
    lit.insert("x", Node::Literal(Value::Int(2)));
    Plan::new(&lit, &[Key::tuple("f", [3i64])]).unwrap()
}

/// A plain run on `pool` after the others.
fn check_pool_works(pool: &Pool) {
    let inc = Op::typed("inc", |x: i64| x + 1);
    let mut b = GraphBuilder::new();
    b.literal("a", 1).unwrap();
    for i in 0..50i64 {
        b.task(("p", i), &inc, [Arg::key("a")]).unwrap();
    }
    let keys: Vec<Key> = (0..50i64).map(|i| Key::tuple("p", [i])).collect();
    let plan = Plan::new(&b.build(), &keys).unwrap();
    assert_eq!(pool.run(&plan).unwrap().values, vec![Value::Int(2); 50]);
}

#[test]
fn misuse_in_sequence_on_one_pool() {
    let (g, plan) = fan_plan();
    let pool = pool(2);
    for _ in 0..3 {
        assert!(pool.run(&plan).is_err());
        let (out, _) = pool.run_fed(&plan, &RunOptions::new(), |_| ());
        assert!(out.is_err());
        let (out, _) = pool.run_fed(&plan, &RunOptions::new(), |feed| {
            for &t in feed.plan().inputs() {
                feed.deliver(t, Value::Int(1)).unwrap();
            }
        });
        assert!(out.is_ok());
        let plain = literal_plan(&g);
        let (out, _) = pool.run_fed(&plain, &RunOptions::new(), |feed| feed.pending_inputs());
        assert_eq!(out.unwrap().values, vec![Value::Int(5)]);
    }
    check_pool_works(&pool);
}

#[test]
fn misuse_everything_on_one_pool() {
    let (g, inputs) = fan_graph();
    let plan = Plan::with_inputs(&g, &["total".into()], &inputs).unwrap();
    let pool = pool(2);
    assert_eq!(
        pool.run(&plan).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    let (out, _) = pool.run_fed(&plan, &RunOptions::new(), |_| ());
    assert_eq!(out.unwrap_err().kind(), ErrorKind::InvalidArgument);
    let (out, fed) = pool.run_fed(&plan, &RunOptions::new(), deliver_twice_then_a_task);
    assert_eq!(
        fed.unwrap(),
        (ErrorKind::InvalidArgument, ErrorKind::InvalidArgument)
    );
    assert!(out.is_ok());
    let plan = literal_plan(&g);
    let (out, fed) = pool.run_fed(&plan, &RunOptions::new(), |feed| feed.pending_inputs());
    assert_eq!((out.unwrap().values, fed), (vec![Value::Int(5)], Some(0)));
}
