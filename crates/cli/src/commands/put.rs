//! `put`: synthetic objects from `s3dlio-datagen`, uploaded `jobs` at a time.

use std::time::Instant;

use futures::stream;

use s3dlio::Operation;
use s3dlio::transfer::{Generation, object_name, put_generated, synthetic};
use s3dlio_datagen::DataSpec;

use super::{Ctx, ensure_bucket, store};
use crate::args::PutArgs;
use crate::failure::{CliResult, Failure};
use crate::output::Out;
use crate::progress::Progress;
use crate::target::{as_prefix, to_uri};
use crate::transfer::{Report, run_jobs};

pub async fn put(args: &PutArgs, ctx: Ctx, out: &mut Out) -> CliResult {
    let prefix = as_prefix(&to_uri(&args.prefix)?);
    let placeholders = args.template.matches("{}").count();
    if placeholders == 0 && args.num > 1 {
        return Err(Failure::Usage(format!(
            "template {:?} has no {{}} for the object index: all {} objects would get one name",
            args.template, args.num
        )));
    }
    let spec = DataSpec::default()
        .with_dedup(args.synth.dedup)
        .with_compress(args.synth.compress);
    let what = synthetic(&args.object_type, spec).map_err(Failure::Usage)?;
    let store = store(&prefix)?;
    ensure_bucket(&*store, &prefix, args.synth.create_bucket).await?;
    let progress = Progress::bytes(ctx.progress, Some(args.num * args.size));
    let started = Instant::now();
    let items = stream::iter((0..args.num).map(Ok));
    let tally = run_jobs(items, args.jobs, &progress, |i| {
        let uri = format!("{prefix}{}", object_name(&args.template, i, args.num));
        let (store, size, progress) = (store.clone(), args.size, &progress);
        let what = what.with_seed(args.synth.seed.wrapping_add(i));
        async move {
            let result = put_generated(&*store, &uri, size, what, Generation::default()).await;
            if let Ok(n) = &result {
                progress.inc(*n);
            }
            (uri, result)
        }
    })
    .await?;
    progress.finish();
    tally.report("put", started, out, Operation::Put, &prefix).await
}
