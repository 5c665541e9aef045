//! The Azure streaming writer: one Put Blob below one block, staged blocks committed
//! once above it.
//!
//! Memory is bounded by `blocks_in_flight × block_size` plus the block being filled.
//! Nothing is visible until Put Block List commits; on failure, `cancel` or drop, the
//! staging stops and the commit never happens. Azure has no call that discards the
//! uncommitted blocks of a blob: they stay invisible, are replaced by the next commit
//! to that name, and the service drops them after 7 days.

use std::sync::Arc;

use async_trait::async_trait;
use azure_storage_blob::BlockBlobClient;
use azure_storage_blob::models::{
    BlobClientUploadOptions, BlockBlobClientCommitBlockListOptions, BlockLookupList,
};
use bytes::Bytes;
use s3dlio_core::parts::{InFlight, PartBuffer, PartUpload};
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
        })
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
        let id = self.block_id(self.staged);
        self.staged += 1;
        let (client, uri) = (self.client.clone(), self.uri.clone());
        self.uploading
            .spawn(move || {
                let (client, uri, id, block) = (client.clone(), uri.clone(), id.clone(), block.clone());
                async move {
                    client
                        .stage_block(&id, block.len() as u64, block.into(), None)
                        .await
                        .map(drop)
                        .map_err(|e| map_error(Operation::Write, &uri, e))
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
        Ok(WriteSummary {
            uri: self.uri.clone(),
            bytes_written: written,
            size: written,
            e_tag: e_tag.map(|e| e.to_string()),
        })
    }

    /// Stops the staging; the commit never happens, so nothing becomes visible.
    async fn discard(&mut self) -> Result<()> {
        self.discard_in_background();
        Ok(())
    }

    fn discard_in_background(&mut self) {
        self.uploading.abort_all();
    }
}
