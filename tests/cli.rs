//! The `blockwork` binary on the example specs: run, info, dot, bench and ops, checked against
//! the library and against independent counts.

use blockwork::spec::{Spec, key_text, parse_key, value_to_json};
use blockwork::{Executor, Key, Plan, Sequential};
use serde_json::Value as J;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn example(name: &str) -> String {
    format!("{}/examples/specs/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn blockwork(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_blockwork"))
        .args(args)
        .output()
        .unwrap()
}

fn ok_stdout(args: &[&str]) -> String {
    let out = blockwork(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("blockwork-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What `run` should print: the spec's targets computed by the library's sequential executor.
fn expected_run(path: &str, keys: Option<Vec<blockwork::Key>>) -> J {
    let spec = Spec::read_file(path).unwrap();
    let keys = keys.unwrap_or_else(|| spec.targets());
    let out = Sequential::new()
        .run(&Plan::new(spec.graph(), &keys).unwrap())
        .unwrap();
    let mut m = serde_json::Map::new();
    for (k, v) in keys.iter().zip(&out.values) {
        m.insert(key_text(k), value_to_json(v).unwrap());
    }
    J::Object(m)
}

#[test]
fn run_prints_the_outputs_as_json() {
    for name in ["arith.json", "objects.json", "spin.json", "array.json"] {
        let path = example(name);
        let expected = expected_run(&path, None);
        for extra in [
            &[][..],
            &["--sequential"],
            &["--threads", "1"],
            &["--threads", "3", "--no-pin"],
            &["--progress", "--stats"],
        ] {
            let args: Vec<&str> = ["run", path.as_str()]
                .iter()
                .copied()
                .chain(extra.iter().copied())
                .collect();
            let got: J = serde_json::from_str(&ok_stdout(&args)).unwrap();
            assert_eq!(got, expected, "{args:?}");
        }
    }
}

#[test]
fn run_gets_requested_keys_in_order() {
    let path = example("arith.json");
    let out = ok_stdout(&[
        "run",
        &path,
        "--get",
        "[\"y\", 1]",
        "--get",
        "x",
        "--get",
        "\"x\"",
    ]);
    let expected = expected_run(&path, Some(vec![("y", 1).into(), "x".into()]));
    assert_eq!(serde_json::from_str::<J>(&out).unwrap(), expected);
    let y1 = out.find(r#""[\"y\",1]""#).unwrap();
    assert!(y1 < out.find("\"x\"").unwrap(), "request order kept: {out}");
}

#[test]
fn run_reads_standard_input() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_blockwork"))
        .args(["run", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        br#"{"nodes": {"a": 2, "b": {"op": "pow", "args": [{"ref": "a"}, 10]}}}"#,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        serde_json::from_slice::<J>(&out.stdout).unwrap(),
        serde_json::json!({"b": 2i64.pow(10)})
    );
}

#[test]
fn profile_is_a_chrome_trace_with_one_slice_per_task() {
    let trace = temp_dir().join("trace.json");
    let path = example("spin.json");
    ok_stdout(&[
        "run",
        &path,
        "--threads",
        "2",
        "--profile",
        trace.to_str().unwrap(),
    ]);
    let t: J = serde_json::from_slice(&std::fs::read(&trace).unwrap()).unwrap();
    let events = t["traceEvents"].as_array().unwrap();
    let slices: Vec<&J> = events.iter().filter(|e| e["ph"] == "X").collect();
    let spec = Spec::read_file(&path).unwrap();
    assert_eq!(slices.len(), spec.graph().len(), "one slice per task");
    let mut names: Vec<String> = slices
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    let mut keys: Vec<String> = spec.graph().keys().map(|k| k.to_string()).collect();
    keys.sort();
    assert_eq!(names, keys);
    for e in &slices {
        let op = e["cat"].as_str().unwrap();
        assert!(op == "spin" || op == "add", "{e}");
        assert!(e["tid"].as_u64().unwrap() < 2);
        assert!(
            e["dur"].as_f64().unwrap() >= if op == "spin" { 1000.0 } else { 0.0 },
            "a spin lasts 1 ms: {e}"
        );
    }
    let lanes = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .count();
    assert!((1..=2).contains(&lanes));
}

/// A benchmark shape as a spec file: its ops are written under their names, which the
/// builtins share.
fn shape_json(spec: Spec) -> String {
    use blockwork::bench_shapes::{add_u32, inc_u32};
    use blockwork::spec::{Arity, Registry};
    let mut reg = Registry::new();
    reg.register(inc_u32(), Arity::exactly(1), "inc").unwrap();
    reg.register(add_u32(), Arity::at_least(0), "add").unwrap();
    spec.to_json_with(&reg).unwrap()
}

/// `info` on shapes whose numbers follow from their definition.
#[test]
fn info_measures_known_shapes() {
    let dir = temp_dir();
    // (shape, n, nodes, edges, depth, width, critical path)
    let cases = [
        ("chain", 50, 50, 49, 50, 1, 50),
        ("tree", 16, 31, 30, 5, 16, 5),
        ("wavefront", 16, 16, 24, 7, 4, 7),
    ];
    for (name, n, nodes, edges, depth, width, critical) in cases {
        let (g, out) = blockwork::bench_shapes::shape(name, n).unwrap();
        let file = dir.join(format!("{name}.json"));
        std::fs::write(&file, shape_json(Spec::new(g, out))).unwrap();
        let info: J =
            serde_json::from_str(&ok_stdout(&["info", "--json", file.to_str().unwrap()])).unwrap();
        let got = [
            &info["nodes"],
            &info["edges"],
            &info["depth"],
            &info["width"],
            &info["critical_path_length"],
        ]
        .map(|v| v.as_u64().unwrap());
        assert_eq!(got, [nodes, edges, depth, width, critical], "{name}");
        let text = ok_stdout(&["info", file.to_str().unwrap()]);
        assert!(text.contains(&format!("depth:          {depth}")), "{text}");
    }
}

#[test]
fn info_counts_the_file() {
    let path = example("arith.json");
    let raw: J = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let nodes = raw["nodes"].as_array().unwrap();
    let count = |field: &str| nodes.iter().filter(|n| n.get(field).is_some()).count() as u64;
    let info: J = serde_json::from_str(&ok_stdout(&["info", "--json", &path])).unwrap();
    assert_eq!(info["nodes"].as_u64(), Some(nodes.len() as u64));
    assert_eq!(info["tasks"].as_u64(), Some(count("op")));
    assert_eq!(info["literals"].as_u64(), Some(count("literal")));
    assert_eq!(info["aliases"].as_u64(), Some(count("alias")));
    let text = std::fs::read_to_string(&path).unwrap();
    let op_uses = text.matches("\"op\":").count() as u64;
    let total: u64 = info["ops"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, op_uses, "every op use, nested ones included");
    assert_eq!(info["nested_tasks"].as_u64(), Some(op_uses - count("op")));
}

#[test]
fn dot_draws_every_node_and_edge() {
    let path = example("objects.json");
    let dot = ok_stdout(&["dot", &path]);
    let spec = Spec::read_file(&path).unwrap();
    assert!(dot.starts_with("digraph blockwork {"));
    assert_eq!(dot.matches("[label=").count(), spec.graph().len());
    let edges: usize = spec
        .graph()
        .iter()
        .map(|(_, n)| n.dependencies().len())
        .sum();
    assert_eq!(dot.matches(" -> ").count(), edges);
    let out = temp_dir().join("g.dot");
    ok_stdout(&["dot", &path, "-o", out.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), dot);
}

#[test]
fn dot_renders_svg_when_graphviz_is_installed() {
    let has_dot = Command::new("dot")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    let out = temp_dir().join("g.svg");
    let run = blockwork(&["dot", &example("arith.json"), "-o", out.to_str().unwrap()]);
    if !has_dot {
        eprintln!("Graphviz `dot` is not installed: checking only that the failure is reported");
        assert_eq!(run.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&run.stderr).contains("install graphviz"));
        return;
    }
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(std::fs::read_to_string(&out).unwrap().contains("<svg"));
}

/// The benchmark's JSON lines follow the harness's contract and compute what the shapes
/// compute (sums wrapping at 2^32).
#[test]
fn bench_json_lines() {
    let n = 1000u64;
    let expected = [
        ("independent", n * (n + 1) / 2 % (1 << 32)),
        ("chain", n),
        ("tree", n * (n + 1) / 2 % (1 << 32)),
    ];
    for (w, check) in expected {
        let out = ok_stdout(&[
            "bench",
            "--workload",
            w,
            "--n",
            "1e3",
            "--threads",
            "2",
            "--json",
        ]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 1, "{out}");
        let r: J = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(
            (
                r["engine"].as_str(),
                r["workload"].as_str(),
                r["n"].as_u64()
            ),
            (Some("blockwork"), Some(w), Some(n))
        );
        assert!(r["seconds"].as_f64().unwrap() > 0.0);
        assert!(r["peak_rss_bytes"].as_u64().unwrap() > 0);
        assert_eq!(r["check"].as_u64(), Some(check), "{w}");
    }
    let out = ok_stdout(&[
        "bench",
        "--workload",
        "latency10",
        "--reps",
        "50",
        "--json",
        "--threads",
        "2",
    ]);
    let r: J = serde_json::from_str(out.trim()).unwrap();
    assert_eq!((r["n"].as_u64(), r["tasks"].as_u64()), (Some(10), Some(10)));
    // root = 1; mid_i = 1 + i; join = sum of the mids
    assert_eq!(r["check"].as_u64(), Some((0..8).map(|i| 1 + i).sum()));
}

#[test]
fn bench_table_lists_every_shape() {
    let out = ok_stdout(&["bench", "--n", "2000", "--threads", "2", "--reps", "1"]);
    for w in [
        "independent",
        "chain",
        "tree",
        "wavefront",
        "random_dag",
        "latency10",
    ] {
        assert!(out.lines().any(|l| l.starts_with(w)), "{w} in\n{out}");
    }
}

#[test]
fn ops_and_version() {
    let ops = ok_stdout(&["ops"]);
    for e in blockwork::spec::Registry::builtins().iter() {
        assert!(
            ops.lines()
                .any(|l| l.split_whitespace().next() == Some(e.op.name())),
            "{}",
            e.op.name()
        );
    }
    assert!(ok_stdout(&["--version"]).contains(env!("CARGO_PKG_VERSION")));
}

/// `ops` is a table: a header, then one row per builtin, each column starting where the
/// header's does.
#[test]
fn ops_is_an_aligned_table() {
    let ops = ok_stdout(&["ops"]);
    let mut lines = ops.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("OP "), "{header}");
    let args_col = header.find("ARGUMENTS").expect("an arguments column");
    let doc_col = header.find("DESCRIPTION").expect("a description column");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), blockwork::spec::Registry::builtins().len());
    for (row, e) in rows
        .iter()
        .zip(blockwork::spec::Registry::builtins().iter())
    {
        let at = |i: usize| row[i..].chars().next().unwrap();
        assert!(row.starts_with(e.op.name()), "{row}");
        for col in [args_col, doc_col] {
            assert!(row.is_char_boundary(col), "{row}");
            assert!(at(col) != ' ' && row[..col].ends_with("  "), "{row}");
        }
        assert!(row[args_col..].starts_with(&e.arity.to_string()), "{row}");
        assert!(row[doc_col..].starts_with(e.doc), "{row}");
    }
}

/// No string in a record is a Rust debug rendering: numbers and objects are JSON ones.
fn assert_plain_json(v: &J) {
    match v {
        J::String(s) => assert!(
            !s.contains(['{', '}', '(', ')']) && !s.contains("::"),
            "a debug string: {s:?}"
        ),
        J::Array(items) => items.iter().for_each(assert_plain_json),
        J::Object(map) => map.values().for_each(assert_plain_json),
        _ => {}
    }
}

/// Runs `bench --json` with `args` and returns its one JSON line, checking the fields the
/// harness requires.
fn bench_record(workload: &str, args: &[&str]) -> J {
    let mut all = vec!["bench", "--workload", workload, "--threads", "2", "--json"];
    all.extend_from_slice(args);
    let out = ok_stdout(&all);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    let r: J = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(
        (r["engine"].as_str(), r["workload"].as_str()),
        (Some("blockwork"), Some(workload))
    );
    assert!(r["seconds"].as_f64().unwrap() > 0.0, "{r}");
    assert!(r["peak_rss_bytes"].as_u64().unwrap() > 0, "{r}");
    assert_plain_json(&r);
    r
}

/// An input of the array workloads as a plain row-major matrix (the generator's values depend
/// only on the seed and the position, not on the chunking).
fn random_matrix(n: usize, seed: u64) -> Vec<Vec<f64>> {
    let a = blockwork::array::ArrayContext::new()
        .random(&[n, n], n, seed)
        .unwrap()
        .compute::<f64>(&blockwork::Sequential::new())
        .unwrap();
    let flat: Vec<f64> = a.iter().copied().collect();
    flat.chunks(n).map(<[f64]>::to_vec).collect()
}

/// `Workload::value` of a result matrix, by loops: sum of z[i][j] ((i + 1) + 2 (j + 1)).
fn weighted_matrix(n: usize, z: impl Fn(usize, usize) -> f64) -> f64 {
    let mut s = 0.0;
    for i in 0..n {
        for j in 0..n {
            s += z(i, j) * ((i + 1) + 2 * (j + 1)) as f64;
        }
    }
    s
}

/// What each array case computes, by naive loops over the same inputs.
fn expected_array_value(case: char, n: usize) -> f64 {
    use blockwork::array::bench::{E_MARGIN, RANDOM_SEED, SEED};
    let nn = (n * n) as f64;
    let mean = |m: &[Vec<f64>]| m.iter().flatten().sum::<f64>() / nn;
    match case {
        'a' | 'd' => {
            let (x, y) = (random_matrix(n, SEED), random_matrix(n, SEED + 1));
            if case == 'a' {
                weighted_matrix(n, |i, j| (x[i][j] + 1.0) * 2.0 - y[i][j])
            } else {
                weighted_matrix(n, |i, j| (0..n).map(|k| x[i][k] * y[k][j]).sum())
            }
        }
        'b' => random_matrix(n, RANDOM_SEED).iter().flatten().sum(),
        'g' => mean(&random_matrix(n, RANDOM_SEED)),
        'c' => {
            let x = random_matrix(n, SEED);
            (0..n)
                .map(|j| (j + 1) as f64 * (0..n).map(|i| x[i][j] + x[j][i]).sum::<f64>())
                .sum()
        }
        'e' => {
            let x = random_matrix(n, SEED);
            let picked: Vec<f64> = (0..n)
                .step_by(2)
                .flat_map(|i| x[i][E_MARGIN..n - E_MARGIN].to_vec())
                .collect();
            picked.iter().sum::<f64>() / picked.len() as f64
        }
        'f' => {
            let x = random_matrix(n, SEED);
            let m = mean(&x);
            (x.iter().flatten().map(|v| (v - m) * (v - m)).sum::<f64>() / nn).sqrt()
        }
        _ => unreachable!(),
    }
}

/// `array_a` .. `array_g` at small sides: the harness's fields, the chunking it asks for, and
/// the answer (`value`) against naive loops; no `check` (the other engines print none).
#[test]
fn bench_array_workloads() {
    for (case, n) in [
        ('a', 37),
        ('b', 50),
        ('c', 41),
        ('d', 36),
        ('e', 230),
        ('f', 45),
        ('g', 60),
    ] {
        let w = format!("array_{case}");
        let r = bench_record(&w, &["--n", &n.to_string()]);
        assert_eq!(r["n"].as_u64(), Some(n as u64), "{r}");
        let chunk = if case == 'd' { n / 4 } else { n / 10 };
        assert_eq!(r["chunk"].as_u64(), Some(chunk as u64), "{r}");
        assert!(r.get("check").is_none(), "{r}");
        let pool = &r["buffer_pool"];
        for field in ["hits", "misses", "held_bytes"] {
            assert!(pool[field].is_u64(), "buffer_pool.{field}: {r}");
        }
        let (got, want) = (r["value"].as_f64().unwrap(), expected_array_value(case, n));
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{w}: {got} != {want}"
        );
    }
}

/// The 1-d cases at small sizes: the chunking, and `value` against the same inputs computed
/// here and sorted, deduplicated or binned with std.
#[test]
fn bench_flat_array_workloads() {
    use blockwork::array::ArrayContext;
    use blockwork::array::bench::{HISTOGRAM_BINS, RANDOM_SEED, SEED, UNIQUE_DISTINCT, Workload};
    let seq = Sequential::new();
    let ctx = ArrayContext::new();
    let weighted =
        |v: &[f64]| -> f64 { v.iter().enumerate().map(|(i, x)| x * (i + 1) as f64).sum() };
    for (w, n) in [
        ("array_sort", 5000),
        ("array_unique", 3000),
        ("array_histogram", 4000),
    ] {
        let r = bench_record(w, &["--n", &n.to_string()]);
        let chunk = Workload::chunk(w, n);
        assert_eq!(r["chunk"].as_u64(), Some((n / 100) as u64), "{r}");
        let want = match w {
            "array_sort" => {
                let x = ctx
                    .random(&[n], chunk, SEED)
                    .unwrap()
                    .compute::<f64>(&seq)
                    .unwrap();
                let mut v: Vec<f64> = x.iter().copied().collect();
                v.sort_by(f64::total_cmp);
                weighted(&v)
            }
            "array_unique" => {
                let x = ctx
                    .random_integers(&[n], chunk, SEED, 0, UNIQUE_DISTINCT)
                    .unwrap();
                let set: std::collections::BTreeSet<i64> =
                    x.compute::<i64>(&seq).unwrap().iter().copied().collect();
                weighted(&set.iter().map(|&v| v as f64).collect::<Vec<_>>())
            }
            _ => {
                let x = ctx
                    .random(&[n], chunk, RANDOM_SEED)
                    .unwrap()
                    .compute::<f64>(&seq)
                    .unwrap();
                // NumPy's linspace(0, 1, bins + 1): i * step, the last exactly 1.
                let step = 1.0 / HISTOGRAM_BINS as f64;
                let edges: Vec<f64> = (0..=HISTOGRAM_BINS)
                    .map(|i| {
                        if i == HISTOGRAM_BINS {
                            1.0
                        } else {
                            i as f64 * step
                        }
                    })
                    .collect();
                let mut c = vec![0.0; HISTOGRAM_BINS];
                for &v in &x {
                    let b = edges.partition_point(|&e| e <= v).clamp(1, HISTOGRAM_BINS) - 1;
                    c[b] += 1.0;
                }
                assert_eq!(c.iter().sum::<f64>(), n as f64);
                weighted(&c)
            }
        };
        let got = r["value"].as_f64().unwrap();
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{w}: {got} != {want}"
        );
    }
}

#[test]
fn bench_array_rejects_bad_sides() {
    for (w, n) in [
        ("array_e", "200"),
        ("array_a", "0"),
        ("array_a", "1e12"),
        ("independent", "5e9"),
        ("chain", "1e12"),
    ] {
        let out = blockwork(&["bench", "--workload", w, "--n", n, "--json"]);
        assert_eq!(out.status.code(), Some(2), "{w} n={n}");
    }
    let out = blockwork(&["bench", "--workload", "array_h", "--json"]);
    assert_eq!(out.status.code(), Some(3));
}

/// The word count reads `DIR/part-*.txt` (and nothing else there); `n` is their size in
/// bytes and `check` the sum of the ten largest counts, as counted here with a `HashMap`.
#[test]
fn bench_wordcount() {
    let dir = tempfile::tempdir().unwrap();
    let files = blockwork::bag::corpus::generate(dir.path(), 300_000, 5, 7).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "zzz ".repeat(100_000)).unwrap();
    let mut counts = std::collections::HashMap::<String, u64>::new();
    let mut bytes = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        bytes += text.len() as u64;
        for w in text.split_whitespace() {
            *counts.entry(w.to_owned()).or_default() += 1;
        }
    }
    let mut by_count: Vec<u64> = counts.into_values().collect();
    by_count.sort_unstable_by(|a, b| b.cmp(a));
    let check: u64 = by_count[..10].iter().sum();

    let data = dir.path().to_str().unwrap();
    let r = bench_record("wordcount", &["--n", "123", "--data", data, "--reps", "2"]);
    assert_eq!(r["n"].as_u64(), Some(bytes), "{r}");
    assert_eq!(r["check"].as_u64(), Some(check), "{r}");
    assert_eq!(r["files"].as_u64(), Some(5), "{r}");

    let out = blockwork(&["bench", "--workload", "wordcount", "--json"]);
    assert_eq!(out.status.code(), Some(2), "no --data");
    let empty = tempfile::tempdir().unwrap();
    let e = empty.path().to_str().unwrap();
    let out = blockwork(&["bench", "--workload", "wordcount", "--data", e, "--json"]);
    assert_eq!(out.status.code(), Some(2), "no corpus");
}

/// Runs the binary with `stdin` as the spec on standard input.
fn run_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_blockwork"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // The binary may stop reading early (a size cap): a broken pipe is expected then.
    let _ = std::io::Write::write_all(&mut input, stdin);
    drop(input);
    child.wait_with_output().unwrap()
}

/// A spec of `n` chained `list` tasks: `l{n}` is `[[...[0]...]]`, nested `n` deep.
fn list_chain(n: usize) -> String {
    let mut nodes = vec![r#"{"key": "l0", "literal": 0}"#.to_owned()];
    for i in 1..=n {
        nodes.push(format!(
            r#"{{"key": "l{i}", "op": "list", "args": [{{"ref": "l{}"}}]}}"#,
            i - 1
        ));
    }
    format!(r#"{{"nodes": [{}], "outputs": ["l{n}"]}}"#, nodes.join(","))
}

#[test]
fn run_prints_deeply_nested_lists_as_json() {
    for extra in [&[][..], &["--sequential"][..]] {
        let n = 300;
        let mut args = vec!["run", "-"];
        args.extend_from_slice(extra);
        let out = run_stdin(&args, list_chain(n).as_bytes());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Reference: the nested list written by a loop.
        let expected = format!("{{\n  \"l{n}\": {}0{}\n}}\n", "[".repeat(n), "]".repeat(n));
        assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
    }
}

#[test]
fn run_builds_and_drops_lists_nested_100k_deep() {
    let n = 100_000;
    let out = run_stdin(&["run", "-", "--threads", "2"], list_chain(n).as_bytes());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches('[').count(), n);
    assert_eq!(text.matches(']').count(), n);
}

#[test]
fn string_keys_that_look_like_tuples_print_apart_from_tuples() {
    let spec = r#"{"nodes": [
        {"key": "('x', 0)", "literal": "a string key"},
        {"key": ["x", 0], "literal": "a tuple key"},
        {"key": "[\"x\",0]", "literal": "a string key like JSON"},
        {"key": "plain", "literal": 1}
    ]}"#;
    let out = run_stdin(&["run", "-"], spec.as_bytes());
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let got: serde_json::Map<String, J> = serde_json::from_str(&text).unwrap();
    assert_eq!(got.len(), 4, "four distinct keys: {text}");
    // Each printed key is the text `--get` takes for it.
    for (k, v) in &got {
        let key = parse_key(k).unwrap();
        let expected = match v.as_str() {
            Some("a string key") => Key::from("('x', 0)"),
            Some("a tuple key") => Key::from(("x", 0)),
            Some("a string key like JSON") => Key::from("[\"x\",0]"),
            _ => Key::from("plain"),
        };
        assert_eq!(key, expected, "{text}");
    }
}

#[test]
fn run_refuses_values_over_the_budget() {
    // 40 doublings of a list and of a string: far past any memory without the budget.
    let mut nodes = vec![
        r#"{"key": "l0", "literal": [1, 2, 3, 4]}"#.to_owned(),
        r#"{"key": "s0", "literal": "abcd"}"#.to_owned(),
    ];
    for i in 1..=40 {
        let p = i - 1;
        nodes.push(format!(
            r#"{{"key": "l{i}", "op": "concat", "args": [{{"ref": "l{p}"}}, {{"ref": "l{p}"}}]}}"#
        ));
        nodes.push(format!(
            r#"{{"key": "s{i}", "op": "str_concat", "args": [{{"ref": "s{p}"}}, {{"ref": "s{p}"}}]}}"#
        ));
    }
    for target in ["l40", "s40"] {
        let spec = format!(
            r#"{{"nodes": [{}], "outputs": ["{target}"]}}"#,
            nodes.join(",")
        );
        let out = run_stdin(
            &["run", "-", "--max-value-bytes", "1000000"],
            spec.as_bytes(),
        );
        assert_eq!(out.status.code(), Some(2), "{target}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("TooLarge"), "{err}");
    }
    // Printing a list shared 1000^4 ways: tiny in memory, huge written out.
    let spec = r#"{"nodes": [
        {"key": "a", "op": "list", "args": [0,0,0,0,0,0,0,0,0,0]},
        {"key": "b", "op": "list", "args": [{"ref": "a"},{"ref": "a"},{"ref": "a"},{"ref": "a"},{"ref": "a"},{"ref": "a"},{"ref": "a"},{"ref": "a"},{"ref": "a"},{"ref": "a"}]},
        {"key": "c", "op": "list", "args": [{"ref": "b"},{"ref": "b"},{"ref": "b"},{"ref": "b"},{"ref": "b"},{"ref": "b"},{"ref": "b"},{"ref": "b"},{"ref": "b"},{"ref": "b"}]},
        {"key": "d", "op": "list", "args": [{"ref": "c"},{"ref": "c"},{"ref": "c"},{"ref": "c"},{"ref": "c"},{"ref": "c"},{"ref": "c"},{"ref": "c"},{"ref": "c"},{"ref": "c"}]}
    ], "outputs": ["d"]}"#;
    let out = run_stdin(
        &["run", "-", "--max-value-bytes", "100000"],
        spec.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TooLarge"));
    // The same within a larger budget prints all 10^4 leaves.
    let out = run_stdin(
        &["run", "-", "--max-value-bytes", "1000000"],
        spec.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0));
    let got: J = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["d"].to_string().matches('0').count(), 10_000);
}

#[test]
fn run_caps_the_spec_size() {
    if std::path::Path::new("/dev/zero").exists() {
        let out = blockwork(&["run", "/dev/zero", "--max-spec-bytes", "100000"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("larger than"));
    }
    let spec = br#"{"nodes": [{"key": "x", "literal": 1}]}"#;
    let out = run_stdin(&["run", "-", "--max-spec-bytes", "10"], spec);
    assert_eq!(out.status.code(), Some(2));
    let out = run_stdin(&["run", "-", "--max-spec-bytes", "100"], spec);
    assert_eq!(out.status.code(), Some(0));
}
