//! `bench --duration`: a timed mixed workload (warp-style) over a pool of objects, with a
//! warm-up, repeats and a concurrency sweep; per-operation throughput and HDR latency.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, future};
use hdrhistogram::Histogram;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use s3dlio::{ObjectStore, ObjectStoreExt, Operation};

use super::bench::{Object, expect_len, histogram, record, synthetic_data};
use crate::args::{BenchArgs, Keys, SynthArgs};
use crate::failure::{CliResult, Failure};
use crate::output::{Out, mb_per_s, per_s};

/// What a mixed workload does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MixOp {
    Get,
    Put,
    Stat,
    List,
    Delete,
}

const OPS: [MixOp; 5] = [MixOp::Get, MixOp::Put, MixOp::Stat, MixOp::List, MixOp::Delete];

impl MixOp {
    fn name(self) -> &'static str {
        match self {
            MixOp::Get => "get",
            MixOp::Put => "put",
            MixOp::Stat => "stat",
            MixOp::List => "list",
            MixOp::Delete => "delete",
        }
    }
}

/// `get=70,put=20,stat=10`: each operation's weight (relative, need not sum to 100).
pub fn parse_mix(text: &str) -> Result<Vec<(MixOp, u32)>, String> {
    let mut weights = Vec::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        let (name, weight) = part.split_once('=').unwrap_or((part, "1"));
        let op = (OPS.iter())
            .find(|o| o.name() == name.trim())
            .ok_or_else(|| format!("--mix: unknown operation {name:?} (get, put, stat, list, delete)"))?;
        let weight: u32 = (weight.trim().parse())
            .map_err(|_| format!("--mix: the weight of {name} must be a whole number, not {weight:?}"))?;
        if weight > 0 {
            weights.push((*op, weight));
        }
    }
    if weights.is_empty() {
        return Err("--mix needs at least one operation with a weight above 0, e.g. get=70,put=30".into());
    }
    Ok(weights)
}

/// One operation's results in one measured window.
#[derive(Debug)]
struct OpStats {
    ops: u64,
    bytes: u64,
    latency: Histogram<u64>,
}

impl Default for OpStats {
    fn default() -> Self {
        OpStats {
            ops: 0,
            bytes: 0,
            latency: histogram(),
        }
    }
}

/// Per operation, in `OPS` order.
type Stats = [OpStats; 5];

fn stats() -> Stats {
    std::array::from_fn(|_| OpStats::default())
}

/// One measured window at one concurrency.
#[derive(Debug)]
struct Window {
    /// The pool's object size; `None` for existing objects.
    size: Option<u64>,
    concurrency: usize,
    repeat: u32,
    elapsed: Duration,
    ops: Stats,
}

/// What every worker shares.
struct Pool<'a> {
    store: &'a dyn ObjectStore,
    /// Where PUTs write and what LIST lists.
    run: &'a str,
    objects: &'a [Object],
    /// The size of the objects PUTs write.
    size: u64,
    mix: &'a [(MixOp, u32)],
    keys: Keys,
    /// How PUTs' data looks (`--dedup`, `--compress`, `--seed`).
    synth: &'a SynthArgs,
}

/// Runs the timed workload: for each concurrency of the sweep (or `-j`), `--repeat`
/// windows of `duration`, each after a `--warmup` that is not recorded. Returns one row
/// per operation and window, labelled with `size` (`None`: existing objects).
pub async fn mixed(
    args: &BenchArgs,
    duration: Duration,
    store: &Arc<dyn ObjectStore>,
    run: &str,
    objects: &[Object],
    size: Option<u64>,
) -> s3dlio::Result<Vec<Value>> {
    let mix =
        parse_mix(mix_text(args)).map_err(|m| s3dlio::Error::invalid_argument(Operation::Get, run, m))?;
    let pool = Pool {
        store: &**store,
        run,
        objects,
        size: size.unwrap_or(0),
        mix: &mix,
        keys: args.keys,
        synth: &args.synth,
    };
    let sweep = match args.concurrency.is_empty() {
        true => vec![args.jobs],
        false => args.concurrency.clone(),
    };
    let mut rows_out = Vec::new();
    for &concurrency in &sweep {
        for repeat in 1..=args.repeat {
            if !args.warmup.is_zero() {
                window(&pool, concurrency, args.warmup).await?;
            }
            let (elapsed, ops) = window(&pool, concurrency, duration).await?;
            let w = Window {
                size,
                concurrency,
                repeat,
                elapsed,
                ops,
            };
            rows_out.extend(rows(&w, &mix));
        }
    }
    Ok(rows_out)
}

/// Runs the mix with `concurrency` workers for `length`; every operation started before
/// the end completes and counts.
async fn window(pool: &Pool<'_>, concurrency: usize, length: Duration) -> s3dlio::Result<(Duration, Stats)> {
    let started = Instant::now();
    let end = started + length;
    let workers = (0..concurrency.max(1)).map(|w| worker(pool, w as u64, concurrency as u64, end));
    let results = future::try_join_all(workers).await?;
    let elapsed = started.elapsed();
    let mut merged = stats();
    for worker in results {
        for (into, from) in merged.iter_mut().zip(worker) {
            into.ops += from.ops;
            into.bytes += from.bytes;
            into.latency.add(&from.latency).expect("histograms of one shape");
        }
    }
    Ok((elapsed, merged))
}

/// One worker of `workers`: picks operations by weight and objects by `--keys` until
/// `end`. Its PUTs write new objects (one generated buffer, reused); its DELETEs remove
/// the oldest of those, or put one first when it has none, so the pool that GETs read
/// stays intact. In key order, worker `id` starts `id/workers` of the way into the pool.
async fn worker(pool: &Pool<'_>, id: u64, workers: u64, end: Instant) -> s3dlio::Result<Stats> {
    let mut rng = SmallRng::seed_from_u64(pool.synth.seed ^ (id << 32));
    let len = pool.objects.len();
    let mut next_key = (id as usize * len) / workers.max(1) as usize;
    let mut pick_object = move |rng: &mut SmallRng| match pool.keys {
        Keys::Random => &pool.objects[rng.random_range(0..len)],
        Keys::Sequential => {
            let o = &pool.objects[next_key % len];
            next_key += 1;
            o
        }
    };
    let total: u32 = pool.mix.iter().map(|(_, w)| w).sum();
    let mut out = stats();
    let mut written: VecDeque<String> = VecDeque::new();
    let mut data: Option<Bytes> = None;
    let mut n = 0u64;
    while Instant::now() < end {
        // A store that answers without waiting (memory://) would otherwise keep this
        // worker running to the end before the others start.
        tokio::task::yield_now().await;
        let mut pick = rng.random_range(0..total);
        let mut op = MixOp::Get;
        for &(o, w) in pool.mix {
            if pick < w {
                op = o;
                break;
            }
            pick -= w;
        }
        if op == MixOp::Delete && written.is_empty() {
            op = MixOp::Put;
        }
        if op == MixOp::Put && data.is_none() {
            // Generated before the clock starts: latency is the store's alone.
            data = Some(synthetic_data(pool.synth, pool.size, pool.synth.seed ^ id, pool.run).await?);
        }
        let started = Instant::now();
        let bytes = match op {
            MixOp::Get => {
                let o = pick_object(&mut rng);
                let got = pool.store.get(&o.uri).await?;
                expect_len(Operation::Get, &o.uri, got.len() as u64, o.size)?;
                o.size
            }
            MixOp::Stat => {
                let o = pick_object(&mut rng);
                let meta = pool.store.stat(&o.uri).await?;
                expect_len(Operation::Stat, &o.uri, meta.size, o.size)?;
                0
            }
            MixOp::List => {
                // One page: what a listing request costs, not the pool's size.
                let _: Vec<_> = pool
                    .store
                    .list_stream(pool.run, true)
                    .take(1000)
                    .try_collect()
                    .await?;
                0
            }
            MixOp::Put => {
                let uri = format!("{}mix-{id}-{n}", pool.run);
                n += 1;
                pool.store
                    .put(&uri, data.clone().expect("generated above"))
                    .await?;
                written.push_back(uri);
                pool.size
            }
            MixOp::Delete => {
                let uri = written.pop_front().expect("a delete takes a written object");
                pool.store.delete(&uri).await?;
                0
            }
        };
        let s = &mut out[op as usize];
        s.ops += 1;
        s.bytes += bytes;
        record(&mut s.latency, started.elapsed());
    }
    Ok(out)
}

/// A row per operation of the mix (and PUT when DELETE needed it).
fn rows(w: &Window, mix: &[(MixOp, u32)]) -> Vec<Value> {
    (OPS.iter().zip(&w.ops))
        .filter(|(op, s)| s.ops > 0 || mix.iter().any(|(o, _)| o == *op))
        .map(|(op, s)| {
            let q = |q: f64| s.latency.value_at_quantile(q) as f64 / 1000.0;
            json!({
                "size": w.size,
                "concurrency": w.concurrency,
                "repeat": w.repeat,
                "op": op.name(),
                "ops": s.ops,
                "bytes": s.bytes,
                "seconds": w.elapsed.as_secs_f64(),
                "ops_per_s": per_s(s.ops, w.elapsed),
                "mb_per_s": mb_per_s(s.bytes, w.elapsed),
                "p50_ms": q(0.50),
                "p90_ms": q(0.90),
                "p99_ms": q(0.99),
                "p999_ms": q(0.999),
            })
        })
        .collect()
}

const COLUMNS: [&str; 13] = [
    "size",
    "concurrency",
    "repeat",
    "op",
    "ops",
    "bytes",
    "seconds",
    "ops_per_s",
    "mb_per_s",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "p999_ms",
];

/// Prints the rows as a table, CSV (`--csv`) or JSON lines (`--json`).
pub async fn print(rows: &[Value], csv: bool, out: &mut Out) -> CliResult {
    if out.json {
        for row in rows {
            out.json_line(row).await?;
        }
        return Ok(());
    }
    let cell = |v: &Value| match v {
        Value::Number(n) if n.is_f64() => format!("{:.3}", n.as_f64().unwrap_or(0.0)),
        Value::String(s) => s.clone(),
        // The size of existing objects: theirs, each its own.
        Value::Null => "existing".into(),
        other => other.to_string(),
    };
    if csv {
        out.line(&COLUMNS.join(",")).await?;
        for row in rows {
            out.line(&COLUMNS.map(|c| cell(&row[c])).join(",")).await?;
        }
        return Ok(());
    }
    out.line(&COLUMNS.map(|c| format!("{c:>11}")).join(" ")).await?;
    for row in rows {
        out.line(&COLUMNS.map(|c| format!("{:>11}", cell(&row[c]))).join(" "))
            .await?;
    }
    Ok(())
}

/// The `--mix` given, or reading only.
fn mix_text(args: &BenchArgs) -> &str {
    args.mix.as_deref().unwrap_or("get=100")
}

/// Refuses flags that would be ignored: mixed-workload flags without `--duration`, and
/// writing flags with `--existing`.
pub fn check(args: &BenchArgs) -> CliResult {
    let mixed_only = [
        ("--mix", args.mix.is_some()),
        ("--warmup", !args.warmup.is_zero()),
        ("--repeat", args.repeat != 1),
        ("--concurrency", !args.concurrency.is_empty()),
        ("--keys", args.keys != Keys::Random),
        ("--csv", args.csv),
    ];
    if args.duration.is_none()
        && let Some((flag, _)) = mixed_only.iter().find(|(_, set)| *set)
    {
        return Err(Failure::Usage(format!(
            "{flag} shapes the timed mixed workload: add --duration (e.g. --duration 30s)"
        )));
    }
    let writing = [
        ("--size", args.size.is_some()),
        ("--keep", args.keep),
        ("--dedup", args.synth.dedup != 1),
        ("--compress", args.synth.compress != 1),
        ("--create-bucket", args.synth.create_bucket),
    ];
    if args.existing
        && let Some((flag, _)) = writing.iter().find(|(_, set)| *set)
    {
        return Err(Failure::Usage(format!(
            "{flag} shapes the objects bench writes; --existing reads what is there and writes nothing"
        )));
    }
    if args.repeat == 0 || args.concurrency.contains(&0) {
        return Err(Failure::Usage(
            "--repeat and --concurrency values must be at least 1".into(),
        ));
    }
    if args.num == Some(0) {
        return Err(Failure::Usage("--num must be at least 1".into()));
    }
    if let Some(d) = args.duration {
        let mix = parse_mix(mix_text(args)).map_err(Failure::Usage)?;
        if d.is_zero() {
            return Err(Failure::Usage("--duration must be longer than 0".into()));
        }
        if args.existing
            && let Some((op, _)) = mix
                .iter()
                .find(|(op, _)| matches!(op, MixOp::Put | MixOp::Delete))
        {
            return Err(Failure::Usage(format!(
                "--mix {}: --existing reads what is there and writes nothing (get, stat and list only)",
                op.name()
            )));
        }
    }
    Ok(())
}
