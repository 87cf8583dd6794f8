//! `groupby`: a hash-partitioned shuffle across partitions.
//!
//! Each input partition is streamed once by a *split* task into one bucket per output
//! partition, chosen by the hash of the element's key. Output partition `j` gathers bucket
//! `j` of every split and groups it, so each group lives whole in exactly one output
//! partition and no task ever holds the whole bag (dask's task-based shuffle).

use super::{Bag, Element, Sink, StreamFn, fn_token, list_arg, payload_arg, token};
use crate::error::{Error, ErrorKind, Result};
use crate::graph::{Arg, Node, Op, Task};
use crate::key::Key;
use crate::value::Value;
use indexmap::IndexMap;
use rustc_hash::FxBuildHasher;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

/// The buckets one split task produces: `buckets[j]` holds the `(key, element)` pairs bound
/// for output partition `j`, in input order.
type Buckets<K, T> = Vec<Vec<(K, T)>>;

/// The output partition for a key hash: the high bits of `hash * n`, which stay uniform
/// where `hash % n` would see only the weak low bits.
#[inline]
fn bucket(hash: u64, n: usize) -> usize {
    ((u128::from(hash) * n as u128) >> 64) as usize
}

impl<T: Element> Bag<T> {
    /// Groups elements by `key` into `(key, elements)` pairs, hash-partitioned into as
    /// many partitions as this bag has (at least one). Within a group, elements keep their
    /// order in the bag; groups appear in order of first appearance within their partition.
    ///
    /// ```
    /// use blockwork::{bag::Bag, Sequential};
    /// let b = Bag::from_vec((0..10i64).collect(), 3)?;
    /// let mut groups = b.groupby(|x| x % 3).compute(&Sequential::new())?;
    /// groups.sort();
    /// assert_eq!(groups, vec![(0, vec![0, 3, 6, 9]), (1, vec![1, 4, 7]), (2, vec![2, 5, 8])]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn groupby<K>(&self, key: impl Fn(&T) -> K + Send + Sync + 'static) -> Bag<(K, Vec<T>)>
    where
        K: Hash + Eq + Element,
    {
        self.shuffle(key, self.npartitions().max(1))
    }

    /// [`Bag::groupby`] into `npartitions` output partitions; zero is an
    /// [`InvalidArgument`](ErrorKind::InvalidArgument) error, more than
    /// [`MAX_PARTITIONS`](super::MAX_PARTITIONS) a [`TooLarge`](ErrorKind::TooLarge) one.
    pub fn groupby_into<K>(
        &self,
        key: impl Fn(&T) -> K + Send + Sync + 'static,
        npartitions: usize,
    ) -> Result<Bag<(K, Vec<T>)>>
    where
        K: Hash + Eq + Element,
    {
        if npartitions == 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "groupby needs at least one output partition",
            ));
        }
        super::check_partitions("groupby_into", Some(npartitions))?;
        Ok(self.shuffle(key, npartitions))
    }

    fn shuffle<K>(
        &self,
        key: impl Fn(&T) -> K + Send + Sync + 'static,
        n: usize,
    ) -> Bag<(K, Vec<T>)>
    where
        K: Hash + Eq + Element,
    {
        let name = token("groupby", &[self.name()], &(fn_token(&key), n));
        let split_name = format!("{name}-split");
        let stream = self.stream().clone();
        let split = Op::new(
            format!("{}-groupby-split", self.label),
            move |args: &[Value]| {
                let mut buckets: Buckets<K, T> = (0..n).map(|_| Vec::new()).collect();
                stream(list_arg(args.first())?, &mut |x| {
                    let k = key(&x);
                    buckets[bucket(FxBuildHasher.hash_one(&k), n)].push((k, x));
                    true
                })?;
                Ok(Value::opaque(buckets, 0))
            },
        );
        let mut graph = self.base_graph().clone();
        let splits: Vec<Key> = (0..self.npartitions())
            .map(|i| {
                let k = Key::tuple(&split_name, [i]);
                graph.insert(k.clone(), Node::Task(Task::new(&split, [self.part_arg(i)])));
                k
            })
            .collect();
        let args = (0..n)
            .map(|j| {
                std::iter::once(Arg::lit(j as i64))
                    .chain(splits.iter().map(Arg::key))
                    .collect()
            })
            .collect();
        let gather: Arc<StreamFn<(K, Vec<T>)>> =
            Arc::new(|args: &[Value], sink: &mut Sink<'_, (K, Vec<T>)>| {
                let j = args.first().and_then(Value::as_int).unwrap_or(0) as usize;
                let mut groups: IndexMap<K, Vec<T>, FxBuildHasher> = IndexMap::default();
                for a in args.iter().skip(1) {
                    let buckets = payload_arg::<Buckets<K, T>>(Some(a))?;
                    for (k, x) in buckets.get(j).into_iter().flatten() {
                        groups.entry(k.clone()).or_default().push(x.clone());
                    }
                }
                groups.into_iter().all(sink);
                Ok(())
            });
        self.derive(name, "groupby", graph, args, gather)
    }
}
