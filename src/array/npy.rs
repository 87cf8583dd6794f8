//! `.npy` files: read memory-mapped, block by block; written block by block at each
//! block's own offsets, so neither direction holds the whole array in memory.
//!
//! ndarray-npy parses and checks the header (type, order, shape); the data of a C-order
//! `.npy` file is the file's last `len × itemsize` bytes, which the block tasks read from a
//! shared memory map or write with positioned writes.

use super::dtype::{DType, Element, with_block};
use super::grid::{ChunkSpec, Chunks, c_strides};
use super::{Array, ArrayContext, Layer, block_of, token};
use crate::error::{Error, ErrorKind, Result, TaskError};
use crate::exec::Executor;
use crate::graph::{Arg, Graph, Node, Op, Task};
use crate::key::Key;
use crate::plan::Plan;
use crate::value::Value;
use memmap2::Mmap;
use ndarray::{ArrayD, ArrayViewD, IxDyn};
use ndarray_npy::ViewNpyExt;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

/// Element types with a little-endian byte form.
trait LeBytes: Element {
    fn read(b: &[u8]) -> Self;
    fn write(self, out: &mut Vec<u8>);
}
macro_rules! le {
    ($($t:ty),*) => {$(
        impl LeBytes for $t {
            fn read(b: &[u8]) -> Self {
                <$t>::from_le_bytes(b.try_into().expect("itemsize bytes"))
            }
            fn write(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}
le!(i32, i64, f32, f64);
impl LeBytes for bool {
    fn read(b: &[u8]) -> bool {
        b[0] != 0
    }
    fn write(self, out: &mut Vec<u8>) {
        out.push(self as u8);
    }
}

#[cold]
fn io(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Io, e.to_string())
}

/// Runs of a block that are contiguous in the file: `(file element offset, block element
/// offset, length)`, merging trailing axes the block spans whole.
fn runs(shape: &[usize], block_off: &[usize], block_shape: &[usize]) -> Vec<(usize, usize, usize)> {
    let n = shape.len();
    if block_shape.contains(&0) {
        return vec![];
    }
    // Merge the innermost axes while the block covers them fully.
    let mut inner = n;
    let mut len = 1;
    while inner > 0 {
        len *= block_shape[inner - 1];
        inner -= 1;
        if block_shape[inner] != shape[inner] {
            break;
        }
    }
    let gs = c_strides(shape);
    let outer: Vec<usize> = block_shape[..inner].to_vec();
    let mut out = Vec::new();
    for (r, idx) in super::grid::BlockIndices::new(outer).enumerate() {
        let file: usize = (0..n)
            .map(|k| (block_off[k] + if k < inner { idx[k] } else { 0 }) * gs[k])
            .sum();
        out.push((file, r * len, len));
    }
    out
}

impl ArrayContext {
    /// An array backed by a `.npy` file (C order, little-endian `f64`, `f32`, `i64`, `i32`
    /// or `bool`), memory-mapped; each block task copies its own block out of the map.
    ///
    /// The file must not change while arrays made from it are in use.
    pub fn from_npy(&self, path: impl AsRef<Path>, chunks: impl Into<ChunkSpec>) -> Result<Array> {
        let path = path.as_ref();
        let file = File::open(path).map_err(io)?;
        // SAFETY: the map is read-only and lives as long as the tasks holding it; as the
        // docs say, the file must not be modified meanwhile (the usual memory-map contract).
        let map = Arc::new(unsafe { Mmap::map(&file) }.map_err(io)?);
        let (dtype, shape) = npy_header(&map)?;
        let chunks = Chunks::new(&shape, chunks)?;
        let meta = std::fs::metadata(path).map_err(io)?;
        let stamp = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos());
        let name = token(
            "from-npy",
            (path, meta.len(), stamp, dtype, &shape, &chunks),
        );
        let data_at = map.len() - shape.iter().product::<usize>() * dtype.itemsize();
        let (ctx, ch, sh) = (self.clone(), chunks.clone(), shape.clone());
        let op = Op::new("read-npy", move |args: &[Value]| {
            let idx = super::block_index(&args[0])?;
            let bshape = ch.block_shape(&idx);
            let off: Vec<usize> = (0..idx.len()).map(|k| ch.offset(k, idx[k])).collect();
            let mut out = ctx.alloc(dtype, &bshape);
            with_block!(&mut out, a => read_block(&map[data_at..], &sh, &off, &bshape, a)?);
            Ok(ctx.block(out))
        });
        let mut graph = Graph::with_capacity(chunks.nblocks());
        for idx in chunks.indices() {
            graph.insert(
                Key::block(&name, &idx),
                Node::Task(Task::new(&op, [Arg::lit(super::index_value(&idx))])),
            );
        }
        Ok(Array::from_layer(
            self,
            Layer {
                name,
                graph,
                deps: vec![],
            },
            chunks,
            dtype,
        ))
    }
}

fn read_block<T: LeBytes>(
    data: &[u8],
    shape: &[usize],
    off: &[usize],
    bshape: &[usize],
    out: &mut ArrayD<T>,
) -> std::result::Result<(), TaskError> {
    let w = std::mem::size_of::<T>().max(1);
    let dst = out
        .as_slice_mut()
        .ok_or_else(|| TaskError::new("internal: output layout"))?;
    for (file, at, len) in runs(shape, off, bshape) {
        let bytes = data.get(file * w..(file + len) * w).ok_or_else(|| {
            TaskError::with_kind(ErrorKind::Io, "npy file shorter than its header says")
        })?;
        for (d, b) in dst[at..at + len].iter_mut().zip(bytes.chunks_exact(w)) {
            *d = T::read(b);
        }
    }
    Ok(())
}

/// The element type and shape of an `.npy` buffer, checked by ndarray-npy.
fn npy_header(buf: &[u8]) -> Result<(DType, Vec<usize>)> {
    fn try_view<'a, T: 'a>(buf: &'a [u8]) -> Option<Vec<usize>>
    where
        ArrayViewD<'a, T>: ViewNpyExt<'a>,
    {
        ArrayViewD::<T>::view_npy(buf)
            .ok()
            .filter(|v| v.is_standard_layout())
            .map(|v| v.shape().to_vec())
    }
    let found = [
        (DType::F64, try_view::<f64>(buf)),
        (DType::F32, try_view::<f32>(buf)),
        (DType::I64, try_view::<i64>(buf)),
        (DType::I32, try_view::<i32>(buf)),
        (DType::Bool, try_view::<bool>(buf)),
    ];
    found
        .into_iter()
        .find_map(|(d, s)| s.map(|s| (d, s)))
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Type,
                "not a C-order little-endian .npy file of f64, f32, i64, i32 or bool",
            )
        })
}

impl Array {
    /// Writes the array to a `.npy` file block by block: each block task writes its own
    /// rows at their offsets in the file and frees its block, so memory stays bounded by
    /// the blocks in flight.
    pub fn to_npy(&self, path: impl AsRef<Path>, exec: &impl Executor) -> Result<()> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path.as_ref())
            .map_err(io)?;
        let shape = self.shape().to_vec();
        with_zeroed(&file, self.dtype(), &shape)?;
        let data_at =
            file.metadata().map_err(io)?.len() as usize - self.len() * self.dtype().itemsize();
        let file = Arc::new(file);
        let chunks = self.chunks().clone();
        let op = Op::new("write-npy", move |args: &[Value]| {
            let idx = super::block_index(&args[0])?;
            let b = block_of(&args[1])?;
            let off: Vec<usize> = (0..idx.len()).map(|k| chunks.offset(k, idx[k])).collect();
            with_block!(b, a => write_block(&file, data_at, &shape, &off, a))?;
            Ok(Value::Unit)
        });
        let src = self.materialize();
        let name = token("to-npy", (src.name(), path.as_ref()));
        let mut graph = Graph::with_capacity(self.chunks().nblocks());
        let mut keys = Vec::new();
        for idx in self.chunks().indices() {
            let k = Key::block(&name, &idx);
            graph.insert(
                k.clone(),
                Node::Task(Task::new(
                    &op,
                    [
                        Arg::lit(super::index_value(&idx)),
                        Arg::key(src.block_key(&idx)),
                    ],
                )),
            );
            keys.push(k);
        }
        let mut full = super::collect_graph(&[src.layer()])?;
        full.merge(&graph)?;
        exec.run(&Plan::new(&full, &keys)?)?;
        Ok(())
    }
}

fn with_zeroed(file: &File, dtype: DType, shape: &[usize]) -> Result<()> {
    let s = IxDyn(shape);
    match dtype {
        DType::Bool => ndarray_npy::write_zeroed_npy::<bool, _>(file, s),
        DType::I32 => ndarray_npy::write_zeroed_npy::<i32, _>(file, s),
        DType::I64 => ndarray_npy::write_zeroed_npy::<i64, _>(file, s),
        DType::F32 => ndarray_npy::write_zeroed_npy::<f32, _>(file, s),
        DType::F64 => ndarray_npy::write_zeroed_npy::<f64, _>(file, s),
    }
    .map_err(io)
}

fn write_block<T: LeBytes>(
    file: &File,
    data_at: usize,
    shape: &[usize],
    off: &[usize],
    a: &ArrayD<T>,
) -> std::result::Result<(), TaskError> {
    let w = std::mem::size_of::<T>().max(1);
    let src = a
        .as_slice()
        .ok_or_else(|| TaskError::new("internal: block layout"))?;
    let mut buf = Vec::new();
    for (f, at, len) in runs(shape, off, a.shape()) {
        buf.clear();
        src[at..at + len].iter().for_each(|&x| x.write(&mut buf));
        file.write_all_at(&buf, (data_at + f * w) as u64)
            .map_err(|e| TaskError::with_kind(ErrorKind::Io, e.to_string()))?;
    }
    Ok(())
}
