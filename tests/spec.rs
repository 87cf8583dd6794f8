//! Spec files: the JSON round trip, every builtin op against a direct computation, and errors
//! that carry the JSON path of the problem.

use blockwork::spec::{Registry, Spec, SpecErrorKind, builtin, value_to_json};
use blockwork::{
    Arg, Atom, Executor, Graph, GraphBuilder, Key, Node, Op, Pool, Sequential, Task, Value,
};
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn op(name: &str) -> Op {
    builtin(name).unwrap_or_else(|| panic!("builtin {name}"))
}

fn example_specs() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/specs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "example specs present");
    files
}

fn round_trip(spec: &Spec) {
    let text = spec.to_json().unwrap();
    let again = Spec::from_json(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(&again, spec, "{text}");
    assert_eq!(again.to_json().unwrap(), text, "writing is deterministic");
}

#[test]
fn example_specs_round_trip() {
    for path in example_specs() {
        let spec = Spec::read_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!spec.graph().is_empty());
        round_trip(&spec);
    }
}

/// The shapes' ops are their own: written through a registry that holds them, a shape reads
/// back unchanged, and read with the builtins of the same names it computes the same result.
#[test]
fn benchmark_shapes_round_trip() {
    use blockwork::bench_shapes::{add_u32, inc_u32};
    use blockwork::spec::Arity;
    let mut reg = Registry::new();
    reg.register(inc_u32(), Arity::exactly(1), "inc").unwrap();
    reg.register(add_u32(), Arity::at_least(0), "add").unwrap();
    for name in blockwork::bench_shapes::SHAPES.iter().chain(&["latency10"]) {
        let (g, out) = blockwork::bench_shapes::shape(name, 50).unwrap();
        let spec = Spec::new(g, out.clone()).with_description(format!("the {name} shape"));
        let text = spec.to_json_with(&reg).unwrap();
        assert_eq!(Spec::from_slice_with(text.as_bytes(), &reg).unwrap(), spec);
        let builtins = Spec::from_json(&text).unwrap();
        let seq = Sequential::new();
        for k in &out {
            assert_eq!(
                seq.get(builtins.graph(), k.clone()).unwrap(),
                seq.get(spec.graph(), k.clone()).unwrap(),
                "{name}"
            );
        }
    }
}

/// Every kind of literal, key, argument and node the format has.
fn everything_graph() -> Graph {
    let mut b = GraphBuilder::new();
    let values = [
        Value::Unit,
        Value::Bool(false),
        Value::Int(i64::MIN),
        Value::Int(i64::MAX),
        Value::Float(0.1),
        Value::Float(-0.0),
        Value::Float(1e300),
        Value::Float(5e-324),
        Value::Float(f64::NAN),
        Value::Float(f64::INFINITY),
        Value::Float(f64::NEG_INFINITY),
        Value::from("quotes \" backslash \\ newline \n unicode é 😀"),
        Value::list(Vec::<Value>::new()),
        Value::list([
            Value::list([Value::Int(1), Value::Float(f64::NAN)]),
            Value::from("x"),
        ]),
    ];
    for (i, v) in values.into_iter().enumerate() {
        b.literal(("lit", i as i64), v).unwrap();
    }
    b.literal(Key::tuple("t", [Atom::from("s"), Atom::from(-3)]), 1)
        .unwrap();
    b.literal(Key::tuple::<i64>("empty", []), 2).unwrap();
    b.alias("alias", ("lit", 3)).unwrap();
    b.task("zero_args", &op("list"), []).unwrap();
    let nested = Arg::task(&op("add"), [Arg::key(("lit", 2)), Arg::lit(1.5)]);
    b.task(
        "mixed",
        &op("list"),
        [
            Arg::key("alias"),
            Arg::lit(Value::list([Value::Int(1), Value::Int(2)])),
            Arg::list([Arg::lit(1), Arg::lit(2)]),
            Arg::list([
                Arg::list([]),
                Arg::key(Key::tuple::<i64>("empty", [])),
                nested,
            ]),
            Arg::lit(f64::NAN),
            Arg::lit(Value::Unit),
        ],
    )
    .unwrap();
    b.build()
}

#[test]
fn every_form_round_trips() {
    let g = everything_graph();
    round_trip(&Spec::new(
        g.clone(),
        [Key::from("mixed"), Key::from(("lit", 8))],
    ));
    // ...and the graph it reads is the graph that runs.
    let v = Sequential::new().get(&g, "mixed").unwrap();
    assert_eq!(v.as_list().unwrap().len(), 6);
}

#[test]
fn literal_arguments_keep_list_and_value_apart() {
    // A literal list value and a list of literal arguments reach the op equal but are
    // different graphs; both survive the round trip as what they are.
    let as_value = Arg::lit(Value::list([Value::Int(1)]));
    let as_args = Arg::list([Arg::lit(1)]);
    for a in [as_value, as_args] {
        let mut b = GraphBuilder::new();
        b.task("x", &op("identity"), [a.clone()]).unwrap();
        let spec = Spec::new(b.build(), ["x"]);
        let back = Spec::from_json(&spec.to_json().unwrap()).unwrap();
        let Some(Node::Task(Task { args, .. })) = back.graph().get(&Key::from("x")) else {
            panic!("a task")
        };
        assert_eq!(args[0], a);
    }
}

#[test]
fn object_form_reads_like_the_array_form() {
    let obj = Spec::from_json(r#"{"nodes": {"a": [1, 2], "b": {"op": "sum", "args": [{"ref": "a"}]}, "c": {"alias": "b"}}}"#).unwrap();
    let arr = Spec::from_json(
        r#"{"nodes": [{"key": "a", "literal": [1, 2]}, {"key": "b", "op": "sum", "args": [{"ref": "a"}]}, {"key": "c", "alias": "b"}]}"#,
    )
    .unwrap();
    assert_eq!(obj, arr);
    assert_eq!(obj.targets(), vec![Key::from("c")]);
}

/// Values that builtin ops produce, written as JSON, match what serde_json makes of the
/// same Rust values.
#[test]
fn values_to_json_match_serde() {
    let v = Value::list([
        Value::Int(-5),
        Value::Float(2.5),
        Value::from("s"),
        Value::Bool(true),
        Value::Unit,
    ]);
    assert_eq!(
        value_to_json(&v).unwrap(),
        serde_json::json!([-5, 2.5, "s", true, null])
    );
    assert!(value_to_json(&Value::opaque(3u8, 1)).is_err());
}

// ---- property: random graphs of builtin ops round-trip --------------------------------------

fn value_strategy() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Unit),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<f64>().prop_map(Value::Float),
        "[a-z\"\\\\é ]{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop::collection::vec(inner, 0..4).prop_map(Value::list)
    })
}

fn key_strategy() -> impl Strategy<Value = Key> {
    prop_oneof![
        "[a-z]{1,3}".prop_map(Key::from),
        (
            "[a-z]{1,2}",
            prop::collection::vec(
                prop_oneof![
                    any::<i64>().prop_map(Atom::Int),
                    "[a-z]{0,2}".prop_map(|s| Atom::from(s.as_str()))
                ],
                0..3
            )
        )
            .prop_map(|(n, atoms)| Key::tuple(&n, atoms)),
    ]
}

/// A builtin (not `spin`, `sleep`, `fail` or `panic`, which are as good as any for writing
/// but slow or noisy if a test ever ran them) with an argument count it accepts, up to 3.
fn op_and_count() -> impl Strategy<Value = (Op, usize)> {
    let choices: Vec<(Op, usize)> = Registry::builtins()
        .iter()
        .filter(|e| !["spin", "sleep", "fail", "panic"].contains(&e.op.name()))
        .flat_map(|e| {
            (0..=3)
                .filter(|&n| e.arity.accepts(n))
                .map(|n| (e.op.clone(), n))
        })
        .collect();
    prop::sample::select(choices)
}

fn arg_strategy(keys: Vec<Key>) -> impl Strategy<Value = Arg> {
    let leaf = if keys.is_empty() {
        value_strategy().prop_map(Arg::Lit).boxed()
    } else {
        prop_oneof![
            value_strategy().prop_map(Arg::Lit),
            prop::sample::select(keys).prop_map(Arg::Ref)
        ]
        .boxed()
    };
    leaf.prop_recursive(3, 12, 3, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Arg::List),
            (op_and_count(), prop::collection::vec(inner, 3)).prop_map(|((op, n), mut args)| {
                args.truncate(n);
                Arg::task(&op, args)
            }),
        ]
    })
}

fn graph_strategy() -> impl Strategy<Value = Graph> {
    prop::collection::vec(key_strategy(), 1..8).prop_flat_map(|mut keys| {
        keys.sort();
        keys.dedup();
        let n = keys.len();
        let nodes: Vec<_> = (0..n)
            .map(|i| {
                let earlier = keys[..i].to_vec();
                let task = (
                    op_and_count(),
                    prop::collection::vec(arg_strategy(earlier.clone()), 3),
                )
                    .prop_map(|((op, n), mut args)| {
                        args.truncate(n);
                        Node::Task(Task::new(&op, args))
                    });
                if earlier.is_empty() {
                    prop_oneof![value_strategy().prop_map(Node::Literal), task].boxed()
                } else {
                    prop_oneof![
                        value_strategy().prop_map(Node::Literal),
                        prop::sample::select(earlier).prop_map(Node::Alias),
                        task
                    ]
                    .boxed()
                }
            })
            .collect();
        (Just(keys), nodes).prop_map(|(keys, nodes)| keys.into_iter().zip(nodes).collect::<Graph>())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn random_builtin_graphs_round_trip(g in graph_strategy()) {
        let spec = Spec::new(g, Vec::<Key>::new());
        let text = spec.to_json().unwrap();
        let again = Spec::from_json(&text).unwrap();
        prop_assert_eq!(again, spec);
    }
}

// ---- every builtin against a direct computation ---------------------------------------------

fn call(name: &str, args: &[Value]) -> Result<Value, String> {
    op(name).call(args).map_err(|e| e.message().to_owned())
}

fn ints(xs: &[i64]) -> Vec<Value> {
    xs.iter().map(|&x| Value::Int(x)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn integer_arithmetic_matches_std(a in any::<i64>(), b in any::<i64>(), small in -1000i64..1000, d in prop_oneof![-50i64..-1, 1i64..50]) {
        let ab = ints(&[a, b]);
        prop_assert_eq!(call("add", &ab).ok(), a.checked_add(b).map(Value::Int));
        prop_assert_eq!(call("sub", &ab).ok(), a.checked_sub(b).map(Value::Int));
        prop_assert_eq!(call("mul", &ab).ok(), a.checked_mul(b).map(Value::Int));
        prop_assert_eq!(call("neg", &ints(&[a])).ok(), a.checked_neg().map(Value::Int));
        prop_assert_eq!(call("abs", &ints(&[a])).ok(), a.checked_abs().map(Value::Int));
        prop_assert_eq!(call("inc", &ints(&[a])).ok(), a.checked_add(1).map(Value::Int));
        prop_assert_eq!(call("dec", &ints(&[a])).ok(), a.checked_sub(1).map(Value::Int));
        // Floor division and modulo as Python defines them, computed exactly in floats.
        let q = (small as f64 / d as f64).floor();
        prop_assert_eq!(call("floordiv", &ints(&[small, d])).unwrap(), Value::Int(q as i64));
        prop_assert_eq!(call("mod", &ints(&[small, d])).unwrap(), Value::Int(small - d * q as i64));
        prop_assert_eq!(call("div", &ints(&[small, d])).unwrap(), Value::Float(small as f64 / d as f64));
        prop_assert_eq!(call("pow", &ints(&[small, 3])).ok(), small.checked_pow(3).map(Value::Int));
        prop_assert_eq!(call("inc_u32", &ints(&[a])).unwrap(), Value::Int(i64::from((a as u32).wrapping_add(1))));
        prop_assert_eq!(call("add_u32", &ab).unwrap(), Value::Int(i64::from((a as u32).wrapping_add(b as u32))));
        prop_assert_eq!(call("eq", &ab).unwrap(), Value::Bool(a == b));
        prop_assert_eq!(call("ne", &ab).unwrap(), Value::Bool(a != b));
        prop_assert_eq!(call("lt", &ab).unwrap(), Value::Bool(a < b));
        prop_assert_eq!(call("le", &ab).unwrap(), Value::Bool(a <= b));
        prop_assert_eq!(call("gt", &ab).unwrap(), Value::Bool(a > b));
        prop_assert_eq!(call("ge", &ab).unwrap(), Value::Bool(a >= b));
    }

    #[test]
    fn float_arithmetic_matches_std(x in -1e6f64..1e6, y in prop_oneof![-1e3f64..-1e-3, 1e-3f64..1e3]) {
        let xy = [Value::Float(x), Value::Float(y)];
        prop_assert_eq!(call("add", &xy).unwrap(), Value::Float(x + y));
        prop_assert_eq!(call("sub", &xy).unwrap(), Value::Float(x - y));
        prop_assert_eq!(call("mul", &xy).unwrap(), Value::Float(x * y));
        prop_assert_eq!(call("div", &xy).unwrap(), Value::Float(x / y));
        prop_assert_eq!(call("floordiv", &xy).unwrap(), Value::Float((x / y).floor()));
        // Python's float modulo: x - y * floor(x / y), up to rounding, with the sign of y.
        let m = call("mod", &xy).unwrap().as_float().unwrap();
        let expected = x - y * (x / y).floor();
        prop_assert!((m - expected).abs() <= 1e-9 * (1.0 + x.abs()), "{} vs {}", m, expected);
        prop_assert!(m == 0.0 || (m < 0.0) == (y < 0.0));
        // libm's pow may differ in the last bit from what the compiler makes of a constant
        // exponent, so compare within an ulp or two.
        let root = call("pow", &[Value::Float(x.abs()), Value::Float(0.5)]).unwrap().as_float().unwrap();
        prop_assert!((root - x.abs().sqrt()).abs() <= 4.0 * f64::EPSILON * root.max(1.0), "{}", root);
        prop_assert_eq!(call("neg", &[Value::Float(x)]).unwrap(), Value::Float(-x));
        prop_assert_eq!(call("abs", &[Value::Float(x)]).unwrap(), Value::Float(x.abs()));
        prop_assert_eq!(call("lt", &xy).unwrap(), Value::Bool(x < y));
        prop_assert_eq!(call("int", &[Value::Float(x)]).unwrap(), Value::Int(x.trunc() as i64));
        prop_assert_eq!(call("float", &[Value::Int(x as i64)]).unwrap(), Value::Float((x as i64) as f64));
        // Mixed int and float arguments compute in floats.
        prop_assert_eq!(call("add", &[Value::Int(3), Value::Float(y)]).unwrap(), Value::Float(3.0 + y));
    }

    #[test]
    fn list_ops_match_iterators(xs in prop::collection::vec(-1_000_000i64..1_000_000, 0..20), ys in prop::collection::vec(-9i64..9, 0..5), i in -25i64..25) {
        let l = Value::list(xs.clone());
        prop_assert_eq!(call("sum", std::slice::from_ref(&l)).unwrap(), Value::Int(xs.iter().sum()));
        prop_assert_eq!(call("len", std::slice::from_ref(&l)).unwrap(), Value::Int(xs.len() as i64));
        prop_assert_eq!(call("min", std::slice::from_ref(&l)).ok(), xs.iter().min().map(|&m| Value::Int(m)));
        prop_assert_eq!(call("max", std::slice::from_ref(&l)).ok(), xs.iter().max().map(|&m| Value::Int(m)));
        let joined: Vec<i64> = xs.iter().chain(&ys).copied().collect();
        prop_assert_eq!(call("concat", &[l.clone(), Value::list(ys.clone())]).unwrap(), Value::list(joined));
        prop_assert_eq!(call("list", &ints(&xs)).unwrap(), l.clone());
        let at = if i < 0 { xs.len() as i64 + i } else { i };
        let expected = usize::try_from(at).ok().and_then(|j| xs.get(j)).map(|&v| Value::Int(v));
        prop_assert_eq!(call("getitem", &[l, Value::Int(i)]).ok(), expected);
    }

    #[test]
    fn string_ops_match_std(a in ".{0,8}", b in ".{0,8}") {
        let ab = [Value::from(a.as_str()), Value::from(b.as_str())];
        prop_assert_eq!(call("str_concat", &ab).unwrap(), Value::from(format!("{a}{b}")));
        prop_assert_eq!(call("len", &ab[..1]).unwrap(), Value::Int(a.chars().count() as i64));
        prop_assert_eq!(call("lt", &ab).unwrap(), Value::Bool(a < b));
        prop_assert_eq!(call("eq", &ab).unwrap(), Value::Bool(a == b));
        prop_assert_eq!(call("max", &[Value::list(ab.to_vec())]).unwrap(), Value::from(a.clone().max(b.clone())));
    }
}

#[test]
fn remaining_builtins_match_direct_computation() {
    let t = Value::Bool(true);
    let f = Value::Bool(false);
    assert_eq!(
        call("identity", &[Value::from("x")]).unwrap(),
        Value::from("x")
    );
    assert_eq!(call("not", std::slice::from_ref(&t)).unwrap(), f);
    for a in [false, true] {
        for b in [false, true] {
            let ab = [Value::Bool(a), Value::Bool(b)];
            assert_eq!(call("and", &ab).unwrap(), Value::Bool(a && b));
            assert_eq!(call("or", &ab).unwrap(), Value::Bool(a || b));
        }
    }
    assert_eq!(call("and", &[]).unwrap(), t);
    assert_eq!(call("or", &[]).unwrap(), f);
    assert_eq!(
        call("int", &[Value::from(" -42 ")]).unwrap(),
        Value::Int("-42".parse().unwrap())
    );
    assert_eq!(call("int", &[t]).unwrap(), Value::Int(1));
    assert_eq!(
        call("float", &[Value::from("2.5e3")]).unwrap(),
        Value::Float("2.5e3".parse().unwrap())
    );
    assert_eq!(
        call("eq", &[Value::Int(2), Value::Float(2.0)]).unwrap(),
        Value::Bool(true)
    );
    assert_eq!(
        call("eq", &[Value::Float(f64::NAN), Value::Float(f64::NAN)]).unwrap(),
        Value::Bool(false)
    );
    assert_eq!(call("add", &[]).unwrap(), Value::Int(0));
    assert_eq!(call("mul", &[]).unwrap(), Value::Int(1));
    assert_eq!(call("pow", &ints(&[2, -1])).unwrap(), Value::Float(0.5));
    assert_eq!(
        call("pow", &ints(&[2, 62])).unwrap(),
        Value::Int(1i64 << 62)
    );
    assert_eq!(call("mod", &ints(&[i64::MIN, -1])).unwrap(), Value::Int(0));
    assert!(call("floordiv", &ints(&[i64::MIN, -1])).is_err());
    assert_eq!(
        call(
            "max",
            &[Value::list([Value::Int(1), Value::Float(f64::NAN)])]
        )
        .unwrap()
        .as_float()
        .map(f64::is_nan),
        Some(true)
    );
    assert_eq!(
        call("min", &[Value::list([Value::Int(2), Value::Float(1.5)])]).unwrap(),
        Value::Float(1.5)
    );
    let t0 = std::time::Instant::now();
    assert_eq!(
        call("spin", &ints(&[2_000_000])).unwrap(),
        Value::Int(2_000_000)
    );
    assert!(t0.elapsed() >= std::time::Duration::from_millis(2));
    let t0 = std::time::Instant::now();
    assert_eq!(
        call("sleep", &[Value::Int(2_000_000), Value::Unit]).unwrap(),
        Value::Int(2_000_000)
    );
    assert!(t0.elapsed() >= std::time::Duration::from_millis(2));
    assert_eq!(call("fail", &[Value::from("boom")]).unwrap_err(), "boom");
    let panicked = std::panic::catch_unwind(|| op("panic").call(&[Value::from("bang")]));
    let payload = panicked.unwrap_err();
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("bang")
    );
}

/// The tests above name every builtin; a new builtin without a test fails here.
#[test]
fn every_builtin_is_tested() {
    let source = include_str!("spec.rs");
    let arrays = include_str!("spec_array.rs"); // the array.* ops are tested there
    let untested: BTreeSet<&str> = Registry::builtins()
        .iter()
        .map(|e| e.op.name())
        .filter(|name| !source.contains(&format!("call(\"{name}\"")))
        .filter(|name| !(name.starts_with("array.") && arrays.contains(&format!("\"{name}\""))))
        .filter(|&name| name != "panic") // called through op("panic") above
        .collect();
    assert!(untested.is_empty(), "builtins without a test: {untested:?}");
}

#[test]
fn spec_runs_the_same_on_both_executors() {
    let spec = Spec::read_file(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/specs/arith.json"),
    )
    .unwrap();
    let plan = blockwork::Plan::new(spec.graph(), &spec.targets()).unwrap();
    let seq = Sequential::new().run(&plan).unwrap();
    let par = Pool::new(2).unwrap().run(&plan).unwrap();
    assert_eq!(seq.values, par.values);
    // w = (1 + 1) * 10 + 0.5 + len([3, 1, 4, 1, 5])
    assert_eq!(
        seq.values[0],
        Value::Float((1 + 1) as f64 * 10.0 + 0.5 + 5.0)
    );
}

// ---- errors carry JSON paths ----------------------------------------------------------------

#[test]
fn errors_point_at_the_problem() {
    let cases: &[(&str, SpecErrorKind, &str, &str)] = &[
        (
            r#"{"nodes": [{"key": "a", "literal": 1}, {"key": "b", "op": "add", "args": [1, {"op": "inc", "args": [{"ref": "zz"}]}]}]}"#,
            SpecErrorKind::MissingKey,
            "$.nodes[1].args[1].args[0].ref",
            "missing key zz (referenced by b)",
        ),
        (
            r#"{"nodes": {"my key": {"op": "ad"}}}"#,
            SpecErrorKind::UnknownOp,
            "$.nodes[\"my key\"].op",
            "unknown op 'ad' in node my key",
        ),
        (
            r#"{"nodes": [{"key": ["t", 1], "op": "inc", "args": [1, 2]}]}"#,
            SpecErrorKind::Arity,
            "$.nodes[0].args",
            "op 'inc' takes 1 arguments, got 2 (in node ('t', 1))",
        ),
        (
            r#"{"nodes": [{"key": ["t", 1.5], "literal": 1}]}"#,
            SpecErrorKind::BadKey,
            "$.nodes[0].key",
            "element 1 of a tuple key is a float",
        ),
        (
            r#"{"nodes": [{"key": "a", "op": "inc", "args": [{"ref": "b"}]}, {"key": "b", "op": "inc", "args": [{"ref": "a"}]}]}"#,
            SpecErrorKind::Cycle,
            "$.nodes[0]",
            "a -> b -> a",
        ),
    ];
    for (text, kind, path, message) in cases {
        let e = Spec::from_json(text).unwrap_err();
        assert_eq!((e.kind(), e.path()), (*kind, *path), "{e}");
        assert!(e.to_string().contains(message), "{e} should say {message}");
        let general: blockwork::Error = e.into();
        assert!(general.to_string().contains(path));
    }
}

#[test]
fn code_built_graphs_with_foreign_ops_do_not_write() {
    let mut b = GraphBuilder::new();
    b.task("x", &Op::typed("mine", |x: i64| x), [Arg::lit(1)])
        .unwrap();
    let e = Spec::new(b.build(), ["x"]).to_json().unwrap_err();
    assert_eq!(
        (e.kind(), e.path()),
        (SpecErrorKind::Unserializable, "$.nodes[0].op")
    );
    // A registry that has the op writes and reads it.
    let mine = Op::typed("mine", |x: i64| x);
    let mut reg = Registry::with_builtins();
    reg.register(mine.clone(), blockwork::spec::Arity::exactly(1), "mine")
        .unwrap();
    let mut b = GraphBuilder::new();
    b.task("x", &mine, [Arg::lit(1)]).unwrap();
    let spec = Spec::new(b.build(), ["x"]);
    let text = spec.to_json_with(&reg).unwrap();
    assert_eq!(Spec::from_slice_with(text.as_bytes(), &reg).unwrap(), spec);
}
