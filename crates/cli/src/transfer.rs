//! Running many object jobs at once and reporting them; the copy itself is
//! [`s3dlio::transfer::copy_object`], shared with the Python wheel.

use std::future::Future;
use std::time::Instant;

use futures::stream::{Stream, StreamExt};
pub use s3dlio::transfer::Tally;
use s3dlio::transfer::{Plan, Span};
use s3dlio::{ObjectHint, ObjectStore, Operation};

use crate::failure::CliResult;
use crate::output::{Out, Summary};
use crate::progress::Progress;

/// Reads `src` (or a span of it) and drops the bytes as they arrive; returns the bytes
/// read. Memory stays within the read path's bytes in flight.
pub async fn read_discard(
    store: &dyn ObjectStore,
    src: &str,
    span: Span,
    hint: Option<ObjectHint>,
    plan: &Plan,
    progress: &Progress,
) -> s3dlio::Result<u64> {
    let mut chunks = store.get_stream(src, plan.read(span, hint));
    let mut read = 0u64;
    while let Some(chunk) = chunks.next().await {
        let len = chunk?.len() as u64;
        read += len;
        progress.inc(len);
    }
    Ok(read)
}

/// Prints a multi-object run's summary, then ends it: `Ok` when every object succeeded,
/// else an [`s3dlio::Error::Batch`] naming each failure (exit code 5).
pub trait Report {
    async fn report(
        self,
        summary_op: &'static str,
        started: Instant,
        out: &mut Out,
        op: Operation,
        uri: &str,
    ) -> CliResult;
}

impl Report for Tally {
    async fn report(
        self,
        summary_op: &'static str,
        started: Instant,
        out: &mut Out,
        op: Operation,
        uri: &str,
    ) -> CliResult {
        Summary {
            op: summary_op,
            objects: self.objects,
            bytes: self.bytes,
            elapsed: started.elapsed(),
            failed: self.failures.len(),
        }
        .print(out)
        .await?;
        Ok(self.into_result(op, uri)?)
    }
}

/// [`s3dlio::transfer::run_jobs`] with the object count shown on `progress`.
pub async fn run_jobs<T, F, Fut>(
    items: impl Stream<Item = s3dlio::Result<T>>,
    jobs: usize,
    progress: &Progress,
    job: F,
) -> s3dlio::Result<Tally>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = (String, s3dlio::Result<u64>)>,
{
    let counted = |t: &Tally| progress.set_message(format!("{} objects", t.objects));
    s3dlio::transfer::run_jobs(items, jobs, counted, job).await
}

/// `--dry-run`: prints each line `plan` yields (what would be done) and a count; fails
/// as the real run would when nothing is selected.
pub async fn dry_run(
    plan: impl Stream<Item = s3dlio::Result<String>>,
    what: &str,
    out: &mut Out,
) -> CliResult {
    let mut plan = std::pin::pin!(plan);
    let mut n = 0u64;
    while let Some(line) = plan.next().await {
        out.line(&line?).await?;
        n += 1;
    }
    if n == 0 {
        return Err(crate::failure::Failure::NothingMatched(what.to_string()));
    }
    out.line(&format!("dry run: {n} objects, nothing changed")).await
}
