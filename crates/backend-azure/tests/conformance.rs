//! az:// against the whole conformance suite, on Azurite on loopback.

mod common;

use std::sync::Arc;

use s3dlio_core::ObjectStore;
use s3dlio_core::testkit::Fixture;

async fn fixture(test: &str) -> Option<Fixture> {
    let store = common::store(test)?;
    let container = common::container_uri();
    store
        .create_container(&container)
        .await
        .unwrap_or_else(|e| panic!("create the test container: {e}"));
    Some(Fixture {
        store: s3dlio_range_engine::doubles::conformance_stack(Arc::new(store)),
        base: format!("{container}/{}/", common::unique(test)),
        fresh_container: format!("az://{}/{}", common::account(), common::unique("s3dlio-fresh")),
        guard: Box::new(()),
        server_gaps: &[],
    })
}

s3dlio_core::conformance_tests!(fixture);
