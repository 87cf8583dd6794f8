//! Element-wise steps (fused into the partition stream) and steps that reshape partitions:
//! repartition, product, join.

use super::{
    Bag, Element, Pluck, Sink, StreamFn, fn_token, hash_of, list_arg, partition_arg, payload_arg,
    token,
};
use crate::error::{Error, ErrorKind, Result, TaskError};
use crate::graph::{Arg, Node, Op, Task};
use crate::key::Key;
use crate::value::Value;
use rustc_hash::FxHashMap;
use std::hash::Hash;
use std::sync::Arc;

impl<T: Element> Bag<T> {
    /// Applies `f` to every element.
    pub fn map<U: Element>(&self, f: impl Fn(T) -> U + Send + Sync + 'static) -> Bag<U> {
        let tok = fn_token(&f);
        let prev = self.stream().clone();
        self.chain(
            "map",
            tok,
            Arc::new(move |args: &[Value], sink: &mut Sink<'_, U>| prev(args, &mut |x| sink(f(x)))),
        )
    }

    /// Applies a fallible `f` to every element; the first error fails the partition's task.
    ///
    /// ```
    /// use blockwork::{bag::Bag, ErrorKind, Sequential, TaskError};
    /// let b = Bag::from_vec(vec!["1", "x"], 1)?.try_map(|s| s.parse::<i64>().map_err(|e| TaskError::new(e.to_string())));
    /// assert_eq!(b.compute(&Sequential::new()).unwrap_err().kind(), ErrorKind::TaskFailed);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn try_map<U: Element>(
        &self,
        f: impl Fn(T) -> std::result::Result<U, TaskError> + Send + Sync + 'static,
    ) -> Bag<U> {
        let tok = fn_token(&f);
        self.try_map_step("try_map", tok, f)
    }

    fn try_map_step<U: Element>(
        &self,
        step: &str,
        tok: u64,
        f: impl Fn(T) -> std::result::Result<U, TaskError> + Send + Sync + 'static,
    ) -> Bag<U> {
        let prev = self.stream().clone();
        self.chain(
            step,
            tok,
            Arc::new(move |args: &[Value], sink: &mut Sink<'_, U>| {
                let mut failed = None;
                prev(args, &mut |x| match f(x) {
                    Ok(y) => sink(y),
                    Err(e) => {
                        failed = Some(e);
                        false
                    }
                })?;
                failed.map_or(Ok(()), Err)
            }),
        )
    }

    /// Keeps the elements for which `pred` holds.
    pub fn filter(&self, pred: impl Fn(&T) -> bool + Send + Sync + 'static) -> Bag<T> {
        let tok = fn_token(&pred);
        let prev = self.stream().clone();
        self.chain(
            "filter",
            tok,
            Arc::new(move |args: &[Value], sink: &mut Sink<'_, T>| {
                prev(args, &mut |x| if pred(&x) { sink(x) } else { true })
            }),
        )
    }

    /// Replaces each element by the items `f` returns for it.
    ///
    /// ```
    /// use blockwork::{bag::Bag, Sequential};
    /// let b = Bag::from_vec(vec!["a b", "c"], 2)?.flat_map(|s| s.split(' ').map(String::from).collect::<Vec<_>>());
    /// assert_eq!(b.compute(&Sequential::new())?, vec!["a", "b", "c"]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn flat_map<U: Element, I: IntoIterator<Item = U>>(
        &self,
        f: impl Fn(T) -> I + Send + Sync + 'static,
    ) -> Bag<U> {
        let tok = fn_token(&f);
        let prev = self.stream().clone();
        self.chain(
            "flat_map",
            tok,
            Arc::new(move |args: &[Value], sink: &mut Sink<'_, U>| {
                prev(args, &mut |x| f(x).into_iter().all(&mut *sink))
            }),
        )
    }

    /// Applies `f` to each whole partition (as a `Vec`), streaming out what it returns.
    pub fn map_partitions<U: Element, I: IntoIterator<Item = U>>(
        &self,
        f: impl Fn(Vec<T>) -> I + Send + Sync + 'static,
    ) -> Bag<U> {
        let tok = fn_token(&f);
        let prev = self.stream().clone();
        self.chain(
            "map_partitions",
            tok,
            Arc::new(move |args: &[Value], sink: &mut Sink<'_, U>| {
                let mut part = Vec::new();
                prev(args, &mut |x| {
                    part.push(x);
                    true
                })?;
                f(part).into_iter().all(&mut *sink);
                Ok(())
            }),
        )
    }

    /// Takes one field of each element: a tuple position ([`At`](super::At)), a map key, a
    /// list index, a JSON object key or array index (see [`Pluck`]). A missing field fails
    /// the partition's task, naming it.
    ///
    /// ```
    /// use blockwork::{bag::{At, Bag}, Sequential};
    /// let b = Bag::from_vec(vec![(1i64, "a"), (2, "b")], 2)?;
    /// assert_eq!(b.pluck(At::<1>).compute(&Sequential::new())?, vec!["a", "b"]);
    /// let j = Bag::from_vec(vec![serde_json::json!({"id": 7})], 1)?;
    /// assert_eq!(j.pluck("id").compute(&Sequential::new())?, vec![serde_json::json!(7)]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn pluck<I>(&self, index: I) -> Bag<T::Output>
    where
        T: Pluck<I>,
        T::Output: Element,
        I: std::fmt::Debug + Send + Sync + 'static,
    {
        let tok = hash_of(&(format!("{index:?}"), std::any::type_name::<I>()));
        self.try_map_step("pluck", tok, move |x: T| {
            x.pluck(&index).ok_or_else(|| {
                TaskError::with_kind(ErrorKind::Index, format!("pluck: no field {index:?}"))
            })
        })
    }

    /// Repartitions into `npartitions` partitions, as dask does: fewer by concatenating
    /// neighbours (fused, nothing computed twice), more by splitting each partition into
    /// nearly equal pieces. Zero is an [`InvalidArgument`](ErrorKind::InvalidArgument) error,
    /// more than [`MAX_PARTITIONS`](super::MAX_PARTITIONS) a
    /// [`TooLarge`](ErrorKind::TooLarge) one.
    pub fn repartition(&self, npartitions: usize) -> Result<Bag<T>> {
        let n = self.npartitions();
        if npartitions == 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "repartition needs at least one partition",
            ));
        }
        super::check_partitions("repartition", Some(npartitions))?;
        if npartitions == n {
            return Ok(self.clone());
        }
        let name = token("repartition", &[self.name()], &npartitions);
        Ok(if npartitions < n {
            self.concat_into(name, npartitions)
        } else {
            self.split_into(name, npartitions)
        })
    }

    /// Output `j` streams inputs `[floor(j n / m), floor((j+1) n / m))` in turn.
    fn concat_into(&self, name: Arc<str>, m: usize) -> Bag<T> {
        let n = self.npartitions();
        let bound = |j: usize| j * n / m;
        let args = (0..m)
            .map(|j| (bound(j)..bound(j + 1)).map(|i| self.part_arg(i)).collect())
            .collect();
        let prev = self.stream().clone();
        let stream: Arc<StreamFn<T>> = Arc::new(move |args: &[Value], sink: &mut Sink<'_, T>| {
            let mut go = true;
            for a in args {
                prev(list_arg(Some(a))?, &mut |x| {
                    go = sink(x);
                    go
                })?;
                if !go {
                    break;
                }
            }
            Ok(())
        });
        self.derive(name, "repartition", self.base_graph().clone(), args, stream)
    }

    /// Input `i` splits into `m / n` pieces (the last input also takes `m % n` more).
    fn split_into(&self, name: Arc<str>, m: usize) -> Bag<T> {
        let n = self.npartitions();
        if n == 0 {
            return Bag::from_partitions(vec![Vec::new(); m]).with_split_every(self.split_every());
        }
        let stored = self.materialized();
        let (div, rem) = (m / n, m % n);
        let mut args = Vec::with_capacity(m);
        for i in 0..n {
            let pieces = div + if i + 1 == n { rem } else { 0 };
            for q in 0..pieces {
                args.push(vec![
                    Arg::key(stored.key(i)),
                    Arg::lit(q as i64),
                    Arg::lit(pieces as i64),
                ]);
            }
        }
        let stream: Arc<StreamFn<T>> = Arc::new(|args: &[Value], sink: &mut Sink<'_, T>| {
            let part = &partition_arg::<T>(args.first())?.0;
            let int = |k: usize| args.get(k).and_then(Value::as_int).unwrap_or(1) as usize;
            let (q, pieces) = (int(1), int(2).max(1));
            let (lo, hi) = (q * part.len() / pieces, (q + 1) * part.len() / pieces);
            for x in &part[lo..hi] {
                if !sink(x.clone()) {
                    break;
                }
            }
            Ok(())
        });
        self.derive(name, "repartition", stored.graph(), args, stream)
    }

    /// The cartesian product: partition `(i, j)` (numbered `i * m + j`) pairs every element
    /// of partition `i` with every element of `other`'s partition `j`.
    ///
    /// ```
    /// use blockwork::{bag::Bag, Sequential};
    /// let a = Bag::from_vec(vec![1i64, 2], 2)?;
    /// let b = Bag::from_vec(vec!['x', 'y'], 1)?;
    /// assert_eq!(a.product(&b)?.compute(&Sequential::new())?, vec![(1, 'x'), (1, 'y'), (2, 'x'), (2, 'y')]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    ///
    /// More than [`MAX_PARTITIONS`](super::MAX_PARTITIONS) partitions in all is a
    /// [`TooLarge`](ErrorKind::TooLarge) error.
    pub fn product<U: Element>(&self, other: &Bag<U>) -> Result<Bag<(T, U)>> {
        super::check_partitions(
            "product",
            self.npartitions().checked_mul(other.npartitions()),
        )?;
        let right = other.materialized();
        let mut graph = self.base_graph().clone();
        graph.merge_same_named(&right.graph());
        let mut args = Vec::with_capacity(self.npartitions() * right.npartitions());
        for i in 0..self.npartitions() {
            for j in 0..right.npartitions() {
                args.push(vec![self.part_arg(i), Arg::key(right.key(j))]);
            }
        }
        let prev = self.stream().clone();
        let stream: Arc<StreamFn<(T, U)>> =
            Arc::new(move |args: &[Value], sink: &mut Sink<'_, (T, U)>| {
                let ys = &partition_arg::<U>(args.get(1))?.0;
                prev(list_arg(args.first())?, &mut |x| {
                    ys.iter().all(|y| sink((x.clone(), y.clone())))
                })
            });
        let name = token("product", &[self.name(), other.name()], &());
        Ok(self.derive(name, "product", graph, args, stream))
    }

    /// An inner join with another bag on keys: each element `x` pairs with every element `y`
    /// of `other` where `on_self(&x) == on_other(&y)`, in the order of this bag and then of
    /// `other`. `other` is gathered into one hash index (one task), which every partition of
    /// this bag probes; keep the smaller side as `other`.
    ///
    /// ```
    /// use blockwork::{bag::Bag, Sequential};
    /// let people = Bag::from_vec(vec!["Alice", "Bob", "Charlie"], 2)?;
    /// let fruit = Bag::from_vec(vec!["Apple", "Apricot", "Banana"], 2)?;
    /// let j = people.join(&fruit, |p| p.as_bytes()[0], |f| f.as_bytes()[0]);
    /// assert_eq!(j.compute(&Sequential::new())?,
    ///            vec![("Alice", "Apple"), ("Alice", "Apricot"), ("Bob", "Banana")]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn join<U: Element, K: Hash + Eq + Send + Sync + 'static>(
        &self,
        other: &Bag<U>,
        on_self: impl Fn(&T) -> K + Send + Sync + 'static,
        on_other: impl Fn(&U) -> K + Send + Sync + 'static,
    ) -> Bag<(T, U)> {
        let tok = (fn_token(&on_self), fn_token(&on_other));
        let name = token("join", &[self.name(), other.name()], &tok);
        let index_key = Key::tuple(&format!("{name}-index"), [0]);
        let mut graph = self.base_graph().clone();
        graph.merge_same_named(other.base_graph());
        let ostream = other.stream().clone();
        let build = Op::new(
            format!("{}-join-index", other.label),
            move |args: &[Value]| {
                let mut index: FxHashMap<K, Vec<U>> = FxHashMap::default();
                for a in args {
                    ostream(list_arg(Some(a))?, &mut |y| {
                        index.entry(on_other(&y)).or_default().push(y);
                        true
                    })?;
                }
                Ok(Value::opaque(index, 0))
            },
        );
        let index_args = (0..other.npartitions()).map(|j| other.part_arg(j));
        graph.insert(index_key.clone(), Node::Task(Task::new(&build, index_args)));
        let args = (0..self.npartitions())
            .map(|i| vec![self.part_arg(i), Arg::key(index_key.clone())])
            .collect();
        let prev = self.stream().clone();
        let stream: Arc<StreamFn<(T, U)>> =
            Arc::new(move |args: &[Value], sink: &mut Sink<'_, (T, U)>| {
                let index = payload_arg::<FxHashMap<K, Vec<U>>>(args.get(1))?;
                prev(
                    list_arg(args.first())?,
                    &mut |x| match index.get(&on_self(&x)) {
                        Some(ys) => ys.iter().all(|y| sink((x.clone(), y.clone()))),
                        None => true,
                    },
                )
            });
        self.derive(name, "join", graph, args, stream)
    }

    /// An inner join with an in-memory collection, as [`Bag::join`].
    pub fn join_iter<U: Element, K: Hash + Eq + Send + Sync + 'static>(
        &self,
        other: impl IntoIterator<Item = U>,
        on_self: impl Fn(&T) -> K + Send + Sync + 'static,
        on_other: impl Fn(&U) -> K + Send + Sync + 'static,
    ) -> Bag<(T, U)> {
        let other = Bag::from_partitions(vec![other.into_iter().collect()]);
        self.join(&other, on_self, on_other)
    }
}

impl<T: Element + IntoIterator> Bag<T>
where
    T::Item: Element,
{
    /// Concatenates the elements' items: a bag of lists becomes a bag of their items.
    ///
    /// ```
    /// use blockwork::{bag::Bag, Sequential};
    /// let b = Bag::from_vec(vec![vec![1i64, 2], vec![], vec![3]], 2)?;
    /// assert_eq!(b.flatten().compute(&Sequential::new())?, vec![1, 2, 3]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn flatten(&self) -> Bag<T::Item> {
        let prev = self.stream().clone();
        self.chain(
            "flatten",
            0,
            Arc::new(move |args: &[Value], sink: &mut Sink<'_, T::Item>| {
                prev(args, &mut |x| x.into_iter().all(&mut *sink))
            }),
        )
    }
}
