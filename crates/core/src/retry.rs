//! The retry budget, and the one loop that spends it.
//!
//! Retries live in exactly one place of a request's path (decision 010): the
//! [`RetryLayer`](crate::layer::RetryLayer) around a store, which runs every request
//! through [`retry`]. The SDKs' own retries are off and the range engine does not retry,
//! so the budget below is the whole budget: at most `max_attempts` tries, and no new try
//! once `max_elapsed` has passed since the first.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::env::EnvReader;
use crate::error::{Error, Operation, Result};

/// How failed requests are retried: up to `max_attempts` tries in all, none started after
/// `max_elapsed`, sleeping a random time in `[0, min(max_backoff, initial_backoff ×
/// 2^(try-1))]` between them ("full jitter"), so many readers retrying at once do not
/// retry in step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// No try starts later than this after the first one.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        // About what the SDKs did before the retry layer took retries over: five tries,
        // pauses drawn up to 0.2, 0.4, 0.8, 1.6 s (capped at 10 s), a minute in all.
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(60),
        }
    }
}

/// Variables read by [`RetryPolicy::from_reader`].
pub const ENV_RETRY_ATTEMPTS: &str = "S3DLIO_RETRY_MAX_ATTEMPTS";
pub const ENV_RETRY_INITIAL_MS: &str = "S3DLIO_RETRY_INITIAL_BACKOFF_MS";
pub const ENV_RETRY_MAX_MS: &str = "S3DLIO_RETRY_MAX_BACKOFF_MS";
pub const ENV_RETRY_MAX_ELAPSED_MS: &str = "S3DLIO_RETRY_MAX_ELAPSED_MS";

impl RetryPolicy {
    /// One try, no retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Self::default()
        }
    }

    pub fn with_max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }

    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    pub fn with_max_elapsed(mut self, limit: Duration) -> Self {
        self.max_elapsed = limit;
        self
    }

    /// The pause before try `attempt + 1` (`attempt` ≥ 1).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let cap = self
            .initial_backoff
            .saturating_mul(1u32 << (attempt.max(1) - 1).min(20))
            .min(self.max_backoff);
        cap.mul_f64(rand::random::<f64>())
    }

    /// Defaults overridden by the `S3DLIO_RETRY_*` variables; a malformed value is an
    /// error naming the variable.
    pub fn from_env() -> Result<Self> {
        Self::from_reader(&EnvReader::process())
    }

    /// Defaults overridden by what `env` holds.
    pub fn from_reader<F: Fn(&str) -> Option<String>>(env: &EnvReader<F>) -> Result<Self> {
        let mut p = RetryPolicy::default();
        if let Some(n) = env.positive(ENV_RETRY_ATTEMPTS)? {
            p.max_attempts = n.min(u32::MAX as u64) as u32;
        }
        if let Some(n) = env.positive(ENV_RETRY_INITIAL_MS)? {
            p.initial_backoff = Duration::from_millis(n);
        }
        if let Some(n) = env.positive(ENV_RETRY_MAX_MS)? {
            p.max_backoff = Duration::from_millis(n);
        }
        if let Some(n) = env.positive(ENV_RETRY_MAX_ELAPSED_MS)? {
            p.max_elapsed = Duration::from_millis(n);
        }
        Ok(p)
    }
}

/// Runs `request` until it succeeds, fails with an error that is not retryable, or the
/// policy's budget is spent. A spent budget is [`Error::Retried`], saying how many tries
/// over how long; an error that is not retryable is returned as it is.
pub async fn retry<T, F, Fut>(policy: &RetryPolicy, op: Operation, uri: &str, mut request: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let started = Instant::now();
    let mut attempt = 1;
    loop {
        match request().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_retryable() && attempt < policy.max_attempts => {
                let pause = policy.backoff(attempt);
                if started.elapsed() + pause > policy.max_elapsed {
                    return Err(gave_up(op, uri, attempt, started, e));
                }
                tracing::debug!("{op} {uri}: try {attempt} failed ({e}); retrying in {pause:?}");
                tokio::time::sleep(pause).await;
                attempt += 1;
            }
            // A definitive answer after earlier failed tries is returned as it is.
            Err(e) if attempt == 1 || !e.is_retryable() => return Err(e),
            Err(e) => return Err(gave_up(op, uri, attempt, started, e)),
        }
    }
}

fn gave_up(op: Operation, uri: &str, attempts: u32, started: Instant, last: Error) -> Error {
    if attempts == 1 {
        return last;
    }
    Error::Retried {
        op,
        uri: uri.to_string(),
        attempts,
        elapsed: started.elapsed(),
        source: Box::new(last),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn transient(uri: &str) -> Error {
        Error::Transient {
            op: Operation::Get,
            uri: uri.into(),
            source: "flaky".into(),
        }
    }

    fn quick() -> RetryPolicy {
        RetryPolicy::default().with_backoff(Duration::from_millis(1), Duration::from_millis(2))
    }

    #[test]
    fn backoff_is_jittered_and_capped() {
        let p = RetryPolicy::default();
        let mut distinct = std::collections::HashSet::new();
        for attempt in 1..30 {
            let d = p.backoff(attempt);
            assert!(d <= p.max_backoff);
            assert!(d <= p.initial_backoff * 2u32.pow((attempt - 1).min(20)));
            distinct.insert(d);
        }
        assert!(distinct.len() > 20, "jitter spreads the pauses: {distinct:?}");
    }

    #[tokio::test]
    async fn retries_until_success_within_the_attempts() {
        let tries = AtomicU32::new(0);
        let got = retry(&quick(), Operation::Get, "memory://b/k", || async {
            if tries.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(transient("memory://b/k"))
            } else {
                Ok(7)
            }
        })
        .await
        .unwrap();
        assert_eq!((got, tries.load(Ordering::SeqCst)), (7, 3));
    }

    #[tokio::test]
    async fn gives_up_after_max_attempts_and_says_so() {
        let tries = AtomicU32::new(0);
        let err = retry(
            &quick().with_max_attempts(3),
            Operation::Get,
            "memory://b/k",
            || async {
                tries.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(transient("memory://b/k"))
            },
        )
        .await
        .unwrap_err();
        assert_eq!(tries.load(Ordering::SeqCst), 3);
        assert!(matches!(err, Error::Retried { attempts: 3, .. }), "{err:?}");
        assert!(err.to_string().contains("3 tries"), "{err}");
        assert!(
            !err.is_retryable(),
            "a spent budget is not retried again by an outer loop"
        );
    }

    #[tokio::test]
    async fn the_elapsed_budget_stops_retries() {
        let tries = AtomicU32::new(0);
        let policy = RetryPolicy::default()
            .with_max_attempts(1000)
            .with_backoff(Duration::from_millis(20), Duration::from_millis(20))
            .with_max_elapsed(Duration::from_millis(100));
        let err = retry(&policy, Operation::Get, "memory://b/k", || async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(transient("memory://b/k"))
        })
        .await
        .unwrap_err();
        let n = tries.load(Ordering::SeqCst);
        assert!(
            (2..1000).contains(&n),
            "the time budget, not the attempts, ended it after {n} tries"
        );
        match err {
            Error::Retried { elapsed, .. } => assert!(elapsed <= Duration::from_millis(500), "{elapsed:?}"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn permanent_errors_are_not_retried() {
        let tries = AtomicU32::new(0);
        let err = retry(&quick(), Operation::Get, "memory://b/k", || async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(Error::not_found(Operation::Get, "memory://b/k"))
        })
        .await
        .unwrap_err();
        assert_eq!(tries.load(Ordering::SeqCst), 1);
        assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    }

    #[test]
    fn env_overrides_and_rejects() {
        let p = RetryPolicy::from_reader(&EnvReader::new(|k: &str| {
            (k == ENV_RETRY_MAX_ELAPSED_MS).then(|| "2500".into())
        }))
        .unwrap();
        assert_eq!(p.max_elapsed, Duration::from_millis(2500));
        let e = RetryPolicy::from_reader(&EnvReader::new(|k: &str| {
            (k == ENV_RETRY_ATTEMPTS).then(|| "many".into())
        }))
        .unwrap_err();
        assert!(e.to_string().contains(ENV_RETRY_ATTEMPTS), "{e}");
    }
}
