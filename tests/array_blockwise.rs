//! cumsum/cumprod, map_blocks, map_overlap and .npy round trips against ndarray.

mod common;

use blockwork::array::{BlockData, Boundary, DType};
use blockwork::{ErrorKind, Pool, Sequential};
use common::{close, ctx, data, idata, layouts};
use ndarray::{ArrayD, Axis, Dimension, IxDyn};

#[test]
fn cumulative_along_each_axis() {
    let c = ctx();
    let s = Sequential::new();
    for (shape, chunks) in layouts() {
        if shape.is_empty() {
            continue;
        }
        let a = data(&shape, 2);
        let x = c.from_ndarray(&a, chunks).unwrap();
        for k in 0..shape.len() {
            let mut want = a.clone();
            want.accumulate_axis_inplace(Axis(k), |&p, cur| *cur += p);
            close(
                &x.cumsum(k as isize).unwrap().compute::<f64>(&s).unwrap(),
                &want,
                1e-12,
            );
            let mut want = a.mapv(|v| 1.0 + v / 50.0);
            want.accumulate_axis_inplace(Axis(k), |&p, cur| *cur *= p);
            let got = x
                .div(50.0)
                .unwrap()
                .add(1.0)
                .unwrap()
                .cumprod(k as isize)
                .unwrap();
            close(&got.compute::<f64>(&s).unwrap(), &want, 1e-12);
        }
    }
    let ia = idata(&[9, 4], 1);
    let xi = c.from_ndarray(&ia.mapv(|v| v as i32), [2, 3]).unwrap();
    let got = xi.cumsum(-2).unwrap();
    assert_eq!(got.dtype(), DType::I64);
    let mut want = ia.clone();
    want.accumulate_axis_inplace(Axis(0), |&p, cur| *cur += p);
    assert_eq!(got.compute::<i64>(&s).unwrap(), want);
    assert_eq!(xi.cumsum(2).unwrap_err().kind(), ErrorKind::Index);
}

#[test]
fn map_blocks_sees_block_index() {
    let c = ctx();
    let a = data(&[7, 5], 1);
    let x = c.from_ndarray(&a, [3, 2]).unwrap();
    let y = x
        .map_blocks("plus-row-block", DType::F64, |b, idx| match b {
            BlockData::F64(v) => Ok(BlockData::F64(v + idx[0] as f64)),
            _ => Err("f64 expected".into()),
        })
        .unwrap();
    let got = y.compute::<f64>(&Pool::new(2).unwrap()).unwrap();
    let want = ArrayD::from_shape_fn(IxDyn(&[7, 5]), |i| a[&i] + (i[0] / 3) as f64);
    close(&got, &want, 0.0);
    let bad = x.map_blocks("wrong-shape", DType::F64, |_, _| {
        Ok(BlockData::F64(ArrayD::zeros(IxDyn(&[1]))))
    });
    assert_eq!(
        bad.unwrap()
            .compute::<f64>(&Sequential::new())
            .unwrap_err()
            .kind(),
        ErrorKind::TaskFailed
    );
}

/// Sum over the 3^n neighbourhood, clipped at the array's edges.
fn stencil(e: &ArrayD<f64>) -> ArrayD<f64> {
    ArrayD::from_shape_fn(e.raw_dim(), |i| {
        let mut s = 0.0;
        for (j, &v) in e.indexed_iter() {
            if (0..e.ndim()).all(|k| (j[k] as isize - i[k] as isize).abs() <= 1) {
                s += v;
            }
        }
        s
    })
}

/// `a` padded by one on every side per the boundary rule (None: no padding).
fn padded(a: &ArrayD<f64>, b: Boundary) -> ArrayD<f64> {
    if b == Boundary::None {
        return a.clone();
    }
    let shape: Vec<usize> = a.shape().iter().map(|d| d + 2).collect();
    ArrayD::from_shape_fn(IxDyn(&shape), |i| {
        let mut src = Vec::new();
        for (k, &p) in i.slice().iter().enumerate() {
            let n = a.shape()[k] as isize;
            let p = p as isize - 1;
            let q = if (0..n).contains(&p) {
                p
            } else {
                match b {
                    Boundary::Periodic => (p + n) % n,
                    Boundary::Reflect => {
                        if p < 0 {
                            0
                        } else {
                            n - 1
                        }
                    }
                    _ => {
                        return if let Boundary::Constant(c) = b {
                            c
                        } else {
                            0.0
                        };
                    }
                }
            };
            src.push(q as usize);
        }
        a[IxDyn(&src)]
    })
}

#[test]
fn map_overlap_boundaries() {
    let c = ctx();
    let s = Sequential::new();
    for (shape, chunks) in [
        (vec![9], blockwork::array::ChunkSpec::from(2)),
        (vec![6, 7], blockwork::array::ChunkSpec::from([2, 3])),
    ] {
        let a = data(&shape, 4);
        let x = c.from_ndarray(&a, chunks).unwrap();
        for b in [
            Boundary::None,
            Boundary::Constant(2.5),
            Boundary::Periodic,
            Boundary::Reflect,
        ] {
            let depth = vec![1; shape.len()];
            let y = x
                .map_overlap("stencil", &depth, b, |blk, _| match blk {
                    BlockData::F64(e) => Ok(BlockData::F64(stencil(e))),
                    _ => Err("f64".into()),
                })
                .unwrap();
            let full = stencil(&padded(&a, b));
            let want = if b == Boundary::None {
                full
            } else {
                full.slice_each_axis(|ax| ndarray::Slice::from(1..ax.len - 1))
                    .to_owned()
            };
            close(&y.compute::<f64>(&s).unwrap(), &want, 1e-12);
        }
    }
    let x = c.from_ndarray(&data(&[3], 1), 2).unwrap();
    let id = |b: &BlockData, _: &[usize]| Ok(b.clone());
    assert_eq!(
        x.map_overlap("id", &[1, 1], Boundary::None, id)
            .unwrap_err()
            .kind(),
        ErrorKind::Shape
    );
    assert_eq!(
        x.map_overlap("id", &[4], Boundary::Periodic, id)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn npy_round_trip_block_by_block() {
    let c = ctx();
    let dir = std::env::temp_dir().join(format!("blockwork-npy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = Pool::new(2).unwrap();
    for (shape, chunks) in layouts() {
        let a = data(&shape, 3);
        let path = dir.join("a.npy");
        ndarray_npy::write_npy(&path, &a).unwrap();
        let x = c.from_npy(&path, chunks.clone()).unwrap();
        assert_eq!(x.compute::<f64>(&p).unwrap(), a);
        // Written block by block, read back by ndarray-npy.
        let out = dir.join("b.npy");
        x.mul(2.0).unwrap().to_npy(&out, &p).unwrap();
        let back: ArrayD<f64> = ndarray_npy::read_npy(&out).unwrap();
        assert_eq!(back, &a * 2.0);
    }
    let ints = idata(&[5, 3], 1).mapv(|v| v as i32);
    let path = dir.join("i.npy");
    ndarray_npy::write_npy(&path, &ints).unwrap();
    let xi = c.from_npy(&path, 2).unwrap();
    assert_eq!(xi.dtype(), DType::I32);
    xi.gt(0).unwrap().to_npy(dir.join("m.npy"), &p).unwrap();
    let m: ArrayD<bool> = ndarray_npy::read_npy(dir.join("m.npy")).unwrap();
    assert_eq!(m, ints.mapv(|v| v > 0));
    assert_eq!(
        c.from_npy(dir.join("m.npy"), 2)
            .unwrap()
            .compute::<bool>(&p)
            .unwrap(),
        m
    );
    std::fs::write(dir.join("bad.npy"), b"not a npy file").unwrap();
    assert_eq!(
        c.from_npy(dir.join("bad.npy"), 2).unwrap_err().kind(),
        ErrorKind::Type
    );
    assert_eq!(
        c.from_npy(dir.join("missing.npy"), 2).unwrap_err().kind(),
        ErrorKind::Io
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
