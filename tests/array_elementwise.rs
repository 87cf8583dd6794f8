//! Elementwise array operations against direct ndarray computations.

mod common;

use blockwork::array::{Array, BinOp, ChunkSpec, DType, UnOp, binary, unary, where_};
use blockwork::{ErrorKind, Pool, Sequential};
use common::{close, ctx, data, idata, layouts};
use ndarray::{ArrayD, IxDyn, Zip};

fn f64s(a: &Array) -> ArrayD<f64> {
    a.compute::<f64>(&Sequential::new()).unwrap()
}

fn unary_ref(op: UnOp, x: f64) -> f64 {
    use UnOp::*;
    match op {
        Neg => -x,
        Abs => x.abs(),
        Exp => x.exp(),
        Log => x.ln(),
        Log1p => x.ln_1p(),
        Expm1 => x.exp_m1(),
        Sqrt => x.sqrt(),
        Sin => x.sin(),
        Cos => x.cos(),
        Tan => x.tan(),
        Arcsin => x.asin(),
        Arccos => x.acos(),
        Arctan => x.atan(),
        Sinh => x.sinh(),
        Cosh => x.cosh(),
        Tanh => x.tanh(),
        Floor => x.floor(),
        Ceil => x.ceil(),
        Trunc => x.trunc(),
        Log10 => x.log10(),
        Log2 => x.log2(),
        Sign => {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else if x == 0.0 {
                0.0
            } else {
                x
            }
        }
        Round(d) => {
            let f = 10f64.powi(d.abs());
            if d >= 0 {
                (x * f).round_ties_even() / f
            } else {
                (x / f).round_ties_even() * f
            }
        }
        Not | IsNan | IsInf | IsFinite => unreachable!(),
    }
}

const FLOAT_UNARY: [UnOp; 25] = [
    UnOp::Neg,
    UnOp::Abs,
    UnOp::Exp,
    UnOp::Log,
    UnOp::Log1p,
    UnOp::Expm1,
    UnOp::Sqrt,
    UnOp::Sin,
    UnOp::Cos,
    UnOp::Tan,
    UnOp::Arcsin,
    UnOp::Arccos,
    UnOp::Arctan,
    UnOp::Sinh,
    UnOp::Cosh,
    UnOp::Tanh,
    UnOp::Floor,
    UnOp::Ceil,
    UnOp::Trunc,
    UnOp::Log10,
    UnOp::Log2,
    UnOp::Sign,
    UnOp::Round(0),
    UnOp::Round(2),
    UnOp::Round(-1),
];

#[test]
fn unary_float_ops_all_layouts() {
    let c = ctx();
    for (shape, chunks) in layouts() {
        let a = data(&shape, 1);
        let x = c.from_ndarray(&a, chunks).unwrap();
        for op in FLOAT_UNARY {
            let got = f64s(&unary(op, &x).unwrap());
            close(&got, &a.mapv(|v| unary_ref(op, v)), 1e-15);
        }
        let nan = x
            .log()
            .unwrap()
            .isnan()
            .unwrap()
            .compute::<bool>(&Sequential::new())
            .unwrap();
        assert_eq!(nan, a.mapv(|v| v.ln().is_nan()));
        let inf = x
            .div(0.0)
            .unwrap()
            .isinf()
            .unwrap()
            .compute::<bool>(&Sequential::new())
            .unwrap();
        assert_eq!(inf, a.mapv(|v| (v / 0.0).is_infinite()));
    }
}

fn binary_ref(op: BinOp, a: f64, b: f64) -> f64 {
    use BinOp::*;
    match op {
        Add => a + b,
        Sub => a - b,
        Mul => a * b,
        Div => a / b,
        FloorDiv => (a / b).floor(),
        Rem => {
            let m = a % b;
            if m != 0.0 && ((m < 0.0) != (b < 0.0)) {
                m + b
            } else {
                m
            }
        }
        Pow => a.powf(b),
        Maximum => {
            if a.is_nan() || b.is_nan() {
                f64::NAN
            } else {
                a.max(b)
            }
        }
        Minimum => {
            if a.is_nan() || b.is_nan() {
                f64::NAN
            } else {
                a.min(b)
            }
        }
        Arctan2 => a.atan2(b),
        Hypot => a.hypot(b),
        _ => unreachable!(),
    }
}

const FLOAT_BINARY: [BinOp; 11] = [
    BinOp::Add,
    BinOp::Sub,
    BinOp::Mul,
    BinOp::Div,
    BinOp::FloorDiv,
    BinOp::Rem,
    BinOp::Pow,
    BinOp::Maximum,
    BinOp::Minimum,
    BinOp::Arctan2,
    BinOp::Hypot,
];

#[test]
fn binary_float_ops_arrays_and_scalars() {
    let c = ctx();
    for (shape, chunks) in layouts() {
        let (a, b) = (data(&shape, 1), data(&shape, 2));
        let x = c.from_ndarray(&a, chunks.clone()).unwrap();
        // The second operand chunked differently: unified automatically.
        let y = c.from_ndarray(&b, 2).unwrap();
        for op in FLOAT_BINARY {
            let mut want = a.clone();
            Zip::from(&mut want)
                .and(&b)
                .for_each(|w, &v| *w = binary_ref(op, *w, v));
            close(&f64s(&binary(op, &x, &y).unwrap()), &want, 1e-15);
            close(
                &f64s(&binary(op, &x, 1.5).unwrap()),
                &a.mapv(|v| binary_ref(op, v, 1.5)),
                1e-15,
            );
            close(
                &f64s(&binary(op, -2.5, &x).unwrap()),
                &a.mapv(|v| binary_ref(op, -2.5, v)),
                1e-15,
            );
        }
    }
}

#[test]
fn comparisons_logic_where_clip() {
    let c = ctx();
    let s = Sequential::new();
    for (shape, chunks) in layouts() {
        let (a, b) = (data(&shape, 3), data(&shape, 4));
        let x = c.from_ndarray(&a, chunks).unwrap();
        let y = c.from_ndarray(&b, 3).unwrap();
        let cmp = |op: BinOp, f: fn(&f64, &f64) -> bool| {
            let got = binary(op, &x, &y).unwrap().compute::<bool>(&s).unwrap();
            let mut want = ArrayD::from_elem(IxDyn(&shape), false);
            Zip::from(&mut want)
                .and(&a)
                .and(&b)
                .for_each(|w, p, q| *w = f(p, q));
            assert_eq!(got, want, "{op:?}");
        };
        cmp(BinOp::Eq, |p, q| p == q);
        cmp(BinOp::Ne, |p, q| p != q);
        cmp(BinOp::Lt, |p, q| p < q);
        cmp(BinOp::Le, |p, q| p <= q);
        cmp(BinOp::Gt, |p, q| p > q);
        cmp(BinOp::Ge, |p, q| p >= q);
        let (pa, pb) = (x.gt(0.0).unwrap(), y.lt(1.0).unwrap());
        let and = pa.logical_and(&pb).unwrap().compute::<bool>(&s).unwrap();
        let or = pa
            .logical_or(&pb)
            .unwrap()
            .logical_not()
            .unwrap()
            .compute::<bool>(&s)
            .unwrap();
        Zip::from(&and)
            .and(&or)
            .and(&a)
            .and(&b)
            .for_each(|&g1, &g2, &p, &q| {
                assert_eq!(g1, p > 0.0 && q < 1.0);
                assert_eq!(g2, !(p > 0.0 || q < 1.0));
            });
        let w = f64s(&where_(&pa, &x, -1.0).unwrap());
        close(&w, &a.mapv(|v| if v > 0.0 { v } else { -1.0 }), 0.0);
        let cl = f64s(&x.clip(-1.0, 2.0).unwrap());
        close(&cl, &a.mapv(|v| v.clamp(-1.0, 2.0)), 0.0);
    }
}

#[test]
fn integer_semantics_and_astype() {
    let c = ctx();
    let s = Sequential::new();
    let a = idata(&[6, 5], 1);
    let b = idata(&[6, 5], 2);
    let x = c.from_ndarray(&a, 4).unwrap();
    let y = c.from_ndarray(&b.mapv(|v| v as i32), 3).unwrap();
    // i64 with i32 promotes to i64; floor division and remainder follow the divisor's sign,
    // division by zero gives 0.
    let fd = x.floor_div(&y).unwrap();
    assert_eq!(fd.dtype(), DType::I64);
    let rem = x.rem(&y).unwrap().compute::<i64>(&s).unwrap();
    let fdv = fd.compute::<i64>(&s).unwrap();
    Zip::from(&fdv)
        .and(&rem)
        .and(&a)
        .and(&b)
        .for_each(|&q, &r, &p, &d| {
            if d == 0 {
                assert_eq!((q, r), (0, 0));
            } else {
                assert_eq!(q, (p as f64 / d as f64).floor() as i64);
                assert_eq!(r, p - q * d);
            }
        });
    // True division of integers gives f64; int with f32 gives f64; weak scalars keep f32.
    assert_eq!(x.div(2).unwrap().dtype(), DType::F64);
    let f = c.from_ndarray(&a.mapv(|v| v as f32), 4).unwrap();
    assert_eq!(f.mul(2.0).unwrap().dtype(), DType::F32);
    assert_eq!(f.add(&y).unwrap().dtype(), DType::F64);
    let p = x
        .abs()
        .unwrap()
        .rem(5)
        .unwrap()
        .pow(3)
        .unwrap()
        .compute::<i64>(&s)
        .unwrap();
    assert_eq!(p, a.mapv(|v| (v.abs() % 5).pow(3)));
    let neg = x.neg().unwrap().compute::<i64>(&s).unwrap();
    assert_eq!(neg, a.mapv(|v| -v));
    let cast = c.from_ndarray(&data(&[6, 5], 1), 4).unwrap();
    assert_eq!(
        cast.astype(DType::I32).unwrap().compute::<i32>(&s).unwrap(),
        data(&[6, 5], 1).mapv(|v| v as i32)
    );
    assert_eq!(
        cast.astype(DType::Bool)
            .unwrap()
            .compute::<bool>(&s)
            .unwrap(),
        data(&[6, 5], 1).mapv(|v| v != 0.0)
    );
    assert_eq!(
        x.gt(0)
            .unwrap()
            .astype(DType::F32)
            .unwrap()
            .compute::<f32>(&s)
            .unwrap(),
        a.mapv(|v| if v > 0 { 1.0 } else { 0.0 })
    );
}

#[test]
fn broadcasting_and_chunk_unification() {
    let c = ctx();
    let a = data(&[7, 5], 1);
    let row = data(&[5], 2);
    let col = data(&[7, 1], 3);
    let x = c.from_ndarray(&a, [3, 2]).unwrap();
    let r = c.from_ndarray(&row, 3).unwrap();
    let k = c.from_ndarray(&col, [4, 1]).unwrap();
    let got = f64s(&x.add(&r).unwrap().mul(&k).unwrap());
    let want = (&a + &row) * &col;
    close(&got, &want, 1e-15);
    // Chunks [2, 2, 1] and [3, 2] along the shared axis refine to [2, 1, 1, 1].
    assert_eq!(x.add(&r).unwrap().chunks().axis(1), &[2, 1, 1, 1]);
    let outer = f64s(&k.mul(&r).unwrap());
    close(&outer, &(&col * &row), 0.0);
    let b = f64s(&r.broadcast_to(&[2, 7, 5]).unwrap());
    close(
        &b,
        &row.broadcast(IxDyn(&[2, 7, 5])).unwrap().to_owned(),
        0.0,
    );
    let bad = c.from_ndarray(&data(&[4], 1), 2).unwrap();
    assert_eq!(x.add(&bad).unwrap_err().kind(), ErrorKind::Shape);
    assert_eq!(
        r.broadcast_to(&[5, 2]).unwrap_err().kind(),
        ErrorKind::Shape
    );
}

#[test]
fn fusion_makes_one_task_per_block_and_names_are_deterministic() {
    let c = ctx();
    let a = data(&[8, 6], 1);
    let b = data(&[8, 6], 2);
    let x = c.from_ndarray(&a, [4, 3]).unwrap();
    let y = c.from_ndarray(&b, [4, 3]).unwrap();
    let z = x.add(1.0).unwrap().mul(2.0).unwrap().sub(&y).unwrap();
    let z2 = x.add(1.0).unwrap().mul(2.0).unwrap().sub(&y).unwrap();
    assert_eq!(z.name(), z2.name());
    assert_ne!(
        z.name(),
        x.add(1.0)
            .unwrap()
            .mul(3.0)
            .unwrap()
            .sub(&y)
            .unwrap()
            .name()
    );
    // 4 literal blocks of x, 4 of y, 4 fused tasks: no intermediate arrays.
    assert_eq!(z.graph().unwrap().len(), 12);
    let pool = Pool::new(2).unwrap();
    let got = z.compute::<f64>(&pool).unwrap();
    close(&got, &((&a + 1.0) * 2.0 - &b), 0.0);
    assert_eq!(c.from_ndarray(&a, [4, 3]).unwrap().name(), x.name());
}

#[test]
fn creation_functions() {
    let c = ctx();
    let s = Sequential::new();
    let z = c
        .zeros(&[5, 3], 2, DType::I32)
        .unwrap()
        .compute::<i32>(&s)
        .unwrap();
    assert_eq!(z, ArrayD::<i32>::zeros(IxDyn(&[5, 3])));
    let o = c
        .ones(&[4], 3, DType::F32)
        .unwrap()
        .compute::<f32>(&s)
        .unwrap();
    assert_eq!(o, ArrayD::<f32>::ones(IxDyn(&[4])));
    let f = c
        .full(&[2, 2], 1, 7i64)
        .unwrap()
        .compute::<i64>(&s)
        .unwrap();
    assert_eq!(f, ArrayD::from_elem(IxDyn(&[2, 2]), 7i64));
    let e = c
        .empty(&[0, 3], 2, DType::F64)
        .unwrap()
        .compute::<f64>(&s)
        .unwrap();
    assert_eq!(e.shape(), &[0, 3]);
    let ar = c
        .arange(0.5, 10.0, 1.5, 3)
        .unwrap()
        .compute::<f64>(&s)
        .unwrap();
    assert_eq!(ar, ndarray::Array::range(0.5, 10.0, 1.5).into_dyn());
    let ai = c
        .arange_int(10, -3, -4, 2)
        .unwrap()
        .compute::<i64>(&s)
        .unwrap();
    assert_eq!(ai.as_slice().unwrap(), &[10, 6, 2, -2]);
    let ls = c
        .linspace(0.0, 1.0, 7, true, 3)
        .unwrap()
        .compute::<f64>(&s)
        .unwrap();
    close(
        &ls,
        &ndarray::Array::linspace(0.0, 1.0, 7).into_dyn(),
        1e-15,
    );
    assert_eq!(ls[6], 1.0);
    let ff = c
        .fromfunction("i-times-j", &[4, 5], [3, 2], DType::I64, |i| {
            ((i[0] * 10 + i[1]) as i64).into()
        })
        .unwrap()
        .compute::<i64>(&s)
        .unwrap();
    assert_eq!(
        ff,
        ArrayD::from_shape_fn(IxDyn(&[4, 5]), |i| (i[0] * 10 + i[1]) as i64)
    );
    assert_eq!(
        c.arange(0.0, 1.0, 0.0, 1).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    // Chunk specs: wrong number of axes, lengths not summing to the axis, a zero chunk on a
    // non-empty axis, sizes that overflow.
    let kind = |r: blockwork::Result<Array>| r.unwrap_err().kind();
    assert_eq!(kind(c.zeros(&[4, 4], [2], DType::F64)), ErrorKind::Shape);
    assert_eq!(
        kind(c.zeros(&[4], vec![vec![1, 2]], DType::F64)),
        ErrorKind::Shape
    );
    assert_eq!(
        kind(c.ones(&[4], 0, DType::F64)),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        kind(c.ones(&[usize::MAX / 2, 4], 1 << 20, DType::F64)),
        ErrorKind::Overflow
    );
    assert_eq!(
        c.zeros(&[0, 3], [0, 3], DType::F64)
            .unwrap()
            .chunks()
            .axis(0),
        &[0]
    );
    assert_eq!(
        kind(c.zeros(&[0, 3], 0, DType::F64)),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn random_is_independent_of_threads_and_chunking() {
    let c = ctx();
    let shape = [37, 23];
    let want = c
        .random(&shape, [37, 23], 9)
        .unwrap()
        .compute::<f64>(&Sequential::new())
        .unwrap();
    assert!(want.iter().all(|&v| (0.0..1.0).contains(&v)));
    for (threads, chunks) in [
        (1, ChunkSpec::from(5)),
        (2, ChunkSpec::from([4, 7])),
        (3, ChunkSpec::from(1)),
    ] {
        let pool = Pool::new(threads).unwrap();
        let got = c
            .random(&shape, chunks, 9)
            .unwrap()
            .compute::<f64>(&pool)
            .unwrap();
        assert_eq!(got, want);
    }
    assert_ne!(
        c.random(&shape, 5, 10)
            .unwrap()
            .compute::<f64>(&Sequential::new())
            .unwrap(),
        want
    );
    let n = c
        .random_normal(&[20000], 1000, 1, 2.0, 3.0)
        .unwrap()
        .compute::<f64>(&Sequential::new())
        .unwrap();
    let mean = n.mean().unwrap();
    let sd = n.std(0.0);
    assert!(
        (mean - 2.0).abs() < 0.1 && (sd - 3.0).abs() < 0.1,
        "{mean} {sd}"
    );
    let ints = c
        .random_integers(&[5000], 333, 1, -3, 4)
        .unwrap()
        .compute::<i64>(&Sequential::new())
        .unwrap();
    assert!(ints.iter().all(|&v| (-3..4).contains(&v)));
    assert!((-3..4).all(|v| ints.iter().any(|&x| x == v)));
    assert_eq!(
        c.random_integers(&[3], 1, 1, 4, 4).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn compute_checks_the_type() {
    let c = ctx();
    let x = c.from_ndarray(&data(&[3], 1), 2).unwrap();
    assert_eq!(
        x.compute::<i64>(&Sequential::new()).unwrap_err().kind(),
        ErrorKind::Type
    );
    let p = Pool::new(2).unwrap();
    let v = x.mul(2.0).unwrap().persist(&p).unwrap();
    close(&v.compute::<f64>(&p).unwrap(), &(data(&[3], 1) * 2.0), 0.0);
}

#[test]
fn long_chains_materialise_and_stay_correct() {
    let c = ctx();
    let a = data(&[5, 4], 1);
    let x = c.from_ndarray(&a, 2).unwrap();
    let mut y = x.clone();
    for i in 0..300 {
        y = y
            .add(&x)
            .unwrap()
            .mul(0.5)
            .unwrap()
            .add(i as f64 * 1e-3)
            .unwrap();
    }
    let mut want = a.clone();
    for i in 0..300 {
        want = (&want + &a) * 0.5 + i as f64 * 1e-3;
    }
    close(&f64s(&y), &want, 1e-12);
    // Many blocks: graph building stays linear.
    let t = std::time::Instant::now();
    let big = c
        .random(&[20_000, 20_000], 200, 1)
        .unwrap()
        .add(1.0)
        .unwrap()
        .mean(None)
        .unwrap();
    let g = big.graph().unwrap();
    assert!(g.len() > 10_000);
    assert!(
        t.elapsed().as_secs_f64() < 5.0,
        "building took {:?}",
        t.elapsed()
    );
}

/// Blocks of at least 4 MiB are written with streaming stores: `(x + 1) * 2 - y` over
/// blocks that size (and a ragged edge of smaller blocks, and other types), against
/// ndarray, persisted and computed, on the pool.
#[test]
fn large_blocks_match_ndarray() {
    let c = ctx();
    let pool = blockwork::Pool::builder()
        .threads(2)
        .pin(false)
        .build()
        .unwrap();
    // 1100 x 1030 in 1024 x 1024 chunks: one 8 MiB block, three small edge blocks.
    let a = data(&[1100, 1030], 3);
    let b = data(&[1100, 1030], 4);
    let x = c.from_ndarray(&a, 1024).unwrap();
    let y = c.from_ndarray(&b, 1024).unwrap();
    let z = x.add(1.0).unwrap().mul(2.0).unwrap().sub(&y).unwrap();
    let want = (&a + 1.0) * 2.0 - &b;
    let persisted = z.persist(&pool).unwrap();
    assert_eq!(persisted.compute::<f64>(&pool).unwrap(), want);
    assert_eq!(z.compute::<f64>(&pool).unwrap(), want);
    // A transposed operand (the row-group walk) and other element types.
    let at = a.slice(ndarray::s![..1030, ..]).to_owned().into_dyn();
    let xs = c.from_ndarray(&at, 1024).unwrap();
    let want_t = &at + &at.t();
    assert_eq!(
        xs.add(xs.t())
            .unwrap()
            .persist(&pool)
            .unwrap()
            .compute::<f64>(&pool)
            .unwrap(),
        want_t
    );
    let ai = a.mapv(|v| (v * 4.0) as i32);
    let xi = c.from_ndarray(&ai, 1024).unwrap();
    let got = xi
        .mul(3i32)
        .unwrap()
        .persist(&pool)
        .unwrap()
        .compute::<i32>(&pool)
        .unwrap();
    assert_eq!(got, ai.mapv(|v| v.wrapping_mul(3)));
}
