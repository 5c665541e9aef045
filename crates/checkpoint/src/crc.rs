//! CRC32C of shard bytes, off the async workers when the bytes are many.

use bytes::Bytes;
use s3dlio_core::{Operation, Result, crc32c_append, run_blocking};

/// From this size a CRC32C is computed on the blocking pool.
const INLINE: usize = 1 << 20;

/// `crc` extended by `data` (start from 0 for a whole buffer).
pub(crate) async fn crc32c_extend(op: Operation, uri: &str, crc: u32, data: Bytes) -> Result<u32> {
    if data.len() < INLINE {
        return Ok(crc32c_append(crc, &data));
    }
    run_blocking(op, uri, "CRC32C", move || crc32c_append(crc, &data)).await
}
