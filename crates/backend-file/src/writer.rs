//! The streaming writer of the file stores: a temporary file renamed into place on
//! finalize, removed on cancel or drop.

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use s3dlio_core::{Error, ObjectWriter, Operation, Result, WriteSummary};

use crate::io::{self, IoStats, Sink, temp_path};
use crate::list::e_tag;
use crate::store::blocking;

#[derive(Debug)]
pub(crate) struct FileWriter {
    uri: String,
    path: PathBuf,
    tmp: PathBuf,
    /// `None` while a write runs on the blocking pool, or after a write failed.
    sink: Option<Sink>,
    written: u64,
    fsync: bool,
    /// Set once the temporary file is renamed or removed.
    done: bool,
}

impl FileWriter {
    pub(crate) async fn create(
        uri: &str,
        path: PathBuf,
        direct: bool,
        staging: usize,
        align: usize,
        fsync: bool,
        stats: Arc<IoStats>,
    ) -> Result<Self> {
        let tmp = temp_path(&path);
        let (p, t) = (path.clone(), tmp.clone());
        let sink = blocking(Operation::Write, uri, move || {
            std::fs::create_dir_all(p.parent().ok_or(std::io::ErrorKind::InvalidInput)?)?;
            let (file, direct) = io::open(
                &t,
                OpenOptions::new().write(true).create_new(true),
                direct,
                &stats,
            )?;
            Ok(Sink::new(file, direct, staging, align))
        })
        .await?;
        Ok(FileWriter {
            uri: uri.to_string(),
            path,
            tmp,
            sink: Some(sink),
            written: 0,
            fsync,
            done: false,
        })
    }

    fn take_sink(&mut self) -> Result<Sink> {
        self.sink.take().ok_or_else(|| {
            Error::invalid_argument(
                Operation::Write,
                &self.uri,
                "an earlier write failed; cancel this writer and start a new upload",
            )
        })
    }
}

#[async_trait]
impl ObjectWriter for FileWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        let mut sink = self.take_sink()?;
        let len = data.len() as u64;
        self.sink = Some(
            blocking(Operation::Write, &self.uri, move || {
                sink.write_all(&data)?;
                Ok(sink)
            })
            .await?,
        );
        self.written += len;
        Ok(())
    }

    async fn finalize(mut self: Box<Self>) -> Result<WriteSummary> {
        let sink = self.take_sink()?;
        let (path, tmp, fsync) = (self.path.clone(), self.tmp.clone(), self.fsync);
        let (size, tag) = blocking(Operation::Finalize, &self.uri, move || {
            let size = sink.finish(fsync)?;
            let tag = e_tag(&std::fs::metadata(&tmp)?);
            io::commit(&tmp, &path, fsync)?;
            Ok((size, tag))
        })
        .await?;
        self.done = true;
        Ok(WriteSummary {
            uri: self.uri.clone(),
            bytes_written: self.written,
            size,
            e_tag: Some(tag),
        })
    }

    async fn cancel(mut self: Box<Self>) -> Result<()> {
        self.sink = None;
        let tmp = self.tmp.clone();
        blocking(Operation::Write, &self.uri, move || {
            match std::fs::remove_file(&tmp) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        })
        .await?;
        self.done = true;
        Ok(())
    }

    fn bytes_written(&self) -> u64 {
        self.written
    }
}

impl Drop for FileWriter {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let tmp = std::mem::take(&mut self.tmp);
        let remove = move || {
            let _ = std::fs::remove_file(tmp);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(remove)),
            Err(_) => remove(),
        }
    }
}
