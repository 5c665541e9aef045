//! `LimitLayer`: a bound on the requests a store has in flight.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::error::{Error, Operation, Result};
use crate::layer::Interceptor;

/// The variable that sets [`LimitLayer`]'s bound for the stores `store_for_uri` makes.
pub const ENV_MAX_REQUESTS: &str = "S3DLIO_MAX_REQUESTS";

/// At most `max` requests of the store below run at once; the others wait their turn.
/// Under the retry layer, a request waiting out a backoff holds no permit. Listings hold
/// none either (their pages are not seen one by one).
#[derive(Debug, Clone)]
pub struct LimitLayer {
    permits: Arc<Semaphore>,
    max: usize,
}

impl LimitLayer {
    pub fn new(max: usize) -> Self {
        let max = max.clamp(1, Semaphore::MAX_PERMITS);
        LimitLayer {
            permits: Arc::new(Semaphore::new(max)),
            max,
        }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// Requests running now.
    pub fn in_flight(&self) -> usize {
        self.max - self.permits.available_permits()
    }
}

impl Interceptor for LimitLayer {
    async fn around<'a, T, F, Fut>(&'a self, op: Operation, uri: &'a str, mut request: F) -> Result<T>
    where
        T: Send + 'a,
        F: FnMut() -> Fut + Send + 'a,
        Fut: Future<Output = Result<T>> + Send + 'a,
    {
        let _permit = self.permits.acquire().await.map_err(|e| Error::Backend {
            op,
            uri: uri.to_string(),
            message: "the request limiter was closed".into(),
            source: Some(Box::new(e)),
        })?;
        request().await
    }
}
