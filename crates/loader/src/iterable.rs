//! The iterable form: samples as a prefix is listed, with no index and no list held.

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use s3dlio_core::{ListEntry, ObjectStore, ObjectStoreExt, Result};

/// Every object under `prefix` (recursive) as `(uri, bytes)`, in listing order, read
/// `max_in_flight` at a time while the listing goes on page by page. Nothing is
/// collected first, so a prefix of any size starts at once and memory holds at most
/// `max_in_flight` objects and one listing page. For shuffling, sharding and batches,
/// use [`ObjectDataset`](crate::ObjectDataset) with a [`DataLoader`](crate::DataLoader).
pub fn stream_prefix<'a>(
    store: &'a dyn ObjectStore,
    prefix: &'a str,
    max_in_flight: usize,
) -> BoxStream<'a, Result<(String, Bytes)>> {
    store
        .list_stream(prefix, true)
        .try_filter_map(|e| async move {
            Ok(match e {
                ListEntry::Object(m) => Some(m.uri),
                ListEntry::Prefix(_) => None,
            })
        })
        .map_ok(move |uri| async move { store.get(&uri).await.map(|data| (uri, data)) })
        .try_buffered(max_in_flight.max(1))
        .boxed()
}
