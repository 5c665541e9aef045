//! The CRC32C an upload's body carries for the service to check (decision 027).

use aws_sdk_s3::types::ChecksumAlgorithm;
use bytes::Bytes;
use s3dlio_core::{Operation, Result, crc32c_extend};

use crate::config::UploadChecksum;

/// The header that carries it.
pub(crate) const HEADER: &str = "x-amz-checksum-crc32c";

impl UploadChecksum {
    /// The header value for `data` (base64 of the big-endian CRC32C, as S3 wants it);
    /// `None` when off. A large body is summed on the blocking pool.
    pub(crate) async fn of(self, op: Operation, uri: &str, data: &Bytes) -> Result<Option<String>> {
        match self {
            UploadChecksum::Off => Ok(None),
            UploadChecksum::Crc32c => Ok(Some(encode(crc32c_extend(op, uri, 0, data.clone()).await?))),
        }
    }

    /// The header value of a body whose CRC32C is already known; `None` when off.
    pub(crate) fn known(self, crc: u32) -> Option<String> {
        (self == UploadChecksum::Crc32c).then(|| encode(crc))
    }

    /// What a multipart upload declares when it is created.
    pub(crate) fn algorithm(self) -> Option<ChecksumAlgorithm> {
        (self == UploadChecksum::Crc32c).then_some(ChecksumAlgorithm::Crc32C)
    }

    /// The checksum of an upload the service reports (a resumed upload keeps the one it
    /// was created with).
    pub(crate) fn declared(algorithm: Option<&ChecksumAlgorithm>) -> Self {
        match algorithm {
            Some(ChecksumAlgorithm::Crc32C) => UploadChecksum::Crc32c,
            _ => UploadChecksum::Off,
        }
    }
}

/// A CRC32C as S3 writes it: base64 of its four big-endian bytes.
fn encode(crc: u32) -> String {
    aws_smithy_types::base64::encode(crc.to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn header_values_are_base64_of_the_big_endian_crc() {
        // CRC32C("Hello World") = 0x691DAA2F, computed bit by bit outside this crate.
        let body = Bytes::from_static(b"Hello World");
        let on = UploadChecksum::Crc32c
            .of(Operation::Put, "s3://b/k", &body)
            .await
            .unwrap();
        assert_eq!(on.as_deref(), Some("aR2qLw=="));
        assert_eq!(
            UploadChecksum::Off
                .of(Operation::Put, "s3://b/k", &body)
                .await
                .unwrap(),
            None
        );
    }
}
