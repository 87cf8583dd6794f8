//! Array results that must be right or a typed error: key naming of user functions, graph
//! merges, size limits, empty reductions, overflow, and writes over a graph's own input.

mod common;

use blockwork::array::{BlockData, Boundary, DType};
use blockwork::{Arg, ErrorKind, Graph, Node, Op, Sequential, Task, Value};
use common::{ctx, data};

fn scale(k: f64) -> impl Fn(&BlockData, &[usize]) -> Result<BlockData, blockwork::TaskError> {
    move |b, _| match b {
        BlockData::F64(a) => Ok(BlockData::F64(a * k)),
        _ => Err("expected f64".into()),
    }
}

#[test]
fn map_blocks_of_one_name_keep_their_own_keys() {
    let c = ctx();
    let a = data(&[6, 4], 1);
    let m = c.from_ndarray(&a, [4, 3]).unwrap();
    let two = m.map_blocks("s", DType::F64, scale(2.0)).unwrap();
    let three = m.map_blocks("s", DType::F64, scale(3.0)).unwrap();
    assert_ne!(two.name(), three.name());
    let got = two.sub(&three).unwrap().sum(None).unwrap();
    let want: f64 = a.iter().map(|v| 2.0 * v - 3.0 * v).sum();
    let got = got.compute_scalar(&Sequential::new()).unwrap().as_f64();
    assert!(want != 0.0 && (got - want).abs() < 1e-9, "{got} vs {want}");
}

#[test]
fn map_overlap_of_one_name_keep_their_own_keys() {
    let c = ctx();
    let a = data(&[7], 2);
    let m = c.from_ndarray(&a, 3).unwrap();
    let two = m
        .map_overlap("s", &[1], Boundary::Reflect, scale(2.0))
        .unwrap();
    let three = m
        .map_overlap("s", &[1], Boundary::Reflect, scale(3.0))
        .unwrap();
    let got = two
        .sub(&three)
        .unwrap()
        .compute::<f64>(&Sequential::new())
        .unwrap();
    assert_eq!(got, a.mapv(|v| 2.0 * v - 3.0 * v));
}

#[test]
fn a_shared_token_shares_keys() {
    let c = ctx();
    let a = data(&[5], 3);
    let m = c.from_ndarray(&a, 2).unwrap();
    let x = m
        .map_blocks_with_token("s", "times2", DType::F64, scale(2.0))
        .unwrap();
    let y = m
        .map_blocks_with_token("s", "times2", DType::F64, scale(2.0))
        .unwrap();
    let z = m
        .map_blocks_with_token("s", "times3", DType::F64, scale(3.0))
        .unwrap();
    assert_eq!(x.name(), y.name());
    assert_ne!(x.name(), z.name());
    let got = x
        .add(&y)
        .unwrap()
        .add(&z)
        .unwrap()
        .compute::<f64>(&Sequential::new())
        .unwrap();
    assert_eq!(got, a.mapv(|v| 2.0 * v + 2.0 * v + 3.0 * v));
    let o1 = m
        .map_overlap_with_token("o", "t", &[1], Boundary::None, scale(2.0))
        .unwrap();
    let o2 = m
        .map_overlap_with_token("o", "t", &[1], Boundary::None, scale(2.0))
        .unwrap();
    assert_eq!(o1.name(), o2.name());
}

#[test]
fn merge_of_conflicting_definitions_is_an_error() {
    let inc = Op::typed("inc", |x: i64| x + 1);
    let dec = Op::typed("dec", |x: i64| x - 1);
    let mut a = Graph::new();
    a.insert("x", Node::Literal(Value::Int(1)));
    a.insert("y", Node::Task(Task::new(&inc, [Arg::key("x")])));
    // Identical nodes are no conflict: same literal, same op and arguments, same alias.
    let mut same = Graph::new();
    same.insert("x", Node::Literal(Value::Int(1)));
    same.insert("y", Node::Task(Task::new(&inc, [Arg::key("x")])));
    same.insert("z", Node::Alias("y".into()));
    let mut g = a.clone();
    g.merge(&same).unwrap();
    g.merge(&same).unwrap();
    g.merge(&g.clone()).unwrap();
    assert_eq!(g.len(), 3);
    for (key, node) in [
        ("x", Node::Literal(Value::Int(2))),
        ("y", Node::Task(Task::new(&dec, [Arg::key("x")]))),
        ("y", Node::Task(Task::new(&inc, [Arg::lit(1)]))),
        ("z", Node::Alias("x".into())),
    ] {
        let mut other = Graph::new();
        other.insert("w", Node::Literal(Value::Int(0)));
        other.insert(key, node);
        let before = g.clone();
        let err = g.merge(&other).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DuplicateKey, "{key}");
        assert!(err.to_string().contains(key), "{err}");
        assert_eq!(g, before, "a failed merge changes nothing");
    }
}
