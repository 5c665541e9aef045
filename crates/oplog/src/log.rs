//! The log itself: a bounded queue the layer feeds and a background thread that writes
//! the rows, zstd-compressed, to one file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use s3dlio_core::{Error, Operation, Result};
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, oneshot};

use crate::record::{HEADER, OpRecord};

/// How often the writer looks for rows while they come, and how many empty looks make
/// it block instead: a full queue waits at most one poll for room.
const POLL: std::time::Duration = std::time::Duration::from_millis(1);
const IDLE_POLLS: u32 = 100;

/// How a log records.
#[derive(Debug, Clone)]
pub struct OpLogOptions {
    /// Rows queued for the writer at most. When it is full a lossless log makes the
    /// operation wait (back-pressure); a lossy one drops the row and counts it.
    pub capacity: usize,
    pub lossy: bool,
    /// The `client_id` column (default: this host's name, else `s3dlio`).
    pub client_id: String,
    /// Added to every time written (signed nanoseconds), to line several hosts' logs up.
    pub clock_offset_ns: i64,
    /// Rows are written sorted by start time when the log is finished (held in memory
    /// until then) instead of in completion order as they come.
    pub sort_by_start: bool,
    /// zstd level of the file.
    pub zstd_level: i32,
}

impl Default for OpLogOptions {
    fn default() -> Self {
        OpLogOptions {
            capacity: 8192,
            lossy: false,
            client_id: hostname(),
            clock_offset_ns: 0,
            sort_by_start: false,
            zstd_level: 3,
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "s3dlio".into())
}

/// Counters of a log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpLogStats {
    /// Operations handed to the log.
    pub recorded: u64,
    /// Of those, rows a lossy log dropped because its queue was full.
    pub dropped: u64,
    /// Rows in the file so far.
    pub written: u64,
    /// Rows whose operation failed.
    pub errors: u64,
}

enum Msg {
    Row(Box<OpRecord>),
    Finish(oneshot::Sender<std::io::Result<()>>),
}

#[derive(Debug, Default)]
struct Counters {
    recorded: AtomicU64,
    dropped: AtomicU64,
    written: AtomicU64,
    errors: AtomicU64,
}

/// An op-log being written. Share it (`Arc`) with the stores that record into it
/// ([`crate::OpLogStore`]); [`finish`](OpLog::finish) closes the file.
#[derive(Debug)]
pub struct OpLog {
    path: PathBuf,
    tx: mpsc::Sender<Msg>,
    lossy: bool,
    finished: AtomicBool,
    counters: Arc<Counters>,
}

impl OpLog {
    /// Creates (truncates) `path` and starts the writer thread.
    pub fn create(path: &Path, opts: OpLogOptions) -> Result<Arc<OpLog>> {
        let uri = path.display().to_string();
        if opts.capacity == 0 {
            return Err(Error::invalid_argument(
                Operation::Write,
                &uri,
                "op-log capacity must be at least 1",
            ));
        }
        let file = File::create(path).map_err(|e| Error::from_io(Operation::Write, &uri, e))?;
        let encoder = zstd::stream::write::Encoder::new(BufWriter::new(file), opts.zstd_level)
            .map_err(|e| Error::from_io(Operation::Write, &uri, e))?;
        let (tx, rx) = mpsc::channel(opts.capacity);
        let counters = Arc::new(Counters::default());
        let writer = Writer {
            out: encoder,
            opts: opts.clone(),
            counters: counters.clone(),
            next_idx: 0,
            held: Vec::new(),
        };
        std::thread::Builder::new()
            .name("s3dlio-oplog".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| Error::from_io(Operation::Write, &uri, e))?;
        Ok(Arc::new(OpLog {
            path: path.to_path_buf(),
            tx,
            lossy: opts.lossy,
            finished: AtomicBool::new(false),
            counters,
        }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether [`finish`](OpLog::finish) has not been called yet.
    pub fn is_active(&self) -> bool {
        !self.finished.load(Ordering::Acquire)
    }

    /// Queues one row; a lossless log waits while the queue is full. Nothing is recorded
    /// after `finish`.
    pub async fn record(&self, row: OpRecord) {
        if !self.is_active() {
            return;
        }
        self.counters.recorded.fetch_add(1, Ordering::Relaxed);
        let msg = Msg::Row(Box::new(row));
        let sent = match self.lossy {
            true => self.tx.try_send(msg).is_ok(),
            false => self.tx.send(msg).await.is_ok(),
        };
        if !sent {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn stats(&self) -> OpLogStats {
        let c = &self.counters;
        OpLogStats {
            recorded: c.recorded.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            written: c.written.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
        }
    }

    /// Writes what is queued, ends the zstd frame and closes the file; returns the final
    /// counters. Calling it again returns them without doing anything.
    pub async fn finish(&self) -> Result<OpLogStats> {
        if self.finished.swap(true, Ordering::AcqRel) {
            return Ok(self.stats());
        }
        let (done, wait) = oneshot::channel();
        let uri = self.path.display().to_string();
        let gone = || Error::Backend {
            op: Operation::Finalize,
            uri: uri.clone(),
            message: "the op-log writer thread ended early".into(),
            source: None,
        };
        self.tx.send(Msg::Finish(done)).await.map_err(|_| gone())?;
        wait.await
            .map_err(|_| gone())?
            .map_err(|e| Error::from_io(Operation::Finalize, &uri, e))?;
        Ok(self.stats())
    }
}

/// The writer thread's state.
struct Writer {
    out: zstd::stream::write::Encoder<'static, BufWriter<File>>,
    opts: OpLogOptions,
    counters: Arc<Counters>,
    next_idx: u64,
    /// Rows held for sorting (`sort_by_start`).
    held: Vec<OpRecord>,
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        let mut result = writeln!(self.out, "{HEADER}");
        let mut idle = 0;
        loop {
            // Polled rather than woken per row: a woken thread per operation cost more
            // than the row itself (a futex wake and a context switch each, decision 021).
            // Idle for a while, it blocks until the next row.
            let msg = match rx.try_recv() {
                Ok(msg) => msg,
                Err(TryRecvError::Empty) if idle < IDLE_POLLS => {
                    idle += 1;
                    std::thread::sleep(POLL);
                    continue;
                }
                Err(TryRecvError::Empty) => match rx.blocking_recv() {
                    Some(msg) => msg,
                    None => break,
                },
                Err(TryRecvError::Disconnected) => break,
            };
            idle = 0;
            match msg {
                Msg::Row(row) if self.opts.sort_by_start => self.held.push(*row),
                Msg::Row(row) => {
                    if result.is_ok() {
                        result = self.write(&row);
                    }
                }
                Msg::Finish(done) => {
                    let _ = done.send(result.and_then(|()| self.close()));
                    return;
                }
            }
        }
        // Every sender is gone without a finish: still end the frame, so the file reads.
        if let Err(e) = result.and_then(|()| self.close()) {
            tracing::warn!(error = %e, "closing an op-log that was never finished failed");
        }
    }

    fn write(&mut self, row: &OpRecord) -> std::io::Result<()> {
        row.write_tsv(
            &mut self.out,
            self.next_idx,
            &self.opts.client_id,
            self.opts.clock_offset_ns,
        )?;
        self.next_idx += 1;
        if !row.error.is_empty() {
            self.counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.counters.written.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn close(&mut self) -> std::io::Result<()> {
        let mut held = std::mem::take(&mut self.held);
        held.sort_by_key(|r| r.start);
        for row in &held {
            self.write(row)?;
        }
        self.out.do_finish()?;
        self.out.get_mut().flush()
    }
}
