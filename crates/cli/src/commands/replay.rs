//! `replay`: an op-log's operations issued again under another prefix; one row per op.

use serde_json::json;

use s3dlio::oplog::{ReplayOptions, read_log, replay as run_replay};

use super::store;
use crate::args::ReplayArgs;
use crate::failure::{CliResult, Failure};
use crate::output::Out;
use crate::size::human_bytes;
use crate::target::to_uri;

pub async fn replay(args: &ReplayArgs, out: &mut Out) -> CliResult {
    if !(args.speed >= 0.0 && args.speed.is_finite()) {
        return Err(Failure::Usage(format!(
            "--speed must be 0 or more, got {}",
            args.speed
        )));
    }
    let target = to_uri(&args.target)?;
    let ops = read_log(&args.log)?;
    let opts = ReplayOptions {
        from: args.from.clone(),
        to: target.clone(),
        speed: args.speed,
        ops: args.ops.iter().map(|o| o.to_ascii_uppercase()).collect(),
        continue_on_error: args.continue_on_error,
        max_in_flight: args.jobs,
    };
    let report = run_replay(store(&target)?, ops, &opts).await?;
    for (op, s) in &report.per_op {
        if out.json {
            out.json_line(&json!({
                "op": op, "count": s.count, "errors": s.errors, "bytes": s.bytes,
                "p50_us": s.p50.as_micros() as u64, "p90_us": s.p90.as_micros() as u64,
                "p99_us": s.p99.as_micros() as u64, "max_us": s.max.as_micros() as u64,
            }))
            .await?;
        } else {
            out.line(&format!(
                "{op:<7} {:>8} ops {:>6} errors {:>10}  p50 {:>9.3?}  p90 {:>9.3?}  p99 {:>9.3?}",
                s.count,
                s.errors,
                human_bytes(s.bytes),
                s.p50,
                s.p90,
                s.p99
            ))
            .await?;
        }
    }
    if !out.json {
        out.line(&format!(
            "replayed in {:.3?}; {} rows skipped",
            report.elapsed, report.skipped
        ))
        .await?;
    }
    Ok(())
}
