//! Graph rewrites (cull, inline, inline_functions, fuse, dealias): expected structure on small
//! graphs, and the same values as the original on random DAGs, run on `Sequential`.

use blockwork::graph::optimize::{MAX_FUSED_CHAIN, cull, dealias, fuse, inline, inline_functions};
use blockwork::plan::MAX_NESTING;
use blockwork::*;
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};

fn k(s: &str) -> Key {
    Key::from(s)
}

fn names(g: &Graph) -> Vec<String> {
    g.keys().map(|k| k.to_string()).collect()
}

fn task(op: &Op, args: impl IntoIterator<Item = Arg>) -> Node {
    Node::Task(Task::new(op, args))
}

fn values(g: &Graph, keys: &[Key]) -> Result<Vec<Value>> {
    Ok(Sequential::new().run(&Plan::new(g, keys)?)?.values)
}

/// The deepest argument nesting of a node, counted as the plan counts it (top-level
/// arguments at depth 0).
fn depth(node: &Node) -> usize {
    fn arg(a: &Arg, d: usize) -> usize {
        match a {
            Arg::Ref(_) | Arg::Lit(_) => d,
            Arg::List(items) => items.iter().map(|a| arg(a, d + 1)).max().unwrap_or(d),
            Arg::Task(t) => t.args.iter().map(|a| arg(a, d + 1)).max().unwrap_or(d),
        }
    }
    match node {
        Node::Task(t) => t.args.iter().map(|a| arg(a, 0)).max().unwrap_or(0),
        _ => 0,
    }
}

fn max_depth(g: &Graph) -> usize {
    g.iter().map(|(_, n)| depth(n)).max().unwrap_or(0)
}

/// Independent reference for cull: the requested keys and everything reachable from them.
fn ancestors(g: &Graph, keys: &[Key]) -> HashSet<Key> {
    let mut seen: HashSet<Key> = keys.iter().cloned().collect();
    let mut todo: Vec<Key> = keys.to_vec();
    while let Some(key) = todo.pop() {
        for d in g.get(&key).map(Node::dependencies).unwrap_or_default() {
            if seen.insert(d.clone()) {
                todo.push(d);
            }
        }
    }
    seen
}

struct Ops {
    inc: Op,
    add: Op,
    double: Op,
}

fn ops() -> Ops {
    Ops {
        inc: Op::typed("inc", |x: i64| x + 1),
        add: Op::typed("add", |a: i64, b: i64| a + b),
        double: Op::typed("double", |x: i64| 2 * x),
    }
}

/// A chain `x0 = 1`, `x{i} = inc(x{i-1})`.
fn chain(n: usize, inc: &Op) -> Graph {
    let mut b = GraphBuilder::with_capacity(n);
    b.literal(("x", 0), 1).unwrap();
    for i in 1..n {
        b.task(("x", i), inc, [Arg::key(("x", i - 1))]).unwrap();
    }
    b.build()
}

// ---------------------------------------------------------------------------------------
// cull

#[test]
fn cull_keeps_ancestors_through_nesting_and_aliases() {
    let o = ops();
    let mut b = GraphBuilder::new();
    b.literal("a", 1).unwrap();
    b.literal("b", 2).unwrap();
    b.alias("c", "b").unwrap();
    b.task(
        "d",
        &o.inc,
        [Arg::list([Arg::task(&o.inc, [Arg::key("c")])])],
    )
    .unwrap();
    b.task("e", &o.add, [Arg::key("a"), Arg::key("d")]).unwrap();
    b.task("f", &o.inc, [Arg::key("a")]).unwrap();
    let g = b.build();
    assert_eq!(names(&cull(&g, &[k("d")]).unwrap()), ["b", "c", "d"]);
    assert_eq!(names(&cull(&g, &[k("f")]).unwrap()), ["a", "f"]);
    assert_eq!(cull(&g, &[k("e"), k("f")]).unwrap(), g);
    assert_eq!(cull(&g, &[]).unwrap().len(), 0);
}

#[test]
fn cull_missing_keys_are_errors() {
    let o = ops();
    let mut b = GraphBuilder::new();
    b.task("a", &o.inc, [Arg::key("ghost")]).unwrap();
    b.literal("b", 1).unwrap();
    let g = b.build();
    let e = cull(&g, &[k("nope")]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingKey);
    let e = cull(&g, &[k("a")]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingKey);
    assert!(e.to_string().contains("ghost") && e.to_string().contains("referenced by a"));
    assert_eq!(names(&cull(&g, &[k("b")]).unwrap()), ["b"]);
}

#[test]
fn cull_keeps_cycles_for_the_planner_to_report() {
    let o = ops();
    let mut b = GraphBuilder::new();
    b.task("a", &o.inc, [Arg::key("b")]).unwrap();
    b.task("b", &o.inc, [Arg::key("a")]).unwrap();
    b.literal("c", 1).unwrap();
    let g = cull(&b.build(), &[k("a")]).unwrap();
    assert_eq!(names(&g), ["a", "b"]);
    assert_eq!(Plan::validate(&g).unwrap_err().kind(), ErrorKind::Cycle);
}

// ---------------------------------------------------------------------------------------
// inline

#[test]
fn inline_follows_aliases_and_keeps_inlined_keys() {
    let o = ops();
    let mut b = GraphBuilder::new();
    b.literal("x", 3).unwrap();
    b.task("y", &o.inc, [Arg::key("x")]).unwrap();
    b.alias("a", "y").unwrap();
    b.task("z", &o.add, [Arg::key("a"), Arg::list([Arg::key("a")])])
        .unwrap();
    let g = b.build();
    // Alias inlined, its target not: references go to the target.
    let f = inline(&g, &[k("a")], false);
    let want = task(&o.add, [Arg::key("y"), Arg::list([Arg::key("y")])]);
    assert_eq!(f.get(&k("z")), Some(&want));
    assert_eq!(f.get(&k("a")), Some(&Node::Alias(k("y"))));
    // Alias and target inlined: the task's content, in every position.
    let f = inline(&g, &[k("a"), k("y")], true);
    let y = Arg::task(&o.inc, [Arg::lit(3)]);
    let want = task(&o.add, [y.clone(), Arg::list([y])]);
    assert_eq!(f.get(&k("z")), Some(&want));
    assert_eq!(names(&f), names(&g));
    assert_eq!(f.get(&k("a")), Some(&task(&o.inc, [Arg::lit(3)])));
    // Unknown keys are ignored; nothing to inline is the same graph.
    assert_eq!(inline(&g, &[k("nope")], false), g);
}

#[test]
fn inline_cycle_leaves_graph_unchanged() {
    let o = ops();
    let mut b = GraphBuilder::new();
    b.task("a", &o.inc, [Arg::key("b")]).unwrap();
    b.task("b", &o.inc, [Arg::key("a")]).unwrap();
    b.task("c", &o.inc, [Arg::key("a")]).unwrap();
    let g = b.build();
    assert_eq!(inline(&g, &[k("a"), k("b")], true), g);
    // Only one of them inlined: no cycle among inlined keys, so it goes ahead.
    let f = inline(&g, &[k("a")], false);
    assert_eq!(
        f.get(&k("c")),
        Some(&task(&o.inc, [Arg::task(&o.inc, [Arg::key("b")])]))
    );
}

#[test]
fn inline_long_chain_respects_nesting_limit() {
    let o = ops();
    let n = 3 * MAX_NESTING;
    let g = chain(n, &o.inc);
    let keys: Vec<Key> = (0..n - 1).map(|i| Key::from(("x", i))).collect();
    let f = inline(&g, &keys, true);
    assert_eq!(f.len(), n);
    assert!(max_depth(&f) <= MAX_NESTING);
    assert!(max_depth(&f) >= MAX_NESTING - 1, "inlines up to the limit");
    let top = [Key::from(("x", n - 1))];
    assert_eq!(values(&f, &top).unwrap(), values(&g, &top).unwrap());
}

// ---------------------------------------------------------------------------------------
// inline_functions

#[test]
fn inline_functions_keeps_outputs_and_slow_tasks() {
    let o = ops();
    let mut b = GraphBuilder::new();
    b.task("out", &o.add, [Arg::key("i"), Arg::key("d")])
        .unwrap();
    b.task("i", &o.inc, [Arg::key("x")]).unwrap();
    b.task("d", &o.double, [Arg::key("y")]).unwrap();
    b.task("j", &o.inc, [Arg::task(&o.double, [Arg::key("y")])])
        .unwrap();
    b.task("out2", &o.add, [Arg::key("j"), Arg::key("i")])
        .unwrap();
    b.task("lonely", &o.inc, [Arg::key("x")]).unwrap();
    b.literal("x", 1).unwrap();
    b.literal("y", 1).unwrap();
    let g = b.build();
    let out = [k("out"), k("out2"), k("lonely")];
    let f = inline_functions(&g, &out, &[&o.inc], false);
    // i is inlined into both users and removed; j holds a slow nested op; lonely has no users.
    assert_eq!(names(&f), ["out", "d", "j", "out2", "lonely", "x", "y"]);
    let i = Arg::task(&o.inc, [Arg::key("x")]);
    assert_eq!(f.get(&k("out2")), Some(&task(&o.add, [Arg::key("j"), i])));
    assert_eq!(values(&f, &out).unwrap(), values(&g, &out).unwrap());
    // i requested: kept, not inlined.
    let f = inline_functions(&g, &[k("i")], &["inc"], false);
    assert!(f.contains(&k("i")) && f.get(&k("out")) == g.get(&k("out")));
    // Both fast; constants too (they stay).
    let f = inline_functions(&g, &out, &["inc", "double"], true);
    assert_eq!(names(&f), ["out", "out2", "lonely", "x", "y"]);
    assert_eq!(values(&f, &out).unwrap(), values(&g, &out).unwrap());
    // No fast ops: no change, even with constants.
    assert_eq!(inline_functions::<&str>(&g, &out, &[], true), g);
}

#[test]
fn inline_functions_long_chain_is_linear_and_capped() {
    let o = ops();
    let n = 10 * MAX_NESTING;
    let g = chain(n, &o.inc);
    let top = [Key::from(("x", n - 1))];
    let f = inline_functions(&g, &top, &[&o.inc], false);
    assert!(max_depth(&f) <= MAX_NESTING);
    assert!(f.len() < n / (MAX_NESTING / 2), "{} nodes left", f.len());
    assert_eq!(values(&f, &top).unwrap(), values(&g, &top).unwrap());
}

// ---------------------------------------------------------------------------------------
// fuse

#[test]
fn fuse_merges_linear_chains_only() {
    let o = ops();
    let mut b = GraphBuilder::new();
    b.literal("a", 1).unwrap();
    b.task("b", &o.inc, [Arg::key("a")]).unwrap();
    b.task("c", &o.inc, [Arg::key("b")]).unwrap();
    // c has two users: it ends a chain.
    b.task("d", &o.double, [Arg::key("c")]).unwrap();
    b.task("e", &o.inc, [Arg::key("c")]).unwrap();
    // f uses d twice: merging would run d twice, so it is not merged.
    b.task("f", &o.add, [Arg::key("d"), Arg::key("d")]).unwrap();
    // g has two dependencies: nothing merges into it, but it is merged into h.
    b.task("g", &o.add, [Arg::key("e"), Arg::key("f")]).unwrap();
    b.task("h", &o.inc, [Arg::key("g")]).unwrap();
    let gr = b.build();
    let f = fuse(&gr, &[k("h")]);
    assert_eq!(names(&f), ["c", "d", "e", "f", "h"]);
    let c = task(&o.inc, [Arg::task(&o.inc, [Arg::lit(1)])]);
    assert_eq!(f.get(&k("c")), Some(&c));
    let h = task(&o.inc, [Arg::task(&o.add, [Arg::key("e"), Arg::key("f")])]);
    assert_eq!(f.get(&k("h")), Some(&h));
    assert_eq!(
        values(&f, &[k("h")]).unwrap(),
        values(&gr, &[k("h")]).unwrap()
    );
    // A requested key in the middle of a chain stays.
    let f = fuse(&gr, &[k("h"), k("g"), k("b")]);
    assert_eq!(names(&f), ["b", "c", "d", "e", "f", "g", "h"]);
    assert_eq!(f.get(&k("b")), Some(&task(&o.inc, [Arg::lit(1)])));
}

#[test]
fn fuse_literal_used_twice_and_aliases() {
    let o = ops();
    let mut b = GraphBuilder::new();
    b.literal("a", 5).unwrap();
    b.task("b", &o.add, [Arg::key("a"), Arg::key("a")]).unwrap();
    b.alias("c", "b").unwrap();
    b.task("d", &o.inc, [Arg::key("c")]).unwrap();
    let g = b.build();
    let f = fuse(&g, &[k("d")]);
    let want = task(&o.inc, [Arg::task(&o.add, [Arg::lit(5), Arg::lit(5)])]);
    assert_eq!(f.get(&k("d")), Some(&want));
    assert_eq!(f.len(), 1);
    // The alias requested: it absorbs the chain above it.
    let f = fuse(&g, &[k("d"), k("c")]);
    assert_eq!(names(&f), ["c", "d"]);
    assert_eq!(
        f.get(&k("c")),
        Some(&task(&o.add, [Arg::lit(5), Arg::lit(5)]))
    );
}

#[test]
fn fuse_cycles_and_missing_keys() {
    let o = ops();
    let mut b = GraphBuilder::new();
    b.task("a", &o.inc, [Arg::key("b")]).unwrap();
    b.task("b", &o.inc, [Arg::key("a")]).unwrap();
    b.task("s", &o.inc, [Arg::key("s")]).unwrap();
    b.task("m", &o.inc, [Arg::key("ghost")]).unwrap();
    b.task("n", &o.inc, [Arg::key("m")]).unwrap();
    let g = b.build();
    assert_eq!(fuse(&g, &[]), g);
    let mut b = GraphBuilder::new();
    b.task("s", &o.inc, [Arg::key("s")]).unwrap();
    b.task("m", &o.inc, [Arg::key("ghost")]).unwrap();
    b.task("n", &o.inc, [Arg::key("m")]).unwrap();
    let f = fuse(&b.build(), &[]);
    assert_eq!(names(&f), ["s", "n"]);
    let n = task(&o.inc, [Arg::task(&o.inc, [Arg::key("ghost")])]);
    assert_eq!(f.get(&k("n")), Some(&n));
}

#[test]
fn fuse_cuts_chains_into_segments() {
    let o = ops();
    let n = 5 * MAX_FUSED_CHAIN + 7;
    let g = chain(n, &o.inc);
    let top = [Key::from(("x", n - 1))];
    let f = fuse(&g, &top);
    // n - 1 tasks plus the literal, which merges for free.
    assert_eq!(f.len(), (n - 1).div_ceil(MAX_FUSED_CHAIN));
    assert!(f.contains(&top[0]));
    assert!(max_depth(&f) < MAX_FUSED_CHAIN);
    assert_eq!(values(&f, &top).unwrap(), values(&g, &top).unwrap());
}

// ---------------------------------------------------------------------------------------
// dealias

#[test]
fn dealias_points_past_aliases() {
    let o = ops();
    let mut b = GraphBuilder::new();
    b.literal("a", 4).unwrap();
    b.alias("b", "a").unwrap();
    b.alias("c", "b").unwrap();
    b.task("d", &o.add, [Arg::key("c"), Arg::list([Arg::key("b")])])
        .unwrap();
    b.alias("e", "d").unwrap();
    b.alias("dangling", "ghost").unwrap();
    b.task("f", &o.inc, [Arg::key("dangling")]).unwrap();
    let g = b.build();
    let f = dealias(&g, &[]);
    assert_eq!(names(&f), ["a", "d", "f"]);
    let d = task(&o.add, [Arg::key("a"), Arg::list([Arg::key("a")])]);
    assert_eq!(f.get(&k("d")), Some(&d));
    assert_eq!(f.get(&k("f")), Some(&task(&o.inc, [Arg::key("ghost")])));
    let f = dealias(&g, &[k("c"), k("e")]);
    assert_eq!(names(&f), ["a", "c", "d", "e", "f"]);
    assert_eq!(f.get(&k("c")), Some(&Node::Alias(k("a"))));
    assert_eq!(f.get(&k("e")), Some(&Node::Alias(k("d"))));
    // An alias cycle: unchanged.
    let mut b = GraphBuilder::new();
    b.alias("p", "q").unwrap();
    b.alias("q", "p").unwrap();
    b.literal("r", 1).unwrap();
    let g = b.build();
    assert_eq!(dealias(&g, &[]), g);
}

// ---------------------------------------------------------------------------------------
// Long chains: no recursion along the chain.

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "slow in debug; run with cargo test --release"
)]
fn long_chain() {
    chain_rewrites(300_000);
}

#[test]
#[ignore = "about 1 GB: cargo test --release --test optimize -- --ignored"]
fn million_chain() {
    chain_rewrites(1_000_000);
}

/// Every rewrite on a chain of `n` tasks (and `dealias` on `n` aliases).
fn chain_rewrites(n: usize) {
    let o = ops();
    let g = chain(n, &o.inc);
    let top = [Key::from(("x", n - 1))];
    let mid = [Key::from(("x", n / 2))];
    assert_eq!(cull(&g, &mid).unwrap().len(), n / 2 + 1);
    let f = fuse(&cull(&g, &top).unwrap(), &top);
    assert_eq!(f.len(), (n - 1).div_ceil(MAX_FUSED_CHAIN));
    assert_eq!(values(&f, &top).unwrap(), [Value::Int(n as i64)]);
    let every_other: Vec<Key> = (0..n).step_by(2).map(|i| Key::from(("x", i))).collect();
    let i = cull(&inline(&g, &every_other, true), &top).unwrap();
    assert_eq!(i.len(), n / 2);
    assert_eq!(values(&i, &top).unwrap(), [Value::Int(n as i64)]);
    let i = inline_functions(&g, &top, &[&o.inc], false);
    assert!(max_depth(&i) <= MAX_NESTING);
    assert_eq!(values(&i, &top).unwrap(), [Value::Int(n as i64)]);
    let mut b = GraphBuilder::with_capacity(n);
    b.literal(("x", 0), 1).unwrap();
    for i in 1..n {
        b.alias(("x", i), ("x", i - 1)).unwrap();
    }
    let d = dealias(&b.build(), &top);
    assert_eq!(d.get(&top[0]), Some(&Node::Alias(Key::from(("x", 0)))));
    assert_eq!(d.len(), 2);
}

// ---------------------------------------------------------------------------------------
// Random DAGs: every rewrite gives the same values for the requested keys.

/// An argument; `Ref` is resolved against the position of the node that holds it.
#[derive(Clone, Debug)]
enum ArgSpec {
    Ref(u16),
    Lit(i64),
    List(Vec<ArgSpec>),
    Nested(usize, Vec<ArgSpec>),
}

#[derive(Clone, Debug)]
enum NodeSpec {
    Lit(i64),
    Alias(u16),
    Task(usize, Vec<ArgSpec>),
}

fn arg_spec() -> impl Strategy<Value = ArgSpec> {
    let leaf = prop_oneof![
        3 => any::<u16>().prop_map(ArgSpec::Ref),
        1 => (-5i64..5).prop_map(ArgSpec::Lit),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(ArgSpec::List),
            (0..3usize, prop::collection::vec(inner, 0..3))
                .prop_map(|(op, args)| ArgSpec::Nested(op, args)),
        ]
    })
}

fn node_spec() -> impl Strategy<Value = NodeSpec> {
    prop_oneof![
        1 => (-9i64..9).prop_map(NodeSpec::Lit),
        1 => any::<u16>().prop_map(NodeSpec::Alias),
        // One reference to a recent node: the links of linear chains.
        3 => (0..3usize, 0..2u16).prop_map(|(op, r)| NodeSpec::Task(op, vec![ArgSpec::Ref(r * 2)])),
        3 => (0..3usize, prop::collection::vec(arg_spec(), 0..4))
            .prop_map(|(op, args)| NodeSpec::Task(op, args)),
    ]
}

/// Ops defined on every value, so that any random graph runs: two folds and a list builder.
fn random_ops() -> [Op; 3] {
    fn fold(v: &Value, acc: i64, f: fn(i64, i64) -> i64) -> i64 {
        match v {
            Value::Int(i) => f(acc, *i),
            Value::List(items) => items.iter().fold(acc, |a, v| fold(v, a, f)),
            _ => acc,
        }
    }
    let sum = |a: i64, x: i64| a.wrapping_add(x);
    let mix = |a: i64, x: i64| a.wrapping_mul(31).wrapping_add(x);
    [
        Op::new("sum", move |args: &[Value]| {
            Ok(Value::Int(args.iter().fold(0, |a, v| fold(v, a, sum))))
        }),
        Op::new("mix", move |args: &[Value]| {
            Ok(Value::Int(args.iter().fold(7, |a, v| fold(v, a, mix))))
        }),
        Op::new("pack", |args: &[Value]| {
            Ok(Value::List(args.to_vec().into()))
        }),
    ]
}

fn node_key(i: usize) -> Key {
    Key::from(("n", i))
}

/// A node earlier than `i`, mostly one of the last few (so that chains form).
fn target(i: usize, r: u16) -> Option<Key> {
    let r = r as usize;
    let back = if r & 1 == 0 { (r >> 1) % 3 } else { r >> 1 };
    (i > 0).then(|| node_key(i - 1 - back % i))
}

fn build_arg(a: &ArgSpec, i: usize, ops: &[Op; 3]) -> Arg {
    match a {
        ArgSpec::Ref(r) => target(i, *r).map_or(Arg::lit(*r as i64), Arg::Ref),
        ArgSpec::Lit(v) => Arg::lit(*v),
        ArgSpec::List(items) => Arg::list(items.iter().map(|a| build_arg(a, i, ops))),
        ArgSpec::Nested(op, args) => {
            Arg::task(&ops[*op], args.iter().map(|a| build_arg(a, i, ops)))
        }
    }
}

fn build(specs: &[NodeSpec], ops: &[Op; 3]) -> Graph {
    let mut b = GraphBuilder::new();
    for (i, s) in specs.iter().enumerate() {
        let node = match s {
            NodeSpec::Lit(v) => Node::Literal(Value::Int(*v)),
            NodeSpec::Alias(r) => target(i, *r).map_or(Node::Literal(Value::Int(0)), Node::Alias),
            NodeSpec::Task(op, args) => Node::Task(Task::new(
                &ops[*op],
                args.iter().map(|a| build_arg(a, i, ops)),
            )),
        };
        b.node(node_key(i), node).unwrap();
    }
    b.build()
}

fn pick(keys: &[u16], n: usize) -> Vec<Key> {
    keys.iter().map(|&r| node_key(r as usize % n)).collect()
}

fn key_set(g: &Graph) -> HashSet<Key> {
    g.keys().cloned().collect()
}

/// Checks that `f` computes the same requested values as `g`, within the nesting limit.
fn same_values(g: &Graph, f: &Graph, req: &[Key]) -> std::result::Result<(), TestCaseError> {
    prop_assert_eq!(values(f, req).unwrap(), values(g, req).unwrap());
    prop_assert!(max_depth(f) <= MAX_NESTING);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn rewrites_preserve_values(
        specs in prop::collection::vec(node_spec(), 1..40),
        req in prop::collection::vec(any::<u16>(), 1..4),
        inl in prop::collection::vec(any::<u16>(), 0..8),
        fast_mask in 0u8..8,
        constants in any::<bool>(),
    ) {
        let ops = random_ops();
        let g = build(&specs, &ops);
        let req = pick(&req, specs.len());
        let before: HashMap<Key, Node> = g.iter().map(|(k, n)| (k.clone(), n.clone())).collect();

        let c = cull(&g, &req).unwrap();
        prop_assert_eq!(key_set(&c), ancestors(&g, &req));
        same_values(&g, &c, &req)?;

        let inl = pick(&inl, specs.len());
        let i = inline(&g, &inl, constants);
        prop_assert_eq!(key_set(&i), key_set(&g));
        same_values(&g, &i, &req)?;

        let fast: Vec<&Op> = (0..3).filter(|b| fast_mask >> b & 1 == 1).map(|b| &ops[b]).collect();
        let f = inline_functions(&g, &req, &fast, constants);
        prop_assert!(req.iter().all(|k| f.contains(k)));
        same_values(&g, &f, &req)?;

        let fu = fuse(&g, &req);
        prop_assert!(req.iter().all(|k| fu.contains(k)));
        prop_assert!(key_set(&fu).is_subset(&key_set(&g)));
        same_values(&g, &fu, &req)?;

        let d = dealias(&g, &req);
        let aliases = d.iter().filter(|(_, n)| matches!(n, Node::Alias(_)));
        prop_assert!(aliases.map(|(k, _)| k).all(|k| req.contains(k)));
        same_values(&g, &d, &req)?;

        let all = fuse(&cull(&inline_functions(&dealias(&g, &req), &req, &fast, constants), &req).unwrap(), &req);
        prop_assert!(all.len() <= c.len());
        same_values(&g, &all, &req)?;

        // The input is untouched.
        prop_assert_eq!(g.len(), before.len());
        prop_assert!(g.iter().all(|(k, n)| before.get(k) == Some(n)));
    }
}
