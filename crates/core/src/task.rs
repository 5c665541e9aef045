//! Work moved off the async workers: file I/O, compression, data generation and large
//! copies run on Tokio's blocking pool, never on a worker thread (architecture rule 1);
//! and many futures run a bounded number at a time with their results in input order.

use std::future::Future;

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use crate::error::{Error, Operation, Result};

/// Runs `f` on Tokio's blocking pool. A task that panicked or was cancelled with its
/// runtime is [`Error::Backend`] naming `what` failed, with the `JoinError` as its source.
pub async fn run_blocking<T: Send + 'static>(
    op: Operation,
    uri: &str,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::Backend {
        op,
        uri: uri.to_string(),
        message: format!("{what} failed"),
        source: Some(Box::new(e)),
    })
}

/// Runs `futures` at most `limit` at a time and returns their outputs in input order, or
/// the first error. A finished future frees its slot at once, whatever its place: unlike
/// `buffered`, one slow early future does not hold the slots of the later ones that
/// already finished (with `buffered`, 32 reads in flight behind one slow response ran
/// as ~4 at a time: `cargo xtask bench frontends`). Memory is every output, which the
/// caller collects anyway.
pub async fn try_join_ordered<T, F>(futures: impl IntoIterator<Item = F>, limit: usize) -> Result<Vec<T>>
where
    F: Future<Output = Result<T>>,
{
    // A loop over `FuturesUnordered` rather than `buffer_unordered` with a closure: the
    // closure's lifetimes defeat the `Send` proof of `async_trait` callers.
    let mut waiting = futures.into_iter().enumerate();
    let mut running = FuturesUnordered::new();
    running.extend(waiting.by_ref().take(limit.max(1)).map(|(i, f)| indexed(i, f)));
    let mut slots: Vec<Option<T>> = Vec::new();
    while let Some(result) = running.next().await {
        let (i, t) = result?;
        if slots.len() <= i {
            slots.resize_with(i + 1, || None);
        }
        slots[i] = Some(t);
        running.extend(waiting.next().map(|(i, f)| indexed(i, f)));
    }
    Ok(slots.into_iter().flatten().collect())
}

async fn indexed<T>(i: usize, f: impl Future<Output = Result<T>>) -> Result<(usize, T)> {
    f.await.map(|t| (i, t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slow_first_future_does_not_hold_the_later_slots() {
        // The first future finishes only after the last one has run: with two slots, that
        // needs the finished middle futures to free theirs (`buffered` would hang here).
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let mut tx = Some(tx);
        let mut rx = Some(rx);
        let futures: Vec<_> = (0..5)
            .map(|i| {
                let rx = if i == 0 { rx.take() } else { None };
                let tx = if i == 4 { tx.take() } else { None };
                async move {
                    if let Some(rx) = rx {
                        rx.await.expect("the last future signals");
                    }
                    if let Some(tx) = tx {
                        tx.send(()).expect("the first future waits");
                    }
                    Ok::<_, Error>(i * 10)
                }
            })
            .collect();
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), try_join_ordered(futures, 2))
            .await
            .expect("no head-of-line blocking")
            .unwrap();
        assert_eq!(got, vec![0, 10, 20, 30, 40], "outputs in input order");
    }

    #[tokio::test]
    async fn the_first_error_is_returned() {
        let futures = (0..4).map(|i| async move {
            if i == 2 {
                Err(Error::invalid_argument(Operation::Get, "memory://b/k2", "bad"))
            } else {
                Ok(i)
            }
        });
        let e = try_join_ordered(futures, 3).await.unwrap_err();
        assert!(e.to_string().contains("memory://b/k2"), "{e}");
    }

    #[tokio::test]
    async fn returns_the_value_and_names_a_panic() {
        assert_eq!(
            run_blocking(Operation::Get, "u", "adding", || 2 + 2)
                .await
                .unwrap(),
            4
        );
        let e = run_blocking(Operation::Put, "memory://b/k", "generating data", || -> () {
            panic!("boom")
        })
        .await
        .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("memory://b/k") && text.contains("generating data failed"),
            "{text}"
        );
        assert!(
            std::error::Error::source(&e).is_some(),
            "the JoinError is kept as the source"
        );
    }
}
