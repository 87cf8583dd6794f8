//! The `array.*` spec ops against ndarray and naive loops, their errors, and
//! `blockwork run examples/specs/array.json`.

use blockwork::array::ArrayContext;
use blockwork::spec::Spec;
use blockwork::{Error, ErrorKind, Executor, Pool, Sequential, Value};
use ndarray::{Array2, ArrayD, Axis, IxDyn};
use serde_json::{Value as J, json};
use std::process::Command;

/// Runs a spec whose nodes are `nodes` and returns the value of `key`.
fn get(nodes: J, key: &str) -> Result<Value, Error> {
    let spec = Spec::from_json(&json!({ "nodes": nodes }).to_string()).unwrap();
    Sequential::new().get(spec.graph(), key)
}

/// The value of `array.compute` applied to the op `op` with `args`.
fn computed(op: &str, args: J) -> Result<Value, Error> {
    get(
        json!({"x": {"op": op, "args": args},
               "out": {"op": "array.compute", "args": [{"ref": "x"}]}}),
        "out",
    )
}

fn floats(v: &Value) -> Vec<f64> {
    match v {
        Value::List(items) => items.iter().flat_map(floats).collect(),
        Value::Float(f) => vec![*f],
        Value::Int(i) => vec![*i as f64],
        other => panic!("not a number: {other:?}"),
    }
}

fn close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            g == w || (g - w).abs() <= 1e-9 * w.abs().max(1.0),
            "{got:?} vs {want:?}"
        );
    }
}

/// A 2-d test matrix with distinct, irregular values.
fn matrix(r: usize, c: usize, salt: i64) -> Array2<i64> {
    Array2::from_shape_fn((r, c), |(i, j)| {
        ((i as i64 * 7 + j as i64 * 13 + salt) % 17) - 8
    })
}

fn lit(a: &Array2<i64>) -> J {
    json!({"lit": a.outer_iter().map(|row| row.to_vec()).collect::<Vec<_>>()})
}

#[test]
fn from_list_round_trips_for_any_chunking() {
    let a = matrix(5, 7, 3);
    for chunks in [
        json!(1),
        json!(3),
        json!([2, 7]),
        json!([[1, 4], [3, 3, 1]]),
    ] {
        let got = computed("array.from_list", json!([lit(&a), chunks])).unwrap();
        let want: Vec<f64> = a.iter().map(|&x| x as f64).collect();
        close(&floats(&got), &want);
        // Ints stay ints.
        let first = &got.as_list().unwrap()[0].as_list().unwrap()[0];
        assert_eq!(first, &Value::Int(a[(0, 0)]));
    }
}

#[test]
fn reductions_match_naive_loops() {
    let a = matrix(6, 5, 1);
    let f = a.mapv(|x| x as f64);
    let n = f.len() as f64;
    let mean = f.iter().sum::<f64>() / n;
    let var = f.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    let cases: Vec<(&str, J, Vec<f64>)> = vec![
        ("array.sum", J::Null, vec![f.iter().sum()]),
        ("array.sum", json!(0), f.sum_axis(Axis(0)).to_vec()),
        ("array.sum", json!(-1), f.sum_axis(Axis(1)).to_vec()),
        ("array.sum", json!([0, 1]), vec![f.iter().sum()]),
        ("array.mean", J::Null, vec![mean]),
        (
            "array.min",
            json!(1),
            f.map_axis(Axis(1), |r| r.fold(f64::MAX, |m, &x| m.min(x)))
                .to_vec(),
        ),
        (
            "array.max",
            json!(0),
            f.map_axis(Axis(0), |r| r.fold(f64::MIN, |m, &x| m.max(x)))
                .to_vec(),
        ),
        ("array.std", J::Null, vec![var.sqrt()]),
        ("array.var", J::Null, vec![var]),
    ];
    for (op, axis, want) in cases {
        let args = json!([{"op": "array.from_list", "args": [lit(&a), [4, 2]]}, axis]);
        let got = computed(op, args).unwrap();
        close(&floats(&got), &want);
    }
}

#[test]
fn elementwise_with_arrays_scalars_and_broadcasting() {
    let a = matrix(4, 3, 0);
    let b = matrix(4, 3, 5);
    let row = matrix(1, 3, 9);
    let arr = |m: &Array2<i64>| json!({"op": "array.from_list", "args": [lit(m), 2]});
    let fa = a.mapv(|x| x as f64);
    let fb = b.mapv(|x| x as f64);
    let frow = row.mapv(|x| x as f64);
    let cases: Vec<(&str, J, Array2<f64>)> = vec![
        ("array.add", json!([arr(&a), arr(&b)]), &fa + &fb),
        ("array.sub", json!([arr(&a), 2.5]), fa.mapv(|x| x - 2.5)),
        ("array.mul", json!([3, arr(&a)]), fa.mapv(|x| 3.0 * x)),
        ("array.div", json!([arr(&a), arr(&row)]), &fa / &frow),
        (
            "array.maximum",
            json!([arr(&a), arr(&b)]),
            ndarray::Zip::from(&fa)
                .and(&fb)
                .map_collect(|x, y| x.max(*y)),
        ),
        ("array.neg", json!([arr(&a)]), fa.mapv(|x| -x)),
        ("array.abs", json!([arr(&a)]), fa.mapv(f64::abs)),
        ("array.exp", json!([arr(&a)]), fa.mapv(f64::exp)),
        (
            "array.sqrt",
            json!([{"op": "array.abs", "args": [arr(&a)]}]),
            fa.mapv(|x| x.abs().sqrt()),
        ),
    ];
    for (op, args, want) in cases {
        let got = computed(op, args).unwrap();
        close(&floats(&got), want.as_slice().unwrap());
    }
    let lt = computed("array.lt", json!([arr(&a), 0])).unwrap();
    let want: Vec<Value> = a.iter().map(|&x| Value::Bool(x < 0)).collect();
    let got: Vec<Value> = lt
        .as_list()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_list().unwrap().to_vec())
        .collect();
    assert_eq!(got, want);
}

#[test]
fn matmul_matches_a_naive_product() {
    let (a, b) = (matrix(5, 4, 2), matrix(4, 6, 7));
    let got = computed(
        "array.matmul",
        json!([{"op": "array.from_list", "args": [lit(&a), [2, 3]]},
               {"op": "array.from_list", "args": [lit(&b), [3, 4]]}]),
    )
    .unwrap();
    let mut want = vec![0.0; 5 * 6];
    for i in 0..5 {
        for j in 0..6 {
            for k in 0..4 {
                want[i * 6 + j] += (a[(i, k)] * b[(k, j)]) as f64;
            }
        }
    }
    close(&floats(&got), &want);
}

#[test]
fn creation_ops_match_the_array_api_and_numpy_rules() {
    let got = computed("array.ones", json!([[2, 3], 2, "int64"])).unwrap();
    assert_eq!(
        got,
        Value::from(vec![Value::list([1i64, 1, 1]), Value::list([1i64, 1, 1])])
    );
    let got = computed("array.full", json!([[3], 2, 2.5])).unwrap();
    close(&floats(&got), &[2.5, 2.5, 2.5]);
    let got = computed("array.zeros", json!([[], 1])).unwrap();
    assert_eq!(got, Value::Float(0.0), "a 0-d array computes to a scalar");
    let got = computed("array.arange", json!([10, -3, -4, 2])).unwrap();
    assert_eq!(got, Value::list([10i64, 6, 2, -2]));
    let got = computed("array.arange", json!([0.5, 2.0, 0.5, 2])).unwrap();
    close(&floats(&got), &[0.5, 1.0, 1.5]);
    // random: the same numbers as the array API, whose properties tests/array_* check.
    let got = computed("array.random", json!([[7, 5], [3, 2], 11])).unwrap();
    let want = ArrayContext::new()
        .random(&[7, 5], [4, 4], 11)
        .unwrap()
        .compute::<f64>(&Sequential::new())
        .unwrap();
    close(&floats(&got), want.as_slice().unwrap());
}

#[test]
fn array_values_run_the_same_on_a_pool() {
    let nodes = json!({
        "r": {"op": "array.random", "args": [[50, 40], 16, 3]},
        "m": {"op": "array.mean", "args": [{"ref": "r"}, 1]},
        "out": {"op": "array.compute", "args": [{"op": "array.sub", "args": [{"ref": "m"}, 0.5]}]}
    });
    let spec = Spec::from_json(&json!({ "nodes": nodes }).to_string()).unwrap();
    let seq = Sequential::new().get(spec.graph(), "out").unwrap();
    let pool = Pool::new(2).unwrap();
    assert_eq!(pool.get(spec.graph(), "out").unwrap(), seq);
}

/// The op, the error class and part of the message of a failed run.
fn failure(nodes: J, key: &str) -> (String, ErrorKind, String) {
    match get(nodes, key) {
        Err(Error::Task {
            op,
            message,
            panicked: false,
            cause,
            ..
        }) => (op.to_string(), cause, message),
        other => panic!("expected a task failure, got {other:?}"),
    }
}

#[test]
fn bad_arguments_are_typed_task_errors_naming_the_op() {
    let cases: Vec<(J, &str, ErrorKind, &str)> = vec![
        (
            json!({"op": "array.from_list", "args": [{"lit": [[1, 2], [3]]}]}),
            "array.from_list",
            ErrorKind::Shape,
            "rectangular",
        ),
        (
            json!({"op": "array.from_list", "args": [{"lit": [1, "a"]}]}),
            "array.from_list",
            ErrorKind::Type,
            "numbers",
        ),
        (
            json!({"op": "array.ones", "args": [[2, 3], 0]}),
            "array.ones",
            ErrorKind::InvalidArgument,
            "",
        ),
        (
            json!({"op": "array.ones", "args": [[2, 3], [1]]}),
            "array.ones",
            ErrorKind::Shape,
            "",
        ),
        (
            json!({"op": "array.ones", "args": [[4], [[1, 2]]]}),
            "array.ones",
            ErrorKind::Shape,
            "sum",
        ),
        (
            json!({"op": "array.ones", "args": [[2, -1], 1]}),
            "array.ones",
            ErrorKind::InvalidArgument,
            "shape",
        ),
        (
            json!({"op": "array.ones", "args": [[0, 1_000_000_000_000i64], 1]}),
            "array.ones",
            ErrorKind::TooLarge,
            "blocks",
        ),
        (
            json!({"op": "array.ones", "args": [[2], 1, "complex"]}),
            "array.ones",
            ErrorKind::InvalidArgument,
            "dtype",
        ),
        (
            json!({"op": "array.arange", "args": [0, 5, 0, 1]}),
            "array.arange",
            ErrorKind::Index,
            "step",
        ),
        (
            json!({"op": "array.add", "args": [1, 2]}),
            "array.add",
            ErrorKind::Type,
            "array",
        ),
        (
            json!({"op": "array.add", "args": [[1], {"op": "array.ones", "args": [[2], 1]}]}),
            "array.add",
            ErrorKind::Type,
            "list",
        ),
        (
            json!({"op": "array.sqrt", "args": [3]}),
            "array.sqrt",
            ErrorKind::Type,
            "array",
        ),
        (
            json!({"op": "array.sum", "args": [{"op": "array.ones", "args": [[2], 1]}, 3]}),
            "array.sum",
            ErrorKind::Index,
            "",
        ),
        (
            json!({"op": "array.matmul", "args": [{"op": "array.ones", "args": [[2, 3], 1]}, {"op": "array.ones", "args": [[2, 3], 1]}]}),
            "array.matmul",
            ErrorKind::Shape,
            "",
        ),
        (
            json!({"op": "array.add", "args": [{"op": "array.ones", "args": [[2, 3], 1]}, {"op": "array.ones", "args": [[2], 1]}]}),
            "array.add",
            ErrorKind::Shape,
            "",
        ),
        (
            json!({"op": "array.compute", "args": [[1, 2]]}),
            "array.compute",
            ErrorKind::Type,
            "array",
        ),
    ];
    for (node, op, kind, text) in cases {
        let (got_op, got_kind, msg) = failure(json!({ "x": node }), "x");
        assert_eq!((got_op.as_str(), got_kind), (op, kind), "{node}: {msg}");
        assert!(msg.starts_with(op) && msg.contains(text), "{node}: {msg}");
    }
}

#[test]
fn cli_runs_the_array_example() {
    let path = format!("{}/examples/specs/array.json", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_blockwork"))
        .args(["run", &path])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: J = serde_json::from_slice(&out.stdout).unwrap();
    let a = ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    let b = ndarray::arr2(&[[1.0, 0.0], [0.0, 1.0], [2.0, 3.0]]).into_dyn();
    let a2 = a.clone().into_dimensionality::<ndarray::Ix2>().unwrap();
    let b2 = b.into_dimensionality::<ndarray::Ix2>().unwrap();
    let to_j = |x: &ArrayD<f64>| -> J {
        match x.ndim() {
            1 => json!(x.iter().copied().collect::<Vec<_>>()),
            _ => json!(
                x.outer_iter()
                    .map(|r| r.iter().copied().collect::<Vec<_>>())
                    .collect::<Vec<_>>()
            ),
        }
    };
    let want = json!([
        to_j(&a.mapv(|x| (x + 1.0) * 0.5)),
        to_j(&a2.dot(&b2).into_dyn()),
        to_j(&a.sum_axis(Axis(0))),
        to_j(&a.map_axis(Axis(1), |r| r.fold(f64::MIN, |m, &x| m.max(x)))),
        json!([0, 1, 2, 3, 4, 5]),
        to_j(&a.mapv(f64::sqrt)),
    ]);
    assert_eq!(got["out"], want);
    // The random part, against the elements the array API gives for the same seed.
    let r = ArrayContext::new()
        .random(&[200, 300], 77, 42)
        .unwrap()
        .compute::<f64>(&Sequential::new())
        .unwrap();
    let n = r.len() as f64;
    let mean = r.iter().sum::<f64>() / n;
    let std = (r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    let stats = got["random_stats"].as_array().unwrap();
    close(
        &[stats[0].as_f64().unwrap(), stats[1].as_f64().unwrap()],
        &[mean, std],
    );
    assert_eq!(stats[2], json!([300]));
}

type Un = fn(f64) -> f64;
type Bin = fn(f64, f64) -> f64;
type Cmp = fn(&f64, &f64) -> bool;

#[test]
fn every_elementwise_op_matches_std() {
    let a = matrix(3, 4, 2).mapv(|x| x as f64 / 4.0);
    let b = matrix(3, 4, 11).mapv(|x| x as f64 / 3.0 + 0.25);
    let arr = |m: &Array2<f64>| json!({"op": "array.from_list", "args": [{"lit": m.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>()}, [2, 3]]});
    let unary: Vec<(&str, Un)> = vec![
        ("array.log", |x| x.abs().ln()),
        ("array.sin", f64::sin),
        ("array.cos", f64::cos),
        ("array.tanh", f64::tanh),
        ("array.floor", f64::floor),
        ("array.ceil", f64::ceil),
    ];
    for (op, f) in unary {
        let input = if op == "array.log" {
            json!({"op": "array.abs", "args": [arr(&a)]})
        } else {
            arr(&a)
        };
        let got = computed(op, json!([input])).unwrap();
        close(&floats(&got), a.mapv(f).as_slice().unwrap());
    }
    let binary: Vec<(&str, Bin)> = vec![
        ("array.floordiv", |x, y| (x / y).floor()),
        ("array.mod", |x, y| x - y * (x / y).floor()),
        ("array.pow", |x, y| x.abs().powf(y)),
        ("array.minimum", f64::min),
    ];
    for (op, f) in binary {
        let left = if op == "array.pow" {
            json!({"op": "array.abs", "args": [arr(&a)]})
        } else {
            arr(&a)
        };
        let got = computed(op, json!([left, arr(&b)])).unwrap();
        let want = ndarray::Zip::from(&a).and(&b).map_collect(|&x, &y| f(x, y));
        close(&floats(&got), want.as_slice().unwrap());
    }
    let compare: Vec<(&str, Cmp)> = vec![
        ("array.eq", f64::eq),
        ("array.ne", f64::ne),
        ("array.le", f64::le),
        ("array.gt", f64::gt),
        ("array.ge", f64::ge),
    ];
    for (op, f) in compare {
        let got = computed(op, json!([arr(&a), arr(&a.mapv(|x| x.round()))])).unwrap();
        let want: Vec<Value> = ndarray::Zip::from(&a)
            .and(&a.mapv(f64::round))
            .map_collect(|x, y| Value::Bool(f(x, y)))
            .into_iter()
            .collect();
        let flat: Vec<Value> = got
            .as_list()
            .unwrap()
            .iter()
            .flat_map(|r| r.as_list().unwrap().to_vec())
            .collect();
        assert_eq!(flat, want, "{op}");
    }
    // prod and to_list, against a naive product over each row.
    let got = computed("array.prod", json!([arr(&b), 1])).unwrap();
    let want: Vec<f64> = b.outer_iter().map(|r| r.iter().product()).collect();
    close(&floats(&got), &want);
    let listed = get(
        json!({"x": arr(&b), "l": {"op": "array.to_list", "args": [{"ref": "x"}]}}),
        "l",
    )
    .unwrap();
    close(&floats(&listed), b.as_slice().unwrap());
}

#[test]
fn transpose_and_shape_match_ndarray() {
    let a = matrix(3, 5, 4);
    let x = json!({"op": "array.from_list", "args": [lit(&a), 2]});
    let got = computed("array.transpose", json!([x])).unwrap();
    let want: Vec<f64> = a.t().iter().map(|&v| v as f64).collect();
    close(&floats(&got), &want);
    let shape = get(
        json!({"s": {"op": "array.shape", "args": [{"op": "array.transpose", "args": [x]}]}}),
        "s",
    )
    .unwrap();
    assert_eq!(shape, Value::list([5i64, 3]));
}

/// Array ops run on the context their registry was built with, and the shared builtins keep
/// no freed blocks for the life of the process.
#[test]
fn array_ops_use_the_registry_context() {
    use blockwork::spec::Registry;
    let nodes = json!({"nodes": {
        "x": {"op": "array.ones", "args": [[64, 64], 16]},
        "y": {"op": "array.add", "args": [{"ref": "x"}, {"ref": "x"}]},
        "s": {"op": "array.sum", "args": [{"ref": "y"}]},
        "out": {"op": "array.compute", "args": [{"ref": "s"}]}}})
    .to_string();
    let ctx = ArrayContext::new();
    let reg = Registry::with_arrays(ctx.clone());
    let spec = Spec::from_slice_with(nodes.as_bytes(), &reg).unwrap();
    let before = ctx.pool().stats();
    let got = Sequential::new().get(spec.graph(), "out").unwrap();
    assert_eq!(floats(&got), vec![2.0 * 64.0 * 64.0]);
    let after = ctx.pool().stats();
    assert_ne!(
        after, before,
        "the blocks went through the registry's context"
    );
    // The same spec on the shared builtins leaves this context alone and holds nothing.
    let spec = Spec::from_json(&nodes).unwrap();
    let got = Sequential::new().get(spec.graph(), "out").unwrap();
    assert_eq!(floats(&got), vec![2.0 * 64.0 * 64.0]);
    assert_eq!(ctx.pool().stats(), after);
    // The registry holds the same op names as the builtins.
    let names = |r: &Registry| r.iter().map(|e| e.op.name().to_owned()).collect::<Vec<_>>();
    assert_eq!(names(&reg), names(Registry::builtins()));
}
