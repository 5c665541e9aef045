//! The memory store against the whole conformance suite.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use s3dlio_core::testkit::Fixture;
use s3dlio_core::{MemoryStore, ObjectStore};

static NEXT: AtomicUsize = AtomicUsize::new(0);

async fn fixture(test: &str) -> Option<Fixture> {
    // A small page size makes every listing span many pages.
    let store = MemoryStore::new().with_page_size(7);
    store.create_container("memory://conformance").await.unwrap();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    Some(Fixture {
        store: Arc::new(store),
        base: format!("memory://conformance/{test}/"),
        fresh_container: format!("memory://fresh-{n}"),
        guard: Box::new(()),
        server_gaps: &[],
    })
}

s3dlio_core::conformance_tests!(fixture);
