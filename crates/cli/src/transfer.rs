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
