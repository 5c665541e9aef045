//! Application Default Credentials end to end, on loopback only: a credentials file (as
//! `gcloud auth application-default login` writes it) whose token endpoint is a local
//! server; the token it hands out must reach the storage request. A file of its own so
//! the variable it sets is this process's alone.

use std::sync::{Arc, Mutex};

use s3dlio_backend_gcs::{GcsConfig, GcsStore};
use s3dlio_core::{Error, ObjectStore, ObjectStoreExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Each request's first line and `Authorization` header, in arrival order.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// Answers `POST /token` with a token and anything else with 404, recording each
/// request's first line and `Authorization` header.
async fn serve(listener: TcpListener, seen: Seen) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        let seen = seen.clone();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let head = String::from_utf8_lossy(&buf).to_string();
            let line = head.lines().next().unwrap_or_default().to_string();
            let auth = head.lines().find_map(|l| {
                l.to_ascii_lowercase()
                    .starts_with("authorization:")
                    .then(|| l[14..].trim().to_string())
            });
            seen.lock().unwrap().push((line.clone(), auth));
            let (status, body) = if line.starts_with("POST /token") {
                (
                    "200 OK",
                    r#"{"access_token":"tok-123","token_type":"Bearer","expires_in":3600}"#,
                )
            } else {
                (
                    "404 Not Found",
                    r#"{"error":{"code":404,"message":"No such object: b/k","errors":[]}}"#,
                )
            };
            let reply = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(reply.as_bytes()).await;
        });
    }
}

#[tokio::test]
async fn a_token_reaches_the_request_a_bad_one_says_what_to_do_and_anonymous_sends_none() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    tokio::spawn(serve(listener, seen.clone()));

    let dir = std::env::temp_dir().join(format!("s3dlio-adc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("adc.json");
    std::fs::write(
        &file,
        format!(
            r#"{{"type":"authorized_user","client_id":"c","client_secret":"s","refresh_token":"r","token_uri":"http://127.0.0.1:{port}/token"}}"#
        ),
    )
    .unwrap();
    // SAFETY: this test binary runs this one test; no other thread reads the environment.
    unsafe { std::env::set_var("GOOGLE_APPLICATION_CREDENTIALS", &file) };

    let endpoint = format!("http://127.0.0.1:{port}");
    let store = GcsStore::new(GcsConfig::default().with_endpoint(&endpoint));
    let err = store.get("gs://b/k").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let requests = seen.lock().unwrap().clone();
    assert!(requests[0].0.starts_with("POST /token"), "{requests:?}");
    let read = requests
        .iter()
        .find(|(line, _)| line.starts_with("GET /storage/v1/b/b/o/k?alt=media"))
        .unwrap_or_else(|| panic!("no media GET in {requests:?}"));
    assert_eq!(read.1.as_deref(), Some("Bearer tok-123"));

    // A token endpoint that refuses: an authentication error that names the fix.
    std::fs::write(
        &file,
        r#"{"type":"authorized_user","client_id":"c","client_secret":"s","refresh_token":"r","token_uri":"http://127.0.0.1:1/token"}"#,
    )
    .unwrap();
    let store = GcsStore::new(GcsConfig::default().with_endpoint(&endpoint));
    let err = store.stat("gs://b/k").await.unwrap_err();
    assert!(matches!(err, Error::Unauthenticated { .. }), "{err:?}");
    assert!(
        err.to_string().contains("GOOGLE_APPLICATION_CREDENTIALS"),
        "{err}"
    );

    // `S3DLIO_GCS_ANONYMOUS`: the same broken credentials are never used, and the request
    // goes out without a token.
    seen.lock().unwrap().clear();
    let store = GcsStore::new(GcsConfig::default().with_endpoint(&endpoint).with_anonymous(true));
    let err = store.get("gs://b/k").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let requests = seen.lock().unwrap().clone();
    assert!(
        requests.len() == 1 && requests[0].0.starts_with("GET /storage/v1/b/b/o/k?alt=media"),
        "{requests:?}"
    );
    assert_eq!(requests[0].1, None, "anonymous requests carry no token");
    std::fs::remove_dir_all(&dir).ok();
}
