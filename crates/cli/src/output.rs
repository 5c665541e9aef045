//! stdout (async, buffered; a closed pipe is a quiet stop) and the summary line every
//! multi-object command prints.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncWriteExt, BufWriter, Stdout};

use crate::failure::{CliResult, Failure};
use crate::size::human_bytes;

/// Where results go. Human text, or JSON when `--json` is given.
#[derive(Debug)]
pub struct Out {
    w: BufWriter<Stdout>,
    pub json: bool,
}

impl Out {
    pub fn new(json: bool) -> Self {
        Out {
            w: BufWriter::new(tokio::io::stdout()),
            json,
        }
    }

    pub async fn line(&mut self, text: &str) -> CliResult {
        self.w.write_all(text.as_bytes()).await.map_err(Failure::output)?;
        self.w.write_all(b"\n").await.map_err(Failure::output)
    }

    pub async fn bytes(&mut self, data: &[u8]) -> CliResult {
        self.w.write_all(data).await.map_err(Failure::output)
    }

    /// One JSON value on its own line.
    pub async fn json_line(&mut self, value: &Value) -> CliResult {
        self.line(&value.to_string()).await
    }

    pub async fn flush(&mut self) -> CliResult {
        self.w.flush().await.map_err(Failure::output)
    }
}

/// Events (objects, operations, bytes) per second of `elapsed`.
pub fn per_s(n: u64, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// Megabytes (10^6 bytes) per second.
pub fn mb_per_s(bytes: u64, elapsed: Duration) -> f64 {
    per_s(bytes, elapsed) / 1e6
}

/// A rate as the summaries and the progress bars print it.
pub fn human_rate(bytes: u64, elapsed: Duration) -> String {
    format!("{:.1} MB/s", mb_per_s(bytes, elapsed))
}

/// Objects per second as the summaries and the progress bars print it.
pub fn object_rate(objects: u64, elapsed: Duration) -> String {
    format!("{:.0} objects/s", per_s(objects, elapsed))
}

/// What a multi-object command did.
#[derive(Debug)]
pub struct Summary {
    pub op: &'static str,
    pub objects: u64,
    pub bytes: u64,
    pub elapsed: Duration,
    pub failed: usize,
}

impl Summary {
    pub fn objects_per_s(&self) -> f64 {
        per_s(self.objects, self.elapsed)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "op": self.op,
            "objects": self.objects,
            "bytes": self.bytes,
            "seconds": self.elapsed.as_secs_f64(),
            "mb_per_s": mb_per_s(self.bytes, self.elapsed),
            "objects_per_s": self.objects_per_s(),
            "failed": self.failed,
        })
    }

    pub async fn print(&self, out: &mut Out) -> CliResult {
        match out.json {
            true => out.json_line(&self.to_json()).await,
            false => out.line(&self.line()).await,
        }
    }

    /// The human form: `get: 3 objects, 1.20 MB in 0.100 s (12.0 MB/s, 30 objects/s)`.
    pub fn line(&self) -> String {
        let secs = self.elapsed.as_secs_f64();
        let failed = if self.failed > 0 {
            format!(", {} FAILED", self.failed)
        } else {
            String::new()
        };
        format!(
            "{}: {} objects, {} in {secs:.3} s ({}, {}){failed}",
            self.op,
            self.objects,
            human_bytes(self.bytes),
            human_rate(self.bytes, self.elapsed),
            object_rate(self.objects, self.elapsed),
        )
    }
}

/// What each of `--endpoints` served, on stderr (stdout keeps the command's output).
pub fn endpoint_stats(stats: &[s3dlio::endpoints::EndpointStats]) {
    for s in stats {
        eprintln!(
            "endpoint {}: {} requests, {} read, {} written, {} errors, latency p50 {:.1?} p99 {:.1?}{}",
            s.uri,
            s.requests,
            human_bytes(s.bytes_read),
            human_bytes(s.bytes_written),
            s.errors,
            s.latency_p50,
            s.latency_p99,
            if s.available {
                ""
            } else {
                " (taken out after failures)"
            }
        );
    }
}
