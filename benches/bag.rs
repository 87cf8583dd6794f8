//! Bag benchmarks: the word count of perf/BENCHMARKS.md §3 on a small corpus, the generic
//! (one `String` per word) word count, and reductions and a shuffle over integers.
//!
//! `cargo bench --bench bag`; the 200 MB figure comes from `examples/wordcount.rs`.

use blockwork::Pool;
use blockwork::bag::{Bag, Counter, TextFiles, corpus};
use criterion::{Criterion, Throughput, criterion_main};
use mimalloc::MiMalloc;
use std::hint::black_box;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// Bytes of the benchmark corpus (16 files, as in the full-size benchmark).
const CORPUS_BYTES: u64 = 16_000_000;

fn word_count(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = corpus::generate(dir.path(), CORPUS_BYTES, 16, corpus::SEED).expect("corpus");
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .sum();
    let pool = Pool::new(2).expect("pool");
    let lines = TextFiles::paths(files).lines().expect("lines");
    let mut g = c.benchmark_group("bag_wordcount");
    g.throughput(Throughput::Bytes(bytes));
    g.sample_size(10);
    let counted = lines
        .frequencies_by(|l: &String, w: &mut Counter<str>| {
            l.split_ascii_whitespace().for_each(|x| w.add(x))
        })
        .topk(10, |&(_, n)| n);
    g.bench_function("borrowed_words_top10", |b| {
        b.iter(|| black_box(counted.compute(&pool).expect("run")))
    });
    let generic = lines
        .flat_map(|l| {
            l.split_ascii_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .frequencies()
        .topk(10, |&(_, n)| n);
    g.bench_function("string_per_word_top10", |b| {
        b.iter(|| black_box(generic.compute(&pool).expect("run")))
    });
    g.finish();
}

fn integers(c: &mut Criterion) {
    let pool = Pool::new(2).expect("pool");
    let n = 2_000_000i64;
    let b = Bag::from_vec((0..n).collect(), 32).expect("bag");
    let mut g = c.benchmark_group("bag_integers");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(10);
    let mean = b.map(|x| x * 3).filter(|x| x % 7 != 0).mean();
    g.bench_function("map_filter_mean", |bn| {
        bn.iter(|| black_box(mean.compute(&pool).expect("run")))
    });
    let groups = b.groupby(|x| x % 1000).map(|(k, xs)| (k, xs.len())).count();
    g.bench_function("groupby_1000_keys", |bn| {
        bn.iter(|| black_box(groups.compute(&pool).expect("run")))
    });
    g.finish();
}

mod group {
    criterion::criterion_group!(benches, super::word_count, super::integers);
}
criterion_main!(group::benches);
