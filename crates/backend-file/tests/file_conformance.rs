//! file:// against the whole conformance suite, on the machine's temp filesystem.

use std::sync::Arc;

use s3dlio_backend_file::{FileConfig, FileStore};
use s3dlio_core::testkit::Fixture;

async fn fixture(test: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().display().to_string();
    Fixture {
        store: Arc::new(FileStore::new(FileConfig::default())),
        base: format!("file://{root}/{test}/"),
        fresh_container: format!("file://{root}/fresh-container"),
        guard: Box::new(dir),
    }
}

s3dlio_core::conformance_tests!(fixture);
