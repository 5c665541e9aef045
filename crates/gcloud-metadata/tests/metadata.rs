//! Against a metadata server on loopback: the paths asked, the flavor header sent, the
//! answers trimmed, errors reported.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Answers `computeMetadata/v1/...` as GCE does, only to requests with the flavor header.
async fn serve(listener: TcpListener) {
    loop {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            socket.read_exact(&mut byte).await.unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
        let path = head.split_whitespace().nth(1).unwrap().to_owned();
        let (status, body) = if !head.contains("metadata-flavor: google\r\n") {
            ("403 Forbidden", "")
        } else if path == "/computemetadata/v1/project/project-id" {
            ("200 OK", "my-project\n")
        } else if path == "/computemetadata/v1/instance/service-accounts/default/email" {
            ("200 OK", "sa@my-project.iam.gserviceaccount.com")
        } else {
            ("404 Not Found", "")
        };
        let answer = format!(
            "HTTP/1.1 {status}\r\nMetadata-Flavor: Google\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(answer.as_bytes()).await.unwrap();
    }
}

// One test: the server is named by a process-wide variable.
#[tokio::test]
async fn asks_the_server_gce_metadata_host_names() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(serve(listener));
    // SAFETY: the only test in this binary, and no other thread reads the environment yet.
    unsafe { std::env::set_var(gcloud_metadata::METADATA_HOST_ENV, address.to_string()) };

    assert!(gcloud_metadata::on_gce().await);
    assert_eq!(gcloud_metadata::project_id().await, "my-project");
    assert_eq!(
        gcloud_metadata::email("default").await.unwrap(),
        "sa@my-project.iam.gserviceaccount.com"
    );
    match gcloud_metadata::email("other").await {
        Err(gcloud_metadata::Error::InvalidResponse(404)) => {}
        other => panic!("expected a 404, got {other:?}"),
    }
}
