//! S3 knobs whose effect only a server sees, shown on the memory server: how many
//! requests the client keeps in flight, and how many connections it opens.

use std::time::Duration;

use bytes::Bytes;
use s3dlio_backend_s3::{DataPath, S3Config, S3Store};
use s3dlio_core::{ObjectStore, ObjectStoreExt, WriterOptions};
use s3dlio_memserver::{Options, Server};

async fn server(latency: Duration) -> Server {
    let opts = Options {
        credentials: Some(("k".into(), "s".into())),
        latency,
        ..Options::default()
    };
    Server::start("127.0.0.1:0", opts).await.unwrap()
}

/// A client of `server`, its bucket `s3://knobs` made.
async fn client(server: &Server, config: impl FnOnce(S3Config) -> S3Config) -> S3Store {
    let base = S3Config::default()
        .with_endpoint(server.endpoint())
        .with_region("us-east-1")
        .with_credentials("k", "s");
    let store = S3Store::new(config(base));
    store.create_container("s3://knobs").await.unwrap();
    store
}

/// `S3DLIO_S3_DELETE_CONCURRENCY` (`S3Config::delete_concurrency`): a batch delete of 6000
/// keys is 6 DeleteObjects requests, at most that many at once. A 300 ms answer makes the
/// requests overlap whenever the client lets them (a loaded machine may start the sixth
/// after the first ended, so 6 must give more than 2, and at most 6).
#[tokio::test]
async fn delete_concurrency_bounds_the_delete_requests_in_flight() {
    let keys: Vec<String> = (0..6000).map(|i| format!("s3://knobs/k{i:05}")).collect();
    let mut peaks = Vec::new();
    for concurrency in [2, 6] {
        let server = server(Duration::from_millis(300)).await;
        let store = client(&server, |c| S3Config {
            delete_concurrency: concurrency,
            ..c
        })
        .await;
        let before = server.requests();
        // Missing keys delete as S3 deletes them: successfully.
        store.delete_batch(&keys).await.unwrap();
        assert_eq!(server.requests() - before, 6, "pages of 1000 keys");
        peaks.push(server.peak_in_flight());
        server.stop().await;
    }
    assert!(
        peaks[0] == 2 && (3..=6).contains(&peaks[1]),
        "peaks in flight {peaks:?}"
    );
}

/// `S3DLIO_S3_POOL_MAX_IDLE_PER_HOST` (`S3Config::pool_max_idle_per_host`): 0 keeps no
/// idle connection, so each of 20 requests in a row opens its own; unset, they share one.
/// On both data paths (their two HTTP clients both take the cap).
#[tokio::test]
async fn pool_max_idle_per_host_decides_whether_connections_are_reused() {
    for path in [DataPath::Direct, DataPath::Sdk] {
        let mut opened = Vec::new();
        for cap in [Some(0), None] {
            let server = server(Duration::ZERO).await;
            let store = client(&server, |c| S3Config {
                pool_max_idle_per_host: cap,
                ..c.with_data_path(path)
            })
            .await;
            store.put("s3://knobs/o", Bytes::from_static(b"x")).await.unwrap();
            let before = server.connections();
            for _ in 0..20 {
                assert_eq!(store.get("s3://knobs/o").await.unwrap(), "x");
            }
            opened.push(server.connections() - before);
            server.stop().await;
        }
        assert!(
            opened[0] >= 20 && opened[1] <= 1,
            "{path:?}: connections opened {opened:?}"
        );
    }
}

/// `S3DLIO_MULTIPART_PART_SIZE` and `S3DLIO_MULTIPART_IN_FLIGHT` (`S3Config::part_size`,
/// `parts_in_flight`) shape the uploads of writers that set neither: 20 MiB + 1 byte is
/// five parts of 5 MiB sent one at a time, or three of 10 MiB sent together (300 ms answers
/// make them overlap).
#[tokio::test]
async fn part_size_and_parts_in_flight_shape_a_writers_upload() {
    let data = Bytes::from(vec![7u8; (20 << 20) + 1]);
    for (part_size, in_flight, parts, peak) in [(5 << 20, 1, 5, 1..=1), (10 << 20, 4, 3, 2..=3)] {
        let server = server(Duration::from_millis(300)).await;
        let store = client(&server, |c| S3Config {
            part_size: Some(part_size),
            parts_in_flight: Some(in_flight),
            ..c
        })
        .await;
        let before = server.requests();
        let mut w = store
            .get_writer("s3://knobs/big", WriterOptions::default())
            .await
            .unwrap();
        w.write(data.clone()).await.unwrap();
        w.finalize().await.unwrap();
        // Create, the parts, complete.
        assert_eq!(server.requests() - before, parts + 2, "part size {part_size}");
        assert!(
            peak.contains(&server.peak_in_flight()),
            "{in_flight} in flight: peak {}",
            server.peak_in_flight()
        );
        assert!(store.get("s3://knobs/big").await.unwrap() == data);
        server.stop().await;
    }
}
