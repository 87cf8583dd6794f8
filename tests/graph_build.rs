//! Graph construction and evaluation semantics through the public API: keys, the dask
//! examples, arguments of every shape, aliases, nested `compute`, culling, and each
//! validation error with its payload.
//!
//! Under Miri: see `tests/exec_equivalence.rs` for the command and its flags.

use blockwork::*;
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

fn inc() -> Op {
    Op::typed("inc", |x: i64| x + 1)
}
fn add() -> Op {
    Op::typed("add", |a: i64, b: i64| a + b)
}
fn pool() -> Pool {
    Pool::builder().threads(2).pin(false).build().unwrap()
}

/// Runs `key` on the sequential executor and on a pool, checks they agree, returns the value.
fn get_both(graph: &Graph, key: impl Into<Key>) -> Value {
    let key = key.into();
    let s = Sequential::new().get(graph, key.clone()).unwrap();
    let p = pool().get(graph, key).unwrap();
    assert_eq!(s, p, "sequential and pool disagree");
    s
}

// ---------------------------------------------------------------------------------------
// Keys

#[test]
fn keys_print_like_dask() {
    assert_eq!(Key::from("x").to_string(), "x");
    assert_eq!(Key::from(("x", 0, 1)).to_string(), "('x', 0, 1)");
    assert_eq!(Key::tuple("x", [0, 1]).to_string(), "('x', 0, 1)");
    assert_eq!(Key::from(("x", 3)).to_string(), "('x', 3)");
    assert_eq!(Key::from(("x", "a", -2)).to_string(), "('x', 'a', -2)");
    assert_eq!(Key::tuple::<i64>("x", []).to_string(), "('x',)");
    let name: Arc<str> = "blk".into();
    assert_eq!(
        Key::block(&name, &[2, 0, 7]).to_string(),
        "('blk', 2, 0, 7)"
    );
    // Debug quotes plain names (so an empty name is visible) and shows tuples as Display.
    assert_eq!(format!("{:?}", Key::from("x")), "\"x\"");
    assert_eq!(format!("{:?}", Key::from(("x", 1))), "('x', 1)");
}

#[test]
fn key_constructors_agree() {
    let name: Arc<str> = "x".into();
    let a = Key::from(("x", 0, 1));
    let b = Key::tuple("x", [0, 1]);
    let c = Key::block(&name, &[0, 1]);
    let d = Key::from_parts("x".into(), [Atom::Int(0), Atom::Int(1)]);
    assert!(a == b && b == c && c == d);
    assert_eq!(a.name(), "x");
    assert_eq!(a.atoms().collect::<Vec<_>>(), [Atom::Int(0), Atom::Int(1)]);
    assert_eq!(Key::from("x").atoms().count(), 0);
    assert_eq!(Key::from(String::from("x")), Key::from("x"));
    // A name is not the one-element tuple of that name, nor a tuple of another name.
    assert_ne!(Key::from("x"), Key::tuple::<i64>("x", []));
    assert_ne!(Key::from(("x", 0)), Key::from(("y", 0)));
    assert_ne!(Key::from(("x", 0)), Key::from(("x", "0")));
}

#[test]
fn keys_order_names_before_tuples_then_by_value() {
    let mut keys = [
        Key::from(("x", 1, 0)),
        Key::from(("x", 0, 5)),
        Key::from("b"),
        Key::from(("w", 9)),
        Key::from("a"),
        Key::from(("x", 0)),
        Key::from(("x", 0, "s")),
    ];
    keys.sort();
    let shown: Vec<String> = keys.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "a",
            "b",
            "('w', 9)",
            "('x', 0)",
            "('x', 0, 5)",
            "('x', 0, 's')",
            "('x', 1, 0)"
        ]
    );
}

#[test]
fn keys_hash_by_value() {
    let mut set = HashSet::new();
    for i in 0..100i64 {
        assert!(set.insert(Key::from(("x", i, i % 7))));
        assert!(set.insert(Key::from(format!("x{i}"))));
    }
    // Equal keys built differently hash the same: every re-insertion is refused.
    for i in 0..100usize {
        let name: Arc<str> = "x".into();
        assert!(!set.insert(Key::block(&name, &[i, i % 7])));
        assert!(!set.insert(Key::from(&format!("x{i}"))));
    }
    assert_eq!(set.len(), 200);
    let ordered: BTreeSet<Key> = set.into_iter().collect();
    assert_eq!(ordered.len(), 200);
}

// ---------------------------------------------------------------------------------------
// Evaluation

#[test]
fn seed_example_gives_12_on_both_executors() {
    let mut b = GraphBuilder::new();
    b.literal("x", 1).unwrap();
    b.task("y", &inc(), [Arg::key("x")]).unwrap();
    b.task("z", &add(), [Arg::key("y"), Arg::lit(10)]).unwrap();
    let g = b.build();
    assert_eq!(Sequential::new().get(&g, "z").unwrap(), Value::Int(12));
    assert_eq!(pool().get(&g, "z").unwrap(), Value::Int(12));
    assert_eq!(get_both(&g, "y"), Value::Int(2));
    assert_eq!(get_both(&g, "x"), Value::Int(1));
}

#[test]
fn tuple_keys_address_blocks() {
    // A 1-d "array" of 5 blocks, doubled, then summed pairwise into ('s', i).
    let double = Op::typed("double", |x: i64| 2 * x);
    let mut b = GraphBuilder::new();
    for i in 0..5i64 {
        b.literal(("a", i), i * i).unwrap();
        b.task(("d", i), &double, [Arg::key(("a", i))]).unwrap();
    }
    for i in 0..4i64 {
        b.task(
            ("s", i),
            &add(),
            [Arg::key(("d", i)), Arg::key(("d", i + 1))],
        )
        .unwrap();
    }
    let g = b.build();
    for i in 0..4i64 {
        let want = 2 * (i * i) + 2 * ((i + 1) * (i + 1));
        assert_eq!(get_both(&g, ("s", i)), Value::Int(want));
    }
}

#[test]
fn nested_tasks_evaluate_in_place() {
    // z = add(inc(inc(x)), add(x, 100)): nested tasks have no key of their own.
    let mut b = GraphBuilder::new();
    b.literal("x", 5).unwrap();
    let inner = Arg::task(&inc(), [Arg::task(&inc(), [Arg::key("x")])]);
    let other = Arg::task(&add(), [Arg::key("x"), Arg::lit(100)]);
    b.task("z", &add(), [inner, other]).unwrap();
    let g = b.build();
    assert_eq!(get_both(&g, "z"), Value::Int(5 + 2 + 105));
    let plan = Plan::new(&g, &[Key::from("z")]).unwrap();
    assert_eq!(plan.len(), 2, "nested tasks are not plan tasks");
}

#[test]
fn list_arguments_reach_the_op_as_lists() {
    // The op sees exactly the nesting: [x, [y, 3], []] -> a list of a value, a list, a list.
    let seen = Op::new("describe", |args: &[Value]| {
        fn shape(v: &Value) -> String {
            match v.as_list() {
                Some(items) => {
                    let inner: Vec<String> = items.iter().map(shape).collect();
                    format!("[{}]", inner.join(","))
                }
                None => format!("{v:?}"),
            }
        }
        Ok(Value::from(
            args.iter().map(shape).collect::<Vec<_>>().join(";"),
        ))
    });
    let total = Op::typed("total", |xs: Vec<Value>| -> i64 {
        fn sum(v: &Value) -> i64 {
            v.as_list()
                .map_or_else(|| v.as_int().unwrap(), |l| l.iter().map(sum).sum())
        }
        xs.iter().map(sum).sum()
    });
    let mut b = GraphBuilder::new();
    b.literal("x", 1).unwrap().literal("y", 2).unwrap();
    let nested = || {
        Arg::list([
            Arg::key("x"),
            Arg::list([Arg::key("y"), Arg::lit(3)]),
            Arg::list([]),
        ])
    };
    b.task("shape", &seen, [nested(), Arg::lit(7)]).unwrap();
    b.task("sum", &total, [nested()]).unwrap();
    let g = b.build();
    assert_eq!(get_both(&g, "shape"), Value::from("[1,[2,3],[]];7"));
    assert_eq!(get_both(&g, "sum"), Value::Int(6));
}

#[test]
fn zero_argument_tasks_run() {
    let answer = Op::typed("answer", || 42i64);
    let mut b = GraphBuilder::new();
    b.task("a", &answer, []).unwrap();
    b.task("b", &inc(), [Arg::key("a")]).unwrap();
    let g = b.build();
    assert_eq!(get_both(&g, "a"), Value::Int(42));
    assert_eq!(get_both(&g, "b"), Value::Int(43));
    let plan = Plan::new(&g, &[Key::from("b")]).unwrap();
    assert_eq!(plan.roots().len(), 1, "a zero-argument task is a root");
}

#[test]
fn aliases_and_alias_chains_are_followed() {
    let mut b = GraphBuilder::new();
    b.literal("x", 1).unwrap();
    b.alias("a1", "x").unwrap();
    b.alias("a2", "a1").unwrap();
    b.alias("a3", "a2").unwrap();
    b.task("y", &inc(), [Arg::key("a3")]).unwrap();
    b.alias("out", "y").unwrap();
    b.task("both", &add(), [Arg::key("a1"), Arg::key("x")])
        .unwrap();
    let g = b.build();
    assert_eq!(get_both(&g, "a3"), Value::Int(1));
    assert_eq!(get_both(&g, "out"), Value::Int(2));
    assert_eq!(get_both(&g, "both"), Value::Int(2));
    // Aliases are resolved while planning: no task for any alias, and `x` is one task even
    // though `both` reaches it directly and through `a1`.
    let plan = Plan::new(&g, &[Key::from("out"), Key::from("both")]).unwrap();
    let keys: BTreeSet<String> = plan.tasks().map(|t| plan.key(t).to_string()).collect();
    assert_eq!(keys, ["both", "x", "y"].map(String::from).into());
    let both = plan.outputs()[1];
    assert_eq!(plan.deps(both).len(), 1);
}

#[test]
fn compute_returns_the_nesting_of_the_keys() {
    let mut b = GraphBuilder::new();
    b.literal("x", 1).unwrap();
    b.task("y", &inc(), [Arg::key("x")]).unwrap();
    b.task("z", &add(), [Arg::key("y"), Arg::lit(10)]).unwrap();
    let g = b.build();
    let keys: Keys = vec![
        Keys::from("z"),
        Keys::from(vec![Keys::from("x"), Keys::from(vec!["y", "z"])]),
        Keys::from(Vec::<Keys>::new()),
        Keys::from("z"),
    ]
    .into();
    use Computed::{Many, One};
    let want = Many(vec![
        One(Value::Int(12)),
        Many(vec![
            One(Value::Int(1)),
            Many(vec![One(Value::Int(2)), One(Value::Int(12))]),
        ]),
        Many(vec![]),
        One(Value::Int(12)),
    ]);
    assert_eq!(Sequential::new().compute(&g, &keys).unwrap(), want);
    assert_eq!(pool().compute(&g, &keys).unwrap(), want);
    // A single key computes to a single value.
    assert_eq!(
        pool().compute(&g, &Keys::from("y")).unwrap(),
        One(Value::Int(2))
    );
}

/// A graph of two independent branches; each op invocation is counted.
fn counted_branches(counter: &Arc<AtomicUsize>) -> Graph {
    let c = counter.clone();
    let counted = Op::new("counted", move |args: &[Value]| {
        c.fetch_add(1, Ordering::SeqCst);
        Ok(Value::Int(
            args.iter().filter_map(Value::as_int).sum::<i64>() + 1,
        ))
    });
    let mut b = GraphBuilder::new();
    b.literal("x", 0).unwrap();
    for branch in ["left", "right"] {
        b.task((branch, 0), &counted, [Arg::key("x")]).unwrap();
        for i in 1..10i64 {
            b.task((branch, i), &counted, [Arg::key((branch, i - 1))])
                .unwrap();
        }
    }
    b.build()
}

#[test]
fn get_runs_only_what_is_needed() {
    let calls = Arc::new(AtomicUsize::new(0));
    let g = counted_branches(&calls);
    assert_eq!(
        Sequential::new().get(&g, ("left", 3)).unwrap(),
        Value::Int(4)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 4, "only left 0..=3 ran");
    calls.store(0, Ordering::SeqCst);
    assert_eq!(pool().get(&g, ("right", 9)).unwrap(), Value::Int(10));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        10,
        "the left branch never ran"
    );
    calls.store(0, Ordering::SeqCst);
    assert_eq!(pool().get(&g, "x").unwrap(), Value::Int(0));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // A shared input requested twice over runs once.
    calls.store(0, Ordering::SeqCst);
    let keys: Keys = vec![("left", 2), ("left", 2), ("left", 1)].into();
    pool().compute(&g, &keys).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

// ---------------------------------------------------------------------------------------
// Validation errors

#[test]
fn missing_key_names_the_key_and_its_referrer() {
    let mut b = GraphBuilder::new();
    b.literal("x", 1).unwrap();
    b.task("y", &add(), [Arg::key("x"), Arg::key("ghost")])
        .unwrap();
    b.alias("al", "phantom").unwrap();
    let g = b.build();
    let err = Sequential::new().get(&g, "y").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MissingKey);
    match &err {
        Error::MissingKey { key, referrer } => {
            assert_eq!(key, &Key::from("ghost"));
            assert_eq!(referrer.as_ref(), Some(&Key::from("y")));
        }
        other => panic!("wrong error {other:?}"),
    }
    assert_eq!(err.to_string(), "missing key ghost (referenced by y)");
    // Requested directly: no referrer.
    match pool().get(&g, ("nope", 1)).unwrap_err() {
        Error::MissingKey { key, referrer } => {
            assert_eq!(key, Key::from(("nope", 1)));
            assert_eq!(referrer, None);
        }
        other => panic!("wrong error {other:?}"),
    }
    // Through an alias: the alias is the referrer.
    match Sequential::new().get(&g, "al").unwrap_err() {
        Error::MissingKey { key, referrer } => {
            assert_eq!(key, Key::from("phantom"));
            assert_eq!(referrer, Some(Key::from("al")));
        }
        other => panic!("wrong error {other:?}"),
    }
    // Inside a nested list and a nested task, the holder is the referrer.
    let mut b = GraphBuilder::new();
    let deep = Arg::list([Arg::task(&inc(), [Arg::list([Arg::key(("gone", 0))])])]);
    b.task(("holder", 1), &Op::new("f", |_| Ok(Value::Unit)), [deep])
        .unwrap();
    match Plan::new(&b.build(), &[Key::from(("holder", 1))]).unwrap_err() {
        Error::MissingKey { key, referrer } => {
            assert_eq!(key, Key::from(("gone", 0)));
            assert_eq!(referrer, Some(Key::from(("holder", 1))));
        }
        other => panic!("wrong error {other:?}"),
    }
}

fn cycle_path(err: &Error) -> Vec<String> {
    assert_eq!(err.kind(), ErrorKind::Cycle, "{err}");
    match err {
        Error::Cycle { path } => path.iter().map(ToString::to_string).collect(),
        other => panic!("wrong error {other:?}"),
    }
}

/// The path is a closed walk along dependency edges of `g`: first == last, and each key
/// refers to the next one.
fn assert_is_cycle_of(g: &Graph, path: &[String]) {
    assert!(path.len() >= 2 && path.first() == path.last(), "{path:?}");
    let key_of = |s: &String| g.keys().find(|k| &k.to_string() == s).unwrap().clone();
    for w in path.windows(2) {
        let node = g.get(&key_of(&w[0])).unwrap();
        let mut refs = Vec::new();
        node.for_each_ref(|k| refs.push(k.to_string()));
        assert!(refs.contains(&w[1]), "{} does not refer to {}", w[0], w[1]);
    }
}

#[test]
fn cycle_names_its_path() {
    let id = Op::typed("id", |x: i64| x);
    let mut b = GraphBuilder::new();
    b.task("a", &id, [Arg::key("b")]).unwrap();
    b.task("b", &id, [Arg::key("a")]).unwrap();
    let g = b.build();
    let err = Sequential::new().get(&g, "a").unwrap_err();
    assert_eq!(cycle_path(&err), ["a", "b", "a"]);
    assert_eq!(err.to_string(), "cycle detected: a -> b -> a");
    assert_eq!(
        cycle_path(&pool().get(&g, "b").unwrap_err()),
        ["b", "a", "b"]
    );
    assert_eq!(Plan::validate(&g).unwrap_err().kind(), ErrorKind::Cycle);
}

#[test]
fn longer_cycles_and_self_loops_name_their_paths() {
    let id = Op::typed("id", |x: i64| x);
    // x -> c0 -> c1 -> c2 -> c3 -> c1 (a cycle not through the requested key).
    let mut b = GraphBuilder::new();
    b.task("x", &id, [Arg::key(("c", 0))]).unwrap();
    for i in 0..3i64 {
        b.task(("c", i), &id, [Arg::key(("c", i + 1))]).unwrap();
    }
    b.task(
        ("c", 3),
        &add(),
        [Arg::lit(1), Arg::list([Arg::key(("c", 1))])],
    )
    .unwrap();
    let g = b.build();
    let path = cycle_path(&Sequential::new().get(&g, "x").unwrap_err());
    assert_eq!(path, ["('c', 1)", "('c', 2)", "('c', 3)", "('c', 1)"]);
    assert_is_cycle_of(&g, &path);

    // A task that refers to itself, through a nested task.
    let mut b = GraphBuilder::new();
    b.literal("ok", 1).unwrap();
    b.task("me", &inc(), [Arg::task(&inc(), [Arg::key("me")])])
        .unwrap();
    let g = b.build();
    let err = pool().get(&g, "me").unwrap_err();
    assert_eq!(cycle_path(&err), ["me", "me"]);
    assert_eq!(err.to_string(), "cycle detected: me -> me");
    assert_eq!(pool().get(&g, "ok").unwrap(), Value::Int(1), "culled away");

    // An alias to itself, and a cycle through an alias.
    let mut b = GraphBuilder::new();
    b.alias("self", "self").unwrap();
    b.task("t", &id, [Arg::key("via")]).unwrap();
    b.alias("via", "t").unwrap();
    let g = b.build();
    assert_eq!(
        cycle_path(&Sequential::new().get(&g, "self").unwrap_err()),
        ["self", "self"]
    );
    let path = cycle_path(&Sequential::new().get(&g, "t").unwrap_err());
    assert!(
        path.first() == path.last() && path.contains(&"t".to_string()),
        "{path:?}"
    );
}

#[test]
fn random_cycles_are_reported_with_a_true_path() {
    // Rings of every length from 1 to 12 hanging off a chain; the reported path must be
    // exactly the ring, starting where the walk entered it.
    let id = Op::typed("id", |x: i64| x);
    for ring in 1..=12i64 {
        let mut b = GraphBuilder::new();
        b.task("entry", &id, [Arg::key(("r", 0))]).unwrap();
        for i in 0..ring {
            b.task(("r", i), &id, [Arg::key(("r", (i + 1) % ring))])
                .unwrap();
        }
        let g = b.build();
        let path = cycle_path(&Plan::new(&g, &[Key::from("entry")]).unwrap_err());
        assert_eq!(path.len() as i64, ring + 1);
        assert_is_cycle_of(&g, &path);
    }
}

#[test]
fn duplicate_keys_are_refused_by_the_builder() {
    let mut b = GraphBuilder::new();
    b.literal("x", 1).unwrap();
    b.task(("t", 0), &inc(), [Arg::key("x")]).unwrap();
    for err in [
        b.literal("x", 2).unwrap_err(),
        b.alias("x", "y").unwrap_err(),
        b.task(("t", 0), &inc(), []).unwrap_err(),
        b.node(Key::tuple("t", [0]), Node::Literal(Value::Unit))
            .unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::DuplicateKey);
        let Error::DuplicateKey { key } = &err else {
            panic!("wrong error {err:?}")
        };
        assert!(
            key == &Key::from("x") || key == &Key::from(("t", 0)),
            "{key}"
        );
    }
    // The refused nodes did not replace the first ones.
    assert_eq!(b.len(), 2);
    assert_eq!(get_both(&b.build(), ("t", 0)), Value::Int(2));
    // A plain graph has dict semantics instead: insert replaces.
    let mut g = Graph::new();
    assert!(g.insert("x", Node::Literal(Value::Int(1))).is_none());
    assert!(g.insert("x", Node::Literal(Value::Int(2))).is_some());
    assert_eq!(get_both(&g, "x"), Value::Int(2));
}

#[test]
fn too_deep_nesting_is_too_large() {
    for (depth, ok) in [
        (plan::MAX_NESTING - 1, true),
        (plan::MAX_NESTING + 1, false),
    ] {
        let mut list = Arg::lit(1);
        let mut nested = Arg::lit(1);
        for _ in 0..depth {
            list = Arg::list([list]);
            nested = Arg::task(&Op::typed("id", |x: Value| x), [nested]);
        }
        let mut b = GraphBuilder::new();
        b.task("l", &Op::new("f", |_| Ok(Value::Unit)), [list])
            .unwrap();
        b.task("n", &inc(), [nested]).unwrap();
        let g = b.build();
        for key in ["l", "n"] {
            match Sequential::new().get(&g, key) {
                Ok(_) => assert!(ok, "depth {depth} should be refused"),
                Err(e) => {
                    assert!(!ok, "depth {depth} should run: {e}");
                    assert_eq!(e.kind(), ErrorKind::TooLarge);
                    assert!(e.to_string().contains(key), "{e}");
                }
            }
        }
    }
}
