//! The value budget: builtins that grow values, compare them or convert them refuse sizes over
//! [`Limits`] with `TooLarge`; spec files are read up to a size cap.

use blockwork::spec::{Limits, Registry, Spec, SpecErrorKind};
use blockwork::{ErrorKind, Executor, Pool, Sequential, Value};

fn run_with(reg: &Registry, text: &str, key: &str) -> blockwork::Result<Value> {
    let spec = Spec::from_slice_with(text.as_bytes(), reg).unwrap();
    Sequential::new().get(spec.graph(), key)
}

/// `levels` nodes `x1..`, each an op of `width` references to the one below, over `base`.
fn doubling(op: &str, base: &str, levels: usize, width: usize) -> String {
    doubling_then(op, base, levels, width, None)
}

/// As [`doubling`], with one more node at the end.
fn doubling_then(op: &str, base: &str, levels: usize, width: usize, last: Option<&str>) -> String {
    let mut nodes = vec![format!(r#"{{"key": "x0", "literal": {base}}}"#)];
    for i in 1..=levels {
        let args = vec![format!(r#"{{"ref": "x{}"}}"#, i - 1); width].join(",");
        nodes.push(format!(
            r#"{{"key": "x{i}", "op": "{op}", "args": [{args}]}}"#
        ));
    }
    nodes.extend(last.map(str::to_owned));
    format!(r#"{{"nodes": [{}]}}"#, nodes.join(","))
}

const SMALL: Limits = Limits {
    max_value_bytes: 1 << 20,
};

#[test]
fn concat_and_str_concat_stop_at_the_budget() {
    let reg = Registry::builtins_with_limits(SMALL);
    for (op, base) in [("concat", "[1, 2, 3, 4]"), ("str_concat", "\"abcd\"")] {
        let text = doubling(op, base, 40, 2);
        let err = run_with(&reg, &text, "x40").unwrap_err();
        assert_eq!(err.task_cause(), Some(ErrorKind::TooLarge), "{op}: {err}");
        // Within the budget the result is what a loop builds.
        let v = run_with(&reg, &text, "x10").unwrap();
        match &v {
            Value::List(l) => assert_eq!(l.len(), 4 << 10),
            Value::Str(s) => assert_eq!(&**s, "abcd".repeat(1 << 10)),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn list_stops_at_the_budget() {
    // The list's own slot and one per element: [1, 2, 3] is 96 bytes.
    let reg = Registry::builtins_with_limits(Limits {
        max_value_bytes: 24 * 4,
    });
    let ok = run_with(
        &reg,
        r#"{"nodes": [{"key": "a", "op": "list", "args": [1, 2, 3]}]}"#,
        "a",
    );
    assert_eq!(ok.unwrap(), Value::list([1i64, 2, 3]));
    let err = run_with(
        &reg,
        r#"{"nodes": [{"key": "a", "op": "list", "args": [1, 2, 3, 4]}]}"#,
        "a",
    )
    .unwrap_err();
    assert_eq!(err.task_cause(), Some(ErrorKind::TooLarge));
}

#[test]
fn eq_compares_lists_as_their_elements() {
    let cases = [
        ("[1]", "[1.0]", true),
        ("1", "1.0", true),
        ("[[1, 2], 3]", "[[1.0, 2], 3.0]", true),
        ("[1, 2]", "[1, 2.5]", false),
        ("[\"a\"]", "[\"a\"]", true),
        ("[[]]", "[[]]", true),
        ("[[1]]", "[1]", false),
    ];
    for (a, b, expected) in cases {
        for (op, want) in [("eq", expected), ("ne", !expected)] {
            let text = format!(
                r#"{{"nodes": [{{"key": "r", "op": "{op}", "args": [{{"op": "identity", "args": [{a}]}}, {b}]}}]}}"#
            );
            let got = run_with(Registry::builtins(), &text, "r").unwrap();
            assert_eq!(got, Value::Bool(want), "{op}({a}, {b})");
        }
    }
    // NaN: unequal to itself, as a scalar and inside a list, also when the list is shared.
    let text = r#"{"nodes": [
        {"key": "n", "literal": {"float": "nan"}},
        {"key": "l", "op": "list", "args": [{"ref": "n"}]},
        {"key": "scalar", "op": "eq", "args": [{"ref": "n"}, {"ref": "n"}]},
        {"key": "lists", "op": "eq", "args": [{"ref": "l"}, {"ref": "l"}]},
        {"key": "nested", "op": "eq", "args": [[{"ref": "l"}], [{"ref": "l"}]]}
    ]}"#;
    for key in ["scalar", "lists", "nested"] {
        assert_eq!(
            run_with(Registry::builtins(), text, key).unwrap(),
            Value::Bool(false),
            "{key}"
        );
    }
}

/// `levels` doublings of `base`: a list shared twice at every level, tiny in memory and
/// 2^levels leaves written out. (The `list` builtin refuses to build it past the budget;
/// code can.)
fn tower(base: Value, levels: usize) -> Value {
    (0..levels).fold(base, |t, _| Value::list([t.clone(), t]))
}

/// Runs the registry's `op` on the given literal arguments.
fn run_op(reg: &Registry, op: &str, args: Vec<Value>) -> blockwork::Result<Value> {
    let mut g = blockwork::GraphBuilder::new();
    let op = reg.get(op).expect("a builtin").op.clone();
    g.task("r", &op, args.into_iter().map(blockwork::Arg::lit))
        .unwrap();
    Sequential::new().get(&g.build(), "r")
}

#[test]
fn eq_on_lists_shared_2_to_the_59_wide_is_quick() {
    // Two separately built towers of 59 doublings: 2^59 leaves each.
    let (a, b) = (tower(Value::Int(1), 59), tower(Value::Float(1.0), 59));
    let reg = Registry::builtins_with_limits(SMALL);
    assert_eq!(run_op(&reg, "eq", vec![a, b]).unwrap(), Value::Bool(true));
}

#[test]
fn list_refuses_a_tower_of_shared_lists() {
    // Each level doubles the written-out size; the budget of 1 MiB holds about 2^15 leaves.
    let text = doubling("list", "0", 59, 2);
    let reg = Registry::builtins_with_limits(SMALL);
    let err = run_with(&reg, &text, "x59").unwrap_err();
    assert_eq!(err.task_cause(), Some(ErrorKind::TooLarge), "{err}");
    let small = run_with(&reg, &text, "x3").unwrap();
    assert_eq!(small, tower(Value::Int(0), 3));
}

#[test]
fn eq_past_the_budget_is_too_large() {
    let reg = Registry::builtins_with_limits(Limits {
        max_value_bytes: 24 * 100,
    });
    let items: Vec<String> = (0..200).map(|i| i.to_string()).collect();
    let list = format!("[{}]", items.join(","));
    let text = format!(
        r#"{{"nodes": [{{"key": "r", "op": "eq", "args": [{{"op": "identity", "args": [{list}]}}, {list}]}}]}}"#
    );
    let err = run_with(&reg, &text, "r").unwrap_err();
    assert_eq!(err.task_cause(), Some(ErrorKind::TooLarge));
    assert_eq!(
        run_with(Registry::builtins(), &text, "r").unwrap(),
        Value::Bool(true)
    );
}

#[test]
fn from_list_of_a_list_shared_1000_to_the_4_ways_is_too_large() {
    // Built in code: the `list` builtin refuses it (at the second level) in a spec.
    let shared = (0..4).fold(Value::Float(0.5), |t, _| Value::list(vec![t; 1000]));
    let reg = Registry::builtins_with_limits(SMALL);
    let err = run_op(&reg, "array.from_list", vec![shared]).unwrap_err();
    assert_eq!(err.task_cause(), Some(ErrorKind::TooLarge), "{err}");
    assert_eq!(err.task_key(), Some(&blockwork::Key::from("r")), "{err}");
    // A list deeper than any array is a shape error, not a stack overflow.
    let deep = doubling_then(
        "list",
        "0.5",
        200,
        1,
        Some(r#"{"key": "arr", "op": "array.from_list", "args": [{"ref": "x200"}]}"#),
    );
    let spec = Spec::from_slice_with(deep.as_bytes(), &reg).unwrap();
    let err = Pool::builder()
        .threads(2)
        .build()
        .unwrap()
        .get(spec.graph(), "arr")
        .unwrap_err();
    assert_eq!(err.task_cause(), Some(ErrorKind::Shape), "{err}");
}

#[test]
fn spec_size_is_capped() {
    let text = br#"{"nodes": [{"key": "x", "literal": 1}]}"#;
    let reg = Registry::builtins();
    assert!(Spec::read_from(&text[..], "t", reg, text.len() as u64).is_ok());
    let err = Spec::read_from(&text[..], "t", reg, text.len() as u64 - 1).unwrap_err();
    assert_eq!(err.kind(), SpecErrorKind::TooLarge);
    if std::path::Path::new("/dev/zero").exists() {
        let err = Spec::read_file_with("/dev/zero", reg, 1 << 16).unwrap_err();
        assert_eq!(err.kind(), SpecErrorKind::TooLarge);
    }
}

#[test]
fn messages_do_not_print_huge_shared_lists() {
    // `fail` and `sleep` show their argument in the error; a tower of 59 doublings of one
    // list is tiny in memory and 2^59 elements written out.
    for op in ["fail", "sleep"] {
        let err = run_op(Registry::builtins(), op, vec![tower(Value::Int(0), 59)]).unwrap_err();
        assert!(err.to_string().contains("too large to show"), "{err}");
    }
    // Small values are shown as they are.
    let err = run_with(
        Registry::builtins(),
        r#"{"nodes": [{"key": "r", "op": "fail", "args": [[1, 2]]}]}"#,
        "r",
    )
    .unwrap_err();
    assert!(err.to_string().contains("[1, 2]"), "{err}");
}
