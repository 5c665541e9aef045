//! `s3-cli` through the fault proxy (issue 17), against the memory S3 server in the test
//! process: each fault ends the command with the documented exit code, a message naming
//! the URI, within the documented time, and nothing half-written (no mixed file, no
//! visible object, no open multipart upload).

mod common;

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::TryStreamExt;
use s3dlio::{ObjectStore, ObjectStoreExt};
use s3dlio_faultproxy::{Fault, Proxy, Rule};

const KEY: &str = "cli-fault-key";
const SECRET: &str = "cli-fault-secret";
const SIZE: usize = 1 << 20;

fn content(seed: u8, size: usize) -> Bytes {
    Bytes::from((0..size).map(|i| (i % 251) as u8 ^ seed).collect::<Vec<u8>>())
}

/// The memory S3 server with a proxy in front; `direct` writes and checks behind the
/// proxy's back, so its rules and records see only the CLI.
struct Setup {
    rt: tokio::runtime::Runtime,
    server: Option<s3dlio_memserver::Server>,
    proxy: Option<Proxy>,
    direct: s3dlio::s3::S3Store,
}

impl Setup {
    fn new(bucket: &str) -> Setup {
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
        let direct = s3dlio::s3::S3Store::new(
            s3dlio::s3::S3Config::default()
                .with_endpoint(server.endpoint())
                .with_region("us-east-1")
                .with_credentials(KEY, SECRET),
        );
        rt.block_on(direct.create_container(&format!("s3://{bucket}")))
            .unwrap();
        Setup {
            rt,
            server: Some(server),
            proxy: Some(proxy),
            direct,
        }
    }

    fn proxy(&self) -> &Proxy {
        self.proxy.as_ref().unwrap()
    }

    /// `s3-cli ARGS` through the proxy, reading in 256 KiB chunks one at a time, with
    /// `env` on top.
    fn spawn(&self, args: &[&str], env: &[(&str, &str)]) -> Child {
        Command::new(assert_cmd::cargo::cargo_bin("s3-cli"))
            .args(["--quiet", "--endpoint-url", &self.proxy().endpoint()])
            .args(args)
            .env_remove("RUST_LOG")
            .env("AWS_ACCESS_KEY_ID", KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("AWS_REGION", "us-east-1")
            .env("S3DLIO_RANGE_CHUNK_SIZE", "262144")
            .env("S3DLIO_RANGE_THRESHOLD", "262144")
            .env("S3DLIO_RANGE_CONCURRENCY", "1")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> (Output, Duration) {
        let started = Instant::now();
        let out = self.spawn(args, env).wait_with_output().unwrap();
        (out, started.elapsed())
    }

    fn put(&self, uri: &str, data: Bytes) {
        self.rt.block_on(self.direct.put(uri, data)).unwrap();
    }

    fn faults_hit(&self) -> usize {
        self.proxy().seen().iter().filter(|s| s.fault.is_some()).count()
    }

    /// Multipart uploads open in `bucket`, as the server lists them.
    fn open_uploads(&self, bucket: &str) -> usize {
        let listed: Vec<_> = self
            .rt
            .block_on(self.direct.list_uploads(&format!("s3://{bucket}/")).try_collect())
            .unwrap();
        listed.len()
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        drop(self.proxy.take());
        if let Some(server) = self.server.take() {
            self.rt.block_on(server.stop());
        }
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The object is replaced while its second chunk is in flight: `get -r`, `download -r`
/// and `cp -r` exit 1 with "changed" on stderr and leave no file, hidden partials included.
#[test]
fn an_object_replaced_mid_transfer_fails_every_recursive_command_and_writes_nothing() {
    let s = Setup::new("moving");
    let uri = "s3://moving/p/object.bin";
    let commands: [&[&str]; 3] = [&["get", "-r"], &["download", "-r"], &["cp", "-r"]];
    for (n, command) in commands.into_iter().enumerate() {
        s.put(uri, content(n as u8, SIZE));
        s.proxy().clear();
        // The second chunk waits at the proxy while the object is replaced.
        s.proxy().add(
            Rule::new(Fault::Latency(Duration::from_millis(800)))
                .method(http::Method::GET)
                .skip(1)
                .times(1),
        );
        let dest = tempfile::tempdir().unwrap();
        let mut args: Vec<&str> = command.to_vec();
        args.push("s3://moving/p/");
        if command[0] != "get" {
            args.push(dest.path().to_str().unwrap());
        }
        let child = s.spawn(&args, &[]);
        std::thread::sleep(Duration::from_millis(400));
        s.put(uri, content(100 + n as u8, SIZE));
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{command:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("changed"), "{command:?}: {}", stderr(&out));
        assert!(s.faults_hit() > 0, "{command:?}: the delayed chunk was requested");
        let written: Vec<_> = walk(dest.path());
        assert!(written.is_empty(), "{command:?} left {written:?}");
    }
}

/// The commit of a multipart upload (CompleteMultipartUpload) answers 500 on every try:
/// `put`, `upload` and `cp` exit 1 naming the URI, and leave no object and no open upload.
#[test]
fn a_failing_commit_exits_1_on_every_upload_command_and_leaves_nothing() {
    let s = Setup::new("commit");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.bin");
    std::fs::write(&file, content(7, 12 << 20)).unwrap();
    let file = file.to_str().unwrap();
    let part = [("S3DLIO_MULTIPART_PART_SIZE", "5242880")];
    let commands: [(&[&str], &str); 3] = [
        (
            &["put", "s3://commit/put/", "--num", "1", "--size", "12582912"],
            "s3://commit/put/object_0_of_1.dat",
        ),
        (
            &["upload", file, "s3://commit/upload/"],
            "s3://commit/upload/big.bin",
        ),
        (&["cp", file, "s3://commit/cp.bin"], "s3://commit/cp.bin"),
    ];
    for (args, uri) in commands {
        s.proxy().clear();
        s.proxy().add(
            Rule::new(Fault::Status(500))
                .method(http::Method::POST)
                .query("uploadId"),
        );
        let (out, _) = s.run(args, &part);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(uri), "{args:?}: {}", stderr(&out));
        assert!(s.faults_hit() > 0, "{args:?}: the commit was hit");
        let listed = s.rt.block_on(s.direct.list("s3://commit/", true)).unwrap();
        assert!(listed.is_empty(), "{args:?} left {listed:?}");
        assert_eq!(s.open_uploads("commit"), 0, "{args:?}: the upload was aborted");
    }
}

/// Every request answers 503: `get` gives up within the retry budget, exit 1, naming the
/// URI; a stalled body ends at the idle timeout, exit 1, "timed out".
#[test]
fn a_503_storm_and_a_stall_end_get_within_their_budgets_with_exit_1() {
    let s = Setup::new("storm");
    let uri = "s3://storm/object";
    s.put(uri, content(1, SIZE));
    s.proxy().add(Rule::new(Fault::Status(503)));
    let (out, took) = s.run(
        &["get", uri],
        &[
            ("S3DLIO_RETRY_MAX_ATTEMPTS", "1000"),
            ("S3DLIO_RETRY_MAX_ELAPSED_MS", "1500"),
            ("S3DLIO_RETRY_INITIAL_BACKOFF_MS", "20"),
            ("S3DLIO_RETRY_MAX_BACKOFF_MS", "100"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(uri), "{}", stderr(&out));
    // The budget plus the process's start and one last backoff.
    assert!(took < Duration::from_millis(2500), "{took:?}");

    s.proxy().clear();
    s.proxy()
        .add(Rule::new(Fault::StallAfter(64 << 10)).method(http::Method::GET));
    let (out, took) = s.run(
        &["get", uri],
        &[
            ("S3DLIO_S3_IDLE_TIMEOUT_MS", "2000"),
            ("S3DLIO_RETRY_MAX_ATTEMPTS", "1"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("timed out"), "{}", stderr(&out));
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_millis(2200) + Duration::from_millis(300),
        "{took:?}: the idle timeout, plus the process's start"
    );
}

/// A listed key with `..` segments would land outside a local destination: `download -r`
/// and `cp -r` refuse that one object naming it, copy the others, exit 5 (some objects
/// failed), and write nothing outside the destination.
#[test]
fn keys_with_dot_dot_segments_never_land_outside_a_local_destination() {
    let s = Setup::new("escape");
    s.put("s3://escape/p/ok.bin", content(1, 1000));
    s.put("s3://escape/p/../../escaped.bin", content(2, 1000));
    for command in ["download", "cp"] {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("a/b");
        std::fs::create_dir_all(&dest).unwrap();
        let (out, _) = s.run(&[command, "-r", "s3://escape/p/", dest.to_str().unwrap()], &[]);
        assert_eq!(out.status.code(), Some(5), "{command}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("outside the destination") && stderr(&out).contains("escaped.bin"),
            "{command}: {}",
            stderr(&out)
        );
        assert_eq!(walk(root.path()), vec![dest.join("ok.bin")], "{command}");
    }
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

/// `upload --journal-dir`: a run whose third part fails for good exits 1 and keeps its
/// upload (listed by `s3-cli uploads`); the same command again sends only the parts the
/// server lacks and the object is byte-identical. `uploads --abort --older-than` keeps
/// young uploads and `uploads --abort` clears them.
#[test]
fn an_upload_with_a_journal_resumes_where_it_failed_and_stale_uploads_are_aborted() {
    let s = Setup::new("resume");
    let dir = tempfile::tempdir().unwrap();
    let journals = dir.path().join("journals");
    let part = 5usize << 20;
    let data = content(3, 4 * part + 777);
    let file = dir.path().join("big.bin");
    std::fs::write(&file, &data).unwrap();
    let (file, journals) = (file.to_str().unwrap(), journals.to_str().unwrap());
    let env = [
        ("S3DLIO_MULTIPART_PART_SIZE", "5242880"),
        ("S3DLIO_MULTIPART_IN_FLIGHT", "1"),
        ("S3DLIO_RETRY_MAX_ATTEMPTS", "1"),
    ];
    let args = ["upload", "--journal-dir", journals, file, "s3://resume/"];
    let is_part =
        |seen: &s3dlio_faultproxy::Seen| seen.method == "PUT" && seen.target.contains("partNumber=");
    s.proxy().add(
        Rule::new(Fault::Status(500))
            .method(http::Method::PUT)
            .query("partNumber=3"),
    );
    let (out, _) = s.run(&args, &env);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        s.open_uploads("resume"),
        1,
        "the failed journaled upload stays open"
    );
    let listed = s.run(&["uploads", "s3://resume/"], &[]).0;
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));

    s.proxy().clear();
    let (out, _) = s.run(&args, &env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let sent: Vec<String> = s
        .proxy()
        .seen()
        .into_iter()
        .filter(|x| is_part(x))
        .map(|x| x.target)
        .collect();
    assert_eq!(sent.len(), 3, "parts 3, 4 and 5 only: {sent:?}");
    let got = s.rt.block_on(s.direct.get("s3://resume/big.bin")).unwrap();
    assert!(got == data, "byte-identical");
    assert_eq!(s.open_uploads("resume"), 0);
    assert_eq!(
        std::fs::read_dir(journals).unwrap().count(),
        0,
        "no journal is left"
    );

    // A failed upload nobody resumes: kept while young, aborted on request.
    s.proxy().add(
        Rule::new(Fault::Status(500))
            .method(http::Method::PUT)
            .query("partNumber=2"),
    );
    assert_eq!(s.run(&args, &env).0.status.code(), Some(1));
    s.proxy().clear();
    let young = s
        .run(&["uploads", "--abort", "--older-than", "1h", "s3://resume/"], &[])
        .0;
    assert_eq!(young.status.code(), Some(0), "{}", stderr(&young));
    assert_eq!(s.open_uploads("resume"), 1, "an upload seconds old is not stale");
    let all = s.run(&["uploads", "--abort", "s3://resume/"], &[]).0;
    assert_eq!(all.status.code(), Some(0), "{}", stderr(&all));
    assert_eq!(s.open_uploads("resume"), 0);
}
