//! Footers kept by URI, so the row groups of a file read many times (every epoch) cost
//! one footer request in all.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use s3dlio_core::{Error, ObjectStore, Result};

use crate::footer::Footer;
use crate::read::{Decode, read_row_group};

/// Files whose footers the process-wide cache holds before it drops the oldest.
pub const DEFAULT_CACHE_FILES: usize = 4096;

/// Footers by URI, at most `capacity` files (the oldest is dropped first).
#[derive(Debug)]
pub struct FooterCache {
    capacity: usize,
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    by_uri: HashMap<String, Arc<Footer>>,
    order: VecDeque<String>,
}

impl FooterCache {
    pub fn new(capacity: usize) -> Self {
        FooterCache {
            capacity: capacity.max(1),
            entries: Mutex::default(),
        }
    }

    /// The one cache `parquet_get_rg`, `parquet_rg_row_offsets` and the row-group stream
    /// of the Python wheel share.
    pub fn global() -> &'static FooterCache {
        static CACHE: OnceLock<FooterCache> = OnceLock::new();
        CACHE.get_or_init(|| FooterCache::new(DEFAULT_CACHE_FILES))
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The footer of `uri`, read (with a `cap`-byte suffix request) unless cached.
    pub async fn footer(&self, store: &dyn ObjectStore, uri: &str, cap: u64) -> Result<Arc<Footer>> {
        if let Some(f) = self.entries().by_uri.get(uri) {
            return Ok(f.clone());
        }
        let footer = Arc::new(Footer::fetch(store, uri, cap).await?);
        let mut entries = self.entries();
        if entries.by_uri.insert(uri.to_string(), footer.clone()).is_none() {
            entries.order.push_back(uri.to_string());
        }
        while entries.order.len() > self.capacity {
            let oldest = entries.order.pop_front().expect("non-empty");
            entries.by_uri.remove(&oldest);
        }
        Ok(footer)
    }

    /// Row group `rg` of `uri` through the cached footer. When the file changed since
    /// that footer was read (the pinned read fails its precondition), the footer is read
    /// again and the row group with it, once.
    pub async fn read_row_group(
        &self,
        store: &dyn ObjectStore,
        uri: &str,
        rg: usize,
        columns: Option<&[usize]>,
        decode: Decode,
        cap: u64,
    ) -> Result<Bytes> {
        let footer = self.footer(store, uri, cap).await?;
        match read_row_group(store, &footer, rg, columns, decode).await {
            Err(Error::Precondition { .. }) => {
                self.invalidate(uri);
                let footer = self.footer(store, uri, cap).await?;
                read_row_group(store, &footer, rg, columns, decode).await
            }
            read => read,
        }
    }

    pub fn invalidate(&self, uri: &str) {
        let mut entries = self.entries();
        if entries.by_uri.remove(uri).is_some() {
            entries.order.retain(|u| u != uri);
        }
    }

    pub fn clear(&self) {
        *self.entries() = Entries::default();
    }

    pub fn len(&self) -> usize {
        self.entries().by_uri.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
