//! The GCS streaming writer: one upload below one chunk, a resumable upload
//! above it.
//!
//! A resumable session takes its chunks in order, so one chunk uploads while the next
//! fills: memory is bounded by two chunks. Chunks are whole multiples of 256 KiB, as the
//! protocol requires of every chunk but the last. Nothing is visible until the last
//! chunk; on failure, `cancel` or drop the session is deleted (cancelled), and an
//! abandoned one expires in the service after a week, never becoming an object.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use gcloud_storage::http::objects::Object;
use gcloud_storage::http::objects::upload::{Media, UploadObjectRequest, UploadType};
use gcloud_storage::http::resumable_upload_client::{ChunkSize, ResumableUploadClient, UploadStatus};
use s3dlio_core::parts::{InFlight, PartBuffer, PartUpload};
use s3dlio_core::{Error, Operation, PutOptions, Result, RetryPolicy, WriteSummary};

use crate::client::Shared;
use crate::error::map_api;

/// Every chunk but the last is a multiple of this (the protocol's unit).
pub const CHUNK_UNIT: usize = 256 << 10;

/// The largest object GCS stores (5 TiB).
pub const MAX_OBJECT_SIZE: u64 = 5 << 40;

/// A part size rounded up to whole 256 KiB units.
pub fn chunk_size(part_size: usize) -> usize {
    part_size.max(1).div_ceil(CHUNK_UNIT) * CHUNK_UNIT
}

/// The object resource (name, content type, metadata) of an upload.
pub(crate) fn resource(name: &str, put: &PutOptions) -> Object {
    Object {
        name: name.to_string(),
        content_type: put.content_type.clone(),
        metadata: (!put.metadata.is_empty()).then(|| {
            put.metadata
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<HashMap<_, _>>()
        }),
        ..Default::default()
    }
}

/// Stores a whole object in one request where its attributes allow (a media upload
/// carries the content type), else through a one-chunk resumable session (user
/// metadata). Multipart uploads are avoided: their streamed body cannot be re-sent, so
/// they could not be retried.
pub(crate) async fn put_whole(
    shared: &Shared,
    op: Operation,
    uri: &str,
    (bucket, name): (&str, &str),
    put: &PutOptions,
    data: Bytes,
) -> Result<Object> {
    let req = UploadObjectRequest {
        bucket: bucket.to_string(),
        ..Default::default()
    };
    if put.metadata.is_empty() {
        let mut media = Media::new(name.to_string());
        if let Some(t) = &put.content_type {
            media.content_type = t.clone().into();
        }
        media.content_length = Some(data.len() as u64);
        return shared
            .api
            .upload_object(&req, data, &UploadType::Simple(media))
            .await
            .map_err(|e| map_api(op, uri, e));
    }
    let upload = UploadType::Multipart(Box::new(resource(name, put)));
    let session = shared
        .api
        .prepare_resumable_upload(&req, &upload)
        .await
        .map_err(|e| map_api(op, uri, e))?;
    let len = data.len() as u64;
    upload_chunk(&session, uri, 0, data, Some(len))
        .await?
        .ok_or_else(|| Error::Backend {
            op,
            uri: uri.to_string(),
            message: "the service did not finish a one-chunk upload".into(),
            source: None,
        })
}

pub(crate) struct ResumableWriter {
    shared: Arc<Shared>,
    uri: String,
    bucket: String,
    name: String,
    put: PutOptions,
    parts: PartBuffer,
    session: Option<ResumableUploadClient>,
    /// Bytes handed to chunk uploads so far (the next chunk's first byte).
    sent: u64,
    uploading: InFlight<()>,
    /// Bytes pushed so far.
    pushed: u64,
}

impl std::fmt::Debug for ResumableWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResumableWriter")
            .field("uri", &self.uri)
            .field("sent", &self.sent)
            .field("pushed", &self.pushed)
            .finish_non_exhaustive()
    }
}

impl ResumableWriter {
    pub(crate) fn new(
        shared: Arc<Shared>,
        uri: &str,
        (bucket, name): (&str, &str),
        put: PutOptions,
        part_size: usize,
        part_retry: RetryPolicy,
    ) -> Self {
        ResumableWriter {
            shared,
            uri: uri.to_string(),
            bucket: bucket.to_string(),
            name: name.to_string(),
            put,
            parts: PartBuffer::new(chunk_size(part_size)),
            session: None,
            sent: 0,
            // The protocol is sequential: one chunk in flight while the next fills.
            uploading: InFlight::new(1, Operation::Write, uri, part_retry),
            pushed: 0,
        }
    }

    fn request(&self) -> UploadObjectRequest {
        UploadObjectRequest {
            bucket: self.bucket.clone(),
            ..Default::default()
        }
    }

    async fn session(&mut self) -> Result<ResumableUploadClient> {
        if let Some(s) = &self.session {
            return Ok(s.clone());
        }
        let upload = UploadType::Multipart(Box::new(resource(&self.name, &self.put)));
        let s = self
            .shared
            .api
            .prepare_resumable_upload(&self.request(), &upload)
            .await
            .map_err(|e| map_api(Operation::Write, &self.uri, e))?;
        self.session = Some(s.clone());
        Ok(s)
    }

    /// Queues one chunk (`total` is set on the last one), after the previous finished.
    async fn send(&mut self, chunk: Bytes, total: Option<u64>) -> Result<()> {
        let session = self.session().await?;
        let first = self.sent;
        self.sent += chunk.len() as u64;
        let uri = self.uri.clone();
        self.uploading
            .spawn(move || {
                let (session, uri, chunk) = (session.clone(), uri.clone(), chunk.clone());
                async move { upload_chunk(&session, &uri, first, chunk, total).await.map(drop) }
            })
            .await
    }

    fn protocol_error(&self, message: &str) -> Error {
        Error::Backend {
            op: Operation::Finalize,
            uri: self.uri.clone(),
            message: message.into(),
            source: None,
        }
    }
}

/// Uploads `chunk` at `first`, re-sending whatever the service says it did not keep;
/// `Some(object)` once the last chunk (`total` known) completed the upload.
async fn upload_chunk(
    session: &ResumableUploadClient,
    uri: &str,
    first: u64,
    mut chunk: Bytes,
    total: Option<u64>,
) -> Result<Option<Object>> {
    let mut at = first;
    loop {
        let last = (at + chunk.len() as u64).saturating_sub(1);
        let size = ChunkSize::new(at, last, total);
        let status = session
            .upload_multiple_chunk(chunk.clone(), &size)
            .await
            .map_err(|e| map_api(Operation::Write, uri, e))?;
        let kept = match status {
            UploadStatus::Ok(object) => return Ok(Some(object)),
            UploadStatus::NotStarted => 0,
            UploadStatus::ResumeIncomplete(r) => r.last_byte + 1,
        };
        let end = at + chunk.len() as u64;
        if kept >= end && total.is_none() {
            return Ok(None);
        }
        if kept < at || kept > end {
            return Err(Error::Backend {
                op: Operation::Write,
                uri: uri.to_string(),
                message: format!("the service kept bytes 0..{kept} of an upload sent up to {end}"),
                source: None,
            });
        }
        // Only part of the chunk was kept: send the rest of it.
        chunk = chunk.slice((kept - at) as usize..);
        at = kept;
    }
}

#[async_trait]
impl PartUpload for ResumableWriter {
    async fn push(&mut self, data: Bytes) -> Result<()> {
        self.pushed += data.len() as u64;
        if self.pushed > MAX_OBJECT_SIZE {
            return Err(Error::invalid_argument(
                Operation::Write,
                &self.uri,
                format!(
                    "GCS objects are at most 5 TiB ({MAX_OBJECT_SIZE} bytes); split the data over several objects"
                ),
            ));
        }
        for chunk in self.parts.push(data) {
            self.send(chunk, None).await?;
        }
        Ok(())
    }

    async fn complete(&mut self, written: u64) -> Result<WriteSummary> {
        let rest = self.parts.take_rest();
        let object = if self.session.is_none() {
            // Below one chunk: one upload, atomic by itself.
            let target = (self.bucket.as_str(), self.name.as_str());
            put_whole(
                &self.shared,
                Operation::Finalize,
                &self.uri,
                target,
                &self.put,
                rest,
            )
            .await?
        } else {
            self.uploading.finish().await?;
            let session = self.session().await?;
            let total = self.sent + rest.len() as u64;
            let Some(object) = upload_chunk(&session, &self.uri, self.sent, rest, Some(total)).await? else {
                return Err(self.protocol_error("the service did not finish the upload after its last chunk"));
            };
            // Completed: there is no session left to cancel.
            self.session = None;
            object
        };
        Ok(WriteSummary {
            uri: self.uri.clone(),
            bytes_written: written,
            size: object.size as u64,
            e_tag: Some(object.generation.to_string()),
        })
    }

    async fn discard(&mut self) -> Result<()> {
        self.uploading.abort_all();
        match self.session.take() {
            Some(session) => session
                .cancel()
                .await
                .map_err(|e| map_api(Operation::Write, &self.uri, e)),
            None => Ok(()),
        }
    }

    /// The session is cancelled in the background; its result is only logged, since a
    /// session never completed never becomes an object anyway.
    fn part_size(&self) -> usize {
        self.parts.part_size()
    }

    fn discard_in_background(&mut self) {
        self.uploading.abort_all();
        if let (Some(session), Ok(rt)) = (self.session.take(), tokio::runtime::Handle::try_current()) {
            let uri = self.uri.clone();
            rt.spawn(async move {
                if let Err(e) = session.cancel().await {
                    tracing::debug!(%uri, error = %e, "cancelling a resumable upload failed");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_whole_units() {
        assert_eq!(chunk_size(1), CHUNK_UNIT);
        assert_eq!(chunk_size(CHUNK_UNIT), CHUNK_UNIT);
        assert_eq!(chunk_size(CHUNK_UNIT + 1), 2 * CHUNK_UNIT);
        assert_eq!(chunk_size(16 << 20), 16 << 20);
    }
}
