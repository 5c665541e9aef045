//! s3:// against the whole conformance suite, on a real S3 server on loopback.

mod common;

use std::sync::Arc;

use s3dlio_core::testkit::{Fixture, GAP_DELETE_NEEDS_EMPTY_CONTAINER, GAP_PUT_NEEDS_CONTAINER};

async fn fixture(test: &str) -> Option<Fixture> {
    let store = common::store(test)?;
    let bucket = common::ensure_bucket(&store).await;
    Some(Fixture {
        store: s3dlio_range_engine::doubles::conformance_stack(Arc::new(store)),
        base: format!("s3://{bucket}/{}/", common::unique(test)),
        fresh_container: format!("s3://{}", common::unique("s3dlio-fresh")),
        guard: Box::new(()),
        // s3s-fs creates a missing bucket's directory on PUT and removes a non-empty
        // bucket whole on DeleteBucket; AWS and MinIO answer NoSuchBucket / BucketNotEmpty.
        server_gaps: &[GAP_PUT_NEEDS_CONTAINER, GAP_DELETE_NEEDS_EMPTY_CONTAINER],
    })
}

s3dlio_core::conformance_tests!(fixture);
