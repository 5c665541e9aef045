//! Engine settings, and the one place their `S3DLIO_*` variables are read.

use s3dlio_core::Result;
use s3dlio_core::env::EnvReader;

/// Settings of a [`RangeEngine`](crate::RangeEngine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeEngineConfig {
    /// Bytes per ranged request after the first.
    pub chunk_size: u64,
    /// Requests in flight at once (further limited by `max_bytes_in_flight`).
    pub max_concurrency: usize,
    /// Upper bound on response bytes held at once: requests in flight plus the response
    /// being copied, × chunk size (see `effective_concurrency`).
    pub max_bytes_in_flight: u64,
    /// Reads up to this size take one request; the first request of a larger read asks
    /// for this many bytes and learns the object's size and version from the answer.
    pub threshold: u64,
}

impl Default for RangeEngineConfig {
    fn default() -> Self {
        RangeEngineConfig {
            chunk_size: 8 << 20,
            max_concurrency: 16,
            max_bytes_in_flight: 256 << 20,
            threshold: 8 << 20,
        }
    }
}

/// Variables read by [`RangeEngineConfig::from_env`].
pub const ENV_CHUNK_SIZE: &str = "S3DLIO_RANGE_CHUNK_SIZE";
pub const ENV_CONCURRENCY: &str = "S3DLIO_RANGE_CONCURRENCY";
pub const ENV_MAX_BYTES_IN_FLIGHT: &str = "S3DLIO_RANGE_MAX_BYTES_IN_FLIGHT";
pub const ENV_THRESHOLD: &str = "S3DLIO_RANGE_THRESHOLD";

impl RangeEngineConfig {
    pub fn with_chunk_size(mut self, bytes: u64) -> Self {
        self.chunk_size = bytes;
        self
    }

    pub fn with_max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = n;
        self
    }

    pub fn with_max_bytes_in_flight(mut self, bytes: u64) -> Self {
        self.max_bytes_in_flight = bytes;
        self
    }

    pub fn with_threshold(mut self, bytes: u64) -> Self {
        self.threshold = bytes;
        self
    }

    /// Requests in flight at once: `max_concurrency`, lowered so that they and the one
    /// response being copied (or held by a stream's consumer) fit in
    /// `max_bytes_in_flight`. Never below one, so a cap under two chunks still holds two.
    pub fn effective_concurrency(&self) -> usize {
        let chunks = self.max_bytes_in_flight / self.chunk_size.max(1);
        let by_memory = chunks.saturating_sub(1).max(1);
        self.max_concurrency
            .clamp(1, by_memory.min(usize::MAX as u64) as usize)
    }

    /// Responses waiting for (or being) copied into a contiguous output at once: what
    /// `max_bytes_in_flight` leaves after the requests in flight (at least one).
    pub fn copy_concurrency(&self) -> usize {
        let chunks = (self.max_bytes_in_flight / self.chunk_size.max(1)).min(usize::MAX as u64) as usize;
        chunks.saturating_sub(self.effective_concurrency()).max(1)
    }

    /// Defaults overridden by the `S3DLIO_RANGE_*` variables; a malformed value is an
    /// error naming the variable.
    pub fn from_env() -> Result<Self> {
        Self::from_reader(&EnvReader::process())
    }

    /// Defaults overridden by what `env` holds.
    pub fn from_reader<F: Fn(&str) -> Option<String>>(env: &EnvReader<F>) -> Result<Self> {
        let mut c = RangeEngineConfig::default();
        if let Some(n) = env.positive(ENV_CHUNK_SIZE)? {
            c.chunk_size = n;
        }
        if let Some(n) = env.positive(ENV_CONCURRENCY)? {
            c.max_concurrency = n as usize;
        }
        if let Some(n) = env.positive(ENV_MAX_BYTES_IN_FLIGHT)? {
            c.max_bytes_in_flight = n;
        }
        if let Some(n) = env.positive(ENV_THRESHOLD)? {
            c.threshold = n;
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_respects_the_memory_cap() {
        let c = RangeEngineConfig::default()
            .with_chunk_size(1 << 20)
            .with_max_concurrency(16)
            .with_max_bytes_in_flight(4 << 20);
        assert_eq!(
            c.effective_concurrency(),
            3,
            "one chunk is kept for the response being copied"
        );
        assert_eq!(c.copy_concurrency(), 1);
        let roomy = c.clone().with_max_bytes_in_flight(64 << 20);
        assert_eq!(
            (roomy.effective_concurrency(), roomy.copy_concurrency()),
            (16, 48)
        );
        assert_eq!(c.clone().with_max_bytes_in_flight(1).effective_concurrency(), 1);
        assert_eq!(c.with_max_bytes_in_flight(1 << 40).effective_concurrency(), 16);
    }

    #[test]
    fn env_overrides_and_rejects() {
        let c = RangeEngineConfig::from_reader(&EnvReader::new(|k: &str| {
            (k == ENV_CONCURRENCY).then(|| "64".into())
        }))
        .unwrap();
        assert_eq!(c.max_concurrency, 64);
        let e = RangeEngineConfig::from_reader(&EnvReader::new(|k: &str| {
            (k == ENV_CHUNK_SIZE).then(|| "8MiB".into())
        }))
        .unwrap_err();
        assert!(e.to_string().contains(ENV_CHUNK_SIZE), "{e}");
    }
}
