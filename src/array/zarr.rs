//! Zarr stores through the `zarrs` crate; documented in the [array module](super#zarr-stores).

use super::dtype::{Element, with_block, with_dtype};
use super::grid::{ChunkSpec, Chunks, checked_size};
use super::{Array, ArrayContext, DType, block_index, block_of, token};
use crate::error::{Error, ErrorKind, Result, TaskError};
use crate::exec::Executor;
use crate::graph::{Arg, Graph, Node, Op, Task};
use crate::key::Key;
use crate::plan::Plan;
use crate::value::Value;
use ndarray::{ArrayD, IxDyn, Slice};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zarrs::array::codec::CodecOptions;
use zarrs::array::{Array as ZArray, ArrayMetadata, ArrayMetadataOptions, DataType};
use zarrs::array_subset::ArraySubset;
use zarrs::filesystem::FilesystemStore;

/// The Zarr format version a store is written in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ZarrFormat {
    /// Zarr format 2 (`.zarray`, one compressor; read by zarr-python 2 and 3).
    V2,
    /// Zarr format 3 (`zarr.json`, a codec chain).
    #[default]
    V3,
}

/// How the chunks of a written store are compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ZarrCompression {
    /// Raw little-endian bytes.
    None,
    /// gzip (deflate) at a level from 0 to 9.
    Gzip(u32),
    /// Zstandard at a level from -7 to 22.
    Zstd(i32),
    /// Blosc with LZ4 and byte shuffling, at a level from 0 to 9 (NumPy's Zarr default).
    Blosc(u8),
}

impl Default for ZarrCompression {
    /// Zstandard at level 3.
    fn default() -> Self {
        ZarrCompression::Zstd(3)
    }
}

/// How [`Array::to_zarr`] lays out a store.
///
/// ```
/// use blockwork::array::{ZarrCompression, ZarrFormat, ZarrOptions};
/// let opts = ZarrOptions::new()
///     .format(ZarrFormat::V2)
///     .compression(ZarrCompression::Gzip(5))
///     .chunks(vec![100, 100]);
/// assert_eq!(opts.format, ZarrFormat::V2);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ZarrOptions {
    /// The format version (default [`ZarrFormat::V3`]).
    pub format: ZarrFormat,
    /// The chunk compression (default zstd at level 3).
    pub compression: ZarrCompression,
    /// The store's chunk shape; `None` (the default) takes the array's longest block along
    /// each axis, so an array of regular blocks is written one block per chunk.
    pub chunks: Option<Vec<usize>>,
}

impl ZarrOptions {
    /// The defaults: Zarr format 3, zstd level 3, the array's own chunk shape.
    pub fn new() -> ZarrOptions {
        ZarrOptions::default()
    }
    /// Sets the format version.
    pub fn format(mut self, format: ZarrFormat) -> ZarrOptions {
        self.format = format;
        self
    }
    /// Sets the compression.
    pub fn compression(mut self, compression: ZarrCompression) -> ZarrOptions {
        self.compression = compression;
        self
    }
    /// Sets the store's chunk shape (one length per axis).
    pub fn chunks(mut self, chunks: Vec<usize>) -> ZarrOptions {
        self.chunks = Some(chunks);
        self
    }
}

#[cold]
fn named(path: &Path, kind: ErrorKind, e: impl std::fmt::Display) -> Error {
    Error::new(kind, format!("{}: {e}", path.display()))
}

/// Codec options for one block task: the pool already runs blocks in parallel, so zarrs
/// decodes and encodes each chunk on the task's own thread.
fn codec_options() -> CodecOptions {
    let mut o = CodecOptions::default();
    o.set_concurrent_target(1);
    o
}

/// The array's type as one of ours; others are [`Type`](ErrorKind::Type) errors.
fn dtype_of(dt: &DataType) -> Result<DType> {
    Ok(match dt {
        DataType::Bool => DType::Bool,
        DataType::Int32 => DType::I32,
        DataType::Int64 => DType::I64,
        DataType::Float32 => DType::F32,
        DataType::Float64 => DType::F64,
        other => {
            return Err(Error::new(
                ErrorKind::Type,
                format!(
                    "Zarr data type {other} is not supported (bool, int32, int64, float32, \
                     float64 are)"
                ),
            ));
        }
    })
}

/// The chunk shape of a regular chunk grid, read from the metadata.
fn regular_chunk_shape(meta: &ArrayMetadata) -> Result<Vec<u64>> {
    let shape = match meta {
        ArrayMetadata::V2(m) => Some(m.chunks.iter().map(|c| c.get()).collect()),
        ArrayMetadata::V3(m) if m.chunk_grid.name() == "regular" => m
            .chunk_grid
            .configuration()
            .and_then(|c| c.get("chunk_shape"))
            .and_then(|s| serde_json::from_value::<Vec<u64>>(s.clone()).ok()),
        ArrayMetadata::V3(m) => {
            return Err(Error::new(
                ErrorKind::Type,
                format!(
                    "chunk grid {:?} is not supported (regular is)",
                    m.chunk_grid.name()
                ),
            ));
        }
    };
    shape.ok_or_else(|| Error::new(ErrorKind::Parse, "regular chunk grid without chunk_shape"))
}

/// `u64` sizes from the metadata as `usize`.
fn sizes(v: &[u64]) -> Result<Vec<usize>> {
    v.iter()
        .map(|&d| {
            usize::try_from(d).map_err(|_| Error::new(ErrorKind::Overflow, "size past usize"))
        })
        .collect()
}

/// Whether `dir` holds Zarr metadata (an array or group of either format).
fn is_store(dir: &Path) -> bool {
    ["zarr.json", ".zarray", ".zgroup"]
        .iter()
        .any(|f| dir.join(f).is_file())
}

/// Reads the array metadata of the store `dir` (`zarr.json`, else `.zarray`). A V2 boolean
/// fill value (`false`, as zarr-python writes it) is given to zarrs as the `0` it accepts.
fn read_metadata(dir: &Path) -> Result<ArrayMetadata> {
    let read = |f: &str| match std::fs::read(dir.join(f)) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(named(&dir.join(f), ErrorKind::Io, e)),
    };
    let (file, text) = match (read("zarr.json")?, read(".zarray")?) {
        (Some(t), _) => ("zarr.json", t),
        (None, Some(t)) => (".zarray", t),
        (None, None) => {
            return Err(named(
                dir,
                ErrorKind::Io,
                "no zarr.json or .zarray: not a Zarr array",
            ));
        }
    };
    let bad = |e: &dyn std::fmt::Display| named(&dir.join(file), ErrorKind::Parse, e);
    let mut v: serde_json::Value = serde_json::from_slice(&text).map_err(|e| bad(&e))?;
    if file == ".zarray"
        && let Some(fill) = v.get_mut("fill_value")
        && let Some(b) = fill.as_bool()
    {
        *fill = json!(u8::from(b));
    }
    if file == "zarr.json" && v.get("node_type").and_then(|t| t.as_str()) != Some("array") {
        return Err(bad(&"not array metadata (node_type is not \"array\")"));
    }
    serde_json::from_value(v).map_err(|e| bad(&e))
}

/// The metadata of an existing store, for naming arrays read from it: its text and the
/// time it was written.
fn metadata_stamp(dir: &Path) -> Option<(Vec<u8>, Option<std::time::SystemTime>)> {
    ["zarr.json", ".zarray"].iter().find_map(|f| {
        let p = dir.join(f);
        let text = std::fs::read(&p).ok()?;
        Some((text, std::fs::metadata(&p).and_then(|m| m.modified()).ok()))
    })
}

impl ArrayContext {
    /// An array backed by the Zarr array (format 2 or 3) stored in the directory `path`,
    /// with one block per chunk of its regular chunk grid; each block task reads and decodes
    /// its chunk (chunks never written read as the fill value). See the
    /// [Zarr section of the module docs](super#zarr-stores) for types and codecs.
    ///
    /// Errors: a path that is not a directory holding Zarr array metadata is an
    /// [`Io`](ErrorKind::Io) error; metadata that does not parse, or names a codec or chunk
    /// grid that is not supported, is [`Parse`](ErrorKind::Parse) (or
    /// [`Type`](ErrorKind::Type) for an unsupported grid); a data type other than bool,
    /// int32, int64, float32 or float64 is [`Type`](ErrorKind::Type). A chunk that is
    /// corrupt or vanishes fails its task with an [`Io`](ErrorKind::Io) cause naming it.
    ///
    /// ```
    /// use blockwork::array::{ArrayContext, ZarrOptions};
    /// use blockwork::Sequential;
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("x.zarr");
    /// let ctx = ArrayContext::new();
    /// let x = ctx.arange(0.0, 10.0, 1.0, 4)?;
    /// x.to_zarr(&path, &ZarrOptions::new(), &Sequential::new())?;
    /// let back = ctx.from_zarr(&path)?;
    /// assert_eq!(back.chunks().axis(0), &[4, 4, 2]);
    /// assert_eq!(back.compute::<f64>(&Sequential::new())?, x.compute::<f64>(&Sequential::new())?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_zarr(&self, path: impl AsRef<Path>) -> Result<Array> {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(|e| named(path, ErrorKind::Io, e))?;
        if !meta.is_dir() {
            return Err(named(path, ErrorKind::Io, "not a directory (a Zarr store)"));
        }
        let meta = read_metadata(path)?;
        let store =
            FilesystemStore::new(path).map_err(|e| named(path, ErrorKind::InvalidArgument, e))?;
        let z = ZArray::new_with_metadata(Arc::new(store), "/", meta).map_err(|e| {
            use zarrs::array::ArrayCreateError as E;
            let kind = match e {
                E::StorageError(_) => ErrorKind::Io,
                E::DataTypeCreateError(_) => ErrorKind::Type,
                _ => ErrorKind::Parse,
            };
            named(path, kind, e)
        })?;
        let dtype = dtype_of(z.data_type()).map_err(|e| named(path, e.kind(), &e))?;
        let shape = sizes(z.shape())?;
        checked_size(&shape, dtype.itemsize())?;
        let chunk = sizes(&regular_chunk_shape(z.metadata())?)?;
        if chunk.len() != shape.len() {
            return Err(named(path, ErrorKind::Parse, "chunk shape of another rank"));
        }
        let chunks = Chunks::new(&shape, ChunkSpec::PerAxis(chunk))
            .map_err(|e| named(path, e.kind(), &e))?;
        let name = token(
            "from-zarr",
            (path, metadata_stamp(path), dtype, &shape, &chunks),
        );
        let z = Arc::new(z);
        let reader = move |off: &[usize], bshape: &[usize]| {
            with_dtype!(dtype, T => read_block::<T>(&z, off, bshape))
                .map_err(|e| TaskError::with_kind(ErrorKind::Io, e))
        };
        Ok(self.block_reader_array(name, "read-zarr", chunks, dtype, path, reader))
    }
}

/// Reads the block at `off` of shape `bshape` (one chunk, clipped to the array).
fn read_block<T: Element + zarrs::array::ElementOwned>(
    z: &ZArray<FilesystemStore>,
    off: &[usize],
    bshape: &[usize],
) -> std::result::Result<super::BlockData, String> {
    let data = if bshape.contains(&0) {
        Vec::new()
    } else {
        let subset = ArraySubset::new_with_start_shape(
            off.iter().map(|&o| o as u64).collect(),
            bshape.iter().map(|&d| d as u64).collect(),
        )
        .map_err(|e| e.to_string())?;
        z.retrieve_array_subset_elements_opt::<T>(&subset, &codec_options())
            .map_err(|e| e.to_string())?
    };
    let a = ArrayD::from_shape_vec(IxDyn(bshape), data).map_err(|e| e.to_string())?;
    Ok(T::wrap(a))
}

/// Writes `a`, the block at chunk `idx`, padding an edge block to the whole chunk.
fn write_block<T: Element + zarrs::array::Element>(
    z: &ZArray<FilesystemStore>,
    idx: &[usize],
    chunk: &[usize],
    a: &ArrayD<T>,
) -> std::result::Result<(), String> {
    if a.is_empty() {
        return Ok(());
    }
    let cidx: Vec<u64> = idx.iter().map(|&i| i as u64).collect();
    let opts = codec_options();
    let stored = if a.shape() == chunk {
        match a.as_slice() {
            Some(s) => z.store_chunk_elements_opt(&cidx, s, &opts),
            None => {
                z.store_chunk_elements_opt(&cidx, &a.iter().copied().collect::<Vec<T>>(), &opts)
            }
        }
    } else {
        let mut full = ArrayD::<T>::default(IxDyn(chunk));
        full.slice_each_axis_mut(|ax| Slice::from(0..a.shape()[ax.axis.index()]))
            .assign(a);
        let s = full.as_slice().ok_or("a fresh array is contiguous")?;
        z.store_chunk_elements_opt(&cidx, s, &opts)
    };
    stored.map_err(|e| e.to_string())
}

/// The store's metadata, as `zarr.json` (V3) or `.zarray` (V2) would hold it.
fn metadata_json(
    format: ZarrFormat,
    compression: ZarrCompression,
    dtype: DType,
    shape: &[usize],
    chunk: &[usize],
) -> serde_json::Value {
    let fill = match dtype {
        // V2 metadata takes 0 for false (zarrs reads no JSON boolean there; NumPy casts it).
        DType::Bool if format == ZarrFormat::V2 => json!(0),
        DType::Bool => json!(false),
        DType::I32 | DType::I64 => json!(0),
        DType::F32 | DType::F64 => json!(0.0),
    };
    match format {
        ZarrFormat::V2 => {
            let descr = match dtype {
                DType::Bool => "|b1",
                DType::I32 => "<i4",
                DType::I64 => "<i8",
                DType::F32 => "<f4",
                DType::F64 => "<f8",
            };
            let compressor = match compression {
                ZarrCompression::None => json!(null),
                ZarrCompression::Gzip(level) => json!({"id": "gzip", "level": level}),
                ZarrCompression::Zstd(level) => json!({"id": "zstd", "level": level}),
                ZarrCompression::Blosc(level) => json!({
                    "id": "blosc", "cname": "lz4", "clevel": level, "shuffle": 1, "blocksize": 0
                }),
            };
            json!({
                "zarr_format": 2, "shape": shape, "chunks": chunk, "dtype": descr,
                "compressor": compressor, "fill_value": fill, "order": "C", "filters": null,
                "dimension_separator": "."
            })
        }
        ZarrFormat::V3 => {
            let mut codecs = vec![if dtype == DType::Bool {
                json!({"name": "bytes"})
            } else {
                json!({"name": "bytes", "configuration": {"endian": "little"}})
            }];
            codecs.extend(match compression {
                ZarrCompression::None => None,
                ZarrCompression::Gzip(level) => {
                    Some(json!({"name": "gzip", "configuration": {"level": level}}))
                }
                ZarrCompression::Zstd(level) => Some(json!({
                    "name": "zstd", "configuration": {"level": level, "checksum": false}
                })),
                ZarrCompression::Blosc(level) => Some(json!({
                    "name": "blosc",
                    "configuration": {
                        "cname": "lz4", "clevel": level, "shuffle": "shuffle",
                        "typesize": dtype.itemsize(), "blocksize": 0
                    }
                })),
            });
            json!({
                "zarr_format": 3, "node_type": "array", "shape": shape,
                "data_type": dtype.name(),
                "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunk}},
                "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
                "fill_value": fill, "codecs": codecs, "attributes": {}
            })
        }
    }
}

/// Checks the compression level's range.
fn check_level(c: ZarrCompression) -> Result<()> {
    let ok = match c {
        ZarrCompression::None => true,
        ZarrCompression::Gzip(l) => l <= 9,
        ZarrCompression::Zstd(l) => (-7..=22).contains(&l),
        ZarrCompression::Blosc(l) => l <= 9,
    };
    if ok {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::InvalidArgument,
        format!("compression level out of range: {c:?}"),
    ))
}

/// Where a store is written: the target path, and whether a store is there to replace.
/// Anything else at the path is refused.
fn store_target(path: &Path) -> Result<(PathBuf, bool)> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() && is_store(path) => Ok((path.to_path_buf(), true)),
        Ok(_) => Err(named(
            path,
            ErrorKind::Io,
            "exists and is not a Zarr store directory: not replaced",
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((path.to_path_buf(), false)),
        Err(e) => Err(named(path, ErrorKind::Io, e)),
    }
}

/// Moves the finished store `tmp` to `target`, replacing the store there if `replace`.
fn install(tmp: tempfile::TempDir, target: &Path, dir: &Path, replace: bool) -> Result<()> {
    let io = |e: std::io::Error| named(target, ErrorKind::Io, e);
    if !replace {
        return std::fs::rename(tmp.path(), target).map_err(io).map(|()| {
            let _ = tmp.keep();
        });
    }
    // An empty directory to move the old store onto (rename replaces an empty directory);
    // removed with the old store when `old` is dropped.
    let old = tempfile::Builder::new()
        .prefix(".blockwork-")
        .suffix(".zarr.old")
        .tempdir_in(dir)
        .map_err(io)?;
    std::fs::rename(target, old.path()).map_err(io)?;
    if let Err(e) = std::fs::rename(tmp.path(), target) {
        // Put the old store back; the new one is removed with `tmp`.
        let _ = std::fs::rename(old.path(), target);
        let _ = old.keep();
        return Err(io(e));
    }
    let _ = tmp.keep();
    Ok(())
}

impl Array {
    /// Writes the array to a Zarr store (the directory `path`), one chunk per block, block
    /// by block: memory stays bounded by the blocks in flight, as with
    /// [`to_npy`](Array::to_npy). The store's chunk shape is `opts.chunks`, or the array's
    /// longest block along each axis; an array whose blocks are not exactly that grid is
    /// [`rechunk`](Array::rechunk)ed to it on the way. Chunks are compressed with
    /// `opts.compression` and the metadata is written in `opts.format`.
    ///
    /// The store is written to a temporary directory and renamed to `path` on success (see
    /// the [Zarr section of the module docs](super#zarr-stores)): a failed run leaves `path` as it was, and an
    /// existing store at `path` is replaced, even one this array is read from.
    ///
    /// Errors: a chunk shape of the wrong rank is a [`Shape`](ErrorKind::Shape) error, a
    /// chunk length of 0 on a non-empty axis or a compression level out of range
    /// [`InvalidArgument`](ErrorKind::InvalidArgument); a path holding anything but a Zarr
    /// store, or a failed write, is [`Io`](ErrorKind::Io) and names the path.
    ///
    /// ```
    /// use blockwork::array::{ArrayContext, ZarrCompression, ZarrFormat, ZarrOptions};
    /// use blockwork::Sequential;
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("x.zarr");
    /// let ctx = ArrayContext::new();
    /// let x = ctx.ones(&[6, 5], 2, blockwork::array::DType::I32)?;
    /// let opts = ZarrOptions::new()
    ///     .format(ZarrFormat::V2)
    ///     .compression(ZarrCompression::Blosc(5))
    ///     .chunks(vec![4, 5]);
    /// x.to_zarr(&path, &opts, &Sequential::new())?;
    /// assert!(path.join(".zarray").is_file());
    /// let back = ctx.from_zarr(&path)?;
    /// assert_eq!(back.chunks().axis(0), &[4, 2]);
    /// assert_eq!(back.sum(None)?.compute_f64(&Sequential::new())?, 30.0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_zarr(
        &self,
        path: impl AsRef<Path>,
        opts: &ZarrOptions,
        exec: &impl Executor,
    ) -> Result<()> {
        let path = path.as_ref();
        check_level(opts.compression)?;
        let shape = self.shape().to_vec();
        let chunk: Vec<usize> = match &opts.chunks {
            Some(c) => c.clone(),
            None => self
                .chunks()
                .axes()
                .iter()
                .map(|a| a.iter().copied().max().unwrap_or(1))
                .collect(),
        };
        if chunk.len() != shape.len() {
            return Err(Error::new(
                ErrorKind::Shape,
                format!("chunk shape {chunk:?} for an array of shape {shape:?}"),
            ));
        }
        // A Zarr chunk is at least 1 long; an empty axis has none anyway.
        let chunk: Vec<usize> = chunk
            .iter()
            .zip(&shape)
            .map(|(&c, &d)| if d == 0 { c.max(1) } else { c })
            .collect();
        let grid = Chunks::new(&shape, ChunkSpec::PerAxis(chunk.clone()))?;
        let src = if self.chunks() == &grid {
            self.clone()
        } else {
            self.rechunk(ChunkSpec::PerAxis(chunk.clone()))?
        };
        let (target, replace) = store_target(path)?;
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".blockwork-")
            .suffix(".zarr.part")
            .tempdir_in(&dir)
            .map_err(|e| named(path, ErrorKind::Io, e))?;
        let meta: ArrayMetadata = serde_json::from_value(metadata_json(
            opts.format,
            opts.compression,
            self.dtype(),
            &shape,
            &chunk,
        ))
        .map_err(|e| named(path, ErrorKind::InvalidArgument, e))?;
        let store = FilesystemStore::new(tmp.path())
            .map_err(|e| named(path, ErrorKind::InvalidArgument, e))?;
        let z = ZArray::new_with_metadata(Arc::new(store), "/", meta)
            .map_err(|e| named(path, ErrorKind::InvalidArgument, e))?;
        let z = Arc::new(z);
        let shown: Arc<str> = path.display().to_string().into();
        let (zw, cw) = (z.clone(), chunk.clone());
        let op = Op::new("write-zarr", move |args: &[Value]| {
            let idx = block_index(&args[0])?;
            let b = block_of(&args[1])?;
            with_block!(b, a => write_block(&zw, &idx, &cw, a)).map_err(|e| {
                TaskError::with_kind(ErrorKind::Io, format!("{shown}: chunk {idx:?}: {e}"))
            })?;
            Ok(Value::Unit)
        });
        let src = src.materialize();
        let name = token("to-zarr", (src.name(), path));
        let mut graph = Graph::with_capacity(grid.nblocks());
        let mut keys = Vec::with_capacity(grid.nblocks());
        for idx in grid.indices() {
            let k = Key::block(&name, &idx);
            let args = [
                Arg::lit(super::index_value(&idx)),
                Arg::key(src.block_key(&idx)),
            ];
            graph.insert(k.clone(), Node::Task(Task::new(&op, args)));
            keys.push(k);
        }
        let mut full = super::collect_graph(&[src.layer()])?;
        full.merge(&graph)?;
        // On any error `tmp` is dropped on return, which removes the partial store.
        exec.run(&Plan::new(&full, &keys)?)?;
        drop(full);
        let mopts = ArrayMetadataOptions::default().with_include_zarrs_metadata(false);
        z.store_metadata_opt(&mopts)
            .map_err(|e| named(path, ErrorKind::Io, e))?;
        drop(z);
        install(tmp, &target, &dir, replace)
    }
}
