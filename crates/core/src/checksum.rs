//! CRC32C (Castagnoli), hardware-accelerated (SSE 4.2 / ARMv8 CRC) by the `crc32c` crate.

use bytes::Bytes;

use crate::error::{Operation, Result};
use crate::task::run_blocking;

/// From this size an async caller's CRC32C runs on the blocking pool.
const INLINE_CRC: usize = 1 << 20;

/// CRC32C of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    ::crc32c::crc32c(data)
}

/// Extends a running CRC32C with more bytes, for streamed data.
pub fn crc32c_append(crc: u32, data: &[u8]) -> u32 {
    ::crc32c::crc32c_append(crc, data)
}

/// `crc` extended by `data` (start from 0 for a whole buffer), computed off the async
/// workers when `data` is large; `op` and `uri` name a task that failed.
pub async fn crc32c_extend(op: Operation, uri: &str, crc: u32, data: Bytes) -> Result<u32> {
    if data.len() < INLINE_CRC {
        return Ok(crc32c_append(crc, &data));
    }
    run_blocking(op, uri, "CRC32C", move || crc32c_append(crc, &data)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector_and_streaming() {
        // RFC 3720 B.4: 32 bytes of zeros.
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        let whole = crc32c(b"hello world");
        assert_eq!(crc32c_append(crc32c(b"hello "), b"world"), whole);
    }
}
