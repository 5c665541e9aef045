//! Every command against the loopback S3 server (`cargo xtask emulators up`), through the
//! same `store_for_uri` path as file://.

mod common;

use common::{file_uri, json_lines, objects_round_trip, ok_bytes, s3_cli, stdout_of, synthetic, unique};
use predicates::prelude::*;

/// A fresh bucket, and a command factory for it; `None` when no server runs.
fn bucket() -> Option<(String, impl Fn() -> assert_cmd::Command)> {
    s3_cli()?;
    let bucket = format!("s3://{}", unique("cli"));
    let cmd = || s3_cli().expect("server checked above");
    cmd().args(["mb", &bucket]).assert().success();
    Some((bucket, cmd))
}

#[test]
fn objects_round_trip_with_exact_ranges() {
    let Some((bucket, s3)) = bucket() else { return };
    objects_round_trip(s3, &format!("{bucket}/data/"));
}

#[test]
fn transfers_between_s3_and_local_and_within_s3() {
    let Some((bucket, s3)) = bucket() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("src/a")).unwrap();
    std::fs::write(dir.path().join("src/top.bin"), b"top").unwrap();
    std::fs::write(dir.path().join("src/a/inner.bin"), synthetic(70_000, 9)).unwrap();

    let up = format!("{bucket}/up/");
    s3().args(["upload", "-r", dir.path().join("src").to_str().unwrap(), &up])
        .assert()
        .success();
    assert_eq!(stdout_of(s3().args(["ls", "-r", &up])).lines().count(), 2);

    // Remote to remote (server-side copy), then remote to local.
    let copied = format!("{bucket}/copied/");
    s3().args(["cp", "-r", &up, &copied])
        .assert()
        .success()
        .stdout(predicate::str::contains("cp: 2 objects"));
    let back = dir.path().join("back");
    s3().args(["download", "-r", &copied, back.to_str().unwrap()])
        .assert()
        .success();
    assert_eq!(
        std::fs::read(back.join("a/inner.bin")).unwrap(),
        synthetic(70_000, 9)
    );
    assert_eq!(std::fs::read(back.join("top.bin")).unwrap(), b"top");

    // One object, one range, to a file.
    let part = dir.path().join("part.bin");
    s3().args([
        "download",
        &format!("{copied}a/inner.bin"),
        part.to_str().unwrap(),
        "--offset",
        "1",
        "--length",
        "10",
    ])
    .assert()
    .success();
    assert_eq!(std::fs::read(&part).unwrap(), synthetic(70_000, 9)[1..11]);

    // cp local file -> s3 object, and s3 object -> file:// URI.
    let one = format!("{bucket}/one.bin");
    s3().args(["cp", dir.path().join("src/top.bin").to_str().unwrap(), &one])
        .assert()
        .success();
    let local = format!("{}/one-back.bin", file_uri(dir.path()));
    s3().args(["cp", &one, &local]).assert().success();
    assert_eq!(std::fs::read(dir.path().join("one-back.bin")).unwrap(), b"top");
}

#[test]
fn buckets_deletes_and_exit_codes() {
    let Some((bucket, s3)) = bucket() else { return };
    let listed = stdout_of(s3().args(["list-buckets", "s3://"]));
    assert!(listed.lines().any(|l| l == format!("{bucket}/")), "{listed}");

    let prefix = format!("{bucket}/p/");
    s3().args(["put", &prefix, "-n", "12", "-s", "1k", "-t", "k{}"])
        .assert()
        .success();
    s3().args(["rm", "-r", "--pattern", "^k1", &prefix])
        .assert()
        .success()
        .stdout(predicate::str::contains("rm: 3 objects")); // k1, k10, k11
    s3().args(["stat", &format!("{prefix}k1")]).assert().code(3);
    s3().args(["stat", &format!("{prefix}k2")]).assert().success();

    s3().env("AWS_SECRET_ACCESS_KEY", "not-the-secret")
        .args(["ls", &prefix])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("credentials"));

    s3().args(["rm", "-r", &format!("{bucket}/")]).assert().success();
    s3().args(["rb", &bucket]).assert().success();
    s3().args(["ls", &format!("{bucket}/")]).assert().code(3);
    let listed = stdout_of(s3().args(["list-buckets", "s3://"]));
    assert!(!listed.contains(&bucket), "{listed}");
}

/// One file that cannot be written exits with its cause's code, the same on `upload`
/// and `cp` (issue 17: `upload` used to exit 5, "some objects failed", for every cause).
#[test]
fn one_failed_file_exits_with_its_cause_on_upload_and_cp() {
    let Some((bucket, s3)) = bucket() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("one.bin");
    std::fs::write(&file, b"payload").unwrap();
    let (src, dst) = (file.to_str().unwrap(), format!("{bucket}/one.bin"));
    for command in ["upload", "cp"] {
        s3().env("AWS_SECRET_ACCESS_KEY", "not-the-secret")
            .args([command, src, &dst])
            .assert()
            .code(4)
            .stderr(predicate::str::contains("credentials"));
        common::cli()
            .args(["--endpoint-url", "http://127.0.0.1:1", command, src, &dst])
            .env("S3DLIO_RETRY_MAX_ATTEMPTS", "1")
            .assert()
            .code(1)
            .stderr(predicate::str::contains("could not reach"));
    }
    s3().args(["stat", &dst]).assert().code(3);
}

#[test]
fn bench_runs_against_s3() {
    let Some((bucket, s3)) = bucket() else { return };
    let out = ok_bytes(s3().args([
        "--json",
        "bench",
        &format!("{bucket}/bench/"),
        "-n",
        "16",
        "-s",
        "256Ki",
        "-j",
        "8",
    ]));
    let report = &json_lines(&out)[0];
    assert_eq!(report["phases"].as_array().unwrap().len(), 6);
    // Nothing left behind: an empty listing exits 1.
    s3().args(["ls", "-r", &format!("{bucket}/bench/")])
        .assert()
        .code(1)
        .stdout("");
}
