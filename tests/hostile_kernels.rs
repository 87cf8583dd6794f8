//! Adversarial checks of the word-count path (word splitting, line runs, the count table,
//! `top_words`) and the array kernels (streaming stores, transposed reads, strided walks,
//! GEMM) against naive references.

use blockwork::array::{Array, ArrayContext, ChunkSpec, DType, Idx};
use blockwork::bag::{Counter, TextFiles, corpus, for_each_word};
use blockwork::{Pool, Sequential};
use ndarray::{Array2, ArrayD, Axis, IxDyn};
use std::collections::HashMap;

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }
}

fn words_of(text: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for_each_word(text, |w| out.push(w.to_vec()));
    out
}

fn naive_words(text: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for &b in text {
        if matches!(b, b' ' | b'\t' | b'\n' | b'\x0c' | b'\r') {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(b);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Pieces that stress the splitter: every ASCII whitespace, vertical tab (not whitespace),
/// NUL, high bytes, invalid UTF-8, U+00A0 and U+3000 (not ASCII whitespace).
const PIECES: &[&[u8]] = &[
    b" ",
    b"\t",
    b"\n",
    b"\x0b",
    b"\x0c",
    b"\r",
    b"\r\n",
    b"\0",
    b"\x80",
    b"\xff",
    b"\xfe\xfe",
    "\u{a0}".as_bytes(),
    "\u{3000}".as_bytes(),
    b"a",
    b"abcdefg",
    b"abcdefgh",
    b"x\0y",
    b"\x7f",
    b"\x1f",
    b"\x20\x20\x20",
    b"\x08",
    b"\x0e",
];

#[test]
fn words_match_naive_split_on_hostile_bytes() {
    let mut r = Lcg(3);
    for len in 0..600 {
        for _ in 0..6 {
            let mut t = Vec::new();
            while t.len() < len {
                t.extend_from_slice(PIECES[r.next() % PIECES.len()]);
            }
            t.truncate(len);
            assert_eq!(words_of(&t), naive_words(&t), "{t:?}");
            if let Ok(s) = std::str::from_utf8(&t) {
                let want: Vec<Vec<u8>> = s
                    .split_ascii_whitespace()
                    .map(|w| w.as_bytes().to_vec())
                    .collect();
                assert_eq!(words_of(&t), want);
            }
        }
    }
    // Words spanning the 64-byte chunk boundary at every offset; whitespace at byte 63/64.
    for k in 0..200 {
        for wl in [1, 2, 7, 8, 63, 64, 65, 130] {
            let mut t = vec![b' '; k];
            t.extend(std::iter::repeat_n(b'\xc3', wl));
            t.push(b'\t');
            t.extend(std::iter::repeat_n(b'z', wl));
            assert_eq!(words_of(&t), naive_words(&t));
        }
    }
    // Every byte value alone and between words.
    for b in 0..=255u8 {
        let t = [b'a', b, b'b'];
        assert_eq!(words_of(&t), naive_words(&t), "byte {b}");
        let t = vec![b; 200];
        assert_eq!(words_of(&t), naive_words(&t), "byte {b}");
    }
}

#[test]
fn counter_matches_hashmap_on_7_and_8_byte_keys_with_nul_and_high_bytes() {
    let mut r = Lcg(5);
    let alpha: &[u8] = b"a\0\xff\x80";
    let keys: Vec<Vec<u8>> = (0..40_000)
        .map(|_| {
            let len = [0, 1, 2, 3, 4, 6, 7, 7, 8, 8, 9, 15, 16, 17][r.next() % 14];
            (0..len).map(|_| alpha[r.next() % alpha.len()]).collect()
        })
        .collect();
    let mut c = Counter::<[u8]>::new();
    let mut want: HashMap<&[u8], usize> = HashMap::new();
    for k in &keys {
        c.add(k);
        *want.entry(k).or_default() += 1;
    }
    assert_eq!(c.len(), want.len());
    for (k, n) in &want {
        assert_eq!(c.get(k), *n, "{k:?}");
    }
    // Trailing NULs must not alias shorter keys.
    let nul_keys: [&[u8]; 7] = [
        &b"a"[..],
        b"a\0",
        b"a\0\0",
        b"\0",
        b"",
        b"\0\0\0\0\0\0\0",
        b"\0\0\0\0\0\0\0\0",
    ];
    for k in nul_keys {
        let mut c = Counter::<[u8]>::new();
        c.add(k);
        for other in nul_keys {
            assert_eq!(c.get(other), usize::from(k == other), "{k:?} {other:?}");
        }
    }
}

fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Hostile text files (valid UTF-8, since `lines` requires it).
fn hostile_files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut r = Lcg(9);
    let mut out = Vec::new();
    let mut add = |name: &str, b: Vec<u8>| out.push((write(dir, name, &b), b));
    add("part-empty.txt", vec![]);
    add("part-nl.txt", b"\n".to_vec());
    add("part-ws.txt", b" \t\x0c\r\n  \n\r\n\t\t".to_vec());
    add("part-notrail.txt", b"alpha beta\ngamma alpha".to_vec());
    add("part-crlf.txt", b"a b\r\nc a\r\n\r\nb\r\n".to_vec());
    let pieces: &[&[u8]] = &[
        b" ",
        b"\t",
        b"\n",
        b"\r\n",
        b"\x0b",
        b"\x0c",
        b"\0",
        "\u{a0}".as_bytes(),
        "\u{3000}".as_bytes(),
        "\u{e9}".as_bytes(),
        b"abcdefg",
        b"abcdefgh",
        b"w",
        b"wo",
    ];
    // ~3 MiB of short lines: runs cross the 1 MiB reads at arbitrary places.
    let mut big = Vec::new();
    while big.len() < 3 << 20 {
        big.extend_from_slice(pieces[r.next() % pieces.len()]);
    }
    add("part-big.txt", big.clone());
    // One line of 2.5 MiB between short ones, no trailing newline.
    let mut long = b"head x\n".to_vec();
    for i in 0..(5 << 19) / 8 {
        long.extend_from_slice(if i % 3 == 0 {
            b"longword"
        } else {
            b"lw\tabcd "
        });
    }
    long.extend_from_slice(b"\r\nmid\n");
    long.extend(std::iter::repeat_n(b'q', (1 << 20) + 3));
    add("part-long.txt", long);
    // Newline exactly at the 1 MiB read boundary, and right after it.
    for (name, at) in [
        ("part-b0.txt", (1 << 20) - 1),
        ("part-b1.txt", 1 << 20),
        ("part-b2.txt", (1 << 20) - 2),
    ] {
        let mut b = vec![b'k'; 2 << 20];
        for i in (0..b.len()).step_by(997) {
            b[i] = b' ';
        }
        b[at] = b'\n';
        b[(2 << 20) - 1] = b'\n';
        add(name, b);
    }
    out
}

fn split_lines(s: &str) -> Vec<String> {
    // What `lines()` gives: split at \n, strip one \r, no final empty line after a last \n.
    let mut v: Vec<String> = s
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
        .collect();
    if s.is_empty() || s.ends_with('\n') {
        v.pop();
    }
    v
}

#[test]
fn line_blocks_give_the_same_lines_as_lines() {
    let dir = tempfile::tempdir().unwrap();
    let files = hostile_files(dir.path());
    let pool = Pool::new(2).unwrap();
    for (path, bytes) in &files {
        for bs in [None, Some(1000), Some(333_333), Some(1 << 20)] {
            let mut tf = TextFiles::paths([path.clone()]).max_line_bytes(8 << 20);
            if let Some(b) = bs {
                tf = tf.blocksize(b);
            }
            let lines = tf.lines().unwrap().compute_partitions(&pool).unwrap();
            let blocks = tf.line_blocks().unwrap().compute_partitions(&pool).unwrap();
            assert_eq!(lines.len(), blocks.len(), "{path:?} {bs:?}");
            for (l, b) in lines.iter().zip(&blocks) {
                assert_eq!(*l, split_lines(&b.concat()), "{path:?} {bs:?}");
            }
            let whole: String = blocks.iter().flatten().map(String::as_str).collect();
            assert_eq!(whole.as_bytes(), &bytes[..], "{path:?} {bs:?}");
        }
    }
}

#[test]
fn top_words_match_a_naive_count() {
    let dir = tempfile::tempdir().unwrap();
    let files = hostile_files(dir.path());
    let mut want: HashMap<String, usize> = HashMap::new();
    for (_, b) in &files {
        for w in std::str::from_utf8(b).unwrap().split_ascii_whitespace() {
            *want.entry(w.to_string()).or_default() += 1;
        }
    }
    let pattern = format!("{}/part-*.txt", dir.path().display());
    for top in [
        corpus::top_words(&pattern, usize::MAX, &Sequential::new()).unwrap(),
        corpus::top_words(&pattern, want.len() + 5, &Pool::new(2).unwrap()).unwrap(),
    ] {
        let got: HashMap<String, usize> = top.iter().cloned().collect();
        assert_eq!(got.len(), top.len(), "duplicate words in top_words");
        assert_eq!(got, want);
        assert!(top.windows(2).all(|w| w[0].1 >= w[1].1));
    }
    let top3 = corpus::top_words(&pattern, 3, &Sequential::new()).unwrap();
    let mut counts: Vec<usize> = want.values().copied().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(top3.iter().map(|p| p.1).collect::<Vec<_>>(), counts[..3]);
}

/// A `k` far larger than the data (a caller's "all of them") must not reserve `k` slots:
/// it aborted the process with a failed allocation of `k * size_of` bytes.
#[test]
fn topk_with_a_huge_k_returns_everything() {
    let b = blockwork::bag::Bag::from_vec(vec![3usize, 9, 3, 5], 2).unwrap();
    for k in [usize::MAX >> 8, usize::MAX - 1, usize::MAX] {
        let top = b.topk(k, |&n| n).compute(&Sequential::new()).unwrap();
        assert_eq!(top, vec![9, 5, 3, 3]);
    }
}

// ---------------------------------------------------------------- arrays

fn ctx() -> ArrayContext {
    ArrayContext::new()
}

fn f64_data(shape: &[usize], salt: usize) -> ArrayD<f64> {
    let mut i = 0usize;
    ArrayD::from_shape_simple_fn(IxDyn(shape), || {
        i += 1;
        (((i * 7919 + salt * 104_729) % 97) as f64 - 48.0) / 8.0
    })
}

fn with_dtype(c: &ArrayContext, a: &ArrayD<f64>, chunks: ChunkSpec, dt: DType) -> Array {
    match dt {
        DType::F64 => c.from_ndarray(a, chunks),
        DType::F32 => c.from_ndarray(&a.mapv(|v| v as f32), chunks),
        DType::I32 => c.from_ndarray(&a.mapv(|v| (v * 8.0) as i32), chunks),
        DType::I64 => c.from_ndarray(&a.mapv(|v| (v * 8.0) as i64), chunks),
        DType::Bool => c.from_ndarray(&a.mapv(|v| v > 0.0), chunks),
    }
    .unwrap()
}

/// The reference values of `with_dtype`, as f64.
fn ref_vals(a: &ArrayD<f64>, dt: DType) -> ArrayD<f64> {
    match dt {
        DType::F64 => a.clone(),
        DType::F32 => a.mapv(|v| v as f32 as f64),
        DType::I32 | DType::I64 => a.mapv(|v| (v * 8.0).trunc()),
        DType::Bool => a.mapv(|v| f64::from(u8::from(v > 0.0))),
    }
}

fn as_f64(x: &Array, e: &impl blockwork::Executor) -> ArrayD<f64> {
    x.astype(DType::F64).unwrap().compute::<f64>(e).unwrap()
}

fn close(got: &ArrayD<f64>, want: &ArrayD<f64>, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}");
    for (g, w) in got.iter().zip(want) {
        let ok = (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= 1e-9 * (1.0 + w.abs());
        assert!(ok, "{what}: got {g} want {w}");
    }
}

const DTYPES: [DType; 5] = [DType::F64, DType::F32, DType::I32, DType::I64, DType::Bool];

#[test]
fn transposed_reads_match_ndarray() {
    let c = ctx();
    let pool = Pool::new(2).unwrap();
    let seq = Sequential::new();
    let cases: Vec<(usize, ChunkSpec)> = vec![
        (1, ChunkSpec::from(1)),
        (7, ChunkSpec::from(3)),
        (8, ChunkSpec::from(8)),
        (9, ChunkSpec::from(vec![vec![1, 8], vec![4, 5]])),
        (17, ChunkSpec::from(vec![vec![9, 0, 8], vec![16, 1]])),
        (33, ChunkSpec::from(5)),
        (64, ChunkSpec::from(64)),
        (67, ChunkSpec::from(vec![vec![7, 60], vec![67]])),
    ];
    for (n, ch) in cases {
        for dt in DTYPES {
            let a = f64_data(&[n, n], n);
            let x = with_dtype(&c, &a, ch.clone(), dt);
            let r = ref_vals(&a, dt);
            let want = &r.t() + &r;
            let s = x.t().add(&x).unwrap();
            for e in [&pool as &dyn Exec, &seq] {
                close(&e.f64(&s), &want, &format!("x.T + x n={n} {dt:?}"));
                let s0 = x.add(x.t()).unwrap().sum(Some(0)).unwrap();
                close(
                    &e.f64(&s0),
                    &(&r + &r.t()).sum_axis(Axis(0)),
                    &format!("sum0 {n} {dt:?}"),
                );
            }
        }
    }
    // Non-square shapes: 1xN, Nx1, 7x9, 9x17 (x.T + y where y has x.T's shape).
    for (m, k, ch) in [
        (1, 50, ChunkSpec::from(7)),
        (50, 1, ChunkSpec::from(7)),
        (7, 9, ChunkSpec::from(vec![vec![3, 4], vec![2, 2, 5]])),
        (9, 17, ChunkSpec::from(vec![vec![8, 1], vec![8, 9]])),
        (130, 70, ChunkSpec::from(vec![vec![65, 65], vec![9, 61]])),
    ] {
        for dt in DTYPES {
            let a = f64_data(&[m, k], 1);
            let b = f64_data(&[k, m], 2);
            let x = with_dtype(&c, &a, ch.clone(), dt);
            let y = with_dtype(&c, &b, ChunkSpec::from(4), dt);
            let (ra, rb) = (ref_vals(&a, dt), ref_vals(&b, dt));
            let want = &ra.t() + &rb;
            for e in [&pool as &dyn Exec, &seq] {
                close(
                    &e.f64(&x.t().add(&y).unwrap()),
                    &want,
                    &format!("xT+y {m}x{k} {dt:?}"),
                );
                // Reversed and strided views, transposed.
                let v = x
                    .index(&[Idx::slice(None, None, -1), Idx::slice(None, None, 2)])
                    .unwrap();
                let rv = ra.slice(ndarray::s![..;-1, ..;2]).to_owned().into_dyn();
                let want = &rv.t() * 2.0;
                close(
                    &e.f64(&v.t().add(v.t()).unwrap()),
                    &want,
                    &format!("rev T {m}x{k} {dt:?}"),
                );
                let got = e.f64(
                    &v.t()
                        .add(v.t().mul(v.t()).unwrap())
                        .unwrap()
                        .sum(Some(1))
                        .unwrap(),
                );
                let want = (&rv.t() + &(&rv.t() * &rv.t())).sum_axis(Axis(1));
                close(&got, &want, &format!("rev T sum {m}x{k} {dt:?}"));
            }
        }
    }
}

trait Exec {
    fn f64(&self, x: &Array) -> ArrayD<f64>;
}
impl Exec for Pool {
    fn f64(&self, x: &Array) -> ArrayD<f64> {
        as_f64(x, self)
    }
}
impl Exec for Sequential {
    fn f64(&self, x: &Array) -> ArrayD<f64> {
        as_f64(x, self)
    }
}

#[test]
fn strided_slices_with_prefetch_match_ndarray() {
    let c = ctx();
    let pool = Pool::new(2).unwrap();
    let seq = Sequential::new();
    for (shape, ch) in [
        (vec![41, 57], ChunkSpec::from(vec![vec![20, 21], vec![57]])),
        (vec![300, 300], ChunkSpec::from(128)),
        (vec![3, 25], ChunkSpec::from(2)),
    ] {
        for dt in DTYPES {
            let a = f64_data(&shape, 4);
            let x = with_dtype(&c, &a, ch.clone(), dt);
            let r = ref_vals(&a, dt);
            let v1 = x
                .index(&[
                    Idx::slice(None, None, 2),
                    Idx::slice(Some(10), Some(-10), 1),
                ])
                .unwrap();
            let r1 = r
                .slice(ndarray::s![..;2, 10..shape[1] as isize - 10])
                .to_owned()
                .into_dyn();
            let v2 = x
                .index(&[Idx::slice(None, None, -3), Idx::slice(None, None, 2)])
                .unwrap();
            let r2 = r.slice(ndarray::s![..;-3, ..;2]).to_owned().into_dyn();
            for e in [&pool as &dyn Exec, &seq] {
                if !r1.is_empty() {
                    let m = e.f64(&v1.astype(DType::F64).unwrap().mean(None).unwrap());
                    close(
                        &m,
                        &ArrayD::from_elem(IxDyn(&[]), r1.mean().unwrap()),
                        &format!("mean {shape:?} {dt:?}"),
                    );
                }
                let s = e.f64(&v2.astype(DType::F64).unwrap().sum(None).unwrap());
                close(
                    &s,
                    &ArrayD::from_elem(IxDyn(&[]), r2.sum()),
                    &format!("sum {shape:?} {dt:?}"),
                );
                close(
                    &e.f64(&v2.add(&v2).unwrap()),
                    &(&r2 + &r2),
                    &format!("v2+v2 {shape:?} {dt:?}"),
                );
            }
        }
    }
}

#[test]
fn streamed_blocks_at_and_around_4_mib_read_back() {
    let c = ctx();
    let pool = Pool::new(2).unwrap();
    // f32/i32: 1 Mi elements is exactly 4 MiB; one less, one more, and odd lengths.
    for n in [
        (1 << 20) - 1,
        1 << 20,
        (1 << 20) + 1,
        (1 << 20) + 7,
        1_050_001,
    ] {
        for dt in [DType::F32, DType::I32] {
            let a = ArrayD::from_shape_fn(IxDyn(&[n]), |i| (i[0] % 1000) as f64 - 500.0);
            let x = with_dtype(&c, &a, ChunkSpec::from(n), dt);
            let r = ref_vals(&a, dt);
            let y = x.add(&x).unwrap().add(&x).unwrap();
            let got = pool.f64(&y);
            close(&got, &(&r * 3.0), &format!("3x n={n} {dt:?}"));
            // Read back immediately by another op in the same graph.
            let s = y.astype(DType::F64).unwrap().sum(None).unwrap();
            close(
                &pool.f64(&s),
                &ArrayD::from_elem(IxDyn(&[]), r.sum() * 3.0),
                &format!("sum n={n}"),
            );
        }
    }
    // bool: 4 MiB of bool is 4 Mi elements; a comparison writes bools.
    for n in [(4 << 20) - 1, 4 << 20, (4 << 20) + 3] {
        let a = ArrayD::from_shape_fn(IxDyn(&[n]), |i| (i[0] % 7) as f64 - 3.0);
        let x = c.from_ndarray(&a, n).unwrap();
        let b = x.gt(x.mul(&x).unwrap().sub(&x).unwrap()).unwrap();
        assert_eq!(b.dtype(), DType::Bool);
        let want = a.mapv(|v| f64::from(u8::from(v > v * v - v)));
        close(&pool.f64(&b), &want, &format!("bool n={n}"));
        let cnt = b.astype(DType::I64).unwrap().sum(None).unwrap();
        close(
            &pool.f64(&cnt),
            &ArrayD::from_elem(IxDyn(&[]), want.sum()),
            "bool count",
        );
    }
    // 2-d f32 block 1024x1024 (4 MiB) transposed plus itself, then reduced.
    let a = f64_data(&[1024, 1024], 7);
    let x = with_dtype(&c, &a, ChunkSpec::from(1024), DType::F32);
    let r = ref_vals(&a, DType::F32);
    let y = x.t().add(&x).unwrap();
    let s = y.sum(Some(0)).unwrap();
    close(
        &pool.f64(&s),
        &(&r.t() + &r).sum_axis(Axis(0)),
        "T+x f32 4MiB",
    );
}

fn naive_mm(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
    let (m, k) = a.dim();
    let n = b.dim().1;
    let mut c = Array2::<f64>::zeros((m, n));
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0;
            for p in 0..k {
                s += a[[i, p]] * b[[p, j]];
            }
            c[[i, j]] = s;
        }
    }
    c
}

fn two(a: &ArrayD<f64>) -> Array2<f64> {
    a.clone().into_dimensionality().unwrap()
}

#[test]
fn gemm_on_views_and_edge_shapes_matches_naive_loops() {
    let c = ctx();
    let pool = Pool::new(2).unwrap();
    let seq = Sequential::new();
    for (m, k, n, cha, chb) in [
        (1, 9, 1, ChunkSpec::from(4), ChunkSpec::from(3)),
        (
            7,
            9,
            5,
            ChunkSpec::from(vec![vec![7], vec![1, 8]]),
            ChunkSpec::from(vec![vec![4, 5], vec![5]]),
        ),
        (
            16,
            33,
            10,
            ChunkSpec::from(vec![vec![16], vec![0, 33]]),
            ChunkSpec::from(vec![vec![11, 11, 11], vec![3, 7]]),
        ),
        (0, 5, 3, ChunkSpec::from(2), ChunkSpec::from(2)),
        (4, 0, 3, ChunkSpec::from(2), ChunkSpec::from(2)),
        (4, 6, 0, ChunkSpec::from(2), ChunkSpec::from(2)),
        (
            40,
            70,
            30,
            ChunkSpec::from(vec![vec![13, 27], vec![70]]),
            ChunkSpec::from(vec![vec![64, 6], vec![30]]),
        ),
    ] {
        for dt in [DType::F64, DType::F32, DType::I32, DType::I64] {
            let a = f64_data(&[m, k], 1);
            let b = f64_data(&[k, n], 2);
            let x = with_dtype(&c, &a, cha.clone(), dt);
            let y = with_dtype(&c, &b, chb.clone(), dt);
            let (ra, rb) = (two(&ref_vals(&a, dt)), two(&ref_vals(&b, dt)));
            for e in [&pool as &dyn Exec, &seq] {
                let what = format!("{m}x{k}@{k}x{n} {dt:?}");
                close(
                    &e.f64(&x.matmul(&y).unwrap()),
                    &naive_mm(&ra, &rb).into_dyn(),
                    &what,
                );
                // x.T @ x.T-shaped: (k x m).T = m x k ... use xt from a transposed copy.
                let xt = with_dtype(&c, &a.t().to_owned(), ChunkSpec::from(3), dt);
                close(
                    &e.f64(&xt.t().matmul(&y).unwrap()),
                    &naive_mm(&ra, &rb).into_dyn(),
                    &format!("T {what}"),
                );
                // Strided and reversed operands.
                let xs = x.index(&[Idx::slice(None, None, 2)]).unwrap();
                let ras = ra.slice(ndarray::s![..;2, ..]).to_owned();
                close(
                    &e.f64(&xs.matmul(&y).unwrap()),
                    &naive_mm(&ras, &rb).into_dyn(),
                    &format!("x[::2] {what}"),
                );
                let yr = y
                    .index(&[Idx::slice(None, None, -1), Idx::slice(None, None, -1)])
                    .unwrap();
                let rbr = rb.slice(ndarray::s![..;-1, ..;-1]).to_owned();
                close(
                    &e.f64(&x.matmul(&yr).unwrap()),
                    &naive_mm(&ra, &rbr).into_dyn(),
                    &format!("y[::-1,::-1] {what}"),
                );
                // tensordot over axis 0 of both (x.T @ z).
                let z = with_dtype(&c, &f64_data(&[m, n], 3), ChunkSpec::from(5), dt);
                let rz = two(&ref_vals(&f64_data(&[m, n], 3), dt));
                let td = x.tensordot(&z, &[0], &[0]).unwrap();
                close(
                    &e.f64(&td),
                    &naive_mm(&ra.t().to_owned(), &rz).into_dyn(),
                    &format!("tensordot0 {what}"),
                );
            }
        }
    }
}

#[test]
fn gemm_propagates_nan_and_inf() {
    let c = ctx();
    let pool = Pool::new(2).unwrap();
    let mut a = f64_data(&[9, 12], 1);
    a[[2, 3]] = f64::NAN;
    a[[5, 0]] = f64::INFINITY;
    a[[6, 0]] = f64::INFINITY;
    let mut b = f64_data(&[12, 7], 2);
    b[[0, 1]] = 0.0; // inf * 0 = NaN
    b[[11, 6]] = f64::NEG_INFINITY;
    for dt in [DType::F64, DType::F32] {
        let x = with_dtype(&c, &a, ChunkSpec::from(vec![vec![4, 5], vec![5, 7]]), dt);
        let y = with_dtype(&c, &b, ChunkSpec::from(vec![vec![5, 7], vec![7]]), dt);
        let want = naive_mm(&two(&ref_vals(&a, dt)), &two(&ref_vals(&b, dt)));
        let got = pool.f64(&x.matmul(&y).unwrap());
        for (g, w) in got.iter().zip(want.iter()) {
            if dt == DType::F32 && w.is_finite() {
                assert!((g - w).abs() <= 1e-3 * (1.0 + w.abs()), "{dt:?} {g} {w}");
            } else {
                assert!(
                    (g.is_nan() && w.is_nan()) || g == w,
                    "{dt:?} got {g} want {w}"
                );
            }
        }
    }
}

/// Bad input fails `line_blocks` with the same typed error as `lines`, partition by
/// partition: invalid UTF-8 (in the first, middle and last line, and at a 1 MiB read
/// boundary) and lines past `max_line_bytes`.
#[test]
fn line_blocks_fail_like_lines() {
    let dir = tempfile::tempdir().unwrap();
    let mut cases: Vec<(Vec<u8>, usize)> = vec![
        (b"\xffabc\nok\n".to_vec(), 1 << 20),
        (b"ok\nab\xc3\nok".to_vec(), 1 << 20),
        (b"ok\nok\n\xe3\x80".to_vec(), 1 << 20),
        (b"short\nthis line is long\nshort\n".to_vec(), 10),
        (b"short\nshort\nthis line is long".to_vec(), 10),
        (b"0123456789\r\n".to_vec(), 10),
        (b"0123456789\n".to_vec(), 10),
    ];
    let mut big = vec![b'a'; 3 << 20];
    for i in (0..big.len()).step_by(100) {
        big[i] = b'\n';
    }
    big[(1 << 20) - 1] = 0xc3; // a lead byte whose continuation is in the next read
    big[1 << 20] = 0xa9;
    cases.push((big.clone(), 1 << 20)); // valid: é split across reads
    big[1 << 20] = b'x';
    cases.push((big, 1 << 20)); // invalid
    let pool = Pool::new(2).unwrap();
    for (i, (bytes, max_line)) in cases.iter().enumerate() {
        let p = write(dir.path(), &format!("bad{i}.txt"), bytes);
        for bs in [None, Some(7), Some(1 << 20)] {
            let mut tf = TextFiles::paths([p.clone()]).max_line_bytes(*max_line);
            if let Some(b) = bs {
                tf = tf.blocksize(b);
            }
            if bs == Some(7) && bytes.len() > 1000 {
                continue;
            }
            let l = tf.lines().unwrap().compute_partitions(&pool);
            let b = tf.line_blocks().unwrap().compute_partitions(&pool);
            match (&l, &b) {
                (Ok(l), Ok(b)) => {
                    for (l, b) in l.iter().zip(b) {
                        assert_eq!(*l, split_lines(&b.concat()), "case {i} {bs:?}");
                    }
                }
                (Err(x), Err(y)) => assert_eq!(x.kind(), y.kind(), "case {i} {bs:?}: {x} / {y}"),
                _ => panic!(
                    "case {i} {bs:?}: lines ok {} blocks ok {}",
                    l.is_ok(),
                    b.is_ok()
                ),
            }
        }
    }
}
