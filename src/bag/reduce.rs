//! Reductions: trees over partitions, to one value ([`Item`]) or to a small bag.

use super::counter::{CountKey, Counter};
use super::{
    Bag, Element, Item, Sink, StreamFn, fn_token, hash_of, list_arg, payload_arg, task_to_error,
    token, unique,
};
use crate::error::{Error, ErrorKind, Result, TaskError};
use crate::graph::{Arg, Graph, Node, Op, Task};
use crate::key::Key;
use crate::value::Value;
use indexmap::{IndexMap, IndexSet};
use rustc_hash::FxBuildHasher;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::hash::Hash;
use std::sync::Arc;

/// Numbers a bag can average: converts to `f64` for `mean`, `var` and `std`.
pub trait Numeric: Element + PartialOrd {
    /// The value as a float.
    fn to_f64(self) -> f64;
}

macro_rules! numeric {
    ($($t:ty),*) => {$(
        impl Numeric for $t {
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
        }
    )*};
}
numeric!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64);

/// Numbers a bag can sum ([`Bag::sum`]): integers add with overflow checked (an overflow is
/// an [`Overflow`](ErrorKind::Overflow) error, as in the graph builtins), floats add as IEEE
/// floats.
pub trait Summable: Element {
    /// The sum of nothing.
    const ZERO: Self;
    /// `self + other`, or `None` where an integer sum overflows.
    fn checked_sum(self, other: Self) -> Option<Self>;
}

macro_rules! summable_int {
    ($($t:ty),*) => {$(
        impl Summable for $t {
            const ZERO: Self = 0;
            #[inline]
            fn checked_sum(self, other: Self) -> Option<Self> {
                self.checked_add(other)
            }
        }
    )*};
}
summable_int!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize
);

macro_rules! summable_float {
    ($($t:ty),*) => {$(
        impl Summable for $t {
            const ZERO: Self = 0.0;
            #[inline]
            fn checked_sum(self, other: Self) -> Option<Self> {
                Some(self + other)
            }
        }
    )*};
}
summable_float!(f32, f64);

/// The error of an integer sum that overflowed.
#[cold]
fn sum_overflow() -> TaskError {
    TaskError::with_kind(ErrorKind::Overflow, "integer overflow in sum")
}

/// Count, mean and sum of squared deviations, merged with Chan's formula: stable where a
/// plain sum of squares loses everything to cancellation.
#[derive(Clone, Copy, Debug, Default)]
struct Moments {
    n: u64,
    mean: f64,
    m2: f64,
}

impl Moments {
    #[inline]
    fn push(mut self, x: f64) -> Moments {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
        self
    }

    fn merge(self, o: Moments) -> Moments {
        if o.n == 0 {
            return self;
        }
        if self.n == 0 {
            return o;
        }
        let n = self.n + o.n;
        let d = o.mean - self.mean;
        let w = o.n as f64 / n as f64;
        Moments {
            n,
            mean: self.mean + d * w,
            m2: self.m2 + o.m2 + d * d * self.n as f64 * w,
        }
    }
}

/// Folds a partition's stream into an accumulator.
pub(crate) fn fold_stream<T, A>(
    stream: &StreamFn<T>,
    args: &[Value],
    init: A,
    mut f: impl FnMut(A, T) -> A,
) -> std::result::Result<A, TaskError> {
    let mut acc = Some(init);
    stream(args, &mut |x| {
        acc = acc.take().map(|a| f(a, x));
        true
    })?;
    acc.ok_or_else(|| TaskError::new("fold lost its accumulator"))
}

type Leaf<T, A> =
    dyn Fn(&StreamFn<T>, &[Value], usize) -> std::result::Result<A, TaskError> + Send + Sync;
type Merge<A> = dyn Fn(&[&A]) -> std::result::Result<A, TaskError> + Send + Sync;

impl<T: Element> Bag<T> {
    /// Builds a reduction tree: a leaf task per partition (`leaf(stream, args, i)`, fused
    /// with the stream), then levels of `merge` over at most `split_every` results, ending at
    /// the returned key. With no partitions the last merge gets no input.
    fn tree<A: Send + Sync + 'static>(
        &self,
        step: &str,
        tok: u64,
        leaf: Arc<Leaf<T, A>>,
        merge: Arc<Merge<A>>,
    ) -> (Graph, Key, Arc<str>) {
        let name = token(step, &[self.name()], &tok);
        let mut g = self.base_graph().clone();
        let stream = self.stream().clone();
        let leaf_op = Op::new(format!("{}-{step}", self.label), move |args: &[Value]| {
            let i = args.get(1).and_then(Value::as_int).unwrap_or(0) as usize;
            let a = leaf(&*stream, list_arg(args.first())?, i)?;
            Ok(Value::opaque(a, std::mem::size_of::<A>()))
        });
        let merge_op = Op::new(format!("{step}-combine"), move |args: &[Value]| {
            let parts = args
                .iter()
                .map(|v| payload_arg::<A>(Some(v)))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            Ok(Value::opaque(merge(&parts)?, std::mem::size_of::<A>()))
        });
        let part = format!("{name}-part");
        let mut level: Vec<Key> = (0..self.npartitions())
            .map(|i| {
                let k = Key::tuple(&part, [i]);
                let args = [self.part_arg(i), Arg::lit(i as i64)];
                g.insert(k.clone(), Node::Task(Task::new(&leaf_op, args)));
                k
            })
            .collect();
        let split = self.split_every();
        let mut depth = 0;
        while level.len() > split {
            let agg = format!("{name}-agg{depth}");
            level = level
                .chunks(split)
                .enumerate()
                .map(|(j, ks)| {
                    let k = Key::tuple(&agg, [j]);
                    g.insert(
                        k.clone(),
                        Node::Task(Task::new(&merge_op, ks.iter().map(Arg::key))),
                    );
                    k
                })
                .collect();
            depth += 1;
        }
        let fin = Key::tuple(&format!("{name}-agg"), [0]);
        g.insert(
            fin.clone(),
            Node::Task(Task::new(&merge_op, level.iter().map(Arg::key))),
        );
        (g, fin, name)
    }

    /// A tree whose result becomes an [`Item`] through `finish`.
    fn tree_item<A: Send + Sync + 'static, R: 'static>(
        &self,
        step: &str,
        tok: u64,
        leaf: Arc<Leaf<T, A>>,
        merge: Arc<Merge<A>>,
        finish: impl Fn(&A) -> Result<R> + Send + Sync + 'static,
    ) -> Item<R> {
        let (g, key, _) = self.tree(step, tok, leaf, merge);
        Item::new(key, g, move |v: &Value| {
            finish(payload_arg::<A>(Some(v)).map_err(task_to_error)?)
        })
    }

    /// A tree whose result streams out as the one partition of a bag through `emit`.
    fn tree_bag<A: Send + Sync + 'static, U: Element>(
        &self,
        step: &str,
        tok: u64,
        leaf: Arc<Leaf<T, A>>,
        merge: Arc<Merge<A>>,
        emit: impl Fn(&A, &mut Sink<'_, U>) + Send + Sync + 'static,
    ) -> Bag<U> {
        let (g, key, name) = self.tree(step, tok, leaf, merge);
        let stream: Arc<StreamFn<U>> = Arc::new(move |args: &[Value], sink: &mut Sink<'_, U>| {
            emit(payload_arg::<A>(args.first())?, sink);
            Ok(())
        });
        self.derive(name, step, g, vec![vec![Arg::key(key)]], stream)
    }

    /// dask's `reduction`: `perpartition` on each partition (as a `Vec`), then `aggregate`
    /// on lists of at most `split_every` results, level by level, down to one. With no
    /// partitions, `aggregate` gets an empty list.
    ///
    /// ```
    /// use blockwork::{bag::Bag, Sequential};
    /// let b = Bag::from_vec((1..=100i64).collect(), 7)?;
    /// let longest = b.reduction(|p| p.len(), |ls| ls.into_iter().max().unwrap_or(0));
    /// assert_eq!(longest.compute(&Sequential::new())?, 15);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn reduction<R: Element>(
        &self,
        perpartition: impl Fn(Vec<T>) -> R + Send + Sync + 'static,
        aggregate: impl Fn(Vec<R>) -> R + Send + Sync + 'static,
    ) -> Item<R> {
        let tok = hash_of(&(fn_token(&perpartition), fn_token(&aggregate)));
        let leaf = move |s: &StreamFn<T>, a: &[Value], _: usize| {
            let v = fold_stream(s, a, Vec::new(), |mut v, x| {
                v.push(x);
                v
            })?;
            Ok(perpartition(v))
        };
        let merge = move |ps: &[&R]| Ok(aggregate(ps.iter().map(|&r| r.clone()).collect()));
        self.tree_item(
            "reduction",
            tok,
            Arc::new(leaf),
            Arc::new(merge),
            |r: &R| Ok(r.clone()),
        )
    }

    /// Folds each partition with `binop` from `initial`, then the partition results with
    /// `combine` (as dask's `fold` with an initial value). `initial` should be an identity
    /// of `combine`; whatever it is (`0` included) it starts every partition, and an empty
    /// bag folds to it.
    ///
    /// ```
    /// use blockwork::{bag::Bag, Sequential};
    /// let b = Bag::from_vec(vec!["a", "bb", "ccc"], 2)?;
    /// let total = b.fold(0usize, |n, s| n + s.len(), |a, b| a + b);
    /// assert_eq!(total.compute(&Sequential::new())?, 6);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn fold<A: Element>(
        &self,
        initial: A,
        binop: impl Fn(A, T) -> A + Send + Sync + 'static,
        combine: impl Fn(A, A) -> A + Send + Sync + 'static,
    ) -> Item<A> {
        let init = initial.clone();
        let leaf =
            move |s: &StreamFn<T>, a: &[Value], _: usize| fold_stream(s, a, init.clone(), &binop);
        let merge = move |ps: &[&A]| {
            Ok(match ps.split_first() {
                None => initial.clone(),
                Some((first, rest)) => rest
                    .iter()
                    .fold((*first).clone(), |acc, &p| combine(acc, p.clone())),
            })
        };
        self.tree_item(
            "fold",
            unique(),
            Arc::new(leaf),
            Arc::new(merge),
            |a: &A| Ok(a.clone()),
        )
    }

    /// Folds all elements with `binop`, starting from the first (dask's `fold` without an
    /// initial value). An empty bag is an [`Empty`](ErrorKind::Empty) error.
    pub fn reduce(&self, binop: impl Fn(T, T) -> T + Send + Sync + 'static) -> Item<T> {
        let tok = fn_token(&binop);
        let binop = Arc::new(binop);
        let b2 = binop.clone();
        let leaf = move |s: &StreamFn<T>, a: &[Value], _: usize| {
            fold_stream(s, a, None, |acc: Option<T>, x| {
                Some(match acc {
                    None => x,
                    Some(a) => binop(a, x),
                })
            })
        };
        let merge = move |ps: &[&Option<T>]| {
            Ok(ps
                .iter()
                .filter_map(|p| (*p).clone())
                .reduce(|a, b| b2(a, b)))
        };
        self.tree_item(
            "reduce",
            tok,
            Arc::new(leaf),
            Arc::new(merge),
            |r: &Option<T>| r.clone().ok_or_else(|| empty("reduce")),
        )
    }

    /// The number of elements.
    pub fn count(&self) -> Item<usize> {
        let leaf = |s: &StreamFn<T>, a: &[Value], _: usize| fold_stream(s, a, 0usize, |n, _| n + 1);
        let merge = |ps: &[&usize]| Ok(ps.iter().copied().sum());
        self.tree_item("count", 0, Arc::new(leaf), Arc::new(merge), |n: &usize| {
            Ok(*n)
        })
    }

    /// The sum of the elements (zero for an empty bag). Integer sums are checked: one that
    /// overflows is an [`Overflow`](ErrorKind::Overflow) error rather than a wrapped value.
    ///
    /// ```
    /// use blockwork::bag::Bag;
    /// use blockwork::{ErrorKind, Sequential};
    /// let big = Bag::from_vec(vec![i64::MAX, 1], 2)?;
    /// let err = big.sum().compute(&Sequential::new()).unwrap_err();
    /// assert_eq!(err.task_cause(), Some(ErrorKind::Overflow));
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn sum(&self) -> Item<T>
    where
        T: Summable,
    {
        let leaf = |s: &StreamFn<T>, a: &[Value], _: usize| {
            fold_stream(s, a, Some(T::ZERO), |acc: Option<T>, x| {
                acc.and_then(|acc| acc.checked_sum(x))
            })?
            .ok_or_else(sum_overflow)
        };
        let merge = |ps: &[&T]| {
            ps.iter()
                .try_fold(T::ZERO, |acc, &x| acc.checked_sum(x.clone()))
                .ok_or_else(sum_overflow)
        };
        self.tree_item("sum", 0, Arc::new(leaf), Arc::new(merge), |x: &T| {
            Ok(x.clone())
        })
    }

    /// The smallest element; an empty bag is an [`Empty`](ErrorKind::Empty) error.
    /// Incomparable values (NaN) never replace the current minimum.
    pub fn min(&self) -> Item<T>
    where
        T: PartialOrd,
    {
        self.extreme("min", Ordering::Less)
    }

    /// The largest element; an empty bag is an [`Empty`](ErrorKind::Empty) error.
    pub fn max(&self) -> Item<T>
    where
        T: PartialOrd,
    {
        self.extreme("max", Ordering::Greater)
    }

    fn extreme(&self, step: &'static str, want: Ordering) -> Item<T>
    where
        T: PartialOrd,
    {
        let better = move |a: Option<T>, x: T| match a {
            Some(a) if x.partial_cmp(&a) != Some(want) => Some(a),
            _ => Some(x),
        };
        let leaf = move |s: &StreamFn<T>, a: &[Value], _: usize| fold_stream(s, a, None, better);
        let merge =
            move |ps: &[&Option<T>]| Ok(ps.iter().filter_map(|p| (*p).clone()).fold(None, better));
        self.tree_item(
            step,
            0,
            Arc::new(leaf),
            Arc::new(merge),
            move |r: &Option<T>| r.clone().ok_or_else(|| empty(step)),
        )
    }

    /// Count, mean and squared deviations of the elements as floats.
    fn moments(
        &self,
        step: &'static str,
        finish: impl Fn(&Moments) -> Result<f64> + Send + Sync + 'static,
    ) -> Item<f64>
    where
        T: Numeric,
    {
        let leaf = |s: &StreamFn<T>, a: &[Value], _: usize| {
            fold_stream(s, a, Moments::default(), |m, x: T| m.push(x.to_f64()))
        };
        let merge = |ps: &[&Moments]| Ok(ps.iter().fold(Moments::default(), |m, &&p| m.merge(p)));
        self.tree_item(step, 0, Arc::new(leaf), Arc::new(merge), finish)
    }

    /// The mean; an empty bag is an [`Empty`](ErrorKind::Empty) error.
    ///
    /// ```
    /// use blockwork::{bag::Bag, ErrorKind, Sequential};
    /// let seq = Sequential::new();
    /// assert_eq!(Bag::from_vec(vec![1i64, 2, 6], 2)?.mean().compute(&seq)?, 3.0);
    /// let none = Bag::<i64>::from_vec(vec![], 2)?;
    /// assert_eq!(none.mean().compute(&seq).unwrap_err().kind(), ErrorKind::Empty);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn mean(&self) -> Item<f64>
    where
        T: Numeric,
    {
        self.moments("mean", |m| {
            if m.n == 0 {
                Err(empty("mean"))
            } else {
                Ok(m.mean)
            }
        })
    }

    /// The variance with `ddof` delta degrees of freedom (0: population, 1: sample). Fewer
    /// than `ddof + 1` elements is an [`Empty`](ErrorKind::Empty) error.
    pub fn var(&self, ddof: usize) -> Item<f64>
    where
        T: Numeric,
    {
        self.moments("var", move |m| variance(m, ddof))
    }

    /// The standard deviation, the square root of [`Bag::var`].
    pub fn std(&self, ddof: usize) -> Item<f64>
    where
        T: Numeric,
    {
        self.moments("std", move |m| variance(m, ddof).map(f64::sqrt))
    }

    /// How many times each distinct element occurs, as `(element, count)` pairs in one
    /// partition (in no particular order).
    pub fn frequencies(&self) -> Bag<(T, usize)>
    where
        T: Hash + Eq,
    {
        self.frequencies_by(|x: &T, counts: &mut Counter<T>| counts.add(x))
    }

    /// Counts the keys that `keys` adds to a [`Counter`] for each element. Keys are looked
    /// up borrowed and copied into the partition's table only the first time the partition
    /// sees them, so words can be counted as `&str` slices of their line, without a
    /// `String` per word:
    ///
    /// ```
    /// use blockwork::bag::{Bag, Counter};
    /// use blockwork::Sequential;
    /// let lines = Bag::from_vec(vec!["a b a".to_string(), "b a".to_string()], 2)?;
    /// let counts = lines.frequencies_by(|l: &String, words: &mut Counter<str>| {
    ///     l.split_ascii_whitespace().for_each(|w| words.add(w))
    /// });
    /// let mut got = counts.compute(&Sequential::new())?;
    /// got.sort();
    /// assert_eq!(got, vec![("a".to_string(), 3), ("b".to_string(), 2)]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn frequencies_by<K>(
        &self,
        keys: impl Fn(&T, &mut Counter<K>) + Send + Sync + 'static,
    ) -> Bag<(K::Owned, usize)>
    where
        K: CountKey + ?Sized + 'static,
    {
        let tok = fn_token(&keys);
        let leaf = move |s: &StreamFn<T>, a: &[Value], _: usize| {
            let mut counts = Counter::new();
            s(a, &mut |x| {
                keys(&x, &mut counts);
                true
            })?;
            Ok(counts)
        };
        let merge = |ps: &[&Counter<K>]| Ok(Counter::merged(ps));
        let emit = |c: &Counter<K>, sink: &mut Sink<'_, (K::Owned, usize)>| {
            c.iter().all(|(k, n)| sink((k.clone(), n)));
        };
        self.tree_bag("frequencies", tok, Arc::new(leaf), Arc::new(merge), emit)
    }

    /// The `k` elements with the largest `key`, largest first, in one partition; among equal
    /// keys the earlier element comes first (as Python's `heapq.nlargest`).
    ///
    /// ```
    /// use blockwork::{bag::Bag, Sequential};
    /// let b = Bag::from_vec(vec![("a", 3), ("b", 9), ("c", 3), ("d", 5)], 3)?;
    /// let top = b.topk(3, |&(_, n)| n).compute(&Sequential::new())?;
    /// assert_eq!(top, vec![("b", 9), ("d", 5), ("a", 3)]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn topk<K: Ord + Element>(
        &self,
        k: usize,
        key: impl Fn(&T) -> K + Send + Sync + 'static,
    ) -> Bag<T> {
        let tok = hash_of(&(k, fn_token(&key)));
        let leaf = move |s: &StreamFn<T>, a: &[Value], part: usize| {
            // Reserve at most a modest start: `k` may far exceed the partition ("all").
            let mut heap: BinaryHeap<Reverse<Ranked<K, T>>> =
                BinaryHeap::with_capacity(k.min(1 << 10) + 1);
            let mut idx = 0;
            s(a, &mut |x| {
                let r = Ranked {
                    key: key(&x),
                    pos: (part, idx),
                    item: x,
                };
                idx += 1;
                if heap.len() < k {
                    heap.push(Reverse(r));
                } else if heap.peek().is_some_and(|Reverse(low)| r > *low) {
                    heap.pop();
                    heap.push(Reverse(r));
                }
                true
            })?;
            Ok(heap
                .into_sorted_vec()
                .into_iter()
                .map(|Reverse(r)| r)
                .collect::<Vec<_>>())
        };
        let merge = move |ps: &[&Vec<Ranked<K, T>>]| {
            let mut all: Vec<Ranked<K, T>> = ps.iter().flat_map(|p| p.iter().cloned()).collect();
            all.sort_by(|a, b| b.cmp(a));
            all.truncate(k);
            Ok(all)
        };
        let emit = |v: &Vec<Ranked<K, T>>, sink: &mut Sink<'_, T>| {
            v.iter().all(|r| sink(r.item.clone()));
        };
        self.tree_bag("topk", tok, Arc::new(leaf), Arc::new(merge), emit)
    }

    /// The distinct elements, in order of first appearance, in one partition.
    pub fn distinct(&self) -> Bag<T>
    where
        T: Hash + Eq,
    {
        type Set<T> = IndexSet<T, FxBuildHasher>;
        let leaf = |s: &StreamFn<T>, a: &[Value], _: usize| {
            fold_stream(s, a, Set::default(), |mut set, x| {
                set.insert(x);
                set
            })
        };
        let merge = |ps: &[&Set<T>]| {
            Ok(ps
                .iter()
                .flat_map(|p| p.iter().cloned())
                .collect::<Set<T>>())
        };
        let emit = |set: &Set<T>, sink: &mut Sink<'_, T>| {
            set.iter().all(|x| sink(x.clone()));
        };
        self.tree_bag("distinct", 0, Arc::new(leaf), Arc::new(merge), emit)
    }

    /// Group-wise fold (dask's `foldby`): in each partition, the elements with equal
    /// `key` fold with `binop` from `initial`; then each key's partition results fold with
    /// `combine` from `combine_initial` at every level of the tree. Both initial values
    /// should be identities. Gives `(key, value)` pairs in one partition, keys in order of
    /// first appearance.
    ///
    /// ```
    /// use blockwork::{bag::Bag, Sequential};
    /// let b = Bag::from_vec((1..=10i64).collect(), 3)?;
    /// let sums = b.foldby(|x| x % 2 == 0, |acc, x| acc + x, 0, |a, b| a + b, 0);
    /// assert_eq!(sums.compute(&Sequential::new())?, vec![(false, 25), (true, 30)]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn foldby<K, A>(
        &self,
        key: impl Fn(&T) -> K + Send + Sync + 'static,
        binop: impl Fn(A, T) -> A + Send + Sync + 'static,
        initial: A,
        combine: impl Fn(A, A) -> A + Send + Sync + 'static,
        combine_initial: A,
    ) -> Bag<(K, A)>
    where
        K: Hash + Eq + Element,
        A: Element,
    {
        type Groups<K, A> = IndexMap<K, A, FxBuildHasher>;
        let leaf = move |s: &StreamFn<T>, a: &[Value], _: usize| {
            let mut groups: IndexMap<K, Option<A>, FxBuildHasher> = IndexMap::default();
            s(a, &mut |x| {
                let slot = groups.entry(key(&x)).or_insert(None);
                let acc = slot.take().unwrap_or_else(|| initial.clone());
                *slot = Some(binop(acc, x));
                true
            })?;
            Ok(groups
                .into_iter()
                .filter_map(|(k, a)| Some((k, a?)))
                .collect::<Groups<K, A>>())
        };
        let merge = move |ps: &[&Groups<K, A>]| {
            let mut out: Groups<K, Option<A>> = IndexMap::default();
            for (k, a) in ps.iter().flat_map(|p| p.iter()) {
                let slot = out.entry(k.clone()).or_insert(None);
                let acc = slot.take().unwrap_or_else(|| combine_initial.clone());
                *slot = Some(combine(acc, a.clone()));
            }
            Ok(out
                .into_iter()
                .filter_map(|(k, a)| Some((k, a?)))
                .collect::<Groups<K, A>>())
        };
        let emit = |m: &Groups<K, A>, sink: &mut Sink<'_, (K, A)>| {
            m.iter().all(|(k, a)| sink((k.clone(), a.clone())));
        };
        self.tree_bag("foldby", unique(), Arc::new(leaf), Arc::new(merge), emit)
    }
}

impl Bag<bool> {
    /// Whether any element is true (false for an empty bag). Each partition stops reading
    /// at its first true element.
    pub fn any(&self) -> Item<bool> {
        self.truth("any", true)
    }

    /// Whether every element is true (true for an empty bag). Each partition stops reading
    /// at its first false element.
    pub fn all(&self) -> Item<bool> {
        self.truth("all", false)
    }

    /// Whether some element equals `target` (any: true, all: false, then negated).
    fn truth(&self, step: &str, target: bool) -> Item<bool> {
        let leaf = move |s: &StreamFn<bool>, a: &[Value], _: usize| {
            let mut found = false;
            s(a, &mut |x| {
                found = x == target;
                !found
            })?;
            Ok(found)
        };
        let merge = |ps: &[&bool]| Ok(ps.iter().any(|&&f| f));
        self.tree_item(
            step,
            0,
            Arc::new(leaf),
            Arc::new(merge),
            move |&found: &bool| Ok(found == target),
        )
    }
}

/// The variance from moments, or an `Empty` error when `n <= ddof`.
fn variance(m: &Moments, ddof: usize) -> Result<f64> {
    if m.n as usize <= ddof {
        return Err(Error::new(
            ErrorKind::Empty,
            format!(
                "variance with ddof={ddof} needs more than {ddof} elements, got {}",
                m.n
            ),
        ));
    }
    Ok(m.m2 / (m.n as usize - ddof) as f64)
}

#[cold]
fn empty(what: &str) -> Error {
    Error::new(ErrorKind::Empty, format!("{what} of an empty bag"))
}

/// An element with its sort key and position, ordered by key, then earlier position first.
#[derive(Clone)]
struct Ranked<K, T> {
    key: K,
    pos: (usize, usize),
    item: T,
}

impl<K: Ord, T> Ord for Ranked<K, T> {
    fn cmp(&self, o: &Self) -> Ordering {
        self.key.cmp(&o.key).then_with(|| o.pos.cmp(&self.pos))
    }
}
impl<K: Ord, T> PartialOrd for Ranked<K, T> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<K: Ord, T> PartialEq for Ranked<K, T> {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl<K: Ord, T> Eq for Ranked<K, T> {}
