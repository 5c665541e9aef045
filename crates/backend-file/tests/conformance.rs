//! file:// and direct:// against the whole conformance suite, each in a fresh temporary
//! directory. The temp filesystem supports O_DIRECT on the development machines (ext4);
//! `direct_io.rs` proves O_DIRECT was really used there.

use std::sync::Arc;

use s3dlio_backend_file::{FileConfig, FileStore};
use s3dlio_core::testkit::Fixture;
use s3dlio_range_engine::RangeEngineConfig;

/// Small chunks, so the suite's multi-MiB reads fan out: file:// into concurrent reads in
/// place, direct:// through the read path's chunks.
fn config() -> FileConfig {
    FileConfig {
        range: RangeEngineConfig::default()
            .with_chunk_size(1 << 20)
            .with_threshold(1 << 20),
        ..FileConfig::default()
    }
}

fn fixture(scheme: &str, store: FileStore, test: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().display().to_string();
    Fixture {
        store: s3dlio_range_engine::doubles::conformance_stack(Arc::new(store)),
        base: format!("{scheme}://{root}/{test}/"),
        fresh_container: format!("{scheme}://{root}/fresh-container"),
        guard: Box::new(dir),
        server_gaps: &[],
    }
}

mod file {
    async fn fixture(test: &str) -> Option<s3dlio_core::testkit::Fixture> {
        Some(super::fixture(
            "file",
            super::FileStore::new(super::config()),
            test,
        ))
    }
    s3dlio_core::conformance_tests!(fixture);
}

mod direct {
    async fn fixture(test: &str) -> Option<s3dlio_core::testkit::Fixture> {
        Some(super::fixture(
            "direct",
            super::FileStore::direct(super::config()),
            test,
        ))
    }
    s3dlio_core::conformance_tests!(fixture);
}
