//! Delayed values: lazy results of ordinary function calls, in the manner of `dask.delayed`.
//!
//! [`delayed`] wraps a function; calling it with [`DelayedFn::call1`] (`call0` to `call8`)
//! records the call instead of running it and returns a typed [`Delayed<T>`]; the
//! [`delayed!`](crate::delayed!) macro writes the call itself, `delayed!(fit(&data, 3))`. Arguments
//! are other delayed values (`&Delayed<T>` where the function takes `T`, or takes a view
//! of it) or plain values, which become literals. Nothing runs until
//! [`Delayed::compute`] (or [`compute`](crate::compute()) of several), which builds one task
//! per call and runs them on any executor, in parallel where they are independent.
//!
//! ```
//! use blockwork::{delayed, Pool};
//!
//! fn load(n: usize) -> Vec<f64> { (0..n).map(|i| i as f64).collect() }
//! fn scale(xs: Vec<f64>, k: f64) -> Vec<f64> { xs.into_iter().map(|x| x * k).collect() }
//! fn total(a: Vec<f64>, b: Vec<f64>) -> f64 { a.iter().chain(&b).sum() }
//!
//! let data = delayed("load", load).call1(4usize);
//! let a = delayed("scale", scale).call2(&data, 2.0);
//! let b = delayed("scale", scale).call2(&data, 10.0);
//! let t = delayed("total", total).call2(&a, &b);
//! assert_eq!(t.compute(&Pool::new(2)?)?, 12.0 + 60.0);
//! # Ok::<(), blockwork::Error>(())
//! ```
//!
//! # Keys
//!
//! Each call's key is `name-` and a hash of the name, the function and the arguments (the
//! keys of delayed arguments, the values of literal ones), so the same call made twice
//! gives the same key and is computed once in a graph holding both. A function is
//! identified by its type when it captures nothing (a function item or a capture-free
//! closure: the type is the code). A closure that captures state cannot be hashed, so each
//! [`delayed`] of one gets a fresh token and its calls never share keys with another's;
//! calls through one [`DelayedFn`] share it. [`delayed_with_token`] names the function
//! with a token instead, a promise that equal tokens mean equal functions. A literal that
//! cannot be hashed (an opaque payload, an array) makes its call's key fresh as well.
//!
//! # With arrays and bags
//!
//! [`Delayed::from_scalar`] turns a one-element array (a full reduction) into a
//! `Delayed<T>`, and [`Delayed::from_array`] a whole array into a `Delayed<ArrayD<T>>`;
//! [`Delayed::to_bag`] makes a bag whose partitions are delayed lists. Results convert with
//! [`FromValue`]: what a function returns is what a `Delayed` of it computes to, through
//! [`IntoTaskResult::Output`].

use crate::array::{Array, BlockData, Element, Filtered, Scalar};
use crate::bag::{self, Bag, Partition};
use crate::compute::{Collection, assemble, block_value, merge_new, one_value, task_error};
use crate::error::{Error, ErrorKind, Result, TaskError};
use crate::exec::Executor;
use crate::graph::{Arg, Graph, Node, Op, Task, TypedFn};
use crate::key::Key;
use crate::value::{FromValue, IntoTaskResult, Value};
use ndarray::{ArrayD, ArrayView, Dimension};
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};

/// A lazy value of type `T`: the result of a recorded call, computed on demand.
///
/// Cloning is an `Arc` clone. See the [module docs](self).
///
/// ```
/// use blockwork::{delayed, Delayed, Sequential};
/// let x: Delayed<i64> = Delayed::value(20i64);
/// let y = x.map("inc", |v: i64| v + 1);
/// assert_eq!(y.compute(&Sequential::new())?, 21);
/// # Ok::<(), blockwork::Error>(())
/// ```
pub struct Delayed<T> {
    node: Arc<DNode>,
    _type: PhantomData<fn() -> T>,
}

/// One recorded call: its key, the graph that defines the key (one task, or a whole
/// collection's graph for values made from arrays and bags), and the calls it reads.
struct DNode {
    key: Key,
    graph: Graph,
    deps: Vec<Arc<DNode>>,
}

impl<T> Clone for Delayed<T> {
    fn clone(&self) -> Self {
        Delayed {
            node: self.node.clone(),
            _type: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Delayed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Delayed<{}>({})",
            std::any::type_name::<T>(),
            self.node.key
        )
    }
}

impl<T> Delayed<T> {
    fn from_node(key: Key, graph: Graph, deps: Vec<Arc<DNode>>) -> Delayed<T> {
        Delayed {
            node: Arc::new(DNode { key, graph, deps }),
            _type: PhantomData,
        }
    }

    /// The key of the value in its graph.
    ///
    /// ```
    /// use blockwork::delayed;
    /// fn double(x: i64) -> i64 { 2 * x }
    /// let a = delayed("double", double).call1(3i64);
    /// let b = delayed("double", double).call1(3i64);
    /// assert_eq!(a.key(), b.key()); // the same call, the same key
    /// assert_ne!(a.key(), delayed("double", double).call1(4i64).key());
    /// assert!(a.key().to_string().starts_with("double-"));
    /// ```
    pub fn key(&self) -> &Key {
        &self.node.key
    }

    /// The graph of every call this value needs (each key once).
    ///
    /// ```
    /// use blockwork::delayed;
    /// let a = delayed("one", || 1i64).call0();
    /// let b = delayed("add", |x: i64, y: i64| x + y).call2(&a, &a);
    /// assert_eq!(b.graph().len(), 2);
    /// ```
    pub fn graph(&self) -> Graph {
        let mut graph = Graph::new();
        let mut seen = rustc_hash::FxHashSet::default();
        let mut stack = vec![&self.node];
        while let Some(n) = stack.pop() {
            if seen.insert(&n.key) {
                merge_new(&mut graph, &n.graph);
                stack.extend(n.deps.iter());
            }
        }
        graph
    }

    /// A delayed call of `f` on this value (`delayed(name, f).call1(self)`).
    ///
    /// ```
    /// use blockwork::{Delayed, Sequential};
    /// let words = Delayed::value(vec!["a".to_string(), "bc".to_string()]);
    /// let lens = words.map("lens", |w: Vec<String>| w.iter().map(|s| s.len()).collect::<Vec<_>>());
    /// assert_eq!(lens.compute(&Sequential::new())?, vec![1, 2]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn map<F, R>(&self, name: &str, f: F) -> Delayed<R::Output>
    where
        F: TypedFn<(T,)> + Fn(T) -> R,
        R: IntoTaskResult,
    {
        delayed(name, f).call1(self)
    }
}

impl<T: FromValue> Delayed<T> {
    /// Runs the graph on `exec` and returns the value.
    ///
    /// Errors: a failing call is an [`Error::Task`] naming its key and function, with the
    /// function's error as its [`source`](std::error::Error::source); a result that does
    /// not convert into `T` is an [`ErrorKind::Type`] error.
    ///
    /// ```
    /// use blockwork::{delayed, ErrorKind, Sequential, TaskError};
    /// let parsed = delayed("parse", |s: String| -> Result<i64, TaskError> { Ok(s.parse()?) });
    /// assert_eq!(parsed.call1("42").compute(&Sequential::new())?, 42);
    /// let err = parsed.call1("x").compute(&Sequential::new()).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::TaskFailed);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn compute<E: Executor + ?Sized>(&self, exec: &E) -> Result<T> {
        crate::compute::compute(self, exec)
    }
}

impl<T> Delayed<T> {
    /// A delayed literal: `value` itself, as an argument to delayed calls.
    ///
    /// ```
    /// use blockwork::{Delayed, Sequential};
    /// assert_eq!(Delayed::value(2.5f64).compute(&Sequential::new())?, 2.5);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn value<V: IntoTaskResult<Output = T>>(value: V) -> Delayed<T> {
        let input = value.into_input();
        let key = Key::from(token("value", &[input.token]));
        let node = match input.arg {
            Arg::Lit(v) => Node::Literal(v),
            other => Node::Task(Task::new(&identity(), [other])),
        };
        let mut graph = Graph::with_capacity(1);
        graph.insert(key.clone(), node);
        Delayed::from_node(key, graph, vec![])
    }
}

/// An op returning its one argument.
fn identity() -> Op {
    Op::new("value", |args: &[Value]| {
        one_value(args)
            .cloned()
            .map_err(|e| TaskError::with_kind(e.kind(), e.to_string()))
    })
}

impl<T: Element> Delayed<T> {
    /// The one element of a one-element array (a full reduction such as `sum(None)`), cast
    /// to `T` as [`Scalar::cast`](crate::array::Scalar::cast) casts.
    ///
    /// Errors: an array of other than one element is an [`ErrorKind::Shape`] error.
    ///
    /// ```
    /// use blockwork::{array::ArrayContext, delayed, Delayed, Sequential};
    /// let ctx = ArrayContext::new();
    /// let x = ctx.from_ndarray(&ndarray::ArrayD::<f64>::from_elem(vec![3, 4], 0.5), 2)?;
    /// let total: Delayed<f64> = Delayed::from_scalar(&x.sum(None)?)?;
    /// let pct = delayed("pct", |t: f64, n: usize| 100.0 * t / n as f64).call2(&total, 12usize);
    /// assert_eq!(pct.compute(&Sequential::new())?, 50.0);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn from_scalar(array: &Array) -> Result<Delayed<T>> {
        if array.len() != 1 {
            return Err(Error::new(
                ErrorKind::Shape,
                format!("a delayed scalar of an array of shape {:?}", array.shape()),
            ));
        }
        let block = array.keys().remove(0);
        let key = Key::from(token(
            "scalar",
            &[hash_of(&(array.name(), T::DTYPE.name()))],
        ));
        let op = Op::new(format!("scalar-{}", T::DTYPE), |args: &[Value]| {
            let b = args
                .first()
                .and_then(|v| v.downcast_ref::<crate::array::Block>())
                .ok_or_else(|| TaskError::with_kind(ErrorKind::Type, "expected an array block"))?;
            let x = first_scalar(b.data())
                .ok_or_else(|| TaskError::with_kind(ErrorKind::Shape, "expected one element"))?;
            Ok(match T::from_scalar(x).scalar() {
                Scalar::Bool(b) => Value::Bool(b),
                Scalar::I32(i) => Value::Int(i.into()),
                Scalar::I64(i) => Value::Int(i),
                Scalar::F32(f) => Value::Float(f.into()),
                Scalar::F64(f) => Value::Float(f),
            })
        });
        Delayed::from_collection(array, key, &op, vec![Arg::key(block)])
    }
}

/// The first element of a block.
fn first_scalar(d: &BlockData) -> Option<Scalar> {
    match d {
        BlockData::Bool(a) => a.iter().next().map(|x| x.scalar()),
        BlockData::I32(a) => a.iter().next().map(|x| x.scalar()),
        BlockData::I64(a) => a.iter().next().map(|x| x.scalar()),
        BlockData::F32(a) => a.iter().next().map(|x| x.scalar()),
        BlockData::F64(a) => a.iter().next().map(|x| x.scalar()),
    }
}

impl<T: Element> Delayed<ArrayD<T>> {
    /// The whole array, assembled into one `ArrayD<T>` by one task reading every block.
    ///
    /// Errors: an array whose element type is not `T` is an [`ErrorKind::Type`] error.
    ///
    /// ```
    /// use blockwork::{array::ArrayContext, delayed, Delayed, Sequential};
    /// use ndarray::ArrayView2;
    /// let ctx = ArrayContext::new();
    /// let x = ctx.from_ndarray(&ndarray::Array2::<f64>::eye(3).into_dyn(), 2)?;
    /// let m = Delayed::<ndarray::ArrayD<f64>>::from_array(&x)?;
    /// let trace = delayed("trace", |a: ArrayView2<f64>| a.diag().sum()).call1(&m);
    /// assert_eq!(trace.compute(&Sequential::new())?, 3.0);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn from_array(array: &Array) -> Result<Delayed<ArrayD<T>>> {
        Self::assembled(array, array)
    }

    /// A whole [`Filtered`] as one delayed 1-d `ArrayD<T>` (as [`Delayed::from_array`];
    /// the lengths are found when it runs).
    ///
    /// ```
    /// use blockwork::{Delayed, Sequential};
    /// use blockwork::array::ArrayContext;
    /// let ctx = ArrayContext::new();
    /// let x = ctx.arange(0.0, 6.0, 1.0, 4)?;
    /// let d = Delayed::<ndarray::ArrayD<f64>>::from_filtered(&x.mask(&x.gt(3.5)?)?)?;
    /// assert_eq!(d.compute(&Sequential::new())?.into_raw_vec_and_offset().0, vec![4.0, 5.0]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn from_filtered(filtered: &Filtered) -> Result<Delayed<ArrayD<T>>> {
        Self::assembled(filtered.inner(), filtered)
    }

    /// `array`'s blocks assembled by one task, with the graph of collection `c`.
    fn assembled(array: &Array, c: &impl Collection) -> Result<Delayed<ArrayD<T>>> {
        if array.dtype() != T::DTYPE {
            return Err(Error::new(
                ErrorKind::Type,
                format!("array is {}, asked for {}", array.dtype(), T::DTYPE),
            ));
        }
        let key = Key::from(token("array", &[hash_of(array.name())]));
        let a = array.clone();
        let op = Op::new("assemble", move |args: &[Value]| {
            assemble(&a, args).map(block_value)
        });
        let args = array.keys().into_iter().map(Arg::key).collect();
        Delayed::from_collection(c, key, &op, args)
    }

    /// The blocks of `array` as delayed values, row-major over its grid (dask's
    /// `to_delayed`): feed them to one's own calls, or make an array of them again with
    /// [`Delayed::to_array`]. Each shares the array's graph; computing one runs only what
    /// its block needs.
    ///
    /// Errors: an array whose element type is not `T` is an [`ErrorKind::Type`] error.
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// use blockwork::ndarray::{Array2, ArrayD};
    /// use blockwork::{delayed, Delayed, Sequential};
    /// let ctx = ArrayContext::new();
    /// let x = ctx.from_ndarray(&Array2::from_shape_fn((4, 3), |(i, j)| (i * 3 + j) as f64).into_dyn(), [2, 3])?;
    /// let blocks = Delayed::<ArrayD<f64>>::to_blocks(&x)?;
    /// let sums: Vec<f64> = blocks
    ///     .iter()
    ///     .map(|b| delayed("total", |a: ArrayD<f64>| a.sum()).call1(b).compute(&Sequential::new()))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(sums, [15.0, 51.0]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn to_blocks(array: &Array) -> Result<Vec<Delayed<ArrayD<T>>>> {
        if array.dtype() != T::DTYPE {
            return Err(Error::new(
                ErrorKind::Type,
                format!("array is {}, asked for {}", array.dtype(), T::DTYPE),
            ));
        }
        let graph = array.graph()?;
        Ok(array
            .keys()
            .into_iter()
            .map(|k| Delayed::from_node(k, graph.clone(), vec![]))
            .collect())
    }

    /// An array whose blocks are what `blocks` compute: one per block, row-major over the
    /// grid of `chunks` on `shape` (see
    /// [`ArrayContext::from_blocks`](crate::array::ArrayContext::from_blocks), which checks
    /// the count and the chunks before anything runs, and each block's type and shape when
    /// it is computed).
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// use blockwork::ndarray::{ArrayD, IxDyn};
    /// use blockwork::{delayed, Delayed, Sequential};
    /// fn load(i: i64) -> ArrayD<f64> { ArrayD::from_elem(IxDyn(&[2, 3]), i as f64) }
    /// let blocks: Vec<Delayed<ArrayD<f64>>> =
    ///     (0..4).map(|i| delayed("load", load).call1(i)).collect();
    /// let x = Delayed::to_array(&ArrayContext::new(), &blocks, &[8, 3], [2, 3])?;
    /// assert_eq!(x.sum(None)?.compute_f64(&Sequential::new())?, 3.0 * 2.0 * (0.0 + 1.0 + 2.0 + 3.0));
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn to_array(
        ctx: &crate::array::ArrayContext,
        blocks: &[Delayed<ArrayD<T>>],
        shape: &[usize],
        chunks: impl Into<crate::array::ChunkSpec>,
    ) -> Result<Array> {
        let mut graph = Graph::new();
        for b in blocks {
            merge_new(&mut graph, &b.graph());
        }
        let keys: Vec<Key> = blocks.iter().map(|b| b.key().clone()).collect();
        ctx.from_blocks(graph, keys, shape, chunks, T::DTYPE)
    }
}

impl<T> Delayed<T> {
    /// A value computed by `op` on `args` of a collection's graph.
    fn from_collection(
        c: &impl Collection,
        key: Key,
        op: &Op,
        args: Vec<Arg>,
    ) -> Result<Delayed<T>> {
        let mut graph = c.task_graph()?;
        graph.insert(key.clone(), Node::Task(Task::new(op, args)));
        Ok(Delayed::from_node(key, graph, vec![]))
    }
}

impl<T: FromValue + bag::Element> Delayed<Vec<T>> {
    /// A bag whose partition `i` is the list `parts[i]` computes to.
    ///
    /// ```
    /// use blockwork::{delayed, Delayed, Sequential};
    /// fn chunk(i: i64) -> Vec<i64> { (0..3).map(|j| 10 * i + j).collect() }
    /// let parts: Vec<Delayed<Vec<i64>>> = (0..3).map(|i| delayed("chunk", chunk).call1(i)).collect();
    /// let b = Delayed::to_bag(&parts);
    /// assert_eq!(b.npartitions(), 3);
    /// assert_eq!(b.sum().compute(&Sequential::new())?, 3 * 3 + 10 * 3 + 20 * 3);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn to_bag(parts: &[Delayed<Vec<T>>]) -> Bag<T> {
        let keys: Vec<&Key> = parts.iter().map(Delayed::key).collect();
        let name: Arc<str> = token("from_delayed", &[hash_of(&keys)]).into();
        let op = Op::new("from_delayed", |args: &[Value]| {
            let items = Vec::<T>::from_value(
                one_value(args).map_err(|e| TaskError::with_kind(e.kind(), e.to_string()))?,
            )?;
            Ok(Value::payload(Partition(items)))
        });
        let mut graph = Graph::new();
        for (i, p) in parts.iter().enumerate() {
            merge_new(&mut graph, &p.graph());
            graph.insert(
                Key::block(&name, &[i]),
                Node::Task(Task::new(&op, [Arg::key(p.key().clone())])),
            );
        }
        Bag::stored(name, graph, parts.len())
    }
}

/// Computes to the value the call returns.
impl<T: FromValue> Collection for Delayed<T> {
    type Output = T;
    fn task_graph(&self) -> Result<Graph> {
        Ok(self.graph())
    }
    fn output_keys(&self) -> Vec<Key> {
        vec![self.key().clone()]
    }
    fn finish(&self, values: Vec<Value>) -> Result<T> {
        T::from_value(one_value(&values)?).map_err(task_error)
    }
}

/// A function whose calls are recorded as [`Delayed`] values; made by [`delayed`].
pub struct DelayedFn<F> {
    name: Arc<str>,
    f: Arc<F>,
    /// Identifies the function in keys: its type, a token, or a fresh number.
    id: u64,
    /// The op of every call, made on the first (all calls share it).
    op: OnceLock<Op>,
}

/// Wraps `f` so that calls to it are recorded, not run; see the [module docs](self).
///
/// ```
/// use blockwork::{delayed, Sequential};
/// let add = delayed("add", |a: i64, b: i64| a + b);
/// let x = add.call2(1i64, 2i64);
/// let y = add.call2(&x, 10i64);
/// assert_eq!(y.compute(&Sequential::new())?, 13);
/// # Ok::<(), blockwork::Error>(())
/// ```
pub fn delayed<F: Send + Sync + 'static>(name: &str, f: F) -> DelayedFn<F> {
    let id = if std::mem::size_of::<F>() == 0 {
        hash_of(&std::any::TypeId::of::<F>())
    } else {
        fresh()
    };
    DelayedFn::new(name, id, f)
}

/// [`delayed`] with a token naming the function in keys instead of its type: calls of
/// functions given equal names and tokens on equal arguments are taken to be one (whichever
/// a graph holds first is computed). For closures that capture state whose calls should
/// still share keys.
///
/// ```
/// use blockwork::delayed::delayed_with_token;
/// let k = 3i64;
/// let a = delayed_with_token("times", ("times", k), move |x: i64| x * k).call1(2i64);
/// let b = delayed_with_token("times", ("times", k), move |x: i64| x * k).call1(2i64);
/// assert_eq!(a.key(), b.key());
/// ```
pub fn delayed_with_token<F: Send + Sync + 'static>(
    name: &str,
    token: impl Hash,
    f: F,
) -> DelayedFn<F> {
    DelayedFn::new(name, hash_of(&(0x746f6b656eu64, token)), f)
}

impl<F: Send + Sync + 'static> DelayedFn<F> {
    fn new(name: &str, id: u64, f: F) -> DelayedFn<F> {
        DelayedFn {
            name: name.into(),
            f: Arc::new(f),
            id,
            op: OnceLock::new(),
        }
    }

    /// The op running `f`, made on the first call.
    fn op<Args>(&self) -> &Op
    where
        F: TypedFn<Args>,
    {
        self.op.get_or_init(|| {
            let f = self.f.clone();
            Op::new(self.name.to_string(), move |args: &[Value]| {
                f.call_values(args)
            })
        })
    }

    /// The delayed call of this function on `inputs`.
    fn record<Args, R: IntoTaskResult>(&self, inputs: Vec<Input>) -> Delayed<R::Output>
    where
        F: TypedFn<Args>,
    {
        let tokens: Vec<u64> = inputs.iter().map(|i| i.token).collect();
        let key = Key::from(token(&self.name, &[self.id, hash_of(&tokens)]));
        let mut args = Vec::with_capacity(inputs.len());
        let mut deps = Vec::new();
        for i in inputs {
            args.push(i.arg);
            deps.extend(i.dep);
        }
        let mut graph = Graph::with_capacity(1);
        graph.insert(key.clone(), Node::Task(Task::new(self.op(), args)));
        Delayed::from_node(key, graph, deps)
    }
}

macro_rules! calls {
    ($($call:ident $n:literal: $($a:ident $x:ident),*;)*) => {$(
        impl<F: Send + Sync + 'static> DelayedFn<F> {
            #[doc = concat!("Records a call with ", stringify!($n), " arguments, each a `&Delayed` or a")]
            /// plain value (see [`DelayedArg`]), and returns its lazy result.
            ///
            /// ```
            /// use blockwork::{delayed, Sequential};
            /// let three = delayed("three", |a: i64, b: f64, c: String| format!("{a} {b} {c}"));
            /// let s = three.call3(1i64, 2.5, "x");
            /// assert_eq!(s.compute(&Sequential::new())?, "1 2.5 x");
            /// # Ok::<(), blockwork::Error>(())
            /// ```
            #[allow(clippy::too_many_arguments)]
            pub fn $call<$($a,)* R>(&self, $($x: impl DelayedArg<$a>),*) -> Delayed<R::Output>
            where
                F: TypedFn<($($a,)*)> + Fn($($a),*) -> R,
                R: IntoTaskResult,
            {
                self.record::<($($a,)*), R>(vec![$($x.into_input()),*])
            }
        }
    )*};
}
calls! {
    call0 0: ;
    call1 1: A a;
    call2 2: A a, B b;
    call3 3: A a, B b, C c;
    call4 4: A a, B b, C c, D d;
    call5 5: A a, B b, C c, D d, E e;
    call6 6: A a, B b, C c, D d, E e, G g;
    call7 7: A a, B b, C c, D d, E e, G g, H h;
    call8 8: A a, B b, C c, D d, E e, G g, H h, I i;
}

#[macro_export]
#[doc(hidden)]
macro_rules! __delayed_call {
    (@call $f:expr;) => { $f.call0() };
    (@call $f:expr; $a:expr) => { $f.call1($a) };
    (@call $f:expr; $a:expr, $b:expr) => { $f.call2($a, $b) };
    (@call $f:expr; $a:expr, $b:expr, $c:expr) => { $f.call3($a, $b, $c) };
    (@call $f:expr; $a:expr, $b:expr, $c:expr, $d:expr) => { $f.call4($a, $b, $c, $d) };
    (@call $f:expr; $a:expr, $b:expr, $c:expr, $d:expr, $e:expr) => {
        $f.call5($a, $b, $c, $d, $e)
    };
    (@call $f:expr; $a:expr, $b:expr, $c:expr, $d:expr, $e:expr, $g:expr) => {
        $f.call6($a, $b, $c, $d, $e, $g)
    };
    (@call $f:expr; $a:expr, $b:expr, $c:expr, $d:expr, $e:expr, $g:expr, $h:expr) => {
        $f.call7($a, $b, $c, $d, $e, $g, $h)
    };
    (@call $f:expr; $a:expr, $b:expr, $c:expr, $d:expr, $e:expr, $g:expr, $h:expr, $i:expr) => {
        $f.call8($a, $b, $c, $d, $e, $g, $h, $i)
    };
    ($($f:ident)::+ ( $($arg:expr),* $(,)? )) => {
        $crate::__delayed_call!(@call
            $crate::delayed::delayed(&stringify!($($f)::+).replace(' ', ""), $($f)::+);
            $($arg),*)
    };
}

/// A delayed call of a named function, written as the call itself:
/// `delayed!(fit(&data, 3))` is `delayed("fit", fit).call2(&data, 3)`. The function is a
/// path to a function item (`fit`, `stats::fit`), whose path names it in the key; its
/// arguments are `&Delayed` values or plain ones, as [`DelayedFn::call1`] and the other
/// calls take them, zero to eight of them (more: pass a tuple, or a `Vec`).
///
/// ```
/// use blockwork::{delayed, Sequential};
///
/// fn load(n: usize) -> Vec<f64> { (0..n).map(|i| i as f64).collect() }
/// fn fit(xs: Vec<f64>, degree: u32) -> f64 { xs.iter().map(|x| x.powi(degree as i32)).sum() }
/// fn mix(a: f64, b: f64, c: f64, d: f64, e: f64, f: f64, g: f64, h: i64) -> f64 {
///     a + b + c + d + e + f + g + h as f64
/// }
///
/// let a = delayed!(load(4usize));
/// let b = delayed!(fit(&a, 2u32));            // 0 + 1 + 4 + 9
/// assert_eq!(b.compute(&Sequential::new())?, 14.0);
/// assert_eq!(b.key(), delayed!(fit(&a, 2u32)).key()); // deterministic keys
/// let m = delayed!(mix(&b, &b, 1.0, 1.0, 1.0, 1.0, 1.0, 2i64));
/// assert_eq!(m.compute(&Sequential::new())?, 35.0);
/// # Ok::<(), blockwork::Error>(())
/// ```
pub use crate::__delayed_call as delayed;

/// An argument of a delayed call, converted; see [`DelayedArg`].
pub struct Input {
    arg: Arg,
    token: u64,
    dep: Option<Arc<DNode>>,
}

/// What a delayed call takes where the function takes an `A`: a `&Delayed<A>` (a
/// dependency), a `&Delayed<Array<T, D>>` where `A` is a view of it, or a plain `A`, which
/// becomes a literal argument (converted with [`IntoTaskResult`]; a conversion that fails
/// makes the call fail with that error when it runs). Anything else is a compile error
/// naming both types:
///
/// ```compile_fail,E0277
/// let inc = blockwork::delayed("inc", |x: i64| x + 1);
/// let y = inc.call1("three"); // `&str` cannot be passed where the delayed function takes `i64`
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be passed where the delayed function takes `{A}`",
    label = "expected `{A}` or `&Delayed<{A}>`"
)]
pub trait DelayedArg<A> {
    /// The argument as recorded.
    ///
    /// ```
    /// use blockwork::delayed::DelayedArg;
    /// let _ = DelayedArg::<i64>::into_input(3i64);
    /// ```
    fn into_input(self) -> Input;
}

impl<T> DelayedArg<T> for &Delayed<T> {
    fn into_input(self) -> Input {
        dep_input(&self.node)
    }
}

/// A view of a delayed array; its number of axes is checked when the call runs.
impl<'x, T: Element, D: Dimension, E: Dimension> DelayedArg<ArrayView<'x, T, D>>
    for &Delayed<ndarray::Array<T, E>>
{
    fn into_input(self) -> Input {
        dep_input(&self.node)
    }
}

fn dep_input(node: &Arc<DNode>) -> Input {
    Input {
        arg: Arg::key(node.key.clone()),
        token: hash_of(&node.key),
        dep: Some(node.clone()),
    }
}

impl<A: IntoTaskResult> DelayedArg<A> for A {
    fn into_input(self) -> Input {
        let (arg, token) = match self.into_task_result() {
            Ok(v) => {
                let token = value_hash(&v).unwrap_or_else(fresh);
                (Arg::Lit(v), token)
            }
            Err(e) => {
                let op = Op::new("literal", move |_: &[Value]| Err(e.clone()));
                (Arg::task(&op, []), fresh())
            }
        };
        Input {
            arg,
            token,
            dep: None,
        }
    }
}

/// A string literal where the function takes a `String`.
impl DelayedArg<String> for &str {
    fn into_input(self) -> Input {
        DelayedArg::<String>::into_input(self.to_string())
    }
}

/// A hash of a literal value, or `None` when it holds an opaque payload (which cannot be
/// hashed in general). Lists are walked with an explicit stack.
fn value_hash(v: &Value) -> Option<u64> {
    let mut h = rustc_hash::FxHasher::default();
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        std::mem::discriminant(v).hash(&mut h);
        match v {
            Value::Unit => {}
            Value::Bool(b) => b.hash(&mut h),
            Value::Int(i) => i.hash(&mut h),
            Value::Float(f) => f.to_bits().hash(&mut h),
            Value::Str(s) => s.hash(&mut h),
            Value::List(l) => {
                l.len().hash(&mut h);
                stack.extend(l.iter().rev());
            }
            _ => return None,
        }
    }
    Some(h.finish())
}

/// A deterministic hash.
fn hash_of(x: &impl Hash) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    x.hash(&mut h);
    h.finish()
}

/// A number never returned before in this process, for what cannot be hashed.
fn fresh() -> u64 {
    crate::bag::unique()
}

/// A key name `"{name}-{hex}"` from a name and parts.
fn token(name: &str, parts: &[u64]) -> String {
    // Two differently seeded passes give 96 bits, so that similar calls do not collide.
    let a = hash_of(&(name, parts));
    let b = hash_of(&(a, 0x9E37_79B9u32, parts));
    format!("{name}-{a:016x}{:08x}", b as u32)
}
