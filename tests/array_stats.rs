//! histogram, bincount, diff, coarsen, choose, vindex, the NaN reductions, the new ufuncs,
//! eye / diag / tril / triu / *_like and the `nearest` boundary, against naive references.

mod common;

use blockwork::array::{BlockData, Boundary, ChunkSpec, DType, ReduceOp, Reduction};
use blockwork::{ErrorKind, Pool, Sequential};
use common::{close, ctx, data, idata, layouts};
use ndarray::{ArrayD, Axis, IxDyn};

fn with_nans(shape: &[usize], salt: usize) -> ArrayD<f64> {
    let mut a = data(shape, salt);
    for (i, x) in a.iter_mut().enumerate() {
        if (i * 13 + salt).is_multiple_of(5) {
            *x = f64::NAN;
        }
    }
    a
}

fn chunkings_1d(n: usize) -> Vec<ChunkSpec> {
    vec![
        ChunkSpec::from(n.max(1)),
        ChunkSpec::from(7),
        ChunkSpec::from(vec![vec![0, n / 3, 1, n - n / 3 - 1]]),
    ]
}

/// NumPy's histogram of uniform bins, as its documented rule: bin i is [e_i, e_i+1), the
/// last closed, values outside or NaN ignored.
fn ref_hist(v: &[f64], w: Option<&[f64]>, e: &[f64]) -> Vec<f64> {
    let n = e.len() - 1;
    let mut out = vec![0.0; n];
    for (j, &x) in v.iter().enumerate() {
        let b = (0..n).find(|&i| e[i] <= x && (x < e[i + 1] || (i == n - 1 && x == e[n])));
        if let Some(b) = b {
            out[b] += w.map_or(1.0, |w| w[j]);
        }
    }
    out
}

#[test]
fn histogram_bins_range_weights_density() {
    let pool = Pool::new(2).unwrap();
    let a = data(&[101], 3);
    let wts = data(&[101], 8).mapv(f64::abs);
    let v: Vec<f64> = a.iter().copied().collect();
    let (lo, hi) = v
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| {
            (l.min(x), h.max(x))
        });
    for spec in chunkings_1d(101) {
        let x = ctx().from_ndarray(&a, spec.clone()).unwrap();
        let w = ctx().from_ndarray(&wts, 10).unwrap();
        // Bin count over the data's range (edges computed in the graph).
        let h = x.histogram(10, None, None, false).unwrap();
        let e = h.edges.compute::<f64>(&pool).unwrap();
        assert_eq!((e[0], e[10]), (lo, hi));
        let c = h.counts.compute::<i64>(&pool).unwrap();
        let want = ref_hist(&v, None, e.as_slice().unwrap());
        assert_eq!(c.iter().map(|&c| c as f64).collect::<Vec<_>>(), want);
        assert_eq!(c.sum(), 101);
        // A range, weights, density.
        let h = x.histogram(7, Some((-3.0, 2.0)), Some(&w), true).unwrap();
        let e = h.edges.compute::<f64>(&pool).unwrap();
        let ws: Vec<f64> = wts.iter().copied().collect();
        let raw = ref_hist(&v, Some(&ws), e.as_slice().unwrap());
        let tot: f64 = raw.iter().sum();
        let want: Vec<f64> = raw
            .iter()
            .zip(e.as_slice().unwrap().windows(2))
            .map(|(n, w)| n / (w[1] - w[0]) / tot)
            .collect();
        close(
            &h.counts.compute::<f64>(&pool).unwrap(),
            &ArrayD::from_shape_vec(IxDyn(&[7]), want).unwrap(),
            1e-12,
        );
        // Explicit, uneven edges, with values on the edges.
        let edges = vec![-6.0, -1.0, 0.0, 0.125, 3.0, 5.0];
        let h = x.histogram(edges.clone(), None, None, false).unwrap();
        let c = h.counts.compute::<i64>(&pool).unwrap();
        assert_eq!(
            c.iter().map(|&c| c as f64).collect::<Vec<_>>(),
            ref_hist(&v, None, &edges)
        );
    }
    // Fixtures computed with NumPy 2.4 on the same data (common::data).
    // (length, salt, bins, range, scale, NumPy's counts)
    type Fixture = (usize, usize, usize, Option<(f64, f64)>, f64, &'static [i64]);
    let fixtures: [Fixture; 4] = [
        (
            101,
            3,
            10,
            None,
            1.0,
            &[10, 10, 9, 11, 9, 10, 12, 9, 10, 11],
        ),
        (101, 3, 7, Some((-3.0, 2.0)), 1.0, &[6, 7, 6, 5, 6, 7, 6]),
        (
            1000,
            2,
            13,
            None,
            1.0,
            &[83, 72, 82, 72, 72, 82, 72, 83, 73, 72, 82, 72, 83],
        ),
        (
            1000,
            2,
            37,
            Some((0.01, 0.9)),
            0.1,
            &[
                21, 21, 21, 20, 21, 20, 21, 20, 21, 20, 10, 21, 21, 20, 21, 21, 21, 20, 21, 21, 21,
                20, 21, 10, 20, 21, 21, 20, 20, 21, 21, 20, 21, 21, 21, 20, 11,
            ],
        ),
    ];
    for (n, salt, bins, range, scale, want) in fixtures {
        // np.histogram(data * 0.1 + 0.3, ...) for the last one.
        let shift = if scale == 1.0 { 0.0 } else { 0.3 };
        let a = data(&[n], salt).mapv(|v| v * scale + shift);
        for spec in chunkings_1d(n) {
            let x = ctx().from_ndarray(&a, spec).unwrap();
            let c = x.histogram(bins, range, None, false).unwrap().counts;
            assert_eq!(c.compute::<i64>(&pool).unwrap().as_slice().unwrap(), want);
        }
    }
    // Fixture from NumPy: np.histogram([1, 2, 1], bins=[0, 1, 2, 3]) -> [0, 2, 1].
    let x = ctx()
        .from_ndarray(&ndarray::arr1(&[1.0, 2.0, 1.0]).into_dyn(), 2)
        .unwrap();
    let c = x
        .histogram(vec![0.0, 1.0, 2.0, 3.0], None, None, false)
        .unwrap()
        .counts;
    assert_eq!(
        c.compute::<i64>(&pool).unwrap().as_slice().unwrap(),
        &[0, 2, 1]
    );
    // np.histogram([5, 5], bins=2) -> edges [4.5, 5, 5.5], counts [0, 2].
    let x = ctx()
        .from_ndarray(&ndarray::arr1(&[5i64, 5]).into_dyn(), 1)
        .unwrap();
    let h = x.histogram(2, None, None, false).unwrap();
    assert_eq!(
        h.edges.compute::<f64>(&pool).unwrap().as_slice().unwrap(),
        &[4.5, 5.0, 5.5]
    );
    assert_eq!(
        h.counts.compute::<i64>(&pool).unwrap().as_slice().unwrap(),
        &[0, 2]
    );
}

#[test]
fn histogram_errors_and_nan() {
    let seq = Sequential::new();
    let x = ctx().from_ndarray(&with_nans(&[20], 1), 6).unwrap();
    let bad = |r: blockwork::Result<blockwork::array::Histogram>| r.unwrap_err().kind();
    assert_eq!(
        bad(x.histogram(0, None, None, false)),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        bad(x.histogram(vec![1.0], None, None, false)),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        bad(x.histogram(vec![1.0, 0.0], None, None, false)),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        bad(x.histogram(vec![0.0, f64::NAN], None, None, false)),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        bad(x.histogram(3, Some((1.0, 0.0)), None, false)),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        bad(x.histogram(3, Some((0.0, f64::INFINITY)), None, false)),
        ErrorKind::InvalidArgument
    );
    let w = ctx().from_ndarray(&data(&[21], 1), 6).unwrap();
    assert_eq!(bad(x.histogram(3, None, Some(&w), false)), ErrorKind::Shape);
    // NaN data without a range: the autodetected range is not finite.
    let h = x.histogram(3, None, None, false).unwrap();
    assert_eq!(
        h.counts.compute::<i64>(&seq).unwrap_err().task_cause(),
        Some(ErrorKind::InvalidArgument)
    );
    // With a range, NaN is not counted.
    let h = x.histogram(4, Some((-10.0, 10.0)), None, false).unwrap();
    let n = with_nans(&[20], 1).iter().filter(|v| !v.is_nan()).count() as i64;
    assert_eq!(h.counts.compute::<i64>(&seq).unwrap().sum(), n);
}

#[test]
fn bincount_with_weights_and_minlength() {
    let pool = Pool::new(2).unwrap();
    let a = idata(&[90], 2).mapv(|v| v.abs() % 17);
    let w = data(&[90], 4);
    for spec in chunkings_1d(90) {
        let x = ctx().from_ndarray(&a, spec).unwrap();
        for minlength in [0, 5, 30] {
            let got = x
                .bincount(None, minlength, &pool)
                .unwrap()
                .compute::<i64>(&pool)
                .unwrap();
            let len = (a.iter().copied().max().unwrap() as usize + 1).max(minlength);
            let mut want = vec![0i64; len];
            a.iter().for_each(|&v| want[v as usize] += 1);
            assert_eq!(got.as_slice().unwrap(), want.as_slice());
            let wx = ctx().from_ndarray(&w, 11).unwrap();
            let got = x
                .bincount(Some(&wx), minlength, &pool)
                .unwrap()
                .compute::<f64>(&pool)
                .unwrap();
            let mut want = vec![0.0; len];
            a.iter().zip(&w).for_each(|(&v, &x)| want[v as usize] += x);
            close(
                &got,
                &ArrayD::from_shape_vec(IxDyn(&[len]), want).unwrap(),
                1e-12,
            );
        }
    }
    let seq = Sequential::new();
    let e = ctx()
        .from_ndarray(&ArrayD::<i64>::zeros(IxDyn(&[0])), 1)
        .unwrap();
    assert_eq!(
        e.bincount(None, 3, &seq)
            .unwrap()
            .compute::<i64>(&seq)
            .unwrap()
            .as_slice()
            .unwrap(),
        &[0, 0, 0]
    );
    let neg = ctx()
        .from_ndarray(&ndarray::arr1(&[1i64, -1]).into_dyn(), 1)
        .unwrap();
    assert_eq!(
        neg.bincount(None, 0, &seq).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    let f = ctx().from_ndarray(&data(&[3], 1), 1).unwrap();
    assert_eq!(
        f.bincount(None, 0, &seq).unwrap_err().kind(),
        ErrorKind::Type
    );
    let m = ctx().from_ndarray(&idata(&[2, 2], 1), 1).unwrap();
    assert_eq!(
        m.bincount(None, 0, &seq).unwrap_err().kind(),
        ErrorKind::Shape
    );
    let w = ctx().from_ndarray(&data(&[3], 1), 1).unwrap();
    assert_eq!(
        neg.bincount(Some(&w), 0, &seq).unwrap_err().kind(),
        ErrorKind::Shape
    );
}

#[test]
fn diff_matches_repeated_differences() {
    let seq = Sequential::new();
    for (shape, spec) in layouts() {
        let a = data(&shape, 5);
        let x = ctx().from_ndarray(&a, spec).unwrap();
        for (axis, &len) in shape.iter().enumerate() {
            for n in [0, 1, 2, 9] {
                let mut want = a.clone();
                for _ in 0..n.min(len) {
                    let l = want.len_of(Axis(axis));
                    let hi = want.slice_axis(Axis(axis), (1..l).into()).to_owned();
                    let lo = want.slice_axis(Axis(axis), (0..l - 1).into()).to_owned();
                    want = hi - lo;
                }
                close(
                    &x.diff(n, axis as isize)
                        .unwrap()
                        .compute::<f64>(&seq)
                        .unwrap(),
                    &want,
                    0.0,
                );
            }
        }
        assert_eq!(
            x.diff(1, shape.len() as isize).unwrap_err().kind(),
            ErrorKind::Index
        );
    }
    let b = ctx()
        .from_ndarray(&ndarray::arr1(&[true, true, false, true]).into_dyn(), 3)
        .unwrap();
    let d = b.diff(1, 0).unwrap().compute::<bool>(&seq).unwrap();
    assert_eq!(d.as_slice().unwrap(), &[false, true, true]);
}

#[test]
fn coarsen_windows() {
    let seq = Sequential::new();
    let a = with_nans(&[12, 9], 2);
    for spec in [
        ChunkSpec::from([12, 9]),
        ChunkSpec::from([4, 3]),
        ChunkSpec::from([5, 4]),
    ] {
        let x = ctx().from_ndarray(&a, spec).unwrap();
        for op in [
            ReduceOp::Sum,
            ReduceOp::Mean,
            ReduceOp::Max,
            ReduceOp::NanMin,
            ReduceOp::NanSum,
        ] {
            let got = x
                .coarsen(op, &[(0, 4), (1, 3)], false)
                .unwrap()
                .compute::<f64>(&seq)
                .unwrap();
            let want = ArrayD::from_shape_fn(IxDyn(&[3, 3]), |i| {
                let w: Vec<f64> = (0..4)
                    .flat_map(|r| (0..3).map(move |c| (r, c)))
                    .map(|(r, c)| a[[i[0] * 4 + r, i[1] * 3 + c]])
                    .collect();
                let k: Vec<f64> = w.iter().copied().filter(|v| !v.is_nan()).collect();
                match op {
                    ReduceOp::Sum => w.iter().sum(),
                    ReduceOp::Mean => w.iter().sum::<f64>() / 12.0,
                    ReduceOp::Max => {
                        if w.iter().any(|v| v.is_nan()) {
                            f64::NAN
                        } else {
                            w.iter().copied().fold(f64::MIN, f64::max)
                        }
                    }
                    ReduceOp::NanMin => {
                        if k.is_empty() {
                            f64::NAN
                        } else {
                            k.iter().copied().fold(f64::MAX, f64::min)
                        }
                    }
                    _ => k.iter().sum(),
                }
            });
            close(&got, &want, 1e-12);
        }
    }
    // Integers keep their type for min / max, sum as i64; trimming.
    let i = idata(&[7, 4], 1);
    let x = ctx().from_ndarray(&i, 3).unwrap();
    let got = x.coarsen(ReduceOp::Min, &[(0, 2)], true).unwrap();
    assert_eq!(got.dtype(), DType::I64);
    let want = ArrayD::from_shape_fn(IxDyn(&[3, 4]), |p| {
        i[[2 * p[0], p[1]]].min(i[[2 * p[0] + 1, p[1]]])
    });
    assert_eq!(got.compute::<i64>(&seq).unwrap(), want);
    assert_eq!(
        x.coarsen(ReduceOp::Sum, &[(0, 2)], false)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        x.coarsen(ReduceOp::Sum, &[(0, 0)], true)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        x.coarsen(ReduceOp::Sum, &[(2, 2)], true)
            .unwrap_err()
            .kind(),
        ErrorKind::Index
    );
    assert_eq!(
        x.coarsen(ReduceOp::Sum, &[(1, 2), (-1, 2)], true)
            .unwrap_err()
            .kind(),
        ErrorKind::Index
    );
    assert_eq!(
        x.coarsen(ReduceOp::ArgMax, &[(1, 2)], true)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn choose_picks_per_element() {
    let seq = Sequential::new();
    let idx = idata(&[6, 5], 3).mapv(|v| v.rem_euclid(3));
    let i = ctx().from_ndarray(&idx, [4, 2]).unwrap();
    let cs: Vec<ArrayD<f64>> = (0..3).map(|s| data(&[6, 5], s + 10)).collect();
    let arrays: Vec<_> = cs
        .iter()
        .map(|c| ctx().from_ndarray(c, 3).unwrap())
        .collect();
    let got = i.choose(&arrays).unwrap().compute::<f64>(&seq).unwrap();
    let want = ArrayD::from_shape_fn(IxDyn(&[6, 5]), |p| {
        cs[idx[[p[0], p[1]]] as usize][[p[0], p[1]]]
    });
    close(&got, &want, 0.0);
    // Broadcast choices (a row and a scalar-like array).
    let row = ctx().arange(0.0, 5.0, 1.0, 2).unwrap();
    let one = ctx().full(&[1], 1, 9.0).unwrap();
    let got = i
        .choose(&[row.clone(), one.clone(), row])
        .unwrap()
        .compute::<f64>(&seq)
        .unwrap();
    let want = ArrayD::from_shape_fn(IxDyn(&[6, 5]), |p| {
        if idx[[p[0], p[1]]] == 1 {
            9.0
        } else {
            p[1] as f64
        }
    });
    close(&got, &want, 0.0);
    // Errors.
    assert_eq!(
        i.choose(&[]).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    let f = ctx().from_ndarray(&data(&[2], 1), 1).unwrap();
    assert_eq!(
        f.choose(std::slice::from_ref(&one)).unwrap_err().kind(),
        ErrorKind::Type
    );
    let e = i.choose(&[one.clone(), one]).unwrap().compute::<f64>(&seq);
    assert_eq!(e.unwrap_err().task_cause(), Some(ErrorKind::Index));
}

#[test]
fn vindex_gathers_points() {
    let pool = Pool::new(2).unwrap();
    let a = data(&[9, 7, 4], 1);
    for spec in [
        ChunkSpec::from([9, 7, 4]),
        ChunkSpec::from([2, 3, 3]),
        ChunkSpec::from(vec![vec![0, 4, 5], vec![7], vec![1, 3]]),
    ] {
        let x = ctx().from_ndarray(&a, spec).unwrap();
        let rows: Vec<isize> = vec![0, 8, -1, 3, 3, 5, 0, 2, 7, 1];
        let cols: Vec<isize> = vec![6, 0, 2, -7, 3, 3, 0, 1, 4, 6];
        let got = x
            .vindex(&[&rows, &cols])
            .unwrap()
            .compute::<f64>(&pool)
            .unwrap();
        let want = ArrayD::from_shape_fn(IxDyn(&[10, 4]), |p| {
            let r = rows[p[0]].rem_euclid(9) as usize;
            let c = cols[p[0]].rem_euclid(7) as usize;
            a[[r, c, p[1]]]
        });
        close(&got, &want, 0.0);
        let deps: Vec<isize> = vec![1, 2, 3];
        let got = x
            .vindex(&[&rows[..3], &cols[..3], &deps])
            .unwrap()
            .compute::<f64>(&pool)
            .unwrap();
        assert_eq!(got.shape(), &[3]);
        assert_eq!(got[[1]], a[[8, 0, 2]]);
        let got = x
            .vindex(&[&[], &[]])
            .unwrap()
            .compute::<f64>(&pool)
            .unwrap();
        assert_eq!(got.shape(), &[0, 4]);
        assert_eq!(x.vindex(&[]).unwrap_err().kind(), ErrorKind::Index);
        assert_eq!(
            x.vindex(&[&[9], &[0]]).unwrap_err().kind(),
            ErrorKind::Index
        );
        assert_eq!(
            x.vindex(&[&[0], &[-8]]).unwrap_err().kind(),
            ErrorKind::Index
        );
        assert_eq!(
            x.vindex(&[&[0, 1], &[0]]).unwrap_err().kind(),
            ErrorKind::Shape
        );
        assert_eq!(
            x.vindex(&[&[0], &[0], &[0], &[0]]).unwrap_err().kind(),
            ErrorKind::Index
        );
    }
}

#[test]
fn nan_reductions_match_references() {
    let pool = Pool::new(2).unwrap();
    for (shape, spec) in layouts() {
        if shape.contains(&0) {
            continue;
        }
        let a = with_nans(&shape, 4);
        let x = ctx().from_ndarray(&a, spec).unwrap();
        for axis in 0..shape.len() {
            let lanes = |f: &dyn Fn(&[f64]) -> f64| {
                a.map_axis(Axis(axis), |l| {
                    f(&l.iter()
                        .copied()
                        .filter(|v| !v.is_nan())
                        .collect::<Vec<_>>())
                })
            };
            let var = |v: &[f64], d: usize| {
                if v.len() <= d {
                    return f64::NAN;
                }
                let m = v.iter().sum::<f64>() / v.len() as f64;
                v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - d) as f64
            };
            let r = Reduction::axis(Some(axis as isize));
            close(
                &x.nanvar(r.clone(), 0)
                    .unwrap()
                    .compute::<f64>(&pool)
                    .unwrap(),
                &lanes(&|v| var(v, 0)),
                1e-12,
            );
            close(
                &x.nanvar(r.clone(), 1)
                    .unwrap()
                    .compute::<f64>(&pool)
                    .unwrap(),
                &lanes(&|v| var(v, 1)),
                1e-12,
            );
            close(
                &x.nanstd(r.clone(), 1)
                    .unwrap()
                    .compute::<f64>(&pool)
                    .unwrap(),
                &lanes(&|v| var(v, 1).sqrt()),
                1e-12,
            );
            close(
                &x.nanprod(r.clone()).unwrap().compute::<f64>(&pool).unwrap(),
                &lanes(&|v| v.iter().product()),
                1e-12,
            );
            // Arg reductions: where a lane is all NaN the computation fails.
            let all_nan = a
                .map_axis(Axis(axis), |l| l.iter().all(|v| v.is_nan()))
                .iter()
                .any(|&b| b);
            for (op, min) in [(ReduceOp::NanArgMin, true), (ReduceOp::NanArgMax, false)] {
                let got = x.reduce(op, &r).unwrap().compute::<i64>(&pool);
                if all_nan {
                    assert_eq!(
                        got.unwrap_err().task_cause(),
                        Some(ErrorKind::InvalidArgument)
                    );
                    continue;
                }
                let want = a.map_axis(Axis(axis), |l| {
                    let mut best: Option<usize> = None;
                    for (i, &v) in l.iter().enumerate().filter(|(_, v)| !v.is_nan()) {
                        if best.is_none_or(|b| if min { v < l[b] } else { v > l[b] }) {
                            best = Some(i);
                        }
                    }
                    best.unwrap() as i64
                });
                assert_eq!(got.unwrap(), want);
            }
        }
        let flat: Vec<f64> = a.iter().copied().filter(|v| !v.is_nan()).collect();
        let m = flat.iter().sum::<f64>() / flat.len() as f64;
        let v0 = flat.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / flat.len() as f64;
        let got = x.nanvar(None, 0).unwrap().compute_f64(&pool).unwrap();
        assert!((got - v0).abs() <= 1e-12 * (1.0 + v0), "{got} {v0}");
    }
    // Fixtures from NumPy: np.nanvar([1, nan, 3]) = 1, np.nanargmin([nan, 2, 1, 1]) = 2.
    let seq = Sequential::new();
    let x = ctx()
        .from_ndarray(&ndarray::arr1(&[f64::NAN, 2.0, 1.0, 1.0]).into_dyn(), 3)
        .unwrap();
    assert_eq!(
        x.nanargmin(None)
            .unwrap()
            .compute_item::<i64>(&seq)
            .unwrap(),
        2
    );
    assert_eq!(
        x.nanargmax(None)
            .unwrap()
            .compute_item::<i64>(&seq)
            .unwrap(),
        1
    );
    assert_eq!(
        x.nanvar(None, 5).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    // Integer input: as the plain reductions.
    let i = ctx().from_ndarray(&idata(&[8], 1), 3).unwrap();
    let want = idata(&[8], 1).iter().fold(1i64, |p, &v| p.wrapping_mul(v));
    assert_eq!(
        i.nanprod(None).unwrap().compute_item::<i64>(&seq).unwrap(),
        want
    );
}

#[test]
fn new_ufuncs_match_std() {
    let seq = Sequential::new();
    let mut a = data(&[5, 9], 2);
    a[[0, 0]] = f64::NAN;
    a[[0, 1]] = f64::INFINITY;
    a[[0, 2]] = -0.0;
    let x = ctx().from_ndarray(&a, [2, 4]).unwrap();
    let got =
        |r: blockwork::Result<blockwork::array::Array>| r.unwrap().compute::<f64>(&seq).unwrap();
    close(
        &got(x.abs().unwrap().log10()),
        &a.mapv(|v| v.abs().log10()),
        0.0,
    );
    close(
        &got(x.abs().unwrap().log2()),
        &a.mapv(|v| v.abs().log2()),
        0.0,
    );
    close(
        &got(x.sign()),
        &a.mapv(|v| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                v
            }
        }),
        0.0,
    );
    let fin = x.isfinite().unwrap().compute::<bool>(&seq).unwrap();
    assert_eq!(fin, a.mapv(f64::is_finite));
    for d in [-2i32, -1, 0, 1, 3] {
        let f = 10f64.powi(d.abs());
        let want = a.mapv(|v| {
            if d >= 0 {
                (v * f).round_ties_even() / f
            } else {
                (v / f).round_ties_even() * f
            }
        });
        close(&got(x.round(d)), &want, 0.0);
    }
    // NumPy fixtures: np.round([0.5, 1.5, 2.5, -0.5, 1.25, 2.675], 1 or 0).
    let f = ctx()
        .from_ndarray(
            &ndarray::arr1(&[0.5, 1.5, 2.5, -0.5, 1.25, 2.675]).into_dyn(),
            4,
        )
        .unwrap();
    assert_eq!(
        got(f.round(0)).as_slice().unwrap(),
        &[0.0, 2.0, 2.0, -0.0, 1.0, 3.0]
    );
    assert_eq!(
        got(f.round(1)).as_slice().unwrap(),
        &[0.5, 1.5, 2.5, -0.5, 1.2, 2.7]
    );
    // Integers: sign, round at negative decimals (np.round([15, 25, -15, 7], -1)).
    let i = ctx()
        .from_ndarray(&ndarray::arr1(&[15i64, 25, -15, 7, -25, 0]).into_dyn(), 4)
        .unwrap();
    assert_eq!(
        i.round(-1)
            .unwrap()
            .compute::<i64>(&seq)
            .unwrap()
            .as_slice()
            .unwrap(),
        &[20, 20, -20, 10, -20, 0]
    );
    assert_eq!(
        i.round(2)
            .unwrap()
            .compute::<i64>(&seq)
            .unwrap()
            .as_slice()
            .unwrap(),
        &[15, 25, -15, 7, -25, 0]
    );
    assert_eq!(
        i.round(-30)
            .unwrap()
            .compute::<i64>(&seq)
            .unwrap()
            .as_slice()
            .unwrap(),
        &[0; 6]
    );
    assert_eq!(
        i.sign()
            .unwrap()
            .compute::<i64>(&seq)
            .unwrap()
            .as_slice()
            .unwrap(),
        &[1, 1, -1, 1, -1, 0]
    );
    assert!(
        i.isfinite()
            .unwrap()
            .compute::<bool>(&seq)
            .unwrap()
            .iter()
            .all(|&b| b)
    );
}

#[test]
fn creation_and_triangles() {
    let seq = Sequential::new();
    for (n, m, k) in [
        (5usize, None, 0isize),
        (4, Some(7), 2),
        (6, Some(3), -1),
        (3, Some(3), 5),
        (0, None, 0),
    ] {
        for chunks in [ChunkSpec::from(2), ChunkSpec::from(7)] {
            let e = ctx().eye(n, m, k, chunks, DType::F32).unwrap();
            let mm = m.unwrap_or(n);
            let want = ArrayD::from_shape_fn(IxDyn(&[n, mm]), |p| {
                f32::from(p[1] as isize - p[0] as isize == k)
            });
            assert_eq!(e.compute::<f32>(&seq).unwrap(), want);
        }
    }
    let a = data(&[5, 6], 1);
    let x = ctx().from_ndarray(&a, [2, 4]).unwrap();
    for k in [-6, -1, 0, 2, 7] {
        let lo = ArrayD::from_shape_fn(IxDyn(&[5, 6]), |p| {
            if p[1] as isize - p[0] as isize <= k {
                a[[p[0], p[1]]]
            } else {
                0.0
            }
        });
        let up = ArrayD::from_shape_fn(IxDyn(&[5, 6]), |p| {
            if p[1] as isize - p[0] as isize >= k {
                a[[p[0], p[1]]]
            } else {
                0.0
            }
        });
        close(&x.tril(k).unwrap().compute::<f64>(&seq).unwrap(), &lo, 0.0);
        close(&x.triu(k).unwrap().compute::<f64>(&seq).unwrap(), &up, 0.0);
        // diag of a 2-d array, and back.
        let d: Vec<f64> = (0..5)
            .filter_map(|i| {
                let j = i as isize + k;
                (0..6).contains(&j).then(|| a[[i, j as usize]])
            })
            .collect();
        let got = x.diag(k).unwrap().compute::<f64>(&seq).unwrap();
        assert_eq!(got.as_slice().unwrap(), d.as_slice());
        let v = ctx()
            .from_ndarray(
                &ArrayD::from_shape_vec(IxDyn(&[d.len()]), d.clone()).unwrap(),
                2,
            )
            .unwrap();
        let side = d.len() + k.unsigned_abs();
        let want = ArrayD::from_shape_fn(IxDyn(&[side, side]), |p| {
            let (i, j) = (p[0] as isize, p[1] as isize);
            if j - i == k {
                d[if k >= 0 { i } else { j } as usize]
            } else {
                0.0
            }
        });
        assert_eq!(v.diag(k).unwrap().compute::<f64>(&seq).unwrap(), want);
    }
    // n-d tril works on the last two axes.
    let b = data(&[2, 3, 3], 2);
    let y = ctx().from_ndarray(&b, 2).unwrap();
    let want = ArrayD::from_shape_fn(IxDyn(&[2, 3, 3]), |p| {
        if p[2] <= p[1] {
            b[[p[0], p[1], p[2]]]
        } else {
            0.0
        }
    });
    close(
        &y.tril(0).unwrap().compute::<f64>(&seq).unwrap(),
        &want,
        0.0,
    );
    let v = ctx().from_ndarray(&data(&[3], 1), 2).unwrap();
    assert_eq!(v.tril(0).unwrap_err().kind(), ErrorKind::Shape);
    assert_eq!(y.diag(0).unwrap_err().kind(), ErrorKind::Shape);
    // *_like: shape, chunks, type.
    let l = y.ones_like().unwrap();
    assert_eq!(
        (l.shape(), l.chunks(), l.dtype()),
        (y.shape(), y.chunks(), DType::F64)
    );
    assert_eq!(l.sum(None).unwrap().compute_f64(&seq).unwrap(), 18.0);
    assert_eq!(
        y.zeros_like()
            .unwrap()
            .sum(None)
            .unwrap()
            .compute_f64(&seq)
            .unwrap(),
        0.0
    );
    let i = ctx()
        .from_ndarray(&idata(&[4], 1), 3)
        .unwrap()
        .full_like(2.7)
        .unwrap();
    assert_eq!(
        i.compute::<i64>(&seq).unwrap().as_slice().unwrap(),
        &[2, 2, 2, 2]
    );
}

#[test]
fn map_overlap_nearest_repeats_the_edge() {
    let seq = Sequential::new();
    let a = data(&[7, 5], 3);
    for spec in [
        ChunkSpec::from([7, 5]),
        ChunkSpec::from([3, 2]),
        ChunkSpec::from(vec![vec![1, 6], vec![5]]),
    ] {
        let x = ctx().from_ndarray(&a, spec).unwrap();
        // Each element becomes the sum of its 3x5 neighbourhood, edges repeated.
        let y = x
            .map_overlap("box", &[1, 2], Boundary::Nearest, |b, _| match b {
                BlockData::F64(e) => {
                    let (r, c) = (e.shape()[0], e.shape()[1]);
                    Ok(BlockData::F64(ArrayD::from_shape_fn(e.raw_dim(), |p| {
                        let (i, j) = (p[0], p[1]);
                        if i == 0 || j < 2 || i + 1 >= r || j + 2 >= c {
                            return 0.0;
                        }
                        (i - 1..=i + 1)
                            .flat_map(|u| (j - 2..=j + 2).map(move |v| (u, v)))
                            .map(|(u, v)| e[[u, v]])
                            .sum()
                    })))
                }
                _ => Err("f64".into()),
            })
            .unwrap();
        let want = ArrayD::from_shape_fn(IxDyn(&[7, 5]), |p| {
            let mut s = 0.0;
            for u in -1..=1isize {
                for v in -2..=2isize {
                    let r = (p[0] as isize + u).clamp(0, 6) as usize;
                    let c = (p[1] as isize + v).clamp(0, 4) as usize;
                    s += a[[r, c]];
                }
            }
            s
        });
        close(&y.compute::<f64>(&seq).unwrap(), &want, 1e-12);
    }
}

#[test]
fn histogram_of_equal_bins_puts_edge_values_in_the_edges_bins() {
    // Values on every edge (as the edges array has them), just below and above each, and
    // outside the range, against the edges' own rule.
    let pool = Pool::new(2).unwrap();
    for (bins, lo, hi) in [
        (7, -1.3, 2.7),
        (100, 0.0, 1.0),
        (3, 1e-300, 3e-300),
        (13, -5.0, -4.9),
    ] {
        let h0 = ctx()
            .from_ndarray(&ArrayD::from_elem(IxDyn(&[1]), lo), 1)
            .unwrap()
            .histogram(bins, Some((lo, hi)), None, false)
            .unwrap();
        let e = h0.edges.compute::<f64>(&pool).unwrap();
        let e: Vec<f64> = e.iter().copied().collect();
        let mut v = Vec::new();
        for &x in &e {
            v.extend([x, x.next_down(), x.next_up()]);
        }
        v.extend([lo - 1.0, hi + 1.0, f64::NAN, f64::INFINITY]);
        v.extend((0..997).map(|i| lo + (hi - lo) * (i as f64 / 996.0)));
        let a = ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.clone()).unwrap();
        for spec in chunkings_1d(v.len()) {
            let x = ctx().from_ndarray(&a, spec).unwrap();
            let h = x.histogram(bins, Some((lo, hi)), None, false).unwrap();
            let got = h.counts.compute::<i64>(&pool).unwrap().mapv(|c| c as f64);
            let want = ref_hist(&v, None, &e);
            assert_eq!(
                got.iter().copied().collect::<Vec<_>>(),
                want,
                "{bins} bins over [{lo}, {hi}]"
            );
        }
    }
}
