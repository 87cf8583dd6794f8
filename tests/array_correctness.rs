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

#[test]
fn npy_truncated_after_opening_is_a_typed_error() {
    let c = ctx();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.npy");
    let a = data(&[40, 30], 4);
    ndarray_npy::write_npy(&path, &a).unwrap();
    let x = c.from_npy(&path, [7, 30]).unwrap();
    let y = c.from_npy(&path, [7, 11]).unwrap();
    // Shrink the file under the graph: the blocks past the end cannot be read.
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(200).unwrap();
    for arr in [&x, &y] {
        let err = arr.compute::<f64>(&Sequential::new()).unwrap_err();
        assert_eq!(err.task_cause(), Some(ErrorKind::Io), "{err}");
        assert!(err.to_string().contains("a.npy"), "{err}");
    }
    // A file whose size does not match its header is refused when opened.
    assert_eq!(c.from_npy(&path, 7).unwrap_err().kind(), ErrorKind::Io);
}

#[test]
fn npy_read_matches_ndarray_npy_for_every_layout() {
    let c = ctx();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.npy");
    for (shape, chunks) in common::layouts() {
        let a = data(&shape, 5);
        ndarray_npy::write_npy(&path, &a).unwrap();
        let got = c
            .from_npy(&path, chunks)
            .unwrap()
            .compute::<f64>(&Sequential::new());
        assert_eq!(got.unwrap(), a, "{shape:?}");
    }
}

#[test]
fn to_npy_overwriting_its_own_input_reads_the_old_data() {
    let c = ctx();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.npy");
    let a = data(&[9, 5], 6);
    ndarray_npy::write_npy(&path, &a).unwrap();
    let pool = blockwork::Pool::new(2).unwrap();
    c.from_npy(&path, [2, 3])
        .unwrap()
        .add(1.0)
        .unwrap()
        .to_npy(&path, &pool)
        .unwrap();
    let back: ndarray::ArrayD<f64> = ndarray_npy::read_npy(&path).unwrap();
    assert_eq!(back, a.mapv(|v| v + 1.0));
    // Nothing else is left in the directory.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn failed_to_npy_leaves_no_file_and_keeps_an_old_target() {
    let c = ctx();
    let dir = tempfile::tempdir().unwrap();
    let x = c.ones(&[8], 2, DType::F64).unwrap();
    let failing = common::failing_on_block_2(&x);
    let fresh = dir.path().join("new.npy");
    assert_eq!(
        failing
            .to_npy(&fresh, &Sequential::new())
            .unwrap_err()
            .kind(),
        ErrorKind::TaskFailed
    );
    assert!(!fresh.exists());
    let old = dir.path().join("old.npy");
    let before = data(&[3], 1);
    ndarray_npy::write_npy(&old, &before).unwrap();
    let bytes = std::fs::read(&old).unwrap();
    assert!(failing.to_npy(&old, &Sequential::new()).is_err());
    assert_eq!(std::fs::read(&old).unwrap(), bytes);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary left"
    );
    // I/O errors name the path.
    let nowhere = dir.path().join("no-such-dir").join("x.npy");
    let err = x.to_npy(&nowhere, &Sequential::new()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.to_string().contains("no-such-dir"), "{err}");
}

#[test]
fn explicit_chunks_may_hold_zero_length_blocks() {
    use blockwork::array::Chunks;
    let c = Chunks::new(&[5, 4], vec![vec![0, 2, 0, 3, 0], vec![4, 0]]).unwrap();
    assert_eq!(c.numblocks(), vec![5, 2]);
    assert_eq!(c.offsets(0), &[0, 0, 2, 2, 5, 5]);
    let a = data(&[5, 4], 7);
    let x = ctx()
        .from_ndarray(&a, vec![vec![0, 2, 0, 3, 0], vec![4, 0]])
        .unwrap();
    let s = Sequential::new();
    assert_eq!(x.compute::<f64>(&s).unwrap(), a);
    let got = x.sum(Some(0)).unwrap().compute::<f64>(&s).unwrap();
    common::close(&got, &a.sum_axis(ndarray::Axis(0)), 1e-12);
    let got = x
        .mul(2.0)
        .unwrap()
        .rechunk(2)
        .unwrap()
        .compute::<f64>(&s)
        .unwrap();
    assert_eq!(got, a.mapv(|v| v * 2.0));
}

#[test]
fn grids_too_large_to_hold_are_typed_errors() {
    let c = ctx();
    let kind = |r: blockwork::Result<blockwork::array::Array>| r.map(drop).unwrap_err().kind();
    assert_eq!(
        kind(c.zeros(&[1_000_000_000_000], 1, DType::F64)),
        ErrorKind::TooLarge
    );
    assert_eq!(
        kind(c.zeros(&[0, 1e18 as usize], 1, DType::F64)),
        ErrorKind::TooLarge
    );
    assert_eq!(
        kind(c.zeros(&[1 << 20, 1 << 20], 1 << 7, DType::F64)),
        ErrorKind::TooLarge
    );
    let explicit = vec![vec![0usize; 1 << 13], vec![0usize; 1 << 12]];
    assert_eq!(
        blockwork::array::Chunks::new(&[0, 0], explicit)
            .unwrap_err()
            .kind(),
        ErrorKind::TooLarge
    );
    // A broadcast of two fine grids multiplies their block counts.
    let col = c.zeros(&[1 << 13, 1], 1, DType::F64).unwrap();
    let row = c.zeros(&[1, 1 << 12], 1, DType::F64).unwrap();
    assert_eq!(kind(col.add(&row)), ErrorKind::TooLarge);
    // The limit leaves room for a million blocks.
    assert_eq!(
        c.zeros(&[1 << 40], 1 << 20, DType::F64)
            .unwrap()
            .chunks()
            .nblocks(),
        1 << 20
    );
}

#[test]
fn map_overlap_depth_beyond_the_axis() {
    let c = ctx();
    let a = data(&[7, 3], 8);
    let x = c.from_ndarray(&a, [3, 2]).unwrap();
    let id = |b: &BlockData, _: &[usize]| Ok(b.clone());
    let y = x
        .map_overlap("id", &[usize::MAX, usize::MAX], Boundary::None, id)
        .unwrap();
    assert_eq!(y.compute::<f64>(&Sequential::new()).unwrap(), a);
    for b in [
        Boundary::Constant(0.0),
        Boundary::Periodic,
        Boundary::Reflect,
    ] {
        let err = x.map_overlap("id", &[usize::MAX, 1], b, id).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{b:?}");
    }
}

#[test]
fn shapes_whose_size_overflows_are_typed_errors() {
    let c = ctx();
    let s = Sequential::new();
    let ones = |shape: &[usize], chunks: Vec<usize>| c.ones(shape, chunks, DType::F64).unwrap();
    let small = ones(&[4, 6], vec![2, 3]);
    let err = small.broadcast_to(&[1 << 62, 4, 6]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Overflow);
    let tall = ones(&[1 << 59, 1], vec![1 << 59, 1]);
    let wide = ones(&[1, 32], vec![1, 32]);
    assert_eq!(tall.add(&wide).unwrap_err().kind(), ErrorKind::Overflow);
    // Joining two halves of the address space.
    let half = ones(&[1 << 59], vec![1 << 59]);
    let err = blockwork::array::Array::concatenate(&[half.clone(), half.clone()], 0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Overflow);
    let err = blockwork::array::Array::stack(&[half.clone(), half.clone()], 0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Overflow);
    // An outer product of two large vectors.
    let v = ones(&[1 << 31], vec![1 << 31]);
    assert_eq!(
        v.tensordot(&v, &[], &[]).unwrap_err().kind(),
        ErrorKind::Overflow
    );
    assert_eq!(
        v.reshape(&[1 << 62]).unwrap_err().kind(),
        ErrorKind::Overflow
    );
    // Sizes that fit still compute: a broadcast that stays small.
    let fine = small.broadcast_to(&[3, 4, 6]).unwrap().sum(None).unwrap();
    assert_eq!(fine.compute_scalar(&s).unwrap().as_f64(), 72.0);
    // Empty arrays with huge axes have a valid (empty) result.
    let empty = ones(&[0, 1 << 62], vec![1, 1 << 62]);
    assert_eq!(
        empty
            .sum(None)
            .unwrap()
            .compute_scalar(&s)
            .unwrap()
            .as_f64(),
        0.0
    );
}

#[test]
fn any_of_nothing_is_false_and_all_of_nothing_is_true() {
    let c = ctx();
    let s = Sequential::new();
    for dtype in [DType::Bool, DType::I64, DType::F64] {
        let e = c.zeros(&[0], 1, dtype).unwrap();
        let any = e.any(None).unwrap().compute::<bool>(&s).unwrap();
        let all = e.all(None).unwrap().compute::<bool>(&s).unwrap();
        assert_eq!((any[[]], all[[]]), (false, true), "{dtype:?}");
    }
    let e = c.ones(&[3, 0], 2, DType::F64).unwrap();
    let any = e.any(Some(1)).unwrap().compute::<bool>(&s).unwrap();
    assert_eq!(any.as_slice().unwrap(), &[false; 3]);
    let all = e.all(Some(1)).unwrap().compute::<bool>(&s).unwrap();
    assert_eq!(all.as_slice().unwrap(), &[true; 3]);
    // Non-empty selections against a naive loop.
    let a = common::idata(&[5, 4], 3).mapv(|v| v.rem_euclid(3) == 0);
    let x = c.from_ndarray(&a, [2, 3]).unwrap();
    for axis in 0..2 {
        let got = x
            .any(Some(axis as isize))
            .unwrap()
            .compute::<bool>(&s)
            .unwrap();
        let want = a.map_axis(ndarray::Axis(axis), |l| l.iter().any(|&v| v));
        assert_eq!(got, want);
        let got = x
            .all(Some(axis as isize))
            .unwrap()
            .compute::<bool>(&s)
            .unwrap();
        let want = a.map_axis(ndarray::Axis(axis), |l| l.iter().all(|&v| v));
        assert_eq!(got, want);
    }
}

#[test]
fn array_integer_arithmetic_wraps() {
    let c = ctx();
    let s = Sequential::new();
    let a = ndarray::arr1(&[i64::MAX, i64::MIN, 3]).into_dyn();
    let x = c.from_ndarray(&a, 2).unwrap();
    let got = x.add(1i64).unwrap().compute::<i64>(&s).unwrap();
    assert_eq!(got, a.mapv(|v| v.wrapping_add(1)));
    assert_eq!(got[[0]], i64::MIN);
    let got = x.sub(1i64).unwrap().compute::<i64>(&s).unwrap();
    assert_eq!(got, a.mapv(|v| v.wrapping_sub(1)));
    let got = x.mul(&x).unwrap().compute::<i64>(&s).unwrap();
    assert_eq!(got, a.mapv(|v| v.wrapping_mul(v)));
    let got = x.neg().unwrap().compute::<i64>(&s).unwrap();
    assert_eq!(got, a.mapv(i64::wrapping_neg));
    let sum = x.sum(None).unwrap().compute_scalar(&s).unwrap();
    assert_eq!(
        sum,
        blockwork::array::Scalar::I64(a.iter().fold(0i64, |s, &v| s.wrapping_add(v)))
    );
    let cs = x.cumsum(0).unwrap().compute::<i64>(&s).unwrap();
    let mut acc = 0i64;
    let want: Vec<i64> = a
        .iter()
        .map(|&v| {
            acc = acc.wrapping_add(v);
            acc
        })
        .collect();
    assert_eq!(cs.as_slice().unwrap(), want.as_slice());
    let b = ndarray::arr1(&[i32::MAX, 1]).into_dyn();
    let y = c.from_ndarray(&b, 1).unwrap();
    let got = y.add(&y).unwrap().compute::<i32>(&s).unwrap();
    assert_eq!(got, b.mapv(|v| v.wrapping_add(v)));
}

#[test]
fn fromfunction_of_one_name_keep_their_own_keys() {
    use blockwork::array::Scalar;
    let c = ctx();
    let f = c
        .fromfunction("f", &[5], 2, DType::I64, |i| Scalar::I64(i[0] as i64))
        .unwrap();
    let g = c
        .fromfunction("f", &[5], 2, DType::I64, |i| Scalar::I64(10 * i[0] as i64))
        .unwrap();
    assert_ne!(f.name(), g.name());
    let got = f
        .sub(&g)
        .unwrap()
        .compute::<i64>(&Sequential::new())
        .unwrap();
    assert_eq!(got.as_slice().unwrap(), &[0, -9, -18, -27, -36]);
}
