//! The commands against fake-gcs-server (`cargo xtask emulators up`), through the same
//! `store_for_uri` path as every other scheme.

mod common;

use common::{file_uri, gcs_cli, objects_round_trip, stdout_of, synthetic, unique};
use predicates::prelude::*;

#[test]
fn buckets_objects_copies_and_exit_codes() {
    let Some(_) = gcs_cli() else { return };
    let gs = || gcs_cli().expect("server checked above");
    let bucket = format!("gs://{}", unique("cli"));
    gs().args(["mb", &bucket]).assert().success();
    let listed = stdout_of(gs().args(["list-buckets", "gs://"]));
    assert!(listed.lines().any(|l| l == format!("{bucket}/")), "{listed}");

    // Three small objects and one larger than a chunk (a resumable upload).
    let prefix = format!("{bucket}/data/");
    objects_round_trip(gs, &prefix);
    let big = synthetic(20 << 20, 0);

    // Within the service (a rewrite), then to local files.
    let copied = format!("{bucket}/copied/");
    gs().args(["cp", "-r", &prefix, &copied])
        .assert()
        .success()
        .stdout(predicate::str::contains("cp: 4 objects"));
    let dir = tempfile::tempdir().unwrap();
    let local = format!("{}/big.bin", file_uri(dir.path()));
    gs().args(["cp", &format!("{copied}big.bin"), &local])
        .assert()
        .success();
    assert!(std::fs::read(dir.path().join("big.bin")).unwrap() == big);

    gs().args(["stat", &format!("{prefix}missing")]).assert().code(3);
    gs().args(["rb", &bucket])
        .assert()
        .failure()
        .stderr(predicate::str::contains("not empty"));
    gs().args(["rm", "-r", &format!("{bucket}/")]).assert().success();
    gs().args(["rb", &bucket]).assert().success();
    gs().args(["ls", &format!("{bucket}/")]).assert().code(3);
}
