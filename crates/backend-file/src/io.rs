//! The blocking I/O under the file stores: positional reads, O_DIRECT with fallback,
//! page-cache advice, and the sinks that writes go through. Everything here runs on
//! Tokio's blocking pool, never on an async worker.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use s3dlio_core::blocks::BlockPool;
use s3dlio_core::buffer::OutputBuffer;
use s3dlio_core::{Error, Operation};

use crate::aligned::AlignedBuf;
use crate::config::PageCacheHint;

/// Prefix of the temporary names objects are written under before their rename.
pub(crate) const TEMP_PREFIX: &str = ".s3dlio-tmp.";

/// How a direct:// store's opens went: proof of whether O_DIRECT was really used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DirectIoStats {
    /// Opens that the kernel accepted with O_DIRECT.
    pub direct_opens: u64,
    /// Opens that fell back to buffered I/O because the filesystem refused O_DIRECT.
    pub buffered_fallbacks: u64,
}

#[derive(Debug, Default)]
pub(crate) struct IoStats {
    direct: AtomicU64,
    fallback: AtomicU64,
    warned: AtomicBool,
}

impl IoStats {
    pub(crate) fn snapshot(&self) -> DirectIoStats {
        DirectIoStats {
            direct_opens: self.direct.load(Ordering::Relaxed),
            buffered_fallbacks: self.fallback.load(Ordering::Relaxed),
        }
    }
}

/// Opens `path` with `base`'s options, adding O_DIRECT when `direct` is set.
pub(crate) fn open(
    path: &Path,
    base: &OpenOptions,
    direct: bool,
    stats: &IoStats,
) -> io::Result<(File, bool)> {
    open_with(path, base, direct, stats, |p, o| {
        o.clone().custom_flags(libc::O_DIRECT).open(p)
    })
}

/// [`open`] with the O_DIRECT attempt supplied, so the fallback is testable on any
/// filesystem. A filesystem that refuses O_DIRECT (EINVAL) gets a warning, once per
/// store, and a buffered open; any other error is returned.
pub(crate) fn open_with(
    path: &Path,
    base: &OpenOptions,
    direct: bool,
    stats: &IoStats,
    try_direct: impl FnOnce(&Path, &OpenOptions) -> io::Result<File>,
) -> io::Result<(File, bool)> {
    if !direct {
        return Ok((base.open(path)?, false));
    }
    match try_direct(path, base) {
        Ok(f) => {
            stats.direct.fetch_add(1, Ordering::Relaxed);
            Ok((f, true))
        }
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            if !stats.warned.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    path = %path.display(),
                    "the filesystem refused O_DIRECT; direct:// falls back to buffered I/O (page cache in use)"
                );
            }
            stats.fallback.fetch_add(1, Ordering::Relaxed);
            Ok((base.open(path)?, false))
        }
        Err(e) => Err(e),
    }
}

/// Advises the kernel before reading `range`.
pub(crate) fn advise_before(file: &File, range: &Range<u64>, hint: PageCacheHint, whole: bool) {
    let advice = match hint {
        PageCacheHint::Auto if whole => libc::POSIX_FADV_SEQUENTIAL,
        PageCacheHint::Auto => libc::POSIX_FADV_RANDOM,
        PageCacheHint::Sequential => libc::POSIX_FADV_SEQUENTIAL,
        PageCacheHint::Random => libc::POSIX_FADV_RANDOM,
        PageCacheHint::DontNeed | PageCacheHint::Normal => return,
    };
    fadvise(file, range, advice);
}

/// Drops the pages of `range` from the cache when the hint asks for it.
pub(crate) fn advise_after(file: &File, range: &Range<u64>, hint: PageCacheHint) {
    if hint == PageCacheHint::DontNeed {
        fadvise(file, range, libc::POSIX_FADV_DONTNEED);
    }
}

fn fadvise(file: &File, range: &Range<u64>, advice: libc::c_int) {
    // Advice is a hint: a filesystem that ignores it changes speed, not results.
    // SAFETY: a valid fd and plain integers.
    unsafe {
        libc::posix_fadvise(
            file.as_raw_fd(),
            range.start as libc::off_t,
            (range.end - range.start) as libc::off_t,
            advice,
        );
    }
}

/// Reads `range` with positional reads (no shared file offset, so concurrent readers
/// of one handle cannot race). Direct handles read aligned blocks into an aligned
/// buffer and return a slice of it, without a copy.
pub(crate) fn read_range(file: &File, range: Range<u64>, direct: bool, align: usize) -> io::Result<Bytes> {
    let len = (range.end - range.start) as usize;
    if len == 0 {
        return Ok(Bytes::new());
    }
    if direct {
        let start = range.start - range.start % align as u64;
        let end = range.end.next_multiple_of(align as u64);
        let mut buf = AlignedBuf::new((end - start) as usize, align);
        let got = pread_until_eof(file, buf.as_mut_ptr(), buf.capacity(), start, Some(align))?;
        // SAFETY: pread initialised `got` bytes.
        unsafe { buf.set_len(got) };
        let (lo, hi) = ((range.start - start) as usize, (range.end - start) as usize);
        if got < hi {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        return Ok(Bytes::from_owner(buf).slice(lo..hi));
    }
    let mut buf: Vec<u8> = Vec::with_capacity(len);
    // Reading into spare capacity avoids zero-filling memory the kernel overwrites.
    pread_exact(file, buf.as_mut_ptr(), len, range.start)?;
    // SAFETY: pread initialised `len` bytes.
    unsafe { buf.set_len(len) };
    Ok(Bytes::from(buf))
}

/// Reads each of `ranges` (buffered handles only) into one buffer for all of them, and
/// returns a slice of it per range: one buffer per batch instead of one (and a shared
/// header) per range, which is most of a small read's cost beside its `pread`. The
/// slices keep the whole buffer alive, as slices of one merged request do. A batch that
/// fits `pool`'s blocks reads into a recycled one (no page faults once warm).
pub(crate) fn read_ranges_into_one(
    file: &File,
    ranges: &[Range<u64>],
    pool: &Arc<BlockPool>,
) -> io::Result<Vec<Bytes>> {
    let total: u64 = ranges.iter().map(|r| r.end - r.start).sum();
    let pooled = total as usize <= pool.block_size();
    let mut buf: Vec<u8> = match pooled {
        true => pool.take(),
        false => Vec::with_capacity(total as usize),
    };
    let mut bounds = Vec::with_capacity(ranges.len());
    let mut at = 0;
    for r in ranges {
        let n = (r.end - r.start) as usize;
        // SAFETY: `at + n <= total`, within the buffer's capacity; pread writes only there.
        pread_exact(file, unsafe { buf.as_mut_ptr().add(at) }, n, r.start)?;
        bounds.push(at..at + n);
        at += n;
    }
    // SAFETY: the preads initialised every byte up to `total` (the ranges tile it).
    unsafe { buf.set_len(at) };
    let all = match pooled {
        true => pool.freeze(buf),
        false => Bytes::from(buf),
    };
    Ok(bounds.into_iter().map(|b| all.slice(b)).collect())
}

/// Reads `range` of `file` into the first bytes of `out` (which must have room for it),
/// `chunk` bytes per positional read with up to `concurrency` reads in flight on the
/// blocking pool: each byte is copied once, from the page cache into place. Returns the
/// bytes written.
pub(crate) async fn read_parallel(
    op: Operation,
    uri: &str,
    file: Arc<File>,
    range: Range<u64>,
    chunk: u64,
    concurrency: usize,
    out: &Arc<OutputBuffer>,
) -> s3dlio_core::Result<usize> {
    let len = (range.end - range.start) as usize;
    let chunk = chunk.max(1) as usize;
    let reads = (0..len).step_by(chunk).map(|at| {
        let (file, n) = (file.clone(), chunk.min(len - at));
        let offset = range.start + at as u64;
        let read = move |to: *mut u8, n: usize| pread_exact(&file, to, n, offset);
        // SAFETY: the pieces `at..at + n` tile the buffer without overlapping.
        let filled = unsafe { out.fill(op, uri, at, n, read) };
        async move { filled.await?.map_err(|e| Error::from_io(op, uri, e)).map(|()| n) }
    });
    stream::iter(reads)
        .buffer_unordered(concurrency.max(1))
        .try_fold(0, |sum, n| async move { Ok(sum + n) })
        .await
}

/// `pread` into `ptr[..len]` until it is full; end of file first is `UnexpectedEof`.
fn pread_exact(file: &File, ptr: *mut u8, len: usize, offset: u64) -> io::Result<()> {
    if pread_until_eof(file, ptr, len, offset, None)? < len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

/// `pread` into `ptr[..len]` until full or end of file; returns the bytes read. With
/// O_DIRECT (`align` set) a short read ends the loop, since it can only mean EOF.
fn pread_until_eof(
    file: &File,
    ptr: *mut u8,
    len: usize,
    offset: u64,
    align: Option<usize>,
) -> io::Result<usize> {
    let mut done = 0;
    while done < len {
        // SAFETY: ptr[..len] is writable memory owned by the caller.
        let n = unsafe {
            libc::pread(
                file.as_raw_fd(),
                ptr.add(done).cast(),
                len - done,
                (offset + done as u64) as libc::off_t,
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        let n = n as usize;
        done += n;
        if n == 0 || align.is_some_and(|a| !n.is_multiple_of(a)) {
            break;
        }
    }
    Ok(done)
}

/// Where a write goes: straight to the file, or through an aligned staging buffer whose
/// full blocks are written with O_DIRECT; the unaligned tail is padded to a block and
/// the file truncated to its real length.
#[derive(Debug)]
pub(crate) enum Sink {
    Buffered(File),
    Direct {
        file: File,
        buf: AlignedBuf,
        offset: u64,
        align: usize,
    },
}

impl Sink {
    /// A sink for `file`; `staging` is the direct buffer size (rounded up to `align`).
    pub(crate) fn new(file: File, direct: bool, staging: usize, align: usize) -> Self {
        if direct {
            Sink::Direct {
                file,
                buf: AlignedBuf::new(staging.max(1).next_multiple_of(align), align),
                offset: 0,
                align,
            }
        } else {
            Sink::Buffered(file)
        }
    }

    pub(crate) fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        match self {
            Sink::Buffered(f) => f.write_all(data),
            Sink::Direct {
                file, buf, offset, ..
            } => {
                while !data.is_empty() {
                    let n = buf.extend_from(data);
                    data = &data[n..];
                    if buf.len() == buf.capacity() {
                        file.write_all_at(buf.as_ref(), *offset)?;
                        *offset += buf.len() as u64;
                        buf.clear();
                    }
                }
                Ok(())
            }
        }
    }

    /// Writes what is buffered, syncs if asked, and returns the file's length.
    pub(crate) fn finish(self, fsync: bool) -> io::Result<u64> {
        let (file, len) = match self {
            Sink::Buffered(f) => {
                let len = f.metadata()?.len();
                (f, len)
            }
            Sink::Direct {
                file,
                mut buf,
                offset,
                align,
            } => {
                let len = offset + buf.len() as u64;
                if buf.len() > 0 {
                    buf.pad_to(align);
                    file.write_all_at(buf.as_ref(), offset)?;
                    file.set_len(len)?;
                }
                (file, len)
            }
        };
        if fsync {
            file.sync_data()?;
        }
        Ok(len)
    }
}

/// A fresh temporary path beside `path`, hidden from listings.
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let name = format!("{TEMP_PREFIX}{:016x}", rand::random::<u64>());
    path.with_file_name(name)
}

/// Makes a written temporary file visible as `path`: the one commit of every file
/// write (put, writer, copy). With `fsync` the rename is made durable too (the data
/// itself was synced by whoever wrote it).
pub(crate) fn commit(tmp: &Path, path: &Path, fsync: bool) -> io::Result<()> {
    std::fs::rename(tmp, path)?;
    if fsync && let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Writes `data` to a temporary file beside `path` and renames it into place, so
/// readers see the old file or the whole new one.
pub(crate) fn atomic_write(
    path: &Path,
    data: &[u8],
    direct: bool,
    align: usize,
    fsync: bool,
    stats: &IoStats,
) -> io::Result<()> {
    let parent = path.parent().ok_or(io::ErrorKind::InvalidInput)?;
    std::fs::create_dir_all(parent)?;
    let tmp = temp_path(path);
    let result = (|| {
        let (file, direct) = open(
            &tmp,
            OpenOptions::new().write(true).create_new(true),
            direct,
            stats,
        )?;
        let mut sink = Sink::new(file, direct, data.len().min(8 << 20), align);
        sink.write_all(data)?;
        sink.finish(fsync)?;
        commit(&tmp, path, fsync)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_o_direct_falls_back_to_buffered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        let stats = IoStats::default();
        let refuse = |_: &Path, _: &OpenOptions| Err(io::Error::from_raw_os_error(libc::EINVAL));
        let (file, direct) = open_with(&path, OpenOptions::new().read(true), true, &stats, refuse).unwrap();
        assert!(!direct);
        assert_eq!(read_range(&file, 2..5, direct, 4096).unwrap(), "234");
        let (_, direct) = open_with(&path, OpenOptions::new().read(true), true, &stats, refuse).unwrap();
        assert!(!direct);
        assert_eq!(
            stats.snapshot(),
            DirectIoStats {
                direct_opens: 0,
                buffered_fallbacks: 2
            }
        );

        let other = |_: &Path, _: &OpenOptions| Err(io::Error::from_raw_os_error(libc::EACCES));
        assert!(open_with(&path, OpenOptions::new().read(true), true, &stats, other).is_err());
    }

    #[test]
    fn direct_sink_pads_and_truncates_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let stats = IoStats::default();
        let (file, direct) = open(&path, OpenOptions::new().write(true).create(true), true, &stats).unwrap();
        let mut sink = Sink::new(file, direct, 4096, 4096);
        let data: Vec<u8> = (0..10_001u32).map(|i| i as u8).collect();
        sink.write_all(&data[..3]).unwrap();
        sink.write_all(&data[3..]).unwrap();
        assert_eq!(sink.finish(false).unwrap(), 10_001);
        assert_eq!(std::fs::read(&path).unwrap(), data);
    }
}
