//! Reading many objects at once, each read a Tokio task of its own.
//!
//! Futures joined inside one task are all polled by the one thread running it, so the
//! work of many bodies (copies, checksums, page faults) would run on one core; as tasks
//! they spread over the runtime's workers. Measured by the `get` rows of
//! `cargo xtask bench peers` (the Rust row runs this function, Python's `get_many` too).

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;

use crate::error::{Error, Operation, Result};
use crate::ext::ObjectStoreExt;
use crate::store::ObjectStore;
use crate::task::try_join_ordered;

/// Reads every `(store, uri)`, at most `limit` at a time, each on its own task; returns
/// `(uri, bytes)` in input order, or the first error. Must run inside a Tokio runtime.
pub async fn get_many(
    jobs: impl IntoIterator<Item = (Arc<dyn ObjectStore>, String)>,
    limit: usize,
) -> Result<Vec<(String, Bytes)>> {
    // The reads are futures made up front (not a closure in a stream's type), which
    // keeps the returned future `Send` for `async_trait` callers.
    let reads: Vec<_> = jobs
        .into_iter()
        .map(|(store, uri)| on_task(Operation::Get, uri, move |u| async move { store.get(&u).await }))
        .collect();
    try_join_ordered(reads, limit).await
}

/// Reads every `(store, uri)` as [`get_many`] does but keeps only the count and the
/// total bytes: memory holds at most `limit` objects at once.
pub async fn get_many_stats(
    jobs: impl IntoIterator<Item = (Arc<dyn ObjectStore>, String)>,
    limit: usize,
) -> Result<(u64, u64)> {
    // Collected first, as in `get_many`: a closure in the stream's type defeats `Send`.
    let reads: Vec<_> = jobs
        .into_iter()
        .map(|(store, uri)| {
            on_task(Operation::Get, uri, move |u| async move {
                store.get(&u).await.map(|b| b.len() as u64)
            })
        })
        .collect();
    let mut reads = futures::stream::iter(reads).buffer_unordered(limit.max(1));
    let (mut count, mut bytes) = (0, 0);
    while let Some(read) = reads.next().await {
        let (_, len) = read?;
        count += 1;
        bytes += len;
    }
    Ok((count, bytes))
}

/// Stores every `(store, uri, data)`, at most `limit` at a time, each on its own task;
/// all are attempted, and the first failure in input order is returned.
pub async fn put_many(
    jobs: impl IntoIterator<Item = (Arc<dyn ObjectStore>, String, Bytes)>,
    limit: usize,
) -> Result<()> {
    let puts: Vec<_> = jobs
        .into_iter()
        .map(|(store, uri, data)| {
            on_task(Operation::Put, uri, move |u| async move {
                store.put(&u, data).await.map(drop)
            })
        })
        .collect();
    let results = futures::stream::iter(puts)
        .buffered(limit.max(1))
        .collect::<Vec<_>>()
        .await;
    results.into_iter().try_for_each(|r| r.map(drop))
}

/// `request(uri)` on a task of its own; the result comes back with the URI.
async fn on_task<T, F, Fut>(op: Operation, uri: String, request: F) -> Result<(String, T)>
where
    T: Send + 'static,
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = Result<T>> + Send + 'static,
{
    match tokio::spawn(request(uri.clone())).await {
        Ok(result) => result.map(|v| (uri, v)),
        Err(e) => Err(Error::Backend {
            op,
            uri,
            message: "the task failed".into(),
            source: Some(Box::new(e)),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_come_back_in_input_order_or_fail_naming_the_object() {
        let store: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
        store.create_container("memory://b/").await.unwrap();
        let uris: Vec<String> = (0..50).map(|i| format!("memory://b/{i}")).collect();
        for (i, u) in uris.iter().enumerate() {
            store.put(u, Bytes::from(vec![i as u8; i + 1])).await.unwrap();
        }
        let got = get_many(uris.iter().map(|u| (store.clone(), u.clone())), 8)
            .await
            .unwrap();
        for (i, (uri, data)) in got.iter().enumerate() {
            assert_eq!(uri, &uris[i]);
            assert_eq!(&data[..], &vec![i as u8; i + 1][..]);
        }
        let mut with_missing = uris.clone();
        with_missing.insert(7, "memory://b/missing".into());
        let err = get_many(with_missing.into_iter().map(|u| (store.clone(), u)), 8)
            .await
            .unwrap_err();
        assert!(
            err.is_not_found() && err.to_string().contains("memory://b/missing"),
            "{err}"
        );
        let stats = get_many_stats(uris.iter().map(|u| (store.clone(), u.clone())), 4).await;
        assert_eq!(stats.unwrap(), (50, (1..=50).sum::<u64>()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn puts_are_all_tried_and_the_first_failure_is_returned() {
        let store: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
        store.create_container("memory://b/").await.unwrap();
        let mut jobs: Vec<_> = (0..20)
            .map(|i| {
                (
                    store.clone(),
                    format!("memory://b/{i}"),
                    Bytes::from(vec![1u8; i]),
                )
            })
            .collect();
        jobs.insert(
            3,
            (store.clone(), "memory://missing-bucket/k".into(), Bytes::new()),
        );
        let err = put_many(jobs, 4).await.unwrap_err();
        assert!(err.to_string().contains("memory://missing-bucket/k"), "{err}");
        assert_eq!(
            store.list("memory://b/", true).await.unwrap().len(),
            20,
            "the rest were stored"
        );
    }
}
