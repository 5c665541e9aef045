//! direct:// against the whole conformance suite. The temp directory is on a filesystem
//! that supports O_DIRECT (ext4 on the development machines); `direct_io.rs` proves
//! O_DIRECT was really used there.

use std::sync::Arc;

use s3dlio_backend_file::{FileConfig, FileStore};
use s3dlio_core::testkit::Fixture;

async fn fixture(test: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().display().to_string();
    Fixture {
        store: Arc::new(FileStore::direct(FileConfig::default())),
        base: format!("direct://{root}/{test}/"),
        fresh_container: format!("direct://{root}/fresh-container"),
        guard: Box::new(dir),
    }
}

s3dlio_core::conformance_tests!(fixture);
