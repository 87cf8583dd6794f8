//! Boolean masks (`x[cond]`) and the [`Filtered`] arrays they give (unknown chunk lengths),
//! against ndarray filtered with iterators (NumPy's row-major order over the whole array).

mod common;

use blockwork::array::{Array, ArrayContext, ChunkSpec, DType, Filtered, ReduceOp, Reduction};
use blockwork::{Delayed, Error, ErrorKind, Executor, Pool, Sequential, s};
use common::{close, ctx, data, idata, layouts};
use ndarray::{ArrayD, IxDyn};

fn pool() -> Pool {
    Pool::new(2).unwrap()
}

/// `a[cond]` in NumPy's order: row-major over the whole array.
fn filtered<T: Copy>(a: &ArrayD<T>, keep: impl Fn(T) -> bool) -> Vec<T> {
    a.iter().copied().filter(|&v| keep(v)).collect()
}

/// The `f64` values of an array or a [`Filtered`], in order.
trait F64s {
    fn f64s(&self, exec: &impl Executor) -> Vec<f64>;
}
impl F64s for Array {
    fn f64s(&self, exec: &impl Executor) -> Vec<f64> {
        self.compute::<f64>(exec)
            .unwrap()
            .into_raw_vec_and_offset()
            .0
    }
}
impl F64s for Filtered {
    fn f64s(&self, exec: &impl Executor) -> Vec<f64> {
        self.compute::<f64>(exec).unwrap().to_vec()
    }
}

fn got_f64(y: &impl F64s, exec: &impl Executor) -> Vec<f64> {
    y.f64s(exec)
}

#[track_caller]
fn unknown<T: std::fmt::Debug>(r: Result<T, Error>) {
    let e = r.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnknownChunks, "{e}");
    assert!(e.to_string().contains("compute_chunk_sizes"), "{e}");
}

#[track_caller]
fn task_cause<T: std::fmt::Debug>(r: Result<T, Error>, kind: ErrorKind) {
    let e = r.unwrap_err();
    assert_eq!(e.task_cause(), Some(kind), "{e}");
}

/// Every layout (0-d, empty, ragged, zero-length blocks, several blocks along trailing
/// axes), with thresholds that keep nothing, everything and part.
#[test]
fn mask_is_numpy_order_on_every_layout() {
    let (seq, pool) = (Sequential::new(), pool());
    for (shape, chunks) in layouts() {
        let a = data(&shape, 3);
        let x = ctx().from_ndarray(&a, chunks.clone()).unwrap();
        for t in [100.0, -100.0, 0.5, 2.25] {
            let y = x.mask(&x.gt(t).unwrap()).unwrap();
            let bands = x.chunks().numblocks().first().copied().unwrap_or(1);
            assert_eq!(y.nblocks(), bands, "{shape:?}");
            let want = filtered(&a, |v| v > t);
            assert_eq!(got_f64(&y, &seq), want, "{shape:?} {chunks:?} > {t}");
            assert_eq!(got_f64(&y, &pool), want, "{shape:?} {chunks:?} > {t}");
        }
    }
}

/// With several blocks along a trailing axis, concatenating per-block results would give
/// another order: the test data makes sure the two differ.
#[test]
fn order_is_row_major_across_trailing_blocks() {
    let a = ArrayD::from_shape_fn(IxDyn(&[4, 6]), |i| (i[0] * 6 + i[1]) as i64);
    for chunks in [
        ChunkSpec::from([2, 3]),
        ChunkSpec::from([1, 1]),
        ChunkSpec::from([4, 6]),
        ChunkSpec::from(vec![vec![3, 0, 1], vec![1, 4, 1]]),
    ] {
        let x = ctx().from_ndarray(&a, chunks.clone()).unwrap();
        let y = x.mask(&x.rem(3).unwrap().ne(1).unwrap()).unwrap();
        let got = y
            .compute::<i64>(&pool())
            .unwrap()
            .into_raw_vec_and_offset()
            .0;
        let want = filtered(&a, |v| v % 3 != 1);
        assert_eq!(got, want, "{chunks:?}");
        let mut sorted = got.clone();
        sorted.sort_unstable();
        assert_eq!(
            got, sorted,
            "row-major positions are increasing values here"
        );
    }
}

#[test]
fn three_d_int_and_bool_data() {
    let a = idata(&[5, 4, 3], 2);
    for chunks in [
        ChunkSpec::from(2),
        ChunkSpec::from([5, 4, 3]),
        ChunkSpec::from([1, 3, 2]),
    ] {
        let x = ctx().from_ndarray(&a, chunks.clone()).unwrap();
        let y = x.mask(&x.lt(0).unwrap()).unwrap();
        let got = y
            .compute::<i64>(&pool())
            .unwrap()
            .into_raw_vec_and_offset()
            .0;
        assert_eq!(got, filtered(&a, |v| v < 0), "{chunks:?}");
        let b = a.mapv(|v| v % 2 == 0);
        let xb = ctx().from_ndarray(&b, chunks.clone()).unwrap();
        let yb = xb.mask(&x.gt(-3).unwrap()).unwrap();
        let got = yb.compute::<bool>(&pool()).unwrap();
        let want: Vec<bool> = b
            .iter()
            .zip(a.iter())
            .filter(|(_, v)| **v > -3)
            .map(|(b, _)| *b)
            .collect();
        assert_eq!(got.into_raw_vec_and_offset().0, want);
    }
}

/// A mask chunked differently from the array is rechunked to it.
#[test]
fn mask_of_another_chunking() {
    let a = data(&[9, 7], 5);
    let x = ctx().from_ndarray(&a, [4, 3]).unwrap();
    let c = ctx().from_ndarray(&a.mapv(|v| v > 0.0), [2, 7]).unwrap();
    let y = x.mask(&c).unwrap();
    assert_eq!(got_f64(&y, &pool()), filtered(&a, |v| v > 0.0));
}

#[test]
fn nans_in_the_data() {
    let mut a = data(&[6, 5], 7);
    for (i, v) in a.iter_mut().enumerate() {
        if i % 4 == 1 {
            *v = f64::NAN;
        }
    }
    let x = ctx().from_ndarray(&a, [4, 2]).unwrap();
    let seq = Sequential::new();
    // NaN > 0 is false: NaNs are dropped by a comparison.
    let y = x.mask(&x.gt(0.0).unwrap()).unwrap();
    assert_eq!(got_f64(&y, &seq), filtered(&a, |v| v > 0.0));
    // Keeping NaNs: they come through, and propagate into the sum.
    let z = x
        .mask(&x.isnan().unwrap().logical_or(x.lt(0.0).unwrap()).unwrap())
        .unwrap();
    let want = filtered(&a, |v| v.is_nan() || v < 0.0);
    let got = got_f64(&z, &seq);
    assert_eq!(got.len(), want.len());
    assert!(
        got.iter()
            .zip(&want)
            .all(|(g, w)| g.to_bits() == w.to_bits())
    );
    assert!(z.sum().unwrap().compute_f64(&seq).unwrap().is_nan());
    let finite: Vec<f64> = want.iter().copied().filter(|v| !v.is_nan()).collect();
    let nansum = z.nansum().unwrap().compute_f64(&seq).unwrap();
    assert!((nansum - finite.iter().sum::<f64>()).abs() < 1e-9);
    let nanmax = z.nanmax().unwrap().compute_f64(&seq).unwrap();
    assert_eq!(nanmax, finite.iter().copied().fold(f64::MIN, f64::max));
}

#[test]
fn chained_masks() {
    let a = data(&[8, 6], 11).mapv(|v| v / 4.0);
    for chunks in [
        ChunkSpec::from(3),
        ChunkSpec::from([8, 6]),
        ChunkSpec::from(1),
    ] {
        let x = ctx().from_ndarray(&a, chunks.clone()).unwrap();
        let y = x.mask(&x.gt(0.0).unwrap()).unwrap();
        let z = y.mask(&y.lt(0.5).unwrap()).unwrap();
        let want = filtered(&a, |v| v > 0.0 && v < 0.5);
        assert_eq!(got_f64(&z, &pool()), want, "{chunks:?}");
        // A mask computed from the masked array by arithmetic shares its grid.
        let w = y.mask(&y.mul(2.0).unwrap().add(1.0).unwrap().ge(1.5).unwrap());
        let want = filtered(&a, |v| v > 0.0 && v * 2.0 + 1.0 >= 1.5);
        assert_eq!(got_f64(&w.unwrap(), &pool()), want);
        // Three deep, ending empty.
        let e = z.mask(&z.gt(10.0).unwrap()).unwrap();
        assert_eq!(got_f64(&e, &pool()), Vec::<f64>::new());
    }
}

fn naive_var(v: &[f64], ddof: usize) -> f64 {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - ddof) as f64
}

#[test]
fn reductions_equal_the_naive_result() {
    let a = data(&[11, 7], 13);
    let seq = Sequential::new();
    for chunks in [
        ChunkSpec::from(3),
        ChunkSpec::from([11, 7]),
        ChunkSpec::from(vec![vec![1, 0, 4, 6], vec![2, 5]]),
    ] {
        let x = ctx().from_ndarray(&a, chunks.clone()).unwrap();
        let y = x.mask(&x.gt(-1.0).unwrap()).unwrap();
        let v = filtered(&a, |v| v > -1.0);
        let n = v.len() as f64;
        let sum: f64 = v.iter().sum();
        let f = |r: Result<Array, Error>| r.unwrap().compute_f64(&seq).unwrap();
        let near = |g: f64, w: f64| assert!((g - w).abs() <= 1e-9 * (1.0 + w.abs()), "{g} {w}");
        near(f(y.sum()), sum);
        near(f(y.reduce(ReduceOp::Sum, &Reduction::axis(Some(0)))), sum);
        near(
            f(y.reduce(ReduceOp::Sum, &Reduction::all().split_every(2))),
            sum,
        );
        near(f(y.mean()), sum / n);
        near(
            f(y.reduce(ReduceOp::NanMean, &Reduction::axis(Some(-1)))),
            sum / n,
        );
        near(f(y.prod()), v.iter().product());
        near(f(y.var(0)), naive_var(&v, 0));
        near(f(y.var(1)), naive_var(&v, 1));
        near(f(y.std(1)), naive_var(&v, 1).sqrt());
        assert_eq!(f(y.min()), v.iter().copied().fold(f64::MAX, f64::min));
        assert_eq!(f(y.max()), v.iter().copied().fold(f64::MIN, f64::max));
        assert_eq!(f(y.nanmin()), v.iter().copied().fold(f64::MAX, f64::min));
        let any = y.gt(5.0).unwrap().any().unwrap();
        assert_eq!(
            any.compute_item::<bool>(&seq).unwrap(),
            v.iter().any(|&x| x > 5.0)
        );
        let all = y.gt(-1.0).unwrap().all().unwrap();
        assert!(all.compute_item::<bool>(&seq).unwrap());
        // The count of kept elements, as a sum of ones.
        let count = y.gt(-1.0).unwrap().sum().unwrap();
        assert_eq!(count.compute_item::<i64>(&seq).unwrap(), v.len() as i64);
        // Over no axes it would be the Filtered itself, not an array: refused.
        let none = y.reduce(ReduceOp::Max, &Reduction::axes(Vec::<isize>::new()));
        assert_eq!(none.unwrap_err().kind(), ErrorKind::InvalidArgument);
        // Arg reductions need the lengths (for the flat index): refused.
        unknown(y.reduce(ReduceOp::ArgMax, &Reduction::all()));
        // keepdims gives a known shape [1].
        let k = y
            .reduce(ReduceOp::Sum, &Reduction::all().keepdims(true))
            .unwrap();
        assert_eq!(k.shape(), &[1]);
        near(k.compute::<f64>(&seq).unwrap()[[0]], sum);
        // Integer sums stay exact.
        let ai = idata(&[11, 7], 13);
        let xi = ctx().from_ndarray(&ai, chunks.clone()).unwrap();
        let yi = xi.mask(&xi.ge(0).unwrap()).unwrap();
        let want: i64 = filtered(&ai, |v| v >= 0).iter().sum();
        assert_eq!(yi.sum().unwrap().compute_item::<i64>(&seq).unwrap(), want);
        let mx = filtered(&ai, |v| v >= 0).into_iter().max().unwrap();
        assert_eq!(yi.max().unwrap().compute_item::<i64>(&seq).unwrap(), mx);
    }
}

#[test]
fn empty_results() {
    let a = data(&[5, 4], 1);
    let seq = Sequential::new();
    let x = ctx().from_ndarray(&a, 2).unwrap();
    let y = x.mask(&x.gt(1e9).unwrap()).unwrap();
    assert_eq!(got_f64(&y, &seq), Vec::<f64>::new());
    assert_eq!(y.sum().unwrap().compute_f64(&seq).unwrap(), 0.0);
    assert_eq!(y.prod().unwrap().compute_f64(&seq).unwrap(), 1.0);
    assert!(y.mean().unwrap().compute_f64(&seq).unwrap().is_nan());
    let any = y.any().unwrap().compute_item::<bool>(&seq).unwrap();
    let all = y.all().unwrap().compute_item::<bool>(&seq).unwrap();
    assert_eq!((any, all), (false, true));
    // Known only when run: errors of the last task, never a made-up value.
    task_cause(y.min().unwrap().compute_f64(&seq), ErrorKind::Empty);
    task_cause(y.max().unwrap().compute_f64(&seq), ErrorKind::Empty);
    task_cause(y.nanmin().unwrap().compute_f64(&seq), ErrorKind::Empty);
    let yi = y.astype(DType::I64).unwrap();
    task_cause(yi.max().unwrap().compute_f64(&seq), ErrorKind::Empty);
    // ddof over the count found when run; within it, as NumPy.
    let two = x.mask(&x.eq(a[[0, 0]]).unwrap()).unwrap();
    let k = filtered(&a, |v| v == a[[0, 0]]).len();
    task_cause(
        two.var(k + 1).unwrap().compute_f64(&seq),
        ErrorKind::InvalidArgument,
    );
    assert_eq!(two.var(0).unwrap().compute_f64(&seq).unwrap(), 0.0);
    let sized = y.compute_chunk_sizes(&seq).unwrap();
    assert_eq!(sized.shape(), &[0]);
    assert_eq!(sized.min(None).unwrap_err().kind(), ErrorKind::Empty);
}

#[test]
fn elementwise_on_unknown_lengths() {
    let a = data(&[7, 5], 17);
    let seq = Sequential::new();
    let x = ctx().from_ndarray(&a, [3, 2]).unwrap();
    let y = x.mask(&x.gt(0.0).unwrap()).unwrap();
    let v = filtered(&a, |v| v > 0.0);
    let map = |f: fn(f64) -> f64| v.iter().map(|&x| f(x)).collect::<Vec<f64>>();
    assert_eq!(got_f64(&y.add(1.0).unwrap(), &seq), map(|x| x + 1.0));
    assert_eq!(got_f64(&(2.0 - &y * 3.0), &seq), map(|x| 2.0 - x * 3.0));
    assert_eq!(got_f64(&y.mul(&y).unwrap(), &seq), map(|x| x * x));
    assert_eq!(got_f64(&y.sqrt().unwrap(), &seq), map(f64::sqrt));
    let w = y.clip(1.0, 2.0).unwrap();
    assert_eq!(got_f64(&w, &seq), map(|x| x.clamp(1.0, 2.0)));
    let mut acc = y.clone();
    acc *= 2.0;
    acc += &y;
    assert_eq!(got_f64(&(-acc), &seq), map(|x| -3.0 * x));
    let b = y.gt(2.0).unwrap().logical_not().unwrap().astype(DType::F64);
    assert_eq!(
        got_f64(&b.unwrap(), &seq),
        map(|x| if x > 2.0 { 0.0 } else { 1.0 })
    );
    // A known operand of one element (a reduction, or shape [1]) broadcasts.
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let centred = &y - y.mean().unwrap();
    let got = centred.compute::<f64>(&seq).unwrap();
    let want = ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.iter().map(|x| x - mean).collect());
    close(&got.into_dyn(), &want.unwrap(), 1e-12);
    let one = ctx().full(&[1], 1, 10.0).unwrap();
    assert_eq!(got_f64(&y.add(&one).unwrap(), &seq), map(|x| x + 10.0));
    let i = y.astype(DType::I32).unwrap();
    let got = i.compute::<i32>(&seq).unwrap().into_raw_vec_and_offset().0;
    assert_eq!(got, v.iter().map(|&x| x as i32).collect::<Vec<_>>());
    // Scans read their lengths from the blocks.
    let c = y.cumsum().unwrap().compute::<f64>(&seq).unwrap().into_dyn();
    let mut acc = 0.0;
    let want: Vec<f64> = v
        .iter()
        .map(|x| {
            acc += x;
            acc
        })
        .collect();
    close(
        &c,
        &ArrayD::from_shape_vec(IxDyn(&[v.len()]), want).unwrap(),
        1e-12,
    );
    // Per-block functions keep each block's length.
    let m = y.map_blocks("twice", DType::F64, |b, _| match b {
        blockwork::array::BlockData::F64(a) => Ok(blockwork::array::BlockData::F64(a * 2.0)),
        _ => Err("f64".into()),
    });
    assert_eq!(got_f64(&m.unwrap(), &seq), map(|x| x * 2.0));
    let p = y.add(1.0).unwrap().cumprod().unwrap();
    let mut acc = 1.0;
    let want: Vec<f64> = v
        .iter()
        .map(|x| {
            acc *= x + 1.0;
            acc
        })
        .collect();
    let got = got_f64(&p, &seq);
    assert!(
        got.iter()
            .zip(&want)
            .all(|(g, w)| (g - w).abs() <= 1e-9 * w.abs())
    );
}

#[test]
fn elementwise_errors() {
    let a = data(&[7, 5], 17);
    let x = ctx().from_ndarray(&a, [3, 2]).unwrap();
    let y = x.mask(&x.gt(0.0).unwrap()).unwrap();
    let z = x.mask(&x.lt(0.0).unwrap()).unwrap();
    // Two masks: lengths that may differ.
    unknown(y.add(&z));
    unknown(y.mask(&z.gt(0.0).unwrap()));
    // Known operands of more than one element.
    unknown(y.add(ctx().ones(&[3], 3, DType::F64).unwrap()));
    unknown(y.add(ctx().ones(&[1, 1], 1, DType::F64).unwrap()));
    unknown(y.add(&x));
    // A mask that is not bool.
    assert_eq!(y.mask(&y).unwrap_err().kind(), ErrorKind::Type);
    // Mask checks.
    assert_eq!(x.mask(&x).unwrap_err().kind(), ErrorKind::Type);
    let wrong = ctx()
        .from_ndarray(&ArrayD::from_elem(IxDyn(&[5, 7]), true), 2)
        .unwrap();
    assert_eq!(x.mask(&wrong).unwrap_err().kind(), ErrorKind::Index);
}

/// What needs the lengths (see the `compile_fail` examples of the `masks` module docs)
/// works on the array that `compute_chunk_sizes` gives.
#[test]
fn compute_chunk_sizes_gives_a_full_array() {
    let a = data(&[6, 4], 19);
    let seq = Sequential::new();
    let x = ctx().from_ndarray(&a, 2).unwrap();
    let y = x.mask(&x.gt(0.0).unwrap()).unwrap();
    let k = ctx().arange(0.0, 3.0, 1.0, 2).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("y.npy");
    let z = y.compute_chunk_sizes(&seq).unwrap();
    let v = filtered(&a, |v| v > 0.0);
    assert_eq!(z.shape(), &[v.len()]);
    assert_eq!(z.len(), v.len());
    assert_eq!(z.name(), y.name(), "same blocks, same keys");
    let per_band: Vec<usize> = (0..3)
        .map(|b| {
            a.slice(ndarray::s![2 * b..2 * b + 2, ..])
                .iter()
                .filter(|&&v| v > 0.0)
                .count()
        })
        .collect();
    assert_eq!(z.chunks().axis(0), per_band.as_slice());
    let dot = z.dot(&z).unwrap().compute_f64(&seq).unwrap();
    assert!((dot - v.iter().map(|x| x * x).sum::<f64>()).abs() < 1e-9);
    let sl = z.slice(s![1..;2]).unwrap().compute::<f64>(&seq).unwrap();
    let want: Vec<f64> = v.iter().skip(1).step_by(2).copied().collect();
    assert_eq!(sl.into_raw_vec_and_offset().0, want);
    let r = z.rechunk(3).unwrap();
    assert_eq!(got_f64(&r, &seq), v);
    let cat = Array::concatenate(&[z.clone(), k.clone()], 0).unwrap();
    let mut want = v.clone();
    want.extend([0.0, 1.0, 2.0]);
    assert_eq!(got_f64(&cat, &seq), want);
    assert_eq!(
        z.argmax(None).unwrap().compute_item::<i64>(&seq).unwrap(),
        {
            let m = v.iter().copied().fold(f64::MIN, f64::max);
            v.iter().position(|&x| x == m).unwrap() as i64
        }
    );
    z.to_npy(&path, &seq).unwrap();
    let back = ctx().from_npy(&path, 4).unwrap();
    assert_eq!(got_f64(&back, &seq), v);
}

#[test]
fn persist_and_other_ways_to_compute() {
    let a = data(&[6, 5], 23);
    let seq = Sequential::new();
    let x = ctx().from_ndarray(&a, [4, 2]).unwrap();
    let y = x.mask(&x.le(0.25).unwrap()).unwrap();
    let v = filtered(&a, |v| v <= 0.25);
    let p = y.persist(&pool()).unwrap();
    assert_eq!(p.shape(), &[v.len()]);
    assert_eq!(got_f64(&p, &seq), v);
    assert_eq!(got_f64(&p.slice(s![..3]).unwrap(), &seq), v[..3].to_vec());
    // The collection interface, a delayed array and the graph.
    let (data,) = blockwork::compute((&y,), &seq).unwrap();
    assert_eq!(
        data.as_array::<f64>()
            .unwrap()
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        v
    );
    let d = Delayed::<ArrayD<f64>>::from_filtered(&y).unwrap();
    assert_eq!(d.compute(&seq).unwrap().into_raw_vec_and_offset().0, v);
    assert_eq!(y.keys().len(), 2);
    assert_eq!(y.nblocks(), 2);
    assert!(y.graph().unwrap().len() > 2);
    let s = y.sum().unwrap().compute_scalar(&seq).unwrap().as_f64();
    assert!((s - v.iter().sum::<f64>()).abs() < 1e-9);
    // compute_scalar of an unknown length checks the count once run.
    let one = x.mask(&x.eq(a[[0, 0]]).unwrap()).unwrap();
    if filtered(&a, |v| v == a[[0, 0]]).len() == 1 {
        assert_eq!(one.compute_scalar(&seq).unwrap().as_f64(), a[[0, 0]]);
    }
    assert_eq!(y.compute_scalar(&seq).unwrap_err().kind(), ErrorKind::Shape);
    assert!(format!("{y:?}").contains("Filtered"));
}

/// Generated and fused inputs: the mask reads a random array and a comparison of it.
#[test]
fn random_input_matches_its_computed_values() {
    let c = ArrayContext::new();
    let x = c.random(&[40, 30], [16, 7], 5).unwrap();
    let a = x.compute::<f64>(&Sequential::new()).unwrap();
    let y = x.mask(&x.gt(0.5).unwrap()).unwrap();
    assert_eq!(got_f64(&y, &pool()), filtered(&a, |v| v > 0.5));
    let big = y.mul(10.0).unwrap();
    let z = big.mask(&big.lt(7.5).unwrap()).unwrap();
    let want: Vec<f64> = filtered(&a, |v| v > 0.5)
        .into_iter()
        .map(|v| v * 10.0)
        .filter(|&v| v < 7.5)
        .collect();
    assert_eq!(got_f64(&z, &pool()), want);
}

/// One axis in many blocks (some empty after the mask), through the pool.
#[test]
fn one_d_many_blocks() {
    let a = data(&[1000], 29);
    for chunks in [
        ChunkSpec::from(7),
        ChunkSpec::from(1000),
        ChunkSpec::from(1),
    ] {
        let x = ctx().from_ndarray(&a, chunks.clone()).unwrap();
        let y = x.mask(&x.abs().unwrap().lt(1.0).unwrap()).unwrap();
        let want = filtered(&a, |v| v.abs() < 1.0);
        assert_eq!(got_f64(&y, &pool()), want, "{chunks:?}");
        let z = y.compute_chunk_sizes(&pool()).unwrap();
        let lens = z.chunks().axis(0).to_vec();
        assert_eq!(lens.len(), x.chunks().numblocks()[0]);
        assert_eq!(lens.iter().sum::<usize>(), want.len());
        assert!(
            (y.mean().unwrap().compute_f64(&pool()).unwrap()
                - want.iter().sum::<f64>() / want.len() as f64)
                .abs()
                < 1e-12
        );
    }
}
