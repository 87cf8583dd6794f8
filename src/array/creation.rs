//! Creating arrays: from an `ndarray`, constants, ranges, functions of the index, random
//! numbers from a seed.
//!
//! Everything but [`ArrayContext::from_ndarray`] is a generator: it costs nothing until a
//! block is needed, and fuses into whatever consumes it.

use super::dtype::{DType, Element, Scalar};
use super::expr::{AxisMap, Expr, ExprKind, Fused, Gen, GenKind, Leaf, LeafSrc, Segment, View};
use super::grid::{ChunkSpec, Chunks};
use super::{Array, ArrayContext, Layer, token};
use crate::error::{Error, ErrorKind, Result};
use crate::graph::{Graph, Node};
use ndarray::ArrayD;
use std::hash::Hash;
use std::sync::Arc;

/// The view reading a generator (one notional block of its whole shape) by `chunks`.
pub(super) fn gen_view(chunks: &Chunks) -> View {
    View {
        axes: (0..chunks.ndim())
            .map(|k| {
                let offs = chunks.offsets(k);
                Some(AxisMap {
                    src: k,
                    segs: offs[..offs.len() - 1]
                        .iter()
                        .map(|&o| Segment {
                            block: 0,
                            start: o,
                            step: 1,
                        })
                        .collect(),
                })
            })
            .collect(),
        fixed: Vec::new(),
    }
}

fn hash_elems<T: Element>(a: &ArrayD<T>) -> u64 {
    use std::hash::Hasher;
    let mut h = rustc_hash::FxHasher::default();
    for x in a.iter() {
        x.scalar().hash(&mut h);
    }
    h.finish()
}

impl ArrayContext {
    /// An array holding a copy of `a`, cut into blocks by `chunks`. Its name hashes the
    /// contents, so equal data gives equal keys.
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// let ctx = ArrayContext::new();
    /// let a = ndarray::Array::from_shape_fn((5, 3), |(i, j)| (i * 3 + j) as i64).into_dyn();
    /// let x = ctx.from_ndarray(&a, [2, 2])?;
    /// assert_eq!(x.chunks().axis(0), &[2, 2, 1]);
    /// assert_eq!(x.compute::<i64>(&blockwork::Sequential::new())?, a);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn from_ndarray<T: Element + super::Pooled>(
        &self,
        a: &ArrayD<T>,
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Array> {
        let chunks = Chunks::new(a.shape(), chunks)?;
        let name = token("array", (T::DTYPE, a.shape(), &chunks, hash_elems(a)));
        let mut graph = Graph::with_capacity(chunks.nblocks());
        for idx in chunks.indices() {
            let view = a.slice_each_axis(|ax| {
                let k = ax.axis.index();
                let o = chunks.offset(k, idx[k]);
                ndarray::Slice::from(o..o + chunks.axis(k)[idx[k]])
            });
            let mut block = self.pool().array::<T>(view.shape());
            block.assign(&view);
            let key = crate::Key::block(&name, &idx);
            graph.insert(key, Node::Literal(self.block(T::wrap(block))));
        }
        let layer = Layer {
            name,
            graph,
            deps: vec![],
        };
        Ok(Array::from_layer(self, layer, chunks, T::DTYPE))
    }

    /// An array with every element `value`.
    pub fn full(
        &self,
        shape: &[usize],
        chunks: impl Into<ChunkSpec>,
        value: impl Into<Scalar>,
    ) -> Result<Array> {
        let chunks = Chunks::new(shape, chunks)?;
        let v = value.into();
        let fused = Fused {
            expr: Expr::new(v.dtype(), ExprKind::Scalar(v)),
            leaves: vec![],
        };
        Ok(Array::from_fused(self, fused, chunks, "full"))
    }

    /// Zeros of `dtype`.
    pub fn zeros(
        &self,
        shape: &[usize],
        chunks: impl Into<ChunkSpec>,
        dtype: DType,
    ) -> Result<Array> {
        self.full(shape, chunks, Scalar::I64(0).cast(dtype))
    }

    /// Ones of `dtype`.
    pub fn ones(
        &self,
        shape: &[usize],
        chunks: impl Into<ChunkSpec>,
        dtype: DType,
    ) -> Result<Array> {
        self.full(shape, chunks, Scalar::I64(1).cast(dtype))
    }

    /// An array whose values are unspecified (here: zeros; blocks are still allocated from
    /// the pool when computed).
    pub fn empty(
        &self,
        shape: &[usize],
        chunks: impl Into<ChunkSpec>,
        dtype: DType,
    ) -> Result<Array> {
        self.zeros(shape, chunks, dtype)
    }

    fn generator(
        &self,
        shape: &[usize],
        chunks: impl Into<ChunkSpec>,
        dtype: DType,
        kind: GenKind,
        prefix: &str,
    ) -> Result<Array> {
        let chunks = Chunks::new(shape, chunks)?;
        let g = Arc::new(Gen {
            shape: shape.to_vec(),
            dtype,
            kind,
        });
        let fused = Fused {
            expr: Expr::new(dtype, ExprKind::Leaf(0)),
            leaves: vec![Leaf {
                src: LeafSrc::Gen(g),
                view: gen_view(&chunks),
            }],
        };
        Ok(Array::from_fused(self, fused, chunks, prefix))
    }

    /// `start, start + step, ...` below `stop` (`f64`), as NumPy's `arange`.
    pub fn arange(
        &self,
        start: f64,
        stop: f64,
        step: f64,
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Array> {
        if step == 0.0 || !step.is_finite() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "arange step must be finite and non-zero",
            ));
        }
        let n = ((stop - start) / step).ceil().max(0.0);
        if n.is_nan() || n >= usize::MAX as f64 {
            return Err(Error::new(ErrorKind::Overflow, "arange length overflows"));
        }
        let kind = GenKind::Linear {
            start: start.into(),
            step: step.into(),
            last: None,
        };
        self.generator(&[n as usize], chunks, DType::F64, kind, "arange")
    }

    /// `start, start + step, ...` below `stop` (`i64`).
    pub fn arange_int(
        &self,
        start: i64,
        stop: i64,
        step: i64,
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Array> {
        if step == 0 {
            return Err(Error::new(ErrorKind::Index, "arange step 0"));
        }
        let span = stop as i128 - start as i128;
        let n = if (span > 0) == (step > 0) && span != 0 {
            (span.abs() + step.unsigned_abs() as i128 - 1) / step.unsigned_abs() as i128
        } else {
            0
        };
        let n = usize::try_from(n)
            .map_err(|_| Error::new(ErrorKind::Overflow, "arange length overflows"))?;
        let kind = GenKind::Linear {
            start: start.into(),
            step: step.into(),
            last: None,
        };
        self.generator(&[n], chunks, DType::I64, kind, "arange")
    }

    /// `num` evenly spaced values from `start` to `stop` (inclusive when `endpoint`).
    pub fn linspace(
        &self,
        start: f64,
        stop: f64,
        num: usize,
        endpoint: bool,
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Array> {
        let div = if endpoint { num.saturating_sub(1) } else { num };
        let step = if div > 0 {
            (stop - start) / div as f64
        } else {
            0.0
        };
        let last = (endpoint && num > 1).then_some(Scalar::F64(stop));
        let kind = GenKind::Linear {
            start: start.into(),
            step: step.into(),
            last,
        };
        self.generator(&[num], chunks, DType::F64, kind, "linspace")
    }

    /// An array whose element at index `i` is `f(i)` cast to `dtype`. `name` labels the
    /// function in the keys; every call gets keys of its own, so two different functions
    /// under one name never share keys.
    ///
    /// ```
    /// use blockwork::array::{ArrayContext, DType, Scalar};
    /// let ctx = ArrayContext::new();
    /// let x = ctx.fromfunction("f", &[3], 2, DType::I64, |i| Scalar::I64(i[0] as i64 * 10))?;
    /// let got = x.compute::<i64>(&blockwork::Sequential::new())?;
    /// assert_eq!(got.as_slice().unwrap(), &[0, 10, 20]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn fromfunction(
        &self,
        name: &str,
        shape: &[usize],
        chunks: impl Into<ChunkSpec>,
        dtype: DType,
        f: impl Fn(&[usize]) -> Scalar + Send + Sync + 'static,
    ) -> Result<Array> {
        let kind = GenKind::Func {
            token: format!("{name}#{}", super::unique()).into(),
            f: Arc::new(f),
        };
        self.generator(shape, chunks, dtype, kind, "fromfunction")
    }

    /// Uniform random `f64` on `[0, 1)` from `seed`; see [`random_uniform`](Self::random_uniform).
    pub fn random(
        &self,
        shape: &[usize],
        chunks: impl Into<ChunkSpec>,
        seed: u64,
    ) -> Result<Array> {
        self.random_uniform(shape, chunks, seed, 0.0, 1.0)
    }

    /// Uniform random `f64` on `[lo, hi)`. Each value depends only on the seed and its
    /// position, so the result is the same for any chunking and any number of threads.
    pub fn random_uniform(
        &self,
        shape: &[usize],
        chunks: impl Into<ChunkSpec>,
        seed: u64,
        lo: f64,
        hi: f64,
    ) -> Result<Array> {
        self.generator(
            shape,
            chunks,
            DType::F64,
            GenKind::Uniform { seed, lo, hi },
            "random",
        )
    }

    /// Normal random `f64` with `mean` and `std`.
    pub fn random_normal(
        &self,
        shape: &[usize],
        chunks: impl Into<ChunkSpec>,
        seed: u64,
        mean: f64,
        std: f64,
    ) -> Result<Array> {
        self.generator(
            shape,
            chunks,
            DType::F64,
            GenKind::Normal { seed, mean, std },
            "normal",
        )
    }

    /// Random `i64` uniform on `[lo, hi)`; an empty range is an
    /// [`InvalidArgument`](ErrorKind::InvalidArgument) error.
    pub fn random_integers(
        &self,
        shape: &[usize],
        chunks: impl Into<ChunkSpec>,
        seed: u64,
        lo: i64,
        hi: i64,
    ) -> Result<Array> {
        if hi <= lo {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("empty range [{lo}, {hi})"),
            ));
        }
        self.generator(
            shape,
            chunks,
            DType::I64,
            GenKind::Integers { seed, lo, hi },
            "integers",
        )
    }
}
