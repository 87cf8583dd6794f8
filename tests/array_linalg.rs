//! matmul, dot and tensordot against naive loops and ndarray's `dot`.

mod common;

use blockwork::array::{ChunkSpec, DType};
use blockwork::{ErrorKind, Pool, Sequential};
use common::{close, ctx, data, idata};
use ndarray::{ArrayD, Ix2, IxDyn};

fn naive_tensordot(a: &ArrayD<f64>, b: &ArrayD<f64>, ca: &[usize], cb: &[usize]) -> ArrayD<f64> {
    let fa: Vec<usize> = (0..a.ndim()).filter(|k| !ca.contains(k)).collect();
    let fb: Vec<usize> = (0..b.ndim()).filter(|k| !cb.contains(k)).collect();
    let shape: Vec<usize> = fa
        .iter()
        .map(|&k| a.shape()[k])
        .chain(fb.iter().map(|&k| b.shape()[k]))
        .collect();
    let cshape: Vec<usize> = ca.iter().map(|&k| a.shape()[k]).collect();
    let mut out = ArrayD::zeros(IxDyn(&shape));
    for (pos, o) in out.indexed_iter_mut() {
        let mut s = 0.0;
        for (cpos, _) in ArrayD::<u8>::zeros(IxDyn(&cshape)).indexed_iter() {
            let mut ai = vec![0; a.ndim()];
            let mut bi = vec![0; b.ndim()];
            for (p, &k) in fa.iter().enumerate() {
                ai[k] = pos[p];
            }
            for (p, &k) in fb.iter().enumerate() {
                bi[k] = pos[fa.len() + p];
            }
            for (p, (&i, &j)) in ca.iter().zip(cb).enumerate() {
                ai[i] = cpos[p];
                bi[j] = cpos[p];
            }
            s += a[IxDyn(&ai)] * b[IxDyn(&bi)];
        }
        *o = s;
    }
    out
}

#[test]
fn matmul_with_mismatched_contraction_chunks() {
    let c = ctx();
    let p = Pool::new(2).unwrap();
    for (m, k, n, ca, cb) in [
        (7, 9, 5, ChunkSpec::from([3, 4]), ChunkSpec::from([2, 3])),
        (16, 16, 16, ChunkSpec::from(16), ChunkSpec::from(5)),
        (4, 0, 3, ChunkSpec::from(2), ChunkSpec::from(2)),
        (1, 3, 1, ChunkSpec::from(1), ChunkSpec::from(1)),
    ] {
        let a = data(&[m, k], 1);
        let b = data(&[k, n], 2);
        let x = c.from_ndarray(&a, ca).unwrap();
        let y = c.from_ndarray(&b, cb).unwrap();
        let want = a
            .clone()
            .into_dimensionality::<Ix2>()
            .unwrap()
            .dot(&b.clone().into_dimensionality::<Ix2>().unwrap());
        close(
            &x.matmul(&y).unwrap().compute::<f64>(&p).unwrap(),
            &want.into_dyn(),
            1e-12,
        );
        // Transposed operand (a view, materialised for the product).
        let xt = c.from_ndarray(&a.t().to_owned(), 3).unwrap();
        close(
            &xt.t().matmul(&y).unwrap().compute::<f64>(&p).unwrap(),
            &naive_tensordot(&a, &b, &[1], &[0]),
            1e-12,
        );
    }
}

#[test]
fn tensordot_many_axes_and_dtypes() {
    let c = ctx();
    let s = Sequential::new();
    let a = data(&[3, 4, 5], 1);
    let b = data(&[5, 2, 4], 2);
    let x = c.from_ndarray(&a, [2, 3, 2]).unwrap();
    let y = c.from_ndarray(&b, [3, 1, 4]).unwrap();
    for (ca, cb) in [
        (vec![2], vec![0]),
        (vec![1, 2], vec![2, 0]),
        (vec![2, 1], vec![0, 2]),
    ] {
        let ia: Vec<isize> = ca.iter().map(|&v| v as isize).collect();
        let ib: Vec<isize> = cb.iter().map(|&v| v as isize).collect();
        let got = x
            .tensordot(&y, &ia, &ib)
            .unwrap()
            .compute::<f64>(&s)
            .unwrap();
        close(&got, &naive_tensordot(&a, &b, &ca, &cb), 1e-12);
    }
    let outer = x.tensordot(&y, &[], &[]).unwrap();
    assert_eq!(outer.shape(), &[3, 4, 5, 5, 2, 4]);
    // Integers stay exact; f32 uses sgemm.
    let ia = idata(&[5, 6], 1);
    let ib = idata(&[6, 3], 2);
    let xi = c.from_ndarray(&ia, 4).unwrap();
    let yi = c.from_ndarray(&ib, [4, 2]).unwrap();
    let want = ia
        .into_dimensionality::<Ix2>()
        .unwrap()
        .dot(&ib.into_dimensionality::<Ix2>().unwrap());
    assert_eq!(
        xi.matmul(&yi).unwrap().compute::<i64>(&s).unwrap(),
        want.into_dyn()
    );
    let xf = x.astype(DType::F32).unwrap();
    let yf = y.astype(DType::F32).unwrap();
    let got = xf.tensordot(&yf, &[2], &[0]).unwrap();
    assert_eq!(got.dtype(), DType::F32);
    let got = got.astype(DType::F64).unwrap().compute::<f64>(&s).unwrap();
    close(&got, &naive_tensordot(&a, &b, &[2], &[0]), 1e-5);
}

#[test]
fn batched_matmul_broadcasts_batch_axes() {
    let c = ctx();
    let s = Sequential::new();
    let a = data(&[2, 3, 4, 5], 1);
    let b = data(&[3, 5, 2], 2);
    let x = c.from_ndarray(&a, [1, 2, 3, 2]).unwrap();
    let y = c.from_ndarray(&b, [2, 2, 1]).unwrap();
    let got = x.matmul(&y).unwrap().compute::<f64>(&s).unwrap();
    assert_eq!(got.shape(), &[2, 3, 4, 2]);
    for i in 0..2 {
        for j in 0..3 {
            let ai = a
                .index_axis(ndarray::Axis(0), i)
                .index_axis(ndarray::Axis(0), j)
                .to_owned();
            let bj = b.index_axis(ndarray::Axis(0), j).to_owned();
            let want = naive_tensordot(&ai, &bj, &[1], &[0]);
            close(
                &got.index_axis(ndarray::Axis(0), i)
                    .index_axis(ndarray::Axis(0), j)
                    .to_owned(),
                &want,
                1e-12,
            );
        }
    }
    let v = c.from_ndarray(&data(&[5], 3), 2).unwrap();
    let av = x.matmul(&v).unwrap();
    assert_eq!(av.shape(), &[2, 3, 4]);
    let want = naive_tensordot(&a, &data(&[5], 3), &[3], &[0]);
    close(&av.compute::<f64>(&s).unwrap(), &want, 1e-12);
}

#[test]
fn dot_vectors_and_errors() {
    let c = ctx();
    let s = Sequential::new();
    let v = data(&[7], 1);
    let m = data(&[7, 3], 2);
    let x = c.from_ndarray(&v, 3).unwrap();
    let y = c.from_ndarray(&m, [2, 2]).unwrap();
    let vv = x.dot(&x).unwrap().compute_scalar(&s).unwrap().as_f64();
    assert!((vv - v.iter().map(|a| a * a).sum::<f64>()).abs() < 1e-12);
    let vm = x.matmul(&y).unwrap().compute::<f64>(&s).unwrap();
    let want: Vec<f64> = (0..3)
        .map(|j| (0..7).map(|i| v[i] * m[[i, j]]).sum())
        .collect();
    close(
        &vm,
        &ArrayD::from_shape_vec(IxDyn(&[3]), want).unwrap(),
        1e-12,
    );
    let mv = y.t().matmul(&x).unwrap().compute::<f64>(&s).unwrap();
    close(&mv, &vm, 1e-12);
    let e = |r: blockwork::Result<blockwork::array::Array>| r.unwrap_err().kind();
    assert_eq!(e(y.matmul(&y)), ErrorKind::Shape);
    assert_eq!(e(x.tensordot(&y, &[0], &[])), ErrorKind::Index);
    assert_eq!(e(y.tensordot(&y, &[0, 0], &[0, 0])), ErrorKind::Index);
    let three = c.from_ndarray(&data(&[2, 2, 2], 1), 1).unwrap();
    assert_eq!(
        e(three.matmul(&c.from_ndarray(&data(&[3, 2, 2], 1), 1).unwrap())),
        ErrorKind::Shape
    );
    let d3 = three
        .dot(&c.from_ndarray(&data(&[2, 5], 3), 1).unwrap())
        .unwrap();
    assert_eq!(d3.shape(), &[2, 2, 5]);
}

#[test]
fn matmul_graph_grows_with_blocks_not_block_pairs() {
    // Grids of 32 x 24 and 24 x 16 one-element blocks: 512 output blocks, 24 contracted
    // blocks each. Spelled out pair by pair that is 2 x 512 x 24 = 24 576 references; through
    // panels, each operand block is referenced once and each output block twice.
    let c = ctx();
    let (a, b) = (data(&[32, 24], 1), data(&[24, 16], 2));
    let x = c.from_ndarray(&a, 1).unwrap();
    let y = c.from_ndarray(&b, 1).unwrap();
    let z = x.matmul(&y).unwrap();
    let info = blockwork::diagnostics::GraphInfo::of(&z.graph().unwrap()).unwrap();
    let blocks = 32 * 24 + 24 * 16 + 32 * 16;
    assert!(
        info.edges <= 2 * blocks,
        "{} edges for {blocks} blocks",
        info.edges
    );
    let want = naive_tensordot(&a, &b, &[1], &[0]);
    close(&z.compute::<f64>(&Sequential::new()).unwrap(), &want, 1e-12);
}

#[test]
fn matmul_mixes_gathered_and_direct_block_products() {
    // Contracted blocks of 100 and 200 columns against 300 rows and columns: the first
    // ones are gathered into one GEMM, the larger ones multiplied one by one, in any order.
    let c = ctx();
    let s = Sequential::new();
    let (a, b) = (data(&[300, 700], 1), data(&[700, 300], 2));
    let ks = vec![100, 100, 200, 100, 200];
    let x = c
        .from_ndarray(&a, ChunkSpec::Explicit(vec![vec![300], ks.clone()]))
        .unwrap();
    let y = c
        .from_ndarray(&b, ChunkSpec::Explicit(vec![ks, vec![300]]))
        .unwrap();
    let want = ndarray_dot(&a, &b);
    close(
        &x.matmul(&y).unwrap().compute::<f64>(&s).unwrap(),
        &want,
        1e-9,
    );
    let (ia, ib) = (idata(&[3, 700], 1), idata(&[700, 2], 2));
    let xi = c.from_ndarray(&ia, [3, 7]).unwrap();
    let yi = c.from_ndarray(&ib, [7, 1]).unwrap();
    assert_eq!(
        xi.matmul(&yi).unwrap().compute::<i64>(&s).unwrap(),
        ndarray_dot(&ia, &ib)
    );
}

/// ndarray's product of two 2-D arrays.
fn ndarray_dot<T: ndarray::LinalgScalar>(a: &ArrayD<T>, b: &ArrayD<T>) -> ArrayD<T> {
    let two = |x: &ArrayD<T>| x.clone().into_dimensionality::<Ix2>().unwrap();
    two(a).dot(&two(b)).into_dyn()
}

#[test]
fn direct_block_products_on_ragged_grids_and_transposed_layouts() {
    // Blocks large enough to be multiplied one pair at a time (not gathered), on ragged
    // grids: row-major operands, operands whose contracted axis comes first (column-major
    // matrices of the same blocks), f32, and a pool of two threads.
    let c = ctx();
    let p = Pool::new(2).unwrap();
    let (a, b) = (data(&[230, 410], 1), data(&[410, 190], 2));
    let grids = [
        (vec![230], vec![410], vec![190]),
        (vec![100, 130], vec![256, 154], vec![150, 40]),
        (vec![7, 200, 23], vec![300, 110], vec![190]),
    ];
    let want = naive_tensordot(&a, &b, &[1], &[0]);
    for (rows, ks, cols) in grids {
        let x = c
            .from_ndarray(&a, ChunkSpec::Explicit(vec![rows.clone(), ks.clone()]))
            .unwrap();
        let y = c
            .from_ndarray(&b, ChunkSpec::Explicit(vec![ks.clone(), cols.clone()]))
            .unwrap();
        close(
            &x.matmul(&y).unwrap().compute::<f64>(&p).unwrap(),
            &want,
            1e-9,
        );
        // a^T stored as blocks, contracted over its first axis; b^T over its second.
        let at = a.t().to_owned();
        let bt = b.t().to_owned();
        let xt = c
            .from_ndarray(&at, ChunkSpec::Explicit(vec![ks.clone(), rows.clone()]))
            .unwrap();
        let yt = c
            .from_ndarray(&bt, ChunkSpec::Explicit(vec![cols.clone(), ks.clone()]))
            .unwrap();
        let got = xt.tensordot(&yt, &[0], &[1]).unwrap();
        close(&got.compute::<f64>(&p).unwrap(), &want, 1e-9);
        let got = x
            .astype(DType::F32)
            .unwrap()
            .matmul(&yt.t().astype(DType::F32).unwrap())
            .unwrap();
        assert_eq!(got.dtype(), DType::F32);
        // The inputs are multiples of 1/8 below 8 in magnitude and the sums stay under
        // 2^24 / 64, so every partial sum is exact in f32 too, in any order.
        let got = got.astype(DType::F64).unwrap().compute::<f64>(&p).unwrap();
        close(&got, &want, 0.0);
    }
}
