//! `StoreOptions`: everything a store handle is made with, as typed values. The
//! environment is one source of them ([`StoreOptions::from_env`]); an option set here
//! always beats it.

use std::collections::BTreeMap;
use std::sync::Arc;

use s3dlio_core::env::EnvReader;
use s3dlio_core::layer::ENV_MAX_REQUESTS;
use s3dlio_core::{Result, RetryPolicy};
use s3dlio_range_engine::RangeEngineConfig;

/// Options of the stores [`store_for_uri_with`](crate::store_for_uri_with) makes.
///
/// A backend config left `None` is read from the environment when its store is made;
/// one that is set is used as it is.
///
/// ```
/// use std::time::Duration;
/// use s3dlio::{RangeEngineConfig, RetryPolicy, StoreOptions};
///
/// let opts = StoreOptions::default()
///     .with_retry(RetryPolicy::default().with_max_attempts(2).with_max_elapsed(Duration::from_secs(5)))
///     .with_read(RangeEngineConfig::default().with_chunk_size(4 << 20))
///     .with_max_requests(64);
/// assert_eq!(opts.retry.max_attempts, 2);
/// ```
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    /// How the one read path splits large reads (chunk size, concurrency, byte cap).
    pub read: RangeEngineConfig,
    /// The one retry budget of every request.
    pub retry: RetryPolicy,
    /// Requests in flight at once per store; `None` = no limit.
    pub max_requests: Option<usize>,
    #[cfg(feature = "file")]
    pub file: Option<crate::file::FileConfig>,
    #[cfg(feature = "s3")]
    pub s3: Option<crate::s3::S3Config>,
    #[cfg(feature = "azure")]
    pub azure: Option<crate::azure::AzureConfig>,
    #[cfg(feature = "gcs")]
    pub gcs: Option<crate::gcs::GcsConfig>,
    /// Values of knobs (`S3DLIO_*`, `AWS_REGION`, ...) that stand in front of the process
    /// environment wherever a config above is left `None` (Python's `configure()`).
    pub vars: Option<Arc<BTreeMap<String, String>>>,
    /// Every operation of the stores made is recorded here (the op-log layer, on top).
    pub op_log: Option<Arc<crate::oplog::OpLog>>,
    /// Every request is sent to one of these endpoints (the multi-endpoint layer, below
    /// the retry layer so a failed try is retried on another endpoint).
    pub endpoints: Option<Arc<crate::endpoints::Endpoints>>,
}

impl StoreOptions {
    /// Records every operation of the stores made into `log` ([`crate::oplog`]).
    pub fn with_op_log(mut self, log: Arc<crate::oplog::OpLog>) -> Self {
        self.op_log = Some(log);
        self
    }

    /// Balances every request over `endpoints` ([`crate::endpoints`]); keep a clone of
    /// the `Arc` to read their statistics.
    pub fn with_endpoints(mut self, endpoints: Arc<crate::endpoints::Endpoints>) -> Self {
        self.endpoints = Some(endpoints);
        self
    }

    /// The read, retry and limit options from the `S3DLIO_RANGE_*`, `S3DLIO_RETRY_*` and
    /// `S3DLIO_MAX_REQUESTS` variables (backend configs are read when their store is
    /// made); a malformed value is an error naming the variable.
    pub fn from_env() -> Result<Self> {
        Self::from_reader(&EnvReader::process())
    }

    /// As [`from_env`](Self::from_env), from what `env` holds.
    pub fn from_reader<F: Fn(&str) -> Option<String>>(env: &EnvReader<F>) -> Result<Self> {
        Ok(StoreOptions {
            read: RangeEngineConfig::from_reader(env)?,
            retry: RetryPolicy::from_reader(env)?,
            max_requests: env.positive(ENV_MAX_REQUESTS)?.map(|n| n as usize),
            ..Default::default()
        })
    }

    /// As [`from_env`](Self::from_env), with `vars` in front of the environment; the
    /// backend configs left `None` are read the same way when their store is made.
    pub fn from_vars(vars: BTreeMap<String, String>) -> Result<Self> {
        let vars = Arc::new(vars);
        let lookup = lookup(Some(&vars));
        Ok(StoreOptions {
            vars: Some(vars.clone()),
            ..Self::from_reader(&EnvReader::new(lookup))?
        })
    }

    /// Where a backend config left `None` is read from: `vars`, then the environment.
    pub(crate) fn source(&self) -> EnvReader<impl Fn(&str) -> Option<String> + '_> {
        EnvReader::new(lookup(self.vars.as_deref()))
    }

    pub fn with_read(mut self, read: RangeEngineConfig) -> Self {
        self.read = read;
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_max_requests(mut self, n: usize) -> Self {
        self.max_requests = Some(n);
        self
    }

    #[cfg(feature = "file")]
    pub fn with_file(mut self, config: crate::file::FileConfig) -> Self {
        self.file = Some(config);
        self
    }

    #[cfg(feature = "s3")]
    pub fn with_s3(mut self, config: crate::s3::S3Config) -> Self {
        self.s3 = Some(config);
        self
    }

    #[cfg(feature = "azure")]
    pub fn with_azure(mut self, config: crate::azure::AzureConfig) -> Self {
        self.azure = Some(config);
        self
    }

    #[cfg(feature = "gcs")]
    pub fn with_gcs(mut self, config: crate::gcs::GcsConfig) -> Self {
        self.gcs = Some(config);
        self
    }
}

fn lookup(vars: Option<&BTreeMap<String, String>>) -> impl Fn(&str) -> Option<String> + '_ {
    move |k: &str| {
        vars.and_then(|v| v.get(k).cloned())
            .or_else(|| std::env::var(k).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_is_one_source_and_names_bad_values() {
        let env = EnvReader::new(|k: &str| match k {
            "S3DLIO_RETRY_MAX_ATTEMPTS" => Some("7".into()),
            "S3DLIO_RANGE_CHUNK_SIZE" => Some("1048576".into()),
            ENV_MAX_REQUESTS => Some("12".into()),
            _ => None,
        });
        let o = StoreOptions::from_reader(&env).unwrap();
        assert_eq!(
            (o.retry.max_attempts, o.read.chunk_size, o.max_requests),
            (7, 1 << 20, Some(12))
        );
        let bad = EnvReader::new(|k: &str| (k == ENV_MAX_REQUESTS).then(|| "lots".into()));
        let e = StoreOptions::from_reader(&bad).unwrap_err().to_string();
        assert!(e.contains(ENV_MAX_REQUESTS), "{e}");
    }

    #[test]
    fn vars_stand_in_front_of_the_environment() {
        // A variable the test process cannot have set: only `vars` can supply it.
        let var = "S3DLIO_RETRY_MAX_ELAPSED_MS";
        assert!(std::env::var(var).is_err());
        let vars = BTreeMap::from([(var.to_string(), "1234".to_string())]);
        let o = StoreOptions::from_vars(vars).unwrap();
        assert_eq!(o.retry.max_elapsed, std::time::Duration::from_millis(1234));
        assert_eq!(o.source().raw(var).as_deref(), Some("1234"));
        let bad = BTreeMap::from([(var.to_string(), "soon".to_string())]);
        assert!(
            StoreOptions::from_vars(bad)
                .unwrap_err()
                .to_string()
                .contains(var)
        );
    }
}
