//! `put`: synthetic objects from `s3dlio-datagen`, uploaded `jobs` at a time.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures::stream;

use s3dlio::{ObjectStore, ObjectStoreExt, Operation, WriterOptions};
use s3dlio_datagen::{DataSpec, Generator};

use super::{Ctx, ensure_bucket, store};
use crate::args::{PutArgs, SynthArgs};
use crate::failure::{CliResult, Failure};
use crate::output::Out;
use crate::progress::Progress;
use crate::target::{as_prefix, to_uri};
use crate::transfer::{abandon, run_jobs};

pub async fn put(args: &PutArgs, ctx: Ctx, out: &mut Out) -> CliResult {
    let prefix = as_prefix(&to_uri(&args.prefix)?);
    let placeholders = args.template.matches("{}").count();
    if placeholders == 0 && args.num > 1 {
        return Err(Failure::Usage(format!(
            "template {:?} has no {{}} for the object index: all {} objects would get one name",
            args.template, args.num
        )));
    }
    let store = store(&prefix)?;
    ensure_bucket(&*store, &prefix, args.synth.create_bucket).await?;
    let progress = Progress::bytes(ctx.progress, Some(args.num * args.synth.size));
    let started = Instant::now();
    let items = stream::iter((0..args.num).map(Ok));
    let tally = run_jobs(items, args.jobs, &progress, |i| {
        let uri = format!("{prefix}{}", object_name(&args.template, i, args.num));
        let (store, synth, progress) = (store.clone(), &args.synth, &progress);
        async move {
            let result = write_synthetic(store, &uri, synth, i).await;
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

/// `object_{}_of_{}.dat` → `object_3_of_10.dat`: the first `{}` is the index, the second
/// the count.
pub fn object_name(template: &str, index: u64, count: u64) -> String {
    let mut values = [index, count].into_iter();
    let mut parts = template.split("{}");
    let mut name = parts.next().unwrap_or_default().to_string();
    for part in parts {
        if let Some(v) = values.next() {
            name.push_str(&v.to_string());
        }
        name.push_str(part);
    }
    name
}

/// Writes synthetic object number `index`: one put when it fits in a part, else a
/// streaming upload generated part by part (memory: the writer's parts in flight).
/// Generation runs on the blocking pool, never on the async workers.
pub async fn write_synthetic(
    store: Arc<dyn ObjectStore>,
    uri: &str,
    synth: &SynthArgs,
    index: u64,
) -> s3dlio::Result<u64> {
    let spec = DataSpec::default()
        .with_dedup(synth.dedup)
        .with_compress(synth.compress)
        .with_seed(synth.seed.wrapping_add(index));
    let generator = Arc::new(Generator::new(synth.size, spec));
    let opts = WriterOptions::default();
    let part = opts.part_size as u64;
    if synth.size <= part {
        let data = generate(uri, generator, 0, synth.size).await?;
        store.put(uri, data).await?;
        return Ok(synth.size);
    }
    let mut writer = store.get_writer(uri, opts).await?;
    for offset in (0..synth.size).step_by(part as usize) {
        let len = part.min(synth.size - offset);
        let written = match generate(uri, generator.clone(), offset, len).await {
            Ok(data) => writer.write(data).await,
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            return Err(abandon(writer, uri, e).await);
        }
    }
    writer.finalize().await?;
    Ok(synth.size)
}

async fn generate(uri: &str, generator: Arc<Generator>, offset: u64, len: u64) -> s3dlio::Result<Bytes> {
    tokio::task::spawn_blocking(move || generator.range(offset, len as usize))
        .await
        .map_err(|e| s3dlio::Error::Backend {
            op: Operation::Put,
            uri: uri.to_string(),
            message: "generating the object's data failed".into(),
            source: Some(Box::new(e)),
        })
}

#[cfg(test)]
mod tests {
    use super::object_name;

    #[test]
    fn templates_take_index_then_count() {
        assert_eq!(object_name("object_{}_of_{}.dat", 3, 10), "object_3_of_10.dat");
        assert_eq!(object_name("k{}", 7, 10), "k7");
        assert_eq!(object_name("fixed", 0, 1), "fixed");
    }
}
