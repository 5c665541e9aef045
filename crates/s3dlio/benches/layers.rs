//! What the op-log and multi-endpoint layers cost and gain against the memory S3 server on
//! loopback, in process (`cargo xtask bench layers`). Not a criterion bench: each line is
//! a workload through a real HTTP server; repeated rounds alternate the variants so drift
//! hits both alike, and the median round is reported.
//!
//! - `oplog`: 1000 GETs of 64 KiB objects, 32 in flight, without and with the op-log
//!   layer (a zstd file in a temporary directory); the target is at most 5 % slower.
//! - `endpoints`: 4000 GETs of 64 KiB, 64 in flight, over 1, 2 and 4 gateways to one
//!   store, each gateway serving at most 8 requests at once with 2 ms of latency (a
//!   gateway's capacity): spreading over more gateways should raise the rate until the
//!   client's CPU is the limit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use s3dlio::endpoints::{Endpoints, Strategy};
use s3dlio::oplog::{OpLog, OpLogOptions};
use s3dlio::{ObjectStore, ObjectStoreExt, StoreOptions, store_for_uri_with};
use s3dlio_memserver::{Options, Server, cpu_seconds};

const KEY: &str = "bench-key";
const SECRET: &str = "bench-secret";
const SIZE: usize = 64 << 10;
const ROUNDS: usize = 7;

fn options() -> StoreOptions {
    let s3 = s3dlio::s3::S3Config::default()
        .with_region("us-east-1")
        .with_credentials(KEY, SECRET);
    StoreOptions::default().with_s3(s3)
}

async fn start(share: Option<&Server>, latency: Duration, max_in_flight: Option<usize>) -> Server {
    let opts = Options {
        credentials: Some((KEY.into(), SECRET.into())),
        latency,
        share: share.map(Server::store),
        max_in_flight,
    };
    Server::start("127.0.0.1:0", opts)
        .await
        .expect("start a memory server")
}

/// `n` GETs over `uris`, `in_flight` at once: (seconds, CPU seconds).
async fn gets(store: &Arc<dyn ObjectStore>, uris: &[String], n: usize, in_flight: usize) -> (f64, f64) {
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let bytes: usize = stream::iter((0..n).map(|i| &uris[i % uris.len()]))
        .map(|u| store.get(u))
        .buffer_unordered(in_flight)
        .map_ok(|b| b.len())
        .try_fold(0, |a, b| async move { Ok(a + b) })
        .await
        .expect("every GET succeeds");
    assert_eq!(bytes, n * SIZE);
    (t.elapsed().as_secs_f64(), cpu_seconds() - cpu)
}

fn median(mut v: Vec<(f64, f64)>) -> (f64, f64) {
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v[v.len() / 2]
}

async fn seed(store: &Arc<dyn ObjectStore>, bucket: &str, n: usize) -> Vec<String> {
    store.create_container(bucket).await.unwrap();
    let uris: Vec<String> = (0..n).map(|i| format!("{bucket}/obj{i:05}")).collect();
    let data = Bytes::from(vec![0x5a; SIZE]);
    stream::iter(&uris)
        .map(|u| store.put(u, data.clone()))
        .buffer_unordered(32)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    uris
}

async fn oplog() {
    let server = start(None, Duration::ZERO, None).await;
    let opts = options().with_s3(options().s3.unwrap().with_endpoint(server.endpoint()));
    // Both stacks over one backend: the same warm connections.
    let backend = s3dlio::backend_for("s3://", &opts).unwrap();
    let plain = s3dlio::layered(backend.clone(), &opts);
    let uris = seed(&plain, "s3://oplog-bench", 1000).await;
    gets(&plain, &uris, 1000, 32).await;
    let dir = tempfile::tempdir().unwrap();
    let (mut without, mut with) = (vec![], vec![]);
    for round in 0..ROUNDS {
        without.push(gets(&plain, &uris, 1000, 32).await);
        let log = OpLog::create(
            &dir.path().join(format!("r{round}.tsv.zst")),
            OpLogOptions::default(),
        )
        .unwrap();
        let logged = s3dlio::layered(backend.clone(), &opts.clone().with_op_log(log.clone()));
        with.push(gets(&logged, &uris, 1000, 32).await);
        let stats = log.finish().await.unwrap();
        assert_eq!((stats.written, stats.dropped), (1000, 0));
    }
    let ((a, ca), (b, cb)) = (median(without), median(with));
    println!("oplog  1000 GETs x 64 KiB, 32 in flight, memserver in process, median of {ROUNDS} rounds");
    println!(
        "  without op-log: {:>7.0} GET/s  {a:.3} s  CPU {ca:.3} s",
        1000.0 / a
    );
    println!(
        "  with op-log:    {:>7.0} GET/s  {b:.3} s  CPU {cb:.3} s",
        1000.0 / b
    );
    println!(
        "  overhead: {:+.1} % time, {:+.1} % CPU (target <= 5 %)",
        (b / a - 1.0) * 100.0,
        (cb / ca - 1.0) * 100.0
    );
    server.stop().await;
}

async fn endpoints() {
    let latency = Duration::from_millis(2);
    let first = start(None, latency, Some(8)).await;
    let mut servers = vec![];
    for _ in 1..4 {
        servers.push(start(Some(&first), latency, Some(8)).await);
    }
    servers.insert(0, first);
    let seeding = options().s3.unwrap().with_endpoint(servers[0].endpoint());
    let seeder = store_for_uri_with("s3://", &options().with_s3(seeding)).unwrap();
    let uris = seed(&seeder, "s3://lb-bench", 256).await;
    println!(
        "endpoints  4000 GETs x 64 KiB, 64 in flight; each gateway: 8 requests at once, 2 ms latency; median of {ROUNDS} rounds"
    );
    let mut base = None;
    for n in [1, 2, 4] {
        let urls: Vec<String> = servers[..n].iter().map(Server::endpoint).collect();
        let balanced = |set: &Arc<Endpoints>| options().with_endpoints(set.clone());
        let first = Arc::new(Endpoints::new(&urls, Strategy::RoundRobin).unwrap());
        // One backend for every round (warm connections); fresh statistics per round.
        let backend = s3dlio::backend_for("s3://", &balanced(&first)).unwrap();
        gets(
            &s3dlio::layered(backend.clone(), &balanced(&first)),
            &uris,
            1000,
            64,
        )
        .await;
        let mut rounds = vec![];
        let mut eps = None;
        for _ in 0..ROUNDS {
            let set = Arc::new(Endpoints::new(&urls, Strategy::RoundRobin).unwrap());
            let store = s3dlio::layered(backend.clone(), &balanced(&set));
            rounds.push(gets(&store, &uris, 4000, 64).await);
            eps = Some(set);
        }
        let (secs, cpu) = median(rounds);
        let rate = 4000.0 / secs;
        let shares: Vec<u64> = eps.unwrap().stats().iter().map(|s| s.requests).collect();
        println!(
            "  {n} gateway(s): {rate:>7.0} GET/s  {:>6.1} MB/s  CPU {cpu:.3} s  x{:.2} of one  (last round per gateway: {shares:?})",
            rate * SIZE as f64 / 1e6,
            rate / *base.get_or_insert(rate)
        );
    }
    for s in servers {
        s.stop().await;
    }
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let which = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    if which.as_deref().is_none_or(|w| w == "oplog") {
        rt.block_on(oplog());
    }
    if which.as_deref().is_none_or(|w| w == "endpoints") {
        rt.block_on(endpoints());
    }
}
