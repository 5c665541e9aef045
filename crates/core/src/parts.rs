//! Building blocks of the multipart/block writers: cutting a stream of writes into
//! fixed-size parts, uploading them with a bounded number in flight, and the
//! [`ObjectWriter`] rules every part-by-part upload keeps ([`PartWriter`]).
//!
//! Memory of a writer built on these is bounded by `max_in_flight × part_size` plus the
//! part being filled: [`InFlight::spawn`] waits for a free slot (back-pressure).

use std::fmt::Debug;
use std::future::Future;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::task::JoinSet;

use crate::error::{Error, Operation, Result};
use crate::retry::{RetryPolicy, retry};
use crate::staging::Staging;
use crate::writer::{ObjectWriter, WriteSummary};

/// One part-by-part upload as a backend drives it (S3 multipart, Azure blocks, GCS
/// resumable). [`PartWriter`] turns it into an [`ObjectWriter`].
#[async_trait]
pub trait PartUpload: Send + Debug + 'static {
    /// Takes the next bytes of the object (cutting and sending whole parts).
    async fn push(&mut self, data: Bytes) -> Result<()>;

    /// Sends what is left and makes the object visible; `written` bytes were pushed.
    async fn complete(&mut self, written: u64) -> Result<WriteSummary>;

    /// Discards the upload, waiting until the service was told.
    async fn discard(&mut self) -> Result<()>;

    /// Discards the upload without waiting (the writer is being dropped): stop the parts
    /// and leave what the service must be told to a background task.
    fn discard_in_background(&mut self);

    /// A journaled upload outlives a failure or a drop (only `cancel` discards it), so a
    /// later writer can resume it ([`crate::resume`]).
    fn keeps_on_failure(&self) -> bool {
        false
    }

    /// Bytes of a resumed upload that the service held already and were not sent again.
    fn reused_bytes(&self) -> u64 {
        0
    }

    /// The size of each part (all but the last).
    fn part_size(&self) -> usize;
}

/// An [`ObjectWriter`] over a [`PartUpload`], with the rules every backend keeps: a
/// failed write or finalize discards the upload (the first error is the one returned),
/// nothing is accepted after finalize, cancel or a failure, and a writer dropped before
/// `finalize` discards its upload — except a journaled one, kept for its resumption.
#[derive(Debug)]
pub struct PartWriter<U: PartUpload> {
    upload: U,
    uri: String,
    written: u64,
    closed: bool,
}

impl<U: PartUpload> PartWriter<U> {
    pub fn new(upload: U, uri: &str) -> Self {
        PartWriter {
            upload,
            uri: uri.to_string(),
            written: 0,
            closed: false,
        }
    }

    fn closed_error(&self, op: Operation) -> Error {
        Error::Backend {
            op,
            uri: self.uri.clone(),
            message: "the writer was already finalized, cancelled or failed; start a new upload".into(),
            source: None,
        }
    }
}

#[async_trait]
impl<U: PartUpload> ObjectWriter for PartWriter<U> {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        if self.closed {
            return Err(self.closed_error(Operation::Write));
        }
        self.written += data.len() as u64;
        if let Err(e) = self.upload.push(data).await {
            self.closed = true;
            // The write's error is the one to report; the discard is best effort.
            if !self.upload.keeps_on_failure() {
                let _ = self.upload.discard().await;
            }
            return Err(e);
        }
        Ok(())
    }

    async fn finalize(mut self: Box<Self>) -> Result<WriteSummary> {
        if self.closed {
            return Err(self.closed_error(Operation::Finalize));
        }
        self.closed = true;
        let result = self.upload.complete(self.written).await;
        if result.is_err() && !self.upload.keeps_on_failure() {
            let _ = self.upload.discard().await;
        }
        result
    }

    async fn cancel(mut self: Box<Self>) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        self.upload.discard().await
    }

    fn bytes_written(&self) -> u64 {
        self.written
    }

    fn reused_bytes(&self) -> u64 {
        self.upload.reused_bytes()
    }

    fn resumable(&self) -> bool {
        self.upload.keeps_on_failure()
    }

    fn part_size(&self) -> Option<usize> {
        Some(self.upload.part_size())
    }
}

impl<U: PartUpload> Drop for PartWriter<U> {
    fn drop(&mut self) {
        if !self.closed && !self.upload.keeps_on_failure() {
            self.upload.discard_in_background();
        }
    }
}

/// Cuts writes into parts of `part_size` bytes. A pending partial part is topped up
/// from the write (a copy of at most one part), then whole parts are sliced out of the
/// caller's buffer (no copy), and only the tail is copied, into recycled blocks
/// ([`Staging`]).
#[derive(Debug)]
pub struct PartBuffer {
    pending: Staging,
}

impl PartBuffer {
    pub fn new(part_size: usize) -> Self {
        PartBuffer {
            pending: Staging::new(part_size),
        }
    }

    /// Takes `data`; returns the parts it completed, in order.
    pub fn push(&mut self, mut data: Bytes) -> Vec<Bytes> {
        let part_size = self.part_size();
        let mut full = Vec::new();
        if !self.pending.is_empty() {
            let take = (part_size - self.pending.len()).min(data.len());
            full = self.pending.push(&data.split_to(take));
        }
        // Here the pending part is empty, or `data` is.
        while data.len() >= part_size {
            full.push(data.split_to(part_size));
        }
        full.extend(self.pending.push(&data));
        full
    }

    /// The bytes of the unfinished last part (possibly none).
    pub fn take_rest(&mut self) -> Bytes {
        self.pending.take_rest()
    }

    pub fn part_size(&self) -> usize {
        self.pending.block_size()
    }
}

/// Uploads running at once, at most `max`; results kept in completion order.
#[derive(Debug)]
pub struct InFlight<T> {
    tasks: JoinSet<Result<T>>,
    max: usize,
    done: Vec<T>,
    op: Operation,
    uri: String,
    retry: RetryPolicy,
}

impl<T: Send + 'static> InFlight<T> {
    /// `op` and `uri` name a task that panicked or was cancelled; each upload is retried
    /// per `retry` (the writer's `part_retry`).
    pub fn new(max: usize, op: Operation, uri: &str, retry: RetryPolicy) -> Self {
        InFlight {
            tasks: JoinSet::new(),
            max: max.max(1),
            done: Vec::new(),
            op,
            uri: uri.to_string(),
            retry,
        }
    }

    /// Starts an upload once fewer than `max` are running; the first failure of an
    /// earlier upload is returned instead. `upload` makes one try each time it is
    /// called, so a failed try is sent again within the retry policy.
    pub async fn spawn<F, Fut>(&mut self, upload: F) -> Result<()>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T>> + Send + 'static,
    {
        while self.tasks.len() >= self.max {
            self.reap_one().await?;
        }
        let (policy, op, uri) = (self.retry.clone(), self.op, self.uri.clone());
        self.tasks
            .spawn(async move { retry(&policy, op, &uri, upload).await });
        Ok(())
    }

    /// Counts a part that needs no upload (a resumed upload's stored part) among the
    /// results.
    pub fn add_done(&mut self, value: T) {
        self.done.push(value);
    }

    /// Waits for every upload; the results in completion order.
    pub async fn finish(&mut self) -> Result<Vec<T>> {
        while !self.tasks.is_empty() {
            self.reap_one().await?;
        }
        Ok(std::mem::take(&mut self.done))
    }

    /// Stops every running upload.
    pub fn abort_all(&mut self) {
        self.tasks.abort_all();
    }

    async fn reap_one(&mut self) -> Result<()> {
        if let Some(joined) = self.tasks.join_next().await {
            let value = joined.map_err(|e| Error::Backend {
                op: self.op,
                uri: self.uri.clone(),
                message: "a part upload task failed".into(),
                source: Some(Box::new(e)),
            })??;
            self.done.push(value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Records what the writer asked of it; fails every push, or the completion, when set.
    #[derive(Debug, Default, Clone)]
    struct Script {
        log: Arc<Mutex<Vec<String>>>,
        fail_push: bool,
        fail_complete: bool,
        /// Journaled: kept on failure and drop.
        keep: bool,
    }

    #[async_trait]
    impl PartUpload for Script {
        async fn push(&mut self, data: Bytes) -> Result<()> {
            self.log.lock().unwrap().push(format!("push {}", data.len()));
            if self.fail_push {
                return Err(Error::not_found(Operation::Write, "u"));
            }
            Ok(())
        }
        async fn complete(&mut self, written: u64) -> Result<WriteSummary> {
            self.log.lock().unwrap().push(format!("complete {written}"));
            if self.fail_complete {
                return Err(Error::not_found(Operation::Finalize, "u"));
            }
            Ok(WriteSummary {
                uri: "u".into(),
                bytes_written: written,
                size: written,
                e_tag: None,
            })
        }
        async fn discard(&mut self) -> Result<()> {
            self.log.lock().unwrap().push("discard".into());
            Ok(())
        }
        fn discard_in_background(&mut self) {
            self.log.lock().unwrap().push("discard in background".into());
        }
        fn keeps_on_failure(&self) -> bool {
            self.keep
        }
        fn part_size(&self) -> usize {
            4
        }
    }

    fn log(s: &Script) -> Vec<String> {
        s.log.lock().unwrap().clone()
    }

    #[tokio::test]
    async fn part_writers_discard_on_failure_cancel_and_drop_and_only_then() {
        let ok = Script::default();
        let mut w = Box::new(PartWriter::new(ok.clone(), "u"));
        w.write(Bytes::from_static(b"abc")).await.unwrap();
        w.write(Bytes::from_static(b"de")).await.unwrap();
        assert_eq!(w.finalize().await.unwrap().size, 5);
        assert_eq!(
            log(&ok),
            ["push 3", "push 2", "complete 5"],
            "a finalized writer discards nothing"
        );

        let failing = Script {
            fail_push: true,
            ..Default::default()
        };
        let mut w = Box::new(PartWriter::new(failing.clone(), "u"));
        assert!(
            w.write(Bytes::from_static(b"x"))
                .await
                .unwrap_err()
                .is_not_found()
        );
        assert!(
            w.write(Bytes::from_static(b"y")).await.is_err(),
            "no writes after a failure"
        );
        assert!(w.finalize().await.is_err(), "no finalize after a failure");
        assert_eq!(log(&failing), ["push 1", "discard"]);

        let bad_end = Script {
            fail_complete: true,
            ..Default::default()
        };
        let w = Box::new(PartWriter::new(bad_end.clone(), "u"));
        assert!(
            w.finalize().await.unwrap_err().is_not_found(),
            "finalize's own error is returned"
        );
        assert_eq!(log(&bad_end), ["complete 0", "discard"]);

        let cancelled = Script::default();
        let w = Box::new(PartWriter::new(cancelled.clone(), "u"));
        w.cancel().await.unwrap();
        let dropped = Script::default();
        drop(PartWriter::new(dropped.clone(), "u"));
        assert_eq!(
            (log(&cancelled), log(&dropped)),
            (
                vec!["discard".to_string()],
                vec!["discard in background".to_string()]
            )
        );
    }

    #[tokio::test]
    async fn a_journaled_upload_is_kept_on_failure_and_drop_and_discarded_only_by_cancel() {
        let journaled = |fail_push, fail_complete| Script {
            fail_push,
            fail_complete,
            keep: true,
            ..Default::default()
        };
        let failing = journaled(true, false);
        let mut w = Box::new(PartWriter::new(failing.clone(), "u"));
        assert!(w.write(Bytes::from_static(b"x")).await.is_err());
        assert!(w.finalize().await.is_err(), "still closed after a failure");
        let bad_end = journaled(false, true);
        assert!(
            Box::new(PartWriter::new(bad_end.clone(), "u"))
                .finalize()
                .await
                .is_err()
        );
        let dropped = journaled(false, false);
        drop(PartWriter::new(dropped.clone(), "u"));
        let cancelled = journaled(false, false);
        Box::new(PartWriter::new(cancelled.clone(), "u"))
            .cancel()
            .await
            .unwrap();
        assert_eq!(log(&failing), ["push 1"]);
        assert_eq!(log(&bad_end), ["complete 0"]);
        assert!(log(&dropped).is_empty());
        assert_eq!(log(&cancelled), ["discard"]);
    }

    #[test]
    fn parts_are_cut_at_part_size_without_copying_whole_parts() {
        let mut p = PartBuffer::new(4);
        let big = Bytes::from_static(b"abcdefghij");
        let parts = p.push(big.clone());
        assert_eq!(parts, ["abcd", "efgh"]);
        assert_eq!(
            parts[0].as_ptr(),
            big.as_ptr(),
            "a whole part is a slice of the write"
        );
        assert_eq!(p.push(Bytes::from_static(b"k")), Vec::<Bytes>::new());
        let after_pending = Bytes::from_static(b"lmnopqrstuv");
        let parts = p.push(after_pending.clone());
        assert_eq!(parts, ["ijkl", "mnop", "qrst"]);
        assert_eq!(
            parts[2].as_ptr(),
            after_pending[5..].as_ptr(),
            "after topping up a pending part, whole parts are slices of the write"
        );
        assert_eq!(p.take_rest(), "uv");
        assert!(p.take_rest().is_empty());
        assert_eq!(p.push(Bytes::from_static(b"w")), Vec::<Bytes>::new());
        assert_eq!(p.push(Bytes::from_static(b"x")), Vec::<Bytes>::new());
        assert_eq!(p.take_rest(), "wx");
    }

    #[tokio::test]
    async fn at_most_max_run_and_failures_surface() {
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut f = InFlight::new(3, Operation::Write, "u", RetryPolicy::none());
        for i in 0..10 {
            let (running, peak) = (running.clone(), peak.clone());
            f.spawn(move || {
                let (running, peak) = (running.clone(), peak.clone());
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok(i)
                }
            })
            .await
            .unwrap();
        }
        let mut got = f.finish().await.unwrap();
        got.sort();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
        assert_eq!(peak.load(Ordering::SeqCst), 3);

        let mut f = InFlight::new(1, Operation::Write, "u", RetryPolicy::none());
        f.spawn(|| async { Err::<(), _>(Error::not_found(Operation::Write, "u")) })
            .await
            .unwrap();
        let e = f.spawn(|| async { Ok(()) }).await.unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e}");
    }

    /// A part that fails transiently is sent again, as often as the policy allows.
    #[tokio::test]
    async fn parts_are_retried_per_the_policy() {
        let quick = RetryPolicy::default().with_backoff(
            std::time::Duration::from_millis(1),
            std::time::Duration::from_millis(1),
        );
        for (attempts, fails, ok) in [(3, 2, true), (2, 2, false), (1, 1, false)] {
            let tries = Arc::new(AtomicUsize::new(0));
            let mut f = InFlight::new(
                1,
                Operation::Write,
                "u",
                quick.clone().with_max_attempts(attempts),
            );
            let counter = tries.clone();
            f.spawn(move || {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < fails {
                        Err(Error::Transient {
                            op: Operation::Write,
                            uri: "u".into(),
                            source: "reset".into(),
                        })
                    } else {
                        Ok(())
                    }
                }
            })
            .await
            .unwrap();
            assert_eq!(
                f.finish().await.is_ok(),
                ok,
                "{attempts} attempts, {fails} failures"
            );
            assert_eq!(tries.load(Ordering::SeqCst), (fails + 1).min(attempts as usize));
        }
    }
}
