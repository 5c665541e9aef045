//! Building blocks of the multipart/block writers: cutting a stream of writes into
//! fixed-size parts, and uploading them with a bounded number in flight.
//!
//! Memory of a writer built on these is bounded by `max_in_flight × part_size` plus the
//! part being filled: [`InFlight::spawn`] waits for a free slot (back-pressure).

use std::future::Future;

use bytes::{Bytes, BytesMut};
use tokio::task::JoinSet;

use crate::error::{Error, Operation, Result};

/// Cuts writes into parts of `part_size` bytes. Whole parts are sliced out of the
/// caller's buffer when nothing is pending (no copy); only a partial part is copied.
#[derive(Debug)]
pub struct PartBuffer {
    part_size: usize,
    buf: BytesMut,
}

impl PartBuffer {
    pub fn new(part_size: usize) -> Self {
        PartBuffer {
            part_size,
            buf: BytesMut::new(),
        }
    }

    /// Takes `data`; returns the parts it completed, in order.
    pub fn push(&mut self, mut data: Bytes) -> Vec<Bytes> {
        let mut full = Vec::new();
        while self.buf.is_empty() && data.len() >= self.part_size {
            full.push(data.split_to(self.part_size));
        }
        while !data.is_empty() {
            let take = (self.part_size - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data.split_to(take));
            if self.buf.len() == self.part_size {
                full.push(self.buf.split().freeze());
            }
        }
        full
    }

    /// The bytes of the unfinished last part (possibly none).
    pub fn take_rest(&mut self) -> Bytes {
        self.buf.split().freeze()
    }

    pub fn part_size(&self) -> usize {
        self.part_size
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
}

impl<T: Send + 'static> InFlight<T> {
    /// `op` and `uri` name a task that panicked or was cancelled.
    pub fn new(max: usize, op: Operation, uri: &str) -> Self {
        InFlight {
            tasks: JoinSet::new(),
            max: max.max(1),
            done: Vec::new(),
            op,
            uri: uri.to_string(),
        }
    }

    /// Starts `upload` once fewer than `max` are running; the first failure of an
    /// earlier upload is returned instead.
    pub async fn spawn(&mut self, upload: impl Future<Output = Result<T>> + Send + 'static) -> Result<()> {
        while self.tasks.len() >= self.max {
            self.reap_one().await?;
        }
        self.tasks.spawn(upload);
        Ok(())
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
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

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
        assert_eq!(p.push(Bytes::from_static(b"lmnopq")), ["ijkl", "mnop"]);
        assert_eq!(p.take_rest(), "q");
        assert!(p.take_rest().is_empty());
    }

    #[tokio::test]
    async fn at_most_max_run_and_failures_surface() {
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut f = InFlight::new(3, Operation::Write, "u");
        for i in 0..10 {
            let (running, peak) = (running.clone(), peak.clone());
            f.spawn(async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(i)
            })
            .await
            .unwrap();
        }
        let mut got = f.finish().await.unwrap();
        got.sort();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
        assert_eq!(peak.load(Ordering::SeqCst), 3);

        let mut f = InFlight::new(1, Operation::Write, "u");
        f.spawn(async { Err::<(), _>(Error::not_found(Operation::Write, "u")) })
            .await
            .unwrap();
        let e = f.spawn(async { Ok(()) }).await.unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e}");
    }
}
