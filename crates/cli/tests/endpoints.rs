//! `s3-cli --endpoints`: one run spread over two memory-server gateways to one store.

use std::process::{Command, Output};

use s3dlio::{ObjectStore, ObjectStoreExt};

const KEY: &str = "cli-endpoints-key";
const SECRET: &str = "cli-endpoints-secret";

fn s3_cli(args: &[&str]) -> Output {
    Command::new(assert_cmd::cargo::cargo_bin("s3-cli"))
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("AWS_ENDPOINT_URL")
        .env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap()
}

#[test]
fn upload_and_list_spread_over_every_endpoint_and_print_their_statistics() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let opts = |share| s3dlio_memserver::Options {
        credentials: Some((KEY.into(), SECRET.into())),
        share,
        ..Default::default()
    };
    let a = rt
        .block_on(s3dlio_memserver::Server::start("127.0.0.1:0", opts(None)))
        .unwrap();
    let b = rt
        .block_on(s3dlio_memserver::Server::start(
            "127.0.0.1:0",
            opts(Some(a.store())),
        ))
        .unwrap();
    let direct = s3dlio::s3::S3Store::new(
        s3dlio::s3::S3Config::default()
            .with_endpoint(a.endpoint())
            .with_region("us-east-1")
            .with_credentials(KEY, SECRET),
    );
    rt.block_on(direct.create_container("s3://spread")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for i in 0..20 {
        std::fs::write(dir.path().join(format!("f{i:02}")), vec![i as u8; 1000]).unwrap();
    }
    let endpoints = format!("{},{}", a.endpoint(), b.endpoint());
    let out = s3_cli(&[
        "--endpoints",
        &endpoints,
        "upload",
        "-r",
        dir.path().to_str().unwrap(),
        "s3://spread/up/",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Both gateways served the uploads, and the run said so per endpoint.
    assert!(
        a.requests() >= 5 && b.requests() >= 5,
        "{} / {}",
        a.requests(),
        b.requests()
    );
    for server in [&a, &b] {
        let line = format!("endpoint s3://{}/:", server.addr());
        assert!(stderr.contains(&line), "{line} missing in {stderr}");
    }
    assert_eq!(
        rt.block_on(direct.list("s3://spread/up/", true)).unwrap().len(),
        20
    );

    // Listings come back under the URI given, whichever gateway answered.
    let out = s3_cli(&[
        "--quiet",
        "--endpoints",
        &endpoints,
        "--lb-strategy",
        "least_connections",
        "ls",
        "-r",
        "s3://spread/up/",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        stdout.lines().filter(|l| l.contains("s3://spread/up/f")).count(),
        20,
        "{stdout}"
    );
    assert!(out.stderr.is_empty(), "--quiet prints no statistics");

    // Bad input is a usage error naming what is wrong.
    let out = s3_cli(&[
        "--lb-strategy",
        "fastest",
        "--endpoints",
        &endpoints,
        "ls",
        "s3://spread/",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fastest"));
    let out = s3_cli(&["--endpoints", "http://10.0.0.{1..3}:9000", "ls", "s3://spread/"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("{1...8}"), "{stderr}");
}
