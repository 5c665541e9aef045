//! Running the `s3-cli` binary in tests, and the bytes its synthetic objects hold.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::Path;

use assert_cmd::Command;
use s3dlio_datagen::{DataSpec, Generator};
use serde_json::Value;

/// The binary, with progress bars off and logs quiet.
pub fn cli() -> Command {
    let mut cmd = Command::cargo_bin("s3-cli").expect("the s3-cli binary is built");
    cmd.env_remove("RUST_LOG").arg("--quiet");
    cmd
}

/// The value of a local server's variable, or `None` when that server is not running (a
/// failure instead when `S3DLIO_REQUIRE_EMULATORS=1`, as in `cargo xtask test`).
fn server(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) => Some(value),
        Err(_) if std::env::var("S3DLIO_REQUIRE_EMULATORS").as_deref() == Ok("1") => {
            panic!("S3DLIO_REQUIRE_EMULATORS=1 but {var} is unset: run `cargo xtask emulators up`")
        }
        Err(_) => {
            eprintln!("skipped: no server ({var} unset)");
            None
        }
    }
}

/// The binary pointed at the loopback S3 server.
pub fn s3_cli() -> Option<Command> {
    let endpoint = server("S3DLIO_TEST_S3_ENDPOINT")?;
    let mut cmd = cli();
    cmd.args(["--endpoint-url", &endpoint]);
    Some(cmd)
}

/// The binary pointed at Azurite (the account and key come from the environment).
pub fn azure_cli() -> Option<Command> {
    let endpoint = server("S3DLIO_TEST_AZURE_ENDPOINT")?;
    let mut cmd = cli();
    cmd.env("AZURE_STORAGE_ENDPOINT", endpoint);
    Some(cmd)
}

/// The binary pointed at the loopback GCS emulator (no credentials).
pub fn gcs_cli() -> Option<Command> {
    let endpoint = server("S3DLIO_TEST_GCS_ENDPOINT")?;
    let mut cmd = cli();
    cmd.env("STORAGE_EMULATOR_HOST", endpoint)
        .env("GOOGLE_CLOUD_PROJECT", "s3dlio-test");
    Some(cmd)
}

/// A bucket name no other test uses.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The bytes `s3-cli put` writes for object `index` (seed 0, no dedup or compression).
pub fn synthetic(size: u64, index: u64) -> Vec<u8> {
    Generator::new(size, DataSpec::default().with_seed(index))
        .generate()
        .to_vec()
}

/// `file://` URI of a local path.
pub fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// Every line of stdout parsed as JSON.
pub fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

/// stdout of a command that must succeed.
pub fn ok_bytes(cmd: &mut Command) -> Vec<u8> {
    cmd.assert().success().get_output().stdout.clone()
}

pub fn stdout_of(cmd: &mut Command) -> String {
    String::from_utf8(ok_bytes(cmd)).expect("utf-8 output")
}

/// Three small objects and one larger than a part (multipart upload / staged blocks)
/// under `prefix` of a remote store, then listing, stat, exact ranged and whole reads,
/// and a parallel `get` of the prefix. `cli` makes a command for that store.
pub fn objects_round_trip(cli: impl Fn() -> Command, prefix: &str) {
    cli()
        .args(["put", prefix, "-n", "3", "-s", "300k"])
        .assert()
        .success();
    cli()
        .args(["put", prefix, "-s", "20Mi", "-t", "big.bin"])
        .assert()
        .success();

    let listed = stdout_of(cli().args(["ls", prefix]));
    assert_eq!(listed.lines().count(), 4, "{listed}");
    let out = ok_bytes(cli().args(["--json", "stat", &format!("{prefix}big.bin")]));
    let stat = &json_lines(&out)[0];
    assert_eq!(stat["size"], 20 << 20);
    assert!(stat["e_tag"].is_string());

    let big = synthetic(20 << 20, 0);
    let range = ["--offset", "17Mi", "--length", "100"];
    let out = ok_bytes(cli().args(["cat", &format!("{prefix}big.bin")]).args(range));
    assert_eq!(out, big[17 << 20..(17 << 20) + 100]);
    let whole = ok_bytes(cli().args(["cat", &format!("{prefix}big.bin")]));
    assert!(whole == big, "whole-object cat differs");

    let out = ok_bytes(cli().args(["--json", "get", "-r", "-j", "8", prefix]));
    assert_eq!(json_lines(&out)[0]["bytes"], 3 * 300_000 + (20 << 20));
}
