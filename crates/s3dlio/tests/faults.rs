//! The reliability suite on the wire (issue 17): each scenario runs against the memory S3
//! server, Azurite and the GCS emulator through `s3dlio-faultproxy`, with the store stack
//! every front end gets (`store_for_uri_with`: read path → retry layer → backend). The
//! table in `docs/reliability.md` lists what each test proves.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use http::Method;
use s3dlio::testkit::pattern;
use s3dlio::{
    Error, ObjectStore, ObjectStoreExt, RangeEngineConfig, RetryPolicy, StoreOptions, WriterOptions,
};
use s3dlio_faultproxy::{Fault, Proxy, Rule, Seen};

const KEY: &str = "fault-key";
const SECRET: &str = "fault-secret";
/// Reads above this size go in chunks of this size, one at a time.
const CHUNK: u64 = 256 << 10;
/// The smallest S3 part: a 12 MiB object is three parts.
const PART: usize = 5 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    /// The S3 backend's default (direct) data path.
    S3,
    /// The S3 backend with every request through aws-sdk-s3.
    S3Sdk,
    Azure,
    Gcs,
}

/// Which knob a scenario sets.
#[derive(Debug, Clone, Copy)]
enum Limit {
    /// The defaults.
    Defaults,
    /// The whole-request timeout (S3: operation; Azure, GCS: request).
    Request(Duration),
    /// The idle timeout: the wait for an answer or its next bytes.
    Idle(Duration),
    /// Delete requests in flight in a batch delete.
    Deletes(usize),
    /// The part size and parts in flight of writers that set neither.
    Parts(usize, usize),
    /// S3's payload signing and upload checksum.
    Upload(s3dlio::s3::PayloadSigning, s3dlio::s3::UploadChecksum),
}

/// One backend behind the proxy, with a fresh prefix.
struct Fixture {
    backend: Backend,
    proxy: Proxy,
    store: Arc<dyn ObjectStore>,
    /// `scheme://bucket/prefix/`
    base: String,
    /// The in-process memory S3 server (S3 backends), kept running until the test ends.
    _server: Option<s3dlio_memserver::Server>,
}

impl Fixture {
    fn uri(&self, name: &str) -> String {
        format!("{}{name}", self.base)
    }

    /// Multipart uploads left open under this fixture's prefix, as the store lists them;
    /// `None` where a backend cannot list them (Azure's uncommitted blocks, GCS's
    /// resumable sessions).
    async fn open_uploads(&self) -> Option<usize> {
        match self.store.list_uploads(&self.base).try_collect::<Vec<_>>().await {
            Ok(open) => Some(open.len()),
            Err(Error::NotSupported { .. }) => None,
            Err(e) => panic!("{:?}: listing uploads: {e}", self.backend),
        }
    }

    /// Whether `s` sent bytes of a journaled upload (a part, a block), not a commit.
    fn is_part(&self, s: &Seen) -> bool {
        s.method == "PUT"
            && match self.backend {
                Backend::S3 | Backend::S3Sdk => s.target.contains("partNumber="),
                Backend::Azure => s.target.contains("comp=block&") || s.target.ends_with("comp=block"),
                Backend::Gcs => unreachable!("GCS refuses journaled writers"),
            }
    }

    /// A journaled writer of `uri`, or `None` after checking that GCS refuses one
    /// (`NotSupported`: its test server finishes an upload on a status query, so resuming
    /// a session could not be proven).
    async fn journaled_writer(
        &self,
        uri: &str,
        opts: WriterOptions,
    ) -> Option<Box<dyn s3dlio::ObjectWriter>> {
        let got = self.store.get_writer(uri, opts).await;
        if self.backend == Backend::Gcs {
            let err = got.unwrap_err();
            assert!(matches!(err, Error::NotSupported { .. }), "{err}");
            return None;
        }
        Some(got.unwrap())
    }

    /// The request that makes a multipart/block/resumable upload of `size` bytes visible.
    fn commit_rule(&self, fault: Fault, size: usize) -> Rule {
        match self.backend {
            Backend::S3 | Backend::S3Sdk => Rule::new(fault).method(Method::POST).query("uploadId"),
            Backend::Azure => Rule::new(fault).method(Method::PUT).query("comp=blocklist"),
            Backend::Gcs => Rule::new(fault)
                .method(Method::PUT)
                .header("content-range", &format!("/{size}")),
        }
    }
}

/// The error under the read path's "range failed" wrapper.
fn cause(e: &Error) -> &Error {
    match e {
        Error::RangeFailed { source, .. } => cause(source),
        e => e,
    }
}

fn quick_retries() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(4)
        .with_backoff(Duration::from_millis(5), Duration::from_millis(20))
}

/// The retry budget of the 503 storm: many tries, bounded by time.
const STORM_BUDGET: Duration = Duration::from_millis(1500);

fn storm_retry() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(1000)
        .with_backoff(Duration::from_millis(20), Duration::from_millis(100))
        .with_max_elapsed(STORM_BUDGET)
}

/// The stall scenarios' request and idle timeouts.
const REQUEST_LIMIT: Duration = Duration::from_secs(3);
const IDLE_LIMIT: Duration = Duration::from_secs(2);

fn host_port(endpoint: &str) -> (SocketAddr, String) {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let authority = authority.replace("localhost", "127.0.0.1");
    (authority.parse().expect("a host:port endpoint"), path.to_string())
}

/// `backend` behind a new proxy, or `None` when its server is not configured.
async fn fixture(backend: Backend, test: &str, retry: RetryPolicy, limit: Limit) -> Option<Fixture> {
    let (mut timeout, mut idle, mut deletes, mut parts) = (None, None, None, (None, None));
    let mut signing = None;
    match limit {
        Limit::Defaults => {}
        Limit::Request(d) => timeout = Some(d),
        Limit::Idle(d) => idle = Some(d),
        Limit::Deletes(n) => deletes = Some(n),
        Limit::Parts(size, in_flight) => parts = (Some(size), Some(in_flight)),
        Limit::Upload(s, c) => signing = Some((s, c)),
    }
    let read = RangeEngineConfig::default()
        .with_chunk_size(CHUNK)
        .with_threshold(CHUNK)
        .with_max_concurrency(1);
    let opts = StoreOptions::default().with_read(read).with_retry(retry);
    let name = format!("{test}-{:08x}", rand::random::<u32>());
    let (proxy, opts, base, server) = match backend {
        Backend::S3 | Backend::S3Sdk => {
            let server = s3dlio_memserver::Server::start(
                "127.0.0.1:0",
                s3dlio_memserver::Options {
                    credentials: Some((KEY.into(), SECRET.into())),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            let proxy = Proxy::start(server.addr()).await.unwrap();
            let mut s3 = s3dlio::s3::S3Config::default()
                .with_endpoint(proxy.endpoint())
                .with_region("us-east-1")
                .with_credentials(KEY, SECRET);
            s3.operation_timeout = timeout;
            s3.idle_timeout = idle.unwrap_or(s3.idle_timeout);
            s3.delete_concurrency = deletes.unwrap_or(s3.delete_concurrency);
            (s3.part_size, s3.parts_in_flight) = parts;
            (s3.payload_signing, s3.checksum) = signing.unwrap_or((s3.payload_signing, s3.checksum));
            if backend == Backend::S3Sdk {
                s3 = s3.with_data_path(s3dlio::s3::DataPath::Sdk);
            }
            (proxy, opts.with_s3(s3), "s3://faults/".to_string(), Some(server))
        }
        Backend::Azure => {
            let Ok(endpoint) = std::env::var("S3DLIO_TEST_AZURE_ENDPOINT") else {
                s3dlio::testkit::server_missing(test, "Azure Blob server (S3DLIO_TEST_AZURE_ENDPOINT)");
                return None;
            };
            let (addr, account) = host_port(&endpoint);
            let proxy = Proxy::start(addr).await.unwrap();
            let mut az = s3dlio::azure::AzureConfig::from_env()
                .unwrap()
                .with_endpoint(format!("{}/{account}", proxy.endpoint()));
            az.request_timeout = timeout;
            az.idle_timeout = idle.unwrap_or(az.idle_timeout);
            az.delete_concurrency = deletes.unwrap_or(az.delete_concurrency);
            (az.block_size, az.blocks_in_flight) = parts;
            (
                proxy,
                opts.with_azure(az),
                format!("az://{account}/faults/"),
                None,
            )
        }
        Backend::Gcs => {
            let Ok(endpoint) = std::env::var("S3DLIO_TEST_GCS_ENDPOINT") else {
                s3dlio::testkit::server_missing(test, "GCS server (S3DLIO_TEST_GCS_ENDPOINT)");
                return None;
            };
            let (addr, _) = host_port(&endpoint);
            let proxy = Proxy::start(addr).await.unwrap();
            let mut gcs = s3dlio::gcs::GcsConfig::from_env()
                .unwrap()
                .with_endpoint(proxy.endpoint())
                .with_anonymous(true)
                .with_project("s3dlio-test");
            gcs.request_timeout = timeout;
            gcs.idle_timeout = idle.unwrap_or(gcs.idle_timeout);
            gcs.delete_concurrency = deletes.unwrap_or(gcs.delete_concurrency);
            gcs.chunk_size = parts.0;
            (proxy, opts.with_gcs(gcs), "gs://faults/".to_string(), None)
        }
    };
    let store = s3dlio::store_for_uri_with(&base, &opts).unwrap();
    let container = base.trim_end_matches('/');
    match store.create_container(container).await {
        Ok(()) | Err(Error::AlreadyExists { .. }) => {}
        Err(e) => panic!("creating {container}: {e}"),
    }
    Some(Fixture {
        backend,
        proxy,
        store,
        base: format!("{base}{name}/"),
        _server: server,
    })
}

/// A scenario as one test per backend (`<scenario>::s3`, `::s3_sdk`, `::azure`, `::gcs`), so
/// each backend passes or fails on its own and `cargo xtask reliability` can tabulate them.
/// A backend whose server is not configured skips (and fails under
/// `S3DLIO_REQUIRE_EMULATORS=1`, as in `cargo xtask test`).
macro_rules! scenario {
    // S3 only: a scenario about a request only S3 has (the multipart abort).
    (s3_only, $($rest:tt)*) => {
        scenario!(@on [s3 S3, s3_sdk S3Sdk], $($rest)*);
    };
    (@on [$($test:ident $backend:ident),*],
     $(#[$doc:meta])* $name:ident, $retry:expr, $limit:expr, |$f:ident| $body:block) => {
        $(#[$doc])*
        mod $name {
            use super::*;

            async fn run(backend: Backend) {
                let Some($f) = fixture(backend, stringify!($name), $retry, $limit).await else {
                    return;
                };
                $body
            }

            $(
                #[tokio::test]
                async fn $test() {
                    run(Backend::$backend).await
                }
            )*
        }
    };
    ($($rest:tt)*) => {
        scenario!(@on [s3 S3, s3_sdk S3Sdk, azure Azure, gcs Gcs], $($rest)*);
    };
}

scenario!(
    /// Body cut after 64 KiB on a single GET, on the first chunk and on the third: the read
    /// succeeds with exact bytes; one cut seen.
    a_body_cut_mid_way_is_read_again_with_exact_bytes,
    quick_retries(), Limit::Defaults,
    |f| {
        for (name, size, skip) in [
            ("small", 100 << 10, 0),
            ("chunked-first", 1 << 20, 0),
            ("chunked-third", 1 << 20, 2),
        ] {
            let uri = f.uri(name);
            let data = pattern(size, 7);
            f.store.put(&uri, data.clone()).await.unwrap();
            f.proxy.add(
                Rule::new(Fault::ResetAfter(64 << 10))
                    .method(Method::GET)
                    .skip(skip)
                    .times(1),
            );
            let got = f
                .store
                .get(&uri)
                .await
                .unwrap_or_else(|e| panic!("{:?} {name}: {e:?}", f.backend));
            assert!(got == data, "{:?} {name}: wrong bytes", f.backend);
            assert_eq!(
                f.proxy.seen().iter().filter(|s| s.fault == Some("reset")).count(),
                1
            );
            f.proxy.clear();
        }
    }
);

scenario!(
    /// One chunk answers 503 twice, then 500 for good: the first read is exact; the second
    /// fails naming the URI after exactly 4 tries of that chunk.
    a_chunk_failing_transiently_is_retried_and_failing_for_good_fails_the_read,
    quick_retries(), Limit::Defaults,
    |f| {
        let uri = f.uri("chunks");
        let data = pattern(1 << 20, 3);
        f.store.put(&uri, data.clone()).await.unwrap();
        let second = |fault| Rule::new(fault).method(Method::GET).skip(1);
        f.proxy.add(second(Fault::Status(503)).times(2));
        assert!(f.store.get(&uri).await.unwrap() == data, "{:?}", f.backend);
        f.proxy.clear();
        f.proxy.add(second(Fault::Status(500)));
        let err = f.store.get(&uri).await.unwrap_err();
        assert!(err.to_string().contains(&uri), "{:?}: {err}", f.backend);
        let hit = f.proxy.seen().iter().filter(|s| s.fault.is_some()).count();
        assert_eq!(
            hit, 4,
            "{:?}: one try and three retries of the failing chunk",
            f.backend
        );
    }
);

scenario!(
    /// Every request answers 503: the read fails within the retry budget (1.5 s + 0.5 s) with
    /// `Retried` naming the URI.
    a_503_storm_ends_within_the_retry_budget_with_a_clear_error,
    storm_retry(), Limit::Defaults,
    |f| {
        let uri = f.uri("storm");
        f.store.put(&uri, Bytes::from_static(b"x")).await.unwrap();
        f.proxy.add(Rule::new(Fault::Status(503)));
        let started = Instant::now();
        let err = f.store.get(&uri).await.unwrap_err();
        let took = started.elapsed();
        assert!(
            took < STORM_BUDGET + Duration::from_millis(500),
            "{:?}: {took:?}",
            f.backend
        );
        assert!(
            matches!(cause(&err), Error::Retried { .. }),
            "{:?}: {err:?}",
            f.backend
        );
        assert!(err.to_string().contains(&uri), "{err}");
    }
);

/// `f`'s reads of a stalled server (one that never answers, one that stops after 64 KiB)
/// end in a timeout within 10 % of `limit`.
async fn assert_stalls_end_at(f: &Fixture, limit: Duration) {
    let uri = f.uri("stall");
    f.store.put(&uri, pattern(1 << 20, 5)).await.unwrap();
    for fault in [Fault::NoAnswer, Fault::StallAfter(64 << 10)] {
        f.proxy.add(Rule::new(fault.clone()).method(Method::GET));
        let started = Instant::now();
        let err = f.store.get(&uri).await.unwrap_err();
        let took = started.elapsed();
        assert!(
            took >= limit && took <= limit + limit / 10,
            "{:?} {fault:?}: {took:?} ({err})",
            f.backend
        );
        assert!(
            matches!(cause(&err), Error::Timeout { .. }),
            "{:?} {fault:?}: {err:?}",
            f.backend
        );
        f.proxy.clear();
    }
}

scenario!(
    /// A server that never answers, and a body that stops after 64 KiB, with a 3 s
    /// request/operation timeout: `Timeout` within 3.0–3.3 s.
    a_stalled_server_is_cut_by_the_request_timeout_within_ten_percent,
    RetryPolicy::none(), Limit::Request(REQUEST_LIMIT),
    |f| {
        assert_stalls_end_at(&f, REQUEST_LIMIT).await;
    }
);

scenario!(
    /// The same stalls with only the idle timeout set (2 s; 60 s unless set): `Timeout`
    /// within 2.0–2.2 s, so nothing hangs forever.
    a_stalled_server_is_cut_by_the_idle_timeout_within_ten_percent,
    RetryPolicy::none(), Limit::Idle(IDLE_LIMIT),
    |f| {
        assert_stalls_end_at(&f, IDLE_LIMIT).await;
    }
);

scenario!(
    /// The server dies 32 KiB into a PUT, and goes down after the first of three parts: the
    /// upload fails and the old object is intact.
    an_upload_cut_off_by_a_killed_server_leaves_the_old_object,
    quick_retries(), Limit::Defaults,
    |f| {
        let uri = f.uri("replace-me");
        let old = pattern(1000, 1);
        f.store.put(&uri, old.clone()).await.unwrap();
        // One PUT: the server dies after 32 KiB of the body.
        f.proxy.add(
            Rule::new(Fault::DropRequestAfter(32 << 10)).method(if f.backend == Backend::Gcs {
                Method::POST
            } else {
                Method::PUT
            }),
        );
        assert!(
            f.store.put(&uri, pattern(1 << 20, 2)).await.is_err(),
            "{:?}",
            f.backend
        );
        f.proxy.clear();
        assert!(
            f.store.get(&uri).await.unwrap() == old,
            "{:?}: single put",
            f.backend
        );
        // Multipart: the server dies after the first part and comes back after the failure.
        let mut w = f
            .store
            .get_writer(
                &uri,
                WriterOptions::default()
                    .with_part_size(PART)
                    .with_max_in_flight(1),
            )
            .await
            .unwrap();
        w.write(pattern(PART, 3)).await.unwrap();
        f.proxy.set_down(true);
        let failed = match w.write(pattern(2 * PART, 4)).await {
            Ok(()) => w.finalize().await.map(|_| ()),
            Err(e) => Err(e),
        };
        f.proxy.set_down(false);
        assert!(failed.is_err(), "{:?}: the upload must fail", f.backend);
        assert!(
            f.store.get(&uri).await.unwrap() == old,
            "{:?}: multipart",
            f.backend
        );
    }
);

scenario!(
    /// The commit (CompleteMultipartUpload, Put Block List, the last resumable chunk) answers
    /// 500: `finalize` returns the error naming the URI, nothing is visible, and on S3 no
    /// multipart upload is left behind.
    a_failing_commit_is_returned_and_nothing_becomes_visible,
    quick_retries(), Limit::Defaults,
    |f| {
        let uri = f.uri("never");
        let size = 3 * PART;
        f.proxy.add(f.commit_rule(Fault::Status(500), size));
        let mut w = f
            .store
            .get_writer(&uri, WriterOptions::default().with_part_size(PART))
            .await
            .unwrap();
        w.write(pattern(size, 9)).await.unwrap();
        let err = w.finalize().await.unwrap_err();
        assert!(err.to_string().contains(&uri), "{:?}: {err}", f.backend);
        assert!(
            f.proxy.seen().iter().any(|s| s.fault.is_some()),
            "{:?}: the commit was hit",
            f.backend
        );
        f.proxy.clear();
        assert!(
            matches!(f.store.stat(&uri).await, Err(Error::NotFound { .. })),
            "{:?}",
            f.backend
        );
        if let Some(open) = f.open_uploads().await {
            assert_eq!(open, 0, "{:?}: the failed upload was aborted", f.backend);
        }
    }
);

scenario!(
    /// The object is replaced while its second chunk is in flight: `Precondition` ("changed")
    /// naming the URI, never mixed bytes.
    an_object_replaced_mid_read_is_a_version_error_on_every_read,
    quick_retries(), Limit::Defaults,
    |f| {
        let uri = f.uri("moving");
        f.store.put(&uri, pattern(1 << 20, 1)).await.unwrap();
        // The second chunk waits at the proxy while the object is replaced.
        f.proxy.add(
            Rule::new(Fault::Latency(Duration::from_millis(500)))
                .method(Method::GET)
                .skip(1)
                .times(1),
        );
        let (store, u) = (f.store.clone(), uri.clone());
        let read = tokio::spawn(async move { store.get(&u).await });
        tokio::time::sleep(Duration::from_millis(200)).await;
        f.store.put(&uri, pattern(1 << 20, 2)).await.unwrap();
        let err = read.await.unwrap().unwrap_err();
        assert!(
            matches!(cause(&err), Error::Precondition { .. }),
            "{:?}: {err:?}",
            f.backend
        );
        assert!(err.to_string().contains(&uri), "{err}");
    }
);

scenario!(
    s3_only,
    /// Part 2 fails for good, and the abort that follows answers 503 twice: the write fails
    /// naming the URI, the abort is retried until it lands, and no upload is left open.
    a_failed_upload_is_aborted_even_when_the_abort_fails_transiently,
    quick_retries(), Limit::Defaults,
    |f| {
        let uri = f.uri("aborted");
        f.proxy.add(
            Rule::new(Fault::Status(500))
                .method(Method::PUT)
                .query("partNumber=2"),
        );
        f.proxy.add(
            Rule::new(Fault::Status(503))
                .method(Method::DELETE)
                .query("uploadId")
                .times(2),
        );
        let mut w = f
            .store
            .get_writer(
                &uri,
                WriterOptions::default()
                    .with_part_size(PART)
                    .with_max_in_flight(1),
            )
            .await
            .unwrap();
        let failed = match w.write(pattern(3 * PART, 6)).await {
            Ok(()) => w.finalize().await.map(|_| ()),
            Err(e) => Err(e),
        };
        let err = failed.unwrap_err();
        assert!(err.to_string().contains(&uri), "{:?}: {err}", f.backend);
        let aborts: Vec<_> = f
            .proxy
            .seen()
            .into_iter()
            .filter(|s| s.method == "DELETE")
            .map(|s| s.fault)
            .collect();
        assert_eq!(
            aborts,
            [Some("status"), Some("status"), None],
            "{:?}: two refused aborts, then the one that landed",
            f.backend
        );
        assert_eq!(f.open_uploads().await, Some(0), "{:?}", f.backend);
    }
);

scenario!(
    /// A journaled upload of six parts loses its server after two (the writer fails and keeps
    /// the upload), then a new writer with the same journal writes the object again: only
    /// the bytes the server lacks go over the wire (counted at the proxy), the object is
    /// byte-identical, the journal is gone and, on S3, no upload is left open. GCS: a
    /// journaled writer is refused with `NotSupported` (decision 019).
    a_killed_upload_resumes_from_its_journal_and_sends_only_what_is_missing,
    quick_retries(), Limit::Defaults,
    |f| {
        let uri = f.uri("resumed");
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("upload.journal");
        let data = pattern(5 * PART + 1000, 11);
        let opts = WriterOptions::default()
            .with_part_size(PART)
            .with_max_in_flight(1)
            .with_journal(&journal);
        let Some(mut w) = f.journaled_writer(&uri, opts.clone()).await else {
            return;
        };
        // One part in flight: the first is stored before the second starts.
        w.write(data.slice(..2 * PART)).await.unwrap();
        f.proxy.set_down(true);
        let failed = match w.write(data.slice(2 * PART..)).await {
            Ok(()) => w.finalize().await.map(drop),
            Err(e) => {
                drop(w);
                Err(e)
            }
        };
        f.proxy.set_down(false);
        assert!(failed.is_err(), "{:?}: the upload must fail", f.backend);
        assert!(journal.exists(), "{:?}: a failed journaled upload keeps its journal", f.backend);
        // S3 keeps the upload (Azure its blocks, which it cannot list).
        assert_eq!(f.open_uploads().await.unwrap_or(1), 1, "{:?}", f.backend);

        f.proxy.clear();
        let mut w = f.store.get_writer(&uri, opts).await.unwrap();
        w.write(data.clone()).await.unwrap();
        let reused = w.reused_bytes();
        w.finalize().await.unwrap();
        let sent: u64 = f
            .proxy
            .seen()
            .iter()
            .filter(|s| f.is_part(s))
            .map(|s| s.body_len.unwrap_or(0))
            .sum();
        assert!(reused >= PART as u64, "{:?}: reused only {reused} bytes", f.backend);
        assert_eq!(
            sent,
            data.len() as u64 - reused,
            "{:?}: only the missing bytes are sent",
            f.backend
        );
        assert!(f.store.get(&uri).await.unwrap() == data, "{:?}: byte-identical", f.backend);
        assert!(!journal.exists(), "{:?}: a finished upload removes its journal", f.backend);
        assert_ne!(f.open_uploads().await, Some(1), "{:?}", f.backend);
    }
);

scenario!(
    /// A journaled writer cancelled, and one whose data changed since the journal: cancel
    /// aborts the upload and removes the journal; changed parts are sent again, and the
    /// object is never a mix of the two. GCS: refused with `NotSupported`.
    a_journaled_upload_is_cancelled_cleanly_and_changed_data_is_never_mixed,
    quick_retries(), Limit::Defaults,
    |f| {
        let uri = f.uri("changed");
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("upload.journal");
        let opts = WriterOptions::default()
            .with_part_size(PART)
            .with_max_in_flight(1)
            .with_journal(&journal);
        let first = pattern(3 * PART, 21);
        let Some(mut w) = f.journaled_writer(&uri, opts.clone()).await else {
            return;
        };
        w.write(first.clone()).await.unwrap();
        drop(w);
        assert!(journal.exists(), "{:?}: a dropped journaled writer keeps its journal", f.backend);

        let second = pattern(3 * PART, 22);
        let mut w = f.store.get_writer(&uri, opts.clone()).await.unwrap();
        w.write(second.clone()).await.unwrap();
        assert_eq!(w.reused_bytes(), 0, "{:?}: no part of the old data is reused", f.backend);
        w.finalize().await.unwrap();
        assert!(f.store.get(&uri).await.unwrap() == second, "{:?}", f.backend);

        let mut w = f.store.get_writer(&uri, opts.clone()).await.unwrap();
        w.write(first.slice(..2 * PART)).await.unwrap();
        w.cancel().await.unwrap();
        assert!(!journal.exists(), "{:?}: cancel removes the journal", f.backend);
        assert_ne!(f.open_uploads().await, Some(1), "{:?}: cancel aborts", f.backend);

        // A stale upload is aborted by age; a journal of an aborted upload starts over.
        let mut w = f.store.get_writer(&uri, opts.clone()).await.unwrap();
        w.write(first.slice(..2 * PART)).await.unwrap();
        drop(w);
        if f.open_uploads().await.is_some() {
            let young = f.store.abort_uploads(&f.base, Some(Duration::from_secs(3600))).await.unwrap();
            assert!(young.is_empty(), "{:?}: an upload a second old is not stale", f.backend);
            let all = f.store.abort_uploads(&f.base, None).await.unwrap();
            assert_eq!(all.iter().map(|u| u.uri.as_str()).collect::<Vec<_>>(), [uri.as_str()]);
            assert_eq!(f.open_uploads().await, Some(0), "{:?}", f.backend);
        }
        let mut w = f.store.get_writer(&uri, opts).await.unwrap();
        w.write(first.clone()).await.unwrap();
        w.finalize().await.unwrap();
        assert!(f.store.get(&uri).await.unwrap() == first, "{:?}", f.backend);
    }
);

/// `S3DLIO_AZURE_DELETE_CONCURRENCY` and `S3DLIO_GCS_DELETE_CONCURRENCY` (S3's is in
/// `crates/memserver/tests/knobs.rs`): with each delete request held 300 ms at the proxy, a
/// limit of 1 gives one request in flight at a time and a limit of 3 more than one.
mod delete_concurrency {
    use super::*;

    /// Deletes three requests' worth of objects (`per_request` keys each, sent as
    /// `method`) with a limit of 1 and of 3: one request at a time, then more than one.
    async fn limits_shape_the_peak(backend: Backend, per_request: usize, method: Method) {
        let mut peaks = Vec::new();
        for limit in [1, 3] {
            let Some(f) = fixture(
                backend,
                "delete_concurrency",
                quick_retries(),
                Limit::Deletes(limit),
            )
            .await
            else {
                return;
            };
            let uris: Vec<String> = (0..3 * per_request).map(|i| f.uri(&format!("{i:04}"))).collect();
            futures::stream::iter(&uris)
                .map(|u| f.store.put(u, Bytes::from_static(b"x")))
                .buffer_unordered(16)
                .try_collect::<Vec<_>>()
                .await
                .unwrap();
            f.proxy.clear();
            f.proxy
                .add(Rule::new(Fault::Latency(Duration::from_millis(300))).method(method.clone()));
            f.store.delete_batch(&uris).await.unwrap();
            let deletes = f
                .proxy
                .seen()
                .iter()
                .filter(|s| s.method == method.as_str())
                .count();
            assert_eq!(deletes, 3, "{backend:?}: delete requests");
            peaks.push(f.proxy.peak_in_flight());
        }
        assert!(
            peaks[0] == 1 && peaks[1] > 1,
            "{backend:?}: peaks with limits 1 and 3: {peaks:?}"
        );
    }

    #[tokio::test]
    async fn azure() {
        // Blob Batch: up to 256 deletes per POST.
        limits_shape_the_peak(Backend::Azure, 256, Method::POST).await;
    }

    #[tokio::test]
    async fn gcs() {
        limits_shape_the_peak(Backend::Gcs, 1, Method::DELETE).await;
    }
}

/// `S3DLIO_MULTIPART_PART_SIZE` and `S3DLIO_MULTIPART_IN_FLIGHT` on Azure and GCS (S3's are
/// in `crates/memserver/tests/knobs.rs`): a writer that sets neither uploads 3 MiB + 1 byte
/// in parts of the configured size, as many at once as configured (each part held 300 ms at
/// the proxy). GCS's resumable protocol sends one chunk at a time whatever is configured.
mod part_size {
    use super::*;

    /// The part uploads and their peak in flight for each `(size, in flight)`.
    async fn parts(backend: Backend, configs: [(usize, usize); 2]) -> Option<Vec<(usize, u64)>> {
        let data = pattern((3 << 20) + 1, 5);
        let mut shapes = Vec::new();
        for (size, in_flight) in configs {
            let f = fixture(
                backend,
                "part_size",
                quick_retries(),
                Limit::Parts(size, in_flight),
            )
            .await?;
            let uri = f.uri("parts");
            let is_part = |s: &Seen| match backend {
                Backend::Gcs => s.method == "PUT",
                _ => f.is_part(s),
            };
            f.proxy
                .add(Rule::new(Fault::Latency(Duration::from_millis(300))).method(Method::PUT));
            let mut w = f.store.get_writer(&uri, WriterOptions::default()).await.unwrap();
            w.write(data.clone()).await.unwrap();
            w.finalize().await.unwrap();
            let sent = f.proxy.seen().iter().filter(|s| is_part(s)).count();
            shapes.push((sent, f.proxy.peak_in_flight()));
            assert!(f.store.get(&uri).await.unwrap() == data, "{backend:?}");
        }
        Some(shapes)
    }

    #[tokio::test]
    async fn azure() {
        if let Some(shapes) = parts(Backend::Azure, [(512 << 10, 1), (1 << 20, 3)]).await {
            assert!(
                shapes[0] == (7, 1) && shapes[1].0 == 4 && shapes[1].1 > 1,
                "(blocks, peak in flight): {shapes:?}"
            );
        }
    }

    #[tokio::test]
    async fn gcs() {
        if let Some(shapes) = parts(Backend::Gcs, [(256 << 10, 1), (512 << 10, 3)]).await {
            assert_eq!(shapes, [(13, 1), (7, 1)], "(chunks, peak in flight)");
        }
    }
}

/// `S3DLIO_S3_PAYLOAD_SIGNING` and `S3DLIO_S3_CHECKSUM` on both data paths: a PUT and
/// each part carry the CRC32C of their bytes unless the checksum is off; `auto` hashes
/// the body into the signature over http only without a checksum; a body corrupted on
/// the way is refused by the server's check and sent again by the retry layer, where
/// without a checksum or a hash it is stored corrupted.
mod upload_integrity {
    use super::*;
    use s3dlio::s3::{PayloadSigning, UploadChecksum};

    /// The base64 CRC32C S3 expects of `data`.
    fn crc32c_header(data: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(s3dlio::crc32c(data).to_be_bytes())
    }

    /// The uploads (PUTs) the proxy saw for `test`.
    fn uploads(f: &Fixture, test: &str) -> Vec<Seen> {
        f.proxy
            .seen()
            .into_iter()
            .filter(|s| s.method == "PUT" && s.target.contains(&format!("/{test}-")))
            .collect()
    }

    /// Puts `small` and writes `large` in three parts; returns whether both read back
    /// as written.
    async fn write_both(f: &Fixture, small: &Bytes, large: &Bytes) -> bool {
        f.store.put(&f.uri("small"), small.clone()).await.unwrap();
        let mut w = f
            .store
            .get_writer(&f.uri("large"), WriterOptions::default().with_part_size(PART))
            .await
            .unwrap();
        w.write(large.clone()).await.unwrap();
        w.finalize().await.unwrap();
        f.store.get(&f.uri("small")).await.unwrap() == small
            && f.store.get(&f.uri("large")).await.unwrap() == large
    }

    async fn headers(backend: Backend) {
        use PayloadSigning::{Auto, Off, On};
        use UploadChecksum::Crc32c;
        let cases = [
            (Auto, Crc32c, false),
            (Auto, UploadChecksum::Off, true),
            (On, Crc32c, true),
            (Off, UploadChecksum::Off, false),
        ];
        for (signing, checksum, hashed) in cases {
            let test = "upload_headers";
            let Some(f) = fixture(backend, test, quick_retries(), Limit::Upload(signing, checksum)).await
            else {
                return;
            };
            let (small, large) = (pattern(1000, 1), pattern(2 * PART + 7, 2));
            let case = format!("{backend:?} {signing:?} {checksum:?}");
            assert!(
                write_both(&f, &small, &large).await,
                "{case}: read back as written"
            );
            let seen = uploads(&f, test);
            assert_eq!(seen.len(), 4, "{case}: one PUT and three parts");
            // Parts may be sent in any order: compared as sorted lists.
            let mut expected: Vec<String> = [
                &small[..],
                &large[..PART],
                &large[PART..2 * PART],
                &large[2 * PART..],
            ]
            .iter()
            .map(|b| crc32c_header(b))
            .collect();
            let mut sent: Vec<String> = seen.iter().filter_map(|s| s.crc32c.clone()).collect();
            match checksum {
                Crc32c => {
                    expected.sort();
                    sent.sort();
                    assert_eq!(sent, expected, "{case}: each body's CRC32C");
                }
                UploadChecksum::Off => assert!(sent.is_empty(), "{case}: {sent:?}"),
            }
            for s in seen {
                let hash = s.payload_hash.unwrap_or_default();
                let is_hash = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
                match hashed {
                    true => assert!(is_hash, "{case}: {hash}"),
                    false => assert_eq!(hash, "UNSIGNED-PAYLOAD", "{case}"),
                }
            }
        }
    }

    /// One PUT and one part corrupted on the way, under `signing` and `checksum`; returns
    /// whether both objects read back as written.
    async fn corrupted(backend: Backend, signing: PayloadSigning, checksum: UploadChecksum) -> Option<bool> {
        let test = "upload_corrupt";
        let f = fixture(backend, test, quick_retries(), Limit::Upload(signing, checksum)).await?;
        f.proxy.add(
            Rule::new(Fault::CorruptRequest)
                .method(Method::PUT)
                .path("/small")
                .times(1),
        );
        f.proxy.add(
            Rule::new(Fault::CorruptRequest)
                .method(Method::PUT)
                .query("partNumber=2")
                .times(1),
        );
        let intact = write_both(&f, &pattern(1000, 3), &pattern(2 * PART + 7, 4)).await;
        let faults = uploads(&f, test).iter().filter(|s| s.fault.is_some()).count();
        assert_eq!(
            faults, 2,
            "{backend:?}: the PUT and part 2 were corrupted once each"
        );
        Some(intact)
    }

    async fn corruption(backend: Backend) {
        let Some(intact) = corrupted(backend, PayloadSigning::Auto, UploadChecksum::Crc32c).await else {
            return;
        };
        assert!(
            intact,
            "{backend:?}: the checksum caught the flipped bit and the retry resent it"
        );
        let unprotected = corrupted(backend, PayloadSigning::Off, UploadChecksum::Off).await;
        assert_eq!(
            unprotected,
            Some(false),
            "{backend:?}: with neither checksum nor hash the server stores what arrives"
        );
    }

    /// Without retries the refusal reaches the caller as a transient error naming the
    /// object, and nothing is stored.
    #[tokio::test]
    async fn a_corrupted_put_without_retries_fails_and_stores_nothing() {
        let once = RetryPolicy::default().with_max_attempts(1);
        let Some(f) = fixture(Backend::S3, "upload_refused", once, Limit::Defaults).await else {
            return;
        };
        f.proxy.add(Rule::new(Fault::CorruptRequest).method(Method::PUT));
        let uri = f.uri("small");
        let e = f.store.put(&uri, pattern(1000, 5)).await.unwrap_err();
        assert!(matches!(e, Error::Transient { .. }), "{e:?}");
        assert!(
            e.to_string().contains(&uri) && format!("{e:?}").contains("BadDigest"),
            "{e:?}"
        );
        assert!(matches!(f.store.stat(&uri).await, Err(Error::NotFound { .. })));
    }

    #[tokio::test]
    async fn s3() {
        headers(Backend::S3).await;
        corruption(Backend::S3).await
    }

    #[tokio::test]
    async fn s3_sdk() {
        headers(Backend::S3Sdk).await;
        corruption(Backend::S3Sdk).await
    }
}
