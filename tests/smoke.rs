//! Smoke tests of the core engine through the public API.

use blockwork::*;

#[test]
fn seed_example_both_executors() {
    let inc = Op::typed("inc", |x: i64| x + 1);
    let add = Op::typed("add", |a: i64, b: i64| a + b);
    let mut g = GraphBuilder::new();
    g.literal("x", 1).unwrap();
    g.task("y", &inc, [Arg::key("x")]).unwrap();
    g.task("z", &add, [Arg::key("y"), Arg::lit(10)]).unwrap();
    let graph = g.build();
    assert_eq!(Sequential::new().get(&graph, "z").unwrap(), Value::Int(12));
    let pool = Pool::new(2).unwrap();
    for _ in 0..1000 {
        assert_eq!(pool.get(&graph, "z").unwrap(), Value::Int(12));
    }
}

#[test]
fn tree_on_pool() {
    let add = Op::typed("add", |a: i64, b: i64| a + b);
    let n = 1 << 16;
    let mut g = GraphBuilder::new();
    for i in 0..n {
        g.literal(("t", 0, i), i as i64).unwrap();
    }
    let mut level = 0;
    let mut width = n;
    while width > 1 {
        for i in 0..width / 2 {
            g.task(
                ("t", level + 1, i),
                &add,
                [
                    Arg::key(("t", level, 2 * i)),
                    Arg::key(("t", level, 2 * i + 1)),
                ],
            )
            .unwrap();
        }
        width /= 2;
        level += 1;
    }
    let graph = g.build();
    let plan = Plan::new(&graph, &[Key::from(("t", level, 0))]).unwrap();
    let want = (n as i64) * (n as i64 - 1) / 2;
    let s = Sequential::new().run(&plan).unwrap();
    assert_eq!(s.values, vec![Value::Int(want)]);
    for threads in [1, 2, 3, 8] {
        let pool = Pool::builder().threads(threads).pin(false).build().unwrap();
        for _ in 0..5 {
            let out = pool.run(&plan).unwrap();
            assert_eq!(out.values, vec![Value::Int(want)]);
            assert_eq!(out.stats.tasks_run as usize, plan.len());
            assert_eq!(out.stats.leaked_values, 0);
            eprintln!("{threads}: {:?}", out.stats);
        }
    }
}

#[test]
fn failing_task_then_reuse() {
    let boom = Op::new("boom", |_| Err(TaskError::new("bad")));
    let panics = Op::new("panics", |_| panic!("oh no"));
    let mut g = GraphBuilder::new();
    g.literal("x", 1).unwrap();
    g.task("bad", &boom, [Arg::key("x")]).unwrap();
    g.task("p", &panics, [Arg::key("x")]).unwrap();
    let graph = g.build();
    let pool = Pool::new(2).unwrap();
    let e = pool.get(&graph, "bad").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TaskFailed);
    let e = pool.get(&graph, "p").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TaskPanicked);
    assert_eq!(e.task_key(), Some(&Key::from("p")));
    assert_eq!(pool.get(&graph, "x").unwrap(), Value::Int(1));
}

#[test]
fn task_error_keeps_its_class() {
    let typed = Op::typed("neg", |x: i64| -x);
    let mut g = GraphBuilder::new();
    g.literal("s", "text").unwrap();
    g.task("n", &typed, [Arg::key("s")]).unwrap();
    let graph = g.build();
    for e in [
        Sequential::new().get(&graph, "n").unwrap_err(),
        Pool::new(2).unwrap().get(&graph, "n").unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::TaskFailed);
        assert_eq!(e.task_cause(), Some(ErrorKind::Type));
    }
}
