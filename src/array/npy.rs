//! `.npy` files: read block by block with positioned reads; written block by block at each
//! block's own offsets, so neither direction holds the whole array in memory.
//!
//! The header is a Python literal (parsed by `py_literal`, as ndarray-npy does); the data of
//! a C-order `.npy` file follows it, `len × itemsize` bytes, which the block tasks read and
//! write with positioned I/O. A file that no longer holds those bytes when a block is read
//! (truncated meanwhile) is an [`Io`](ErrorKind::Io) error of that block's task.
//!
//! Writes go to a temporary file in the target's directory, renamed over the target only
//! after every block was written: a failed write leaves no file (and an existing target
//! untouched), and writing over a file the graph still reads is safe.
//!
//! Blocks of 1 MiB or more of contiguous data get page-cache hints (`posix_fadvise`): the
//! bytes after a block read are read ahead while it is computed on, a written block's pages
//! go to the disk at once (write-behind), and with
//! [`ArrayContext::with_streaming_files`] pages are dropped from the cache once used.
//!
//! The positioned reads and writes of one block are in
//! [`kernels::npy_io`](super::kernels::npy_io); this file parses headers and builds the graphs.

use super::dtype::{DType, with_block};
use super::grid::{ChunkSpec, Chunks};
use super::kernels::npy_io::{read_block, write_block};
use super::{Array, ArrayContext, block_of, token};
use crate::error::{Error, ErrorKind, Result, TaskError};
use crate::exec::Executor;
use crate::files::cache::{Hint, Stretches, advise};
use crate::graph::{Arg, Graph, Node, Op, Task};
use crate::key::Key;
use crate::plan::Plan;
use crate::value::Value;
use ndarray::IxDyn;
use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

#[cold]
fn io_error(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Io, e.to_string())
}

impl ArrayContext {
    /// An array backed by a `.npy` file (C order, little-endian `f64`, `f32`, `i64`, `i32`
    /// or `bool`); each block task reads its own block from the file with positioned reads.
    ///
    /// Errors: a file that cannot be opened is an [`Io`](ErrorKind::Io) error; a header
    /// that is not a C-order `.npy` header of one of those types is a
    /// [`Type`](ErrorKind::Type) error; a file whose size does not match its header is
    /// [`Io`](ErrorKind::Io). A file that shrinks after this call makes the tasks reading
    /// the missing bytes fail with an [`Io`](ErrorKind::Io) cause.
    pub fn from_npy(&self, path: impl AsRef<Path>, chunks: impl Into<ChunkSpec>) -> Result<Array> {
        let path = path.as_ref();
        let named = |e: &dyn std::fmt::Display| io_error(format!("{}: {e}", path.display()));
        let file = File::open(path).map_err(|e| named(&e))?;
        let meta = file.metadata().map_err(|e| named(&e))?;
        let header = NpyHeader::read(&file).map_err(|e| match e.kind() {
            ErrorKind::Io => named(&e),
            _ => e,
        })?;
        let (dtype, shape) = (header.dtype, header.shape);
        let nbytes = super::grid::checked_size(&shape, dtype.itemsize())? * dtype.itemsize();
        if (header.len as u64).checked_add(nbytes as u64) != Some(meta.len()) {
            return Err(named(&format!(
                "file of {} bytes, its header says {} + {nbytes}",
                meta.len(),
                header.len
            )));
        }
        let chunks = Chunks::new(&shape, chunks)?;
        let stamp = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos());
        let name = token(
            "from-npy",
            (path, meta.len(), stamp, dtype, &shape, &chunks),
        );
        let data_at = header.len as u64;
        advise(&file, 0, 0, Hint::Sequential);
        let (ctx, file) = (self.clone(), Arc::new(file));
        let (streaming, file_len) = (self.streams_files(), meta.len());
        let reader = move |off: &[usize], bshape: &[usize]| {
            let mut out = ctx.alloc(dtype, bshape)?;
            let mut own = Stretches::default();
            with_block!(&mut out, a => read_block(&file, data_at, &shape, off, bshape, a, &mut own))
                .map_err(|e| TaskError::with_kind(ErrorKind::Io, e.to_string()))?;
            let own = own.finish();
            if let (Some(&(first, _)), Some(&(_, last))) = (own.first(), own.last()) {
                // The next blocks of a C-order sweep follow this one in the file: have the
                // system read them while this one is computed on.
                let ahead = ((last - first) * prefetch_blocks())
                    .min(MAX_PREFETCH_BYTES)
                    .min(file_len.saturating_sub(last));
                if ahead > 0 {
                    advise(&file, last, ahead, Hint::WillNeed);
                }
            }
            if streaming {
                for (start, end) in own {
                    advise(&file, start, end - start, Hint::DontNeed);
                }
            }
            Ok(out)
        };
        Ok(self.block_reader_array(name, "read-npy", chunks, dtype, path, reader))
    }
}

/// Read-ahead beyond a block read from a `.npy` file is at most this many bytes.
const MAX_PREFETCH_BYTES: u64 = 512 << 20;

/// How many blocks' worth of bytes to read ahead: one per core, so that the blocks the
/// other workers take next are on their way too.
fn prefetch_blocks() -> u64 {
    static N: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *N.get_or_init(|| std::thread::available_parallelism().map_or(2, |n| n.get() as u64))
}

/// Write-behind of a `.npy` file being written: each block's pages go to the disk as soon as
/// the block is written (so the disk writes while later blocks are computed, and little is
/// left for the final `fsync`); when streaming, they are dropped from the cache once
/// [`WRITE_LAG_BYTES`] more have been written, by when the disk has them.
struct WriteBehind {
    file: Arc<File>,
    /// Written stretches not yet dropped, and their bytes; `None` when not streaming.
    pending: Option<Mutex<Pending>>,
}

/// Byte ranges written and not yet dropped from the cache, oldest first, and their total.
#[derive(Default)]
struct Pending {
    ranges: VecDeque<(u64, u64)>,
    bytes: u64,
}

/// How far behind the last written block pages are dropped when streaming.
const WRITE_LAG_BYTES: u64 = 256 << 20;

impl WriteBehind {
    fn new(file: Arc<File>, streaming: bool) -> WriteBehind {
        let pending = streaming.then(|| Mutex::new(Pending::default()));
        WriteBehind { file, pending }
    }

    /// `written`: the stretches of a block just written.
    fn wrote(&self, written: Vec<(u64, u64)>) {
        for &(start, end) in &written {
            advise(&self.file, start, end - start, Hint::DontNeed);
        }
        let Some(pending) = &self.pending else {
            return;
        };
        let mut old = Vec::new();
        {
            let mut p = pending.lock().unwrap_or_else(|e| e.into_inner());
            for (start, end) in written {
                p.ranges.push_back((start, end));
                p.bytes += end - start;
            }
            while p.bytes > WRITE_LAG_BYTES {
                let Some((start, end)) = p.ranges.pop_front() else {
                    break;
                };
                p.bytes -= end - start;
                old.push((start, end));
            }
        }
        for (start, end) in old {
            advise(&self.file, start, end - start, Hint::DontNeed);
        }
    }
}

/// What a `.npy` header says: element type, shape and the header's length in bytes.
struct NpyHeader {
    dtype: DType,
    shape: Vec<usize>,
    len: usize,
}

/// Headers longer than this are not read (NumPy writes a few hundred bytes).
const MAX_HEADER: usize = 1 << 20;

impl NpyHeader {
    /// Reads and checks the header at the start of `file`.
    fn read(file: &File) -> Result<NpyHeader> {
        let not_npy = |why: &str| {
            Error::new(
                ErrorKind::Type,
                format!(
                    "not a C-order little-endian .npy file of f64, f32, i64, i32 or bool: {why}"
                ),
            )
        };
        let mut pre = [0u8; 12];
        let got = read_prefix(file, &mut pre)?;
        if got < 10 || &pre[..6] != b"\x93NUMPY" {
            return Err(not_npy("no .npy magic string"));
        }
        let (hlen, start) = match pre[6] {
            1 => (u16::from_le_bytes([pre[8], pre[9]]) as usize, 10),
            2 | 3 if got == 12 => (
                u32::from_le_bytes([pre[8], pre[9], pre[10], pre[11]]) as usize,
                12,
            ),
            v => return Err(not_npy(&format!("version {v}"))),
        };
        if hlen > MAX_HEADER {
            return Err(not_npy("header too long"));
        }
        let mut text = vec![0u8; hlen];
        file.read_exact_at(&mut text, start as u64)
            .map_err(|e| not_npy(&e.to_string()))?;
        let text = std::str::from_utf8(&text).map_err(|_| not_npy("header is not text"))?;
        let dict: py_literal::Value = text
            .trim_end()
            .parse()
            .map_err(|_| not_npy("header is not a Python literal"))?;
        let dict = dict
            .as_dict()
            .ok_or_else(|| not_npy("header is not a dict"))?;
        let (mut dtype, mut fortran, mut shape) = (None, None, None);
        for (k, v) in dict {
            match k.as_string().map(String::as_str) {
                Some("descr") => {
                    dtype = match v.as_string().map(String::as_str) {
                        Some("<f8") => Some(DType::F64),
                        Some("<f4") => Some(DType::F32),
                        Some("<i8") => Some(DType::I64),
                        Some("<i4") => Some(DType::I32),
                        Some("|b1") => Some(DType::Bool),
                        _ => return Err(not_npy(&format!("element type {v}"))),
                    }
                }
                Some("fortran_order") => fortran = v.as_boolean(),
                Some("shape") => {
                    shape = v.as_tuple().and_then(|t| {
                        t.iter()
                            .map(|d| d.as_integer()?.to_string().parse::<usize>().ok())
                            .collect::<Option<Vec<usize>>>()
                    })
                }
                _ => return Err(not_npy(&format!("unknown header key {k}"))),
            }
        }
        match (dtype, fortran, shape) {
            (Some(dtype), Some(false), Some(shape)) => Ok(NpyHeader {
                dtype,
                shape,
                len: start + hlen,
            }),
            (_, Some(true), _) => Err(not_npy("Fortran order")),
            _ => Err(not_npy("header lacks descr, fortran_order or shape")),
        }
    }
}

/// Reads up to `buf.len()` bytes from the start of `file`; returns how many it got.
fn read_prefix(file: &File, buf: &mut [u8]) -> Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(e)),
        }
    }
    Ok(got)
}

impl Array {
    /// Writes the array to a `.npy` file block by block: each block task writes its own
    /// rows at their offsets and frees its block, so memory stays bounded by the blocks in
    /// flight.
    ///
    /// The blocks go to a temporary file in `path`'s directory, which is renamed to `path`
    /// once every block is written. A failed run removes the temporary file and leaves
    /// `path` as it was (absent, or its old contents), and `path` may be a file that this
    /// array is read from. A symlink is written through; a replaced file keeps its
    /// permissions; a path that exists but is not a regular file (a FIFO, a device, a
    /// directory) is an [`Io`](ErrorKind::Io) error. I/O errors name the path.
    ///
    /// ```
    /// use blockwork::array::{ArrayContext, DType};
    /// use blockwork::Sequential;
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("x.npy");
    /// let ctx = ArrayContext::new();
    /// ctx.ones(&[4], 2, DType::F64)?.to_npy(&path, &Sequential::new())?;
    /// // Overwriting a file with a function of itself reads the old contents.
    /// ctx.from_npy(&path, 3)?.add(1.0)?.to_npy(&path, &Sequential::new())?;
    /// let back = ctx.from_npy(&path, 4)?.compute::<f64>(&Sequential::new())?;
    /// assert_eq!(back.as_slice().unwrap(), &[2.0; 4]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_npy(&self, path: impl AsRef<Path>, exec: &impl Executor) -> Result<()> {
        let path = path.as_ref();
        let named = |e: &dyn std::fmt::Display| io_error(format!("{}: {e}", path.display()));
        let target = crate::files::write_target(path).map_err(|e| named(&e))?;
        let dir = target.dir.as_path();
        let mut builder = tempfile::Builder::new();
        builder.prefix(".blockwork-").suffix(".npy.part");
        {
            use std::os::unix::fs::PermissionsExt;
            // The usual mode of a new file; the process umask applies.
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let tmp = builder.tempfile_in(dir).map_err(|e| named(&e))?;
        let shape = self.shape().to_vec();
        with_zeroed(tmp.as_file(), self.dtype(), &shape).map_err(|e| named(&e))?;
        let nbytes =
            super::grid::checked_size(&shape, self.dtype().itemsize())? * self.dtype().itemsize();
        let data_at = tmp.as_file().metadata().map_err(|e| named(&e))?.len() as usize - nbytes;
        let file = Arc::new(tmp.as_file().try_clone().map_err(|e| named(&e))?);
        let streaming = self.context().streams_files();
        let behind = WriteBehind::new(file.clone(), streaming);
        let chunks = self.chunks().clone();
        let shown: Arc<str> = path.display().to_string().into();
        let op = Op::new("write-npy", move |args: &[Value]| {
            let idx = super::block_index(&args[0])?;
            let b = block_of(&args[1])?;
            let off: Vec<usize> = (0..idx.len()).map(|k| chunks.offset(k, idx[k])).collect();
            let mut written = Stretches::default();
            with_block!(b, a => write_block(&file, data_at, &shape, &off, a, &mut written))
                .map_err(|e| TaskError::with_kind(ErrorKind::Io, format!("{shown}: {e}")))?;
            behind.wrote(written.finish());
            Ok(Value::Unit)
        });
        let src = self.materialize();
        let name = token("to-npy", (src.name(), path));
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
        // On any error `tmp` is dropped here, which removes the temporary file.
        exec.run(&Plan::new(&full, &keys)?)?;
        drop(full);
        if let Some(p) = target.permissions {
            tmp.as_file().set_permissions(p).map_err(|e| named(&e))?;
        }
        tmp.as_file().sync_all().map_err(|e| named(&e))?;
        if streaming {
            advise(tmp.as_file(), 0, 0, Hint::DontNeed);
        }
        tmp.persist(&target.path).map_err(|e| named(&e.error))?;
        Ok(())
    }
}

fn with_zeroed(file: &File, dtype: DType, shape: &[usize]) -> Result<(), String> {
    let s = IxDyn(shape);
    match dtype {
        DType::Bool => ndarray_npy::write_zeroed_npy::<bool, _>(file, s),
        DType::I32 => ndarray_npy::write_zeroed_npy::<i32, _>(file, s),
        DType::I64 => ndarray_npy::write_zeroed_npy::<i64, _>(file, s),
        DType::F32 => ndarray_npy::write_zeroed_npy::<f32, _>(file, s),
        DType::F64 => ndarray_npy::write_zeroed_npy::<f64, _>(file, s),
    }
    .map_err(|e| e.to_string())
}
