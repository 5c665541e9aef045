//! `s3-cli` through the fault proxy (issue 17): an object replaced while a recursive
//! transfer reads it fails with a version error on every command, and writes no file.

mod common;

use std::time::Duration;

use bytes::Bytes;
use s3dlio::{ObjectStore, ObjectStoreExt};
use s3dlio_faultproxy::{Fault, Proxy, Rule};

const KEY: &str = "cli-fault-key";
const SECRET: &str = "cli-fault-secret";
const SIZE: usize = 1 << 20;

fn content(seed: u8) -> Bytes {
    Bytes::from((0..SIZE).map(|i| (i % 251) as u8 ^ seed).collect::<Vec<u8>>())
}

#[test]
fn an_object_replaced_mid_transfer_fails_every_recursive_command_and_writes_nothing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt
        .block_on(s3dlio_memserver::Server::start(
            "127.0.0.1:0",
            s3dlio_memserver::Options {
                credentials: Some((KEY.into(), SECRET.into())),
                ..Default::default()
            },
        ))
        .unwrap();
    let proxy = rt.block_on(Proxy::start(server.addr())).unwrap();
    // Writes go straight to the server, so the proxy's rules see only the CLI.
    let direct = s3dlio::s3::S3Store::new(
        s3dlio::s3::S3Config::default()
            .with_endpoint(server.endpoint())
            .with_region("us-east-1")
            .with_credentials(KEY, SECRET),
    );
    rt.block_on(direct.create_container("s3://moving")).unwrap();
    let uri = "s3://moving/p/object.bin";
    let commands: [&[&str]; 3] = [&["get", "-r"], &["download", "-r"], &["cp", "-r"]];
    for (n, command) in commands.into_iter().enumerate() {
        rt.block_on(direct.put(uri, content(n as u8))).unwrap();
        proxy.clear();
        // The second chunk waits at the proxy while the object is replaced.
        proxy.add(
            Rule::new(Fault::Latency(Duration::from_millis(800)))
                .method(http::Method::GET)
                .skip(1)
                .times(1),
        );
        let dest = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = command.iter().map(|s| s.to_string()).collect();
        args.push("s3://moving/p/".into());
        if command[0] != "get" {
            args.push(dest.path().to_str().unwrap().into());
        }
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("s3-cli"))
            .args(["--quiet", "--endpoint-url", &proxy.endpoint()])
            .args(&args)
            .env("AWS_ACCESS_KEY_ID", KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("AWS_REGION", "us-east-1")
            .env("S3DLIO_RANGE_CHUNK_SIZE", "262144")
            .env("S3DLIO_RANGE_THRESHOLD", "262144")
            .env("S3DLIO_RANGE_CONCURRENCY", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(400));
        rt.block_on(direct.put(uri, content(100 + n as u8))).unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{command:?}: {stderr}");
        assert!(stderr.contains("changed"), "{command:?}: {stderr}");
        assert!(
            proxy.seen().iter().any(|s| s.fault.is_some()),
            "{command:?}: the delayed chunk was requested"
        );
        let written: Vec<_> = walk(dest.path());
        assert!(written.is_empty(), "{command:?} left {written:?}");
    }
    drop(proxy);
    rt.block_on(server.stop());
}

/// Every file under `dir`, hidden ones (partial downloads) included.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
