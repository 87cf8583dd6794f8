//! Zarr stores: round trips over chunkings, element types, both format versions and every
//! codec, checked element by element against the ndarray the array was built from; stores
//! written by zarr-python (fixtures) read back against the values NumPy gave them; hostile
//! stores and failed writes as typed errors that leave nothing that looks complete.

use blockwork::array::{
    ArrayContext, ChunkSpec, DType, Element, Pooled, ZarrCompression, ZarrFormat, ZarrOptions,
};
use blockwork::{ErrorKind, Pool, Sequential};
use ndarray::{ArrayD, IxDyn};
use std::path::Path;

const FORMATS: [ZarrFormat; 2] = [ZarrFormat::V2, ZarrFormat::V3];
const CODECS: [ZarrCompression; 4] = [
    ZarrCompression::None,
    ZarrCompression::Gzip(6),
    ZarrCompression::Zstd(3),
    ZarrCompression::Blosc(5),
];

/// An array of `shape` whose element at flat position `i` is `f(i)`.
fn make<T: Clone>(shape: &[usize], f: impl Fn(usize) -> T) -> ArrayD<T> {
    let n = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(f).collect()).unwrap()
}

/// Writes `data` blocked by `chunks` with `opts`, reads it back, and checks the values, the
/// block grid (one block per store chunk) and the chunk files on disk.
fn round_trip<T: Element + Pooled>(
    data: &ArrayD<T>,
    chunks: impl Into<ChunkSpec>,
    opts: &ZarrOptions,
    expect_grid: &[Vec<usize>],
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.zarr");
    let ctx = ArrayContext::new();
    let x = ctx.from_ndarray(data, chunks).unwrap();
    x.to_zarr(&path, opts, &Pool::new(2).unwrap()).unwrap();
    let meta = match opts.format {
        ZarrFormat::V2 => ".zarray",
        ZarrFormat::V3 => "zarr.json",
    };
    assert!(path.join(meta).is_file(), "{opts:?}");
    let back = ctx.from_zarr(&path).unwrap();
    assert_eq!(back.dtype(), T::DTYPE);
    assert_eq!(back.shape(), data.shape());
    assert_eq!(back.chunks().axes(), expect_grid, "{opts:?}");
    assert_eq!(
        &back.compute::<T>(&Sequential::new()).unwrap(),
        data,
        "{opts:?}"
    );
    // Nothing but the store is left beside it.
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1);
}

#[test]
fn f64_every_format_and_codec() {
    let data = make(&[7, 5], |i| i as f64 * 0.5 - 3.0);
    for format in FORMATS {
        for codec in CODECS {
            let opts = ZarrOptions::new().format(format).compression(codec);
            round_trip(&data, vec![3, 2], &opts, &[vec![3, 3, 1], vec![2, 2, 1]]);
        }
    }
}

#[test]
fn every_dtype_both_formats() {
    let shape = [4, 3, 5];
    let grid = [vec![2, 2], vec![3], vec![2, 2, 1]];
    for format in FORMATS {
        for codec in [ZarrCompression::Zstd(1), ZarrCompression::Blosc(9)] {
            let opts = ZarrOptions::new().format(format).compression(codec);
            round_trip(
                &make(&shape, |i| i as f32 / 7.0),
                vec![2, 3, 2],
                &opts,
                &grid,
            );
            round_trip(
                &make(&shape, |i| i as i32 * 1001 - 30000),
                vec![2, 3, 2],
                &opts,
                &grid,
            );
            round_trip(
                &make(&shape, |i| (i as i64) << 40),
                vec![2, 3, 2],
                &opts,
                &grid,
            );
            round_trip(&make(&shape, |i| i % 3 == 0), vec![2, 3, 2], &opts, &grid);
            let specials = [f64::NAN, f64::INFINITY, -0.0, f64::MIN_POSITIVE];
            let d = make(&shape, |i| specials[i % 4]);
            let dir = tempfile::tempdir().unwrap();
            let ctx = ArrayContext::new();
            let p = dir.path().join("s.zarr");
            ctx.from_ndarray(&d, 2)
                .unwrap()
                .to_zarr(&p, &opts, &Sequential::new())
                .unwrap();
            let back = ctx
                .from_zarr(&p)
                .unwrap()
                .compute::<f64>(&Sequential::new())
                .unwrap();
            // Bit for bit, NaN included.
            let bits = |a: &ArrayD<f64>| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&back), bits(&d));
        }
    }
}

#[test]
fn chunkings_single_many_ragged_and_rechunked() {
    let data = make(&[10, 9], |i| (i * 7 % 13) as i64);
    for format in FORMATS {
        let opts = ZarrOptions::new().format(format);
        // One block: one chunk.
        round_trip(&data, vec![10, 9], &opts, &[vec![10], vec![9]]);
        // Many blocks of one element each.
        round_trip(&data, 1, &opts, &[vec![1; 10], vec![1; 9]]);
        // Regular with ragged edges, written one block per chunk.
        round_trip(&data, vec![4, 5], &opts, &[vec![4, 4, 2], vec![5, 4]]);
        // Irregular blocks: rechunked to the longest block along each axis.
        let irregular = vec![vec![3, 5, 2], vec![2, 7]];
        round_trip(&data, irregular, &opts, &[vec![5, 5], vec![7, 2]]);
        // Zero-length blocks (a leading one too) are not chunk lengths.
        let with_empty = vec![vec![0, 4, 6, 0], vec![9, 0]];
        round_trip(&data, with_empty, &opts, &[vec![6, 4], vec![9]]);
        // Explicit store chunks other than the array's.
        let opts = opts.clone().chunks(vec![6, 9]);
        round_trip(&data, vec![4, 5], &opts, &[vec![6, 4], vec![9]]);
    }
}

#[test]
fn one_chunk_file_per_block_and_empty_chunks_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = ArrayContext::new();
    // Rows 0..4 are zero (the fill value): their chunks are not written.
    let data = make(&[8, 6], |i| if i < 24 { 0.0 } else { i as f64 });
    let x = ctx.from_ndarray(&data, vec![4, 3]).unwrap();
    let v3 = dir.path().join("v3.zarr");
    x.to_zarr(&v3, &ZarrOptions::new(), &Sequential::new())
        .unwrap();
    assert!(v3.join("c/1/0").is_file() && v3.join("c/1/1").is_file());
    assert!(!v3.join("c/0/0").exists() && !v3.join("c/0/1").exists());
    let v2 = dir.path().join("v2.zarr");
    let opts = ZarrOptions::new().format(ZarrFormat::V2);
    x.to_zarr(&v2, &opts, &Sequential::new()).unwrap();
    assert!(v2.join("1.0").is_file() && v2.join("1.1").is_file());
    assert!(!v2.join("0.0").exists());
    for p in [v3, v2] {
        let back = ctx.from_zarr(&p).unwrap();
        assert_eq!(back.compute::<f64>(&Sequential::new()).unwrap(), data);
    }
}

#[test]
fn zero_size_and_zero_dim() {
    let ctx = ArrayContext::new();
    let dir = tempfile::tempdir().unwrap();
    for format in FORMATS {
        let opts = ZarrOptions::new().format(format);
        let p = dir.path().join(format!("empty-{format:?}.zarr"));
        let e = ArrayD::<f64>::zeros(IxDyn(&[0, 4]));
        ctx.from_ndarray(&e, 2)
            .unwrap()
            .to_zarr(&p, &opts, &Sequential::new())
            .unwrap();
        let back = ctx.from_zarr(&p).unwrap();
        assert_eq!(back.shape(), &[0, 4]);
        assert_eq!(back.compute::<f64>(&Sequential::new()).unwrap(), e);
        let p = dir.path().join(format!("scalar-{format:?}.zarr"));
        let s = ArrayD::from_elem(IxDyn(&[]), 2.5f64);
        ctx.from_ndarray(&s, 1)
            .unwrap()
            .to_zarr(&p, &opts, &Sequential::new())
            .unwrap();
        let back = ctx.from_zarr(&p).unwrap();
        assert_eq!(back.compute::<f64>(&Sequential::new()).unwrap(), s);
    }
}

#[test]
fn overwrite_a_store_with_a_function_of_itself() {
    let ctx = ArrayContext::new();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.zarr");
    let data = make(&[9], |i| i as f64);
    let pool = Pool::new(2).unwrap();
    ctx.from_ndarray(&data, 4)
        .unwrap()
        .to_zarr(&p, &ZarrOptions::new(), &pool)
        .unwrap();
    for _ in 0..2 {
        let x = ctx.from_zarr(&p).unwrap().mul(2.0).unwrap();
        // Written as V2 over a V3 store, and back.
        x.to_zarr(&p, &ZarrOptions::new().format(ZarrFormat::V2), &pool)
            .unwrap();
        assert!(p.join(".zarray").is_file() && !p.join("zarr.json").exists());
        let x = ctx.from_zarr(&p).unwrap();
        x.to_zarr(&p, &ZarrOptions::new(), &pool).unwrap();
    }
    let back = ctx.from_zarr(&p).unwrap().compute::<f64>(&pool).unwrap();
    assert_eq!(back, data.mapv(|v| v * 4.0));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// The store was written by zarr-python 3 from NumPy (tests/fixtures/zarr/make.py): the
/// values are `np.arange(n).reshape(shape) * scale + offset` in each store's type.
#[test]
fn stores_written_by_zarr_python() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/zarr");
    let ctx = ArrayContext::new();
    let seq = Sequential::new();
    let f64s = |name: &str| {
        let a = ctx.from_zarr(fixtures.join(name)).unwrap();
        (
            a.chunks().axes().to_vec(),
            a.astype(DType::F64).unwrap().compute::<f64>(&seq).unwrap(),
        )
    };
    let expect =
        |shape: &[usize], scale: f64, offset: f64| make(shape, |i| i as f64 * scale + offset);
    // V2, blosc (lz4, shuffle), float64, ragged chunks.
    let (grid, v) = f64s("v2_blosc_f8.zarr");
    assert_eq!(grid, vec![vec![4, 4, 2], vec![3, 3]]);
    assert_eq!(v, expect(&[10, 6], 0.25, -1.0));
    // V2, zstd, big-endian int32.
    let (grid, v) = f64s("v2_zstd_be_i4.zarr");
    assert_eq!(grid, vec![vec![5, 2]]);
    assert_eq!(v, expect(&[7], 3.0, -10.0));
    // V2, gzip, bool.
    let b = ctx.from_zarr(fixtures.join("v2_gzip_bool.zarr")).unwrap();
    assert_eq!(b.dtype(), DType::Bool);
    assert_eq!(
        b.compute::<bool>(&seq).unwrap(),
        make(&[3, 4], |i| i % 3 == 0)
    );
    // V3, zstd, float32, 3-d.
    let (grid, v) = f64s("v3_zstd_f4.zarr");
    assert_eq!(grid, vec![vec![2, 1], vec![2, 2], vec![4]]);
    assert_eq!(v, expect(&[3, 4, 4], 0.5, 0.0));
    // V3, gzip, int64, with chunks never written (the fill value 7).
    let (_, v) = f64s("v3_gzip_i8_fill.zarr");
    let mut e = expect(&[6, 4], 1.0, 100.0);
    e.slice_mut(ndarray::s![0..3, ..]).fill(7.0);
    assert_eq!(v, e);
}

#[test]
fn hostile_stores_are_typed_errors() {
    let ctx = ArrayContext::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Missing store, a file, a directory without metadata.
    assert_eq!(
        ctx.from_zarr(d.join("nothing")).unwrap_err().kind(),
        ErrorKind::Io
    );
    std::fs::write(d.join("file"), b"x").unwrap();
    assert_eq!(
        ctx.from_zarr(d.join("file")).unwrap_err().kind(),
        ErrorKind::Io
    );
    std::fs::create_dir(d.join("bare")).unwrap();
    assert_eq!(
        ctx.from_zarr(d.join("bare")).unwrap_err().kind(),
        ErrorKind::Io
    );
    let store = |name: &str, file: &str, text: &str| {
        let p = d.join(name);
        std::fs::create_dir(&p).unwrap();
        std::fs::write(p.join(file), text).unwrap();
        ctx.from_zarr(&p).map(|_| ()).unwrap_err().kind()
    };
    // Metadata that is not JSON, or JSON that is not array metadata.
    assert_eq!(
        store("garbage3", "zarr.json", "{not json"),
        ErrorKind::Parse
    );
    assert_eq!(store("garbage2", ".zarray", "[1, 2]"), ErrorKind::Parse);
    let v2 = |dtype: &str, compressor: &str| {
        format!(
            r#"{{"zarr_format": 2, "shape": [4], "chunks": [2], "dtype": "{dtype}",
                "compressor": {compressor}, "fill_value": 0, "order": "C", "filters": null}}"#
        )
    };
    // Unsupported element types: a typed error naming the type.
    let err = ctx.from_zarr({
        let p = d.join("u16");
        std::fs::create_dir(&p).unwrap();
        std::fs::write(p.join(".zarray"), v2("<u2", "null")).unwrap();
        p
    });
    let err = err.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Type);
    assert!(err.to_string().contains("uint16"), "{err}");
    assert_eq!(store("str", ".zarray", &v2("<U4", "null")), ErrorKind::Type);
    // An unknown codec.
    assert_ne!(
        store("codec", ".zarray", &v2("<f8", r#"{"id": "nope"}"#)),
        ErrorKind::TaskFailed
    );
    // A chunk that is not what its codec says: the block's task fails with an Io cause
    // naming the store; the other blocks read.
    let p = d.join("corrupt.zarr");
    let x = ctx
        .from_ndarray(&make(&[4], |i| i as f64 + 1.0), 2)
        .unwrap();
    x.to_zarr(
        &p,
        &ZarrOptions::new().format(ZarrFormat::V2),
        &Sequential::new(),
    )
    .unwrap();
    std::fs::write(p.join("1"), b"definitely not zstd").unwrap();
    let a = ctx.from_zarr(&p).unwrap();
    let err = a.compute::<f64>(&Sequential::new()).unwrap_err();
    assert_eq!(err.task_cause(), Some(ErrorKind::Io));
    assert!(err.to_string().contains("corrupt.zarr"), "{err}");
    assert_eq!(
        a.slice(blockwork::s![0..2])
            .unwrap()
            .compute::<f64>(&Sequential::new())
            .unwrap()
            .as_slice()
            .unwrap(),
        &[1.0, 2.0]
    );
}

#[test]
fn bad_options_are_typed_errors() {
    let ctx = ArrayContext::new();
    let dir = tempfile::tempdir().unwrap();
    let x = ctx.ones(&[4, 4], 2, DType::F64).unwrap();
    let seq = Sequential::new();
    let p = dir.path().join("x.zarr");
    let kind = |o: ZarrOptions| x.to_zarr(&p, &o, &seq).unwrap_err().kind();
    assert_eq!(kind(ZarrOptions::new().chunks(vec![2])), ErrorKind::Shape);
    assert_eq!(
        kind(ZarrOptions::new().chunks(vec![2, 0])),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        kind(ZarrOptions::new().compression(ZarrCompression::Gzip(10))),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        kind(ZarrOptions::new().compression(ZarrCompression::Zstd(23))),
        ErrorKind::InvalidArgument
    );
    assert!(!p.exists());
    // A file or a non-store directory at the target is not replaced.
    std::fs::write(&p, b"keep me").unwrap();
    assert_eq!(kind(ZarrOptions::new()), ErrorKind::Io);
    assert_eq!(std::fs::read(&p).unwrap(), b"keep me");
    let q = dir.path().join("dir");
    std::fs::create_dir(&q).unwrap();
    std::fs::write(q.join("data.txt"), b"mine").unwrap();
    assert_eq!(
        x.to_zarr(&q, &ZarrOptions::new(), &seq).unwrap_err().kind(),
        ErrorKind::Io
    );
    assert_eq!(std::fs::read(q.join("data.txt")).unwrap(), b"mine");
}

#[test]
fn failed_write_leaves_no_store_and_keeps_the_old_one() {
    let ctx = ArrayContext::new();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.zarr");
    let data = make(&[12], |i| i as f64);
    let good = ctx.from_ndarray(&data, 3).unwrap();
    // Blocks 0 and 1 compute; block 2 fails.
    let bad = good
        .map_blocks("fail-third", DType::F64, |b, idx| {
            if idx[0] == 2 {
                Err(blockwork::TaskError::new("block 2 fails"))
            } else {
                Ok(b.clone())
            }
        })
        .unwrap();
    for pool in [false, true] {
        let run = |a: &blockwork::array::Array| {
            if pool {
                a.to_zarr(&p, &ZarrOptions::new(), &Pool::new(2).unwrap())
            } else {
                a.to_zarr(&p, &ZarrOptions::new(), &Sequential::new())
            }
        };
        let _ = std::fs::remove_dir_all(&p);
        let err = run(&bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TaskFailed);
        // No store, and no temporary directory left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        // Over an existing store: the old one stays, whole.
        run(&good).unwrap();
        run(&bad).unwrap_err();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let back = ctx
            .from_zarr(&p)
            .unwrap()
            .compute::<f64>(&Sequential::new())
            .unwrap();
        assert_eq!(back, data);
    }
}
