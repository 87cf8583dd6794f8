//! The buffer pool: freed blocks are kept, by element type and length, and handed out again
//! for new outputs of the same size.
//!
//! On a machine where the first touch of fresh memory costs page faults, recycling a block
//! that was just freed is much faster than allocating a new one. A [`Block`] remembers the
//! pool its storage came from and gives it back in its `Drop`, so the executor frees
//! intermediates by dropping values without knowing that arrays exist. There is no global
//! pool: each [`ArrayContext`](super::ArrayContext) owns one, shared by the arrays it makes.

use super::dtype::{BlockData, DType, Element, with_block};
use crate::error::{ErrorKind, TaskError};
use crate::value::Payload;
use ndarray::{Array1, Array2, Array3, ArrayD, Ix1, Ix2, Ix3, IxDyn};
use rustc_hash::FxHashMap;
use std::any::{Any, TypeId};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Default cap on the bytes a pool keeps (beyond it, freed buffers are released).
pub const DEFAULT_POOL_LIMIT: usize = 1 << 30;

type FreeList<T> = Mutex<FxHashMap<usize, Vec<Vec<T>>>>;

/// Recycles block storage by element type and length. Thread-safe; share it in an `Arc`.
///
/// ```
/// use blockwork::array::BufferPool;
/// let pool = BufferPool::new(1 << 20);
/// let v: Vec<f64> = pool.take(1000);
/// pool.give(v);
/// let w: Vec<f64> = pool.take(1000); // the same storage again
/// assert_eq!(w.len(), 1000);
/// assert_eq!(pool.stats().hits, 1);
/// ```
#[derive(Debug, Default)]
pub struct BufferPool {
    bools: FreeList<bool>,
    i32s: FreeList<i32>,
    i64s: FreeList<i64>,
    f32s: FreeList<f32>,
    f64s: FreeList<f64>,
    limit: usize,
    held: AtomicUsize,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Counters of a [`BufferPool`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Buffers served from the pool.
    pub hits: u64,
    /// Buffers newly allocated.
    pub misses: u64,
    /// Bytes currently held for reuse.
    pub held_bytes: usize,
}

/// Element types the pool stores (all [`Element`]s).
pub trait Pooled: Element {
    /// This type's free list.
    #[doc(hidden)]
    fn list(pool: &BufferPool) -> &FreeList<Self>;
}

macro_rules! pooled {
    ($($t:ty => $f:ident),*) => {$(
        impl Pooled for $t {
            fn list(pool: &BufferPool) -> &FreeList<Self> {
                &pool.$f
            }
        }
    )*};
}
pooled!(bool => bools, i32 => i32s, i64 => i64s, f32 => f32s, f64 => f64s);

impl BufferPool {
    /// A pool keeping at most `limit_bytes` of freed buffers.
    pub fn new(limit_bytes: usize) -> BufferPool {
        BufferPool {
            limit: limit_bytes,
            ..BufferPool::default()
        }
    }

    /// A buffer of exactly `len` elements. Its contents are unspecified (a recycled buffer
    /// keeps its old values); callers overwrite every element.
    pub fn take<T: Pooled>(&self, len: usize) -> Vec<T> {
        self.recycled(len).unwrap_or_else(|| {
            self.misses.fetch_add(1, Ordering::Relaxed);
            vec![T::default(); len]
        })
    }

    /// As [`take`](Self::take), with a new buffer checked by [`check_alloc`] first.
    pub(crate) fn try_take<T: Pooled>(&self, len: usize) -> Result<Vec<T>, TaskError> {
        if let Some(v) = self.recycled(len) {
            return Ok(v);
        }
        check_alloc::<T>(len)?;
        self.misses.fetch_add(1, Ordering::Relaxed);
        Ok(vec![T::default(); len])
    }

    /// A held buffer of `len` elements, if there is one.
    fn recycled<T: Pooled>(&self, len: usize) -> Option<Vec<T>> {
        if len > 0 {
            let got = T::list(self)
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_mut(&len)
                .and_then(Vec::pop);
            if let Some(v) = got {
                self.held
                    .fetch_sub(len * std::mem::size_of::<T>(), Ordering::Relaxed);
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Some(v);
            }
        }
        None
    }

    /// Returns a buffer for reuse (dropped instead if the pool is full).
    pub fn give<T: Pooled>(&self, mut v: Vec<T>) {
        let bytes = v.len() * std::mem::size_of::<T>();
        if v.is_empty() || self.held.load(Ordering::Relaxed) + bytes > self.limit {
            return;
        }
        if v.capacity() != v.len() {
            v.shrink_to_fit();
        }
        self.held.fetch_add(bytes, Ordering::Relaxed);
        T::list(self)
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(v.len())
            .or_default()
            .push(v);
    }

    /// Counters.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            held_bytes: self.held.load(Ordering::Relaxed),
        }
    }

    /// Releases every held buffer.
    pub fn clear(&self) {
        fn drain<T>(l: &FreeList<T>) {
            l.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
        drain(&self.bools);
        drain(&self.i32s);
        drain(&self.i64s);
        drain(&self.f32s);
        drain(&self.f64s);
        self.held.store(0, Ordering::Relaxed);
    }

    /// A standard-layout array of `shape` on pooled storage, every element set by `fill`
    /// before it is returned (see [`BufferPool::take`]).
    pub fn array<T: Pooled>(&self, shape: &[usize]) -> ArrayD<T> {
        let n = shape.iter().product();
        ArrayD::from_shape_vec(IxDyn(shape), self.take::<T>(n))
            .expect("a buffer of the shape's size fits the shape")
    }

    /// As [`array`](Self::array), with a new buffer checked by [`check_alloc`] first.
    pub(crate) fn try_array<T: Pooled>(&self, shape: &[usize]) -> Result<ArrayD<T>, TaskError> {
        let n = shape.iter().product();
        Ok(ArrayD::from_shape_vec(IxDyn(shape), self.try_take::<T>(n)?)
            .expect("a buffer of the shape's size fits the shape"))
    }
}

/// Allocations of at least this many bytes are checked by [`check_alloc`].
const CHECKED_ALLOC_BYTES: usize = 1 << 26;

/// Whether `len` elements of `T` can be allocated: for 64 MiB and more, the allocation is
/// tried fallibly and released again (the caller then allocates it zeroed, which the
/// system maps lazily), so that a size the system refuses is a
/// [`TooLarge`](ErrorKind::TooLarge) error rather than an aborted process. Smaller sizes
/// are not tried.
pub(crate) fn check_alloc<T>(len: usize) -> Result<(), TaskError> {
    let bytes = len.saturating_mul(std::mem::size_of::<T>());
    if bytes >= CHECKED_ALLOC_BYTES && Vec::<T>::new().try_reserve_exact(len).is_err() {
        return Err(TaskError::with_kind(
            ErrorKind::TooLarge,
            format!("cannot allocate {bytes} bytes for {len} elements"),
        ));
    }
    Ok(())
}

/// One block of an array: typed data plus the pool its storage returns to on drop.
///
/// Blocks travel between tasks inside [`Value::payload`](crate::Value::payload); read one
/// with `value.downcast_ref::<Block>()`.
#[derive(Debug)]
pub struct Block {
    data: BlockData,
    pool: Option<Arc<BufferPool>>,
}

impl Block {
    /// A block whose storage returns to `pool` when dropped. Non-standard layouts are copied
    /// into standard layout first (kernels rely on it).
    pub fn new(data: BlockData, pool: Option<Arc<BufferPool>>) -> Block {
        let data = with_block!(data, a => if a.is_standard_layout() {
            Element::wrap(a)
        } else {
            Element::wrap(a.as_standard_layout().into_owned())
        });
        Block { data, pool }
    }

    /// The data.
    pub fn data(&self) -> &BlockData {
        &self.data
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }

    /// The block as a task value.
    pub fn into_value(self) -> crate::Value {
        crate::Value::payload(self)
    }

    /// The data, moved out (its storage then does not return to the pool).
    pub fn into_data(mut self) -> BlockData {
        self.pool = None;
        std::mem::replace(
            &mut self.data,
            BlockData::Bool(ArrayD::default(IxDyn(&[0]))),
        )
    }
}

/// Whether a block's data can be moved out as the type `want`: [`BlockData`], or an
/// `ndarray` array of its element type with a dynamic dimension or its number of axes (one
/// to three).
fn block_takes_as(data: &BlockData, want: TypeId) -> bool {
    fn fits<E: Element>(a: &ArrayD<E>, want: TypeId) -> bool {
        want == TypeId::of::<ArrayD<E>>()
            || (want == TypeId::of::<Array1<E>>() && a.ndim() == 1)
            || (want == TypeId::of::<Array2<E>>() && a.ndim() == 2)
            || (want == TypeId::of::<Array3<E>>() && a.ndim() == 3)
    }
    want == TypeId::of::<BlockData>() || with_block!(data, a => fits(a, want))
}

/// `data` boxed as the type `want`, which [`block_takes_as`] accepted.
fn block_boxed(data: BlockData, want: TypeId) -> Option<Box<dyn Any>> {
    fn boxed<E: Element>(a: ArrayD<E>, want: TypeId) -> Option<Box<dyn Any>> {
        Some(if want == TypeId::of::<Array1<E>>() {
            Box::new(a.into_dimensionality::<Ix1>().ok()?)
        } else if want == TypeId::of::<Array2<E>>() {
            Box::new(a.into_dimensionality::<Ix2>().ok()?)
        } else if want == TypeId::of::<Array3<E>>() {
            Box::new(a.into_dimensionality::<Ix3>().ok()?)
        } else {
            Box::new(a)
        })
    }
    if want == TypeId::of::<BlockData>() {
        return Some(Box::new(data));
    }
    with_block!(data, a => boxed(a, want))
}

impl Drop for Block {
    fn drop(&mut self) {
        let Some(pool) = self.pool.take() else {
            return;
        };
        let data = std::mem::replace(
            &mut self.data,
            BlockData::Bool(ArrayD::default(IxDyn(&[0]))),
        );
        fn back<T: Pooled>(pool: &BufferPool, a: ArrayD<T>) {
            let (v, off) = a.into_raw_vec_and_offset();
            if off.unwrap_or(0) == 0 {
                pool.give(v);
            }
        }
        with_block!(data, a => back(&pool, a));
    }
}

impl Payload for Block {
    fn nbytes(&self) -> usize {
        self.data.nbytes()
    }
    fn type_name(&self) -> &'static str {
        "array block"
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    /// The data as [`BlockData`], or its array as `ArrayD<E>`, or `Array1<E>` to
    /// `Array3<E>` of its number of axes (its storage then does not return to the pool).
    fn take_as(&mut self, want: TypeId) -> Option<Box<dyn Any>> {
        if !block_takes_as(&self.data, want) {
            return None;
        }
        self.pool = None;
        let data = std::mem::replace(
            &mut self.data,
            BlockData::Bool(ArrayD::default(IxDyn(&[0]))),
        );
        block_boxed(data, want)
    }
}
