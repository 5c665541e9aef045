//! What a checkpoint records: one [`ShardMeta`] per rank, the [`Manifest`] rank 0 writes
//! after every shard is stored, and the [`Latest`] pointer written after the manifest.

use s3dlio_core::{Error, Operation, Result};
use serde::{Deserialize, Serialize};

/// The manifest format this crate writes; a reader refuses a newer one.
pub const FORMAT_VERSION: u32 = 1;

/// Where manifests live, relative to the checkpoint's base.
pub const MANIFESTS: &str = "manifests/";

/// The pointer to the newest complete checkpoint, relative to the base.
pub const LATEST: &str = "latest";

/// One rank's stored shard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardMeta {
    pub step: u64,
    pub rank: u32,
    /// Key relative to the checkpoint's base.
    pub key: String,
    /// Bytes the rank wrote (before compression).
    pub size: u64,
    /// Bytes stored (after compression).
    pub stored_size: u64,
    /// `crc32c:xxxxxxxx` of the bytes the rank wrote.
    pub checksum: String,
    /// `zstd` when the shard is stored compressed.
    pub compression: Option<String>,
    pub etag: Option<String>,
    /// Unix seconds when the shard was stored.
    pub timestamp: f64,
}

impl ShardMeta {
    /// The CRC32C `checksum` names.
    pub fn crc32c(&self) -> Option<u32> {
        parse_checksum(&self.checksum)
    }

    pub fn is_compressed(&self) -> bool {
        self.compression.as_deref() == Some("zstd")
    }
}

/// `crc32c:xxxxxxxx`, as the original s3dlio writes it.
pub fn format_checksum(crc: u32) -> String {
    format!("crc32c:{crc:08x}")
}

pub fn parse_checksum(s: &str) -> Option<u32> {
    u32::from_str_radix(s.strip_prefix("crc32c:")?, 16).ok()
}

/// A complete checkpoint: written by rank 0 once every rank's shard is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub framework: String,
    pub step: u64,
    pub epoch: u64,
    /// Unix milliseconds when the manifest was made (also in its key).
    pub timestamp_ms: u64,
    pub world_size: u32,
    /// The shard layout's name ([`Layout`](crate::Layout)'s `Display`).
    pub layout: String,
    /// One per rank, in rank order.
    pub shards: Vec<ShardMeta>,
    /// Sum of the shards' `size`.
    pub total_size: u64,
    /// Whatever the caller attached (a JSON object).
    #[serde(default)]
    pub user_meta: serde_json::Map<String, serde_json::Value>,
}

impl Manifest {
    /// Its key, relative to the base: newer saves of one step sort after older ones.
    pub fn key(&self) -> String {
        manifest_key(self.step, self.timestamp_ms)
    }

    /// Unix seconds, as the original's `timestamp`.
    pub fn timestamp(&self) -> f64 {
        self.timestamp_ms as f64 / 1e3
    }

    pub(crate) fn parse(uri: &str, data: &[u8]) -> Result<Manifest> {
        let m: Manifest = serde_json::from_slice(data).map_err(|e| corrupt(uri, &e))?;
        if m.format_version > FORMAT_VERSION {
            return Err(Error::invalid_argument(
                Operation::Get,
                uri,
                format!(
                    "manifest format {} is newer than this s3dlio reads ({FORMAT_VERSION}); upgrade s3dlio",
                    m.format_version
                ),
            ));
        }
        Ok(m)
    }
}

pub(crate) fn manifest_key(step: u64, timestamp_ms: u64) -> String {
    format!("{MANIFESTS}ckpt-{step:012}-{timestamp_ms:013}.json")
}

/// The step a manifest key names (`manifests/ckpt-<step>-<ms>.json`).
pub(crate) fn step_of_key(key: &str) -> Option<u64> {
    let name = key
        .rsplit('/')
        .next()?
        .strip_prefix("ckpt-")?
        .strip_suffix(".json")?;
    name.split_once('-')?.0.parse().ok()
}

/// The `latest` object: which manifest a reader loads by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latest {
    pub format_version: u32,
    pub step: u64,
    /// The manifest's key, relative to the base.
    pub manifest: String,
}

impl Latest {
    pub(crate) fn parse(uri: &str, data: &[u8]) -> Result<Latest> {
        serde_json::from_slice(data).map_err(|e| corrupt(uri, &e))
    }
}

fn corrupt(uri: &str, e: &serde_json::Error) -> Error {
    Error::invalid_argument(
        Operation::Get,
        uri,
        format!("not a checkpoint manifest or pointer ({e}); was it written by s3dlio?"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_checksums_round_trip() {
        let key = manifest_key(42, 1_700_000_000_123);
        assert_eq!(key, "manifests/ckpt-000000000042-1700000000123.json");
        assert_eq!(step_of_key(&key), Some(42));
        assert_eq!(step_of_key("manifests/other.json"), None);
        assert!(manifest_key(9, 5) < manifest_key(10, 1), "steps sort as numbers");
        assert_eq!(parse_checksum(&format_checksum(0xE306_9283)), Some(0xE306_9283));
        assert_eq!(parse_checksum("md5:00"), None);
    }

    #[test]
    fn a_newer_format_is_refused_with_advice() {
        let json = br#"{"format_version": 99, "framework": "torch", "step": 1, "epoch": 0, "timestamp_ms": 1,
            "world_size": 1, "layout": "flat", "shards": [], "total_size": 0}"#;
        let e = Manifest::parse("memory://b/m.json", json).unwrap_err();
        assert!(e.to_string().contains("upgrade s3dlio"), "{e}");
        let e = Manifest::parse("memory://b/m.json", b"{}").unwrap_err();
        assert!(e.to_string().contains("memory://b/m.json"), "{e}");
    }
}
