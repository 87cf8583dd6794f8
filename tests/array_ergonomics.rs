//! The short forms of the array API, each against ndarray on the same data: operators,
//! `s![]` slicing, reductions with axes / keepdims / ddof, typed results, arrays wrapping a
//! shared ndarray in place, and arrays made of (or read by) the caller's own tasks.

use blockwork::array::{Array, ArrayContext, Block, BlockData, DType, Reduction};
use blockwork::ndarray::{self, Array2, ArrayD, Axis, Ix0, Ix1, Ix2, Ix3, IxDyn, NewAxis};
use blockwork::{Arg, ErrorKind, Executor, GraphBuilder, Key, Op, Pool, Sequential, Value, s};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Deterministic values with a spread of signs and magnitudes (no two equal, no zeros).
fn data(shape: &[usize], seed: u64) -> ArrayD<f64> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    ArrayD::from_shape_simple_fn(IxDyn(shape), || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % 2001) as f64 / 100.0 - 10.005
    })
}

fn close(a: &ArrayD<f64>, b: &ArrayD<f64>) -> bool {
    a.shape() == b.shape()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-9 * (1.0 + y.abs()) || (x.is_nan() && y.is_nan()))
}

fn seq() -> Sequential {
    Sequential::new()
}

// ---- operators ----

#[test]
fn operators_match_ndarray() {
    let ctx = ArrayContext::new();
    let (a, b) = (data(&[7, 5], 1), data(&[7, 5], 2));
    let row = data(&[5], 3);
    let x = ctx.from_ndarray(&a, [3, 2]).unwrap();
    let y = ctx.from_ndarray(&b, [2, 4]).unwrap(); // another grid: unified by the ops
    let r = ctx.from_ndarray(&row, 3).unwrap();
    let got = |z: Array| z.compute::<f64>(&seq()).unwrap();
    assert!(close(&got(&x + &y), &(&a + &b)));
    assert!(close(&got(&x - &y), &(&a - &b)));
    assert!(close(&got(&x * &y), &(&a * &b)));
    assert!(close(&got(&x / &y), &(&a / &b)));
    assert!(close(&got(&x + &r), &(&a + &row))); // broadcasting
    assert!(close(&got(&x * 2.0), &(&a * 2.0)));
    assert!(close(&got(2.0 - &x), &a.mapv(|v| 2.0 - v)));
    assert!(close(&got(3.0 / &x), &a.mapv(|v| 3.0 / v)));
    assert!(close(&got(-&x), &-&a));
    assert!(close(&got(-(x.clone())), &-&a));
    assert!(close(&got(x.clone() + y.clone()), &(&a + &b)));
    assert!(close(&got(x.clone() - &y), &(&a - &b)));
    assert!(close(&got(&x * y.clone()), &(&a * &b)));
    assert!(close(&got(x.clone() * 0.5), &(&a * 0.5)));
    assert!(close(&got(1 + &x), &(&a + 1.0))); // integer scalars are weak, as in NumPy
    // NumPy's remainder takes the divisor's sign.
    let want = ndarray::Zip::from(&a)
        .and(&b)
        .map_collect(|&p, &q| p - q * (p / q).floor());
    assert!(close(&got(&x % &y), &want));

    let mut z = x.clone();
    z += &y;
    z *= 2.0;
    z -= 1.0;
    z /= &x;
    z %= 7.0;
    z += y.clone();
    let mut w = ((&a + &b) * 2.0 - 1.0) / &a;
    w.mapv_inplace(|p| p - 7.0 * (p / 7.0).floor());
    assert!(close(&got(z), &(w + &b)));

    // Integer arrays stay integer; / is true division.
    let ia = ndarray::Array::from_shape_fn((4, 3), |(i, j)| (i * 3 + j) as i64 - 5).into_dyn();
    let xi = ctx.from_ndarray(&ia, 2).unwrap();
    let p = (&xi * 3 + 1).compute::<i64>(&seq()).unwrap();
    assert_eq!(p, ia.mapv(|v| v * 3 + 1));
    assert_eq!((&xi / 2).dtype(), DType::F64);
}

#[test]
fn operator_shape_mismatch_panics_with_the_method_message() {
    let ctx = ArrayContext::new();
    let x = ctx.from_ndarray(&data(&[4, 3], 1), 2).unwrap();
    let y = ctx.from_ndarray(&data(&[4, 2], 2), 2).unwrap();
    let typed = x.add(&y).unwrap_err();
    assert_eq!(typed.kind(), ErrorKind::Shape);
    let msg = |f: &dyn Fn()| {
        let p = catch_unwind(AssertUnwindSafe(f)).unwrap_err();
        p.downcast_ref::<String>().cloned().unwrap()
    };
    assert_eq!(msg(&|| drop(&x + &y)), typed.to_string());
    assert_eq!(
        msg(&|| drop(&x * y.clone())),
        x.mul(&y).unwrap_err().to_string()
    );
    assert_eq!(
        msg(&|| {
            let mut z = x.clone();
            z -= &y;
        }),
        x.sub(&y).unwrap_err().to_string()
    );
}

// ---- s![] ----

/// `x.slice(s![...])`, computed, equals `a.slice(ndarray::s![...])`.
macro_rules! same_slice {
    ($x:expr, $a:expr; $($t:tt)*) => {{
        let got = $x.slice(s![$($t)*]).unwrap().compute::<f64>(&seq()).unwrap();
        let want = $a.slice(ndarray::s![$($t)*]).to_owned().into_dyn();
        assert_eq!(got, want, "s![{}]", stringify!($($t)*));
    }};
}

#[test]
fn s_macro_matches_ndarray_slicing() {
    let ctx = ArrayContext::new();
    let a = data(&[30, 12, 5], 4);
    let x = ctx
        .from_ndarray(&a, vec![vec![7, 9, 14], vec![5, 5, 2], vec![5]])
        .unwrap();
    same_slice!(x, a; 2..27, ..;3, ..);
    same_slice!(x, a; .., NewAxis, 5..9, ..);
    same_slice!(x, a; -1, .., ..);
    same_slice!(x, a; -1, 3, -2);
    same_slice!(x, a; ..;-1, .., ..);
    same_slice!(x, a; 2..27;-4, ..;-5, 1..;2);
    same_slice!(x, a; 3..=20;-3, ..=-2, ..-1);
    same_slice!(x, a; 5, NewAxis, 1..11;3, NewAxis, ..);
    same_slice!(x, a; 0..0, .., ..); // an empty range
    let (from, to) = (10isize, 4isize);
    same_slice!(x, a; from..to, .., ..); // a range ending before its start is empty
    same_slice!(x, a; -7.., 11, ..;-2);
    same_slice!(x, a; 4..5;-7, 0..12;12, ..);
    let (lo, hi, st) = (3usize, 25usize, 2usize); // variables of another integer type
    same_slice!(x, a; lo..hi;st, .., 4);
    // `...` stands for the axes not named.
    let got = x
        .slice(s![..., 1..;2])
        .unwrap()
        .compute::<f64>(&seq())
        .unwrap();
    assert_eq!(got, a.slice(ndarray::s![.., .., 1..;2]).into_dyn());
    let got = x.slice(s![3, ...]).unwrap().compute::<f64>(&seq()).unwrap();
    assert_eq!(got, a.slice(ndarray::s![3, .., ..]).into_dyn());
    // Fewer entries than axes: the rest are whole.
    let got = x.slice(s![1..3]).unwrap().compute::<f64>(&seq()).unwrap();
    assert_eq!(got, a.slice(ndarray::s![1..3, .., ..]).into_dyn());
    assert_eq!(x.slice(s![]).unwrap().shape(), a.shape());
}

#[test]
fn s_macro_errors_are_typed() {
    let ctx = ArrayContext::new();
    let x = ctx.from_ndarray(&data(&[6, 4], 5), 3).unwrap();
    let e = |r: blockwork::Result<Array>| r.unwrap_err().kind();
    assert_eq!(e(x.slice(s![.., 4])), ErrorKind::Index);
    assert_eq!(e(x.slice(s![-7, ..])), ErrorKind::Index);
    assert_eq!(e(x.slice(s![0..7, ..])), ErrorKind::Index);
    assert_eq!(e(x.slice(s![-9.., ..])), ErrorKind::Index);
    assert_eq!(e(x.slice(s![..;0, ..])), ErrorKind::Index);
    assert_eq!(e(x.slice(s![0, 0, 0])), ErrorKind::Index);
    assert_eq!(e(x.slice(s![..., 0, ...])), ErrorKind::Index);
    assert_eq!(e(x.slice(s![usize::MAX, ..])), ErrorKind::Index);
    // The extreme step is valid: one element per axis walked.
    let a = data(&[6, 4], 5);
    same_slice!(x, a; ..;isize::MIN, ..;isize::MAX);
}

// ---- reductions ----

#[test]
fn reductions_take_axes_keepdims_and_ddof() {
    let ctx = ArrayContext::new();
    let a = data(&[6, 5, 4], 6);
    let x = ctx.from_ndarray(&a, [4, 2, 3]).unwrap();
    let got = |z: blockwork::Result<Array>| z.unwrap().compute::<f64>(&seq()).unwrap();
    assert!(close(&got(x.sum(1)), &a.sum_axis(Axis(1))));
    assert!(close(&got(x.sum(-1)), &a.sum_axis(Axis(2))));
    assert!(close(&got(x.sum(Some(0))), &a.sum_axis(Axis(0))));
    assert!(close(
        &got(x.sum([0, 2])),
        &a.sum_axis(Axis(2)).sum_axis(Axis(0))
    ));
    assert!(close(
        &got(x.max(&[2, 1][..])),
        &a.fold_axis(Axis(2), f64::MIN, |m, &v| m.max(v))
            .fold_axis(Axis(1), f64::MIN, |m, &v| m.max(v))
    ));
    let mean = got(x.mean(Reduction::axes([1]).keepdims(true)));
    assert!(close(
        &mean,
        &a.mean_axis(Axis(1)).unwrap().insert_axis(Axis(1))
    ));
    for ddof in [0, 1, 3] {
        let v = got(x.var(2, ddof));
        assert!(close(&v, &a.var_axis(Axis(2), ddof as f64)));
        let sd = got(x.std(Reduction::axis(Some(0)).keepdims(true), ddof));
        assert!(close(
            &sd,
            &a.std_axis(Axis(0), ddof as f64).insert_axis(Axis(0))
        ));
    }
    // Over two axes: the variance of the flattened pairs.
    let flat = a.to_shape((6, 20)).unwrap().to_owned();
    let v = got(x.var(vec![1, 2], 1));
    assert!(close(&v, &flat.var_axis(Axis(1), 1.0).into_dyn()));
    assert!((x.mean(None).unwrap().compute_f64(&seq()).unwrap() - a.mean().unwrap()).abs() < 1e-12);
}

#[test]
fn reduction_edge_cases() {
    let ctx = ArrayContext::new();
    let x = ctx.from_ndarray(&data(&[3, 4], 7), 2).unwrap();
    let e = |r: blockwork::Result<Array>| r.unwrap_err().kind();
    assert_eq!(e(x.sum(2)), ErrorKind::Index);
    assert_eq!(e(x.mean([0, 0])), ErrorKind::Index);
    assert_eq!(e(x.var(1, 5)), ErrorKind::InvalidArgument); // ddof over the 4 per row
    assert_eq!(e(x.std(None, 13)), ErrorKind::InvalidArgument);
    assert_eq!(e(x.var([0, 1], 13)), ErrorKind::InvalidArgument);
    // ddof == n divides by zero, as NumPy does.
    let v = x.var(1, 4).unwrap().compute::<f64>(&seq()).unwrap();
    assert!(v.iter().all(|v| v.is_infinite()));
    let ones = ctx.ones(&[3, 2], 2, DType::F64).unwrap();
    let v = ones.var(1, 2).unwrap().compute::<f64>(&seq()).unwrap();
    assert!(v.iter().all(|v| v.is_nan()));
    // The mean (and var, std) of an empty axis is NaN, as in NumPy; min is an error.
    let empty = ctx.zeros(&[3, 0], 2, DType::F64).unwrap();
    for r in [
        empty.mean(1),
        empty.var(1, 0),
        empty.std(Reduction::axes([1]), 0),
    ] {
        let m = r.unwrap().compute::<f64>(&seq()).unwrap();
        assert_eq!(m.shape(), &[3]);
        assert!(m.iter().all(|v| v.is_nan()));
    }
    assert!(
        empty
            .mean(None)
            .unwrap()
            .compute_f64(&seq())
            .unwrap()
            .is_nan()
    );
    assert_eq!(e(empty.max(1)), ErrorKind::Empty);
    assert_eq!(empty.mean(0).unwrap().shape(), &[0]);
}

// ---- typed results ----

#[test]
fn typed_results() {
    let ctx = ArrayContext::new();
    let a = data(&[5, 3], 8);
    let x = ctx.from_ndarray(&a, 2).unwrap();
    let m: Array2<f64> = x.compute_as(&seq()).unwrap();
    assert_eq!(m.into_dyn(), a);
    let col = x.sum(0).unwrap().compute_as::<f64, Ix1>(&seq()).unwrap();
    assert!(close(&col.into_dyn(), &a.sum_axis(Axis(0))));
    let s = x.sum(None).unwrap();
    assert!((s.compute_as::<f64, Ix0>(&seq()).unwrap().into_scalar() - a.sum()).abs() < 1e-9);
    assert!((s.compute_f64(&seq()).unwrap() - a.sum()).abs() < 1e-9);
    assert!((s.compute_item::<f64>(&seq()).unwrap() - a.sum()).abs() < 1e-9);
    let e = |k: blockwork::Error| k.kind();
    assert_eq!(
        e(x.compute_as::<f64, Ix3>(&seq()).unwrap_err()),
        ErrorKind::Shape
    );
    assert_eq!(
        e(x.compute_as::<i64, Ix2>(&seq()).unwrap_err()),
        ErrorKind::Type
    );
    assert_eq!(e(x.compute_f64(&seq()).unwrap_err()), ErrorKind::Shape);
    assert_eq!(
        e(s.compute_item::<f32>(&seq()).unwrap_err()),
        ErrorKind::Type
    );
    let count = x.gt(0.0).unwrap().sum(None).unwrap();
    let want = a.iter().filter(|&&v| v > 0.0).count() as i64;
    assert_eq!(count.compute_item::<i64>(&seq()).unwrap(), want);
    assert_eq!(count.compute_f64(&seq()).unwrap(), want as f64);
}

// ---- shared ndarrays ----

#[test]
fn shared_arrays_are_read_in_place_in_any_layout() {
    let ctx = ArrayContext::new();
    let pool = Pool::new(2).unwrap();
    let a = data(&[9, 7], 9).into_dimensionality::<Ix2>().unwrap();
    let shared = a.clone().into_shared();
    let mut back = shared.clone();
    back.invert_axis(Axis(0)); // negative strides, still the same memory
    let fortran = shared.clone().reversed_axes(); // column-major
    let mut strided = shared.clone();
    strided.slice_collapse(ndarray::s![..;2, 1..;3]); // not contiguous: copied once
    let cases: Vec<(ndarray::ArcArray<f64, Ix2>, Array2<f64>)> = vec![
        (shared.clone(), a.clone()),
        (back, a.slice(ndarray::s![..;-1, ..]).to_owned()),
        (fortran, a.t().to_owned()),
        (strided, a.slice(ndarray::s![..;2, 1..;3]).to_owned()),
    ];
    for (sh, want) in cases {
        let x = ctx.from_shared(sh, [4, 3]).unwrap();
        assert_eq!(x.compute_as::<f64, Ix2>(&pool).unwrap(), want);
        let want = want.into_dyn();
        // Fused consumers read the shared memory directly.
        let y = (&x * 2.0 + 1.0)
            .sum(0)
            .unwrap()
            .compute::<f64>(&pool)
            .unwrap();
        assert!(close(&y, &(&want * 2.0 + 1.0).sum_axis(Axis(0))));
        let t = (x.t() + x.slice(s![.., ..1]).unwrap().t()).compute::<f64>(&pool);
        let tw = &want.t() + &want.slice(ndarray::s![.., ..1]).t();
        assert!(close(&t.unwrap(), &tw));
        // Materialising consumers (matmul, persist) see the same values.
        let p = x.persist(&pool).unwrap().compute::<f64>(&pool).unwrap();
        assert_eq!(p, want);
        let mm = x.matmul(&x.t()).unwrap().compute::<f64>(&pool).unwrap();
        let w2 = want.clone().into_dimensionality::<Ix2>().unwrap();
        assert!(close(&mm, &w2.dot(&w2.t()).into_dyn()));
    }
    // Other element types, and 0-d and empty arrays.
    let ints = ndarray::Array::from_shape_fn((3, 4, 2), |(i, j, k)| (i * 8 + j * 2 + k) as i32);
    let xi = ctx.from_shared(ints.clone().into_shared(), 2).unwrap();
    assert_eq!(xi.dtype(), DType::I32);
    assert_eq!(xi.compute::<i32>(&pool).unwrap(), ints.into_dyn());
    let z = ctx
        .from_shared(ndarray::arr0(2.5).into_shared(), 1)
        .unwrap();
    assert_eq!(z.compute_f64(&pool).unwrap(), 2.5);
    let empty = ctx
        .from_shared(Array2::<f64>::zeros((0, 3)).into_shared(), 2)
        .unwrap();
    assert_eq!(
        empty.sum(0).unwrap().compute::<f64>(&pool).unwrap().shape(),
        &[3]
    );
    // Bad chunks are typed errors.
    let bad = ctx.from_shared(a.into_shared(), [0, 1]);
    assert_eq!(bad.unwrap_err().kind(), ErrorKind::InvalidArgument);
}

#[test]
fn shared_array_names() {
    let ctx = ArrayContext::new();
    let a = data(&[4, 4], 10).into_shared();
    let (x, y) = (
        ctx.from_shared(a.clone(), 2).unwrap(),
        ctx.from_shared(a.clone(), 2).unwrap(),
    );
    assert_ne!(x.name(), y.name()); // each call its own keys
    let t1 = ctx.from_shared_with_token(a.clone(), 2, "t").unwrap();
    let t2 = ctx.from_shared_with_token(a.clone(), 2, "t").unwrap();
    let t3 = ctx.from_shared_with_token(a, 2, "u").unwrap();
    assert_eq!(t1.name(), t2.name());
    assert_ne!(t1.name(), t3.name());
    assert_eq!(
        (&t1 + &t2).compute::<f64>(&seq()).unwrap(),
        (&x * 2.0).compute::<f64>(&seq()).unwrap()
    );
}

// ---- the caller's own tasks ----

fn load_op() -> Op {
    // Block (i, j) of a 5 x 7 array cut by [2, 3]: the value 10 i + j at every element.
    Op::typed("load", |i: i64, j: i64, r: i64, c: i64| {
        BlockData::F64(ArrayD::from_elem(
            IxDyn(&[r as usize, c as usize]),
            (10 * i + j) as f64,
        ))
    })
}

#[test]
fn arrays_from_the_callers_tasks() {
    let ctx = ArrayContext::new();
    let load = load_op();
    let chunks = blockwork::array::Chunks::new(&[5, 7], [2, 3]).unwrap();
    let mut g = GraphBuilder::new();
    let mut keys = Vec::new();
    for idx in chunks.indices() {
        let bs = chunks.block_shape(&idx);
        let k = Key::from(("load", idx[0] as i64, idx[1] as i64));
        let args = [idx[0], idx[1], bs[0], bs[1]].map(|v| Arg::lit(v as i64));
        g.task(k.clone(), &load, args).unwrap();
        keys.push(k);
    }
    let graph = g.build();
    let x = ctx
        .from_blocks(graph.clone(), keys.clone(), &[5, 7], [2, 3], DType::F64)
        .unwrap();
    let want = ndarray::Array::from_shape_fn((5, 7), |(i, j)| (10 * (i / 2) + j / 3) as f64);
    assert_eq!(
        x.compute_as::<f64, Ix2>(&Pool::new(2).unwrap()).unwrap(),
        want
    );
    let s = (&x * 2.0).sum(1).unwrap().compute::<f64>(&seq()).unwrap();
    assert!(close(&s, &(&want * 2.0).sum_axis(Axis(1)).into_dyn()));

    // Bad input: key count, missing key, chunks; wrong type or shape at run time.
    let e = |r: blockwork::Result<Array>| r.unwrap_err().kind();
    let ctxr = &ctx;
    let from =
        |g: &blockwork::Graph, k: Vec<Key>, dt| ctxr.from_blocks(g.clone(), k, &[5, 7], [2, 3], dt);
    assert_eq!(
        e(from(&graph, keys[1..].to_vec(), DType::F64)),
        ErrorKind::InvalidArgument
    );
    let mut missing = keys.clone();
    missing[3] = Key::from("nowhere");
    assert_eq!(e(from(&graph, missing, DType::F64)), ErrorKind::MissingKey);
    assert_eq!(
        e(ctx.from_blocks(graph.clone(), keys.clone(), &[5, 7], [2, 0], DType::F64)),
        ErrorKind::InvalidArgument
    );
    let wrong_type = from(&graph, keys.clone(), DType::F32).unwrap();
    let err = wrong_type.compute::<f32>(&seq()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TaskFailed);
    assert!(
        err.to_string().contains("is float64, the array float32"),
        "{err}"
    );
    // Shapes swapped: the blocks no longer fit their places in a 7 x 5 grid.
    let wrong_shape = ctx
        .from_blocks(graph, keys, &[7, 5], [3, 2], DType::F64)
        .unwrap();
    let err = wrong_shape.compute::<f64>(&seq()).unwrap_err();
    assert!(err.to_string().contains("has shape"), "{err}");
}

#[test]
fn array_blocks_feed_the_callers_tasks() {
    let ctx = ArrayContext::new();
    let a = data(&[10, 6], 11);
    let x = ctx.from_ndarray(&a, [4, 4]).unwrap();
    let y = (&x * 3.0).slice(s![1.., ..]).unwrap(); // fused: blocks are made on demand
    let total = Op::new("total", |args: &[Value]| {
        Ok(Value::from(
            Block::data_of(&args[0])?.as_array::<f64>().unwrap().sum(),
        ))
    });
    let mut g = GraphBuilder::new();
    let mut mine = Vec::new();
    for (idx, key) in y.blocks() {
        let k = Key::from(("total", idx[0] as i64, idx[1] as i64));
        g.task(k.clone(), &total, [Arg::key(key)]).unwrap();
        mine.push((idx, k));
    }
    let mut graph = y.graph().unwrap();
    graph.merge(&g.build()).unwrap();
    let want = a.slice(ndarray::s![1.., ..]).mapv(|v| v * 3.0);
    let pool = Pool::new(2).unwrap();
    for (idx, k) in mine {
        let got = pool.get(&graph, k).unwrap().as_float().unwrap();
        let (r0, c0) = (y.chunks().offset(0, idx[0]), y.chunks().offset(1, idx[1]));
        let bs = y.chunks().block_shape(&idx);
        let blk = want.slice(ndarray::s![r0..r0 + bs[0], c0..c0 + bs[1]]);
        assert!((got - blk.sum()).abs() < 1e-9);
    }
    // A non-block value read as a block is a typed error inside the caller's task.
    assert_eq!(
        Block::data_of(&Value::from(1.5)).unwrap_err().kind(),
        ErrorKind::Type
    );
}
