//! `bench`: put, get (whole and ranged), stat, list and delete N objects under a fresh
//! prefix, with per-operation latency percentiles from HDR histograms.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::{StreamExt, stream};
use hdrhistogram::Histogram;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use s3dlio::{Error, ListEntry, ObjectStore, ObjectStoreExt, Operation, run_blocking};
use s3dlio_datagen::{DataSpec, Generator};

use super::{Ctx, ensure_bucket, mix, store};
use crate::args::{BenchArgs, SynthArgs};
use crate::failure::{CliResult, Failure};
use crate::output::{Out, Summary, mb_per_s};
use crate::progress::Progress;
use crate::size::human_bytes;
use crate::target::{as_prefix, to_uri};

/// One operation's results: the usual summary plus latency percentiles.
#[derive(Debug)]
struct Phase {
    summary: Summary,
    /// Latency of each operation, in microseconds.
    latency: Histogram<u64>,
}

impl Phase {
    fn new(op: &'static str, objects: u64, bytes: u64, elapsed: Duration, latency: Histogram<u64>) -> Self {
        let summary = Summary {
            op,
            objects,
            bytes,
            elapsed,
            failed: 0,
        };
        Phase { summary, latency }
    }

    fn percentile_ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    fn to_json(&self) -> Value {
        let mut v = self.summary.to_json();
        for (name, q) in [("p50_ms", 0.50), ("p90_ms", 0.90), ("p99_ms", 0.99)] {
            v[name] = json!(self.percentile_ms(q));
        }
        v
    }

    fn row(&self) -> String {
        let s = &self.summary;
        format!(
            "{:<10} {:>8} {:>12} {:>9.3} {:>10.1} {:>11.1} {:>9.3} {:>9.3} {:>9.3}",
            s.op,
            s.objects,
            human_bytes(s.bytes),
            s.elapsed.as_secs_f64(),
            mb_per_s(s.bytes, s.elapsed),
            s.objects_per_s(),
            self.percentile_ms(0.50),
            self.percentile_ms(0.90),
            self.percentile_ms(0.99),
        )
    }
}

const HEADER: &str =
    "op          objects        bytes   seconds       MB/s   objects/s    p50 ms    p90 ms    p99 ms";

/// One object a benchmark reads: written by it, or found under the prefix (`--existing`).
#[derive(Debug, Clone)]
pub(super) struct Object {
    pub uri: String,
    pub size: u64,
}

const DEFAULT_OBJECTS: u64 = 256;
const DEFAULT_SIZE: u64 = 1 << 20;

pub async fn bench(args: &BenchArgs, ctx: Ctx, out: &mut Out) -> CliResult {
    mix::check(args)?;
    let base = as_prefix(&to_uri(&args.prefix)?);
    let store = store(&base)?;
    if args.existing {
        return existing(args, ctx, &store, &base, out).await;
    }
    ensure_bucket(&*store, &base, args.synth.create_bucket).await?;
    let sizes = args.size.as_ref().map_or(vec![DEFAULT_SIZE], |s| s.0.clone());
    let mut rows = Vec::new();
    for size in sizes {
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let run = format!("{base}s3dlio-bench-{}-{stamp}/", std::process::id());
        let pool: Vec<Object> = (0..args.num.unwrap_or(DEFAULT_OBJECTS))
            .map(|i| Object {
                uri: format!("{run}obj-{i:08}"),
                size,
            })
            .collect();
        match args.duration {
            Some(duration) => rows.extend(timed_mix(args, duration, ctx, &store, &run, &pool).await?),
            None => {
                let result = run_phases(args, ctx, &store, &run, &pool, true).await;
                if result.is_err() && !args.keep {
                    // Leave nothing behind after a failed run; the run's own error is what counts.
                    clean_up(&*store, &run).await;
                }
                let what = format!("{} objects of {} ({size} bytes)", pool.len(), human_bytes(size));
                print_phases(args, &run, &pool, Some(size), &what, &result?, out).await?;
            }
        }
    }
    if args.duration.is_some() {
        mix::print(&rows, args.csv, out).await?;
    }
    Ok(())
}

/// `--existing`: the objects under the prefix, read by the fixed phases or the timed mix;
/// nothing is written or deleted.
async fn existing(
    args: &BenchArgs,
    ctx: Ctx,
    store: &Arc<dyn ObjectStore>,
    base: &str,
    out: &mut Out,
) -> CliResult {
    let mut listing = store.list_stream(base, true);
    let mut pool = Vec::new();
    while let Some(entry) = listing.next().await {
        if let ListEntry::Object(meta) = entry?
            && meta.size > 0
        {
            pool.push(Object {
                uri: meta.uri,
                size: meta.size,
            });
        }
        if args.num.is_some_and(|n| pool.len() as u64 >= n) {
            break;
        }
    }
    drop(listing);
    if pool.is_empty() {
        return Err(Failure::NothingMatched(format!("bench --existing {base}")));
    }
    match args.duration {
        Some(duration) => {
            let rows = mix::mixed(args, duration, store, base, &pool, None).await?;
            mix::print(&rows, args.csv, out).await
        }
        None => {
            let phases = run_phases(args, ctx, store, base, &pool, false).await?;
            let bytes: u64 = pool.iter().map(|o| o.size).sum();
            let what = format!("{} existing objects, {} in all", pool.len(), human_bytes(bytes));
            print_phases(args, base, &pool, None, &what, &phases, out).await
        }
    }
}

/// The fixed phases' results: a table, or one JSON line (`--json`).
async fn print_phases(
    args: &BenchArgs,
    prefix: &str,
    pool: &[Object],
    size: Option<u64>,
    what: &str,
    phases: &[Phase],
    out: &mut Out,
) -> CliResult {
    if out.json {
        let phases: Vec<Value> = phases.iter().map(Phase::to_json).collect();
        return out
            .json_line(&json!({
                "prefix": prefix,
                "objects": pool.len(),
                "object_size": size,
                "jobs": args.jobs,
                "range_size": args.range_size,
                "phases": phases,
            }))
            .await;
    }
    out.line(&format!("{prefix}: {what}, {} in flight", args.jobs))
        .await?;
    out.line(HEADER).await?;
    for phase in phases {
        out.line(&phase.row()).await?;
    }
    Ok(())
}

/// `--duration`: the pool written first (not measured), then the timed mixed workload;
/// the run's prefix is deleted afterwards unless `--keep`, whatever the outcome.
async fn timed_mix(
    args: &BenchArgs,
    duration: Duration,
    ctx: Ctx,
    store: &Arc<dyn ObjectStore>,
    run: &str,
    pool: &[Object],
) -> s3dlio::Result<Vec<Value>> {
    let synth = &args.synth;
    let prepared = timed("prepare", pool, args.jobs, ctx, &|i: usize, o: Object| {
        put_synthetic(&**store, synth, i, o)
    })
    .await;
    let size = pool.first().map(|o| o.size);
    let result = match prepared {
        Ok(_) => mix::mixed(args, duration, store, run, pool, size).await,
        Err(e) => Err(e),
    };
    if !args.keep {
        clean_up(&**store, run).await;
    }
    result
}

/// Deletes the run's objects (and, on a directory store, its directory) after a run
/// whose own phases did not; a failure is logged, the run's result is what counts.
async fn clean_up(store: &dyn ObjectStore, run: &str) {
    let cleaned = store.delete_prefix(run).await;
    if !store.capabilities().explicit_containers {
        let _ = store.delete_container(run).await;
    }
    if let Err(e) = cleaned {
        tracing::warn!("cleaning up {run} after the benchmark: {e}");
    }
}

/// Writes object `i` of the run (seed + i) and returns its size and the put's latency;
/// the data is generated before the clock starts, so latency is the store's alone.
async fn put_synthetic(
    store: &dyn ObjectStore,
    synth: &SynthArgs,
    i: usize,
    Object { uri, size }: Object,
) -> s3dlio::Result<(u64, Duration)> {
    let data = synthetic_data(synth, size, synth.seed.wrapping_add(i as u64), &uri).await?;
    let started = Instant::now();
    store.put(&uri, data).await?;
    Ok((size, started.elapsed()))
}

/// `size` bytes of the benchmark's data (`--dedup`, `--compress`) from `seed`, generated
/// on the blocking pool for a put to `uri`.
pub(super) async fn synthetic_data(
    synth: &SynthArgs,
    size: u64,
    seed: u64,
    uri: &str,
) -> s3dlio::Result<Bytes> {
    let spec = DataSpec::default()
        .with_dedup(synth.dedup)
        .with_compress(synth.compress)
        .with_seed(seed);
    run_blocking(Operation::Put, uri, "generating data", move || {
        Generator::new(size, spec).generate()
    })
    .await
}

/// put (when `write`), get, get-range, stat, list, and delete (when `write` and not
/// `--keep`) over the pool.
async fn run_phases(
    args: &BenchArgs,
    ctx: Ctx,
    store: &Arc<dyn ObjectStore>,
    run: &str,
    pool: &[Object],
    write: bool,
) -> s3dlio::Result<Vec<Phase>> {
    let synth = &args.synth;
    let mut phases = Vec::new();
    if write {
        phases.push(
            timed("put", pool, args.jobs, ctx, &|i: usize, o: Object| {
                put_synthetic(&**store, synth, i, o)
            })
            .await?,
        );
    }
    phases.push(
        timed("get", pool, args.jobs, ctx, &|_, o: Object| async move {
            let started = Instant::now();
            let data = store.get(&o.uri).await?;
            let elapsed = started.elapsed();
            expect_len(Operation::Get, &o.uri, data.len() as u64, o.size)?;
            Ok((o.size, elapsed))
        })
        .await?,
    );
    phases.push(
        timed("get-range", pool, args.jobs, ctx, &|i, o: Object| async move {
            let range_len = args.range_size.min(o.size);
            let offset = SmallRng::seed_from_u64(synth.seed ^ i as u64).random_range(0..=o.size - range_len);
            let started = Instant::now();
            let data = store.get_range(&o.uri, offset, Some(range_len)).await?;
            let elapsed = started.elapsed();
            expect_len(Operation::GetRange, &o.uri, data.len() as u64, range_len)?;
            Ok((range_len, elapsed))
        })
        .await?,
    );
    phases.push(
        timed("stat", pool, args.jobs, ctx, &|_, o: Object| async move {
            let started = Instant::now();
            let meta = store.stat(&o.uri).await?;
            let elapsed = started.elapsed();
            expect_len(Operation::Stat, &o.uri, meta.size, o.size)?;
            Ok((0, elapsed))
        })
        .await?,
    );
    let started = Instant::now();
    let listed = store.list(run, true).await?;
    let elapsed = started.elapsed();
    // Objects under an existing prefix may come and go while it runs.
    if write && listed.len() != pool.len() {
        return Err(failed(
            Operation::List,
            run,
            format!("listed {} objects, wrote {}", listed.len(), pool.len()),
        ));
    }
    let mut latency = histogram();
    record(&mut latency, elapsed);
    phases.push(Phase::new("list", listed.len() as u64, 0, elapsed, latency));
    if write && !args.keep {
        let deletes = timed("delete", pool, args.jobs, ctx, &|_, o: Object| async move {
            let started = Instant::now();
            store.delete(&o.uri).await?;
            Ok((0, started.elapsed()))
        })
        .await?;
        phases.push(deletes);
        if !store.capabilities().explicit_containers {
            // A directory store keeps the run's directory after its files go.
            store.delete_container(run).await?;
        }
    }
    Ok(phases)
}

/// Runs `job` over every object, `jobs` at a time; stops at the first failure (a
/// benchmark of a failing store measures nothing).
async fn timed<F, Fut>(
    op: &'static str,
    pool: &[Object],
    jobs: usize,
    ctx: Ctx,
    job: &F,
) -> s3dlio::Result<Phase>
where
    F: Fn(usize, Object) -> Fut,
    Fut: Future<Output = s3dlio::Result<(u64, Duration)>>,
{
    let progress = Progress::objects(ctx.progress, Some(pool.len() as u64));
    progress.set_message(op.to_string());
    let started = Instant::now();
    let mut results = stream::iter(pool.iter().cloned().enumerate())
        .map(|(i, o)| job(i, o))
        .buffer_unordered(jobs.max(1));
    let (mut objects, mut bytes, mut latency) = (0u64, 0u64, histogram());
    while let Some(result) = results.next().await {
        let (n, elapsed) = result?;
        objects += 1;
        bytes += n;
        record(&mut latency, elapsed);
        progress.inc(1);
    }
    progress.finish();
    Ok(Phase::new(op, objects, bytes, started.elapsed(), latency))
}

pub(super) fn histogram() -> Histogram<u64> {
    // 1 µs to an hour at 3 significant figures; slower operations saturate at an hour.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

pub(super) fn record(h: &mut Histogram<u64>, elapsed: Duration) {
    h.saturating_record(elapsed.as_micros().max(1) as u64);
}

pub(super) fn expect_len(op: Operation, uri: &str, got: u64, want: u64) -> s3dlio::Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(failed(
            op,
            uri,
            format!("the store returned {got} bytes, {want} were written"),
        ))
    }
}

fn failed(op: Operation, uri: &str, message: String) -> Error {
    Error::Backend {
        op,
        uri: uri.to_string(),
        message,
        source: None,
    }
}
