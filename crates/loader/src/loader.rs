//! The `DataLoader`: batches of samples read concurrently ahead of the consumer.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::{Stream, StreamExt, stream};
use s3dlio_core::{BatchFailure, Error, Operation, Result};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::dataset::Dataset;
use crate::order::{Shard, epoch_order};

/// What to do with a sample that could not be read (after the store's own retries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// End the epoch with the error, which names the sample's URI.
    #[default]
    Fail,
    /// Leave the sample out and go on; the epoch's [`EpochReport`] lists it.
    Skip,
}

/// Options of a [`DataLoader`]; each has a `with_*` setter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoaderOptions {
    pub batch_size: usize,
    /// Leave out a last batch smaller than `batch_size`.
    pub drop_last: bool,
    pub shuffle: bool,
    pub seed: u64,
    /// Finished batches waiting for the consumer.
    pub prefetch: usize,
    /// Samples being read at once.
    pub max_in_flight: usize,
    /// Deliver samples in the epoch's order (`true`), or as reads complete.
    pub ordered: bool,
    pub on_error: OnError,
    pub shard: Shard,
}

impl Default for LoaderOptions {
    fn default() -> Self {
        LoaderOptions {
            batch_size: 32,
            drop_last: false,
            shuffle: false,
            seed: 0,
            prefetch: 2,
            max_in_flight: 64,
            ordered: true,
            on_error: OnError::Fail,
            shard: Shard::default(),
        }
    }
}

impl LoaderOptions {
    pub fn with_batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }

    pub fn with_drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    pub fn with_shuffle(mut self, shuffle: bool, seed: u64) -> Self {
        self.shuffle = shuffle;
        self.seed = seed;
        self
    }

    pub fn with_prefetch(mut self, batches: usize) -> Self {
        self.prefetch = batches;
        self
    }

    pub fn with_max_in_flight(mut self, samples: usize) -> Self {
        self.max_in_flight = samples;
        self
    }

    pub fn with_ordered(mut self, ordered: bool) -> Self {
        self.ordered = ordered;
        self
    }

    pub fn with_on_error(mut self, on_error: OnError) -> Self {
        self.on_error = on_error;
        self
    }

    pub fn with_shard(mut self, shard: Shard) -> Self {
        self.shard = shard;
        self
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::invalid_argument(Operation::Open, "loader options", m));
        if self.batch_size == 0 {
            return bad("batch_size must be at least 1");
        }
        if self.prefetch == 0 || self.max_in_flight == 0 {
            return bad("prefetch and max_in_flight must be at least 1");
        }
        let s = self.shard;
        if s.world_size == 0 || s.num_workers == 0 || s.rank >= s.world_size || s.worker_id >= s.num_workers {
            return bad("the shard needs rank < world_size and worker_id < num_workers (both counts ≥ 1)");
        }
        Ok(())
    }
}

/// Samples of one batch with their dataset indices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    pub indices: Vec<usize>,
    pub items: Vec<Bytes>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// What an epoch delivered and what it left out ([`OnError::Skip`]).
#[derive(Debug, Default)]
pub struct EpochReport {
    pub delivered: usize,
    pub skipped: Vec<BatchFailure>,
}

/// Batches over a [`Dataset`]: shuffled per epoch, sharded, read `max_in_flight` at a
/// time, and at most `prefetch` finished batches ahead of the consumer.
///
/// Memory is bounded by `(prefetch + 1) × batch bytes` (waiting batches and the one being
/// filled) plus `max_in_flight` samples being read, never by the dataset's size.
#[derive(Debug, Clone)]
pub struct DataLoader {
    dataset: Arc<dyn Dataset>,
    opts: LoaderOptions,
}

impl DataLoader {
    pub fn new(dataset: Arc<dyn Dataset>, opts: LoaderOptions) -> Result<Self> {
        opts.validate()?;
        Ok(DataLoader { dataset, opts })
    }

    pub fn options(&self) -> &LoaderOptions {
        &self.opts
    }

    /// The samples this shard reads per epoch.
    pub fn samples_per_epoch(&self) -> usize {
        epoch_order(self.dataset.len(), false, 0, 0, self.opts.shard).len()
    }

    /// The batches this shard gets per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        let n = self.samples_per_epoch();
        if self.opts.drop_last {
            n / self.opts.batch_size
        } else {
            n.div_ceil(self.opts.batch_size)
        }
    }

    /// Starts epoch `epoch` (reading begins at once, on the current Tokio runtime).
    /// Dropping the returned stream cancels the reads still running.
    pub fn epoch(&self, epoch: u64) -> Epoch {
        let o = &self.opts;
        let order = epoch_order(self.dataset.len(), o.shuffle, o.seed, epoch, o.shard);
        let (tx, rx) = mpsc::channel(o.prefetch);
        let report = Arc::new(Mutex::new(EpochReport::default()));
        let task = tokio::spawn(produce(
            self.dataset.clone(),
            self.opts.clone(),
            order,
            tx,
            report.clone(),
        ));
        Epoch { rx, task, report }
    }
}

async fn produce(
    dataset: Arc<dyn Dataset>,
    o: LoaderOptions,
    order: Vec<usize>,
    tx: mpsc::Sender<Result<Batch>>,
    report: Arc<Mutex<EpochReport>>,
) {
    let reads = stream::iter(order).map(|i| {
        let dataset = dataset.clone();
        async move { (i, dataset.get(i).await) }
    });
    let mut done = if o.ordered {
        reads.buffered(o.max_in_flight).boxed()
    } else {
        reads.buffer_unordered(o.max_in_flight).boxed()
    };
    let mut batch = Batch::default();
    while let Some((i, read)) = done.next().await {
        match read {
            Ok(item) => {
                batch.indices.push(i);
                batch.items.push(item);
            }
            Err(error) if o.on_error == OnError::Skip => {
                let uri = dataset.name(i);
                report
                    .lock()
                    .expect("report lock")
                    .skipped
                    .push(BatchFailure { uri, error });
            }
            Err(error) => {
                let _ = tx.send(Err(error)).await;
                return;
            }
        }
        if batch.len() == o.batch_size {
            let full = std::mem::take(&mut batch);
            report.lock().expect("report lock").delivered += full.len();
            if tx.send(Ok(full)).await.is_err() {
                return; // the consumer is gone
            }
        }
    }
    if !batch.is_empty() && !o.drop_last {
        report.lock().expect("report lock").delivered += batch.len();
        let _ = tx.send(Ok(batch)).await;
    }
}

/// The batches of one epoch, as a stream. Dropping it stops the epoch's reads.
#[derive(Debug)]
pub struct Epoch {
    rx: mpsc::Receiver<Result<Batch>>,
    task: JoinHandle<()>,
    report: Arc<Mutex<EpochReport>>,
}

impl Epoch {
    /// The next batch; `None` at the end of the epoch (or after an error was returned).
    pub async fn next_batch(&mut self) -> Option<Result<Batch>> {
        self.rx.recv().await
    }

    /// Samples delivered and samples left out since the last call (the first call: since
    /// the start); complete once the stream has ended.
    pub fn take_report(&self) -> EpochReport {
        std::mem::take(&mut *self.report.lock().expect("report lock"))
    }
}

impl Stream for Epoch {
    type Item = Result<Batch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for Epoch {
    fn drop(&mut self) {
        self.task.abort();
    }
}
