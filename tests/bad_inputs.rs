//! A catalogue of bad inputs, across spec files, graphs built in code and the command line:
//! each gives its specific error kind (or exit code) and nothing panics.

use blockwork::spec::{Spec, SpecErrorKind as S, builtin, parse_key};
use blockwork::{
    Arg, ErrorKind as E, Executor, Graph, GraphBuilder, Key, Node, Op, Plan, Pool, Sequential,
    Value,
};
use std::process::Command;

/// Spec files: (what is wrong, the file, the kind, the JSON path).
const SPEC_CASES: &[(&str, &str, S, &str)] = &[
    ("truncated JSON", r#"{"nodes": ["#, S::Syntax, "$"),
    ("empty file", "", S::Syntax, "$"),
    ("trailing garbage", r#"{"nodes": []} x"#, S::Syntax, "$"),
    ("top level is an array", "[]", S::WrongType, "$"),
    ("no nodes field", "{}", S::MissingField, "$"),
    (
        "unknown top-level field",
        r#"{"nodes": [], "nodez": 1}"#,
        S::UnknownField,
        "$.nodez",
    ),
    (
        "field given twice",
        r#"{"nodes": [], "nodes": []}"#,
        S::DuplicateField,
        "$.nodes",
    ),
    (
        "unknown format",
        r#"{"format": "blockwork-spec/9", "nodes": []}"#,
        S::UnknownFormat,
        "$.format",
    ),
    (
        "format not a string",
        r#"{"format": 1, "nodes": []}"#,
        S::WrongType,
        "$.format",
    ),
    (
        "description not a string",
        r#"{"description": [], "nodes": []}"#,
        S::WrongType,
        "$.description",
    ),
    (
        "nodes is a number",
        r#"{"nodes": 3}"#,
        S::WrongType,
        "$.nodes",
    ),
    (
        "node is not an object",
        r#"{"nodes": [1]}"#,
        S::WrongType,
        "$.nodes[0]",
    ),
    (
        "node without a key",
        r#"{"nodes": [{"literal": 1}]}"#,
        S::MissingField,
        "$.nodes[0]",
    ),
    (
        "numeric key",
        r#"{"nodes": [{"key": 5, "literal": 1}]}"#,
        S::BadKey,
        "$.nodes[0].key",
    ),
    (
        "float atom in a tuple key",
        r#"{"nodes": [{"key": ["x", 1.5], "literal": 1}]}"#,
        S::BadKey,
        "$.nodes[0].key",
    ),
    (
        "empty tuple key",
        r#"{"nodes": [{"key": [], "literal": 1}]}"#,
        S::BadKey,
        "$.nodes[0].key",
    ),
    (
        "duplicate string key",
        r#"{"nodes": [{"key": "a", "literal": 1}, {"key": "a", "literal": 2}]}"#,
        S::DuplicateKey,
        "$.nodes[1]",
    ),
    (
        "duplicate tuple key",
        r#"{"nodes": [{"key": ["x", 0], "literal": 1}, {"key": ["x", 0], "literal": 2}]}"#,
        S::DuplicateKey,
        "$.nodes[1]",
    ),
    (
        "node with nothing",
        r#"{"nodes": [{"key": "a"}]}"#,
        S::AmbiguousNode,
        "$.nodes[0]",
    ),
    (
        "node with literal and op",
        r#"{"nodes": [{"key": "a", "literal": 1, "op": "inc"}]}"#,
        S::AmbiguousNode,
        "$.nodes[0]",
    ),
    (
        "args on a literal",
        r#"{"nodes": [{"key": "a", "literal": 1, "args": []}]}"#,
        S::AmbiguousNode,
        "$.nodes[0].args",
    ),
    (
        "unknown field in a node",
        r#"{"nodes": [{"key": "a", "literal": 1, "lteral": 2}]}"#,
        S::UnknownField,
        "$.nodes[0].lteral",
    ),
    (
        "unknown op",
        r#"{"nodes": [{"key": "a", "op": "frobnicate"}]}"#,
        S::UnknownOp,
        "$.nodes[0].op",
    ),
    (
        "unknown nested op",
        r#"{"nodes": [{"key": "a", "op": "inc", "args": [{"op": "nope"}]}]}"#,
        S::UnknownOp,
        "$.nodes[0].args[0].op",
    ),
    (
        "op is not a string",
        r#"{"nodes": [{"key": "a", "op": ["inc"]}]}"#,
        S::WrongType,
        "$.nodes[0].op",
    ),
    (
        "args is not an array",
        r#"{"nodes": [{"key": "a", "op": "inc", "args": 1}]}"#,
        S::WrongType,
        "$.nodes[0].args",
    ),
    (
        "too many arguments",
        r#"{"nodes": [{"key": "a", "op": "inc", "args": [1, 2]}]}"#,
        S::Arity,
        "$.nodes[0].args",
    ),
    (
        "too few arguments",
        r#"{"nodes": [{"key": "a", "op": "sub", "args": [1]}]}"#,
        S::Arity,
        "$.nodes[0].args",
    ),
    (
        "wrong arity when nested",
        r#"{"nodes": [{"key": "a", "op": "inc", "args": [{"op": "neg"}]}]}"#,
        S::Arity,
        "$.nodes[0].args[0].args",
    ),
    (
        "reference to a missing key",
        r#"{"nodes": [{"key": "a", "op": "inc", "args": [{"ref": "b"}]}]}"#,
        S::MissingKey,
        "$.nodes[0].args[0].ref",
    ),
    (
        "reference inside a list",
        r#"{"nodes": [{"key": "a", "op": "list", "args": [[1, {"ref": ["b", 2]}]]}]}"#,
        S::MissingKey,
        "$.nodes[0].args[0][1].ref",
    ),
    (
        "alias of a missing key",
        r#"{"nodes": [{"key": "a", "alias": "b"}]}"#,
        S::MissingKey,
        "$.nodes[0].alias",
    ),
    (
        "output that is not a node",
        r#"{"nodes": [{"key": "a", "literal": 1}], "outputs": ["a", "b"]}"#,
        S::MissingKey,
        "$.outputs[1]",
    ),
    (
        "outputs not an array",
        r#"{"nodes": [], "outputs": "a"}"#,
        S::WrongType,
        "$.outputs",
    ),
    (
        "two-node cycle",
        r#"{"nodes": [{"key": "a", "op": "inc", "args": [{"ref": "b"}]}, {"key": "b", "op": "inc", "args": [{"ref": "a"}]}]}"#,
        S::Cycle,
        "$.nodes[0]",
    ),
    (
        "self reference",
        r#"{"nodes": {"a": {"op": "inc", "args": [{"ref": "a"}]}}}"#,
        S::Cycle,
        "$.nodes.a",
    ),
    (
        "alias loop",
        r#"{"nodes": [{"key": "a", "alias": "b"}, {"key": "b", "alias": "a"}]}"#,
        S::Cycle,
        "$.nodes[0]",
    ),
    (
        "integer beyond i64",
        r#"{"nodes": [{"key": "a", "literal": 9223372036854775808}]}"#,
        S::BadValue,
        "$.nodes[0].literal",
    ),
    (
        "integer beyond u64",
        r#"{"nodes": [{"key": "a", "literal": [1, 100000000000000000000]}]}"#,
        S::BadValue,
        "$.nodes[0].literal[1]",
    ),
    (
        "integer below i64",
        r#"{"nodes": [{"key": "a", "op": "add", "args": [1, -9223372036854775809]}]}"#,
        S::BadValue,
        "$.nodes[0].args[1]",
    ),
    (
        "huge integer in a nested task",
        r#"{"nodes": [{"key": "a", "op": "add", "args": [{"op": "inc", "args": [123456789012345678901234567890]}]}]}"#,
        S::BadValue,
        "$.nodes[0].args[0].args[0]",
    ),
    (
        "unknown special float",
        r#"{"nodes": [{"key": "a", "literal": {"float": "nope"}}]}"#,
        S::BadValue,
        "$.nodes[0].literal.float",
    ),
    (
        "object literal",
        r#"{"nodes": [{"key": "a", "literal": {"x": 1}}]}"#,
        S::UnknownField,
        "$.nodes[0].literal.x",
    ),
    (
        "argument object of no known form",
        r#"{"nodes": [{"key": "a", "op": "identity", "args": [{"refs": "a"}]}]}"#,
        S::UnknownField,
        "$.nodes[0].args[0].refs",
    ),
    (
        "argument with ref and lit",
        r#"{"nodes": [{"key": "a", "literal": 1}, {"key": "b", "op": "identity", "args": [{"ref": "a", "lit": 1}]}]}"#,
        S::AmbiguousNode,
        "$.nodes[1].args[0]",
    ),
    (
        "key of a reference is bad",
        r#"{"nodes": [{"key": "a", "op": "identity", "args": [{"ref": 7}]}]}"#,
        S::BadKey,
        "$.nodes[0].args[0].ref",
    ),
];

#[test]
fn spec_files() {
    assert!(SPEC_CASES.len() >= 30);
    for (what, text, kind, path) in SPEC_CASES {
        let e = Spec::from_json(text).expect_err(what);
        assert_eq!((e.kind(), e.path()), (*kind, *path), "{what}: {e}");
        assert!(!e.message().is_empty());
    }
}

#[test]
fn invalid_utf8_is_a_syntax_error() {
    let e = Spec::from_slice(b"{\"nodes\": {\"\xff\": 1}}").unwrap_err();
    assert_eq!(e.kind(), S::Syntax);
}

#[test]
fn nesting_limits() {
    // Deeper than MAX_DEPTH inside a node, but within what the JSON reader accepts.
    let deep = format!(
        r#"{{"nodes": [{{"key": "a", "literal": {}1{}}}]}}"#,
        "[".repeat(110),
        "]".repeat(110)
    );
    assert_eq!(Spec::from_json(&deep).unwrap_err().kind(), S::TooLarge);
    // Deeper than the JSON reader accepts: an error, not a stack overflow.
    let deeper = format!(
        r#"{{"nodes": [{{"key": "a", "literal": {}1{}}}]}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert_eq!(Spec::from_json(&deeper).unwrap_err().kind(), S::Syntax);
}

#[test]
fn spec_errors_convert_to_the_general_kinds() {
    let kind = |text: &str| blockwork::Error::from(Spec::from_json(text).unwrap_err()).kind();
    assert_eq!(kind(SPEC_CASES[0].1), E::Spec);
    assert_eq!(
        kind(r#"{"nodes": [{"key": "a", "alias": "b"}]}"#),
        E::MissingKey
    );
    assert_eq!(kind(r#"{"nodes": [{"key": "a", "alias": "a"}]}"#), E::Cycle);
    assert_eq!(
        kind(r#"{"nodes": [{"key": "a", "literal": 1}, {"key": "a", "literal": 1}]}"#),
        E::DuplicateKey
    );
}

#[test]
fn keys_on_the_command_line() {
    for bad in [
        "[1, 2]",
        "[]",
        "[\"x\", [1]]",
        "\"unterminated",
        "[\"x\", 0.5]",
    ] {
        assert_eq!(parse_key(bad).unwrap_err().kind(), S::BadKey, "{bad}");
    }
}

// ---- graphs built in code -------------------------------------------------------------------

fn op(name: &str) -> Op {
    builtin(name).unwrap()
}

/// Runs `args` through the builtin `name` on both executors; both must report a failed task
/// (not a panic) whose message contains `says`.
fn task_fails(name: &str, args: Vec<Arg>, says: &str) {
    let mut b = GraphBuilder::new();
    b.task("t", &op(name), args).unwrap();
    let g = b.build();
    let pool = Pool::new(2).unwrap();
    for e in [
        Sequential::new().get(&g, "t").unwrap_err(),
        pool.get(&g, "t").unwrap_err(),
    ] {
        assert_eq!(e.kind(), E::TaskFailed, "{name}: {e}");
        assert!(
            e.to_string().contains(says),
            "{name}: {e} should say {says}"
        );
        assert_eq!(e.task_key(), Some(&Key::from("t")));
    }
}

#[test]
fn builtin_ops_fail_cleanly() {
    task_fails("inc", vec![], "inc takes 1 arguments, got 0");
    task_fails(
        "add",
        vec![Arg::lit("a"), Arg::lit(1)],
        "expected a number, got str",
    );
    task_fails(
        "add",
        vec![Arg::lit(i64::MAX), Arg::lit(1)],
        "integer overflow",
    );
    task_fails(
        "mul",
        vec![Arg::lit(i64::MIN), Arg::lit(-1)],
        "integer overflow",
    );
    task_fails(
        "floordiv",
        vec![Arg::lit(1), Arg::lit(0)],
        "division by zero",
    );
    task_fails(
        "mod",
        vec![Arg::lit(1.5), Arg::lit(0.0)],
        "division by zero",
    );
    task_fails("div", vec![Arg::lit(1), Arg::lit(0)], "division by zero");
    task_fails("pow", vec![Arg::lit(2), Arg::lit(64)], "integer overflow");
    task_fails("int", vec![Arg::lit(f64::NAN)], "integer overflow");
    task_fails("int", vec![Arg::lit("12x")], "not an integer");
    task_fails(
        "min",
        vec![Arg::lit(Value::list(Vec::<Value>::new()))],
        "empty list",
    );
    task_fails(
        "max",
        vec![Arg::lit(Value::list([Value::Int(1), Value::from("a")]))],
        "cannot compare",
    );
    task_fails("sum", vec![Arg::lit(3)], "expected a list, got int");
    task_fails(
        "getitem",
        vec![Arg::list([Arg::lit(1)]), Arg::lit(-2)],
        "index -2 out of range",
    );
    task_fails(
        "lt",
        vec![Arg::lit(Value::Unit), Arg::lit(1)],
        "cannot compare unit with int",
    );
    task_fails("not", vec![Arg::lit(1)], "expected a bool");
    task_fails(
        "str_concat",
        vec![Arg::lit("a"), Arg::lit(1)],
        "expected a string",
    );
    task_fails("spin", vec![Arg::lit(-1)], "int of nanoseconds from 0 to");
    task_fails("sleep", vec![Arg::lit(i64::MAX)], "(one minute)");
    task_fails("fail", vec![], "failed on purpose");
}

#[test]
fn panicking_op_is_reported_as_a_panic() {
    let mut b = GraphBuilder::new();
    b.task("p", &op("panic"), [Arg::lit("on purpose")]).unwrap();
    let g = b.build();
    let e = Pool::new(2).unwrap().get(&g, "p").unwrap_err();
    assert_eq!(e.kind(), E::TaskPanicked);
    assert!(e.to_string().contains("on purpose"));
}

#[test]
fn graph_level_errors() {
    let mut b = GraphBuilder::new();
    b.literal("a", 1).unwrap();
    assert_eq!(
        b.literal("a", 2).err().map(|e| e.kind()),
        Some(E::DuplicateKey)
    );
    let g = b.build();
    assert_eq!(
        Plan::new(&g, &[Key::from("nope")]).unwrap_err().kind(),
        E::MissingKey
    );
    let cyclic: Graph = [
        (Key::from("x"), Node::Alias(Key::from("y"))),
        (
            Key::from("y"),
            Node::Task(blockwork::Task::new(&op("inc"), [Arg::key("x")])),
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(Plan::validate(&cyclic).unwrap_err().kind(), E::Cycle);
    assert_eq!(
        blockwork::diagnostics::GraphInfo::of(&cyclic)
            .unwrap_err()
            .kind(),
        E::Cycle
    );
    let dangling: Graph = [(Key::from("x"), Node::Alias(Key::from("gone")))]
        .into_iter()
        .collect();
    assert_eq!(
        blockwork::diagnostics::GraphInfo::of(&dangling)
            .unwrap_err()
            .kind(),
        E::MissingKey
    );
    assert_eq!(Pool::new(0).unwrap_err().kind(), E::InvalidArgument);
}

#[test]
fn graphs_that_cannot_be_written() {
    let mut b = GraphBuilder::new();
    b.literal("blob", Value::opaque(vec![1u8], 1)).unwrap();
    let e = Spec::new(b.build(), ["blob"]).to_json().unwrap_err();
    assert_eq!(
        (e.kind(), e.path()),
        (S::Unserializable, "$.nodes[0].literal")
    );
    assert_eq!(blockwork::Error::from(e).kind(), E::InvalidArgument);
    let mut b = GraphBuilder::new();
    b.task("t", &op("inc"), [Arg::lit(1), Arg::lit(2)]).unwrap();
    let e = Spec::new(b.build(), ["t"]).to_json().unwrap_err();
    assert_eq!((e.kind(), e.path()), (S::Arity, "$.nodes[0].args"));
    let mut deep = Value::Int(0);
    for _ in 0..200 {
        deep = Value::list([deep]);
    }
    let mut b = GraphBuilder::new();
    b.literal("deep", deep).unwrap();
    assert_eq!(
        Spec::new(b.build(), ["deep"]).to_json().unwrap_err().kind(),
        S::TooLarge
    );
}

// ---- the command line -----------------------------------------------------------------------

fn blockwork(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_blockwork"))
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked at"), "{args:?}: {stderr}");
    (out.status.code().expect("exited"), stderr)
}

fn write_temp(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("blockwork-bad-inputs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn command_line() {
    let example = |name: &str| format!("{}/examples/specs/{name}", env!("CARGO_MANIFEST_DIR"));
    let (arith, fail, panic) = (
        example("arith.json"),
        example("fail.json"),
        example("panic.json"),
    );
    let bad = write_temp(
        "bad.json",
        r#"{"nodes": [{"key": "a", "op": "inc", "args": [{"ref": "b"}]}]}"#,
    );
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec![], 2, "Usage"),
        (vec!["frobnicate"], 2, "unrecognized subcommand"),
        (vec!["run"], 2, "SPEC"),
        (vec!["run", &arith, "--threads", "0"], 2, "--threads"),
        (
            vec!["run", &arith, "--sequential", "--threads", "2"],
            2,
            "cannot be used with",
        ),
        (
            vec!["run", "/nonexistent/spec.json"],
            2,
            "cannot read /nonexistent/spec.json",
        ),
        (
            vec!["run", &bad],
            2,
            "at $.nodes[0].args[0].ref: missing key b (referenced by a) [MissingKey]",
        ),
        (vec!["info", &bad], 2, "$.nodes[0].args[0].ref"),
        (vec!["dot", &bad], 2, "$.nodes[0].args[0].ref"),
        (vec!["run", &arith, "--get", "nope"], 2, "missing key nope"),
        (
            vec!["run", &arith, "--get", "[1]"],
            2,
            "tuple key starts with its name",
        ),
        (
            vec!["dot", &arith, "-o", "picture.txt"],
            2,
            "cannot tell the format",
        ),
        (
            vec!["bench", "--workload", "array_z"],
            3,
            "unsupported workload 'array_z'",
        ),
        (
            vec![
                "bench",
                "--workload",
                "wordcount",
                "--data",
                "/nonexistent-dir",
            ],
            2,
            "no corpus",
        ),
        (vec!["bench", "--n", "lots"], 2, "not a task count"),
        (vec!["bench", "--reps", "0"], 2, "--reps"),
        (
            vec!["run", &fail],
            1,
            "task bad (fail) failed: this task fails on purpose [TaskFailed]",
        ),
        (
            vec!["run", &panic],
            1,
            "task boom (panic) panicked: this task panics on purpose [TaskPanicked]",
        ),
        (vec!["run", &panic, "--sequential"], 1, "[TaskPanicked]"),
    ];
    for (args, code, says) in cases {
        let (got, stderr) = blockwork(&args);
        assert_eq!(got, code, "{args:?}: {stderr}");
        assert!(
            stderr.contains(says),
            "{args:?}: {stderr:?} should say {says:?}"
        );
    }
}
