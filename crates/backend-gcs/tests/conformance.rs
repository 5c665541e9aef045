//! gs:// against the whole conformance suite, on fake-gcs-server on loopback.

mod common;

use std::sync::Arc;

use s3dlio_core::ObjectStore;
use s3dlio_core::testkit::Fixture;

async fn fixture(test: &str) -> Option<Fixture> {
    let store = common::store(test)?;
    let bucket = common::bucket_uri();
    store
        .create_container(&bucket)
        .await
        .unwrap_or_else(|e| panic!("create the test bucket: {e}"));
    Some(Fixture {
        store: s3dlio_range_engine::doubles::conformance_stack(Arc::new(store)),
        base: format!("{bucket}/{}/", common::unique(test)),
        fresh_container: format!("gs://{}", common::unique("s3dlio-fresh")),
        guard: Box::new(()),
        server_gaps: &[],
    })
}

s3dlio_core::conformance_tests!(fixture);
