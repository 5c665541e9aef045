//! Settings of the file stores, and the one place their `S3DLIO_*` variables are read.

use s3dlio_core::Result;
use s3dlio_core::env::EnvReader;
use s3dlio_range_engine::RangeEngineConfig;

/// Page-cache advice (`posix_fadvise`) given before buffered reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PageCacheHint {
    /// Sequential for whole-object reads, random for ranged reads.
    #[default]
    Auto,
    Sequential,
    Random,
    /// Read, then drop the pages from the cache (benchmarks that must not measure the cache).
    DontNeed,
    /// Give no advice.
    Normal,
}

impl std::str::FromStr for PageCacheHint {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "auto" => PageCacheHint::Auto,
            "sequential" => PageCacheHint::Sequential,
            "random" => PageCacheHint::Random,
            "dontneed" => PageCacheHint::DontNeed,
            "normal" => PageCacheHint::Normal,
            other => {
                return Err(format!(
                    "{other:?} is not one of auto, sequential, random, dontneed, normal"
                ));
            }
        })
    }
}

/// Settings of [`FileStore`](crate::FileStore).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileConfig {
    pub page_cache: PageCacheHint,
    /// `fdatasync` each object before it becomes visible: durable across power loss, slower.
    pub fsync: bool,
    /// O_DIRECT alignment of offsets, lengths and buffers (a power of two).
    pub direct_alignment: usize,
    /// How `get_optimized` splits large reads into concurrent chunks.
    pub range: RangeEngineConfig,
}

impl Default for FileConfig {
    fn default() -> Self {
        FileConfig {
            page_cache: PageCacheHint::Auto,
            fsync: false,
            direct_alignment: 4096,
            range: RangeEngineConfig::default(),
        }
    }
}

/// Environment variables read by [`FileConfig::from_env`].
pub const ENV_PAGE_CACHE: &str = "S3DLIO_PAGE_CACHE";
pub const ENV_FSYNC: &str = "S3DLIO_FILE_FSYNC";
pub const ENV_DIRECT_ALIGNMENT: &str = "S3DLIO_DIRECT_ALIGNMENT";

impl FileConfig {
    /// Defaults overridden by `S3DLIO_PAGE_CACHE`, `S3DLIO_FILE_FSYNC` (0/1),
    /// `S3DLIO_DIRECT_ALIGNMENT` and the range engine's `S3DLIO_RANGE_*` variables; a
    /// malformed value is an error naming the variable.
    pub fn from_env() -> Result<Self> {
        Self::from_reader(&EnvReader::process())
    }

    /// Defaults overridden by what `env` holds.
    pub fn from_reader<F: Fn(&str) -> Option<String>>(env: &EnvReader<F>) -> Result<Self> {
        let d = FileConfig::default();
        Ok(FileConfig {
            page_cache: env
                .parse(
                    ENV_PAGE_CACHE,
                    "one of auto, sequential, random, dontneed, normal",
                    |v| v.parse().ok(),
                )?
                .unwrap_or(d.page_cache),
            fsync: env
                .parse(ENV_FSYNC, "0 or 1", |v| match v {
                    "1" | "true" => Some(true),
                    "0" | "false" => Some(false),
                    _ => None,
                })?
                .unwrap_or(d.fsync),
            direct_alignment: env
                .parse(ENV_DIRECT_ALIGNMENT, "a power of two >= 512", |v| {
                    v.parse::<usize>()
                        .ok()
                        .filter(|a| a.is_power_of_two() && *a >= 512)
                })?
                .unwrap_or(d.direct_alignment),
            range: RangeEngineConfig::from_reader(env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_and_rejects() {
        let cfg = FileConfig::from_reader(&EnvReader::new(|k: &str| match k {
            ENV_PAGE_CACHE => Some("DontNeed".into()),
            ENV_FSYNC => Some("1".into()),
            _ => None,
        }))
        .unwrap();
        assert_eq!(
            (cfg.page_cache, cfg.fsync, cfg.direct_alignment),
            (PageCacheHint::DontNeed, true, 4096)
        );
        let err = FileConfig::from_reader(&EnvReader::new(|k: &str| {
            (k == ENV_DIRECT_ALIGNMENT).then(|| "1000".into())
        }))
        .unwrap_err();
        assert!(err.to_string().contains(ENV_DIRECT_ALIGNMENT), "{err}");
        let err = FileConfig::from_reader(&EnvReader::new(|k: &str| {
            (k == ENV_PAGE_CACHE).then(|| "fast".into())
        }))
        .unwrap_err();
        assert!(err.to_string().contains("sequential"), "{err}");
    }
}
