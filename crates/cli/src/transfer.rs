//! Running many object jobs at once and reporting them; the copy itself is
//! [`s3dlio::transfer::copy_object`], shared with the Python wheel.

use std::future::Future;
use std::time::Instant;

use futures::stream::{Stream, StreamExt};
use s3dlio::transfer::{Plan, Span};
use s3dlio::{BatchFailure, Error, ObjectStore, Operation};
use s3dlio_range_engine::{ObjectHint, read_stream};

use crate::failure::CliResult;
use crate::output::{Out, Summary};
use crate::progress::Progress;

/// Reads `src` (or a span of it) and drops the bytes as they arrive; returns the bytes
/// read. Memory stays within the engine's bytes in flight.
pub async fn read_discard(
    store: &dyn ObjectStore,
    src: &str,
    span: Span,
    hint: Option<ObjectHint>,
    plan: &Plan,
    progress: &Progress,
) -> s3dlio::Result<u64> {
    let (offset, length) = span.unwrap_or((0, None));
    let mut chunks = read_stream(store, &plan.engine, src, offset, length, hint);
    let mut read = 0u64;
    while let Some(chunk) = chunks.next().await {
        let len = chunk?.len() as u64;
        read += len;
        progress.inc(len);
    }
    Ok(read)
}

/// What a multi-object run did.
#[derive(Debug, Default)]
pub struct Tally {
    pub objects: u64,
    pub bytes: u64,
    pub failures: Vec<BatchFailure>,
}

impl Tally {
    /// Prints the run's summary, then ends it: `Ok` when every object succeeded, else an
    /// [`Error::Batch`] naming each failure (exit code 5).
    pub async fn report(
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

    fn into_result(self, op: Operation, uri: &str) -> s3dlio::Result<()> {
        if self.failures.is_empty() {
            return Ok(());
        }
        Err(Error::Batch {
            op,
            uri: uri.to_string(),
            succeeded: self.objects as usize,
            failures: self.failures,
        })
    }
}

/// Runs `job` on every item, `jobs` at a time. A failed item is recorded and the others
/// go on; a failure of the item source itself (a listing) stops the run.
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
    let job = &job;
    let mut results = std::pin::pin!(
        items
            .map(|item| async move {
                match item {
                    Ok(t) => Ok(job(t).await),
                    Err(e) => Err(e),
                }
            })
            .buffer_unordered(jobs.max(1))
    );
    let mut tally = Tally::default();
    while let Some(result) = results.next().await {
        match result? {
            (_, Ok(bytes)) => {
                tally.objects += 1;
                tally.bytes += bytes;
            }
            (uri, Err(error)) => tally.failures.push(BatchFailure { uri, error }),
        }
        progress.set_message(format!("{} objects", tally.objects));
    }
    Ok(tally)
}
