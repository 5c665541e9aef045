//! The S3 backend's whole conformance suite against the memory server, in process: proves
//! the server answers as S3 does (it has no named gaps: a PUT into a missing bucket and a
//! DeleteBucket of a non-empty one fail, If-Match is honoured) and gives the backend a
//! second S3 server in every test run. It runs twice: on the direct data path (the
//! default) and with every request on the SDK.

use std::sync::Arc;

use s3dlio_backend_s3::{DataPath, S3Config, S3Store};
use s3dlio_core::testkit::Fixture;
use s3dlio_core::{Error, ObjectStore, ObjectStoreExt};
use s3dlio_memserver::{Options, Server};

const KEY: &str = "memserver-test-key";
const SECRET: &str = "memserver-test-secret";

async fn server() -> Server {
    let opts = Options {
        credentials: Some((KEY.into(), SECRET.into())),
        ..Options::default()
    };
    Server::start("127.0.0.1:0", opts)
        .await
        .expect("start the memory server")
}

fn config(server: &Server, secret: &str) -> S3Config {
    S3Config::default()
        .with_endpoint(server.endpoint())
        .with_region("us-east-1")
        .with_credentials(KEY, secret)
}

fn client(server: &Server, secret: &str) -> S3Store {
    S3Store::new(config(server, secret))
}

async fn fixture(_test: &str) -> Option<Fixture> {
    fixture_on(DataPath::Direct).await
}

async fn fixture_on(path: DataPath) -> Option<Fixture> {
    let server = server().await;
    let store = S3Store::new(config(&server, SECRET).with_data_path(path));
    store
        .create_container("s3://conformance")
        .await
        .unwrap_or_else(|e| panic!("create the test bucket: {e}"));
    Some(Fixture {
        store: s3dlio_range_engine::doubles::conformance_stack(Arc::new(store)),
        base: "s3://conformance/t/".into(),
        fresh_container: "s3://fresh-bucket".into(),
        guard: Box::new(server),
        server_gaps: &[],
    })
}

s3dlio_core::conformance_tests!(fixture);

/// The same suite with every request on the SDK (`DataPath::Sdk`).
mod sdk_data_path {
    use super::*;

    async fn fixture(_test: &str) -> Option<Fixture> {
        fixture_on(DataPath::Sdk).await
    }

    s3dlio_core::conformance_tests!(fixture);
}

#[tokio::test]
async fn requests_are_signed_with_the_configured_keys() {
    let server = server().await;
    client(&server, SECRET)
        .create_container("s3://signed")
        .await
        .expect("the right secret is accepted");
    let e = client(&server, "not-the-secret")
        .put("s3://signed/k", bytes::Bytes::from_static(b"x"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unauthenticated { .. }), "{e:?}");
    assert_eq!(
        server.requests(),
        1,
        "a request refused at signing never reaches the store"
    );
}

/// A server that waits `latency` before each answer.
async fn slow_server(latency: std::time::Duration) -> Server {
    Server::start(
        "127.0.0.1:0",
        Options {
            credentials: Some((KEY.into(), SECRET.into())),
            latency,
            share: None,
            max_in_flight: None,
        },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn the_latency_option_delays_every_answer() {
    let latency = std::time::Duration::from_millis(150);
    let server = slow_server(latency).await;
    let store = client(&server, SECRET);
    store.create_container("s3://slow").await.unwrap();
    store
        .put("s3://slow/k", bytes::Bytes::from_static(b"x"))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    assert_eq!(&store.get("s3://slow/k").await.unwrap()[..], b"x");
    // A lower bound only: the server sleeps that long before it answers.
    assert!(started.elapsed() >= latency, "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_put_over_two_parts_goes_up_in_parts_and_a_smaller_one_in_one_request() {
    let server = server().await;
    let part = 5 << 20;
    let store = S3Store::new(S3Config {
        part_size: Some(part),
        ..config(&server, SECRET)
    });
    store.create_container("s3://parts").await.unwrap();
    let counted = |before: u64| server.requests() - before;

    let small: bytes::Bytes = (0..2 * part).map(|i| (i % 251) as u8).collect::<Vec<_>>().into();
    let before = server.requests();
    store.put("s3://parts/small", small.clone()).await.unwrap();
    assert_eq!(counted(before), 1, "two parts' worth is one PUT");

    let large: bytes::Bytes = (0..2 * part + 1)
        .map(|i| (i % 253) as u8)
        .collect::<Vec<_>>()
        .into();
    let before = server.requests();
    let put = store.put("s3://parts/large", large.clone()).await.unwrap();
    assert_eq!(counted(before), 5, "create, three parts, complete");
    assert!(
        put.e_tag
            .is_some_and(|e| e.ends_with("-3\"") || e.ends_with("-3"))
    );
    assert_eq!(store.get("s3://parts/large").await.unwrap(), large);
    assert_eq!(store.get("s3://parts/small").await.unwrap(), small);
}

#[tokio::test]
async fn the_attempt_timeout_bounds_a_slow_answer_on_both_data_paths() {
    let latency = std::time::Duration::from_millis(600);
    let limit = std::time::Duration::from_millis(150);
    let server = slow_server(latency).await;
    client(&server, SECRET)
        .create_container("s3://slow")
        .await
        .unwrap();
    for path in [DataPath::Direct, DataPath::Sdk] {
        let store = S3Store::new(S3Config {
            attempt_timeout: Some(limit),
            ..config(&server, SECRET).with_data_path(path)
        });
        let check = |what: &str, started: std::time::Instant, e: Error| {
            let took = started.elapsed();
            assert!(matches!(e, Error::Timeout { .. }), "{path:?} {what}: {e:?}");
            assert!(took >= limit && took < latency, "{path:?} {what} took {took:?}");
        };
        let t = std::time::Instant::now();
        check(
            "put",
            t,
            store
                .put("s3://slow/k", bytes::Bytes::from_static(b"x"))
                .await
                .unwrap_err(),
        );
        let t = std::time::Instant::now();
        check("get", t, store.get("s3://slow/k").await.unwrap_err());
    }
}

#[tokio::test]
async fn the_request_count_is_served_on_its_own_path() {
    let server = server().await;
    let store = client(&server, SECRET);
    store.create_container("s3://counted").await.unwrap();
    store
        .put("s3://counted/k", bytes::Bytes::from_static(b"x"))
        .await
        .unwrap();
    let addr = server.addr();
    let answer = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        write!(
            c,
            "GET {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            s3dlio_memserver::REQUESTS_PATH
        )
        .unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        out
    })
    .await
    .unwrap();
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert_eq!(body.trim(), "2", "{answer}");
    assert_eq!(server.requests(), 2, "the count path is not an S3 request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_in_flight_queues_requests_beyond_the_gateways_capacity() {
    let latency = std::time::Duration::from_millis(60);
    let server = Server::start(
        "127.0.0.1:0",
        Options {
            credentials: Some((KEY.into(), SECRET.into())),
            latency,
            share: None,
            max_in_flight: Some(1),
        },
    )
    .await
    .unwrap();
    let store = client(&server, SECRET);
    store.create_container("s3://capacity").await.unwrap();
    store
        .put("s3://capacity/k", bytes::Bytes::from_static(b"x"))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let gets = (0..4).map(|_| store.get("s3://capacity/k"));
    for got in futures::future::join_all(gets).await {
        assert_eq!(&got.unwrap()[..], b"x");
    }
    // One at a time: four answers take four latencies, not one.
    assert!(started.elapsed() >= latency * 4, "{:?}", started.elapsed());
}
