//! Sorting and order statistics (sort, argsort, topk, searchsorted, unique, quantile)
//! against naive references over several chunkings.

mod common;

use blockwork::array::{Array, ChunkSpec, Side};
use blockwork::{ErrorKind, Pool, Sequential};
use common::{close, ctx, data, idata, layouts};
use ndarray::{ArrayD, Axis, IxDyn};
use std::cmp::Ordering;

/// NumPy's sort order: NaN after everything, equal to itself.
fn np_cmp(a: &f64, b: &f64) -> Ordering {
    a.partial_cmp(b)
        .unwrap_or_else(|| a.is_nan().cmp(&b.is_nan()))
}

/// Reference sort (values) and stable argsort along `axis`, lane by lane.
fn ref_sort(a: &ArrayD<f64>, axis: usize) -> (ArrayD<f64>, ArrayD<i64>) {
    let mut vals = a.clone();
    let mut idx = a.mapv(|_| 0i64);
    for (mut lane, mut ilane) in vals
        .lanes_mut(Axis(axis))
        .into_iter()
        .zip(idx.lanes_mut(Axis(axis)))
    {
        let orig: Vec<f64> = lane.iter().copied().collect();
        let mut perm: Vec<usize> = (0..orig.len()).collect();
        perm.sort_by(|&i, &j| np_cmp(&orig[i], &orig[j]));
        for (k, &p) in perm.iter().enumerate() {
            lane[k] = orig[p];
            ilane[k] = p as i64;
        }
    }
    (vals, idx)
}

/// Data with NaNs, both zeros and repeats.
fn nasty(shape: &[usize], salt: usize) -> ArrayD<f64> {
    let mut a = data(shape, salt);
    for (i, x) in a.iter_mut().enumerate() {
        match (i * 31 + salt) % 23 {
            0 => *x = f64::NAN,
            1 => *x = -0.0,
            2 => *x = 0.0,
            _ => {}
        }
    }
    a
}

/// Extra 1-d chunkings: many blocks, ragged with empty blocks.
fn long_layouts() -> Vec<(Vec<usize>, ChunkSpec)> {
    vec![
        (vec![1000], ChunkSpec::from(37)),
        (vec![200], ChunkSpec::from(vec![vec![0, 50, 1, 0, 99, 50]])),
        (vec![200], ChunkSpec::from(200)),
        (vec![30, 40], ChunkSpec::from([7, 9])),
    ]
}

fn same_bits(got: &ArrayD<f64>, want: &ArrayD<f64>) {
    assert_eq!(got.shape(), want.shape());
    for (g, w) in got.iter().zip(want) {
        assert!((g.is_nan() && w.is_nan()) || g == w, "got {g}, want {w}");
    }
}

#[test]
fn sort_and_argsort_match_a_stable_reference() {
    let pool = Pool::new(3).unwrap();
    for (shape, spec) in layouts().into_iter().chain(long_layouts()) {
        for salt in [1, 2] {
            let a = nasty(&shape, salt);
            let x = ctx().from_ndarray(&a, spec.clone()).unwrap();
            for axis in 0..shape.len() {
                let (want, widx) = ref_sort(&a, axis);
                let got = x.sort(axis as isize).unwrap();
                assert_eq!(got.chunks(), x.chunks());
                same_bits(&got.compute::<f64>(&pool).unwrap(), &want);
                let gi = x.argsort(axis as isize - shape.len() as isize).unwrap();
                assert_eq!(
                    gi.compute::<i64>(&pool).unwrap(),
                    widx,
                    "{shape:?} axis {axis}"
                );
            }
        }
    }
}

#[test]
fn sort_of_integers_and_f32() {
    let seq = Sequential::new();
    let a = idata(&[50, 3], 5);
    let x = ctx().from_ndarray(&a, [7, 2]).unwrap();
    let mut want = a.clone();
    for mut lane in want.lanes_mut(Axis(0)) {
        let mut v: Vec<i64> = lane.iter().copied().collect();
        v.sort();
        lane.assign(&ndarray::Array1::from(v));
    }
    assert_eq!(x.sort(0).unwrap().compute::<i64>(&seq).unwrap(), want);
    let f = nasty(&[40], 3).mapv(|v| v as f32);
    let y = ctx().from_ndarray(&f, 6).unwrap();
    let (w, _) = ref_sort(&f.mapv(|v| v as f64), 0);
    let got = y
        .sort(0)
        .unwrap()
        .compute::<f32>(&seq)
        .unwrap()
        .mapv(|v| v as f64);
    same_bits(&got, &w);
}

#[test]
fn sort_errors() {
    let x = ctx().from_ndarray(&data(&[4, 3], 1), 2).unwrap();
    assert_eq!(x.sort(2).unwrap_err().kind(), ErrorKind::Index);
    assert_eq!(x.argsort(-3).unwrap_err().kind(), ErrorKind::Index);
    let s = ctx().full(&[], 1, 1.0).unwrap();
    assert_eq!(s.sort(0).unwrap_err().kind(), ErrorKind::Index);
}

#[test]
fn topk_matches_sorted_ends() {
    let pool = Pool::new(2).unwrap();
    for (shape, spec) in long_layouts() {
        let a = data(&shape, 4);
        let x = ctx().from_ndarray(&a, spec).unwrap();
        let axis = shape.len() - 1;
        let n = shape[axis];
        let (sorted, _) = ref_sort(&a, axis);
        for k in [1isize, 3, -1, -5, n as isize, -(n as isize)] {
            let got = x
                .topk(k, axis as isize)
                .unwrap()
                .compute::<f64>(&pool)
                .unwrap();
            let m = k.unsigned_abs();
            let want = if k > 0 {
                let mut w = sorted.slice_axis(Axis(axis), (n - m..n).into()).to_owned();
                w.invert_axis(Axis(axis));
                w
            } else {
                sorted.slice_axis(Axis(axis), (0..m).into()).to_owned()
            };
            close(&got, &want, 0.0);
        }
    }
    let x = ctx().from_ndarray(&data(&[10], 1), 3).unwrap();
    assert_eq!(x.topk(0, 0).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        x.topk(11, 0).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        x.topk(-11, 0).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(x.topk(1, 1).unwrap_err().kind(), ErrorKind::Index);
}

#[test]
fn searchsorted_left_and_right() {
    let seq = Sequential::new();
    let (sorted, _) = ref_sort(&nasty(&[60], 2), 0);
    let v = nasty(&[9, 7], 6);
    for spec in [ChunkSpec::from(60), ChunkSpec::from(7)] {
        let a = ctx().from_ndarray(&sorted, spec).unwrap();
        let x = ctx().from_ndarray(&v, [4, 3]).unwrap();
        for side in [Side::Left, Side::Right] {
            let got = a
                .searchsorted(&x, side)
                .unwrap()
                .compute::<i64>(&seq)
                .unwrap();
            let want = v.mapv(|q| {
                sorted
                    .iter()
                    .filter(|s| match side {
                        Side::Left => np_cmp(s, &q) == Ordering::Less,
                        Side::Right => np_cmp(s, &q) != Ordering::Greater,
                    })
                    .count() as i64
            });
            assert_eq!(got, want);
        }
    }
    // Integers searched in a float array compare in f64.
    let a = ctx()
        .from_ndarray(&ndarray::arr1(&[0.5, 1.5, 2.5]).into_dyn(), 2)
        .unwrap();
    let i = ctx()
        .from_ndarray(&ndarray::arr1(&[1i64, 3, 0]).into_dyn(), 2)
        .unwrap();
    let got = a
        .searchsorted(&i, Side::Left)
        .unwrap()
        .compute::<i64>(&seq)
        .unwrap();
    assert_eq!(got.as_slice().unwrap(), &[1, 3, 0]);
    // Not 1-d, and not sorted.
    let m = ctx().from_ndarray(&data(&[2, 2], 1), 1).unwrap();
    assert_eq!(
        m.searchsorted(&i, Side::Left).unwrap_err().kind(),
        ErrorKind::Shape
    );
    let u = ctx()
        .from_ndarray(&ndarray::arr1(&[2.0, 1.0]).into_dyn(), 1)
        .unwrap();
    let e = u.searchsorted(&i, Side::Left).unwrap().compute::<i64>(&seq);
    assert_eq!(
        e.unwrap_err().task_cause(),
        Some(ErrorKind::InvalidArgument)
    );
}

#[test]
fn unique_with_counts_and_inverse() {
    let pool = Pool::new(2).unwrap();
    for (shape, spec) in layouts().into_iter().chain(long_layouts()) {
        let a = nasty(&shape, 7);
        let x = ctx().from_ndarray(&a, spec.clone()).unwrap();
        let u = x.unique(&pool, true, true).unwrap();
        // Reference: sorted values, zeros as one, NaNs as one.
        let mut vals: Vec<f64> = a.iter().map(|&v| v + 0.0).collect();
        vals.sort_by(np_cmp);
        vals.dedup_by(|p, q| np_cmp(p, q) == Ordering::Equal);
        let count = |v: f64| {
            a.iter()
                .filter(|&&x| np_cmp(&x, &v) == Ordering::Equal)
                .count() as i64
        };
        let want_counts: Vec<i64> = vals.iter().map(|&v| count(v)).collect();
        let got = u.values.compute::<f64>(&pool).unwrap();
        same_bits(
            &got,
            &ArrayD::from_shape_vec(IxDyn(&[vals.len()]), vals.clone()).unwrap(),
        );
        let c = u.counts.unwrap().compute::<i64>(&pool).unwrap();
        assert_eq!(c.as_slice().unwrap(), want_counts.as_slice());
        let inv = u.inverse.unwrap();
        assert_eq!(inv.chunks(), x.chunks());
        let inv = inv.compute::<i64>(&pool).unwrap();
        // Reconstruction: values[inverse] == data (NaN to NaN, -0.0 to 0.0).
        for (i, v) in inv.iter().zip(a.iter()) {
            assert_eq!(np_cmp(&vals[*i as usize], v), Ordering::Equal);
        }
    }
    // Integers, 1e4 distinct values over many blocks.
    let a = ArrayD::from_shape_fn(IxDyn(&[20_000]), |i| ((i[0] * 7919) % 10_000) as i64 - 5000);
    let x = ctx().from_ndarray(&a, 999).unwrap();
    let u = x.unique(&pool, true, false).unwrap();
    let v = u.values.compute::<i64>(&pool).unwrap();
    assert_eq!(v.len(), 10_000);
    assert!(v.iter().zip(v.iter().skip(1)).all(|(p, q)| p < q));
    assert!(
        u.counts
            .unwrap()
            .compute::<i64>(&pool)
            .unwrap()
            .iter()
            .all(|&c| c == 2)
    );
    assert!(u.inverse.is_none());
}

/// NumPy's linear quantile, written out from its documented method.
fn ref_quantile(lane: &[f64], q: f64) -> f64 {
    let mut v = lane.to_vec();
    v.sort_by(np_cmp);
    if v.last().is_some_and(|x| x.is_nan()) {
        return f64::NAN;
    }
    let n = v.len();
    let virt = (n - 1) as f64 * q;
    let lo = (virt.floor() as usize).min(n - 1);
    let hi = (lo + 1).min(n - 1);
    let g = virt - lo as f64;
    let (a, b) = (v[lo], v[hi]);
    let d = b - a;
    if g >= 0.5 {
        b - d * (1.0 - g)
    } else {
        a + d * g
    }
}

#[test]
fn quantile_and_percentile_match_numpy_method() {
    let pool = Pool::new(2).unwrap();
    let qs = [0.0, 0.1, 0.25, 0.5, 0.731, 0.999, 1.0];
    for (shape, spec) in long_layouts() {
        let a = data(&shape, 9);
        let x = ctx().from_ndarray(&a, spec).unwrap();
        let axis = shape.len() - 1;
        let got = x
            .quantile(&qs, Some(axis as isize))
            .unwrap()
            .compute::<f64>(&pool)
            .unwrap();
        let mut wshape = vec![qs.len()];
        wshape.extend_from_slice(&shape[..axis]);
        let lanes: Vec<Vec<f64>> = a
            .lanes(Axis(axis))
            .into_iter()
            .map(|l| l.to_vec())
            .collect();
        let want = ArrayD::from_shape_fn(IxDyn(&wshape), |i| {
            let lane = if shape.len() == 1 { 0 } else { i[1] };
            ref_quantile(&lanes[lane], qs[i[0]])
        });
        close(&got, &want, 0.0);
        // All values, and percentiles.
        let all: Vec<f64> = a.iter().copied().collect();
        let p = x
            .percentile(&[50.0, 90.0], None)
            .unwrap()
            .compute::<f64>(&pool)
            .unwrap();
        assert_eq!(
            p.as_slice().unwrap(),
            &[ref_quantile(&all, 0.5), ref_quantile(&all, 0.9)]
        );
    }
    // Fixtures from NumPy: np.quantile([1, 2, 3, 4], [0.5, 0.9]) and np.percentile(..., 25).
    let x = ctx()
        .from_ndarray(&ndarray::arr1(&[4i64, 1, 3, 2]).into_dyn(), 3)
        .unwrap();
    let q = x
        .quantile(&[0.5, 0.9], None)
        .unwrap()
        .compute::<f64>(&pool)
        .unwrap();
    assert_eq!(q.as_slice().unwrap(), &[2.5, 3.7]);
    let p = x
        .percentile(&[25.0], None)
        .unwrap()
        .compute::<f64>(&pool)
        .unwrap();
    assert_eq!(p.as_slice().unwrap(), &[1.75]);
    // A lane with NaN is NaN.
    let n = ctx().from_ndarray(&nasty(&[46], 0), 5).unwrap();
    assert!(
        n.quantile(&[0.5], None)
            .unwrap()
            .compute::<f64>(&pool)
            .unwrap()[0]
            .is_nan()
    );
    // Errors.
    assert_eq!(
        x.quantile(&[1.5], None).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        x.quantile(&[f64::NAN], None).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        x.quantile(&[], None).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        x.percentile(&[-1.0], None).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        x.quantile(&[0.5], Some(1)).unwrap_err().kind(),
        ErrorKind::Index
    );
    let e = ctx().from_ndarray(&data(&[0], 1), 1).unwrap();
    assert_eq!(
        e.quantile(&[0.5], None).unwrap_err().kind(),
        ErrorKind::Empty
    );
}

#[test]
fn sort_graph_is_linear_in_blocks_per_row() {
    // 1-d, m blocks: the splitters, m bucketings, the bucket starts, m group sorts and m
    // output blocks.
    let x: Array = ctx().from_ndarray(&data(&[100], 1), 10).unwrap();
    let g = x.sort(0).unwrap().graph().unwrap();
    assert_eq!(g.len(), 10 + 1 + 10 + 1 + 10 + 10);
    // n-d: m runs plus m merges of m inputs each, per row.
    let x: Array = ctx().from_ndarray(&data(&[4, 100], 1), [4, 10]).unwrap();
    let g = x.argsort(1).unwrap().graph().unwrap();
    assert_eq!(g.len(), 10 + 10 + 10);
}

/// 1-d inputs long enough to be cut into many buckets: random values with NaNs (two
/// payloads) and both zeros, one value, two values, both zeros only, ascending, descending,
/// a few values over a wide range, all NaN.
fn long_inputs(n: usize) -> Vec<(&'static str, ArrayD<f64>)> {
    let quiet = f64::from_bits(0x7ff8_0000_0000_0001);
    let f = |g: &dyn Fn(usize) -> f64| ArrayD::from_shape_fn(IxDyn(&[n]), |i| g(i[0]));
    let mut nan = nasty(&[n], 5);
    for x in nan.iter_mut().step_by(101) {
        *x = -quiet;
    }
    vec![
        ("random with NaNs and zeros", nan),
        ("all equal", f(&|_| 1.5)),
        (
            "two values",
            f(&|i| if (i * 7) % 3 == 0 { -2.0 } else { 1e300 }),
        ),
        ("zeros", f(&|i| if i % 3 == 0 { -0.0 } else { 0.0 })),
        ("ascending", f(&|i| i as f64 - 7.0)),
        ("descending", f(&|i| (n - i) as f64 * 0.25)),
        (
            "few, wide",
            f(&|i| ((i * 7919) % 13) as f64 * 1e30 - 1e-300),
        ),
        (
            "crowded",
            f(&|i| 1.0 + ((i * 7919) % n) as f64 * f64::EPSILON),
        ),
        ("all NaN", f(&|i| if i % 2 == 0 { f64::NAN } else { quiet })),
    ]
}

#[test]
fn long_sorts_match_a_stable_reference_bit_for_bit() {
    let pool = Pool::new(2).unwrap();
    let n = 200_003;
    let specs = [
        ChunkSpec::from(n),
        ChunkSpec::from(9_999),
        ChunkSpec::from(vec![vec![0, 70_000, 1, 0, 100_000, 30_002]]),
    ];
    for (what, a) in long_inputs(n) {
        let (want, widx) = ref_sort(&a, 0);
        for spec in &specs {
            let x = ctx().from_ndarray(&a, spec.clone()).unwrap();
            let got = x.sort(0).unwrap().compute::<f64>(&pool).unwrap();
            assert_eq!(bits(&got), bits(&want), "{what}, {spec:?}");
            let gi = x.argsort(0).unwrap().compute::<i64>(&pool).unwrap();
            assert_eq!(gi, widx, "{what}, {spec:?}");
        }
    }
}

#[test]
fn long_sorts_of_other_types() {
    let pool = Pool::new(2).unwrap();
    let n = 150_000;
    let i = ArrayD::from_shape_fn(IxDyn(&[n]), |k| ((k[0] * 7919) % 100_003) as i64 - 50_000);
    let x = ctx().from_ndarray(&i, 7_000).unwrap();
    let mut want: Vec<i64> = i.iter().copied().collect();
    want.sort();
    let got = x.sort(0).unwrap().compute::<i64>(&pool).unwrap();
    assert_eq!(got.as_slice().unwrap(), &want[..]);
    let f = i.mapv(|v| v as f32 / 3.0);
    let x = ctx().from_ndarray(&f, 10_000).unwrap();
    let got = x.sort(0).unwrap().compute::<f32>(&pool).unwrap();
    assert!(got.as_slice().unwrap().windows(2).all(|w| w[0] <= w[1]));
    let gi = x.argsort(0).unwrap().compute::<i64>(&pool).unwrap();
    let by_idx: Vec<f32> = gi.iter().map(|&k| f[[k as usize]]).collect();
    assert_eq!(by_idx, got.iter().copied().collect::<Vec<_>>());
    let b = i.mapv(|v| v % 3 == 0);
    let x = ctx().from_ndarray(&b, 8_000).unwrap();
    let falses = b.iter().filter(|&&v| !v).count();
    let got = x.sort(0).unwrap().compute::<bool>(&pool).unwrap();
    assert!(got.iter().enumerate().all(|(k, &v)| v == (k >= falses)));
}

#[test]
fn sorting_again_reuses_the_pool() {
    // A second sort of the same shape takes its bucket and output buffers from the pool
    // that the first one's freed intermediates went back to.
    let c = ctx();
    let pool = Pool::new(2).unwrap();
    let a = data(&[100_000], 3);
    let x = c.from_ndarray(&a, 10_000).unwrap();
    let first = x.sort(0).unwrap().compute::<f64>(&pool).unwrap();
    let before = c.pool().stats();
    let second = x.sort(0).unwrap().compute::<f64>(&pool).unwrap();
    let after = c.pool().stats();
    assert_eq!(bits(&first), bits(&second));
    assert!(after.hits >= before.hits + 10, "{before:?} -> {after:?}");
}

/// `x`'s bits: tells `-0.0` from `0.0` and one NaN payload from another.
fn bits(a: &ArrayD<f64>) -> Vec<u64> {
    a.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn sort_keeps_the_order_of_equal_keys_across_blocks() {
    // Both zeros and two NaN payloads, interleaved over blocks: equal under NumPy's order,
    // so a stable sort leaves them in their original order, bit for bit.
    let quiet = f64::from_bits(0x7ff8_0000_0000_0001);
    let a = ArrayD::from_shape_fn(IxDyn(&[3000]), |i| match (i[0] * 7) % 11 {
        0 => -0.0,
        1 => 0.0,
        2 => f64::NAN,
        3 => quiet,
        4 => -quiet,
        k => ((i[0] * 7919) % 613) as f64 / 7.0 - 40.0 + k as f64,
    });
    let pool = Pool::new(2).unwrap();
    for spec in [
        ChunkSpec::from(97),
        ChunkSpec::from(3000),
        ChunkSpec::from(1000),
    ] {
        let x = ctx().from_ndarray(&a, spec).unwrap();
        let (want, widx) = ref_sort(&a, 0);
        assert_eq!(
            bits(&x.sort(0).unwrap().compute::<f64>(&pool).unwrap()),
            bits(&want)
        );
        assert_eq!(x.argsort(0).unwrap().compute::<i64>(&pool).unwrap(), widx);
    }
}

#[test]
fn unique_of_many_distinct_values_per_block() {
    // Blocks of 40,000 with over 4,096 and over an eighth of their length distinct: the
    // sorting path of the per-block tally; the second array the hashing one.
    let pool = Pool::new(2).unwrap();
    for modulus in [30_011, 1009] {
        let a = ArrayD::from_shape_fn(IxDyn(&[100_000]), |i| {
            ((i[0] * 7919) % modulus) as i64 - 15_000
        });
        let mut want = std::collections::BTreeMap::new();
        for &v in &a {
            *want.entry(v).or_insert(0i64) += 1;
        }
        let x = ctx().from_ndarray(&a, 40_000).unwrap();
        let u = x.unique(&pool, true, false).unwrap();
        let v = u.values.compute::<i64>(&pool).unwrap();
        let c = u.counts.unwrap().compute::<i64>(&pool).unwrap();
        assert_eq!(
            v.iter().copied().collect::<Vec<_>>(),
            want.keys().copied().collect::<Vec<_>>()
        );
        assert_eq!(
            c.iter().copied().collect::<Vec<_>>(),
            want.values().copied().collect::<Vec<_>>()
        );
    }
    // Floats, mostly distinct, with both zeros and NaNs: the zeros one value, the NaNs one.
    let f = nasty(&[50_000], 5).mapv(|x| x * 1.000_001)
        + ArrayD::from_shape_fn(IxDyn(&[50_000]), |i| i[0] as f64 * 1e-3);
    let f = f.mapv(|x| if x.abs() < 1e-12 { -0.0 } else { x });
    let x = ctx().from_ndarray(&f, 20_000).unwrap();
    let got = x
        .unique(&pool, false, false)
        .unwrap()
        .values
        .compute::<f64>(&pool)
        .unwrap();
    let mut vals: Vec<f64> = f.iter().map(|&v| v + 0.0).collect();
    vals.sort_by(np_cmp);
    vals.dedup_by(|p, q| np_cmp(p, q) == Ordering::Equal);
    same_bits(
        &got,
        &ArrayD::from_shape_vec(IxDyn(&[vals.len()]), vals).unwrap(),
    );
}
