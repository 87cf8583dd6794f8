//! Per-block work must not grow with the number of blocks: each operation below, on 10x
//! the blocks, must cost well under 30x (a step linear in the block count, done per block,
//! makes it about 100x). Each bound compares two sizes measured in one process, never an
//! absolute time; each operation is timed on its own so that no cheap step hides behind
//! the cost of another.

mod common;

use blockwork::Sequential;
use blockwork::array::{Array, ArrayContext, BlockData, Boundary, DType, Idx};
use common::ctx;
use std::time::{Duration, Instant};

type Step = fn(&ArrayContext, usize);

fn data(n: usize) -> ndarray::ArrayD<f64> {
    ndarray::Array1::from_shape_fn(n, |i| ((i * 7919) % n) as f64).into_dyn()
}

/// The operations whose per-block steps were once proportional to the number of blocks,
/// each checked against a naive loop.
const STEPS: &[(&str, Step)] = &[
    ("zeros compute", |c, n| {
        let z = c.zeros(&[n], 1, DType::F64).unwrap();
        assert_eq!(z.compute::<f64>(&Sequential::new()).unwrap().len(), n);
    }),
    ("from_ndarray", |c, n| {
        let x = c.from_ndarray(&data(n), 1).unwrap();
        assert_eq!(x.chunks().nblocks(), n);
    }),
    ("argmax", |c, n| {
        let a = data(n);
        let x = c.from_ndarray(&a, 1).unwrap();
        let want = (0..n).fold(0, |b, i| if a[[i]] > a[[b]] { i } else { b });
        let got = x
            .argmax(None)
            .unwrap()
            .compute::<i64>(&Sequential::new())
            .unwrap();
        assert_eq!(got[[]] as usize, want);
    }),
    ("rechunk graph", |c, n| {
        let x = c.zeros(&[n], 1, DType::F64).unwrap().materialize();
        assert_eq!(x.rechunk(3).unwrap().chunks().nblocks(), n.div_ceil(3));
        let y = x.rechunk(vec![vec![2; n / 2]]).unwrap().add(1.0).unwrap();
        assert!(y.graph().unwrap().len() >= n);
    }),
    ("map_overlap graph", |c, n| {
        let x = c.zeros(&[n], 1, DType::F64).unwrap();
        let id = |b: &BlockData, _: &[usize]| Ok(b.clone());
        let h = x.map_overlap("id", &[1], Boundary::Reflect, id).unwrap();
        assert_eq!(h.graph().unwrap().len(), 2 * n);
    }),
    ("slice and concatenate graph", |c, n| {
        let x = c.zeros(&[n], 1, DType::F64).unwrap().materialize();
        let sl = x.index(&[Idx::slice(None, None, 2)]).unwrap();
        let j = Array::concatenate(&[sl.clone(), sl], 0).unwrap();
        assert_eq!(j.shape(), &[2 * n.div_ceil(2)]);
        assert!(j.graph().unwrap().len() >= n);
    }),
];

fn best_of(k: usize, step: Step, n: usize) -> Duration {
    (0..k)
        .map(|_| {
            // A fresh context each time: no run starts with buffers another left pooled.
            let c = ctx();
            let t = Instant::now();
            step(&c, n);
            t.elapsed()
        })
        .min()
        .expect("k > 0")
}

#[test]
fn ten_times_the_blocks_costs_less_than_thirty_times() {
    for &(name, step) in STEPS {
        step(&ctx(), 1_000); // warm-up: allocator, page faults
        let small = best_of(3, step, 10_000);
        let large = best_of(2, step, 100_000);
        let ratio = large.as_secs_f64() / small.as_secs_f64();
        eprintln!("{name}: 1e4 blocks {small:?}, 1e5 blocks {large:?}, ratio {ratio:.1}");
        assert!(
            ratio < 30.0,
            "{name}: 1e4 blocks {small:?}, 1e5 blocks {large:?}"
        );
    }
}
