//! The Azure streaming writer: one Put Blob below one block, staged blocks committed
//! once above it.
//!
//! Memory is bounded by `blocks_in_flight × block_size` plus the block being filled.
//! Nothing is visible until Put Block List commits; on failure, `cancel` or drop, the
//! staging stops and the commit never happens. Azure has no call that discards the
//! uncommitted blocks of a blob: they stay invisible, are replaced by the next commit
//! to that name, and the service drops them after 7 days.
//!
//! With a journal the upload is resumable ([`s3dlio_core::resume`]): the journal holds
//! the block-id prefix and each staged block, and a writer given it asks the service for
//! the blob's uncommitted blocks and stages only those it lacks.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use azure_storage_blob::BlockBlobClient;
use azure_storage_blob::models::{
    BlobClientUploadOptions, BlockBlobClientCommitBlockListOptions, BlockListType, BlockLookupList,
};
use bytes::Bytes;
use s3dlio_core::parts::{InFlight, PartBuffer, PartUpload};
use s3dlio_core::resume::{self, PartPlan, Resume, UploadJournal};
use s3dlio_core::{Error, Operation, PutOptions, Result, RetryPolicy, WriteSummary};

use crate::error::map_error;

/// Blocks one blob may hold.
pub const MAX_BLOCKS: usize = 50_000;
/// The largest block the service takes (4000 MiB).
pub const MAX_BLOCK_SIZE: usize = 4000 << 20;

pub(crate) struct BlockWriter {
    client: Arc<BlockBlobClient>,
    uri: String,
    put: PutOptions,
    parts: PartBuffer,
    /// Block ids share this writer's random prefix, so two writers of one name never
    /// commit each other's blocks.
    id_prefix: String,
    staged: usize,
    uploading: InFlight<()>,
    /// Set when the upload is journaled (resumable).
    resume: Option<Resume>,
}

impl std::fmt::Debug for BlockWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockWriter")
            .field("uri", &self.uri)
            .field("staged", &self.staged)
            .finish_non_exhaustive()
    }
}

impl BlockWriter {
    pub(crate) fn new(
        client: Arc<BlockBlobClient>,
        uri: &str,
        put: PutOptions,
        block_size: usize,
        blocks_in_flight: usize,
        part_retry: RetryPolicy,
    ) -> Result<Self> {
        if block_size == 0 || block_size > MAX_BLOCK_SIZE {
            return Err(Error::invalid_argument(
                Operation::Write,
                uri,
                format!(
                    "Azure blocks are 1 byte to 4000 MiB ({MAX_BLOCK_SIZE} bytes); part_size is {block_size}"
                ),
            ));
        }
        Ok(BlockWriter {
            client,
            uri: uri.to_string(),
            put,
            parts: PartBuffer::new(block_size),
            id_prefix: format!("{:016x}", rand::random::<u64>()),
            staged: 0,
            uploading: InFlight::new(blocks_in_flight, Operation::Write, uri, part_retry),
            resume: None,
        })
    }

    /// Makes the upload resumable through the journal at `path`: the blocks it names that
    /// the service still holds uncommitted are reused, else a new upload is journaled.
    pub(crate) async fn journaled(mut self, path: &Path) -> Result<Self> {
        let journal = UploadJournal::new(path, &self.uri, "azure", self.parts.part_size());
        let resume = match journal.load().await? {
            Some(journaled) => {
                self.id_prefix = journaled.upload.clone();
                let on_service = self.uncommitted().await?;
                Resume::resumed(journal, journaled, |i| {
                    on_service
                        .get(&self.block_id(i as usize))
                        .map(|&size| (size, None))
                })
            }
            None => {
                // The prefix is journaled before any block is staged under it.
                let fresh = Resume::fresh(journal);
                fresh.begin(&self.id_prefix).await?;
                fresh
            }
        };
        self.resume = Some(resume);
        Ok(self)
    }

    /// The blob's uncommitted blocks: id → size (none when the blob does not exist).
    async fn uncommitted(&self) -> Result<HashMap<Vec<u8>, u64>> {
        let listed = match self.client.get_block_list(BlockListType::Uncommitted, None).await {
            Ok(resp) => resp
                .into_model()
                .map_err(|e| map_error(Operation::Write, &self.uri, e))?,
            Err(e) => match map_error(Operation::Write, &self.uri, e) {
                Error::NotFound { .. } => return Ok(HashMap::new()),
                e => return Err(e),
            },
        };
        Ok(listed
            .uncommitted_blocks
            .unwrap_or_default()
            .into_iter()
            .filter_map(|b| Some((b.name?, b.size? as u64)))
            .collect())
    }

    fn block_id(&self, n: usize) -> Vec<u8> {
        // Every id of a blob must have the same length.
        format!("{}-{n:06}", self.id_prefix).into_bytes()
    }

    fn metadata(&self) -> Option<std::collections::HashMap<String, String>> {
        (!self.put.metadata.is_empty()).then(|| self.put.metadata.clone().into_iter().collect())
    }

    async fn stage(&mut self, block: Bytes) -> Result<()> {
        if self.staged == MAX_BLOCKS {
            return Err(Error::invalid_argument(
                Operation::Write,
                &self.uri,
                format!(
                    "the blob is larger than Azure's {MAX_BLOCKS} blocks × part_size ({} bytes); raise part_size",
                    MAX_BLOCKS as u64 * self.parts.part_size() as u64
                ),
            ));
        }
        let index = self.staged;
        let id = self.block_id(index);
        self.staged += 1;
        let journal = match resume::plan(self.resume.as_mut(), &self.uri, index as u32, &block).await? {
            PartPlan::Stored(_) => return Ok(()),
            PartPlan::Send(pending) => pending,
        };
        let (client, uri) = (self.client.clone(), self.uri.clone());
        self.uploading
            .spawn(move || {
                let (client, uri, id, block, journal) = (
                    client.clone(),
                    uri.clone(),
                    id.clone(),
                    block.clone(),
                    journal.clone(),
                );
                async move {
                    client
                        .stage_block(&id, block.len() as u64, block.into(), None)
                        .await
                        .map_err(|e| map_error(Operation::Write, &uri, e))?;
                    match journal {
                        Some(pending) => pending.acknowledged(None).await,
                        None => Ok(()),
                    }
                }
            })
            .await
    }
}

#[async_trait]
impl PartUpload for BlockWriter {
    async fn push(&mut self, data: Bytes) -> Result<()> {
        for block in self.parts.push(data) {
            self.stage(block).await?;
        }
        Ok(())
    }

    async fn complete(&mut self, written: u64) -> Result<WriteSummary> {
        let rest = self.parts.take_rest();
        let e_tag = if self.staged == 0 {
            // Below one block: a single Put Blob, atomic by itself.
            let options = BlobClientUploadOptions {
                blob_content_type: self.put.content_type.clone(),
                metadata: self.metadata(),
                ..Default::default()
            };
            let out = self
                .client
                .upload(rest.into(), Some(options))
                .await
                .map_err(|e| map_error(Operation::Finalize, &self.uri, e))?;
            out.etag
        } else {
            if !rest.is_empty() {
                self.stage(rest).await?;
            }
            self.uploading.finish().await?;
            let list = BlockLookupList {
                latest: Some((0..self.staged).map(|n| self.block_id(n)).collect()),
                ..Default::default()
            };
            let options = BlockBlobClientCommitBlockListOptions {
                blob_content_type: self.put.content_type.clone(),
                metadata: self.metadata(),
                ..Default::default()
            };
            let content = list
                .try_into()
                .map_err(|e| map_error(Operation::Finalize, &self.uri, e))?;
            let out = self
                .client
                .commit_block_list(content, Some(options))
                .await
                .map_err(|e| map_error(Operation::Finalize, &self.uri, e))?;
            out.headers().get_optional_str(&"etag".into()).map(Into::into)
        };
        if let Some(r) = &self.resume {
            r.journal().remove().await?;
        }
        Ok(WriteSummary {
            uri: self.uri.clone(),
            bytes_written: written,
            size: written,
            e_tag: e_tag.map(|e| e.to_string()),
        })
    }

    /// Stops the staging; the commit never happens, so nothing becomes visible (and a
    /// journaled upload's journal goes).
    async fn discard(&mut self) -> Result<()> {
        self.discard_in_background();
        match &self.resume {
            Some(r) => r.journal().remove().await,
            None => Ok(()),
        }
    }

    fn part_size(&self) -> usize {
        self.parts.part_size()
    }

    fn discard_in_background(&mut self) {
        self.uploading.abort_all();
    }

    fn keeps_on_failure(&self) -> bool {
        self.resume.is_some()
    }

    fn reused_bytes(&self) -> u64 {
        self.resume.as_ref().map_or(0, Resume::reused_bytes)
    }
}
