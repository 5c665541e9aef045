//! A per-service store cache that owns its stores.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use s3dlio_core::{ObjectStore, Result, Scheme, Service};

use crate::{StoreOptions, store_for_uri_with};

/// One store per service (`gs://` and `gcs://` share one, as do `az://` and Azure's
/// `https://` form), built on first use and then shared by every URI of that service.
///
/// [`store_for_uri`](crate::store_for_uri) is one process-wide cache of these; the
/// remote stores of any other cache belong to it: drop the cache and its connection
/// pools go with it. A process that forks (a PyTorch DataLoader worker) starts the child on a new
/// cache instead of the parent's connections, which are bound to the parent's runtime.
/// `memory://` stays the one process-wide store, since its content is the point.
#[derive(Debug, Default)]
pub struct StoreCache {
    stores: Mutex<HashMap<Service, Arc<dyn ObjectStore>>>,
    /// `None`: [`StoreOptions::from_env`] when a store is made.
    options: Option<StoreOptions>,
}

impl StoreCache {
    /// Stores made with the environment's options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores made with `options`.
    pub fn with_options(options: StoreOptions) -> Self {
        StoreCache {
            stores: Mutex::default(),
            options: Some(options),
        }
    }

    /// The store for `uri`'s service.
    pub fn get(&self, uri: &str) -> Result<Arc<dyn ObjectStore>> {
        let service = Scheme::of(uri).map(Scheme::service);
        let cached = service.and_then(|k| self.stores.lock().expect("store cache lock").get(&k).cloned());
        if let Some(store) = cached {
            return Ok(store);
        }
        let store = match &self.options {
            // Endpoints balance their own service; a run's other stores (the local files
            // of an upload) are made without them.
            Some(options)
                if options
                    .endpoints
                    .as_ref()
                    .is_some_and(|e| Some(e.service()) != service) =>
            {
                let options = StoreOptions {
                    endpoints: None,
                    ..options.clone()
                };
                store_for_uri_with(uri, &options)?
            }
            Some(options) => store_for_uri_with(uri, options)?,
            None => store_for_uri_with(uri, &StoreOptions::from_env()?)?,
        };
        Ok(match service {
            Some(k) => self
                .stores
                .lock()
                .expect("store cache lock")
                .entry(k)
                .or_insert(store)
                .clone(),
            None => store,
        })
    }
}
