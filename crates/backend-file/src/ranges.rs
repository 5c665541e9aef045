//! `get_ranges` on a local file: one open, and the (merged) ranges read by positional
//! reads in batches, each batch one step on the blocking pool and (buffered) one buffer. Per range, the default
//! (`fetch_ranges` over `get_opts`) pays an open, a stat and a pool hop: 86k 4 KiB
//! ranges/s from Python where batches reach several times that (`cargo xtask bench
//! file-limits`). One handle also means one version: a file replaced meanwhile (puts
//! rename a new file into place) is not mixed in.

use std::ops::Range;
use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use s3dlio_core::blocks::BlockPool;
use s3dlio_core::{Cutter, Operation, RangesOptions, Result, plan_ranges, try_join_ordered};

use crate::io::{advise_after, advise_before, read_range, read_ranges_into_one};
use crate::store::{FileStore, short_blocking};

/// A batch ends after this many bytes or this many reads, whichever comes first: enough
/// to make its pool hop cheap beside its reads, small enough that batches spread over
/// the cores.
const BATCH_BYTES: u64 = 128 << 10;
const BATCH_READS: usize = 256;

/// Batch buffers of the process, recycled once every slice of a batch is dropped: at
/// 128 KiB glibc maps each one fresh, and a 4 KiB batched read faulted in ~8 000 pages a
/// call of 20 000 ranges (decision 026). At most 32 MiB stays idle.
static BATCHES: LazyLock<Arc<BlockPool>> = LazyLock::new(|| BlockPool::new(BATCH_BYTES as usize, 256));

impl FileStore {
    pub(crate) async fn read_ranges(
        &self,
        uri: &str,
        ranges: &[Range<u64>],
        opts: RangesOptions,
    ) -> Result<Vec<Bytes>> {
        let Some(plan) = plan_ranges(uri, ranges, &opts)? else {
            return Ok(Vec::new());
        };
        let op = Operation::GetRange;
        let (_, path) = self.object_path(op, uri)?;
        let (hint, align) = (self.config.page_cache, self.config.direct_alignment);
        let store = self.clone();
        let (file, size, direct) = short_blocking(op, uri, move || {
            let (file, direct) = store.open_read(&path)?;
            let size = crate::store::file_metadata_of(&file)?.len();
            if !direct {
                advise_before(&file, &(0..size), hint, false);
            }
            Ok((file, size, direct))
        })
        .await?;
        let file = Arc::new(file);
        let cutter = Cutter::new(uri, ranges, &plan);
        let reads = batches(&plan.fetches).into_iter().map(|batch| {
            let (file, fetches) = (file.clone(), plan.fetches[batch.clone()].to_vec());
            let read = short_blocking(op, uri, move || {
                // Past the end reads nothing; the cutter resolves each range against the
                // size and refuses what it must.
                let fetches: Vec<_> = fetches
                    .iter()
                    .map(|f| f.start.min(size)..f.end.min(size))
                    .collect();
                let data = if direct {
                    let read = |f: &Range<u64>| read_range(&file, f.clone(), direct, align);
                    fetches
                        .iter()
                        .map(read)
                        .collect::<std::io::Result<Vec<Bytes>>>()?
                } else {
                    read_ranges_into_one(&file, &fetches, &BATCHES)?
                };
                if !direct {
                    fetches.iter().for_each(|f| advise_after(&file, f, hint));
                }
                Ok(data)
            });
            // Cut as each batch arrives, so the gaps it read go back with its buffer.
            let cutter = &cutter;
            async move {
                let mut got = Vec::with_capacity(batch.len());
                for (f, data) in batch.zip(read.await?) {
                    cutter.cut(f, data, size, &mut got)?;
                }
                Ok(got)
            }
        });
        let cut = try_join_ordered(reads, opts.max_concurrency).await?;
        Ok(cutter.in_input_order(cut.into_iter().flatten()))
    }
}

/// Consecutive runs of fetch indices, each at most [`BATCH_BYTES`] (or one larger fetch)
/// and [`BATCH_READS`] reads.
fn batches(fetches: &[Range<u64>]) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    let mut bytes = 0;
    for (i, f) in fetches.iter().enumerate() {
        let len = f.end - f.start;
        match out.last_mut() {
            Some(b) if b.len() < BATCH_READS && bytes + len <= BATCH_BYTES => {
                b.end = i + 1;
                bytes += len;
            }
            _ => {
                out.push(i..i + 1);
                bytes = len;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_cover_every_fetch_once_within_their_bounds() {
        let small: Vec<_> = (0..600u64).map(|i| i * 8192..i * 8192 + 4096).collect();
        let per = (BATCH_BYTES / 4096) as usize; // the byte bound comes first here
        let b = batches(&small);
        assert_eq!(b.len(), 600usize.div_ceil(per));
        assert!(b.iter().zip(b.iter().skip(1)).all(|(x, y)| x.end == y.start));
        assert_eq!((b[0].clone(), b.last().unwrap().end), (0..per, 600));
        let tiny: Vec<_> = (0..600u64).map(|i| i * 8192..i * 8192 + 1).collect();
        assert_eq!(
            batches(&tiny),
            vec![0..BATCH_READS, BATCH_READS..2 * BATCH_READS, 2 * BATCH_READS..600]
        );
        let mixed = vec![
            0..(2 << 20),
            (2 << 20)..(2 << 20) + 10,
            (3 << 20)..(3 << 20) + BATCH_BYTES,
        ];
        assert_eq!(batches(&mixed), vec![0..1, 1..2, 2..3]);
        assert!(batches(&[]).is_empty());
    }
}
