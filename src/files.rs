//! Writing files so that a failed write never looks complete: output goes to a temporary file
//! beside the target and is renamed over it only on success. This module decides what the
//! target is: a symlink is written through (its final target is replaced, as `numpy.save` and
//! shells do), a path that exists but is not a regular file (a FIFO, a device, a directory) is
//! refused, and a replaced file keeps its permissions.

use std::fs::Permissions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes the file `path` with `write` so that a failure never leaves a partial file there:
/// the bytes go to a temporary file in the target's directory, which replaces the target only
/// once `write` returned `Ok` and the data reached the disk; on any error the temporary is
/// removed and the target is as it was. A symlink is written through, a path that exists and
/// is not a regular file (a FIFO, a device, a directory) is refused with
/// [`InvalidInput`](io::ErrorKind::InvalidInput) rather than opened (opening a FIFO would
/// block), and a replaced file keeps its permissions. Errors name `path`.
///
/// ```
/// use std::io::Write;
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("out.txt");
/// blockwork::files::write_atomically(&path, |w| w.write_all(b"complete\n"))?;
/// let failed = blockwork::files::write_atomically(&path, |w| {
///     w.write_all(b"partial")?;
///     Err(std::io::Error::other("stopped"))
/// });
/// assert!(failed.unwrap_err().to_string().contains("out.txt"));
/// assert_eq!(std::fs::read_to_string(&path)?, "complete\n");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let target = write_target(path).map_err(named)?;
    let mut temp = tempfile::Builder::new();
    temp.prefix(".blockwork-").suffix(".tmp");
    {
        use std::os::unix::fs::PermissionsExt;
        // As `File::create` would make it (the umask applies), not owner-only.
        temp.permissions(Permissions::from_mode(0o666));
    }
    let file = temp.tempfile_in(&target.dir).map_err(named)?;
    let mut w = io::BufWriter::new(file);
    write(&mut w).map_err(named)?;
    let file = w.into_inner().map_err(|e| named(e.into_error()))?;
    if let Some(p) = target.permissions {
        file.as_file().set_permissions(p).map_err(named)?;
    }
    file.as_file().sync_all().map_err(named)?;
    file.persist(&target.path).map_err(|e| named(e.error))?;
    Ok(())
}

/// Where to write `path` and with which permissions.
pub(crate) struct WriteTarget {
    /// The file to replace: `path`, or the final target of the symlink `path` is.
    pub(crate) path: PathBuf,
    /// The directory the temporary goes to (the target's own, so the rename is atomic).
    pub(crate) dir: PathBuf,
    /// The permissions of the file being replaced, to give the new one; `None` for a new file.
    pub(crate) permissions: Option<Permissions>,
}

/// Resolves `path` for an atomic write. Errors (`InvalidInput`) when it exists and is not a
/// regular file, or is a symlink whose final target is not one.
pub(crate) fn write_target(path: &Path) -> io::Result<WriteTarget> {
    let mut target = path.to_path_buf();
    // Follow symlinks, even dangling ones (the write then creates their target), a bounded
    // number of times as the kernel does.
    for _ in 0..40 {
        match std::fs::symlink_metadata(&target) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&target)?;
                target = match target.parent() {
                    Some(parent) => parent.join(link),
                    None => link,
                };
            }
            Ok(m) if m.is_file() => {
                return Ok(WriteTarget {
                    dir: parent_dir(&target),
                    path: target,
                    permissions: Some(m.permissions()),
                });
            }
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "{} exists and is not a regular file: not replaced",
                        target.display()
                    ),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(WriteTarget {
                    dir: parent_dir(&target),
                    path: target,
                    permissions: None,
                });
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{}: too many levels of symbolic links", path.display()),
    ))
}

/// The directory of `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Hints to the system's page cache about how a file's bytes are used (`posix_fadvise`).
/// Hints only: they never change what is read or written, and their errors are ignored (a
/// file system or a system without them is slower, not wrong). On systems other than Linux
/// and Android, and under Miri, they do nothing.
pub(crate) mod cache {
    use std::fs::File;

    /// Ranges shorter than this get no hint: a system call per small block costs more than
    /// the hint saves, and small files stay cached as usual.
    pub(crate) const MIN_HINT_BYTES: u64 = 1 << 20;

    /// What to tell the system about a byte range.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum Hint {
        /// The file is read front to back (a larger read-ahead window).
        Sequential,
        /// The range is read soon: the system starts reading it now, in the background.
        WillNeed,
        /// The range is not needed again: its clean pages are dropped from the cache. On
        /// Linux this also starts the write-back of its dirty pages without waiting for it
        /// (`generic_fadvise` in `mm/fadvise.c`), which is how written blocks are streamed
        /// to the disk while the next ones are computed. Pages at the ends of the range that
        /// it covers only in part are kept.
        DontNeed,
    }

    /// Gives `hint` for `len` bytes of `file` from byte `at` (`len == 0`: to the end).
    #[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
    pub(crate) fn advise(file: &File, at: u64, len: u64, hint: Hint) {
        use rustix::fs::{Advice, fadvise};
        let advice = match hint {
            Hint::Sequential => Advice::Sequential,
            Hint::WillNeed => Advice::WillNeed,
            Hint::DontNeed => Advice::DontNeed,
        };
        let _ = fadvise(file, at, std::num::NonZeroU64::new(len), advice);
    }

    /// Gives `hint` for `len` bytes of `file` from byte `at`: nothing on this system (nor
    /// under Miri, which cannot make the system call).
    #[cfg(not(all(any(target_os = "linux", target_os = "android"), not(miri))))]
    pub(crate) fn advise(_file: &File, _at: u64, _len: u64, _hint: Hint) {}

    /// Collects byte ranges and hands on the maximal runs of adjacent ones, so that a block
    /// read or written in many pieces costs one hint per contiguous stretch.
    #[derive(Debug, Default)]
    pub(crate) struct Stretches {
        open: Option<(u64, u64)>,
        done: Vec<(u64, u64)>,
    }

    impl Stretches {
        /// Adds the range `[start, end)`.
        pub(crate) fn add(&mut self, start: u64, end: u64) {
            match &mut self.open {
                Some((_, e)) if *e == start => *e = end,
                open => {
                    if let Some(r) = open.replace((start, end)) {
                        self.done.push(r);
                    }
                }
            }
        }

        /// The stretches, in the order they were added, those shorter than
        /// [`MIN_HINT_BYTES`] left out.
        pub(crate) fn finish(mut self) -> Vec<(u64, u64)> {
            self.done.extend(self.open.take());
            self.done.retain(|(s, e)| e - s >= MIN_HINT_BYTES);
            self.done
        }
    }

    #[cfg(test)]
    mod tests {
        use super::{MIN_HINT_BYTES, Stretches};

        #[test]
        fn stretches_merge_adjacent_ranges_and_drop_short_ones() {
            let m = MIN_HINT_BYTES;
            let mut s = Stretches::default();
            for (a, b) in [
                (0, m),
                (m, 2 * m),
                (3 * m, 3 * m + 5),
                (4 * m, 6 * m),
                (6 * m, 7 * m),
            ] {
                s.add(a, b);
            }
            assert_eq!(s.finish(), [(0, 2 * m), (4 * m, 7 * m)]);
            assert!(Stretches::default().finish().is_empty());
        }
    }
}
