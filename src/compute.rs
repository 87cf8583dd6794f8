//! Computing several collections in one run.
//!
//! [`compute`] takes a tuple of references to lazy collections (arrays, bags, bag items,
//! [`Delayed`](crate::delayed::Delayed) values), merges their graphs, runs them once, and
//! returns their results as a tuple: the work they share (the same keys, as equal
//! computations get equal keys) is computed once. An array gives a [`BlockData`];
//! [`Array::typed`] gives it as an `ndarray` of a chosen element type and dimension.
//!
//! ```
//! use blockwork::{bag::Bag, compute, Sequential};
//! let b = Bag::from_vec((1..=10i64).collect(), 3)?.map(|x| x * x);
//! let (total, count, items) = compute((&b.sum(), &b.count(), &b), &Sequential::new())?;
//! assert_eq!((total, count, items.len()), (385, 10, 10));
//! # Ok::<(), blockwork::Error>(())
//! ```

use crate::array::grid::Grid;
use crate::array::{Array, Block, BlockData, DType, Element, Filtered};
pub(crate) use crate::bag::task_to_error as task_error;
use crate::bag::{self, Bag, Item, Partition};
use crate::error::{Error, ErrorKind, Result, TaskError};
use crate::exec::Executor;
use crate::graph::Graph;
use crate::key::Key;
use crate::plan::Plan;
use crate::value::Value;
use std::marker::PhantomData;

/// A lazy collection: a graph, the keys of its outputs in that graph, and how the values
/// of those keys become its result. Implemented by [`Array`] (an n-d [`BlockData`]),
/// [`TypedArray`] (an `ndarray::Array<T, D>`, from [`Array::typed`]),
/// [`Bag<T>`] (a `Vec<T>`), [`Item<T>`] (a `T`) and
/// [`Delayed<T>`](crate::delayed::Delayed) (a `T`); [`compute`] runs several at once.
///
/// ```
/// use blockwork::{bag::Bag, compute::Collection, Sequential, Executor, Plan};
/// let b = Bag::from_vec(vec![1i64, 2, 3], 2)?;
/// let plan = Plan::new(&b.task_graph()?, &b.output_keys())?;
/// let values = Sequential::new().run(&plan)?.values;
/// assert_eq!(b.finish(values)?, vec![1, 2, 3]);
/// # Ok::<(), blockwork::Error>(())
/// ```
pub trait Collection {
    /// What computing it gives.
    type Output;
    /// A graph holding the output keys and everything they need.
    fn task_graph(&self) -> Result<Graph>;
    /// The keys of the outputs, in the order [`finish`](Collection::finish) takes their
    /// values.
    fn output_keys(&self) -> Vec<Key>;
    /// Turns the values of the output keys (one per key, in order) into the result.
    fn finish(&self, values: Vec<Value>) -> Result<Self::Output>;
}

/// Several collections computed together: a reference to one [`Collection`], or a tuple of
/// up to six references, computed by [`compute`].
pub trait ComputeMany {
    /// The results, in the same shape (a tuple of the collections' outputs).
    type Output;
    /// Computes them all in one run of `exec`.
    fn compute_with<E: Executor + ?Sized>(&self, exec: &E) -> Result<Self::Output>;
}

/// Computes several collections in one run and returns their results as a tuple; what they
/// share runs once. See the [module docs](self).
///
/// ```
/// use blockwork::{array::ArrayContext, compute, delayed::delayed, Pool};
/// let ctx = ArrayContext::new();
/// let x = ctx.from_ndarray(&ndarray::ArrayD::<f64>::ones(vec![4, 4]), 2)?;
/// let total = blockwork::delayed::Delayed::<f64>::from_scalar(&x.sum(None)?)?;
/// let half = delayed("half", |t: f64| t / 2.0).call1(&total);
/// let (t, h, full) = compute((&total, &half, &x), &Pool::new(2)?)?;
/// assert_eq!((t, h, full.len()), (16.0, 8.0, 16));
/// # Ok::<(), blockwork::Error>(())
/// ```
pub fn compute<C: ComputeMany, E: Executor + ?Sized>(
    collections: C,
    exec: &E,
) -> Result<C::Output> {
    collections.compute_with(exec)
}

/// Adds the nodes of `other` that `graph` lacks. Keys name computations (equal keys are
/// equal computations), so a key already present is kept as it is.
pub(crate) fn merge_new(graph: &mut Graph, other: &Graph) {
    if graph.is_empty() {
        *graph = other.clone();
        return;
    }
    for (k, n) in other.iter() {
        if !graph.contains(k) {
            graph.insert(k.clone(), n.clone());
        }
    }
}

/// Runs the outputs of `parts` in one plan and returns the values of each part's keys.
fn run_parts<E: Executor + ?Sized>(
    parts: &[(Graph, Vec<Key>)],
    exec: &E,
) -> Result<Vec<Vec<Value>>> {
    let mut graph = Graph::new();
    let mut keys = Vec::new();
    for (g, k) in parts {
        merge_new(&mut graph, g);
        keys.extend(k.iter().cloned());
    }
    let plan = Plan::new(&graph, &keys)?;
    let mut values = exec.run(&plan)?.values.into_iter();
    Ok(parts
        .iter()
        .map(|(_, k)| values.by_ref().take(k.len()).collect())
        .collect())
}

impl<C: Collection + ?Sized> ComputeMany for &C {
    type Output = C::Output;
    fn compute_with<E: Executor + ?Sized>(&self, exec: &E) -> Result<C::Output> {
        let parts = [(self.task_graph()?, self.output_keys())];
        self.finish(run_parts(&parts, exec)?.pop().unwrap_or_default())
    }
}

macro_rules! compute_tuple {
    ($($c:ident $i:tt),*) => {
        impl<$($c: Collection + ?Sized),*> ComputeMany for ($(&$c,)*) {
            type Output = ($($c::Output,)*);
            fn compute_with<E: Executor + ?Sized>(&self, exec: &E) -> Result<Self::Output> {
                let parts = [$((self.$i.task_graph()?, self.$i.output_keys())),*];
                let mut values = run_parts(&parts, exec)?.into_iter();
                Ok(($(self.$i.finish(values.next().unwrap_or_default())?,)*))
            }
        }
    };
}
compute_tuple!(A 0);
compute_tuple!(A 0, B 1);
compute_tuple!(A 0, B 1, C 2);
compute_tuple!(A 0, B 1, C 2, D 3);
compute_tuple!(A 0, B 1, C 2, D 3, F 4);
compute_tuple!(A 0, B 1, C 2, D 3, F 4, G 5);

/// Computes to the whole array as one block of its type (as [`Array::compute_data`]).
impl Collection for Array {
    type Output = BlockData;
    fn task_graph(&self) -> Result<Graph> {
        self.graph()
    }
    fn output_keys(&self) -> Vec<Key> {
        self.keys()
    }
    fn finish(&self, values: Vec<Value>) -> Result<BlockData> {
        assemble(self, &values).map_err(task_error)
    }
}

/// An array computed into an `ndarray` of element type `T` and dimension `D` (an
/// [`Array2<f64>`](ndarray::Array2), say), made by [`Array::typed`]: for [`compute`], where
/// an [`Array`] itself gives a [`BlockData`].
///
/// ```
/// use blockwork::array::ArrayContext;
/// use blockwork::ndarray::{Array1, Array2, Ix1, Ix2};
/// use blockwork::{compute, Pool};
/// let ctx = ArrayContext::new();
/// let x = ctx.full(&[3, 4], 2, 1.5)?;
/// let col_sums = x.sum(0)?;
/// let (m, c): (Array2<f64>, Array1<f64>) =
///     compute((&x.typed::<f64, Ix2>()?, &col_sums.typed::<f64, Ix1>()?), &Pool::new(2)?)?;
/// assert_eq!((m, c), (Array2::from_elem((3, 4), 1.5), Array1::from_elem(4, 4.5)));
/// # Ok::<(), blockwork::Error>(())
/// ```
#[derive(Clone)]
pub struct TypedArray<T, D> {
    array: Array,
    _type: PhantomData<fn() -> (T, D)>,
}

impl<T, D> std::fmt::Debug for TypedArray<T, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TypedArray<{}, {}>({:?})",
            std::any::type_name::<T>(),
            std::any::type_name::<D>(),
            self.array
        )
    }
}

impl<T, D> TypedArray<T, D> {
    /// The array.
    pub fn array(&self) -> &Array {
        &self.array
    }
}

impl Array {
    /// This array, to be computed by [`compute`] into an `ndarray::Array<T, D>` (as
    /// [`Array::compute_as`] computes it alone).
    ///
    /// Errors, before anything runs: `T` other than the array's type is a
    /// [`Type`](crate::ErrorKind::Type) error, `D` of another number of axes a
    /// [`Shape`](crate::ErrorKind::Shape) error.
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// use blockwork::ndarray::{Ix0, Ix1, Ix2};
    /// use blockwork::{compute, Sequential};
    /// let ctx = ArrayContext::new();
    /// let x = ctx.arange(0.0, 6.0, 1.0, 4)?.reshape(&[2, 3])?;
    /// let total = x.sum(None)?;
    /// let (m, t) = compute((&x.typed::<f64, Ix2>()?, &total.typed::<f64, Ix0>()?), &Sequential::new())?;
    /// assert_eq!((m[[1, 2]], t.into_scalar()), (5.0, 15.0));
    /// assert!(x.typed::<f64, Ix1>().is_err()); // two axes
    /// assert!(x.typed::<i64, Ix2>().is_err()); // float64
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn typed<T: Element, D: ndarray::Dimension>(&self) -> Result<TypedArray<T, D>> {
        self.check_typed::<T, D>()?;
        Ok(TypedArray {
            array: self.clone(),
            _type: PhantomData,
        })
    }
}

/// Computes to the whole array as an `ndarray::Array<T, D>`.
impl<T: Element, D: ndarray::Dimension> Collection for TypedArray<T, D> {
    type Output = ndarray::Array<T, D>;
    fn task_graph(&self) -> Result<Graph> {
        self.array.graph()
    }
    fn output_keys(&self) -> Vec<Key> {
        self.array.keys()
    }
    fn finish(&self, values: Vec<Value>) -> Result<ndarray::Array<T, D>> {
        let data = assemble(&self.array, &values).map_err(task_error)?;
        typed_result(data)
    }
}

/// An assembled block as an `ndarray::Array<T, D>`, or a typed error.
pub(crate) fn typed_result<T: Element, D: ndarray::Dimension>(
    data: BlockData,
) -> Result<ndarray::Array<T, D>> {
    let found = data.dtype();
    T::unwrap(data)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Type,
                format!("array is {found}, asked for {}", T::DTYPE),
            )
        })?
        .into_dimensionality::<D>()
        .map_err(|e| Error::new(ErrorKind::Shape, e.to_string()))
}

/// Computes to the whole array as one 1-d block of its type (as [`Filtered::compute_data`]).
impl Collection for Filtered {
    type Output = BlockData;
    fn task_graph(&self) -> Result<Graph> {
        self.graph()
    }
    fn output_keys(&self) -> Vec<Key> {
        self.keys()
    }
    fn finish(&self, values: Vec<Value>) -> Result<BlockData> {
        assemble(self.inner(), &values).map_err(task_error)
    }
}

/// Computes to the elements of every partition, in order.
impl<T: bag::Element> Collection for Bag<T> {
    type Output = Vec<T>;
    fn task_graph(&self) -> Result<Graph> {
        Ok(self.graph())
    }
    fn output_keys(&self) -> Vec<Key> {
        self.keys()
    }
    fn finish(&self, values: Vec<Value>) -> Result<Vec<T>> {
        let mut out = Vec::new();
        for v in values {
            // A partition computed for this run is taken without a copy; a stored one
            // (a literal of the bag's graph) is shared, so it is cloned.
            match v.try_take::<Partition<T>>() {
                Ok(part) => out.extend(part.0),
                Err(v) => match v.downcast_ref::<Partition<T>>() {
                    Some(part) => out.extend(part.0.iter().cloned()),
                    None => {
                        return Err(task_error(crate::typed::type_error(
                            std::any::type_name::<Partition<T>>(),
                            &v,
                        )));
                    }
                },
            }
        }
        Ok(out)
    }
}

/// Computes to the item's value.
impl<T: 'static> Collection for Item<T> {
    type Output = T;
    fn task_graph(&self) -> Result<Graph> {
        Ok(self.graph().clone())
    }
    fn output_keys(&self) -> Vec<Key> {
        vec![self.key().clone()]
    }
    fn finish(&self, values: Vec<Value>) -> Result<T> {
        self.finish_value(one_value(&values)?)
    }
}

/// The only value of a one-key collection.
pub(crate) fn one_value(values: &[Value]) -> Result<&Value> {
    match values {
        [v] => Ok(v),
        _ => Err(Error::new(
            crate::ErrorKind::MissingKey,
            format!("expected one output value, got {}", values.len()),
        )),
    }
}

/// The blocks of `array` (its [`Array::keys`] order) assembled into one block.
pub(crate) fn assemble(array: &Array, blocks: &[Value]) -> Result<BlockData, TaskError> {
    fn typed<T: Element>(array: &Array, blocks: &[Value]) -> Result<BlockData, TaskError> {
        let nblocks = array.grid().nblocks();
        if blocks.len() != nblocks {
            return Err(TaskError::with_kind(
                crate::ErrorKind::Shape,
                format!("{} blocks for an array of {nblocks}", blocks.len()),
            ));
        }
        let chunks = match array.grid() {
            Grid::Known(c) => c,
            Grid::Unknown(_) => {
                // Lengths unknown: 1-d blocks, one after the other.
                let mut out = Vec::new();
                for v in blocks {
                    let block = ndarray::ArrayViewD::<T>::from_arg(v)?;
                    if block.ndim() != 1 {
                        return Err(TaskError::with_kind(
                            crate::ErrorKind::Shape,
                            format!("a block of shape {:?} in a 1-d array", block.shape()),
                        ));
                    }
                    out.extend(block.iter().copied());
                }
                let n = out.len();
                return ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[n]), out)
                    .map(T::wrap)
                    .map_err(|e| TaskError::with_kind(crate::ErrorKind::Shape, e.to_string()));
            }
        };
        crate::array::check_alloc::<T>(array.len())?;
        let mut full = ndarray::ArrayD::<T>::default(chunks.shape());
        for (idx, v) in chunks.indices().zip(blocks) {
            let block = ndarray::ArrayViewD::<T>::from_arg(v)?;
            let mut ranges = Vec::with_capacity(full.ndim());
            for (k, (&len, &n)) in block.shape().iter().zip(full.shape()).enumerate() {
                let start = chunks.offset(k, idx[k]);
                ranges.push(start..start + len);
                if start + len > n {
                    ranges.clear();
                    break;
                }
            }
            if block.ndim() != full.ndim() || ranges.len() != full.ndim() {
                return Err(TaskError::with_kind(
                    crate::ErrorKind::Shape,
                    format!(
                        "block {idx:?} of shape {:?} does not fit an array of shape {:?}",
                        block.shape(),
                        full.shape()
                    ),
                ));
            }
            full.slice_each_axis_mut(|ax| ndarray::Slice::from(ranges[ax.axis.index()].clone()))
                .assign(&block);
        }
        Ok(T::wrap(full))
    }
    use crate::value::TaskArg;
    match array.dtype() {
        DType::Bool => typed::<bool>(array, blocks),
        DType::I32 => typed::<i32>(array, blocks),
        DType::I64 => typed::<i64>(array, blocks),
        DType::F32 => typed::<f32>(array, blocks),
        DType::F64 => typed::<f64>(array, blocks),
    }
}

/// An assembled array as a task value (an array block).
pub(crate) fn block_value(data: BlockData) -> Value {
    Block::new(data, None).into_value()
}
