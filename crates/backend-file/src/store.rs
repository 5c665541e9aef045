//! `FileStore`: the `ObjectStore` for `file://` (buffered) and `direct://` (O_DIRECT).

use std::fs::{File, OpenOptions};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::{self, BoxStream};
use s3dlio_core::buffer::OutputBuffer;
use s3dlio_core::{
    Capabilities, Error, GetOptions, GetRange, GetResult, ListEntry, ObjectMeta, ObjectStore, ObjectUri,
    ObjectWriter, Operation, PutOptions, PutResult, RangesOptions, ReadOptions, Result, Service,
    WriterOptions, parse_for, run_blocking, run_short_blocking,
};

use crate::config::{FileConfig, PageCacheHint};
use crate::io::{self, DirectIoStats, IoStats, advise_after, advise_before, atomic_write, read_range};
use crate::list::{self, e_tag, meta_from};
use crate::writer::FileWriter;

/// Local files as objects. `file://` reads through the page cache with `posix_fadvise`
/// hints; `direct://` uses O_DIRECT with aligned buffers, falling back (with a warning)
/// where the filesystem refuses it. Puts and writers write a temporary file beside the
/// target and rename it into place, so readers never see a partial object.
#[derive(Debug, Clone)]
pub struct FileStore {
    pub(crate) config: FileConfig,
    direct: bool,
    stats: Arc<IoStats>,
}

impl FileStore {
    /// The `file://` store.
    pub fn new(config: FileConfig) -> Self {
        FileStore {
            config,
            direct: false,
            stats: Arc::default(),
        }
    }

    /// The `direct://` store.
    pub fn direct(config: FileConfig) -> Self {
        FileStore {
            direct: true,
            ..FileStore::new(config)
        }
    }

    /// How this store's O_DIRECT opens went (all zero for `file://`).
    pub fn direct_io_stats(&self) -> DirectIoStats {
        self.stats.snapshot()
    }

    fn service(&self) -> Service {
        if self.direct {
            Service::Direct
        } else {
            Service::File
        }
    }

    fn parse(&self, uri: &str) -> Result<(ObjectUri, PathBuf)> {
        let u = parse_for(uri, self.name(), &[self.service()])?;
        let path = u.local_path().expect("local scheme");
        Ok((u, path))
    }

    pub(crate) fn object_path(&self, op: Operation, uri: &str) -> Result<(ObjectUri, PathBuf)> {
        let (u, path) = self.parse(uri)?;
        if u.key().is_empty() || u.key().ends_with('/') {
            return Err(Error::invalid_argument(
                op,
                uri,
                "an object URI must name a file, not a directory",
            ));
        }
        Ok((u, path))
    }

    pub(crate) fn open_read(&self, path: &std::path::Path) -> std::io::Result<(File, bool)> {
        io::open(path, OpenOptions::new().read(true), self.direct, &self.stats)
    }

    /// Opens `path` for a read of `opts`: checks its precondition, resolves its range
    /// against the size and gives the page-cache advice. The inner `Err` is the request's
    /// fault (a changed file, a range past the end), the outer one an I/O error.
    #[allow(clippy::type_complexity)]
    fn open_range(
        &self,
        path: &std::path::Path,
        op: Operation,
        uri: &str,
        opts: &GetOptions,
    ) -> std::io::Result<Result<(File, Range<u64>, std::fs::Metadata, bool)>> {
        let (file, direct) = self.open_read(path)?;
        let md = file_metadata_of(&file)?;
        if let Some(want) = &opts.if_match
            && let tag = e_tag(&md)
            && *want != tag
        {
            return Ok(Err(Error::Precondition {
                op,
                uri: uri.to_string(),
                message: format!("file changed: e_tag is {tag}, expected {want}"),
            }));
        }
        let whole = opts.range.is_none();
        let range = match opts
            .range
            .clone()
            .unwrap_or(GetRange::Offset(0))
            .resolve(op, uri, md.len())
        {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        if !direct {
            advise_before(&file, &range, self.config.page_cache, whole);
        }
        Ok(Ok((file, range, md, direct)))
    }

    /// A large buffered read into `out` by concurrent positional reads
    /// (`S3DLIO_RANGE_CHUNK_SIZE` each, `S3DLIO_RANGE_CONCURRENCY` at once): no chunk
    /// buffers and no assembly copy. One open handle serves every chunk, so a file
    /// replaced by rename during the read (how s3dlio writes) is read whole from the old
    /// version. Returns the bytes written.
    async fn read_in_place(
        &self,
        op: Operation,
        uri: &str,
        file: File,
        range: Range<u64>,
        out: &Arc<OutputBuffer>,
    ) -> Result<usize> {
        let file = Arc::new(file);
        let cfg = &self.config.range;
        let (chunk, concurrency) = (cfg.chunk_size, cfg.effective_concurrency());
        let written =
            io::read_parallel(op, uri, file.clone(), range.clone(), chunk, concurrency, out).await?;
        let hint = self.config.page_cache;
        if hint == PageCacheHint::DontNeed {
            blocking(op, uri, move || {
                advise_after(&file, &range, hint);
                Ok(())
            })
            .await?;
        }
        Ok(written)
    }
}

/// What the first trip to the blocking pool did: read the range, or left a large
/// buffered range for [`FileStore::read_in_place`].
enum Opened {
    Read(Bytes),
    Large(File),
}

/// Runs blocking file work on Tokio's blocking pool, mapping I/O errors to the URI.
pub(crate) async fn blocking<T: Send + 'static>(
    op: Operation,
    uri: &str,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T> {
    run_blocking(op, uri, "the blocking I/O task", f)
        .await?
        .map_err(|e| Error::from_io(op, uri, e))
}

/// As [`blocking`], for one short step (open and read at most the range threshold, stat):
/// in place on a waiting caller's thread (`s3dlio_core::as_waiting_caller`).
pub(crate) async fn short_blocking<T: Send + 'static>(
    op: Operation,
    uri: &str,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T> {
    run_short_blocking(op, uri, "the blocking I/O task", f)
        .await?
        .map_err(|e| Error::from_io(op, uri, e))
}

/// Metadata of a regular file; a directory is not an object.
fn file_metadata(path: &std::path::Path) -> std::io::Result<std::fs::Metadata> {
    regular(std::fs::metadata(path)?)
}

/// Metadata of an open regular file; a directory is not an object.
pub(crate) fn file_metadata_of(file: &File) -> std::io::Result<std::fs::Metadata> {
    regular(file.metadata()?)
}

fn regular(md: std::fs::Metadata) -> std::io::Result<std::fs::Metadata> {
    if md.is_file() {
        Ok(md)
    } else {
        Err(std::io::ErrorKind::NotFound.into())
    }
}

#[async_trait]
impl ObjectStore for FileStore {
    fn name(&self) -> &'static str {
        if self.direct { "direct" } else { "file" }
    }

    fn capabilities(&self) -> Capabilities {
        // copy goes through copy_file_range, which the kernel (or filesystem) performs.
        let caps = Capabilities::none()
            .with_server_side_copy()
            .with_atomic_rename()
            .with_batched_ranges();
        // O_DIRECT reads large objects fastest as concurrent aligned chunks.
        if self.direct {
            caps.with_chunked_reads()
        } else {
            caps
        }
    }

    /// Positional reads straight into `out` (concurrent above the range threshold): the
    /// one copy from the page cache, no buffer of our own. direct:// ranges, which need
    /// aligned buffers, keep the default (read, then copy in).
    async fn read_into(&self, uri: &str, opts: ReadOptions, out: Arc<OutputBuffer>) -> Result<u64> {
        let get = opts.one_request();
        let op = get.operation();
        let (_, path) = self.object_path(op, uri)?;
        let (store, uri_owned) = (self.clone(), uri.to_string());
        let (file, range, _, direct) =
            short_blocking(op, uri, move || store.open_range(&path, op, &uri_owned, &get)).await??;
        let len = range.end - range.start;
        out.room_for(op, uri, len)?;
        if direct {
            let align = self.config.direct_alignment;
            let data = blocking(op, uri, move || read_range(&file, range, true, align)).await?;
            // SAFETY: one piece, the whole read, from the buffer's start.
            unsafe { out.copy_in(op, uri, 0, data) }.await?;
            return Ok(len);
        }
        Ok(self.read_in_place(op, uri, file, range, &out).await? as u64)
    }

    /// One trip to the blocking pool opens the file and reads a range up to the
    /// threshold (or any range of direct://, which the read path splits into aligned
    /// chunks itself); a larger buffered range is read in place, concurrently. So the
    /// read path sends file:// one request (no `chunked_reads`).
    async fn get_opts(&self, uri: &str, opts: GetOptions) -> Result<GetResult> {
        let op = opts.operation();
        let (u, path) = self.object_path(op, uri)?;
        let store = self.clone();
        let uri_owned = uri.to_string();
        let threshold = self.config.range.threshold;
        let outcome = short_blocking(op, uri, move || {
            let (file, range, md, direct) = match store.open_range(&path, op, &uri_owned, &opts)? {
                Ok(opened) => opened,
                Err(e) => return Ok(Err(e)),
            };
            if !direct && range.end - range.start > threshold {
                return Ok(Ok((Opened::Large(file), range, md)));
            }
            let data = read_range(&file, range.clone(), direct, store.config.direct_alignment)?;
            if !direct {
                advise_after(&file, &range, store.config.page_cache);
            }
            Ok(Ok((Opened::Read(data), range, md)))
        })
        .await?;
        let (opened, range, md) = outcome?;
        let data = match opened {
            Opened::Read(data) => data,
            Opened::Large(file) => {
                let out = OutputBuffer::new((range.end - range.start) as usize);
                let written = self.read_in_place(op, uri, file, range.clone(), &out).await?;
                out.finish(written)
            }
        };
        Ok(GetResult {
            data,
            range,
            meta: meta_from(u.to_string(), &md),
        })
    }

    async fn get_ranges_opts(
        &self,
        uri: &str,
        ranges: &[Range<u64>],
        opts: RangesOptions,
    ) -> Result<Vec<Bytes>> {
        self.read_ranges(uri, ranges, opts).await
    }

    async fn put_opts(&self, uri: &str, data: Bytes, opts: PutOptions) -> Result<PutResult> {
        let (_, path) = self.object_path(Operation::Put, uri)?;
        reject_attributes(self.name(), uri, &opts)?;
        let (direct, align, fsync, stats) = (
            self.direct,
            self.config.direct_alignment,
            self.config.fsync,
            self.stats.clone(),
        );
        let tag = blocking(Operation::Put, uri, move || {
            atomic_write(&path, &data, direct, align, fsync, &stats)?;
            Ok(e_tag(&std::fs::metadata(&path)?))
        })
        .await?;
        Ok(PutResult {
            e_tag: Some(tag),
            version: None,
        })
    }

    async fn writer(&self, uri: &str, opts: WriterOptions) -> Result<Box<dyn ObjectWriter>> {
        let (_, path) = self.object_path(Operation::Write, uri)?;
        reject_attributes(self.name(), uri, &opts.put)?;
        opts.refuse_journal(uri, self.name())?;
        let w = FileWriter::create(
            uri,
            path,
            self.direct,
            opts.buffer_size,
            self.config.direct_alignment,
            self.config.fsync,
            self.stats.clone(),
        )
        .await?;
        Ok(Box::new(w))
    }

    async fn stat(&self, uri: &str) -> Result<ObjectMeta> {
        let (u, path) = self.object_path(Operation::Stat, uri)?;
        let md = short_blocking(Operation::Stat, uri, move || file_metadata(&path)).await?;
        Ok(meta_from(u.to_string(), &md))
    }

    fn list_stream(&self, prefix: &str, recursive: bool) -> BoxStream<'_, Result<ListEntry>> {
        match self.parse(prefix) {
            Ok((u, _)) => list::list(u, recursive),
            Err(e) => stream::once(async { Err(e) }).boxed(),
        }
    }

    async fn delete(&self, uri: &str) -> Result<()> {
        let (_, path) = self.object_path(Operation::Delete, uri)?;
        blocking(Operation::Delete, uri, move || {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => other,
            }
        })
        .await
    }

    async fn copy(&self, src: &str, dst: &str) -> Result<()> {
        let (_, from) = self.object_path(Operation::Copy, src)?;
        let (_, to) = self.object_path(Operation::Copy, dst)?;
        let probe = from.clone();
        blocking(Operation::Copy, src, move || file_metadata(&probe)).await?;
        let fsync = self.config.fsync;
        blocking(Operation::Copy, dst, move || {
            let parent = to.parent().ok_or(std::io::ErrorKind::InvalidInput)?;
            std::fs::create_dir_all(parent)?;
            let tmp = io::temp_path(&to);
            let result = std::fs::copy(&from, &tmp).and_then(|_| {
                if fsync {
                    File::open(&tmp)?.sync_data()?;
                }
                io::commit(&tmp, &to, fsync)
            });
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            result
        })
        .await
    }

    async fn rename(&self, src: &str, dst: &str) -> Result<()> {
        let (_, from) = self.object_path(Operation::Rename, src)?;
        let (_, to) = self.object_path(Operation::Rename, dst)?;
        let probe = from.clone();
        blocking(Operation::Rename, src, move || file_metadata(&probe)).await?;
        blocking(Operation::Rename, dst, move || {
            std::fs::create_dir_all(to.parent().ok_or(std::io::ErrorKind::InvalidInput)?)?;
            std::fs::rename(&from, &to)
        })
        .await
    }

    async fn create_container(&self, uri: &str) -> Result<()> {
        let (_, path) = self.parse(uri)?;
        blocking(Operation::CreateContainer, uri, move || {
            std::fs::create_dir_all(path)
        })
        .await
    }

    async fn list_containers(&self, root: &str) -> Result<Vec<String>> {
        let (_, path) = self.parse(root)?;
        let scheme = root.split_once("://").map_or("file", |(s, _)| s).to_string();
        blocking(Operation::ListContainers, root, move || {
            let mut dirs = Vec::new();
            for entry in std::fs::read_dir(&path)? {
                let entry = entry?;
                if entry.file_type()?.is_dir() {
                    dirs.push(format!("{scheme}://{}/", entry.path().display()));
                }
            }
            dirs.sort();
            Ok(dirs)
        })
        .await
    }

    async fn delete_container(&self, uri: &str) -> Result<()> {
        let (_, path) = self.parse(uri)?;
        let res = blocking(Operation::DeleteContainer, uri, move || std::fs::remove_dir(path)).await;
        match res {
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::DirectoryNotEmpty => {
                Err(Error::Precondition {
                    op: Operation::DeleteContainer,
                    uri: uri.to_string(),
                    message: "the directory is not empty; delete its objects first (delete_prefix)".into(),
                })
            }
            other => other,
        }
    }
}

fn reject_attributes(backend: &'static str, uri: &str, opts: &PutOptions) -> Result<()> {
    if opts.has_attributes() {
        return Err(Error::NotSupported {
            operation: Operation::Put,
            backend,
            uri: uri.to_string(),
            hint: "local files keep no content type or user metadata; store them beside the data or use an object-store backend".into(),
        });
    }
    Ok(())
}
