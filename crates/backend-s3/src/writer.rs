//! The S3 streaming writer: one PUT below one part, a multipart upload above it.
//!
//! Memory is bounded by `parts_in_flight × part_size` plus the part being filled: when
//! that many parts are uploading, `write` waits for one to finish (back-pressure). Any
//! failure, a `cancel`, or dropping the writer aborts the multipart upload, so no part
//! of the object ever becomes visible; `finalize` returns the complete call's error.
//!
//! With a journal ([`WriterOptions::journal`](s3dlio_core::WriterOptions::journal)) the
//! upload is resumable instead: its id and each acknowledged part are journaled, a
//! failure or drop keeps the upload, and a writer given that journal lists the upload's
//! parts and sends only those the service lacks ([`s3dlio_core::resume`]).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use s3dlio_core::parts::{InFlight, PartBuffer, PartUpload};
use s3dlio_core::resume::{self, PartPlan, Resume, UploadJournal};
use s3dlio_core::{Error, ObjectUri, Operation, PutOptions, Result, RetryPolicy, WriteSummary, retry};

use crate::config::UploadChecksum;
use crate::direct::{Direct, Target};
use crate::error::map_sdk_error;
use crate::store::{sdk_metadata, sdk_put};

/// S3's smallest part (all but the last).
pub const MIN_PART_SIZE: usize = 5 << 20;
/// S3's largest part number.
pub const MAX_PARTS: i32 = 10_000;

#[derive(Debug)]
pub(crate) struct MultipartWriter {
    client: Client,
    /// Sends the parts and the single PUT where it can (`Clients::direct`).
    direct: Option<(Arc<Direct>, Target)>,
    uri: String,
    bucket: String,
    key: String,
    put: PutOptions,
    verify: bool,
    /// What each part carries; a resumed upload keeps what it was created with.
    checksum: UploadChecksum,
    parts: PartBuffer,
    upload_id: Option<String>,
    next_part: i32,
    uploading: InFlight<CompletedPart>,
    /// The parts' retry policy, also used for the abort: an abort lost to a blip (or to a
    /// server restarting) would leave the parts stored and billed.
    retry: RetryPolicy,
    /// Set when the upload is journaled (resumable).
    resume: Option<Resume>,
}

impl MultipartWriter {
    #[allow(clippy::too_many_arguments)] // one private constructor, called once
    pub(crate) fn new(
        client: Client,
        direct: Option<(Arc<Direct>, Target)>,
        uri: &str,
        target: &ObjectUri,
        put: PutOptions,
        part_size: usize,
        max_in_flight: usize,
        (verify, checksum): (bool, UploadChecksum),
        part_retry: RetryPolicy,
    ) -> Result<Self> {
        if part_size < MIN_PART_SIZE {
            return Err(Error::invalid_argument(
                Operation::Write,
                uri,
                format!(
                    "S3 multipart parts must be at least 5 MiB ({MIN_PART_SIZE} bytes); part_size is {part_size}"
                ),
            ));
        }
        Ok(MultipartWriter {
            client,
            direct,
            uri: uri.to_string(),
            bucket: target.bucket().to_string(),
            key: target.key().to_string(),
            put,
            verify,
            checksum,
            parts: PartBuffer::new(part_size),
            upload_id: None,
            next_part: 1,
            uploading: InFlight::new(max_in_flight, Operation::Write, uri, part_retry.clone()),
            retry: part_retry,
            resume: None,
        })
    }

    /// Makes the upload resumable through the journal at `path`: an unfinished upload it
    /// names is continued (its parts listed by the service), else a new one is journaled.
    pub(crate) async fn journaled(mut self, path: &Path) -> Result<Self> {
        let journal = UploadJournal::new(path, &self.uri, "s3", self.parts.part_size());
        let Some(journaled) = journal.load().await? else {
            self.resume = Some(Resume::fresh(journal));
            return Ok(self);
        };
        match self.list_parts(&journaled.upload).await {
            Ok((on_service, checksum)) => {
                self.upload_id = Some(journaled.upload.clone());
                self.checksum = checksum;
                self.resume = Some(Resume::resumed(journal, journaled, |i| {
                    on_service.get(&(i as i32 + 1)).cloned()
                }));
            }
            // Completed, aborted or expired since: start over.
            Err(Error::NotFound { .. }) => {
                tracing::info!(uri = %self.uri, upload = %journaled.upload, "the journaled upload is gone; starting a new one");
                self.resume = Some(Resume::fresh(journal));
            }
            Err(e) => return Err(e),
        }
        Ok(self)
    }

    /// The parts the service holds of upload `id` (number → (size, ETag)), and the
    /// checksum the upload was created with.
    async fn list_parts(&self, id: &str) -> Result<(HashMap<i32, (u64, Option<String>)>, UploadChecksum)> {
        let mut parts = HashMap::new();
        let mut marker = None;
        loop {
            let out = self
                .client
                .list_parts()
                .bucket(&self.bucket)
                .key(&self.key)
                .upload_id(id)
                .set_part_number_marker(marker.take())
                .send()
                .await
                .map_err(|e| map_sdk_error(Operation::Write, &self.uri, e))?;
            for p in out.parts() {
                if let Some(n) = p.part_number() {
                    parts.insert(n, (p.size().unwrap_or(-1) as u64, p.e_tag().map(str::to_string)));
                }
            }
            match out.next_part_number_marker() {
                Some(m) if out.is_truncated().unwrap_or(false) => marker = Some(m.to_string()),
                _ => return Ok((parts, UploadChecksum::declared(out.checksum_algorithm()))),
            }
        }
    }

    async fn upload_id(&mut self) -> Result<String> {
        if let Some(id) = &self.upload_id {
            return Ok(id.clone());
        }
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .set_content_type(self.put.content_type.clone())
            .set_metadata(sdk_metadata(&self.put))
            .set_checksum_algorithm(self.checksum.algorithm())
            .send()
            .await
            .map_err(|e| map_sdk_error(Operation::Write, &self.uri, e))?;
        let id = out
            .upload_id()
            .ok_or_else(|| self.protocol_error("CreateMultipartUpload returned no UploadId"))?;
        self.upload_id = Some(id.to_string());
        if let Some(r) = &self.resume {
            r.begin(id).await?;
        }
        Ok(id.to_string())
    }

    fn protocol_error(&self, message: &str) -> Error {
        Error::Backend {
            op: Operation::Write,
            uri: self.uri.clone(),
            message: message.into(),
            source: None,
        }
    }

    /// Starts uploading `part`, after waiting for a free slot.
    async fn send_part(&mut self, part: Bytes) -> Result<()> {
        if self.next_part > MAX_PARTS {
            return Err(Error::invalid_argument(
                Operation::Write,
                &self.uri,
                format!(
                    "the object is larger than S3's {MAX_PARTS} parts × part_size ({} bytes); raise part_size",
                    MAX_PARTS as u64 * self.parts.part_size() as u64
                ),
            ));
        }
        let upload_id = self.upload_id().await?;
        let n = self.next_part;
        self.next_part += 1;
        let checksum = self.checksum;
        let journal = match resume::plan(self.resume.as_mut(), &self.uri, (n - 1) as u32, &part).await? {
            PartPlan::Stored(p) => {
                self.uploading
                    .add_done(completed(n, p.e_tag, checksum.known(p.crc32c)));
                return Ok(());
            }
            PartPlan::Send(pending) => pending,
        };
        // A journaled part's CRC32C is already known.
        let known = journal.as_ref().map(|p| p.record.crc32c);
        let (client, bucket, key, uri) = (
            self.client.clone(),
            self.bucket.clone(),
            self.key.clone(),
            self.uri.clone(),
        );
        let direct = self.direct.clone();
        self.uploading
            .spawn(move || {
                let (client, bucket, key, uri, upload_id, part, journal, direct) = (
                    client.clone(),
                    bucket.clone(),
                    key.clone(),
                    uri.clone(),
                    upload_id.clone(),
                    part.clone(),
                    journal.clone(),
                    direct.clone(),
                );
                async move {
                    let sum = match known {
                        Some(crc) => checksum.known(crc),
                        None => checksum.of(Operation::Write, &uri, &part).await?,
                    };
                    let e_tag = match direct {
                        Some((direct, target)) => {
                            direct
                                .upload_part(&uri, &target, (&upload_id, n), part, sum.as_deref())
                                .await?
                        }
                        None => client
                            .upload_part()
                            .bucket(&bucket)
                            .key(&key)
                            .upload_id(&upload_id)
                            .part_number(n)
                            .set_checksum_crc32_c(sum.clone())
                            .body(ByteStream::from(part))
                            .send()
                            .await
                            .map_err(|e| map_sdk_error(Operation::Write, &uri, e))?
                            .e_tag()
                            .map(str::to_string),
                    };
                    if let Some(p) = journal.as_ref() {
                        p.acknowledged(e_tag.clone()).await?;
                    }
                    Ok(completed(n, e_tag, sum))
                }
            })
            .await
    }

    /// `S3DLIO_PUT_VERIFY`: the stored size must be what was written; otherwise the
    /// object is deleted and the upload fails.
    async fn verify_size(&self, written: u64) -> Result<()> {
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .send()
            .await
            .map_err(|e| map_sdk_error(Operation::Finalize, &self.uri, e))?;
        let stored = head.content_length().unwrap_or(-1);
        if stored == written as i64 {
            return Ok(());
        }
        let _ = self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .send()
            .await;
        Err(Error::Backend {
            op: Operation::Finalize,
            uri: self.uri.clone(),
            message: format!(
                "stored size {stored} differs from the {written} bytes written; the object was deleted"
            ),
            source: None,
        })
    }
}

#[async_trait]
impl PartUpload for MultipartWriter {
    async fn push(&mut self, data: Bytes) -> Result<()> {
        for part in self.parts.push(data) {
            self.send_part(part).await?;
        }
        Ok(())
    }

    async fn complete(&mut self, written: u64) -> Result<WriteSummary> {
        let e_tag = match self.upload_id.clone() {
            None => {
                // Below one part: a single PUT, atomic by itself.
                let body = self.parts.take_rest();
                let op = Operation::Finalize;
                let put = match &self.direct {
                    Some((direct, target)) => direct.put(op, &self.uri, target, body, &self.put).await?,
                    None => {
                        let object = (self.bucket.as_str(), self.key.as_str());
                        sdk_put(
                            &self.client,
                            op,
                            (&self.uri, object),
                            body,
                            &self.put,
                            self.checksum,
                        )
                        .await?
                    }
                };
                put.e_tag
            }
            Some(upload_id) => {
                let last = self.parts.take_rest();
                if !last.is_empty() {
                    self.send_part(last).await?;
                }
                let mut parts = self.uploading.finish().await?;
                parts.sort_by_key(|p| p.part_number());
                let out = self
                    .client
                    .complete_multipart_upload()
                    .bucket(&self.bucket)
                    .key(&self.key)
                    .upload_id(upload_id)
                    .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
                    .send()
                    .await
                    .map_err(|e| map_sdk_error(Operation::Finalize, &self.uri, e))?;
                // Completed: there is nothing left to abort.
                self.upload_id = None;
                out.e_tag().map(str::to_string)
            }
        };
        if let Some(r) = &self.resume {
            r.journal().remove().await?;
        }
        if self.verify {
            self.verify_size(written).await?;
        }
        Ok(WriteSummary {
            uri: self.uri.clone(),
            bytes_written: written,
            size: written,
            e_tag,
        })
    }

    /// Stops part uploads and aborts the multipart upload, if one was started (and a
    /// journaled upload's journal goes with it).
    async fn discard(&mut self) -> Result<()> {
        self.uploading.abort_all();
        if let Some(id) = self.upload_id.take() {
            abort(
                &self.client,
                (&self.bucket, &self.key, &id),
                Operation::Write,
                &self.uri,
                &self.retry,
            )
            .await?;
        }
        match &self.resume {
            Some(r) => r.journal().remove().await,
            None => Ok(()),
        }
    }

    fn keeps_on_failure(&self) -> bool {
        self.resume.is_some()
    }

    fn reused_bytes(&self) -> u64 {
        self.resume.as_ref().map_or(0, Resume::reused_bytes)
    }

    fn part_size(&self) -> usize {
        self.parts.part_size()
    }

    fn discard_in_background(&mut self) {
        self.uploading.abort_all();
        let Some(id) = self.upload_id.take() else { return };
        let (client, bucket, key, uri, policy) = (
            self.client.clone(),
            self.bucket.clone(),
            self.key.clone(),
            self.uri.clone(),
            self.retry.clone(),
        );
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn(async move {
                if let Err(e) = abort(&client, (&bucket, &key, &id), Operation::Write, &uri, &policy).await {
                    tracing::warn!(error = %e, "aborting a dropped multipart upload failed; the parts stay until a lifecycle rule removes them");
                }
            })),
            Err(_) => tracing::warn!("a multipart upload was dropped outside a Tokio runtime and could not be aborted"),
        }
    }
}

/// Part `n` as the complete call lists it.
fn completed(n: i32, e_tag: Option<String>, sum: Option<String>) -> CompletedPart {
    CompletedPart::builder()
        .part_number(n)
        .set_e_tag(e_tag)
        .set_checksum_crc32_c(sum)
        .build()
}

/// Aborts upload `id` (for `op`), retried under `policy`; an upload already gone (an
/// earlier try that reached the server but lost its answer) counts as aborted.
pub(crate) async fn abort(
    client: &Client,
    (bucket, key, id): (&str, &str, &str),
    op: Operation,
    uri: &str,
    policy: &RetryPolicy,
) -> Result<()> {
    let sent = retry(policy, op, uri, || {
        let req = client
            .abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(id);
        async move { req.send().await.map(drop).map_err(|e| map_sdk_error(op, uri, e)) }
    })
    .await;
    match sent {
        Err(Error::NotFound { .. }) => Ok(()),
        other => other,
    }
}
