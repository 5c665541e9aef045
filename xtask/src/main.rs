//! `cargo xtask <command>`: everything a developer runs by hand, in one place.
//!
//! - `test`: formatting, clippy (warnings are errors), the doc tests, then every test of
//!   the workspace (with cargo-nextest when installed, so the run closes on its summary).
//!   This is the README's test command and what `.ci/run` calls.
//! - `lint`: formatting and clippy only.
//! - `bench [memory|file|range] [criterion args]`: the criterion benchmarks
//!   (`docs/performance.md`).
//!
//! Later issues add `emulators` (local S3/Azure/GCS servers) and `wheel` here.

use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => lint().and_then(|()| test()),
        Some("lint") => lint(),
        Some("bench") => bench(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask <test|lint|bench [memory|file|range] [criterion args]>");
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

/// Doc tests first, so the run closes on the main runner's summary line.
fn test() -> Result<()> {
    cargo(&["test", "--workspace", "--all-features", "--doc"])?;
    if has_nextest() {
        cargo(&[
            "nextest",
            "run",
            "--workspace",
            "--all-features",
            "--no-fail-fast",
        ])
    } else {
        cargo(&[
            "test",
            "--workspace",
            "--all-features",
            "--no-fail-fast",
            "--lib",
            "--bins",
            "--tests",
        ])
    }
}

/// Benchmark groups: (name, package, bench target).
const BENCHES: &[(&str, &str, &str)] = &[
    ("memory", "s3dlio-core", "memory_get"),
    ("file", "s3dlio-backend-file", "file_get"),
    ("range", "s3dlio-range-engine", "range"),
];

/// Runs one named group, or all of them; the remaining arguments go to criterion.
fn bench(args: &[String]) -> Result<()> {
    let (chosen, extra): (Vec<_>, &[String]) = match args.first() {
        Some(name) if !name.starts_with('-') => {
            let group = BENCHES
                .iter()
                .find(|(n, ..)| n == name)
                .with_context(|| format!("unknown bench group {name:?}; use memory, file or range"))?;
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

fn has_nextest() -> bool {
    Command::new(cargo_bin())
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn cargo_bin() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn cargo(args: &[&str]) -> Result<()> {
    eprintln!("xtask: cargo {}", args.join(" "));
    let status = Command::new(cargo_bin())
        .args(args)
        .status()
        .with_context(|| format!("could not run cargo {}", args[0]))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}
