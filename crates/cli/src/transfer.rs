//! Moving one object between any two stores, and running many such jobs at once.
//!
//! Reads go through the range engine's in-order stream (no HEAD, concurrent ranged GETs,
//! bounded bytes in flight); writes go through the destination's streaming writer, so a
//! transfer holds at most the engine's bytes in flight plus the writer's parts in flight,
//! whatever the object's size. Destination writers make the object visible only on
//! `finalize` (file:// writes a temporary name and renames it), and a failed transfer
//! cancels its writer: nothing partial is ever left under the final name.

use std::future::Future;
use std::time::Instant;

use futures::stream::{Stream, StreamExt};
use s3dlio::{
    BatchFailure, Error, ObjectStore, ObjectStoreExt, ObjectUri, ObjectWriter, Operation, WriterOptions,
};
use s3dlio_range_engine::{ObjectHint, RangeEngineConfig, read_stream};

use crate::failure::CliResult;
use crate::output::{Out, Summary};
use crate::progress::Progress;

/// How each transfer reads and writes.
#[derive(Debug, Clone)]
pub struct Plan {
    pub engine: RangeEngineConfig,
    pub writer: WriterOptions,
}

impl Plan {
    /// The environment's engine settings (`S3DLIO_RANGE_*`), shared by `jobs` concurrent
    /// transfers: each gets its share of the engine's byte cap (at least two chunks) and
    /// of the writer's parts in flight (at least one), so memory stays near one object's
    /// budget however many run at once.
    pub fn for_jobs(jobs: usize) -> s3dlio::Result<Self> {
        let engine = RangeEngineConfig::from_env()?;
        let jobs = jobs.max(1) as u64;
        let cap = (engine.max_bytes_in_flight / jobs).max(engine.chunk_size * 2);
        let writer = WriterOptions::default();
        let in_flight = (writer.max_in_flight / jobs as usize).max(1);
        Ok(Plan {
            engine: engine.with_max_bytes_in_flight(cap),
            writer: writer.with_max_in_flight(in_flight),
        })
    }
}

/// A byte range of the source: `offset` and an optional `length`.
pub type Span = Option<(u64, Option<u64>)>;

/// Whether `src` and `dst` live in one service account/endpoint, so the service can copy
/// without the bytes passing through us.
fn same_service(src: &str, dst: &str) -> bool {
    match (ObjectUri::parse(src), ObjectUri::parse(dst)) {
        (Ok(s), Ok(d)) => {
            s.service() == d.service() && s.endpoint() == d.endpoint() && s.account() == d.account()
        }
        _ => false,
    }
}

/// Copies `src` (or a span of it) to `dst`; returns the bytes moved.
pub async fn copy_object(
    src_store: &dyn ObjectStore,
    src: &str,
    dst_store: &dyn ObjectStore,
    dst: &str,
    span: Span,
    hint: Option<ObjectHint>,
    (plan, progress): (&Plan, &Progress),
) -> s3dlio::Result<u64> {
    if span.is_none() && same_service(src, dst) && dst_store.capabilities().server_side_copy {
        let size = match &hint {
            Some(h) => h.size,
            None => src_store.stat(src).await?.size,
        };
        dst_store.copy(src, dst).await?;
        progress.inc(size);
        return Ok(size);
    }
    let (offset, length) = span.unwrap_or((0, None));
    let mut writer = dst_store.get_writer(dst, plan.writer.clone()).await?;
    let mut chunks = read_stream(src_store, &plan.engine, src, offset, length, hint);
    let mut moved = 0u64;
    while let Some(chunk) = chunks.next().await {
        let written = match chunk {
            Ok(data) => {
                let len = data.len() as u64;
                writer.write(data).await.map(|()| len)
            }
            Err(e) => Err(e),
        };
        match written {
            Ok(len) => {
                moved += len;
                progress.inc(len);
            }
            Err(e) => return Err(abandon(writer, dst, e).await),
        }
    }
    writer.finalize().await?;
    Ok(moved)
}

/// Cancels an upload that failed with `error` (so nothing is left behind) and gives the
/// error back; a failed cancel is logged, the original error is what the caller sees.
pub async fn abandon(writer: Box<dyn ObjectWriter>, uri: &str, error: Error) -> Error {
    if let Err(cancel) = writer.cancel().await {
        tracing::warn!("cancelling the upload to {uri} after `{error}` failed too: {cancel}");
    }
    error
}

/// Reads `src` (or a span of it) and drops the bytes as they arrive; returns the bytes
/// read. Memory stays within the engine's bytes in flight.
pub async fn read_discard(
    store: &dyn ObjectStore,
    src: &str,
    span: Span,
    hint: Option<ObjectHint>,
    (plan, progress): (&Plan, &Progress),
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
