//! Replay: read an op-log and issue its operations again, against another prefix or
//! backend, keeping their inter-arrival times (scaled by a speed factor). Operations run
//! concurrently, but those on one object run in their recorded order.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures::StreamExt;
use s3dlio_core::{Error, ObjectStore, ObjectStoreExt, Operation, Result};
use tokio::sync::Semaphore;

use crate::record::HEADER;

/// How a log is replayed.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Every URI that starts with `from` is issued with `to` in its place; others are
    /// skipped (counted). `from` empty: the log's common prefix up to a `/`.
    pub from: String,
    pub to: String,
    /// 2.0 issues operations twice as fast as they were recorded; 0 as fast as possible.
    pub speed: f64,
    /// Only these ops (`GET`, `PUT`, ...); empty: every op replay knows.
    pub ops: Vec<String>,
    /// Keep going after a failed operation (counted) instead of stopping at the first.
    pub continue_on_error: bool,
    /// Operations in flight at once at most (a late schedule waits for a slot).
    pub max_in_flight: usize,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            from: String::new(),
            to: String::new(),
            speed: 1.0,
            ops: Vec::new(),
            continue_on_error: false,
            max_in_flight: 64,
        }
    }
}

/// One row as replay needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedOp {
    pub op: String,
    pub bytes: u64,
    pub uri: String,
    pub start: SystemTime,
}

/// What one kind of operation did during a replay.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpSummary {
    pub count: u64,
    pub errors: u64,
    pub bytes: u64,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
}

/// A replay's outcome: per op, and what was left out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplayReport {
    pub per_op: BTreeMap<String, OpSummary>,
    /// Rows of ops replay does not issue, or filtered out, or outside `from`.
    pub skipped: u64,
    pub elapsed: Duration,
}

/// The rows of a log file, in start order: warp's TSV (with its header) or JSON lines
/// (one object per line with `op`, `bytes`, `file` or `uri`, and `start` as RFC 3339 or
/// nanoseconds since the epoch), zstd-compressed or plain, told apart by their content.
pub fn read_log(path: &Path) -> Result<Vec<LoggedOp>> {
    let uri = path.display().to_string();
    let io = |e| Error::from_io(Operation::Get, &uri, e);
    let raw = std::fs::read(path).map_err(io)?;
    let text = if raw.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let mut out = String::new();
        zstd::stream::read::Decoder::new(&raw[..])
            .and_then(|mut d| d.read_to_string(&mut out))
            .map_err(io)?;
        out
    } else {
        String::from_utf8(raw)
            .map_err(|e| Error::invalid_argument(Operation::Get, &uri, format!("not UTF-8 text: {e}")))?
    };
    let bad = |m: String| Error::invalid_argument(Operation::Get, &uri, m);
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
    let mut ops = if first.trim_start().starts_with('{') {
        jsonl_rows(&text).map_err(bad)?
    } else {
        tsv_rows(&text).map_err(bad)?
    };
    ops.sort_by_key(|o| o.start);
    Ok(ops)
}

fn tsv_rows(text: &str) -> std::result::Result<Vec<LoggedOp>, String> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| format!("no `{name}` column; an op-log starts with the header `{HEADER}`"))
    };
    let (op, bytes, file, start) = (col("op")?, col("bytes")?, col("file")?, col("start")?);
    let mut ops = Vec::new();
    for (n, line) in lines.enumerate().filter(|(_, l)| !l.is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let get = |i: usize| {
            cols.get(i)
                .copied()
                .ok_or_else(|| format!("row {} has {} columns", n + 1, cols.len()))
        };
        ops.push(LoggedOp {
            op: get(op)?.to_string(),
            bytes: get(bytes)?
                .parse()
                .map_err(|e| format!("row {}: bytes: {e}", n + 1))?,
            uri: get(file)?.to_string(),
            start: humantime::parse_rfc3339(get(start)?).map_err(|e| format!("row {}: start: {e}", n + 1))?,
        });
    }
    Ok(ops)
}

fn jsonl_rows(text: &str) -> std::result::Result<Vec<LoggedOp>, String> {
    let mut ops = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let row = || format!("line {}", n + 1);
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("{}: not JSON: {e}", row()))?;
        let field = |name: &str| v.get(name).filter(|f| !f.is_null());
        let text_of = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| field(n).and_then(|f| f.as_str()))
                .ok_or_else(|| format!("{}: no `{}` string", row(), names.join("` or `")))
        };
        let start = match field("start") {
            Some(serde_json::Value::String(t)) => {
                humantime::parse_rfc3339(t).map_err(|e| format!("{}: start: {e}", row()))?
            }
            Some(serde_json::Value::Number(ns)) => {
                let ns = ns
                    .as_u64()
                    .ok_or_else(|| format!("{}: start: {ns} is not whole nanoseconds", row()))?;
                SystemTime::UNIX_EPOCH + Duration::from_nanos(ns)
            }
            _ => {
                return Err(format!(
                    "{}: no `start` (RFC 3339 or nanoseconds since the epoch)",
                    row()
                ));
            }
        };
        ops.push(LoggedOp {
            op: text_of(&["op"])?.to_string(),
            bytes: field("bytes").and_then(|b| b.as_u64()).unwrap_or(0),
            uri: text_of(&["file", "uri"])?.to_string(),
            start,
        });
    }
    Ok(ops)
}

/// The longest prefix ending in `/` that every URI shares.
fn common_prefix(ops: &[LoggedOp]) -> String {
    let Some(first) = ops.first() else {
        return String::new();
    };
    let mut len = first.uri.len();
    for o in ops {
        len = len.min(
            first
                .uri
                .bytes()
                .zip(o.uri.bytes())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    first.uri[..len]
        .rfind('/')
        .map_or(String::new(), |i| first.uri[..=i].to_string())
}

const KNOWN: &[&str] = &["GET", "PUT", "STAT", "DELETE", "LIST"];

/// Issues `ops` against `store` per `opts`; returns latency percentiles per op.
pub async fn replay(
    store: Arc<dyn ObjectStore>,
    ops: Vec<LoggedOp>,
    opts: &ReplayOptions,
) -> Result<ReplayReport> {
    let wanted = |op: &str| {
        KNOWN.contains(&op) && (opts.ops.is_empty() || opts.ops.iter().any(|o| o.eq_ignore_ascii_case(op)))
    };
    let from = match opts.from.is_empty() {
        true => common_prefix(&ops.iter().filter(|o| wanted(&o.op)).cloned().collect::<Vec<_>>()),
        false => opts.from.clone(),
    };
    let mut report = ReplayReport::default();
    let largest = ops
        .iter()
        .filter(|o| o.op == "PUT")
        .map(|o| o.bytes)
        .max()
        .unwrap_or(0);
    let zeros = Bytes::from(vec![0u8; largest as usize]);
    let slots = Arc::new(Semaphore::new(opts.max_in_flight.max(1)));
    let first = ops.first().map(|o| o.start);
    let began = Instant::now();
    let mut running = futures::stream::FuturesUnordered::new();
    let mut results: BTreeMap<String, Vec<(Duration, u64, bool)>> = BTreeMap::new();
    let mut keys: HashMap<String, Arc<tokio::sync::Mutex<()>>> = HashMap::new();
    for o in ops {
        let Some(rest) = o.uri.strip_prefix(&from).filter(|_| wanted(&o.op)) else {
            report.skipped += 1;
            continue;
        };
        let uri = format!("{}{rest}", opts.to);
        if opts.speed > 0.0
            && let Some(first) = first
        {
            let due = o
                .start
                .duration_since(first)
                .unwrap_or_default()
                .div_f64(opts.speed);
            tokio::time::sleep_until((began + due).into()).await;
        }
        let permit = slots
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        // Operations on one object keep their order: a DELETE never overtakes the PUT
        // before it (the recording had it start after that PUT ended).
        let turn = keys.entry(uri.clone()).or_default().clone().lock_owned().await;
        let (store, data) = (store.clone(), zeros.slice(..(o.bytes as usize).min(zeros.len())));
        running.push(tokio::spawn(async move {
            let t = Instant::now();
            let done = issue(&*store, &o.op, &uri, data).await;
            drop((permit, turn));
            (o.op, t.elapsed(), done)
        }));
        // Gather what finished, so a failure stops the replay early.
        while let Some(Some(joined)) = futures::FutureExt::now_or_never(running.next()) {
            tally(&mut results, joined, opts)?;
        }
    }
    while let Some(joined) = running.next().await {
        tally(&mut results, joined, opts)?;
    }
    report.elapsed = began.elapsed();
    report.per_op = results.into_iter().map(|(op, r)| (op, summarize(r))).collect();
    Ok(report)
}

type Outcome = (String, Duration, Result<u64>);

fn tally(
    results: &mut BTreeMap<String, Vec<(Duration, u64, bool)>>,
    joined: std::result::Result<Outcome, tokio::task::JoinError>,
    opts: &ReplayOptions,
) -> Result<()> {
    let (op, took, done) = joined.map_err(|e| Error::Backend {
        op: Operation::Get,
        uri: String::new(),
        message: "a replayed operation's task failed".into(),
        source: Some(Box::new(e)),
    })?;
    let entry = results.entry(op).or_default();
    match done {
        Ok(bytes) => entry.push((took, bytes, false)),
        Err(e) if opts.continue_on_error => {
            tracing::debug!(error = %e, "a replayed operation failed");
            entry.push((took, 0, true));
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

async fn issue(store: &dyn ObjectStore, op: &str, uri: &str, data: Bytes) -> Result<u64> {
    match op {
        "GET" => store.get(uri).await.map(|b| b.len() as u64),
        "PUT" => {
            let n = data.len() as u64;
            store.put(uri, data).await.map(|_| n)
        }
        "STAT" => store.stat(uri).await.map(|_| 0),
        "DELETE" => store.delete(uri).await.map(|_| 0),
        _ => store.list(uri, true).await.map(|_| 0),
    }
}

fn summarize(mut r: Vec<(Duration, u64, bool)>) -> OpSummary {
    r.sort_by_key(|x| x.0);
    let at = |q: f64| {
        r.get(((r.len() as f64 * q).ceil() as usize).saturating_sub(1))
            .map_or(Duration::ZERO, |x| x.0)
    };
    OpSummary {
        count: r.len() as u64,
        errors: r.iter().filter(|x| x.2).count() as u64,
        bytes: r.iter().map(|x| x.1).sum(),
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        max: r.last().map_or(Duration::ZERO, |x| x.0),
    }
}
