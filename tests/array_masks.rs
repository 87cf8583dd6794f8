//! Boolean masks (`x[cond]`) and arrays of unknown chunk lengths, against ndarray filtered
//! with iterators (NumPy's row-major order over the whole array).

mod common;

use blockwork::array::{Array, ArrayContext, ChunkSpec, DType, Reduction, where_};
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

fn got_f64(y: &Array, exec: &impl Executor) -> Vec<f64> {
    y.compute::<f64>(exec).unwrap().into_raw_vec_and_offset().0
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
            assert_eq!(y.dims(), vec![None]);
            assert!(!y.chunks_known());
            let bands = x.numblocks().first().copied().unwrap_or(1);
            assert_eq!(y.numblocks(), vec![bands], "{shape:?}");
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
    assert!(z.sum(None).unwrap().compute_f64(&seq).unwrap().is_nan());
    let finite: Vec<f64> = want.iter().copied().filter(|v| !v.is_nan()).collect();
    let nansum = z.nansum(None).unwrap().compute_f64(&seq).unwrap();
    assert!((nansum - finite.iter().sum::<f64>()).abs() < 1e-9);
    let nanmax = z.nanmax(None).unwrap().compute_f64(&seq).unwrap();
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
        near(f(y.sum(None)), sum);
        near(f(y.sum(0)), sum);
        near(f(y.sum(Reduction::all().split_every(2))), sum);
        near(f(y.mean(None)), sum / n);
        near(f(y.nanmean(-1)), sum / n);
        near(f(y.prod(None)), v.iter().product());
        near(f(y.var(None, 0)), naive_var(&v, 0));
        near(f(y.var(None, 1)), naive_var(&v, 1));
        near(f(y.std(None, 1)), naive_var(&v, 1).sqrt());
        assert_eq!(f(y.min(None)), v.iter().copied().fold(f64::MAX, f64::min));
        assert_eq!(f(y.max(None)), v.iter().copied().fold(f64::MIN, f64::max));
        assert_eq!(
            f(y.nanmin(None)),
            v.iter().copied().fold(f64::MAX, f64::min)
        );
        let any = y.gt(5.0).unwrap().any(None).unwrap();
        assert_eq!(
            any.compute_item::<bool>(&seq).unwrap(),
            v.iter().any(|&x| x > 5.0)
        );
        let all = y.gt(-1.0).unwrap().all(None).unwrap();
        assert!(all.compute_item::<bool>(&seq).unwrap());
        // The count of kept elements, as a sum of ones.
        let count = y.gt(-1.0).unwrap().sum(None).unwrap();
        assert_eq!(count.compute_item::<i64>(&seq).unwrap(), v.len() as i64);
        // Over no axes: the values themselves, on the same unknown grid.
        let none = y.max(Vec::<isize>::new()).unwrap();
        assert_eq!(none.grid(), y.grid());
        assert_eq!(got_f64(&none, &seq), v);
        let none_min = y
            .mask(&y.gt(1e9).unwrap())
            .unwrap()
            .min(Vec::<isize>::new());
        assert_eq!(got_f64(&none_min.unwrap(), &seq), Vec::<f64>::new());
        // keepdims gives a known shape [1].
        let k = y.sum(Reduction::all().keepdims(true)).unwrap();
        assert_eq!(k.shape().unwrap(), &[1]);
        near(k.compute::<f64>(&seq).unwrap()[[0]], sum);
        // Integer sums stay exact.
        let ai = idata(&[11, 7], 13);
        let xi = ctx().from_ndarray(&ai, chunks.clone()).unwrap();
        let yi = xi.mask(&xi.ge(0).unwrap()).unwrap();
        let want: i64 = filtered(&ai, |v| v >= 0).iter().sum();
        assert_eq!(
            yi.sum(None).unwrap().compute_item::<i64>(&seq).unwrap(),
            want
        );
        let mx = filtered(&ai, |v| v >= 0).into_iter().max().unwrap();
        assert_eq!(yi.max(None).unwrap().compute_item::<i64>(&seq).unwrap(), mx);
    }
}

#[test]
fn empty_results() {
    let a = data(&[5, 4], 1);
    let seq = Sequential::new();
    let x = ctx().from_ndarray(&a, 2).unwrap();
    let y = x.mask(&x.gt(1e9).unwrap()).unwrap();
    assert_eq!(got_f64(&y, &seq), Vec::<f64>::new());
    assert_eq!(y.sum(None).unwrap().compute_f64(&seq).unwrap(), 0.0);
    assert_eq!(y.prod(None).unwrap().compute_f64(&seq).unwrap(), 1.0);
    assert!(y.mean(None).unwrap().compute_f64(&seq).unwrap().is_nan());
    let any = y.any(None).unwrap().compute_item::<bool>(&seq).unwrap();
    let all = y.all(None).unwrap().compute_item::<bool>(&seq).unwrap();
    assert_eq!((any, all), (false, true));
    // Known only when run: errors of the last task, never a made-up value.
    task_cause(y.min(None).unwrap().compute_f64(&seq), ErrorKind::Empty);
    task_cause(y.max(None).unwrap().compute_f64(&seq), ErrorKind::Empty);
    task_cause(y.nanmin(None).unwrap().compute_f64(&seq), ErrorKind::Empty);
    let yi = y.astype(DType::I64).unwrap();
    task_cause(yi.max(None).unwrap().compute_f64(&seq), ErrorKind::Empty);
    // ddof over the count found when run; within it, as NumPy.
    let two = x.mask(&x.eq(a[[0, 0]]).unwrap()).unwrap();
    let k = filtered(&a, |v| v == a[[0, 0]]).len();
    task_cause(
        two.var(None, k + 1).unwrap().compute_f64(&seq),
        ErrorKind::InvalidArgument,
    );
    assert_eq!(two.var(None, 0).unwrap().compute_f64(&seq).unwrap(), 0.0);
    let sized = y.compute_chunk_sizes(&seq).unwrap();
    assert_eq!(sized.shape().unwrap(), &[0]);
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
    let w = where_(y.gt(2.0).unwrap(), &y, 0.0).unwrap();
    assert_eq!(got_f64(&w, &seq), map(|x| if x > 2.0 { x } else { 0.0 }));
    // A known operand of one element (a reduction, or shape [1]) broadcasts.
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let centred = y.sub(y.mean(None).unwrap()).unwrap();
    let got = centred.compute::<f64>(&seq).unwrap();
    let want = ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.iter().map(|x| x - mean).collect());
    close(&got, &want.unwrap(), 1e-12);
    let one = ctx().full(&[1], 1, 10.0).unwrap();
    assert_eq!(got_f64(&y.add(&one).unwrap(), &seq), map(|x| x + 10.0));
    let i = y.astype(DType::I32).unwrap();
    let got = i.compute::<i32>(&seq).unwrap().into_raw_vec_and_offset().0;
    assert_eq!(got, v.iter().map(|&x| x as i32).collect::<Vec<_>>());
    // Scans read their lengths from the blocks.
    let c = y.cumsum(0).unwrap().compute::<f64>(&seq).unwrap();
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
    // A 1-d transpose is itself.
    assert_eq!(y.t().name(), y.name());
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
    // A known mask for an unknown array, and the other way round.
    let k = ctx()
        .from_ndarray(&ArrayD::from_elem(IxDyn(&[3]), true), 3)
        .unwrap();
    unknown(y.mask(&k));
    unknown(
        ctx()
            .ones(&[3], 3, DType::F64)
            .unwrap()
            .mask(&y.gt(0.0).unwrap()),
    );
    // Mask checks.
    assert_eq!(x.mask(&x).unwrap_err().kind(), ErrorKind::Type);
    let wrong = ctx()
        .from_ndarray(&ArrayD::from_elem(IxDyn(&[5, 7]), true), 2)
        .unwrap();
    assert_eq!(x.mask(&wrong).unwrap_err().kind(), ErrorKind::Index);
}

#[test]
fn every_operation_that_needs_lengths_says_so() {
    let a = data(&[6, 4], 19);
    let seq = Sequential::new();
    let x = ctx().from_ndarray(&a, 2).unwrap();
    let y = x.mask(&x.gt(0.0).unwrap()).unwrap();
    let k = ctx().arange(0.0, 3.0, 1.0, 2).unwrap();
    unknown(y.shape());
    unknown(y.len());
    unknown(y.is_empty());
    unknown(y.chunks());
    unknown(y.slice(s![1..3]));
    unknown(y.slice(s![..]));
    unknown(y.index(&[blockwork::array::Idx::Int(0)]));
    unknown(y.index(&[blockwork::array::Idx::List(vec![0])]));
    unknown(y.rechunk(2));
    unknown(y.reshape(&[-1]));
    unknown(y.reshape(&[-1, 1]));
    unknown(Array::concatenate(&[y.clone(), k.clone()], 0));
    unknown(Array::concatenate(&[k.clone(), y.clone()], 0));
    unknown(Array::concatenate(&[y.clone(), y.clone()], 0));
    unknown(Array::stack(&[y.clone(), y.clone()], 0));
    unknown(y.matmul(&y));
    unknown(y.matmul(&k));
    unknown(k.matmul(&y));
    unknown(y.dot(&y));
    unknown(y.tensordot(&y, &[0], &[0]));
    unknown(y.broadcast_to(&[2, 3]));
    unknown(y.expand_dims(0));
    unknown(y.squeeze(None));
    unknown(y.swapaxes(0, 0).and_then(|t| t.slice(s![0..1])));
    unknown(y.argmin(None));
    unknown(y.argmax(0));
    unknown(
        y.map_overlap("id", &[1], blockwork::array::Boundary::None, |b, _| {
            Ok(b.clone())
        }),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("y.npy");
    unknown(y.to_npy(&path, &seq));
    assert!(!path.exists(), "nothing written");
    unknown(Delayed::<f64>::from_scalar(&y));
    // The same calls work once the lengths are computed.
    let z = y.compute_chunk_sizes(&seq).unwrap();
    let v = filtered(&a, |v| v > 0.0);
    assert_eq!(z.shape().unwrap(), &[v.len()]);
    assert_eq!(z.len().unwrap(), v.len());
    assert_eq!(z.name(), y.name(), "same blocks, same keys");
    let per_band: Vec<usize> = (0..3)
        .map(|b| {
            a.slice(ndarray::s![2 * b..2 * b + 2, ..])
                .iter()
                .filter(|&&v| v > 0.0)
                .count()
        })
        .collect();
    assert_eq!(z.chunks().unwrap().axis(0), per_band.as_slice());
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
    assert!(p.chunks_known());
    assert_eq!(p.shape().unwrap(), &[v.len()]);
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
    let d = Delayed::<ArrayD<f64>>::from_array(&y).unwrap();
    assert_eq!(d.compute(&seq).unwrap().into_raw_vec_and_offset().0, v);
    assert_eq!(y.keys().len(), 2);
    assert_eq!(y.blocks().count(), 2);
    assert!(y.graph().unwrap().len() > 2);
    let s = y.sum(None).unwrap().compute_scalar(&seq).unwrap().as_f64();
    assert!((s - v.iter().sum::<f64>()).abs() < 1e-9);
    // compute_scalar of an unknown length checks the count once run.
    let one = x.mask(&x.eq(a[[0, 0]]).unwrap()).unwrap();
    if filtered(&a, |v| v == a[[0, 0]]).len() == 1 {
        assert_eq!(one.compute_scalar(&seq).unwrap().as_f64(), a[[0, 0]]);
    }
    assert_eq!(y.compute_scalar(&seq).unwrap_err().kind(), ErrorKind::Shape);
    assert!(format!("{y:?}").contains("None"));
    // compute_chunk_sizes of a known array is the array.
    assert_eq!(x.compute_chunk_sizes(&seq).unwrap().name(), x.name());
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
        let lens = z.chunks().unwrap().axis(0).to_vec();
        assert_eq!(lens.len(), x.numblocks()[0]);
        assert_eq!(lens.iter().sum::<usize>(), want.len());
        assert!(
            (y.mean(None).unwrap().compute_f64(&pool()).unwrap()
                - want.iter().sum::<f64>() / want.len() as f64)
                .abs()
                < 1e-12
        );
    }
}
