//! The multi-endpoint layer over one in-memory service whose "endpoints" are prefixes,
//! with a store below that can make one endpoint fail or stall.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::TryStreamExt;
use futures::stream::BoxStream;
use s3dlio_core::layer::{Layered, RetryLayer};
use s3dlio_core::{
    Capabilities, Error, GetOptions, GetResult, ListEntry, MemoryStore, ObjectMeta, ObjectStore,
    ObjectStoreExt, ObjectWriter, Operation, PutOptions, PutResult, Result, RetryPolicy, WriterOptions,
};
use s3dlio_endpoints::{Endpoints, MultiEndpointStore, Strategy};
use tokio::sync::Semaphore;

const EPS: [&str; 4] = [
    "memory://b/e0/",
    "memory://b/e1/",
    "memory://b/e2/",
    "memory://b/e3/",
];

/// Memory, except that requests under `down` fail as a refused connection would, and
/// requests under `slow` wait for a permit of `gate`.
#[derive(Debug)]
struct Backend {
    inner: MemoryStore,
    down: Mutex<Option<String>>,
    slow: Mutex<Option<String>>,
    gate: Semaphore,
    calls: AtomicUsize,
}

impl Backend {
    async fn new() -> Arc<Backend> {
        let inner = MemoryStore::new();
        inner.create_container("memory://b").await.unwrap();
        Arc::new(Backend {
            inner,
            down: Mutex::new(None),
            slow: Mutex::new(None),
            gate: Semaphore::new(0),
            calls: AtomicUsize::new(0),
        })
    }

    async fn enter(&self, op: Operation, uri: &str) -> Result<()> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let under =
            |m: &Mutex<Option<String>>| m.lock().unwrap().as_ref().is_some_and(|p| uri.starts_with(p));
        if under(&self.down) {
            return Err(Error::Unreachable {
                op,
                uri: uri.to_string(),
                hint: "the test took this endpoint down".into(),
                source: None,
            });
        }
        if under(&self.slow) {
            self.gate.acquire().await.unwrap().forget();
        }
        Ok(())
    }
}

#[async_trait]
impl ObjectStore for Backend {
    fn name(&self) -> &'static str {
        "memory"
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn get_opts(&self, uri: &str, opts: GetOptions) -> Result<GetResult> {
        self.enter(Operation::Get, uri).await?;
        self.inner.get_opts(uri, opts).await
    }
    async fn put_opts(&self, uri: &str, data: Bytes, opts: PutOptions) -> Result<PutResult> {
        self.enter(Operation::Put, uri).await?;
        self.inner.put_opts(uri, data, opts).await
    }
    async fn writer(&self, uri: &str, opts: WriterOptions) -> Result<Box<dyn ObjectWriter>> {
        self.enter(Operation::Write, uri).await?;
        self.inner.writer(uri, opts).await
    }
    async fn stat(&self, uri: &str) -> Result<ObjectMeta> {
        self.enter(Operation::Stat, uri).await?;
        self.inner.stat(uri).await
    }
    fn list_stream(&self, prefix: &str, recursive: bool) -> BoxStream<'_, Result<ListEntry>> {
        self.inner.list_stream(prefix, recursive)
    }
    async fn delete(&self, uri: &str) -> Result<()> {
        self.enter(Operation::Delete, uri).await?;
        self.inner.delete(uri).await
    }
    async fn copy(&self, src: &str, dst: &str) -> Result<()> {
        self.enter(Operation::Copy, src).await?;
        self.inner.copy(src, dst).await
    }
    async fn create_container(&self, uri: &str) -> Result<()> {
        self.inner.create_container(uri).await
    }
    async fn delete_container(&self, uri: &str) -> Result<()> {
        self.inner.delete_container(uri).await
    }
    async fn list_containers(&self, root: &str) -> Result<Vec<String>> {
        self.inner.list_containers(root).await
    }
}

fn endpoints(strategy: Strategy) -> Arc<Endpoints> {
    Arc::new(
        Endpoints::new(&EPS, strategy)
            .unwrap()
            .with_backoff(Duration::from_millis(200), Duration::from_secs(1)),
    )
}

/// Quick retries, as the retry layer above the multi-endpoint store gives them.
fn retried(store: MultiEndpointStore) -> Layered<RetryLayer> {
    let policy = RetryPolicy::default()
        .with_max_attempts(4)
        .with_backoff(Duration::from_millis(1), Duration::from_millis(5));
    Layered::new(Arc::new(store), RetryLayer::new(policy))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_spreads_requests_evenly_and_results_keep_the_callers_uris() {
    let backend = Backend::new().await;
    let eps = endpoints(Strategy::RoundRobin);
    let store = Arc::new(MultiEndpointStore::new(backend.clone(), eps.clone()));
    let puts = (0..400).map(|i| {
        let store = store.clone();
        async move {
            store
                .put(&format!("{}obj{i:03}", EPS[0]), Bytes::from(vec![1u8; 1000]))
                .await
        }
    });
    futures::future::try_join_all(puts).await.unwrap();
    let stats = eps.stats();
    for s in &stats {
        assert_eq!(
            (s.requests, s.bytes_written, s.errors, s.active),
            (100, 100_000, 0, 0),
            "{s:?}"
        );
        assert!(s.available && s.latency_max >= s.latency_p50, "{s:?}");
    }
    assert_eq!(eps.total().bytes_written, 400_000);
    // Each object landed on the endpoint its turn picked: 100 under each prefix.
    for ep in EPS {
        assert_eq!(backend.inner.list(ep, true).await.unwrap().len(), 100, "{ep}");
    }
    // A listing from one endpoint comes back under the prefix the caller wrote.
    let listed = store.list(EPS[2], true).await.unwrap();
    assert_eq!(listed.len(), 100);
    assert!(listed.iter().all(|u| u.starts_with(EPS[2])), "{:?}", &listed[..2]);
    let meta = store.stat(&listed[0]).await;
    // The stat went to another endpoint: found there (it holds its own 100) or not.
    if let Ok(meta) = meta {
        assert!(meta.uri.starts_with(EPS[2]), "{}", meta.uri);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_endpoint_is_taken_out_its_tries_go_elsewhere_and_it_returns_after_backoff() {
    let backend = Backend::new().await;
    let eps = endpoints(Strategy::RoundRobin);
    *backend.down.lock().unwrap() = Some(EPS[1].to_string());
    let store = retried(MultiEndpointStore::new(backend.clone(), eps.clone()));
    for i in 0..40 {
        store
            .put(&format!("{}k{i}", EPS[0]), Bytes::from_static(b"x"))
            .await
            .expect("no user operation fails while one endpoint is down");
    }
    let s = &eps.stats()[1];
    assert_eq!(
        (s.requests, s.errors, s.available),
        (1, 1, false),
        "taken out after one failure: {s:?}"
    );
    // Back in after its back-off; healthy again, it takes its turn.
    *backend.down.lock().unwrap() = None;
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(eps.stats()[1].available);
    for i in 0..8 {
        store
            .put(&format!("{}back{i}", EPS[0]), Bytes::from_static(b"y"))
            .await
            .unwrap();
    }
    assert_eq!(eps.stats()[1].requests, 3, "{:?}", eps.stats()[1]);
}

#[tokio::test]
async fn failures_in_a_row_double_the_back_off_and_answers_do_not_count_as_failures() {
    let backend = Backend::new().await;
    let eps = Arc::new(
        Endpoints::new(&EPS[..1], Strategy::RoundRobin)
            .unwrap()
            .with_backoff(Duration::from_millis(100), Duration::from_millis(300)),
    );
    let store = MultiEndpointStore::new(backend.clone(), eps.clone());
    // A missing object is an answer: the endpoint stays in.
    assert!(matches!(
        store.get("memory://b/e0/missing").await,
        Err(Error::NotFound { .. })
    ));
    assert!(eps.stats()[0].available);
    *backend.down.lock().unwrap() = Some(EPS[0].to_string());
    store.get("memory://b/e0/x").await.unwrap_err();
    assert!(!eps.stats()[0].available);
    // Every endpoint out: requests still go to the one back soonest (nothing hangs).
    store.get("memory://b/e0/x").await.unwrap_err();
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(
        !eps.stats()[0].available,
        "the second failure in a row doubled the back-off to 200 ms"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(eps.stats()[0].available);
    *backend.down.lock().unwrap() = None;
    store
        .put("memory://b/e0/x", Bytes::from_static(b"ok"))
        .await
        .unwrap();
    assert_eq!(eps.stats()[0].errors, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_connections_steers_around_a_stalled_endpoint() {
    let backend = Backend::new().await;
    let eps = endpoints(Strategy::LeastConnections);
    let store = Arc::new(MultiEndpointStore::new(backend.clone(), eps.clone()));
    *backend.slow.lock().unwrap() = Some(EPS[0].to_string());
    // The first request takes e0 (first in turn) and stalls there.
    let stalled = tokio::spawn({
        let store = store.clone();
        async move {
            store
                .put(&format!("{}stalled", EPS[0]), Bytes::from_static(b"s"))
                .await
        }
    });
    while eps.stats()[0].active == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for i in 0..30 {
        store
            .put(&format!("{}k{i}", EPS[0]), Bytes::from_static(b"x"))
            .await
            .unwrap();
    }
    let stats = eps.stats();
    assert_eq!((stats[0].requests, stats[0].active), (1, 1), "{:?}", stats[0]);
    assert_eq!(stats[1..].iter().map(|s| s.requests).sum::<u64>(), 30);
    backend.gate.add_permits(1);
    stalled.await.unwrap().unwrap();
    assert_eq!(eps.stats()[0].active, 0);
}

#[tokio::test]
async fn pinned_stores_copies_batches_and_writers_stay_on_one_endpoint() {
    let backend = Backend::new().await;
    let eps = endpoints(Strategy::RoundRobin);
    let on2 = MultiEndpointStore::pinned(backend.clone(), eps.clone(), 2).unwrap();
    on2.put("memory://b/e0/src", Bytes::from_static(b"abc"))
        .await
        .unwrap();
    on2.copy("memory://b/e0/src", "memory://b/e0/dst").await.unwrap();
    assert_eq!(backend.inner.get("memory://b/e2/dst").await.unwrap(), "abc");
    let mut w = on2
        .get_writer("memory://b/e1/w", WriterOptions::default())
        .await
        .unwrap();
    w.write(Bytes::from(vec![0u8; 4096])).await.unwrap();
    w.finalize().await.unwrap();
    assert_eq!(backend.inner.stat("memory://b/e2/w").await.unwrap().size, 4096);
    on2.delete_batch(&["memory://b/e0/src".into(), "memory://b/e3/dst".into()])
        .await
        .unwrap();
    assert_eq!(
        backend.inner.list("memory://b/e2/", true).await.unwrap(),
        ["memory://b/e2/w"]
    );
    let s = &eps.stats()[2];
    assert_eq!((s.bytes_written, s.requests), (3 + 4096, 5), "{s:?}");
    assert_eq!(eps.stats()[0].requests, 0);
    let e = MultiEndpointStore::pinned(backend, eps, 4)
        .unwrap_err()
        .to_string();
    assert!(e.contains("index 4") && e.contains("there are 4"), "{e}");
}

#[tokio::test]
async fn a_uri_under_no_endpoint_is_refused_with_the_endpoints_named() {
    let backend = Backend::new().await;
    let store = MultiEndpointStore::new(backend.clone(), endpoints(Strategy::RoundRobin));
    let e = store.get("memory://b/elsewhere/k").await.unwrap_err();
    assert!(matches!(e, Error::InvalidUri { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("memory://b/elsewhere/k") && msg.contains("memory://b/e3/"),
        "{msg}"
    );
    assert_eq!(backend.calls.load(Ordering::Relaxed), 0);
    let listing: Result<Vec<_>> = store.list_stream("memory://c/", true).try_collect().await;
    assert!(listing.is_err());
}

#[test]
fn s3_roots_route_bucket_uris_and_refuse_other_endpoints() {
    let eps = Endpoints::new(
        &["http://10.0.0.1:9000", "http://10.0.0.2:9000"],
        Strategy::RoundRobin,
    )
    .unwrap();
    assert_eq!(eps.url_scheme(), Some("http"));
    assert_eq!(
        eps.uri_on(1, "s3://bkt/a/b").unwrap(),
        "s3://10.0.0.2:9000/bkt/a/b"
    );
    assert_eq!(
        eps.uri_on(1, "s3://10.0.0.1:9000/bkt/k").unwrap(),
        "s3://10.0.0.2:9000/bkt/k"
    );
    assert_eq!(eps.uri_on(0, "s3://").unwrap(), "s3://10.0.0.1:9000/");
    assert!(eps.uri_on(0, "s3://10.9.9.9:9000/bkt/k").is_err());
    for (specs, want) in [
        (&["http://a:1", "https://b:2"][..], "mixes http and https"),
        (&["s3://a:1/", "file:///x/"][..], "one service"),
        (&["http://a:1", "http://a:1/"][..], "named twice"),
        (&[][..], "no endpoints"),
    ] {
        let e = Endpoints::new(specs, Strategy::RoundRobin)
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{specs:?}: {e}");
    }
}
