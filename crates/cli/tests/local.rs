//! Every command end to end against file:// and memory:// (no server needed).

mod common;

use std::io::Read;
use std::process::Stdio;

use common::{cli, file_uri, json_lines, ok_bytes, stdout_of, synthetic};
use predicates::prelude::*;
use tempfile::TempDir;

const SIZE: u64 = 100_000;

/// A directory holding `n` synthetic objects under `data/`, written by `s3-cli put`.
fn populated(n: u64) -> (TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("{}/data/", file_uri(dir.path()));
    cli()
        .args(["put", &prefix, "-n", &n.to_string(), "-s", &SIZE.to_string()])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("put: {n} objects")));
    (dir, prefix)
}

#[test]
fn put_writes_the_generators_bytes_under_the_template() {
    let (dir, _) = populated(3);
    for i in 0..3 {
        let path = dir.path().join(format!("data/object_{i}_of_3.dat"));
        assert_eq!(
            std::fs::read(&path).unwrap(),
            synthetic(SIZE, i),
            "{}",
            path.display()
        );
    }
    // Sizes down to one byte are exact.
    let one = format!("{}/one/", file_uri(dir.path()));
    cli()
        .args(["put", &one, "-s", "1", "-t", "tiny"])
        .assert()
        .success();
    assert_eq!(std::fs::read(dir.path().join("one/tiny")).unwrap().len(), 1);
}

#[test]
fn put_writes_files_their_readers_parse_and_refuses_hdf5() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("{}/typed/", file_uri(dir.path()));
    for kind in ["npz", "tfrecord", "parquet", "NPZ"] {
        cli()
            .args(["put", &prefix, "-o", kind, "-s", "300Ki", "-t", kind])
            .assert()
            .success();
    }
    // NPZ: a ZIP (stored members) of x.npy holding 300 Ki / 4 float32 values.
    let npz = std::fs::read(dir.path().join("typed/npz")).unwrap();
    assert!(
        npz.starts_with(b"PK\x03\x04") && npz.len() > 300 * 1024,
        "{}",
        npz.len()
    );
    assert_eq!(npz, std::fs::read(dir.path().join("typed/NPZ")).unwrap());
    // TFRecord: 5 records of up to 64 KiB, each framed by its length.
    let tfr = std::fs::read(dir.path().join("typed/tfrecord")).unwrap();
    let (mut at, mut records) = (0, 0);
    while at < tfr.len() {
        at += 16 + u64::from_le_bytes(tfr[at..at + 8].try_into().unwrap()) as usize;
        records += 1;
    }
    assert_eq!((at, records), (tfr.len(), 5));
    // Parquet: one Float32 column of 300 Ki / 4 rows, read back through its footer.
    let uri = format!("{prefix}parquet");
    let footer = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = s3dlio::store_for_uri(&uri).unwrap();
        s3dlio::parquet::Footer::fetch(&*store, &uri, 1 << 20)
            .await
            .unwrap()
    });
    let file = footer.metadata.file_metadata();
    assert_eq!(
        (file.schema_descr().num_columns(), file.num_rows()),
        (1, 300 * 1024 / 4)
    );

    let out = cli().args(["put", &prefix, "-o", "hdf5"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("libhdf5"));
}

#[test]
fn wildcards_select_objects_and_nothing_matched_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let root = file_uri(dir.path());
    for key in ["d/a.npz", "d/b.npz", "d/c.bin", "d/sub/e.npz", "d/sub/deep/f.npz"] {
        let path = dir.path().join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, key).unwrap();
    }
    let lines = |args: &[&str]| {
        let mut v: Vec<String> = stdout_of(cli().args(args)).lines().map(str::to_string).collect();
        v.sort();
        v
    };
    // `*` and `?` stay within one level; `**` crosses levels.
    assert_eq!(
        lines(&["ls", &format!("{root}/d/*.npz")]),
        [format!("{root}/d/a.npz"), format!("{root}/d/b.npz")]
    );
    assert_eq!(
        lines(&["ls", &format!("{root}/d/?.bin")]),
        [format!("{root}/d/c.bin")]
    );
    assert_eq!(lines(&["ls", &format!("{root}/d/**/*.npz")]).len(), 4);
    assert_eq!(
        lines(&["ls", &format!("{root}/d/*/*.npz")]),
        [format!("{root}/d/sub/e.npz")]
    );
    // Nothing matched: a message and exit 1, on ls, get, cp, download and rm.
    for cmd in [
        vec!["ls", "WILD"],
        vec!["get", "WILD"],
        vec!["cp", "WILD", "OUT/"],
        vec!["download", "WILD", "OUT/"],
        vec!["rm", "WILD"],
    ] {
        let args: Vec<String> = (cmd.iter())
            .map(|a| {
                a.replace("WILD", &format!("{root}/d/*.csv"))
                    .replace("OUT", &format!("{root}/out"))
            })
            .collect();
        cli()
            .args(&args)
            .assert()
            .code(1)
            .stderr(predicate::str::contains("nothing matched").and(predicate::str::contains("*.csv")));
    }
    // cp of a prefix needs -r; a wildcard copies what it names, keeping relative keys.
    cli()
        .args(["cp", &format!("{root}/d/"), &format!("{root}/out/")])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("-r"));
    cli()
        .args(["cp", &format!("{root}/d/**/*.npz"), &format!("{root}/out/")])
        .assert()
        .success();
    assert_eq!(
        std::fs::read(dir.path().join("out/sub/deep/f.npz")).unwrap(),
        b"d/sub/deep/f.npz"
    );
    assert!(!dir.path().join("out/c.bin").exists());
    // --dry-run lists what would happen and changes nothing.
    let plan = stdout_of(cli().args(["rm", "--dry-run", &format!("{root}/d/*.npz")]));
    assert!(
        plan.contains("would delete") && plan.contains("dry run: 2 objects"),
        "{plan}"
    );
    let plan = stdout_of(cli().args([
        "cp",
        "--dry-run",
        "-r",
        &format!("{root}/d/"),
        &format!("{root}/copy/"),
    ]));
    assert!(
        plan.contains("dry run: 5 objects") && !dir.path().join("copy").exists(),
        "{plan}"
    );
    let plan = stdout_of(cli().args(["rm", "--dry-run", &format!("{root}/d/c.bin")]));
    assert!(plan.contains("would delete") && dir.path().join("d/c.bin").exists());
    // rm of a wildcard deletes exactly what it names; rm of a missing key is not found.
    cli().args(["rm", &format!("{root}/d/*.npz")]).assert().success();
    assert_eq!(lines(&["ls", "-r", &format!("{root}/d/")]).len(), 3);
    let missing = cli().args(["rm", &format!("{root}/d/a.npz")]).assert().code(3);
    let said = String::from_utf8_lossy(&missing.get_output().stderr).into_owned();
    assert!(
        said.contains(&format!("delete {root}/d/a.npz: not found")),
        "names the operation asked for: {said}"
    );
}

#[test]
fn bench_runs_a_timed_mix_with_a_sweep_as_csv_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("{}/b/", file_uri(dir.path()));
    // Equal weights over a whole second: every operation runs even on a loaded machine.
    let csv = stdout_of(cli().args([
        "bench",
        &prefix,
        "-n",
        "20",
        "-s",
        "4Ki",
        "--duration",
        "1s",
        "--warmup",
        "50ms",
        "--mix",
        "get=1,put=1,stat=1,delete=1",
        "--concurrency",
        "1,4",
        "--csv",
    ]));
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("size,concurrency,repeat,op,ops,bytes,seconds,ops_per_s,mb_per_s,p50_ms,p90_ms,p99_ms,p999_ms")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').skip(1).collect()).collect();
    // One row per operation of the mix, for each point of the sweep.
    let keys: Vec<(&str, &str)> = rows.iter().map(|r| (r[0], r[2])).collect();
    assert_eq!(
        keys,
        [
            ("1", "get"),
            ("1", "put"),
            ("1", "stat"),
            ("1", "delete"),
            ("4", "get"),
            ("4", "put"),
            ("4", "stat"),
            ("4", "delete")
        ]
    );
    for r in &rows {
        assert!(r[3].parse::<u64>().unwrap() > 0, "every operation ran: {r:?}");
        if r[2] == "get" {
            assert_eq!(r[4].parse::<u64>().unwrap(), r[3].parse::<u64>().unwrap() * 4096);
        }
    }
    // Nothing left behind.
    assert!(std::fs::read_dir(dir.path().join("b")).unwrap().next().is_none());
    // Mixed-workload flags without --duration are refused, not ignored.
    cli()
        .args(["bench", &prefix, "--repeat", "3"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--duration"));
    cli()
        .args(["bench", &prefix, "--duration", "1s", "--mix", "get=1,scan=2"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("scan"));
}

/// `--size` lists and doubling ranges give one pool and one result set per size, in both
/// modes; each row's bytes are its operations times its size.
#[test]
fn bench_sweeps_object_sizes() {
    let out = ok_bytes(cli().args([
        "--json",
        "bench",
        "memory://sweep/",
        "-n",
        "3",
        "-s",
        "1Ki..4Ki",
        "-j",
        "2",
    ]));
    let reports = json_lines(&out);
    let sizes: Vec<u64> = reports
        .iter()
        .map(|r| r["object_size"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, [1024, 2048, 4096]);
    for r in &reports {
        assert_eq!(r["phases"][1]["op"], "get");
        assert_eq!(r["phases"][1]["bytes"], 3 * r["object_size"].as_u64().unwrap());
    }
    let csv = stdout_of(cli().args([
        "bench",
        "memory://sweep/",
        "-n",
        "4",
        "-s",
        "1Ki,3Ki",
        "--duration",
        "200ms",
        "--mix",
        "get=1,put=1",
        "--csv",
    ]));
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
    let keys: Vec<(&str, &str)> = rows.iter().map(|r| (r[0], r[3])).collect();
    assert_eq!(
        keys,
        [("1024", "get"), ("1024", "put"), ("3072", "get"), ("3072", "put")]
    );
    for r in &rows {
        let (size, ops, bytes): (u64, u64, u64) = (
            r[0].parse().unwrap(),
            r[4].parse().unwrap(),
            r[5].parse().unwrap(),
        );
        assert!(ops > 0, "{r:?}");
        assert_eq!(bytes, ops * size, "{r:?}");
    }
}

/// `--existing` reads what is under the prefix (empty objects left out) and changes
/// nothing; `--keys sequential` walks it in key order; writing flags are refused.
#[test]
fn bench_reads_existing_objects_in_key_order_and_writes_nothing() {
    let (dir, prefix) = populated(5);
    std::fs::write(dir.path().join("data/empty"), b"").unwrap();
    let before = stdout_of(cli().args(["ls", "-r", "-l", &prefix]));

    let out = ok_bytes(cli().args(["--json", "bench", "--existing", &prefix, "-j", "2"]));
    let report = &json_lines(&out)[0];
    let phases: Vec<(&str, u64, u64)> = (report["phases"].as_array().unwrap().iter())
        .map(|p| {
            (
                p["op"].as_str().unwrap(),
                p["objects"].as_u64().unwrap(),
                p["bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        phases,
        [
            ("get", 5, 5 * SIZE),
            ("get-range", 5, 5 * 65536),
            ("stat", 5, 0),
            ("list", 6, 0)
        ]
    );

    let log = dir.path().join("ops.tsv.zst");
    let args = ["--duration", "300ms", "-j", "1", "--keys", "sequential", "--csv"];
    cli()
        .args(["--op-log", log.to_str().unwrap(), "bench", "--existing", &prefix])
        .args(args)
        .assert()
        .success();
    let text = String::from_utf8(zstd::decode_all(std::fs::File::open(&log).unwrap()).unwrap()).unwrap();
    let gets: Vec<String> = (text.lines().skip(1).map(|l| l.split('\t').collect::<Vec<_>>()))
        .filter(|r| r[2] == "GET")
        .map(|r| r[7].to_string())
        .collect();
    assert!(gets.len() >= 10, "{text}");
    let order: Vec<String> = (0..10)
        .map(|i| format!("{prefix}object_{}_of_5.dat", i % 5))
        .collect();
    assert_eq!(gets[..10], order[..]);
    assert_eq!(stdout_of(cli().args(["ls", "-r", "-l", &prefix])), before);

    for refused in [
        &["--duration", "1s", "--mix", "get=1,put=1"][..],
        &["-s", "1Ki"],
        &["--keep"],
    ] {
        cli()
            .args(["bench", "--existing", &prefix])
            .args(refused)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("--existing"));
    }
    let empty = format!("{}/nothing/", file_uri(dir.path()));
    std::fs::create_dir(dir.path().join("nothing")).unwrap();
    cli()
        .args(["bench", "--existing", &empty])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("nothing matched"));
}

#[test]
fn ls_lists_one_level_or_all_with_patterns_counts_and_json() {
    let (dir, prefix) = populated(5);
    std::fs::create_dir_all(dir.path().join("data/sub")).unwrap();
    std::fs::write(dir.path().join("data/sub/inner.bin"), b"x").unwrap();

    let flat = stdout_of(cli().args(["ls", &prefix]));
    assert_eq!(flat.lines().count(), 6, "{flat}");
    assert!(flat.contains(&format!("{prefix}sub/")));

    let deep = stdout_of(cli().args(["ls", "-r", &prefix]));
    assert_eq!(deep.lines().count(), 6);
    assert!(deep.contains(&format!("{prefix}sub/inner.bin")));

    let matched = stdout_of(cli().args(["ls", "-r", "--pattern", r"^object_[13]_", &prefix]));
    assert_eq!(matched.lines().collect::<Vec<_>>().len(), 2, "{matched}");

    let count = stdout_of(cli().args(["ls", "-r", "--count-only", &prefix]));
    assert_eq!(count.trim(), "6");

    let long = stdout_of(cli().args(["ls", "-l", &prefix]));
    assert!(
        long.lines()
            .any(|l| l.trim_start().starts_with(&SIZE.to_string())),
        "{long}"
    );

    let out = ok_bytes(cli().args(["--json", "ls", "-r", &prefix]));
    let entries = json_lines(&out);
    assert_eq!(entries.len(), 6);
    assert!(entries.iter().filter(|e| e["size"] == SIZE).count() == 5);

    cli()
        .args(["ls", "--pattern", "([", &prefix])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--pattern"));
}

#[test]
fn stat_prints_aligned_fields_or_json() {
    let (_dir, prefix) = populated(1);
    let uri = format!("{prefix}object_0_of_1.dat");
    let text = stdout_of(cli().args(["stat", &uri]));
    assert!(text.contains(&format!("size          : {SIZE}")), "{text}");
    let out = ok_bytes(cli().args(["stat", "--json", &uri]));
    let v = &json_lines(&out)[0];
    assert_eq!(v["size"], SIZE);
    assert_eq!(v["uri"], uri.as_str());
    cli()
        .args(["stat", &format!("{prefix}missing")])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("stat").and(predicate::str::contains("missing")));
}

#[test]
fn get_reads_exact_ranges_and_whole_prefixes() {
    let (_dir, prefix) = populated(4);
    let uri = format!("{prefix}object_2_of_4.dat");
    let out = stdout_of(cli().args(["get", &uri, "--offset", "1000", "--length", "5000"]));
    assert!(out.contains("bytes 1000..6000: 5000 bytes"), "{out}");
    // A length past the end is clamped to the object.
    let out = stdout_of(cli().args(["get", &uri, "--offset", "99000", "--length", "5000"]));
    assert!(out.contains("bytes 99000..100000: 1000 bytes"), "{out}");

    let out = ok_bytes(cli().args(["--json", "get", "-r", &prefix]));
    let summary = &json_lines(&out)[0];
    assert_eq!(summary["objects"], 4);
    assert_eq!(summary["bytes"], 4 * SIZE);

    cli()
        .args(["get", &prefix, "--offset", "5"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--offset/--length"));
    // A prefix is read with -r (or a wildcard), never by accident.
    cli()
        .args(["get", &prefix])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is a prefix"));
    cli()
        .args(["get", &uri, "--offset", "200000"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("past the end"));
}

#[test]
fn a_keylist_with_a_missing_object_is_a_partial_failure() {
    let (dir, prefix) = populated(3);
    let keylist = dir.path().join("keys.txt");
    std::fs::write(
        &keylist,
        format!("object_0_of_3.dat\n# comment\n{prefix}object_1_of_3.dat\nnot-there.dat\n"),
    )
    .unwrap();
    let out = cli()
        .args(["--json", "get", &prefix, "--keylist", keylist.to_str().unwrap()])
        .assert()
        .code(5)
        .stderr(predicate::str::contains("not-there.dat"))
        .get_output()
        .stdout
        .clone();
    let summary = &json_lines(&out)[0];
    assert_eq!(summary["objects"], 2);
    assert_eq!(summary["failed"], 1);
}

#[test]
fn download_writes_exactly_the_range_and_never_a_partial_file() {
    let (dir, prefix) = populated(2);
    let uri = format!("{prefix}object_1_of_2.dat");
    let dest = dir.path().join("out/range.bin");
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    cli()
        .args([
            "download",
            &uri,
            dest.to_str().unwrap(),
            "--offset",
            "123",
            "--length",
            "4567",
        ])
        .assert()
        .success();
    assert_eq!(std::fs::read(&dest).unwrap(), synthetic(SIZE, 1)[123..123 + 4567]);

    // Into a directory: the object's name is kept.
    let into = dir.path().join("out");
    cli()
        .args(["download", &uri, into.to_str().unwrap()])
        .assert()
        .success();
    assert_eq!(
        std::fs::read(into.join("object_1_of_2.dat")).unwrap(),
        synthetic(SIZE, 1)
    );

    // A failed download leaves nothing under the final name, and no temporary files.
    let failed = dir.path().join("out/failed.bin");
    cli()
        .args(["download", &format!("{prefix}missing"), failed.to_str().unwrap()])
        .assert()
        .code(3);
    assert!(!failed.exists());
    let names: Vec<String> = std::fs::read_dir(&into)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn download_and_cp_of_a_prefix_keep_the_key_hierarchy() {
    let (dir, prefix) = populated(3);
    std::fs::create_dir_all(dir.path().join("data/a/b")).unwrap();
    std::fs::write(dir.path().join("data/a/b/deep.bin"), b"deep").unwrap();
    let dest = dir.path().join("copy");
    cli()
        .args(["download", "-r", &prefix, dest.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("download: 4 objects"));
    assert_eq!(std::fs::read(dest.join("a/b/deep.bin")).unwrap(), b"deep");
    assert_eq!(
        std::fs::read(dest.join("object_2_of_3.dat")).unwrap(),
        synthetic(SIZE, 2)
    );

    // cp of a local directory (a path, not a URI) to another file:// prefix.
    let again = format!("{}/again/", file_uri(dir.path()));
    cli()
        .args(["cp", "-r", dest.to_str().unwrap(), &again])
        .assert()
        .success();
    assert_eq!(
        std::fs::read(dir.path().join("again/a/b/deep.bin")).unwrap(),
        b"deep"
    );
    cli()
        .args(["cp", dest.to_str().unwrap(), &again])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("-r"));
}

#[test]
fn cat_streams_exact_bytes_and_stops_quietly_on_a_closed_pipe() {
    let (_dir, prefix) = populated(1);
    let uri = format!("{prefix}object_0_of_1.dat");
    let out = ok_bytes(cli().args(["cat", &uri, "--offset", "10", "--length", "16"]));
    assert_eq!(out, synthetic(SIZE, 0)[10..26]);
    let whole = ok_bytes(cli().args(["cat", &uri]));
    assert_eq!(whole, synthetic(SIZE, 0));

    // `s3-cli cat big | head -c 10`: the reader goes away; no error, exit 0.
    let dir = tempfile::tempdir().unwrap();
    let big = format!("{}/big/", file_uri(dir.path()));
    cli()
        .args(["put", &big, "-s", "32Mi", "-t", "big.bin"])
        .assert()
        .success();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("s3-cli"))
        .args(["cat", &format!("{big}big.bin")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0u8; 10];
    child.stdout.take().unwrap().read_exact(&mut head).unwrap(); // dropped: pipe closed
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn upload_takes_files_globs_and_directories() {
    let src = tempfile::tempdir().unwrap();
    for name in ["a.npz", "b.npz", "c.txt"] {
        std::fs::write(src.path().join(name), name.as_bytes()).unwrap();
    }
    std::fs::create_dir_all(src.path().join("tree/x")).unwrap();
    std::fs::write(src.path().join("tree/x/y.bin"), b"y").unwrap();
    let dst = tempfile::tempdir().unwrap();
    let dest = format!("{}/up/", file_uri(dst.path()));

    let glob = format!("{}/*.npz", src.path().display());
    cli()
        .args(["upload", &glob, &dest])
        .assert()
        .success()
        .stdout(predicate::str::contains("upload: 2 objects"));
    assert_eq!(std::fs::read(dst.path().join("up/b.npz")).unwrap(), b"b.npz");
    assert!(!dst.path().join("up/c.txt").exists());

    let tree = src.path().join("tree");
    cli()
        .args(["upload", tree.to_str().unwrap(), &dest])
        .assert()
        .code(2);
    cli()
        .args(["upload", "-r", tree.to_str().unwrap(), &dest])
        .assert()
        .success();
    assert_eq!(std::fs::read(dst.path().join("up/x/y.bin")).unwrap(), b"y");

    // One file to an exact key.
    let exact = format!("{}/renamed.txt", file_uri(dst.path()));
    cli()
        .args(["upload", src.path().join("c.txt").to_str().unwrap(), &exact])
        .assert()
        .success();
    assert_eq!(std::fs::read(dst.path().join("renamed.txt")).unwrap(), b"c.txt");

    cli()
        .args(["upload", src.path().join("nope.bin").to_str().unwrap(), &dest])
        .assert()
        .code(3);
}

#[test]
fn rm_deletes_objects_prefixes_and_patterns() {
    let (dir, prefix) = populated(6);
    cli()
        .args(["rm", &format!("{prefix}object_0_of_6.dat")])
        .assert()
        .success();
    assert!(!dir.path().join("data/object_0_of_6.dat").exists());
    cli()
        .args(["rm", &prefix])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("-r"));
    cli()
        .args(["delete", "-r", "--pattern", r"_[12]_of", &prefix])
        .assert()
        .success()
        .stdout(predicate::str::contains("rm: 2 objects"));
    let left = stdout_of(cli().args(["ls", "-r", &prefix]));
    assert_eq!(left.lines().count(), 3, "{left}");
    cli().args(["rm", "-r", &prefix]).assert().success();
    cli()
        .args(["ls", "-r", &prefix])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("nothing matched"));
}

#[test]
fn buckets_are_directories_on_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = format!("{}/", file_uri(dir.path()));
    let bucket = format!("{root}bucket-a");
    cli().args(["mb", &bucket]).assert().success();
    cli()
        .args(["create-bucket", &format!("{root}bucket-b")])
        .assert()
        .success();
    let listed = stdout_of(cli().args(["list-buckets", &root]));
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        [format!("{bucket}/"), format!("{root}bucket-b/")]
    );
    std::fs::write(dir.path().join("bucket-a/obj"), b"x").unwrap();
    cli()
        .args(["rb", &bucket])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not empty"));
    std::fs::remove_file(dir.path().join("bucket-a/obj")).unwrap();
    cli().args(["delete-bucket", &bucket]).assert().success();
    assert!(!dir.path().join("bucket-a").exists());
}

#[test]
fn bench_runs_every_phase_on_memory_and_file_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    for prefix in [
        "memory://bench/".to_string(),
        format!("{}/bench", file_uri(dir.path())),
    ] {
        let out = ok_bytes(cli().args(["--json", "bench", &prefix, "-n", "20", "-s", "64Ki", "-j", "4"]));
        let report = &json_lines(&out)[0];
        let ops: Vec<&str> = report["phases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["op"].as_str().unwrap())
            .collect();
        assert_eq!(ops, ["put", "get", "get-range", "stat", "list", "delete"]);
        for phase in report["phases"].as_array().unwrap() {
            assert_eq!(phase["objects"], 20, "{phase}");
            assert!(phase["p99_ms"].as_f64().unwrap() >= phase["p50_ms"].as_f64().unwrap());
            assert!(phase["p50_ms"].as_f64().unwrap() > 0.0);
        }
        assert_eq!(report["phases"][1]["bytes"], 20 * 65536);
    }
    // Nothing left behind in the file:// run.
    assert_eq!(std::fs::read_dir(dir.path().join("bench")).unwrap().count(), 0);
    let table = stdout_of(cli().args(["bench", "memory://b2/", "-n", "4", "-s", "1Ki"]));
    assert!(table.contains("p99 ms") && table.contains("get-range"), "{table}");
}

#[test]
fn usage_errors_exit_2_with_a_readable_message() {
    cli().args(["ls"]).assert().code(2);
    cli().args(["frobnicate"]).assert().code(2);
    cli()
        .args(["stat", "ftp://x/y"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("ftp://x/y").and(predicate::str::contains("s3://")));
    cli()
        .args(["put", "memory://b/", "-s", "12x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("size"));
    cli()
        .args(["put", "memory://b/", "-n", "3", "-t", "fixed"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("{}"));
}

#[test]
fn ctrl_c_cancels_an_upload_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("{}/big/", file_uri(dir.path()));
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("s3-cli"))
        .args(["--quiet", "put", &prefix, "-s", "4Gi", "-t", "big.bin"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt mid-upload, while parts are being written on the blocking pool.
    let big = dir.path().join("big");
    let written = || -> u64 {
        std::fs::read_dir(&big).map_or(0, |d| d.map(|e| e.unwrap().metadata().unwrap().len()).sum())
    };
    let started = std::time::Instant::now();
    while written() < 100 << 20 {
        assert!(started.elapsed().as_secs() < 60, "the upload never started");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    let left: Vec<_> = std::fs::read_dir(&big)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// `--op-log FILE` records each operation of the command as one warp TSV row in a zstd
/// file, closed even when the command fails.
#[test]
fn op_log_records_every_operation_of_a_command() {
    let (dir, prefix) = populated(3);
    let log = dir.path().join("ops.tsv.zst");
    cli()
        .args(["--op-log", log.to_str().unwrap(), "get", "-r", &prefix])
        .assert()
        .success();
    let text = String::from_utf8(zstd::decode_all(std::fs::File::open(&log).unwrap()).unwrap()).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().skip(1).map(|l| l.split('\t').collect()).collect();
    let gets: Vec<_> = rows.iter().filter(|r| r[2] == "GET").collect();
    assert_eq!(gets.len(), 3, "{text}");
    assert!(
        gets.iter().all(|r| r[5] == SIZE.to_string() && r[8].is_empty()),
        "{text}"
    );
    assert!(rows.iter().any(|r| r[2] == "LIST"), "{text}");

    let missing = format!("{prefix}missing");
    cli()
        .args(["--op-log", log.to_str().unwrap(), "stat", &missing])
        .assert()
        .code(3);
    let text = String::from_utf8(zstd::decode_all(std::fs::File::open(&log).unwrap()).unwrap()).unwrap();
    let row: Vec<&str> = text.lines().nth(1).unwrap().split('\t').collect();
    assert_eq!((row[2], row[7]), ("STAT", missing.as_str()));
    assert!(!row[8].is_empty(), "the failure is in the row: {text}");
}

/// `replay` issues a recorded `put` again under another prefix: the same objects and
/// sizes appear there.
#[test]
fn replay_reissues_a_recorded_command_under_another_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("put.tsv.zst");
    let src = format!("{}/src/", file_uri(dir.path()));
    cli()
        .args([
            "--op-log",
            log.to_str().unwrap(),
            "put",
            &src,
            "-n",
            "4",
            "-s",
            "1000",
        ])
        .assert()
        .success();
    let dst = format!("{}/dst/", file_uri(dir.path()));
    cli()
        .args(["replay", log.to_str().unwrap(), &dst, "--speed", "0"])
        .assert()
        .success()
        .stdout(predicate::str::contains("PUT").and(predicate::str::contains("4 ops")));
    for i in 0..4 {
        let replayed = dir.path().join(format!("dst/object_{i}_of_4.dat"));
        assert_eq!(
            std::fs::metadata(&replayed).unwrap().len(),
            1000,
            "{}",
            replayed.display()
        );
    }
    cli()
        .args(["replay", log.to_str().unwrap(), &dst, "--speed", "-1"])
        .assert()
        .code(2);
}
