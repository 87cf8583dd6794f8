//! Array reductions against direct ndarray computations.

mod common;

use blockwork::array::{Array, ReduceOp, Reduction};
use blockwork::{ErrorKind, Pool, Sequential};
use common::{close, ctx, data, idata, layouts};
use ndarray::{ArrayD, Axis, IxDyn};

/// Reference: folds `f` over the reduced axes of `a` (all when `axes` is empty).
fn reference(
    a: &ArrayD<f64>,
    axes: &[usize],
    keepdims: bool,
    f: &dyn Fn(&[f64]) -> f64,
) -> ArrayD<f64> {
    let n = a.ndim();
    let red: Vec<bool> = (0..n)
        .map(|k| axes.is_empty() || axes.contains(&k))
        .collect();
    let out_shape: Vec<usize> = (0..n)
        .map(|k| if red[k] { 1 } else { a.shape()[k] })
        .collect();
    let mut out = ArrayD::from_elem(IxDyn(&out_shape), 0.0);
    for (pos, o) in out.indexed_iter_mut() {
        let vals: Vec<f64> = a
            .indexed_iter()
            .filter(|(i, _)| (0..n).all(|k| red[k] || i[k] == pos[k]))
            .map(|(_, &v)| v)
            .collect();
        *o = f(&vals);
    }
    if keepdims {
        return out;
    }
    let keep: Vec<usize> = (0..n).filter(|&k| !red[k]).map(|k| a.shape()[k]).collect();
    out.into_shape_with_order(IxDyn(&keep)).unwrap()
}

fn sum(v: &[f64]) -> f64 {
    v.iter().sum()
}
fn mean(v: &[f64]) -> f64 {
    sum(v) / v.len() as f64
}
fn var(v: &[f64], ddof: usize) -> f64 {
    let m = mean(v);
    v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - ddof) as f64
}
fn nan_min(v: &[f64]) -> f64 {
    v.iter()
        .copied()
        .filter(|x| !x.is_nan())
        .fold(f64::NAN, |m, x| if m.is_nan() || x < m { x } else { m })
}
fn first_index(v: &[f64], better: fn(f64, f64) -> bool) -> f64 {
    let mut b = 0;
    for (i, &x) in v.iter().enumerate() {
        if better(x, v[b]) {
            b = i;
        }
    }
    b as f64
}

/// A reference reduction of a list of values.
type RefFn = Box<dyn Fn(&[f64]) -> f64>;

fn ops() -> Vec<(ReduceOp, RefFn)> {
    vec![
        (ReduceOp::Sum, Box::new(sum)),
        (ReduceOp::Prod, Box::new(|v: &[f64]| v.iter().product())),
        (
            ReduceOp::Min,
            Box::new(|v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min)),
        ),
        (
            ReduceOp::Max,
            Box::new(|v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
        ),
        (ReduceOp::Mean, Box::new(mean)),
        (ReduceOp::Var(0), Box::new(|v: &[f64]| var(v, 0))),
        (ReduceOp::Std(1), Box::new(|v: &[f64]| var(v, 1).sqrt())),
        (ReduceOp::NanSum, Box::new(sum)),
        (ReduceOp::NanMean, Box::new(mean)),
        (ReduceOp::NanMin, Box::new(nan_min)),
    ]
}

fn axis_sets(ndim: usize) -> Vec<Vec<usize>> {
    let mut v = vec![vec![]];
    for k in 0..ndim {
        v.push(vec![k]);
    }
    if ndim >= 2 {
        v.push(vec![0, ndim - 1]);
    }
    v
}

fn run(x: &Array, op: ReduceOp, axes: &[usize], keepdims: bool, split: usize) -> ArrayD<f64> {
    let how = if axes.is_empty() {
        Reduction::all()
    } else {
        Reduction::axes(axes.iter().map(|&a| a as isize))
    };
    let r = x
        .reduce(op, &how.keepdims(keepdims).split_every(split))
        .unwrap();
    r.astype(blockwork::array::DType::F64)
        .unwrap()
        .compute::<f64>(&Sequential::new())
        .unwrap()
}

#[test]
fn float_reductions_over_axes_and_layouts() {
    let c = ctx();
    for (shape, chunks) in layouts() {
        let a = data(&shape, 5);
        let x = c.from_ndarray(&a, chunks).unwrap();
        for axes in axis_sets(shape.len()) {
            let empty = axes.iter().map(|&k| shape[k]).product::<usize>() == 0
                || (axes.is_empty() && a.is_empty());
            for (op, f) in ops() {
                if empty && !matches!(op, ReduceOp::Sum | ReduceOp::Prod | ReduceOp::NanSum) {
                    continue;
                }
                if op == ReduceOp::Std(1)
                    && !empty
                    && a.len() / reference(&a, &axes, false, &|_| 0.0).len().max(1) < 2
                {
                    continue;
                }
                for (keepdims, split) in [(false, 16), (true, 2)] {
                    let got = run(&x, op, &axes, keepdims, split);
                    close(&got, &reference(&a, &axes, keepdims, f.as_ref()), 1e-12);
                }
            }
        }
    }
}

#[test]
fn arg_and_bool_reductions() {
    let c = ctx();
    let a = data(&[9, 7], 6);
    let x = c.from_ndarray(&a, [2, 3]).unwrap();
    let s = Sequential::new();
    let am = x.argmin(None).unwrap().compute_scalar(&s).unwrap().as_f64();
    assert_eq!(am, first_index(a.as_slice().unwrap(), |x, b| x < b));
    let ax = x.argmax(Some(0)).unwrap().compute::<i64>(&s).unwrap();
    for j in 0..7 {
        let col: Vec<f64> = a.index_axis(Axis(1), j).iter().copied().collect();
        assert_eq!(ax[j] as f64, first_index(&col, |x, b| x > b));
    }
    let ax1 = x.argmin(Some(-1)).unwrap().compute::<i64>(&s).unwrap();
    for i in 0..9 {
        let row: Vec<f64> = a.index_axis(Axis(0), i).iter().copied().collect();
        assert_eq!(ax1[i] as f64, first_index(&row, |x, b| x < b));
    }
    let pos = x.gt(2.0).unwrap();
    let any = pos.any(Some(1)).unwrap().compute::<bool>(&s).unwrap();
    let all = pos.all(Some(0)).unwrap().compute::<bool>(&s).unwrap();
    for i in 0..9 {
        assert_eq!(any[i], a.index_axis(Axis(0), i).iter().any(|&v| v > 2.0));
    }
    for j in 0..7 {
        assert_eq!(all[j], a.index_axis(Axis(1), j).iter().all(|&v| v > 2.0));
    }
    assert!(
        x.gt(-100.0)
            .unwrap()
            .all(None)
            .unwrap()
            .compute_scalar(&s)
            .unwrap()
            == true.into()
    );
}

#[test]
fn integer_reductions_are_exact() {
    let c = ctx();
    let a = idata(&[8, 5], 2).mapv(|v| v * 1_000_000_007);
    let x = c.from_ndarray(&a, 3).unwrap();
    let s = Sequential::new();
    let sum = x.sum(Some(0)).unwrap();
    assert_eq!(sum.dtype(), blockwork::array::DType::I64);
    assert_eq!(sum.compute::<i64>(&s).unwrap(), a.sum_axis(Axis(0)));
    assert_eq!(
        x.max(None).unwrap().compute_scalar(&s).unwrap().as_f64(),
        *a.iter().max().unwrap() as f64
    );
    let small = c
        .from_ndarray(&idata(&[8, 5], 2).mapv(|v| v as i32), 3)
        .unwrap();
    let mn = small.min(Some(1)).unwrap();
    assert_eq!(mn.dtype(), blockwork::array::DType::I32);
    let want = idata(&[8, 5], 2).map_axis(Axis(1), |r| *r.iter().min().unwrap() as i32);
    assert_eq!(mn.compute::<i32>(&s).unwrap(), want);
    assert_eq!(
        x.gt(0)
            .unwrap()
            .sum(None)
            .unwrap()
            .compute_scalar(&s)
            .unwrap()
            .as_f64(),
        a.iter().filter(|&&v| v > 0).count() as f64
    );
}

#[test]
fn nan_variants_skip_nan() {
    let c = ctx();
    let mut a = data(&[6, 4], 1);
    a[[0, 0]] = f64::NAN;
    a[[3, 2]] = f64::NAN;
    for j in 0..4 {
        a[[5, j]] = f64::NAN; // an all-NaN row
    }
    let x = c.from_ndarray(&a, [4, 3]).unwrap();
    let s = Sequential::new();
    let clean: Vec<f64> = a.iter().copied().filter(|v| !v.is_nan()).collect();
    let get = |r: Array| r.compute_scalar(&s).unwrap().as_f64();
    assert!(get(x.sum(None).unwrap()).is_nan());
    assert!(get(x.max(None).unwrap()).is_nan());
    assert!((get(x.nansum(None).unwrap()) - sum(&clean)).abs() < 1e-12);
    assert!((get(x.nanmean(None).unwrap()) - mean(&clean)).abs() < 1e-12);
    assert_eq!(get(x.nanmin(None).unwrap()), nan_min(&clean));
    let rowmax = x.nanmax(Some(1)).unwrap().compute::<f64>(&s).unwrap();
    assert!(rowmax[5].is_nan());
    assert_eq!(
        rowmax[3],
        a.index_axis(Axis(0), 3)
            .iter()
            .copied()
            .filter(|v| !v.is_nan())
            .fold(f64::MIN, f64::max)
    );
    assert_eq!(
        x.argmax(None).unwrap().compute_scalar(&s).unwrap().as_f64(),
        0.0
    );
}

#[test]
fn variance_is_stable() {
    // A large offset: naive sum-of-squares would lose every digit.
    let c = ctx();
    let a = data(&[40, 30], 3).mapv(|v| v + 1e9);
    let x = c.from_ndarray(&a, 7).unwrap();
    let got = x
        .var(None, 0)
        .unwrap()
        .compute_scalar(&Pool::new(2).unwrap())
        .unwrap()
        .as_f64();
    let want = var(a.as_slice().unwrap(), 0);
    assert!((got - want).abs() < 1e-6 * want, "{got} {want}");
}

#[test]
fn fused_reductions_of_generators_match_materialised() {
    let c = ctx();
    let p = Pool::new(2).unwrap();
    let r = c.random(&[300, 200], [64, 50], 5).unwrap();
    let dense = r.compute::<f64>(&p).unwrap();
    let mean = r.mean(None).unwrap().compute_scalar(&p).unwrap().as_f64();
    assert!((mean - dense.mean().unwrap()).abs() < 1e-12);
    let col = r
        .add(1.0)
        .unwrap()
        .sum(Some(0))
        .unwrap()
        .compute::<f64>(&p)
        .unwrap();
    close(&col, &(&dense + 1.0).sum_axis(Axis(0)), 1e-12);
    // Thread count does not change a reduction's value bit for bit.
    let one = r
        .std(None, 0)
        .unwrap()
        .compute_scalar(&Pool::new(1).unwrap())
        .unwrap();
    assert_eq!(one, r.std(None, 0).unwrap().compute_scalar(&p).unwrap());
}

#[test]
fn reduction_errors_by_kind() {
    let c = ctx();
    let x = c.from_ndarray(&data(&[3, 4], 1), 2).unwrap();
    let e = |r: blockwork::Result<Array>| r.unwrap_err().kind();
    assert_eq!(e(x.sum(Some(2))), ErrorKind::Index);
    assert_eq!(e(x.sum(Some(-3))), ErrorKind::Index);
    assert_eq!(
        e(x.reduce(ReduceOp::Sum, &Reduction::axes([0, -2]))),
        ErrorKind::Index
    );
    assert_eq!(
        e(x.reduce(ReduceOp::ArgMin, &Reduction::axes([0, 1]))),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        e(x.reduce(ReduceOp::Sum, &Reduction::all().split_every(1))),
        ErrorKind::InvalidArgument
    );
    let empty = c.from_ndarray(&data(&[0, 4], 1), 2).unwrap();
    assert_eq!(e(empty.min(None)), ErrorKind::Empty);
    // Mean of nothing is NaN, as in NumPy.
    let m = empty
        .mean(Some(0))
        .unwrap()
        .compute::<f64>(&Sequential::new())
        .unwrap();
    assert_eq!(m.shape(), &[4]);
    assert!(m.iter().all(|v| v.is_nan()));
    assert_eq!(
        empty
            .sum(None)
            .unwrap()
            .compute_scalar(&Sequential::new())
            .unwrap()
            .as_f64(),
        0.0
    );
    assert_eq!(empty.sum(Some(1)).unwrap().shape(), &[0]);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    /// A random explicit chunking of `n`: cut points chosen by `cuts`.
    fn chunking(n: usize, cuts: &[usize]) -> Vec<usize> {
        if n == 0 {
            return vec![0];
        }
        let mut points: Vec<usize> = cuts.iter().map(|c| 1 + c % n).filter(|&p| p < n).collect();
        points.push(0);
        points.push(n);
        points.sort_unstable();
        points.dedup();
        points.windows(2).map(|w| w[1] - w[0]).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn fused_expression_and_reductions_match_ndarray(
            shape in proptest::collection::vec(0usize..7, 0..4),
            cuts in proptest::collection::vec(proptest::collection::vec(0usize..100, 0..4), 3),
            seed in 0usize..100,
            axis in 0usize..3,
        ) {
            let c = ctx();
            let a = data(&shape, seed);
            let chunks: Vec<Vec<usize>> = shape.iter().zip(&cuts).map(|(&n, cut)| chunking(n, cut)).collect();
            let x = c.from_ndarray(&a, chunks).unwrap();
            let y = x.mul(2.0).unwrap().add(1.0).unwrap().abs().unwrap();
            let want = a.mapv(|v| (v * 2.0 + 1.0).abs());
            prop_assert_eq!(y.compute::<f64>(&Sequential::new()).unwrap(), want.clone());
            let total = y.sum(None).unwrap().compute_scalar(&Sequential::new()).unwrap().as_f64();
            prop_assert!((total - want.sum()).abs() < 1e-9);
            if !shape.is_empty() {
                let k = axis % shape.len();
                let got = y.sum(Some(k as isize)).unwrap().compute::<f64>(&Pool::new(2).unwrap()).unwrap();
                close(&got, &want.sum_axis(Axis(k)), 1e-12);
            }
        }
    }
}
