//! Delayed values and multi-result `compute`: deterministic keys, shared work computed once,
//! mixing with arrays and bags, typed errors.

use blockwork::array::{ArrayContext, BlockData};
use blockwork::bag::Bag;
use blockwork::delayed::{Delayed, delayed, delayed_with_token};
use blockwork::ndarray::{ArrayD, ArrayView2, IxDyn};
use blockwork::{ErrorKind, Pool, Sequential, TaskError, compute};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

fn pool() -> Pool {
    Pool::new(2).unwrap()
}

#[test]
fn shared_dependencies_run_once_in_one_compute() {
    let loads = Arc::new(AtomicUsize::new(0));
    let counter = loads.clone();
    let load = delayed("load", move |n: usize| {
        counter.fetch_add(1, Ordering::SeqCst);
        (1..=n).map(|i| i as f64).collect::<Vec<f64>>()
    });
    let data = load.call1(10usize);
    let sum = delayed("sum", |xs: Vec<f64>| xs.iter().sum::<f64>()).call1(&data);
    let max = delayed("max", |xs: Vec<f64>| {
        xs.iter().cloned().fold(f64::MIN, f64::max)
    })
    .call1(&data);
    let len = delayed("len", |xs: Vec<f64>| xs.len()).call1(&data);
    let (s, m, l) = compute((&sum, &max, &len), &pool()).unwrap();
    assert_eq!((s, m, l), (55.0, 10.0, 10));
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    // Separately, each computes the load again.
    sum.compute(&pool()).unwrap();
    max.compute(&Sequential::new()).unwrap();
    assert_eq!(loads.load(Ordering::SeqCst), 3);
}

fn square(x: i64) -> i64 {
    x * x
}

#[test]
fn identical_calls_share_keys_and_different_ones_do_not() {
    let a = delayed("square", square).call1(3i64);
    let b = delayed("square", square).call1(3i64);
    assert_eq!(a.key(), b.key());
    assert_ne!(a.key(), delayed("square", square).call1(4i64).key());
    // Same name, different function: different keys.
    let c = delayed("square", |x: i64| x + x).call1(3i64);
    assert_ne!(a.key(), c.key());
    // Two capturing closures never share a key, even with equal captures...
    let k = 2i64;
    let p = delayed("times", move |x: i64| x * k).call1(1i64);
    let q = delayed("times", move |x: i64| x * k).call1(1i64);
    assert_ne!(p.key(), q.key());
    // ...unless given one token; then two calls through one `DelayedFn` agree too.
    let t1 = delayed_with_token("times", k, move |x: i64| x * k).call1(1i64);
    let t2 = delayed_with_token("times", k, move |x: i64| x * k).call1(1i64);
    assert_eq!(t1.key(), t2.key());
    let f = delayed("times", move |x: i64| x * k);
    assert_eq!(f.call1(5i64).key(), f.call1(5i64).key());
    // Float literals hash by value; -0.0 and 0.0 differ, as their bits do.
    let h = delayed("h", |x: f64| x);
    assert_eq!(h.call1(0.1).key(), h.call1(0.1).key());
    assert_ne!(h.call1(0.0).key(), h.call1(-0.0).key());
    // Equal keys, computed together: one result, both agree.
    let (x, y) = compute((&a, &b), &Sequential::new()).unwrap();
    assert_eq!((x, y), (9, 9));
    assert_eq!(a.graph().len(), 1);
}

#[test]
fn mixing_arrays_bags_and_delayed_values() {
    let ctx = ArrayContext::new();
    let data = ArrayD::from_shape_fn(IxDyn(&[5, 4]), |i| (i[0] * 4 + i[1]) as f64);
    let x = ctx.from_ndarray(&data, [2, 3]).unwrap();
    let total = Delayed::<f64>::from_scalar(&x.sum(None).unwrap()).unwrap();
    let count = Delayed::<i64>::from_scalar(&x.gt(9.5).unwrap().sum(None).unwrap()).unwrap();
    let mean = delayed("mean", |t: f64, n: usize| t / n as f64).call2(&total, 20usize);
    let whole = Delayed::<ArrayD<f64>>::from_array(&x).unwrap();
    let corner = delayed("corner", |a: ArrayView2<f64>| a[[4, 3]]).call1(&whole);
    let bag = Bag::from_vec((1..=6i64).collect(), 3).unwrap();
    let (t, c, m, arr, k, items, bsum) = {
        let (t, c, m, arr) = compute((&total, &count, &mean, &x), &pool()).unwrap();
        let (k, items, bsum) = compute((&corner, &bag, &bag.sum()), &pool()).unwrap();
        (t, c, m, arr, k, items, bsum)
    };
    let want_total: f64 = data.iter().sum();
    assert_eq!(t, want_total);
    assert_eq!(c, data.iter().filter(|&&v| v > 9.5).count() as i64);
    assert_eq!(m, want_total / 20.0);
    assert_eq!(arr, BlockData::F64(data.clone()));
    assert_eq!(k, data[[4, 3]]);
    assert_eq!(items, vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(bsum, 21);

    // Bags from delayed partitions.
    let parts: Vec<Delayed<Vec<i64>>> = (0..4i64)
        .map(|i| delayed("part", |i: i64| vec![i; i as usize]).call1(i))
        .collect();
    let b = Delayed::to_bag(&parts);
    assert_eq!(b.npartitions(), 4);
    let (all, s) = compute((&b, &b.sum()), &pool()).unwrap();
    assert_eq!(all, vec![1, 2, 2, 3, 3, 3]);
    assert_eq!(s, 14);
}

#[test]
fn array_and_bag_work_shared_between_results_runs_once() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let b = Bag::from_vec((1..=9i64).collect(), 3)
        .unwrap()
        .map(move |x| {
            counter.fetch_add(1, Ordering::SeqCst);
            x * 2
        });
    let stored = b.persist(&Sequential::new()).unwrap();
    assert_eq!(calls.swap(0, Ordering::SeqCst), 9);
    let (items, total, n) = compute((&stored, &stored.sum(), &stored.count()), &pool()).unwrap();
    assert_eq!((items.len(), total, n), (9, 90, 9));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[test]
fn delayed_errors_are_typed() {
    // A failing call: the task error names the key and keeps the source.
    let read = delayed("read", |p: String| -> Result<usize, TaskError> {
        Ok(std::fs::read(p)?.len())
    });
    let r = read.call1("/no/such/blockwork/input");
    let e = r.compute(&Sequential::new()).unwrap_err();
    assert_eq!(
        (e.kind(), e.task_cause()),
        (ErrorKind::TaskFailed, Some(ErrorKind::Io))
    );
    assert_eq!(e.task_key(), Some(r.key()));
    assert!(
        std::error::Error::source(&e)
            .unwrap()
            .is::<std::io::Error>()
    );
    // A literal that does not fit fails when the call runs, as an overflow.
    let id = delayed("id", |x: u64| x);
    let e = id.call1(u64::MAX).compute(&Sequential::new()).unwrap_err();
    assert_eq!(e.task_cause(), Some(ErrorKind::Overflow));
    // A view of the wrong number of axes.
    let ctx = ArrayContext::new();
    let v = ctx
        .from_ndarray(&ArrayD::<f64>::zeros(IxDyn(&[3])), 2)
        .unwrap();
    let whole = Delayed::<ArrayD<f64>>::from_array(&v).unwrap();
    let e = delayed("corner", |a: ArrayView2<f64>| a[[0, 0]])
        .call1(&whole)
        .compute(&Sequential::new())
        .unwrap_err();
    assert_eq!(e.task_cause(), Some(ErrorKind::Shape));
    // Wrong array types and shapes for the array adapters.
    assert_eq!(
        Delayed::<ArrayD<i64>>::from_array(&v).unwrap_err().kind(),
        ErrorKind::Type
    );
    assert_eq!(
        Delayed::<f64>::from_scalar(&v).unwrap_err().kind(),
        ErrorKind::Shape
    );
    // An error raised inside a dependency stops the dependents.
    let fail = delayed("fail", || -> Result<i64, TaskError> {
        Err("broken input".into())
    });
    let after = delayed("inc", |x: i64| x + 1).call1(&fail.call0());
    let e = after.compute(&pool()).unwrap_err();
    assert!(e.to_string().contains("broken input"), "{e}");
}

#[test]
fn delayed_map_and_values() {
    let v = Delayed::value(vec![3i64, 1, 2]);
    let sorted = v.map("sort", |mut xs: Vec<i64>| {
        xs.sort();
        xs
    });
    let firsts = delayed("firsts", |a: Vec<i64>, b: Vec<i64>| (a[0], b[0])).call2(&v, &sorted);
    assert_eq!(firsts.compute(&Sequential::new()).unwrap(), (3, 1));
    let opt = delayed("opt", |x: Option<i64>| x.unwrap_or(-1)).call1(None::<i64>);
    assert_eq!(opt.compute(&Sequential::new()).unwrap(), -1);
}

#[test]
fn arrays_from_delayed_blocks_match_ndarray() {
    use blockwork::array::ArrayContext;
    use blockwork::ndarray::{Array1, ArrayD, Axis, IxDyn, concatenate};
    use blockwork::{Delayed, ErrorKind, Sequential, delayed};
    fn load(i: i64) -> ArrayD<f64> {
        ArrayD::from_shape_fn(IxDyn(&[3, 4]), |ix| {
            (i * 100 + (ix[0] * 4 + ix[1]) as i64) as f64
        })
    }
    let blocks: Vec<Delayed<ArrayD<f64>>> =
        (0..5).map(|i| delayed("load", load).call1(i)).collect();
    let ctx = ArrayContext::new();
    let x = Delayed::to_array(&ctx, &blocks, &[15, 4], [3, 4]).unwrap();
    let got: Array1<f64> = x.sum(0).unwrap().compute_as(&Sequential::new()).unwrap();
    let parts: Vec<ArrayD<f64>> = (0..5).map(load).collect();
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    let want = concatenate(Axis(0), &views).unwrap().sum_axis(Axis(0));
    assert_eq!(got.to_vec(), want.iter().copied().collect::<Vec<_>>());
    // A wrong count is refused before running; a block of the wrong shape fails its task.
    let err = Delayed::to_array(&ctx, &blocks[..4], &[15, 4], [3, 4]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let bad = Delayed::to_array(&ctx, &blocks, &[10, 4], [2, 4]).unwrap();
    let err = bad
        .sum(None)
        .unwrap()
        .compute_f64(&Sequential::new())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TaskFailed, "{err}");
    assert_eq!(err.task_cause(), Some(ErrorKind::Shape), "{err}");
}

#[test]
fn array_blocks_as_delayed_values_round_trip() {
    use blockwork::array::ArrayContext;
    use blockwork::ndarray::{Array2, ArrayD, Axis};
    use blockwork::{Delayed, ErrorKind, Pool, delayed};
    let data = Array2::from_shape_fn((7, 5), |(i, j)| (i * 5 + j) as f64 - 3.0);
    let ctx = ArrayContext::new();
    let x = ctx.from_ndarray(&data.clone().into_dyn(), [3, 2]).unwrap();
    let pool = Pool::builder().threads(2).pin(false).build().unwrap();
    let blocks = Delayed::<ArrayD<f64>>::to_blocks(&x).unwrap();
    assert_eq!(blocks.len(), 3 * 3);
    // Each block through one's own call: its maximum, against ndarray's blocks.
    let max = |a: ArrayD<f64>| a.iter().copied().fold(f64::MIN, f64::max);
    for (b, (i, j)) in blocks
        .iter()
        .zip((0..3).flat_map(|i| (0..3).map(move |j| (i, j))))
    {
        let got = delayed("max", max).call1(b).compute(&pool).unwrap();
        let rows = (3 * i)..(3 * i + 3).min(7);
        let cols = (2 * j)..(2 * j + 2).min(5);
        let want = data
            .select(Axis(0), &rows.collect::<Vec<_>>())
            .select(Axis(1), &cols.collect::<Vec<_>>())
            .iter()
            .copied()
            .fold(f64::MIN, f64::max);
        assert_eq!(got, want, "block ({i}, {j})");
    }
    // Back into an array of the same grid: the same values.
    let again = Delayed::to_array(&ctx, &blocks, &[7, 5], [3, 2]).unwrap();
    let back: Array2<f64> = again.compute_as(&pool).unwrap();
    assert_eq!(back, data);
    // The wrong element type is refused.
    let err = Delayed::<ArrayD<i64>>::to_blocks(&x).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Type);
}

/// Eight arguments of eight types (the most a delayed call takes).
#[allow(clippy::too_many_arguments)]
fn mix8(
    a: i64,
    b: f64,
    c: u32,
    d: String,
    e: Vec<i64>,
    f: Option<f32>,
    g: (i64, i64),
    h: usize,
) -> f64 {
    a as f64
        + b
        + f64::from(c)
        + d.len() as f64
        + e.iter().sum::<i64>() as f64
        + f64::from(f.unwrap_or(0.5))
        + (g.0 * g.1) as f64
        + h as f64
}

fn count_to(n: i64) -> Vec<i64> {
    (0..n).collect()
}

fn weighted(xs: Vec<i64>, w: i64) -> i64 {
    xs.iter().map(|x| x * w).sum()
}

#[test]
fn delayed_calls_of_up_to_eight_arguments_and_the_macro_form() {
    let direct = mix8(1, 2.5, 3, "four".into(), vec![1, 2], None, (3, 4), 7);
    let a = delayed("one", || 1i64).call0();
    let e = delayed("list", count_to).call1(3i64); // [0, 1, 2]
    let d = delayed("mix8", mix8);
    let m = d.call8(
        &a,
        2.5,
        3u32,
        "four",
        vec![1i64, 2],
        None::<f32>,
        (3i64, 4i64),
        7usize,
    );
    assert_eq!(m.compute(&Sequential::new()).unwrap(), direct);
    let m2 = d.call8(
        &a,
        2.5,
        3u32,
        "four",
        &e,
        Some(0.25f32),
        (3i64, 4i64),
        7usize,
    );
    let want2 = mix8(
        1,
        2.5,
        3,
        "four".into(),
        vec![0, 1, 2],
        Some(0.25),
        (3, 4),
        7,
    );
    assert_eq!(m2.compute(&pool()).unwrap(), want2);
    // The macro form: the function's path names it; keys are those of `delayed(..).callN`.
    let x = delayed!(count_to(5i64));
    let y = delayed!(weighted(&x, 3i64));
    assert_eq!(y.compute(&pool()).unwrap(), 3 * (0..5).sum::<i64>());
    assert_eq!(x.key(), delayed("count_to", count_to).call1(5i64).key());
    assert_eq!(y.key(), delayed!(weighted(&x, 3i64)).key());
    assert_ne!(y.key(), delayed!(weighted(&x, 4i64)).key());
    let z = delayed!(mix8(
        &a,
        2.5,
        3u32,
        "four",
        &e,
        None::<f32>,
        (3i64, 4i64),
        7usize
    ));
    assert_eq!(
        z.compute(&Sequential::new()).unwrap(),
        mix8(1, 2.5, 3, "four".into(), vec![0, 1, 2], None, (3, 4), 7)
    );
    assert_eq!(
        delayed!(self::count_to(2i64))
            .compute(&Sequential::new())
            .unwrap(),
        vec![0, 1]
    );
    // Five to seven arguments, each against the direct call.
    let s5 = delayed("s5", |a: i64, b: i64, c: i64, d: i64, e: i64| {
        a + 2 * b + 3 * c + 4 * d + 5 * e
    })
    .call5(&a, 1i64, 1i64, 1i64, &a);
    assert_eq!(s5.compute(&Sequential::new()).unwrap(), 15);
    let s6 = delayed("s6", |a: i64, b: i64, c: i64, d: i64, e: i64, f: i64| {
        a * b * c * d * e * f
    })
    .call6(2i64, 2i64, &a, 2i64, 2i64, 2i64);
    assert_eq!(s6.compute(&Sequential::new()).unwrap(), 32);
    let s7 = delayed(
        "s7",
        |a: i64, b: i64, c: i64, d: i64, e: i64, f: i64, g: i64| {
            [a, b, c, d, e, f, g].iter().sum::<i64>()
        },
    )
    .call7(1i64, 2i64, 3i64, 4i64, 5i64, 6i64, &a);
    assert_eq!(s7.compute(&Sequential::new()).unwrap(), 22);
}

#[test]
fn several_arrays_computed_typed_in_one_run_share_their_blocks() {
    use blockwork::array::DType;
    use blockwork::ndarray::{Array1, Array2, Axis, Ix0, Ix1, Ix2};
    use blockwork::{Arg, GraphBuilder, Key, Op};
    // Blocks made by a counting task of one's own: each block must be loaded once for all
    // the results together.
    let loads = Arc::new(AtomicUsize::new(0));
    let counter = loads.clone();
    let load = Op::typed("load", move |i: i64| {
        counter.fetch_add(1, Ordering::SeqCst);
        ArrayD::from_shape_fn(IxDyn(&[2, 5]), |ix| {
            (10 * i + (ix[0] * 5 + ix[1]) as i64) as f64
        })
    });
    let mut g = GraphBuilder::new();
    for i in 0..4i64 {
        g.task(("load", i), &load, [Arg::lit(i)]).unwrap();
    }
    let keys = (0..4i64).map(|i| Key::from(("load", i)));
    let ctx = ArrayContext::new();
    let x = ctx
        .from_blocks(g.build(), keys, &[8, 5], [2, 5], DType::F64)
        .unwrap();
    let want = Array2::from_shape_fn((8, 5), |(r, c)| (10 * (r / 2) + (r % 2) * 5 + c) as f64);

    let col = x.sum(0).unwrap();
    let total = x.sum(None).unwrap();
    let scaled = &x * 2.0;
    let d_total = Delayed::<f64>::from_scalar(&total).unwrap();
    let half = delayed("half", |t: f64| t / 2.0).call1(&d_total);
    let (m, c, t, s, h): (
        Array2<f64>,
        Array1<f64>,
        blockwork::ndarray::Array0<f64>,
        Array2<f64>,
        f64,
    ) = compute(
        (
            &x.typed::<f64, Ix2>().unwrap(),
            &col.typed::<f64, Ix1>().unwrap(),
            &total.typed::<f64, Ix0>().unwrap(),
            &scaled.typed::<f64, Ix2>().unwrap(),
            &half,
        ),
        &pool(),
    )
    .unwrap();
    assert_eq!(loads.load(Ordering::SeqCst), 4, "each block loaded once");
    assert_eq!(m, want);
    assert_eq!(c, want.sum_axis(Axis(0)));
    assert_eq!(t.into_scalar(), want.sum());
    assert_eq!(s, &want * 2.0);
    assert_eq!(h, want.sum() / 2.0);
    // The same on the sequential executor; untyped and typed forms agree.
    let (raw, typed) =
        compute((&x, &x.typed::<f64, IxDyn>().unwrap()), &Sequential::new()).unwrap();
    assert_eq!(raw, BlockData::F64(typed.clone()));
    assert_eq!(typed, want.into_dyn());
    // Wrong types and dimensions are refused before anything runs.
    assert_eq!(x.typed::<f32, Ix2>().unwrap_err().kind(), ErrorKind::Type);
    assert_eq!(x.typed::<f64, Ix1>().unwrap_err().kind(), ErrorKind::Shape);
    assert_eq!(
        col.typed::<f64, Ix2>().unwrap_err().kind(),
        ErrorKind::Shape
    );
}

#[test]
fn panicking_functions_in_delayed_calls_and_typed_ops_are_errors() {
    let boom = delayed("boom", |x: i64| -> i64 {
        if x > 2 {
            panic!("user panic at {x}")
        }
        x
    });
    let ok = boom.call1(1i64);
    let bad = boom.call1(3i64);
    let after = delayed("after", |a: i64, b: i64| a + b).call2(&ok, &bad);
    let p = pool();
    for e in [
        bad.compute(&p).unwrap_err(),
        bad.compute(&Sequential::new()).unwrap_err(),
        after.compute(&p).unwrap_err(),
        compute((&ok, &after), &p).map(|_| ()).unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::TaskPanicked, "{e}");
        assert!(e.to_string().contains("user panic at 3"), "{e}");
        assert_eq!(e.task_key(), Some(bad.key()));
    }
    // The pool and the other values are still fine.
    assert_eq!(ok.compute(&p).unwrap(), 1);
    assert_eq!(compute((&ok, &ok), &p).unwrap(), (1, 1));
    // A panic inside an array's delayed block and inside a bag's map.
    let blocks: Vec<Delayed<ArrayD<f64>>> = (0..3i64)
        .map(|i| {
            delayed("blk", |i: i64| -> ArrayD<f64> {
                assert!(i != 1, "block {i} cannot be loaded");
                ArrayD::zeros(IxDyn(&[2]))
            })
            .call1(i)
        })
        .collect();
    let x = Delayed::to_array(&ArrayContext::new(), &blocks, &[6], 2).unwrap();
    let e = x.sum(None).unwrap().compute_f64(&p).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TaskPanicked);
    assert!(e.to_string().contains("block 1 cannot be loaded"), "{e}");
    let b = Bag::from_vec((0..10i64).collect(), 3)
        .unwrap()
        .map(|x| if x == 7 { panic!("item {x}") } else { x });
    let e = compute((&b.sum(), &b.count()), &p).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TaskPanicked);
    assert!(e.to_string().contains("item 7"), "{e}");
}
