//! Every row group of many files, `concurrency` reads in flight, delivered as they
//! complete through a channel of the same depth (memory: about `2 × concurrency` row
//! groups).

use std::sync::Arc;

use bytes::Bytes;
use futures::{FutureExt, StreamExt, stream};
use s3dlio_core::{ObjectStore, Result, try_join_ordered};
use tokio::sync::mpsc;

use crate::cache::FooterCache;
use crate::read::Decode;

/// One row group of one file.
#[derive(Debug, Clone)]
pub struct RowGroup {
    /// Index of the file in the list the stream was started with.
    pub file: usize,
    pub rg: usize,
    pub data: Bytes,
}

/// How the stream reads.
#[derive(Debug, Clone)]
pub struct StreamOptions {
    pub columns: Option<Vec<usize>>,
    pub decode: Decode,
    pub footer_cap: u64,
    /// Row-group reads (and footer reads) in flight at once.
    pub concurrency: usize,
}

/// Starts reading every row group of `files` on `runtime`, in file then row-group order,
/// `concurrency` at a time; results arrive in completion order. The first failure is
/// sent and ends the stream. Dropping the receiver stops the reads.
pub fn spawn_row_groups(
    runtime: &tokio::runtime::Handle,
    files: Vec<(Arc<dyn ObjectStore>, String)>,
    opts: StreamOptions,
) -> mpsc::Receiver<Result<RowGroup>> {
    let depth = opts.concurrency.max(1);
    let (tx, rx) = mpsc::channel(depth);
    runtime.spawn(produce(files, opts, tx));
    rx
}

async fn produce(
    files: Vec<(Arc<dyn ObjectStore>, String)>,
    opts: StreamOptions,
    tx: mpsc::Sender<Result<RowGroup>>,
) {
    let depth = opts.concurrency.max(1);
    let cap = opts.footer_cap;
    let cache = FooterCache::global();
    // Owned inputs in every future: borrowed ones defeat the `Send` proof of the task.
    let footers: Vec<_> = (files.iter().cloned())
        .map(|(store, uri)| async move { cache.footer(&*store, &uri, cap).await }.boxed())
        .collect();
    let work: Vec<(usize, usize)> = match try_join_ordered(footers, depth).await {
        Ok(footers) => (footers.iter().enumerate())
            .flat_map(|(file, f)| (0..f.num_row_groups()).map(move |rg| (file, rg)))
            .collect(),
        Err(e) => {
            let _ = tx.send(Err(e)).await;
            return;
        }
    };
    let columns: Option<Arc<[usize]>> = opts.columns.map(Arc::from);
    let mut reads = stream::iter(work)
        .map(|(file, rg)| {
            let (store, uri) = files[file].clone();
            let columns = columns.clone();
            async move {
                let data = cache
                    .read_row_group(&*store, &uri, rg, columns.as_deref(), opts.decode, cap)
                    .await?;
                Ok(RowGroup { file, rg, data })
            }
            .boxed()
        })
        .buffer_unordered(depth);
    while let Some(item) = reads.next().await {
        let failed = item.is_err();
        if tx.send(item).await.is_err() || failed {
            return;
        }
    }
}
