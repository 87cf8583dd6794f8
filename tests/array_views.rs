//! Views and reshuffles (transpose, slicing, indexing, reshape, rechunk, concatenate,
//! stack, squeeze, expand_dims) against ndarray, with property tests over random shapes,
//! chunkings and index expressions.

mod common;

use blockwork::array::{Array, ChunkSpec, DType, Idx};
use blockwork::{ErrorKind, Pool, Sequential};
use common::{ctx, data, layouts};
use ndarray::{ArrayD, Axis};
use proptest::prelude::*;

fn get(a: &Array) -> ArrayD<f64> {
    a.compute::<f64>(&Sequential::new()).unwrap()
}

/// NumPy's positions for `start:stop:step` on length `n`, by scanning every position.
fn numpy_positions(start: Option<isize>, stop: Option<isize>, step: isize, n: usize) -> Vec<usize> {
    let n = n as isize;
    let adj = |v: isize| if v < 0 { v + n } else { v };
    if step > 0 {
        let s = start.map_or(0, adj).max(0);
        let e = stop.map_or(n, adj).min(n);
        (0..n)
            .filter(|&j| j >= s && j < e && (j - s) % step == 0)
            .map(|j| j as usize)
            .collect()
    } else {
        let s = start.map_or(n - 1, adj).min(n - 1);
        let e = stop.map_or(-1, adj).max(-1);
        (0..n)
            .rev()
            .filter(|&j| j <= s && j > e && (s - j) % -step == 0)
            .map(|j| j as usize)
            .collect()
    }
}

/// Reference for an index expression without ellipsis.
fn reference(a: &ArrayD<f64>, idx: &[Idx]) -> ArrayD<f64> {
    let mut out = a.clone();
    let mut k = 0; // axis of `out` being indexed
    for i in idx {
        match i {
            Idx::Int(p) => {
                let n = out.shape()[k] as isize;
                out = out
                    .index_axis(Axis(k), (if *p < 0 { p + n } else { *p }) as usize)
                    .to_owned();
            }
            Idx::Slice { start, stop, step } => {
                let pos = numpy_positions(*start, *stop, *step, out.shape()[k]);
                out = out.select(Axis(k), &pos);
                k += 1;
            }
            Idx::NewAxis => {
                out.insert_axis_inplace(Axis(k));
                k += 1;
            }
            Idx::List(v) => {
                let n = out.shape()[k] as isize;
                let pos: Vec<usize> = v
                    .iter()
                    .map(|&p| (if p < 0 { p + n } else { p }) as usize)
                    .collect();
                out = out.select(Axis(k), &pos);
                k += 1;
            }
            Idx::Mask(m) => {
                let pos: Vec<usize> = (0..m.len()).filter(|&j| m[j]).collect();
                out = out.select(Axis(k), &pos);
                k += 1;
            }
            Idx::Ellipsis => unreachable!(),
        }
    }
    out
}

#[test]
fn slices_with_steps_cross_blocks() {
    let c = ctx();
    let a = data(&[13, 9], 1);
    let x = c.from_ndarray(&a, [4, 2]).unwrap();
    let cases = vec![
        vec![Idx::slice(None, None, 2), Idx::slice(Some(1), Some(-1), 1)],
        vec![Idx::slice(None, None, -1), Idx::slice(Some(-2), None, -3)],
        vec![Idx::slice(Some(11), Some(2), -4), Idx::Int(-1)],
        vec![Idx::Int(3), Idx::slice(Some(7), Some(100), 1)],
        vec![Idx::NewAxis, Idx::slice(Some(5), Some(5), 1), Idx::NewAxis],
        vec![Idx::slice(None, None, 5), Idx::List(vec![8, 0, 0, -3, 4])],
        vec![
            Idx::Mask((0..13).map(|i| i % 3 != 1).collect()),
            Idx::slice(None, None, -2),
        ],
        vec![Idx::slice(Some(-100), Some(100), 3)],
    ];
    for idx in cases {
        let got = get(&x.index(&idx).unwrap());
        assert_eq!(got, reference(&a, &idx), "{idx:?}");
    }
    // Ellipsis expands to full slices.
    let e = x.index(&[Idx::Ellipsis, Idx::Int(2)]).unwrap();
    assert_eq!(get(&e), a.index_axis(Axis(1), 2).to_owned());
    // The slice-mean of benchmark case e, fused into the reduction.
    let m = x
        .index(&[Idx::slice(None, None, 2), Idx::slice(Some(1), Some(-1), 1)])
        .unwrap()
        .mean(None)
        .unwrap();
    let want = reference(
        &a,
        &[Idx::slice(None, None, 2), Idx::slice(Some(1), Some(-1), 1)],
    )
    .mean()
    .unwrap();
    assert!((m.compute_scalar(&Pool::new(2).unwrap()).unwrap().as_f64() - want).abs() < 1e-12);
}

#[test]
fn index_errors_by_kind() {
    let c = ctx();
    let x = c.from_ndarray(&data(&[4, 3], 1), 2).unwrap();
    let e = |r: blockwork::Result<Array>| r.unwrap_err().kind();
    assert_eq!(e(x.index(&[Idx::Int(4)])), ErrorKind::Index);
    assert_eq!(e(x.index(&[Idx::Int(-5)])), ErrorKind::Index);
    assert_eq!(e(x.index(&[Idx::slice(None, None, 0)])), ErrorKind::Index);
    // Extreme bounds and steps clamp as in NumPy instead of overflowing.
    let ext = x
        .index(&[Idx::slice(Some(isize::MIN), Some(isize::MAX), isize::MIN)])
        .unwrap();
    assert_eq!(ext.shape(), &[0, 3]);
    let ext = x
        .index(&[Idx::slice(Some(isize::MAX), None, isize::MIN)])
        .unwrap();
    assert_eq!(
        get(&ext),
        reference(&data(&[4, 3], 1), &[Idx::slice(Some(3), Some(2), -1)])
    );
    assert_eq!(
        e(x.index(&[Idx::Int(0), Idx::Int(0), Idx::Int(0)])),
        ErrorKind::Index
    );
    assert_eq!(
        e(x.index(&[Idx::Ellipsis, Idx::Ellipsis])),
        ErrorKind::Index
    );
    assert_eq!(
        e(x.index(&[Idx::List(vec![0]), Idx::List(vec![1])])),
        ErrorKind::Index
    );
    assert_eq!(e(x.index(&[Idx::List(vec![0, 4])])), ErrorKind::Index);
    assert_eq!(e(x.index(&[Idx::Mask(vec![true; 3])])), ErrorKind::Index);
    assert_eq!(e(x.transpose(&[0, 0])), ErrorKind::Index);
    assert_eq!(e(x.transpose(&[0])), ErrorKind::Index);
    assert_eq!(e(x.swapaxes(0, 2)), ErrorKind::Index);
    assert_eq!(e(x.squeeze(Some(&[0]))), ErrorKind::Shape);
    assert_eq!(e(x.reshape(&[5, -1])), ErrorKind::Shape);
    assert_eq!(e(x.reshape(&[-1, -1])), ErrorKind::Shape);
    assert_eq!(
        e(Array::concatenate(&[x.clone(), x.t()], 0)),
        ErrorKind::Shape
    );
    assert_eq!(e(Array::concatenate(&[], 0)), ErrorKind::InvalidArgument);
}

#[test]
fn transpose_and_friends() {
    let c = ctx();
    for (shape, chunks) in layouts() {
        let a = data(&shape, 2);
        let x = c.from_ndarray(&a, chunks).unwrap();
        assert_eq!(get(&x.t()), a.t().to_owned());
        if shape.len() >= 2 {
            assert_eq!(
                get(&x.swapaxes(0, -1).unwrap()),
                a.clone().permuted_axes(swap(shape.len()))
            );
            // x + x.T style fusion on a square view.
            let s = x
                .index(&[
                    Idx::slice(Some(0), Some(shape[1].min(shape[0]) as isize), 1),
                    Idx::slice(Some(0), Some(shape[1].min(shape[0]) as isize), 1),
                ])
                .unwrap();
            let s = s.index(&[Idx::Ellipsis]).unwrap();
            if s.ndim() == 2 {
                let sa = get(&s);
                assert_eq!(get(&s.add(s.t()).unwrap()), &sa + &sa.t());
            }
        }
        let e = x.expand_dims(0).unwrap();
        assert_eq!(get(&e), a.clone().insert_axis(Axis(0)));
        assert_eq!(
            get(&e.squeeze(None).unwrap()).shape(),
            a.shape()
                .iter()
                .copied()
                .filter(|&d| d != 1)
                .collect::<Vec<_>>()
                .as_slice()
        );
    }
    let a = data(&[2, 3, 4], 3);
    let x = c.from_ndarray(&a, [1, 2, 3]).unwrap();
    assert_eq!(
        get(&x.transpose(&[1, 2, 0]).unwrap()),
        a.clone().permuted_axes(vec![1, 2, 0])
    );
}

fn swap(n: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    v.swap(0, n - 1);
    v
}

#[test]
fn reshape_rechunk_concatenate_stack() {
    let c = ctx();
    let a = data(&[6, 10], 4);
    let x = c.from_ndarray(&a, [4, 3]).unwrap();
    for shape in [
        vec![60isize],
        vec![3, 20],
        vec![5, -1, 3],
        vec![2, 3, 2, 5],
        vec![-1, 1],
    ] {
        let r = x.reshape(&shape).unwrap();
        let want_shape: Vec<usize> = r.shape().to_vec();
        assert_eq!(
            get(&r),
            a.clone().into_shape_with_order(want_shape).unwrap()
        );
    }
    let one = c.from_ndarray(&data(&[1], 1), 1).unwrap();
    assert_eq!(get(&one.reshape(&[]).unwrap()).shape(), &[] as &[usize]);
    for spec in [
        ChunkSpec::from(5),
        ChunkSpec::from([2, 10]),
        ChunkSpec::from(vec![vec![6], vec![1, 9]]),
        ChunkSpec::from([1, 1]),
    ] {
        let r = x.rechunk(spec.clone()).unwrap();
        assert_eq!(
            r.chunks(),
            &blockwork::array::Chunks::new(&[6, 10], spec).unwrap()
        );
        assert_eq!(get(&r), a);
    }
    let b = data(&[3, 10], 5);
    let y = c.from_ndarray(&b, [2, 5]).unwrap();
    let cat = Array::concatenate(&[x.clone(), y.clone(), x.clone()], 0).unwrap();
    assert_eq!(
        get(&cat),
        ndarray::concatenate(Axis(0), &[a.view(), b.view(), a.view()]).unwrap()
    );
    let ints = c.from_ndarray(&common::idata(&[6, 10], 1), 4).unwrap();
    let mixed = Array::concatenate(&[x.clone(), ints.clone()], 1).unwrap();
    assert_eq!(mixed.dtype(), blockwork::array::DType::F64);
    let want = ndarray::concatenate(
        Axis(1),
        &[
            a.view(),
            common::idata(&[6, 10], 1).mapv(|v| v as f64).view(),
        ],
    )
    .unwrap();
    assert_eq!(get(&mixed), want);
    let st = Array::stack(&[x.clone(), x.add(1.0).unwrap()], -1).unwrap();
    assert_eq!(
        get(&st),
        ndarray::stack(Axis(2), &[a.view(), (&a + 1.0).view()]).unwrap()
    );
}

fn arb_slice(n: usize) -> impl Strategy<Value = Idx> {
    let b = n as isize + 3;
    prop_oneof![
        (
            proptest::option::of(-b..b),
            proptest::option::of(-b..b),
            prop_oneof![-4isize..0, 1isize..5]
        )
            .prop_map(|(s, e, st)| Idx::slice(s, e, st)),
        (0..n.max(1) as isize).prop_map(move |i| if n == 0 {
            Idx::full()
        } else {
            Idx::Int(i - (n as isize) * (i % 2))
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_slices_match_numpy(
        shape in proptest::collection::vec(0usize..9, 1..4),
        chunk in proptest::collection::vec(1usize..5, 3),
        seed in 0usize..1000,
        picks in proptest::collection::vec(any::<proptest::sample::Index>(), 3),
        kinds in proptest::collection::vec(0u8..3, 3),
    ) {
        let c = ctx();
        let a = data(&shape, seed);
        let x = c.from_ndarray(&a, chunk[..shape.len()].to_vec()).unwrap();
        // Build one index expression from the picks, deterministic in the inputs.
        let mut idx = Vec::new();
        for (k, &d) in shape.iter().enumerate() {
            let p = picks[k].index(1000) as isize;
            let b = d as isize + 2;
            idx.push(match kinds[k] {
                0 if d > 0 => Idx::Int(p % d as isize - if p % 2 == 0 { d as isize } else { 0 }),
                1 => Idx::slice(Some(p % (2 * b) - b), None, -(1 + p % 3)),
                _ => Idx::slice(Some(p % b - 1), Some(b - p % (b + 1)), 1 + p % 4),
            });
        }
        let got = x.index(&idx).unwrap().compute::<f64>(&Sequential::new()).unwrap();
        prop_assert_eq!(got, reference(&a, &idx));
    }

    #[test]
    fn random_single_slice(n in 0usize..30, chunk in 1usize..7, s in arb_slice(30)) {
        let c = ctx();
        let a = data(&[n], 7);
        let x = c.from_ndarray(&a, chunk).unwrap();
        if let Idx::Int(i) = s
            && (i >= n as isize || i < -(n as isize)) {
                prop_assert_eq!(x.index(&[s]).unwrap_err().kind(), ErrorKind::Index);
                return Ok(());
            }
        let got = x.index(std::slice::from_ref(&s)).unwrap().compute::<f64>(&Sequential::new()).unwrap();
        prop_assert_eq!(got, reference(&a, &[s]));
    }
}

#[test]
fn transposed_reads_in_blocked_order() {
    // Big enough for several row groups and column tiles per block, ragged blocks,
    // reversed and transposed operands, several element types.
    let c = ctx();
    let n = 600;
    let a = data(&[n, n], 9);
    let x = c.from_ndarray(&a, [257, 530]).unwrap();
    let rev = x.index(&[Idx::slice(None, None, -1), Idx::full()]).unwrap();
    let y = x.t().mul(2.0).unwrap().add(&rev).unwrap();
    let mut want = a.t().mapv(|v| v * 2.0);
    want += &a.slice_each_axis(|ax| {
        if ax.axis.index() == 0 {
            ndarray::Slice::new(0, None, -1)
        } else {
            ndarray::Slice::from(..)
        }
    });
    assert_eq!(get(&y), want);
    let s = y
        .sum(Some(0))
        .unwrap()
        .compute::<f64>(&Pool::new(2).unwrap())
        .unwrap();
    common::close(&s, &want.sum_axis(Axis(0)), 1e-12);
    let xi = x.astype(blockwork::array::DType::I32).unwrap();
    let got = xi
        .t()
        .sub(&xi)
        .unwrap()
        .compute::<i32>(&Sequential::new())
        .unwrap();
    let ai = a.mapv(|v| v as i32);
    assert_eq!(got, &ai.t() - &ai);
    let rt = x
        .t()
        .index(&[Idx::slice(None, None, -3), Idx::slice(Some(5), None, 2)])
        .unwrap();
    assert_eq!(
        get(&rt),
        reference(
            &a.t().to_owned(),
            &[Idx::slice(None, None, -3), Idx::slice(Some(5), None, 2)]
        )
    );
}

#[test]
fn split_advanced_indices_put_the_list_axis_first() {
    // NumPy: integers count as advanced indices next to a list; split by a slice, new axis or
    // ellipsis, the advanced axis goes first. Checked element by element against ndarray.
    let a = data(&[2, 3, 4], 5);
    let x = ctx().from_ndarray(&a, [1, 2, 3]).unwrap();
    let split = x
        .index(&[Idx::Int(0), Idx::full(), Idx::List(vec![1, -1])])
        .unwrap();
    assert_eq!(split.shape(), &[2, 3]);
    let got = get(&split);
    for (p, &k) in [1usize, 3].iter().enumerate() {
        for j in 0..3 {
            assert_eq!(got[[p, j]], a[[0, j, k]]);
        }
    }
    // Next to each other, the list's axis stays in place.
    let together = x
        .index(&[Idx::full(), Idx::Int(1), Idx::List(vec![0, 2])])
        .unwrap();
    assert_eq!(together.shape(), &[2, 2]);
    let got = get(&together);
    for i in 0..2 {
        for (p, &k) in [0usize, 2].iter().enumerate() {
            assert_eq!(got[[i, p]], a[[i, 1, k]]);
        }
    }
    // An ellipsis of no axes still splits them, as in NumPy.
    let ell = x
        .index(&[
            Idx::Int(1),
            Idx::full(),
            Idx::Ellipsis,
            Idx::Mask(vec![true, false, true, true]),
        ])
        .unwrap();
    assert_eq!(ell.shape(), &[3, 3]);
}

/// Reductions over slices whose rows lie apart in memory, with rows long enough that the
/// walk prefetches the next one (`x[::2, 10:-10]`, `x[1::3, ::-1]`, `x[:, 70:-3]`), and the
/// views themselves, against loops over NumPy's positions.
#[test]
fn strided_row_views_and_reductions_match_loops() {
    let c = ctx();
    let a = data(&[300, 260], 5);
    let x = c.from_ndarray(&a, [100, 130]).unwrap();
    let cases = [
        ((None, None, 2), (Some(10), Some(-10), 1)),
        ((Some(1), None, 3), (None, None, -1)),
        ((None, None, 1), (Some(70), Some(-3), 1)),
    ];
    for (r, k) in cases {
        let v = x
            .index(&[Idx::slice(r.0, r.1, r.2), Idx::slice(k.0, k.1, k.2)])
            .unwrap();
        let rows = numpy_positions(r.0, r.1, r.2, 300);
        let cols = numpy_positions(k.0, k.1, k.2, 260);
        let want = ArrayD::from_shape_fn(ndarray::IxDyn(&[rows.len(), cols.len()]), |ix| {
            a[[rows[ix[0]], cols[ix[1]]].as_slice()]
        });
        assert_eq!(get(&v), want, "{r:?} {k:?}");
        let mut sum = 0.0;
        for &i in &rows {
            for &j in &cols {
                sum += a[[i, j].as_slice()];
            }
        }
        let mean = sum / (rows.len() * cols.len()) as f64;
        let got = v
            .mean(None)
            .unwrap()
            .compute_f64(&Sequential::new())
            .unwrap();
        assert!(
            (got - mean).abs() <= 1e-12 * (1.0 + mean.abs()),
            "{got} {mean}"
        );
        let got = v
            .sum(None)
            .unwrap()
            .compute_f64(&Pool::new(2).unwrap())
            .unwrap();
        assert!(
            (got - sum).abs() <= 1e-12 * (1.0 + sum.abs()),
            "{got} {sum}"
        );
    }
}

#[test]
fn transposed_reads_of_every_type_and_stride() {
    // The transposed tile copy in whole 8 × 8 pieces (rows consecutive in the source) and
    // element by element (reversed or strided rows, ragged edges), for each element type:
    // `x.T + x` and `(x + x.T).sum(0)` against ndarray. Inputs are persisted in each type,
    // so that the transposed leaf itself is of that type.
    let c = ctx();
    let seq = Sequential::new();
    let n = 203;
    let a = data(&[n, n], 4).mapv(|v| (v * 8.0).round());
    let x = c.from_ndarray(&a, [64, 77]).unwrap();
    let at = a.t().to_owned();
    for dt in [DType::F32, DType::I64, DType::I32, DType::F64] {
        let xd = x.astype(dt).unwrap().persist(&seq).unwrap();
        let got = xd.t().add(&xd).unwrap().astype(DType::F64).unwrap();
        assert_eq!(get(&got), &at + &a, "{dt:?}");
    }
    let xb = x.gt(0.0).unwrap().persist(&seq).unwrap();
    let got = xb.t().logical_and(&xb).unwrap().astype(DType::F64).unwrap();
    let b = a.mapv(|v| f64::from(u8::from(v > 0.0)));
    assert_eq!(get(&got), &b.t() * &b);
    // Reversed and strided source rows: the element-by-element copy.
    for (s0, s1) in [(-1, 1), (1, 2), (-2, -1)] {
        let v = x
            .index(&[Idx::slice(None, None, s0), Idx::slice(None, None, s1)])
            .unwrap();
        let want = reference(
            &a,
            &[Idx::slice(None, None, s0), Idx::slice(None, None, s1)],
        );
        let got = v.t().mul(3.0).unwrap().add(1.0).unwrap();
        assert_eq!(get(&got), want.t().mapv(|e| e * 3.0 + 1.0));
    }
    let s = x.add(x.t()).unwrap().sum(Some(0)).unwrap();
    let want = (&a + &at).sum_axis(Axis(0));
    assert_eq!(s.compute::<f64>(&Pool::new(2).unwrap()).unwrap(), want);
}
