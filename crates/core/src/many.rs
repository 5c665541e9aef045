//! Reading many objects at once, each read a Tokio task of its own.
//!
//! Futures joined inside one task are all polled by the one thread running it, so the
//! work of many bodies (copies, checksums, page faults) would run on one core; as tasks
//! they spread over the runtime's workers. Measured by the `get` rows of
//! `cargo xtask bench peers` (the Rust row runs this function, Python's `get_many` too).

use std::sync::Arc;

use bytes::Bytes;

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
    let reads: Vec<_> = jobs.into_iter().map(|(store, uri)| read(store, uri)).collect();
    try_join_ordered(reads, limit).await
}

async fn read(store: Arc<dyn ObjectStore>, uri: String) -> Result<(String, Bytes)> {
    let target = uri.clone();
    match tokio::spawn(async move { store.get(&target).await }).await {
        Ok(result) => result.map(|data| (uri, data)),
        Err(e) => Err(Error::Backend {
            op: Operation::Get,
            uri,
            message: "the read task failed".into(),
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
    }
}
