//! What a store knows about an object, and what a listing yields.

use std::collections::BTreeMap;
use std::time::SystemTime;

/// Metadata of one object, as `stat` and listings report it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectMeta {
    /// The object's full URI.
    pub uri: String,
    /// Size in bytes (of the stored object, so compressed size for zstd uploads).
    pub size: u64,
    pub last_modified: Option<SystemTime>,
    /// An opaque version tag that changes whenever the content changes. The range engine
    /// pins later chunks of a read to it.
    pub e_tag: Option<String>,
    pub content_type: Option<String>,
    pub storage_class: Option<String>,
    /// A service-side version id (S3 versioning, GCS generation), where the service has one.
    pub version: Option<String>,
    /// User metadata (`x-amz-meta-*` and equivalents).
    pub metadata: BTreeMap<String, String>,
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListEntry {
    /// An object (recursive listings yield only these).
    Object(ObjectMeta),
    /// A "directory" of a non-recursive listing: a full URI ending in `/`.
    Prefix(String),
}

impl ListEntry {
    /// The entry's full URI (prefixes end in `/`).
    pub fn uri(&self) -> &str {
        match self {
            ListEntry::Object(m) => &m.uri,
            ListEntry::Prefix(p) => p,
        }
    }

    pub fn into_uri(self) -> String {
        match self {
            ListEntry::Object(m) => m.uri,
            ListEntry::Prefix(p) => p,
        }
    }
}

/// What a backend can do, declared rather than guessed: the conformance suite skips by
/// capability, never by backend name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// `put` stores `content_type` and user metadata, and `stat` returns them.
    pub user_metadata: bool,
    /// `copy` runs inside the service without moving the bytes through the client.
    pub server_side_copy: bool,
    /// `rename` is atomic.
    pub atomic_rename: bool,
    /// Buckets/containers must be created before objects go in (file:// creates
    /// directories on demand instead).
    pub explicit_containers: bool,
    /// Large reads are faster as concurrent ranged requests than as one `get_opts`, so
    /// the read path splits them (remote services, O_DIRECT). Without it the read path
    /// sends one request: memory:// returns its buffer without a copy, and file://'s
    /// `get_opts` already reads large ranges by concurrent positional reads.
    pub chunked_reads: bool,
    /// `get_ranges_opts` reads many ranges in one step (file://: one open, positional
    /// reads in batches), so wrapper stores forward it whole instead of fetching each
    /// range through their own `get_opts`.
    pub batched_ranges: bool,
    /// Writers take a [`journal`](crate::WriterOptions::journal) and resume the upload it
    /// names ([`crate::resume`]).
    pub resumable_uploads: bool,
}

impl Capabilities {
    /// Nothing supported; set fields with the `with_*` methods.
    pub const fn none() -> Self {
        Capabilities {
            user_metadata: false,
            server_side_copy: false,
            atomic_rename: false,
            explicit_containers: false,
            chunked_reads: false,
            batched_ranges: false,
            resumable_uploads: false,
        }
    }

    pub const fn with_user_metadata(mut self) -> Self {
        self.user_metadata = true;
        self
    }

    pub const fn with_server_side_copy(mut self) -> Self {
        self.server_side_copy = true;
        self
    }

    pub const fn with_atomic_rename(mut self) -> Self {
        self.atomic_rename = true;
        self
    }

    pub const fn with_explicit_containers(mut self) -> Self {
        self.explicit_containers = true;
        self
    }

    pub const fn with_chunked_reads(mut self) -> Self {
        self.chunked_reads = true;
        self
    }

    pub const fn with_batched_ranges(mut self) -> Self {
        self.batched_ranges = true;
        self
    }

    pub const fn with_resumable_uploads(mut self) -> Self {
        self.resumable_uploads = true;
        self
    }
}

/// A multipart upload in progress: started, neither completed nor aborted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingUpload {
    /// The object it would create.
    pub uri: String,
    /// The service's id of the upload.
    pub upload_id: String,
    /// When it started, where the service says.
    pub initiated: Option<std::time::SystemTime>,
}
