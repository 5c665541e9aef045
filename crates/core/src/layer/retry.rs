//! `RetryLayer`: the one place requests are retried (decision 010).

use std::future::Future;

use futures::StreamExt;
use futures::stream::{self, BoxStream};

use crate::error::{Error, Operation, Result};
use crate::layer::Interceptor;
use crate::meta::ListEntry;
use crate::options::WriterOptions;
use crate::retry::{RetryPolicy, retry};
use crate::store::ObjectStore;

/// Retries every request of the store below with one [`RetryPolicy`]: the tries and the
/// time they may take. Writers get the same policy for their parts; a listing that
/// fails part-way is listed again and resumed after the last entry it yielded.
#[derive(Debug, Clone)]
pub struct RetryLayer {
    policy: RetryPolicy,
}

impl RetryLayer {
    pub fn new(policy: RetryPolicy) -> Self {
        RetryLayer { policy }
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }
}

impl Interceptor for RetryLayer {
    fn around<'a, T, F, Fut>(
        &'a self,
        op: Operation,
        uri: &'a str,
        request: F,
    ) -> impl Future<Output = Result<T>> + Send + 'a
    where
        T: Send + 'a,
        F: FnMut() -> Fut + Send + 'a,
        Fut: Future<Output = Result<T>> + Send + 'a,
    {
        retry(&self.policy, op, uri, request)
    }

    fn writer_options(&self, opts: WriterOptions) -> WriterOptions {
        WriterOptions {
            part_retry: self.policy.clone(),
            ..opts
        }
    }

    fn list<'a>(
        &'a self,
        inner: &'a dyn ObjectStore,
        prefix: &str,
        recursive: bool,
    ) -> BoxStream<'a, Result<ListEntry>> {
        let state = Resume {
            inner,
            prefix: prefix.to_string(),
            recursive,
            policy: &self.policy,
            current: inner.list_stream(prefix, recursive),
            last: None,
            skipping: false,
            attempt: 1,
            started: std::time::Instant::now(),
        };
        stream::unfold(Some(state), |state| async move {
            let mut s = state?;
            let item = s.next().await?;
            Some(match item {
                Ok(entry) => (Ok(entry), Some(s)),
                Err(e) => (Err(e), None),
            })
        })
        .boxed()
    }
}

/// A listing that starts again after a retryable failure and skips what it already
/// yielded. Listings come in a fixed order on every backend, so the entries up to the
/// last one yielded are the ones to skip; if that entry is gone, the listing cannot be
/// resumed exactly and the failure is returned.
struct Resume<'a> {
    inner: &'a dyn ObjectStore,
    prefix: String,
    recursive: bool,
    policy: &'a RetryPolicy,
    current: BoxStream<'a, Result<ListEntry>>,
    last: Option<String>,
    skipping: bool,
    attempt: u32,
    started: std::time::Instant,
}

impl Resume<'_> {
    async fn next(&mut self) -> Option<Result<ListEntry>> {
        loop {
            match self.current.next().await {
                None if self.skipping => {
                    return Some(Err(Error::Backend {
                        op: Operation::List,
                        uri: self.prefix.clone(),
                        message: format!(
                            "the listing failed part-way and, listed again, no longer holds {}; list again",
                            self.last.as_deref().unwrap_or_default()
                        ),
                        source: None,
                    }));
                }
                None => return None,
                Some(Ok(entry)) if self.skipping => {
                    if Some(entry.uri()) == self.last.as_deref() {
                        self.skipping = false;
                    }
                }
                Some(Ok(entry)) => {
                    self.last = Some(entry.uri().to_string());
                    return Some(Ok(entry));
                }
                Some(Err(e)) => {
                    let pause = self.policy.backoff(self.attempt);
                    let in_budget = self.attempt < self.policy.max_attempts
                        && self.started.elapsed() + pause <= self.policy.max_elapsed;
                    if !(e.is_retryable() && in_budget) {
                        return Some(Err(if self.attempt == 1 {
                            e
                        } else {
                            Error::Retried {
                                op: Operation::List,
                                uri: self.prefix.clone(),
                                attempts: self.attempt,
                                elapsed: self.started.elapsed(),
                                source: Box::new(e),
                            }
                        }));
                    }
                    tracing::debug!(
                        "list {}: try {} failed ({e}); listing again",
                        self.prefix,
                        self.attempt
                    );
                    tokio::time::sleep(pause).await;
                    self.attempt += 1;
                    self.current = self.inner.list_stream(&self.prefix, self.recursive);
                    self.skipping = self.last.is_some();
                }
            }
        }
    }
}
