//! The upload checksums the server checks, as S3 does: a PUT's or part's
//! `x-amz-checksum-crc32c` / `-crc32` header or aws-chunked trailer must match the bytes
//! that arrived, and a multipart upload that declared an algorithm keeps each part's
//! value and needs it listed at completion.

use base64::Engine;
use s3s::dto::ChecksumAlgorithm;
use s3s::{S3Result, TrailingHeaders, s3_error};

use crate::body::Pieces;

/// The algorithms checked (CRC32C: s3dlio and the CRT; CRC32: boto3's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Crc32,
    Crc32c,
}

impl Algorithm {
    /// What a new upload declared; an algorithm this server cannot check is refused
    /// rather than ignored.
    pub fn declared(algorithm: Option<&ChecksumAlgorithm>) -> S3Result<Option<Self>> {
        match algorithm.map(ChecksumAlgorithm::as_str) {
            None => Ok(None),
            Some(ChecksumAlgorithm::CRC32) => Ok(Some(Algorithm::Crc32)),
            Some(ChecksumAlgorithm::CRC32C) => Ok(Some(Algorithm::Crc32c)),
            Some(other) => Err(s3_error!(
                NotImplemented,
                "this server checks CRC32 and CRC32C part checksums only, not {other}"
            )),
        }
    }

    pub fn dto(self) -> ChecksumAlgorithm {
        ChecksumAlgorithm::from_static(match self {
            Algorithm::Crc32 => ChecksumAlgorithm::CRC32,
            Algorithm::Crc32c => ChecksumAlgorithm::CRC32C,
        })
    }

    fn header(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "x-amz-checksum-crc32",
            Algorithm::Crc32c => "x-amz-checksum-crc32c",
        }
    }

    /// The value of `data` as S3 writes it: base64 of the big-endian checksum.
    pub fn of(self, data: &Pieces) -> String {
        let sum = match self {
            Algorithm::Crc32 => {
                let mut h = crc32fast::Hasher::new();
                data.pieces().for_each(|p| h.update(p));
                h.finalize()
            }
            Algorithm::Crc32c => data
                .pieces()
                .fold(0, |crc, piece| s3dlio_core::crc32c_append(crc, piece)),
        };
        base64::engine::general_purpose::STANDARD.encode(sum.to_be_bytes())
    }
}

/// The checksums a request carries (`crc32` and `crc32c` from its headers, else its
/// trailer), each checked against `data`: a mismatch is `BadDigest` and nothing is stored.
pub fn checked(
    (crc32, crc32c): (Option<&str>, Option<&str>),
    trailers: Option<&TrailingHeaders>,
    data: &Pieces,
) -> S3Result<Vec<(Algorithm, String)>> {
    let mut ok = Vec::new();
    for (algorithm, header) in [(Algorithm::Crc32, crc32), (Algorithm::Crc32c, crc32c)] {
        let value = header.map(str::to_string).or_else(|| {
            trailers?
                .read(|h| h.get(algorithm.header())?.to_str().ok().map(str::to_string))
                .flatten()
        });
        let Some(value) = value else { continue };
        let got = algorithm.of(data);
        if value != got {
            return Err(s3_error!(
                BadDigest,
                "the {algorithm:?} you specified ({value}) did not match the bytes received ({got})"
            ));
        }
        ok.push((algorithm, value));
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn values_are_base64_of_the_big_endian_checksum_over_every_piece() {
        // The check value of both CRCs ("123456789"), split across pieces.
        let data = Pieces::concat(&[
            Pieces::of(Bytes::from_static(b"1234")),
            Pieces::of(Bytes::from_static(b"56789")),
        ]);
        let value = |a: Algorithm| {
            base64::engine::general_purpose::STANDARD
                .decode(a.of(&data))
                .unwrap()
        };
        assert_eq!(value(Algorithm::Crc32), 0xCBF4_3926u32.to_be_bytes());
        assert_eq!(value(Algorithm::Crc32c), 0xE306_9283u32.to_be_bytes());
        assert!(checked((None, Some("AAAAAA==")), None, &data).is_err());
        assert_eq!(
            checked((None, Some("4waSgw==")), None, &data).unwrap(),
            [(Algorithm::Crc32c, "4waSgw==".to_string())]
        );
    }
}
