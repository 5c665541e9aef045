//! # s3-cli
//!
//! The operator's tool for every s3dlio backend: list, stat, read, download, upload,
//! copy, delete and benchmark objects on `s3://`, `file://`, `direct://` and `memory://`
//! through one code path (`s3dlio::store_for_uri`).
//!
//! ```text
//! s3-cli bench file:///tmp/s3dlio-bench          # write, read, stat, list, delete; one table
//! s3-cli ls -r --pattern '\.npz$' s3://bucket/train/
//! s3-cli get s3://bucket/big.bin --offset 1Mi --length 4Mi
//! s3-cli cp -r s3://bucket/shards/ ./shards/
//! ```

mod args;
mod commands;
mod failure;
mod output;
mod progress;
mod size;
mod target;
mod transfer;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::args::{Cli, Global};

/// Exit code after Ctrl-C (128 + SIGINT), as shells report it.
const INTERRUPTED: u8 = 130;

/// How long an interrupted run waits for the cleanups its cancelled writers scheduled.
/// Best effort: an S3 abort slower than this leaves an invisible multipart upload (never a
/// visible partial object), which a bucket lifecycle rule removes.
const CLEANUP_GRACE: Duration = Duration::from_millis(300);

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.global.verbose);
    let (op_log, endpoints) = match store_options(&cli.global) {
        Ok(options) => {
            let kept = (options.op_log.clone(), options.endpoints.clone());
            commands::init_stores(options);
            kept
        }
        Err(e) => return failure::Failure::from(e).report(),
    };
    let quiet = cli.global.quiet;
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return failure::Failure::Local("starting the async runtime".into(), e).report(),
    };
    let outcome = runtime.block_on(async {
        let outcome = tokio::select! {
            result = commands::run(cli) => Some(result),
            _ = tokio::signal::ctrl_c() => None,
        };
        if outcome.is_none() {
            // The select dropped the command, and with it its writers, whose drop
            // schedules the cleanup (temporary files removed, multipart uploads aborted).
            // A runtime shutting down drops tasks that have not started, so let them start.
            tokio::time::sleep(CLEANUP_GRACE).await;
        }
        // The log is closed even when the command failed: its rows say why.
        let closed = match &op_log {
            Some(log) => log.finish().await.map(drop),
            None => Ok(()),
        };
        match (outcome, closed) {
            (Some(Ok(())), Err(e)) => Some(Err(failure::Failure::from(e))),
            (outcome, Err(e)) => {
                // The command's own failure is the one reported; this one is not lost.
                eprintln!("s3-cli: closing the op-log failed too: {e}");
                outcome
            }
            (outcome, Ok(())) => outcome,
        }
    });
    // Blocking cleanups already running get this long to finish.
    runtime.shutdown_timeout(Duration::from_secs(2));
    if let Some(eps) = endpoints.filter(|_| !quiet) {
        output::endpoint_stats(&eps.stats());
    }
    match outcome {
        Some(Ok(())) => ExitCode::SUCCESS,
        Some(Err(failure)) => failure.report(),
        None => {
            eprintln!("s3-cli: interrupted; unfinished uploads were cancelled");
            ExitCode::from(INTERRUPTED)
        }
    }
}

/// The options every store of this run is made with: the environment's, with the global
/// flags set over them (a flag beats its variable).
fn store_options(global: &Global) -> s3dlio::Result<s3dlio::StoreOptions> {
    let mut options = s3dlio::StoreOptions::from_env()?;
    if global.endpoint_url.is_some() || global.region.is_some() || global.ca_bundle.is_some() {
        let mut s3 = s3dlio::s3::S3Config::from_env()?;
        if let Some(url) = &global.endpoint_url {
            s3 = s3.with_endpoint(url);
        }
        if let Some(region) = &global.region {
            s3 = s3.with_region(region);
        }
        if let Some(path) = &global.ca_bundle {
            s3 = s3.with_ca_bundle_file(path)?;
        }
        options.s3 = Some(s3);
    }
    if let Some(spec) = &global.endpoints {
        let strategy = global.lb_strategy.unwrap_or_default();
        let eps = match spec.strip_prefix('@') {
            Some(file) => s3dlio::endpoints::Endpoints::from_file(file.as_ref(), strategy)?,
            None => s3dlio::endpoints::Endpoints::new(&s3dlio::endpoints::parse_list(spec)?, strategy)?,
        };
        options = options.with_endpoints(std::sync::Arc::new(eps));
    }
    if let Some(path) = &global.op_log {
        let log = s3dlio::oplog::OpLog::create(path, s3dlio::oplog::OpLogOptions::default())?;
        options = options.with_op_log(log);
    }
    Ok(options)
}

/// Crates whose logs stay at warn whatever `-v` says: their info/debug output is
/// per-request noise.
const NOISY: &[&str] = &[
    "aws_config",
    "aws_runtime",
    "aws_sdk_s3",
    "aws_smithy_http_client",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "h2",
    "hyper",
    "hyper_util",
    "rustls",
    "tower",
];

fn init_logging(verbose: u8) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        let level = match verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        };
        let mut directives = level.to_string();
        for name in NOISY {
            directives.push_str(&format!(",{name}=warn"));
        }
        EnvFilter::new(directives)
    });
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_target(verbose > 1)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
