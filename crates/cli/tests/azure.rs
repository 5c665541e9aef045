//! The commands against Azurite (`cargo xtask emulators up`), through the same
//! `store_for_uri` path as every other scheme.

mod common;

use common::{azure_cli, file_uri, objects_round_trip, stdout_of, synthetic, unique};
use predicates::prelude::*;

#[test]
fn containers_objects_copies_and_exit_codes() {
    let Some(_) = azure_cli() else { return };
    let az = || azure_cli().expect("server checked above");
    let account = std::env::var("AZURE_STORAGE_ACCOUNT").unwrap_or_else(|_| "devstoreaccount1".into());
    let container = format!("az://{account}/{}", unique("cli"));
    az().args(["mb", &container]).assert().success();
    let listed = stdout_of(az().args(["list-buckets", &format!("az://{account}/")]));
    assert!(listed.lines().any(|l| l == format!("{container}/")), "{listed}");

    // Three small objects and one larger than a block (staged and committed).
    let prefix = format!("{container}/data/");
    objects_round_trip(az, &prefix);
    let big = synthetic(20 << 20, 0);

    // Within the account (server-side), then to local files.
    let copied = format!("{container}/copied/");
    az().args(["cp", "-r", &prefix, &copied])
        .assert()
        .success()
        .stdout(predicate::str::contains("cp: 4 objects"));
    let dir = tempfile::tempdir().unwrap();
    let local = format!("{}/big.bin", file_uri(dir.path()));
    az().args(["cp", &format!("{copied}big.bin"), &local])
        .assert()
        .success();
    assert!(std::fs::read(dir.path().join("big.bin")).unwrap() == big);

    az().args(["stat", &format!("{prefix}missing")]).assert().code(3);
    az().env("AZURE_STORAGE_KEY", "d3Jvbmcga2V5")
        .args(["ls", &prefix])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("AZURE_STORAGE_KEY"));
    az().args(["rb", &container])
        .assert()
        .failure()
        .stderr(predicate::str::contains("not empty"));
    az().args(["rm", "-r", &format!("{container}/")])
        .assert()
        .success();
    az().args(["rb", &container]).assert().success();
    az().args(["ls", &format!("{container}/")]).assert().code(3);
}
