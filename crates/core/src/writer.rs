//! Streaming writers: the `ObjectWriter` trait and the zstd layer any writer can wear.

use std::fmt::Debug;
use std::io::Write;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::{Error, Operation, Result};
use crate::task::run_blocking;

/// What a finalized writer stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteSummary {
    pub uri: String,
    /// Bytes the caller wrote.
    pub bytes_written: u64,
    /// Bytes stored (differs from `bytes_written` when compressed).
    pub size: u64,
    pub e_tag: Option<String>,
}

/// A streaming upload. Nothing is visible under the URI until `finalize` returns `Ok`.
/// `cancel` — and dropping an unfinalized writer — discards everything written.
#[async_trait]
pub trait ObjectWriter: Send + Debug {
    /// Appends bytes. May wait for earlier parts to upload (back-pressure), so memory
    /// stays bounded by the writer's options.
    async fn write(&mut self, data: Bytes) -> Result<()>;

    /// Makes the object visible. Its error is the upload's error: never ignore it.
    async fn finalize(self: Box<Self>) -> Result<WriteSummary>;

    /// Discards the upload; no object is left behind.
    async fn cancel(self: Box<Self>) -> Result<()>;

    /// Bytes accepted by `write` so far.
    fn bytes_written(&self) -> u64;

    /// Bytes handed on to be stored so far: `bytes_written` unless the writer compresses
    /// (then the compressed bytes produced so far; the encoder may hold more until
    /// `finalize`, whose summary has the final `size`).
    fn stored_bytes(&self) -> u64 {
        self.bytes_written()
    }

    /// Of those, bytes a resumed upload found stored already and did not send again
    /// ([`WriterOptions::journal`](crate::WriterOptions::journal)).
    fn reused_bytes(&self) -> u64 {
        0
    }

    /// A journaled upload: a failure or a drop keeps it for a later writer to resume,
    /// so a caller giving up on it drops it instead of cancelling.
    fn resumable(&self) -> bool {
        false
    }

    /// The size of the parts this writer uploads, if it uploads in parts: a write of
    /// whole parts at part boundaries is taken without a copy, so callers that stage
    /// borrowed memory copy it in blocks of this size.
    fn part_size(&self) -> Option<usize> {
        None
    }
}

/// Compresses everything written with zstd before handing it to the inner writer.
/// Compression runs on Tokio's blocking pool, never on an async worker.
pub struct ZstdWriter {
    inner: Box<dyn ObjectWriter>,
    encoder: Option<zstd::stream::write::Encoder<'static, Vec<u8>>>,
    flush_at: usize,
    accepted: u64,
    uri: String,
}

impl Debug for ZstdWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZstdWriter")
            .field("inner", &self.inner)
            .field("uri", &self.uri)
            .field("accepted", &self.accepted)
            .finish_non_exhaustive()
    }
}

impl ZstdWriter {
    /// Wraps `inner`; compressed output is forwarded in pieces of about `flush_at` bytes.
    pub fn new(inner: Box<dyn ObjectWriter>, uri: &str, level: i32, flush_at: usize) -> Result<Self> {
        let encoder = zstd::stream::write::Encoder::new(Vec::with_capacity(flush_at), level)
            .map_err(|e| Error::from_io(Operation::Write, uri, e))?;
        Ok(ZstdWriter {
            inner,
            encoder: Some(encoder),
            flush_at,
            accepted: 0,
            uri: uri.to_string(),
        })
    }

    fn encoder_gone(&self) -> Error {
        Error::invalid_argument(
            Operation::Write,
            &self.uri,
            "an earlier write failed; cancel this writer and start a new upload",
        )
    }
}

#[async_trait]
impl ObjectWriter for ZstdWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        let mut enc = self.encoder.take().ok_or_else(|| self.encoder_gone())?;
        let uri = self.uri.clone();
        let flush_at = self.flush_at;
        let len = data.len() as u64;
        let (enc, out) = run_blocking(
            Operation::Write,
            &self.uri,
            "the compression task",
            move || -> Result<_> {
                enc.write_all(&data)
                    .map_err(|e| Error::from_io(Operation::Write, &uri, e))?;
                let out = if enc.get_ref().len() >= flush_at {
                    Some(Bytes::from(std::mem::take(enc.get_mut())))
                } else {
                    None
                };
                Ok((enc, out))
            },
        )
        .await??;
        self.encoder = Some(enc);
        self.accepted += len;
        if let Some(out) = out {
            self.inner.write(out).await?;
        }
        Ok(())
    }

    async fn finalize(mut self: Box<Self>) -> Result<WriteSummary> {
        let enc = self.encoder.take().ok_or_else(|| self.encoder_gone())?;
        let uri = self.uri.clone();
        let tail = run_blocking(Operation::Finalize, &uri, "the compression task", move || {
            enc.finish()
        })
        .await?
        .map_err(|e| Error::from_io(Operation::Finalize, &uri, e))?;
        let ZstdWriter {
            mut inner, accepted, ..
        } = *self;
        if !tail.is_empty() {
            inner.write(Bytes::from(tail)).await?;
        }
        let mut summary = inner.finalize().await?;
        summary.bytes_written = accepted;
        Ok(summary)
    }

    async fn cancel(self: Box<Self>) -> Result<()> {
        self.inner.cancel().await
    }

    fn bytes_written(&self) -> u64 {
        self.accepted
    }

    fn stored_bytes(&self) -> u64 {
        self.inner.bytes_written()
    }

    /// Stored bytes, counted after compression.
    fn reused_bytes(&self) -> u64 {
        self.inner.reused_bytes()
    }

    fn resumable(&self) -> bool {
        self.inner.resumable()
    }
}
