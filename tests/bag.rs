//! Bag methods against plain std computations, on several partitionings (empty partitions
//! included) and on both executors.

use blockwork::bag::{At, Bag};
use blockwork::{ErrorKind, Executor, Pool, Sequential};
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

fn pool() -> Pool {
    Pool::builder().threads(2).pin(false).build().unwrap()
}

/// The same items split several ways: one partition, three, one per item, and with empty
/// partitions at the start, in the middle and at the end.
fn partitionings<T: Clone>(v: &[T]) -> Vec<Vec<Vec<T>>> {
    let half = v.len() / 2;
    let mut out = vec![
        vec![v.to_vec()],
        v.chunks(v.len().div_ceil(3).max(1))
            .map(<[T]>::to_vec)
            .collect(),
        vec![
            vec![],
            v[..half].to_vec(),
            vec![],
            vec![],
            v[half..].to_vec(),
            vec![],
        ],
    ];
    if v.len() <= 64 {
        out.push(v.iter().map(|x| vec![x.clone()]).collect());
    }
    out
}

fn data() -> Vec<i64> {
    (0..97i64).map(|i| (i * 7919 + 13) % 101 - 50).collect()
}

/// Runs `check` on every partitioning of `v`, with both executors and two fan-ins.
fn each_bag<T: Clone + Send + Sync + 'static>(v: &[T], check: impl Fn(&Bag<T>, &dyn Executor)) {
    let (seq, pool) = (Sequential::new(), pool());
    for parts in partitionings(v) {
        for split in [2, 8] {
            let b = Bag::from_partitions(parts.clone()).with_split_every(split);
            check(&b, &seq);
            check(&b, &pool);
        }
    }
}

#[test]
fn elementwise_steps_match_iterators() {
    let v = data();
    each_bag(&v, |b, ex| {
        assert_eq!(b.compute(ex).unwrap(), v);
        let m = b.map(|x| x * 3 + 1).filter(|x| x % 2 == 0);
        let want: Vec<i64> = v.iter().map(|x| x * 3 + 1).filter(|x| x % 2 == 0).collect();
        assert_eq!(m.compute(ex).unwrap(), want);
        let fm = b.flat_map(|x| (0..x.rem_euclid(4)).map(move |k| x + k));
        let want: Vec<i64> = v
            .iter()
            .flat_map(|&x| (0..x.rem_euclid(4)).map(move |k| x + k))
            .collect();
        assert_eq!(fm.compute(ex).unwrap(), want);
        let nested = b.map(|x| vec![x; x.rem_euclid(3) as usize]).flatten();
        let want: Vec<i64> = v
            .iter()
            .flat_map(|&x| vec![x; x.rem_euclid(3) as usize])
            .collect();
        assert_eq!(nested.compute(ex).unwrap(), want);
    });
}

#[test]
fn map_partitions_sees_whole_partitions() {
    let v = data();
    each_bag(&v, |b, ex| {
        let sizes = b.map_partitions(|p| vec![p.len()]).compute(ex).unwrap();
        let parts = b.compute_partitions(ex).unwrap();
        assert_eq!(sizes, parts.iter().map(Vec::len).collect::<Vec<_>>());
        let rev = b.map_partitions(|mut p| {
            p.reverse();
            p
        });
        let want: Vec<i64> = parts.iter().flat_map(|p| p.iter().rev().copied()).collect();
        assert_eq!(rev.compute(ex).unwrap(), want);
    });
}

#[test]
fn scalar_reductions_match_std() {
    let v = data();
    let n = v.len() as f64;
    let mean = v.iter().sum::<i64>() as f64 / n;
    let var0 = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    let var1 = var0 * n / (n - 1.0);
    each_bag(&v, |b, ex| {
        assert_eq!(b.count().compute(ex).unwrap(), v.len());
        assert_eq!(b.sum().compute(ex).unwrap(), v.iter().sum::<i64>());
        assert_eq!(b.min().compute(ex).unwrap(), *v.iter().min().unwrap());
        assert_eq!(b.max().compute(ex).unwrap(), *v.iter().max().unwrap());
        assert!((b.mean().compute(ex).unwrap() - mean).abs() < 1e-12);
        assert!((b.var(0).compute(ex).unwrap() - var0).abs() < 1e-9);
        assert!((b.var(1).compute(ex).unwrap() - var1).abs() < 1e-9);
        assert!((b.std(1).compute(ex).unwrap() - var1.sqrt()).abs() < 1e-9);
        assert_eq!(
            b.map(|x| x > 40).any().compute(ex).unwrap(),
            v.iter().any(|&x| x > 40)
        );
        assert_eq!(
            b.map(|x| x > 60).any().compute(ex).unwrap(),
            v.iter().any(|&x| x > 60)
        );
        assert_eq!(
            b.map(|x| x > -51).all().compute(ex).unwrap(),
            v.iter().all(|&x| x > -51)
        );
        assert_eq!(
            b.map(|x| x > 0).all().compute(ex).unwrap(),
            v.iter().all(|&x| x > 0)
        );
        assert_eq!(
            b.reduce(|a, x| a.max(x)).compute(ex).unwrap(),
            *v.iter().max().unwrap()
        );
    });
}

#[test]
fn fold_and_reduction_match_std() {
    let v = data();
    each_bag(&v, |b, ex| {
        let f = b.fold(0i64, |acc, x| acc + x * x, |a, c| a + c);
        assert_eq!(f.compute(ex).unwrap(), v.iter().map(|x| x * x).sum::<i64>());
        let longest = b.reduction(|p| p.len(), |ls| ls.into_iter().max().unwrap_or(0));
        let parts = b.compute_partitions(ex).unwrap();
        assert_eq!(
            longest.compute(ex).unwrap(),
            parts.iter().map(Vec::len).max().unwrap_or(0)
        );
        // An accumulator of another type: (count, sum).
        let cs = b.fold(
            (0usize, 0i64),
            |(n, s), x| (n + 1, s + x),
            |a, c| (a.0 + c.0, a.1 + c.1),
        );
        assert_eq!(cs.compute(ex).unwrap(), (v.len(), v.iter().sum()));
    });
}

#[test]
fn empty_bags_and_partitions() {
    let seq = Sequential::new();
    for parts in [vec![], vec![vec![]], vec![vec![], vec![], vec![]]] {
        let b: Bag<i64> = Bag::from_partitions(parts);
        assert_eq!(b.compute(&seq).unwrap(), Vec::<i64>::new());
        assert_eq!(b.count().compute(&seq).unwrap(), 0);
        assert_eq!(b.sum().compute(&seq).unwrap(), 0);
        assert_eq!(
            b.fold(0, |a, x| a + x, |a, c| a + c).compute(&seq).unwrap(),
            0
        );
        // The initial value starts every partition (and is the result with none).
        let want = 5 * b.npartitions().max(1) as i64;
        assert_eq!(
            b.fold(5, |a, x| a + x, |a, c| a + c).compute(&seq).unwrap(),
            want
        );
        for e in [b.mean(), b.var(0), b.std(0)] {
            assert_eq!(e.compute(&seq).unwrap_err().kind(), ErrorKind::Empty);
        }
        assert_eq!(b.min().compute(&seq).unwrap_err().kind(), ErrorKind::Empty);
        assert_eq!(b.max().compute(&seq).unwrap_err().kind(), ErrorKind::Empty);
        assert_eq!(
            b.reduce(|a, x| a + x).compute(&seq).unwrap_err().kind(),
            ErrorKind::Empty
        );
        assert!(!b.map(|_| true).any().compute(&seq).unwrap());
        assert!(b.map(|_| false).all().compute(&seq).unwrap());
        assert!(b.frequencies().compute(&seq).unwrap().is_empty());
        assert!(b.topk(3, |x| *x).compute(&seq).unwrap().is_empty());
        assert!(b.distinct().compute(&seq).unwrap().is_empty());
        assert!(b.groupby(|x| x % 2).compute(&seq).unwrap().is_empty());
        assert_eq!(b.take(4, &seq).unwrap(), Vec::<i64>::new());
        let r = b.repartition(3).unwrap();
        assert_eq!((r.npartitions(), r.count().compute(&seq).unwrap()), (3, 0));
    }
    // An initial value of 0 is used, not skipped: the max of negatives folded from 0 is 0.
    let neg = Bag::from_vec(vec![-5i64, -2, -9], 2).unwrap();
    assert_eq!(
        neg.fold(0, |a, x| a.max(x), |a, c| a.max(c))
            .compute(&seq)
            .unwrap(),
        0
    );
    assert_eq!(
        neg.fold(i64::MIN, |a, x| a.max(x), |a, c| a.max(c))
            .compute(&seq)
            .unwrap(),
        -2
    );
    // A single element has no sample variance.
    let one = Bag::from_vec(vec![3.0f64], 2).unwrap();
    assert_eq!(
        one.var(1).compute(&seq).unwrap_err().kind(),
        ErrorKind::Empty
    );
    assert_eq!(one.var(0).compute(&seq).unwrap(), 0.0);
    assert_eq!(
        Bag::from_vec(vec![1], 0).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn frequencies_topk_distinct_match_std() {
    let v: Vec<i64> = data().iter().map(|x| x % 7).collect();
    let mut counts: HashMap<i64, usize> = HashMap::new();
    for &x in &v {
        *counts.entry(x).or_default() += 1;
    }
    let mut first_seen = Vec::new();
    let mut seen = HashSet::new();
    for &x in &v {
        if seen.insert(x) {
            first_seen.push(x);
        }
    }
    // Stable sort by key, descending: ties keep the earlier element first.
    let mut by_key: Vec<(usize, i64)> = v.iter().copied().enumerate().collect();
    by_key.sort_by(|a, b| (b.1 * b.1).cmp(&(a.1 * a.1)).then(a.0.cmp(&b.0)));
    each_bag(&v, |b, ex| {
        let got: HashMap<i64, usize> = b.frequencies().compute(ex).unwrap().into_iter().collect();
        assert_eq!(got, counts);
        assert_eq!(b.distinct().compute(ex).unwrap(), first_seen);
        for k in [0, 1, 5, 200] {
            let want: Vec<i64> = by_key.iter().take(k).map(|&(_, x)| x).collect();
            assert_eq!(b.topk(k, |x| x * x).compute(ex).unwrap(), want, "k={k}");
        }
    });
}

#[test]
fn groupby_is_hash_partitioned_and_complete() {
    let v = data();
    let mut want: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for &x in &v {
        want.entry(x.rem_euclid(10)).or_default().push(x);
    }
    each_bag(&v, |b, ex| {
        for n in [1, 3, 7] {
            let g = b.groupby_into(|x| x.rem_euclid(10), n).unwrap();
            assert_eq!(g.npartitions(), n);
            let parts = g.compute_partitions(ex).unwrap();
            let mut got = BTreeMap::new();
            for (k, xs) in parts.iter().flatten() {
                assert!(
                    got.insert(*k, xs.clone()).is_none(),
                    "group {k} split across partitions"
                );
            }
            assert_eq!(got, want);
            if n == 7 {
                assert!(
                    parts.iter().filter(|p| !p.is_empty()).count() > 1,
                    "all groups in one partition"
                );
            }
        }
        assert_eq!(b.groupby(|x| x % 3).npartitions(), b.npartitions().max(1));
    });
    assert_eq!(
        Bag::from_vec(v, 2)
            .unwrap()
            .groupby_into(|x| *x, 0)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn foldby_matches_std() {
    let v = data();
    let mut want: Vec<(i64, (usize, i64))> = Vec::new();
    for &x in &v {
        let k = x.rem_euclid(6);
        match want.iter_mut().find(|(g, _)| *g == k) {
            Some((_, (n, s))) => {
                *n += 1;
                *s += x;
            }
            None => want.push((k, (1, x))),
        }
    }
    each_bag(&v, |b, ex| {
        let got = b.foldby(
            |x| x.rem_euclid(6),
            |(n, s), x| (n + 1, s + x),
            (0usize, 0i64),
            |a, c| (a.0 + c.0, a.1 + c.1),
            (0, 0),
        );
        assert_eq!(got.compute(ex).unwrap(), want);
    });
}

#[test]
fn product_and_join_match_nested_loops() {
    let v = data();
    let small: Vec<(i64, &'static str)> = vec![
        (0, "zero"),
        (1, "one"),
        (1, "uno"),
        (4, "four"),
        (9, "none"),
    ];
    let mut want_join = Vec::new();
    for &x in &v {
        for s in &small {
            if x.rem_euclid(5) == s.0 {
                want_join.push((x, *s));
            }
        }
    }
    let right_parts = vec![
        vec![small[0], small[1]],
        vec![],
        vec![small[2], small[3], small[4]],
    ];
    each_bag(&v, |b, ex| {
        let right = Bag::from_partitions(right_parts.clone());
        let j = b.join(&right, |x| x.rem_euclid(5), |s| s.0);
        assert_eq!(j.compute(ex).unwrap(), want_join);
        let ji = b.join_iter(small.clone(), |x| x.rem_euclid(5), |s| s.0);
        assert_eq!(ji.compute(ex).unwrap(), want_join);
        let few = b.filter(|x| x % 10 == 0);
        let p = few.product(&right).unwrap();
        assert_eq!(p.npartitions(), b.npartitions() * 3);
        let xs = few.compute(ex).unwrap();
        let mut want: Vec<(i64, (i64, &str))> = xs
            .iter()
            .flat_map(|&x| small.iter().map(move |&s| (x, s)))
            .collect();
        let mut got = p.compute(ex).unwrap();
        got.sort();
        want.sort();
        assert_eq!(got, want);
    });
}

#[test]
fn pluck_tuples_maps_lists_json() {
    let seq = Sequential::new();
    let t = Bag::from_vec(vec![(1i64, "a", 2.5f64), (2, "b", 3.5)], 2).unwrap();
    assert_eq!(t.pluck(At::<0>).compute(&seq).unwrap(), vec![1, 2]);
    assert_eq!(t.pluck(At::<2>).compute(&seq).unwrap(), vec![2.5, 3.5]);
    let maps: Vec<HashMap<String, i64>> = (0..5)
        .map(|i| HashMap::from([("x".to_string(), i), ("y".to_string(), -i)]))
        .collect();
    let m = Bag::from_vec(maps, 3).unwrap();
    assert_eq!(
        m.pluck("y".to_string()).compute(&seq).unwrap(),
        vec![0, -1, -2, -3, -4]
    );
    let err = m.pluck("z".to_string()).compute(&seq).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TaskFailed);
    assert!(err.to_string().contains("\"z\""), "{err}");
    let lists = Bag::from_vec(vec![vec![1, 2, 3], vec![4, 5, 6]], 2).unwrap();
    assert_eq!(lists.pluck(1usize).compute(&seq).unwrap(), vec![2, 5]);
    assert!(lists.pluck(3usize).compute(&seq).is_err());
    let docs: Vec<serde_json::Value> = (0..4)
        .map(|i| serde_json::json!({"id": i, "tags": ["t", i * 10]}))
        .collect();
    let j = Bag::from_vec(docs, 2).unwrap();
    let ids = j.pluck("id").compute(&seq).unwrap();
    assert_eq!(
        ids,
        (0..4).map(|i| serde_json::json!(i)).collect::<Vec<_>>()
    );
    let second = j.pluck("tags").pluck(1usize).compute(&seq).unwrap();
    assert_eq!(
        second,
        (0..4)
            .map(|i| serde_json::json!(i * 10))
            .collect::<Vec<_>>()
    );
    assert!(j.pluck("nope").compute(&seq).is_err());
}

#[test]
fn take_reads_only_what_it_needs() {
    let seq = Sequential::new();
    let parts: Vec<Vec<i64>> = vec![
        vec![],
        (0..10).collect(),
        vec![],
        (10..20).collect(),
        (20..30).collect(),
    ];
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let b = Bag::from_partitions(parts).map(move |x| {
        c.fetch_add(1, Ordering::Relaxed);
        x
    });
    assert_eq!(b.take(3, &seq).unwrap(), vec![0, 1, 2]);
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    calls.store(0, Ordering::Relaxed);
    assert_eq!(b.take(14, &pool()).unwrap(), (0..14).collect::<Vec<_>>());
    assert_eq!(calls.load(Ordering::Relaxed), 14);
    assert_eq!(b.take(0, &seq).unwrap(), Vec::<i64>::new());
    assert_eq!(b.take(100, &seq).unwrap(), (0..30).collect::<Vec<_>>());
}

#[test]
fn repartition_keeps_order_and_content() {
    let v = data();
    each_bag(&v, |b, ex| {
        for n in [1, 2, 5, 13, 40] {
            let r = b.repartition(n).unwrap();
            assert_eq!(r.npartitions(), n);
            assert_eq!(r.compute(ex).unwrap(), v, "n={n}");
            assert_eq!(r.count().compute(ex).unwrap(), v.len());
        }
    });
    let b = Bag::from_vec(v.clone(), 4).unwrap();
    assert_eq!(
        b.repartition(0).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    // Splitting balances: 4 partitions of 24-25 into 8 gives pieces of 12-13.
    let sizes: Vec<usize> = b
        .repartition(8)
        .unwrap()
        .compute_partitions(&Sequential::new())
        .unwrap()
        .iter()
        .map(Vec::len)
        .collect();
    assert!(sizes.iter().all(|&s| (12..=13).contains(&s)), "{sizes:?}");
}

#[test]
fn names_are_deterministic_tokens() {
    let b = Bag::from_vec(data(), 3).unwrap();
    fn double(x: i64) -> i64 {
        x * 2
    }
    assert_eq!(b.map(double).name(), b.map(double).name());
    assert_ne!(b.map(double).name(), b.map(|x| x + 1).name());
    assert_ne!(
        b.map(double).name(),
        b.filter(|x| *x > 0).map(double).name()
    );
    // Closures that capture state cannot be hashed: each use gets its own name.
    let k = 3;
    let (m1, m2) = (b.map(move |x| x + k), b.map(move |x| x + k));
    assert_ne!(m1.name(), m2.name());
    assert_eq!(b.name(), b.clone().name());
    assert_eq!(
        b.map(double).keys()[1].to_string(),
        format!("('{}', 1)", b.map(double).name())
    );
}

#[test]
fn fusion_makes_one_task_per_partition() {
    let b = Bag::from_vec(data(), 4).unwrap();
    let chained = b
        .map(|x| x + 1)
        .filter(|x| x % 3 != 0)
        .flat_map(|x| [x, -x])
        .map(|x| x * 2);
    let g = chained.graph();
    // Four literals and four fused tasks: no task per step.
    assert_eq!(g.len(), 8);
    let s = b.map(|x| x + 1).filter(|x| x % 3 != 0).sum();
    // Four literals, four fused leaves, one combine.
    assert_eq!(s.graph().len(), 9);
}

#[test]
fn partitions_spread_over_the_pool() {
    // Sixteen slow partitions (each sleeps, so the test does not depend on free cores) are
    // few enough roots to be one range: the pool must still hand some to its second worker.
    let threads = Arc::new(std::sync::Mutex::new(HashSet::new()));
    let seen = threads.clone();
    let b = Bag::from_vec((0..16i64).collect(), 16)
        .unwrap()
        .map(move |x| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            seen.lock().unwrap().insert(std::thread::current().id());
            x
        });
    assert_eq!(b.sum().compute(&pool()).unwrap(), 120);
    assert_eq!(threads.lock().unwrap().len(), 2);
}

#[test]
fn persist_and_task_errors() {
    let seq = Sequential::new();
    let p = pool();
    let b = Bag::from_vec(data(), 3).unwrap().map(|x| x * 2);
    let kept = b.persist(&p).unwrap();
    assert_eq!(kept.compute(&seq).unwrap(), b.compute(&seq).unwrap());
    let bad = b.map(|x| if x == 20 { panic!("boom at {x}") } else { x });
    let e = bad.sum().compute(&p).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TaskPanicked);
    assert!(e.to_string().contains("boom at 20"), "{e}");
    // The pool is still usable.
    assert_eq!(b.count().compute(&p).unwrap(), 97);
    let failing = b.try_map(|x| {
        if x > 90 {
            Err(blockwork::TaskError::new("too big"))
        } else {
            Ok(x)
        }
    });
    assert_eq!(
        failing.compute(&p).unwrap_err().kind(),
        ErrorKind::TaskFailed
    );
}

fn arb_parts() -> impl Strategy<Value = Vec<Vec<i64>>> {
    prop::collection::vec(prop::collection::vec(-1000i64..1000, 0..12), 0..7)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn prop_bag_matches_std(parts in arb_parts(), split in 2usize..5, n in 1usize..9) {
        let seq = Sequential::new();
        let flat: Vec<i64> = parts.iter().flatten().copied().collect();
        let b = Bag::from_partitions(parts).with_split_every(split);
        prop_assert_eq!(b.compute(&seq).unwrap(), flat.clone());
        prop_assert_eq!(b.count().compute(&seq).unwrap(), flat.len());
        prop_assert_eq!(b.sum().compute(&seq).unwrap(), flat.iter().sum::<i64>());
        prop_assert_eq!(b.max().compute(&seq).ok(), flat.iter().max().copied());
        prop_assert_eq!(b.min().compute(&seq).ok(), flat.iter().min().copied());
        let evens: Vec<i64> = flat.iter().filter(|x| *x % 2 == 0).map(|x| x / 2).collect();
        prop_assert_eq!(b.filter(|x| x % 2 == 0).map(|x| x / 2).compute(&seq).unwrap(), evens);
        prop_assert_eq!(b.repartition(n).unwrap().compute(&seq).unwrap(), flat.clone());
        prop_assert_eq!(b.take(n, &seq).unwrap(), flat.iter().take(n).copied().collect::<Vec<_>>());
        let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
        for x in &flat {
            *counts.entry(x % 5).or_default() += 1;
        }
        let got: BTreeMap<i64, usize> = b.map(|x| x % 5).frequencies().compute(&seq).unwrap().into_iter().collect();
        prop_assert_eq!(got, counts);
        let mut sorted = flat.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        sorted.truncate(n);
        prop_assert_eq!(b.topk(n, |x| *x).compute(&seq).unwrap(), sorted);
        let mut groups: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for &x in &flat {
            groups.entry(x.rem_euclid(4)).or_default().push(x);
        }
        let got: BTreeMap<i64, Vec<i64>> = b.groupby_into(|x| x.rem_euclid(4), n).unwrap().compute(&seq).unwrap().into_iter().collect();
        prop_assert_eq!(got, groups);
        if !flat.is_empty() {
            let mean = flat.iter().sum::<i64>() as f64 / flat.len() as f64;
            prop_assert!((b.mean().compute(&seq).unwrap() - mean).abs() < 1e-9);
        }
    }
}

#[test]
fn integer_sums_that_overflow_are_errors() {
    // Reference: i64's checked addition over the same elements.
    let cases: Vec<Vec<i64>> = vec![
        vec![i64::MAX, 1],
        vec![i64::MIN, -1],
        vec![i64::MAX / 2, i64::MAX / 2, 2, 5, -3],
        vec![i64::MAX, -1, 1],
        vec![1, 2, 3],
    ];
    for items in cases {
        let expected = items.iter().try_fold(0i64, |a, &x| a.checked_add(x));
        for parts in [1, 2, 3] {
            let b = Bag::from_vec(items.clone(), parts.min(items.len())).unwrap();
            for got in [
                b.sum().compute(&Sequential::new()),
                b.sum().compute(&pool()),
            ] {
                match expected {
                    Some(v) => assert_eq!(got.unwrap(), v, "{items:?}"),
                    None => {
                        assert_eq!(
                            got.unwrap_err().task_cause(),
                            Some(ErrorKind::Overflow),
                            "{items:?} in {parts} partitions"
                        );
                    }
                }
            }
        }
    }
    // Overflow in the merge of partition sums, each within range.
    let b = Bag::from_vec(vec![u8::MAX, u8::MAX], 2).unwrap();
    let err = b.sum().compute(&Sequential::new()).unwrap_err();
    assert_eq!(err.task_cause(), Some(ErrorKind::Overflow));
    // Floats add as floats.
    let f = Bag::from_vec(vec![f64::MAX, f64::MAX], 2).unwrap();
    assert_eq!(f.sum().compute(&Sequential::new()).unwrap(), f64::INFINITY);
}
