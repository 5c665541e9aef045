//! The multi-endpoint layer over real S3 servers: several memory-server gateways to one
//! store, on loopback, through the full stack `store_for_uri_with` builds.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use s3dlio::endpoints::{Endpoints, Strategy};
use s3dlio::testkit::Fixture;
use s3dlio::{ObjectStoreExt, RetryPolicy, StoreOptions, store_for_uri_with};
use s3dlio_memserver::{Options, Server};

const KEY: &str = "multi-endpoint-key";
const SECRET: &str = "multi-endpoint-secret";

/// `n` gateways to one in-memory store.
async fn gateways(n: usize) -> Vec<Server> {
    let first = gateway(None, "127.0.0.1:0").await;
    let mut all = vec![];
    for _ in 1..n {
        all.push(gateway(Some(&first), "127.0.0.1:0").await);
    }
    all.insert(0, first);
    all
}

async fn gateway(of: Option<&Server>, addr: &str) -> Server {
    let opts = Options {
        credentials: Some((KEY.into(), SECRET.into())),
        share: of.map(Server::store),
        ..Options::default()
    };
    Server::start(addr, opts).await.expect("start a gateway")
}

fn options(eps: Arc<Endpoints>, retry: RetryPolicy) -> StoreOptions {
    let s3 = s3dlio::s3::S3Config::default()
        .with_region("us-east-1")
        .with_credentials(KEY, SECRET);
    StoreOptions::default()
        .with_s3(s3)
        .with_retry(retry)
        .with_endpoints(eps)
}

fn urls(servers: &[Server]) -> Vec<String> {
    servers.iter().map(Server::endpoint).collect()
}

/// The whole conformance suite through a store that spreads every request over three
/// gateways, as plain `s3://bucket/key` URIs.
async fn fixture(test: &str) -> Option<Fixture> {
    let servers = gateways(3).await;
    let eps = Arc::new(Endpoints::new(&urls(&servers), Strategy::RoundRobin).unwrap());
    let store = store_for_uri_with("s3://", &options(eps, RetryPolicy::default())).unwrap();
    store.create_container("s3://conformance").await.unwrap();
    Some(Fixture {
        store,
        base: format!("s3://conformance/{test}/"),
        fresh_container: "s3://fresh-bucket".into(),
        guard: Box::new(servers),
        server_gaps: &[],
    })
}

s3dlio::conformance_tests!(fixture);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_balances_gateways_and_a_killed_one_fails_no_operation_and_returns() {
    let mut servers = gateways(3).await;
    let eps = Arc::new(
        Endpoints::new(&urls(&servers), Strategy::RoundRobin)
            .unwrap()
            .with_backoff(Duration::from_millis(300), Duration::from_millis(600)),
    );
    let retry = RetryPolicy::default()
        .with_max_attempts(4)
        .with_backoff(Duration::from_millis(5), Duration::from_millis(20));
    let store = store_for_uri_with("s3://", &options(eps.clone(), retry)).unwrap();
    store.create_container("s3://balance").await.unwrap();
    let body = Bytes::from(vec![7u8; 64 << 10]);
    for i in 0..30 {
        store
            .put(&format!("s3://balance/k{i:02}"), body.clone())
            .await
            .unwrap();
    }
    let served = |servers: &[Server]| servers.iter().map(Server::requests).collect::<Vec<_>>();
    let before = served(&servers);
    let run = |round: usize| {
        let store = store.clone();
        let body = body.clone();
        async move {
            let reads = (0..300).map(|i| {
                let store = store.clone();
                async move { store.get(&format!("s3://balance/k{:02}", i % 30)).await }
            });
            for got in futures::future::join_all(reads).await {
                let got = got.unwrap_or_else(|e| panic!("no user operation fails (round {round}): {e}"));
                assert_eq!(got, body);
            }
        }
    };
    run(0).await;
    // Within 10 % of an even share, counted by the servers themselves.
    let share: Vec<u64> = served(&servers).iter().zip(&before).map(|(a, b)| a - b).collect();
    for s in &share {
        assert!((90..=110).contains(s), "300 reads over 3 gateways: {share:?}");
    }
    assert_eq!(eps.stats().iter().map(|s| s.requests).collect::<Vec<_>>(), {
        let mut counted = vec![10 + 100; 3];
        counted[0] += 1; // create_container
        counted
    });

    // Kill gateway 1 while reads run: every read still succeeds.
    let addr = servers[1].addr().to_string();
    let killed = servers.remove(1);
    let reads = tokio::spawn(run(1));
    killed.stop().await;
    reads.await.unwrap();
    run(2).await;
    let down = &eps.stats()[1];
    assert!(down.errors >= 1, "{down:?}");

    // Back on the same address over the same store: after its back-off it serves again.
    servers.insert(1, gateway(Some(&servers[0]), &addr).await);
    tokio::time::sleep(Duration::from_millis(700)).await;
    run(3).await;
    let back = servers[1].requests();
    assert!(back >= 50, "the returned gateway served {back} of 300 reads");
    assert!(eps.stats()[1].available);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_come_back_under_the_uris_the_caller_wrote() {
    let servers = gateways(2).await;
    let eps = Arc::new(Endpoints::new(&urls(&servers), Strategy::LeastConnections).unwrap());
    let store = store_for_uri_with("s3://", &options(eps.clone(), RetryPolicy::default())).unwrap();
    store.create_container("s3://names").await.unwrap();
    store
        .put("s3://names/a/1", Bytes::from_static(b"one"))
        .await
        .unwrap();
    // A URI naming one gateway is balanced too, and answered under that gateway's name.
    let named = format!("s3://{}/names/a/", servers[1].addr());
    assert_eq!(store.list(&named, true).await.unwrap(), [format!("{named}1")]);
    assert_eq!(store.list("s3://names/", false).await.unwrap(), ["s3://names/a/"]);
    assert_eq!(store.stat("s3://names/a/1").await.unwrap().uri, "s3://names/a/1");
    assert!(
        store
            .list_containers("s3://")
            .await
            .unwrap()
            .contains(&"s3://names/".to_string())
    );
    let e = store_for_uri_with("file:///tmp/x", &options(eps, RetryPolicy::default()))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("s3 endpoints") && e.contains(&servers[0].addr().to_string()),
        "{e}"
    );
}
