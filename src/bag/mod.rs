//! Bags: dask.bag on the engine.
//!
//! A [`Bag<T>`] is an unordered-in-spirit, ordered-in-practice collection of `T` split into
//! partitions. Like every collection here it only builds graphs: its partitions are the
//! keys `(name, i)` of a [`Graph`], each holding a [`Partition<T>`] payload, and computing
//! goes through an [`Executor`] ([`Bag::compute`]).
//!
//! ```
//! use blockwork::bag::Bag;
//! use blockwork::Sequential;
//!
//! let b = Bag::from_vec((1..=10i64).collect(), 3)?;
//! let evens = b.filter(|x| x % 2 == 0).map(|x| x * 10);
//! assert_eq!(evens.compute(&Sequential::new())?, vec![20, 40, 60, 80, 100]);
//! assert_eq!(b.sum().compute(&Sequential::new())?, 55);
//! # Ok::<(), blockwork::Error>(())
//! ```
//!
//! # Fusion
//!
//! Element-wise steps (`map`, `filter`, `flat_map`, `pluck`, ...) are not tasks of their
//! own: a bag keeps, besides its graph, a *stream* per partition, the chain of closures that
//! pushes each element of the partition's inputs through every pending step. A step extends
//! the stream; anything that needs partitions as values (a reduction leaf, a shuffle,
//! [`Bag::graph`]) runs the whole chain inside one task. So `lines -> words -> counts` reads
//! a file and folds its words into a map in one task, with no list of lines or words in
//! between.
//!
//! # Names
//!
//! Names are tokens derived from the inputs and the operation, as dask tokenizes: the
//! parents' names, the step, its parameters, and each closure's type when the closure
//! captures nothing (a zero-sized closure's type identifies its code). A closure that
//! captures state, an initial value, or an in-memory collection cannot be hashed in general,
//! so those steps get a fresh token, as dask falls back to a random one for objects it cannot
//! tokenize. Equal names therefore always mean equal computations.
//!
//! # Reductions
//!
//! Reductions run as trees: one leaf task per partition (fused with the stream), then
//! levels that combine at most `split_every` results each ([`DEFAULT_SPLIT_EVERY`], set per
//! bag with [`Bag::with_split_every`]). Reductions to one value give an [`Item`]; those to a
//! collection (`frequencies`, `topk`, `distinct`, `foldby`) give a one-partition bag.
//!
//! # Integer overflow
//!
//! Bags check integer arithmetic as the graph builtins do: [`Bag::sum`] of integers that
//! overflows fails with [`ErrorKind::Overflow`] instead of
//! wrapping (element types it sums are the [`Summable`] ones). Arrays differ: their
//! element-wise integer arithmetic wraps, as NumPy's does. Closures given to `map`, `fold`
//! and the like run as written (Rust's own rules: wrapping in release builds unless they use
//! checked arithmetic).
//!
//! # JSON Lines and CSV
//!
//! Records from text files: JSON Lines and CSV, deserialized with serde into any
//! `T: DeserializeOwned` (a `serde_json::Value` for untyped JSON, a struct, a tuple...).
//!
//! Both are partitioned like [`TextFiles::lines`]: one partition per file, or per byte
//! range of [`TextFiles::blocksize`] bytes for larger files, a partition holding the records
//! that *start* in its range. A record that does not parse, or does not fit `T`, fails its
//! partition with a [`Parse`](ErrorKind::Parse) error naming the file and the record's line
//! number (counted from 1 over the whole file, whichever partition hit it); a record longer
//! than [`TextFiles::max_line_bytes`] is [`TooLarge`](ErrorKind::TooLarge).
//!
//! JSON Lines: one JSON value per line; lines holding only whitespace are skipped.
//!
//! CSV (RFC 4180, through the `csv` crate): the first line of each file is its header,
//! whose names deserialize struct fields; quoted fields may hold commas, quotes and
//! newlines. A record with a field count other than the header's is a
//! [`Parse`](ErrorKind::Parse) error. Splitting a file into byte ranges cuts at line
//! starts, so a file with quoted newlines must be read one partition per file (a block size
//! of at least its size; the default is 64 MiB), as with dask's `read_csv`.

#[cfg(feature = "workloads")]
pub mod corpus;
mod counter;
mod formats;
mod pluck;
mod reduce;
mod shuffle;
mod text;
mod transform;
mod words;

pub use counter::{CountKey, Counter};
pub use pluck::{At, Pluck};
pub use reduce::{Numeric, Summable};
pub use text::{DEFAULT_BLOCKSIZE, DEFAULT_MAX_LINE_BYTES, TextFiles};
pub use words::for_each_word;

use crate::error::{Error, ErrorKind, Result, TaskError};
use crate::exec::Executor;
use crate::graph::{Arg, Graph, Node, Op, Task};
use crate::key::Key;
use crate::plan::Plan;
use crate::value::{Payload, Value};
use std::any::{Any, TypeId};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Fan-in of reduction trees: each combining task takes at most this many results.
pub const DEFAULT_SPLIT_EVERY: usize = 8;

/// Most partitions a bag may have (as many as an array may have blocks): asking for more,
/// from [`Bag::from_vec`], [`Bag::repartition`], [`Bag::groupby_into`] or [`Bag::product`],
/// is a [`TooLarge`](ErrorKind::TooLarge) error rather than an allocation the process
/// cannot survive.
pub const MAX_PARTITIONS: usize = 1 << 24;

/// `Ok` if `n` partitions are within [`MAX_PARTITIONS`].
pub(crate) fn check_partitions(what: &str, n: Option<usize>) -> Result<()> {
    match n {
        Some(n) if n <= MAX_PARTITIONS => Ok(()),
        _ => Err(Error::new(
            ErrorKind::TooLarge,
            format!(
                "{what}: {} partitions are over the limit of {MAX_PARTITIONS}",
                n.map_or_else(|| "more than usize::MAX".to_owned(), |n| n.to_string())
            ),
        )),
    }
}

/// Longest op label kept for fused tasks; longer chains keep their last steps.
const MAX_LABEL: usize = 64;

/// What a bag may hold: shareable, sendable, owned values.
pub trait Element: Clone + Send + Sync + 'static {}
impl<T: Clone + Send + Sync + 'static> Element for T {}

/// Where a stream pushes its elements; returns `false` to ask the producer to stop early.
pub(crate) type Sink<'a, T> = dyn FnMut(T) -> bool + 'a;

/// A partition's stream: given the values of its task's arguments, push every element into
/// the sink (stopping when it returns `false`).
pub(crate) type StreamFn<T> =
    dyn Fn(&[Value], &mut Sink<'_, T>) -> std::result::Result<(), TaskError> + Send + Sync;

/// The payload of a computed partition: its elements, in order. Its reported size counts
/// the elements themselves, not what they own on the heap (a `String`'s bytes).
#[derive(Debug)]
pub struct Partition<T>(pub Vec<T>);

impl<T: Send + Sync + 'static> Payload for Partition<T> {
    fn nbytes(&self) -> usize {
        self.0.len() * std::mem::size_of::<T>()
    }
    fn type_name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A partitioned collection of `T`, built lazily as a graph. See the [module docs](self).
pub struct Bag<T> {
    /// The token naming this bag's partitions `(name, i)`.
    name: Arc<str>,
    /// The op name of the fused partition task (the chain of steps).
    label: Arc<str>,
    /// Everything the partition tasks need. When `stored`, also the partitions themselves.
    graph: Graph,
    /// The arguments of partition `i`'s task; their count is the number of partitions.
    args: Arc<[Vec<Arg>]>,
    /// How partition `i` streams its elements from the values of `args[i]`.
    stream: Arc<StreamFn<T>>,
    /// Whether `graph` already holds the keys `(name, i)` (and `stream` just reads them).
    stored: bool,
    /// Fan-in of this bag's reduction trees.
    split_every: usize,
}

impl<T> Clone for Bag<T> {
    fn clone(&self) -> Self {
        Bag {
            name: self.name.clone(),
            label: self.label.clone(),
            graph: self.graph.clone(),
            args: self.args.clone(),
            stream: self.stream.clone(),
            stored: self.stored,
            split_every: self.split_every,
        }
    }
}

impl<T> std::fmt::Debug for Bag<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Bag<{}>({}, npartitions={})",
            std::any::type_name::<T>(),
            self.name,
            self.args.len()
        )
    }
}

impl<T: Element> Bag<T> {
    /// A bag with the given partitions (any number of them, empty ones included).
    ///
    /// ```
    /// use blockwork::{bag::Bag, Sequential};
    /// let b = Bag::from_partitions(vec![vec![1i64, 2], vec![], vec![3]]);
    /// assert_eq!(b.npartitions(), 3);
    /// assert_eq!(b.count().compute(&Sequential::new())?, 3);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn from_partitions(parts: Vec<Vec<T>>) -> Bag<T> {
        let name = token("from_sequence", &[], &unique());
        let mut graph = Graph::with_capacity(parts.len());
        for (i, p) in parts.into_iter().enumerate() {
            graph.insert(
                Key::block(&name, &[i]),
                Node::Literal(Value::payload(Partition(p))),
            );
        }
        let n = graph.len();
        Bag::stored(name, graph, n)
    }

    /// A bag of `items` in exactly `npartitions` partitions of nearly equal length (the
    /// first `len % npartitions` hold one more); partitions are empty when there are fewer
    /// items than partitions. Zero partitions is an
    /// [`InvalidArgument`](ErrorKind::InvalidArgument) error, more than [`MAX_PARTITIONS`]
    /// a [`TooLarge`](ErrorKind::TooLarge) one.
    pub fn from_vec(items: Vec<T>, npartitions: usize) -> Result<Bag<T>> {
        if npartitions == 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "a bag needs at least one partition",
            ));
        }
        check_partitions("from_vec", Some(npartitions))?;
        let (q, r) = (items.len() / npartitions, items.len() % npartitions);
        let mut it = items.into_iter();
        let parts = (0..npartitions)
            .map(|i| it.by_ref().take(q + usize::from(i < r)).collect())
            .collect();
        Ok(Bag::from_partitions(parts))
    }

    /// A bag of the items of an iterator, as [`Bag::from_vec`].
    pub fn from_iter(items: impl IntoIterator<Item = T>, npartitions: usize) -> Result<Bag<T>> {
        Bag::from_vec(items.into_iter().collect(), npartitions)
    }

    /// A bag whose partitions `(name, i)` for `i < n` are already nodes of `graph`, each
    /// producing a [`Partition<T>`].
    pub(crate) fn stored(name: Arc<str>, graph: Graph, n: usize) -> Bag<T> {
        let args: Vec<Vec<Arg>> = (0..n)
            .map(|i| vec![Arg::key(Key::block(&name, &[i]))])
            .collect();
        let stream: Arc<StreamFn<T>> = Arc::new(|args: &[Value], sink: &mut Sink<'_, T>| {
            for x in &partition_arg::<T>(args.first())?.0 {
                if !sink(x.clone()) {
                    break;
                }
            }
            Ok(())
        });
        Bag {
            label: Arc::from(name.split('-').next().unwrap_or("bag")),
            name,
            graph,
            args: args.into(),
            stream,
            stored: true,
            split_every: DEFAULT_SPLIT_EVERY,
        }
    }

    /// A bag whose partition `i` is streamed by `stream` from the values of `args[i]`,
    /// given the graph that those arguments refer into.
    pub(crate) fn streamed(
        name: Arc<str>,
        label: &str,
        graph: Graph,
        args: Vec<Vec<Arg>>,
        stream: Arc<StreamFn<T>>,
    ) -> Bag<T> {
        Bag {
            name,
            label: label.into(),
            graph,
            args: args.into(),
            stream,
            stored: false,
            split_every: DEFAULT_SPLIT_EVERY,
        }
    }

    /// A new bag derived from this one, [`Bag::streamed`] with this bag's fan-in.
    pub(crate) fn derive<U: Element>(
        &self,
        name: Arc<str>,
        label: &str,
        graph: Graph,
        args: Vec<Vec<Arg>>,
        stream: Arc<StreamFn<U>>,
    ) -> Bag<U> {
        let mut b = Bag::streamed(name, label, graph, args, stream);
        b.split_every = self.split_every;
        b
    }

    /// A bag with this bag's partition arguments and graph and a new stream: the next step
    /// of a fused chain. `tok` identifies the step's parameters.
    pub(crate) fn chain<U: Element>(
        &self,
        step: &str,
        tok: u64,
        stream: Arc<StreamFn<U>>,
    ) -> Bag<U> {
        Bag {
            name: token(step, &[&self.name], &tok),
            label: join_label(&self.label, step),
            graph: self.graph.clone(),
            args: self.args.clone(),
            stream,
            stored: false,
            split_every: self.split_every,
        }
    }

    /// The same bag with reduction trees of fan-in `split_every` (at least 2).
    pub fn with_split_every(&self, split_every: usize) -> Bag<T> {
        Bag {
            split_every: split_every.max(2),
            ..self.clone()
        }
    }

    /// The token naming the partitions.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of partitions.
    pub fn npartitions(&self) -> usize {
        self.args.len()
    }

    /// The keys of the partitions, `(name, i)`, in order.
    pub fn keys(&self) -> Vec<Key> {
        (0..self.npartitions()).map(|i| self.key(i)).collect()
    }

    pub(crate) fn key(&self, i: usize) -> Key {
        Key::block(&self.name, &[i])
    }

    pub(crate) fn split_every(&self) -> usize {
        self.split_every
    }

    /// The stream of this bag's partitions, for steps that fuse with it.
    pub(crate) fn stream(&self) -> &Arc<StreamFn<T>> {
        &self.stream
    }

    /// The graph the partition tasks refer into (without the partitions, unless stored).
    pub(crate) fn base_graph(&self) -> &Graph {
        &self.graph
    }

    /// Partition `i`'s arguments wrapped as one list argument, for tasks that take other
    /// arguments too: the stream gets the list's elements back with [`list_arg`].
    pub(crate) fn part_arg(&self, i: usize) -> Arg {
        Arg::List(self.args[i].clone())
    }

    /// The graph holding this bag's partitions under [`Bag::keys`]: the graph of its inputs
    /// plus, unless already stored, one fused task per partition.
    pub fn graph(&self) -> Graph {
        if self.stored {
            return self.graph.clone();
        }
        let mut g = self.graph.clone();
        let op = self.collect_op();
        for (i, args) in self.args.iter().enumerate() {
            g.insert(
                self.key(i),
                Node::Task(Task::new(&op, args.iter().cloned())),
            );
        }
        g
    }

    /// This bag with its partitions as nodes of its graph, for steps that read a partition
    /// more than once or from several tasks.
    pub(crate) fn materialized(&self) -> Bag<T> {
        if self.stored {
            return self.clone();
        }
        let mut b = Bag::stored(self.name.clone(), self.graph(), self.npartitions());
        b.label = self.label.clone();
        b.split_every = self.split_every;
        b
    }

    /// The op that runs the stream and collects the partition.
    fn collect_op(&self) -> Op {
        let stream = self.stream.clone();
        Op::new(self.label.to_string(), move |args: &[Value]| {
            let mut out = Vec::new();
            stream(args, &mut |x| {
                out.push(x);
                true
            })?;
            Ok(Value::payload(Partition(out)))
        })
    }

    /// Computes every partition and concatenates them in order.
    ///
    /// ```
    /// use blockwork::{bag::Bag, Pool};
    /// let b = Bag::from_vec(vec!["a", "bb", "ccc"], 2)?.map(|s| s.len());
    /// assert_eq!(b.compute(&Pool::new(2)?)?, vec![1, 2, 3]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn compute<E: Executor + ?Sized>(&self, exec: &E) -> Result<Vec<T>> {
        Ok(self
            .compute_partitions(exec)?
            .into_iter()
            .flatten()
            .collect())
    }

    /// Computes every partition, keeping them apart.
    pub fn compute_partitions<E: Executor + ?Sized>(&self, exec: &E) -> Result<Vec<Vec<T>>> {
        let plan = Plan::new(&self.graph(), &self.keys())?;
        let out = exec.run(&plan)?;
        out.values
            .iter()
            .map(|v| {
                Ok(partition_arg::<T>(Some(v))
                    .map_err(task_to_error)?
                    .0
                    .clone())
            })
            .collect()
    }

    /// Computes the partitions and returns a bag that holds them as literals, so that later
    /// computations start from them.
    pub fn persist<E: Executor + ?Sized>(&self, exec: &E) -> Result<Bag<T>> {
        let parts = self.compute_partitions(exec)?;
        let mut graph = Graph::with_capacity(parts.len());
        for (i, p) in parts.into_iter().enumerate() {
            graph.insert(self.key(i), Node::Literal(Value::payload(Partition(p))));
        }
        let mut b = Bag::stored(self.name.clone(), graph, self.npartitions());
        b.split_every = self.split_every;
        Ok(b)
    }

    /// The first `n` elements, computing partitions one at a time from the first and only as
    /// many as needed; each partition's stream stops once enough elements are found.
    ///
    /// ```
    /// use blockwork::{bag::Bag, Sequential};
    /// let b = Bag::from_partitions(vec![vec![1i64], vec![], vec![2, 3, 4]]);
    /// assert_eq!(b.take(3, &Sequential::new())?, vec![1, 2, 3]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn take<E: Executor + ?Sized>(&self, n: usize, exec: &E) -> Result<Vec<T>> {
        let mut out = Vec::with_capacity(n.min(1 << 16));
        for i in 0..self.npartitions() {
            if out.len() >= n {
                break;
            }
            let limit = n - out.len();
            let stream = self.stream.clone();
            let op = Op::new(format!("{}-take", self.label), move |args: &[Value]| {
                let mut part = Vec::new();
                if limit > 0 {
                    stream(args, &mut |x| {
                        part.push(x);
                        part.len() < limit
                    })?;
                }
                Ok(Value::payload(Partition(part)))
            });
            let key = Key::tuple(&format!("take-{limit}-{}", self.name), [i]);
            let mut g = self.graph.clone();
            g.insert(
                key.clone(),
                Node::Task(Task::new(&op, self.args[i].iter().cloned())),
            );
            let v = exec.run(&Plan::new(&g, std::slice::from_ref(&key))?)?;
            let part = partition_arg::<T>(v.values.first()).map_err(task_to_error)?;
            out.extend(part.0.iter().take(limit).cloned());
        }
        Ok(out)
    }
}

/// Turns a computed value into an [`Item`]'s result.
type Finish<T> = dyn Fn(&Value) -> Result<T> + Send + Sync;

/// One lazy value: the result of a reduction over a bag (dask's `Item`).
///
/// ```
/// use blockwork::{bag::Bag, Sequential};
/// let total = Bag::from_vec(vec![1.5f64, 2.5], 2)?.sum();
/// assert_eq!(total.compute(&Sequential::new())?, 4.0);
/// # Ok::<(), blockwork::Error>(())
/// ```
pub struct Item<T> {
    key: Key,
    graph: Graph,
    /// Turns the final task's value into the result (typed errors such as an empty mean are
    /// raised here, on the caller's side, so that their kind survives).
    finish: Arc<Finish<T>>,
}

impl<T> Clone for Item<T> {
    fn clone(&self) -> Self {
        Item {
            key: self.key.clone(),
            graph: self.graph.clone(),
            finish: self.finish.clone(),
        }
    }
}

impl<T> std::fmt::Debug for Item<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Item<{}>({})", std::any::type_name::<T>(), self.key)
    }
}

impl<T: 'static> Item<T> {
    pub(crate) fn new(
        key: Key,
        graph: Graph,
        finish: impl Fn(&Value) -> Result<T> + Send + Sync + 'static,
    ) -> Item<T> {
        Item {
            key,
            graph,
            finish: Arc::new(finish),
        }
    }

    /// The key of the final task.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// The graph computing it.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Turns the final task's value into the result.
    pub(crate) fn finish_value(&self, v: &Value) -> Result<T> {
        (self.finish)(v)
    }

    /// Runs the graph and returns the value.
    pub fn compute<E: Executor + ?Sized>(&self, exec: &E) -> Result<T> {
        let plan = Plan::new(&self.graph, std::slice::from_ref(&self.key))?;
        let out = exec.run(&plan)?;
        let v = out
            .values
            .first()
            .ok_or_else(|| Error::new(ErrorKind::MissingKey, "no output"))?;
        (self.finish)(v)
    }
}

/// The partition payload in an argument value.
pub(crate) fn partition_arg<T: 'static>(
    v: Option<&Value>,
) -> std::result::Result<&Partition<T>, TaskError> {
    v.and_then(|v| v.downcast_ref::<Partition<T>>())
        .ok_or_else(|| wrong_type(std::any::type_name::<Partition<T>>(), v))
}

/// The typed payload in an argument value.
pub(crate) fn payload_arg<A: 'static>(v: Option<&Value>) -> std::result::Result<&A, TaskError> {
    v.and_then(|v| v.downcast_ref::<A>())
        .ok_or_else(|| wrong_type(std::any::type_name::<A>(), v))
}

/// The elements of a list argument (a partition's wrapped arguments).
pub(crate) fn list_arg(v: Option<&Value>) -> std::result::Result<&[Value], TaskError> {
    v.and_then(Value::as_list)
        .ok_or_else(|| wrong_type("list", v))
}

#[cold]
fn wrong_type(expected: &str, got: Option<&Value>) -> TaskError {
    TaskError::with_kind(
        ErrorKind::Type,
        format!(
            "expected {expected}, got {}",
            got.map_or("nothing", Value::type_name)
        ),
    )
}

#[cold]
pub(crate) fn task_to_error(e: TaskError) -> Error {
    Error::new(e.kind(), e.message())
}

/// A name `"{step}-{hex}"` from the step, the parents' names and the parameters.
pub(crate) fn token(step: &str, parents: &[&str], params: &impl Hash) -> Arc<str> {
    let mut h = DefaultHasher::new();
    step.hash(&mut h);
    parents.hash(&mut h);
    params.hash(&mut h);
    format!("{step}-{:016x}", h.finish()).into()
}

/// A deterministic hash of parameters.
pub(crate) fn hash_of(params: &impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    params.hash(&mut h);
    h.finish()
}

/// A token for a closure: its type when it captures nothing (the type is then the code),
/// otherwise a fresh number (its captures cannot be hashed in general).
pub(crate) fn fn_token<F: 'static>(_f: &F) -> u64 {
    if std::mem::size_of::<F>() == 0 {
        hash_of(&TypeId::of::<F>())
    } else {
        unique()
    }
}

/// A number never returned before in this process (with the high bit set, so that it
/// cannot equal a hash of ordinary parameters by design, only by a 2^-63 accident).
pub(crate) fn unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed) | (1 << 63)
}

/// `label` extended by `step`, keeping only the tail past [`MAX_LABEL`] bytes.
fn join_label(label: &str, step: &str) -> Arc<str> {
    let full = format!("{label}-{step}");
    if full.len() <= MAX_LABEL {
        return full.into();
    }
    let mut cut = full.len() - MAX_LABEL;
    while !full.is_char_boundary(cut) {
        cut += 1;
    }
    format!("...{}", &full[cut..]).into()
}
