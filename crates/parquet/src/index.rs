//! Row-group byte ranges of many files, for readers that pick samples by row: which row
//! group holds a row, where its bytes are, and whether this epoch fetched it already.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use s3dlio_core::{Error, ObjectStore, Operation, Result, try_join_ordered};

use crate::footer::Footer;

/// What the index keeps of one file; its footer is dropped once this is taken from it.
#[derive(Debug, Clone)]
struct FileEntry {
    row_offsets: Vec<i64>,
    ranges: Vec<Range<u64>>,
    /// Per row group: the last epoch it was fetched in (0: never).
    last_epoch: Vec<u32>,
}

/// `(file, row group) → byte range` for every indexed file, plus per-epoch fetch marks.
#[derive(Debug)]
pub struct ParquetIndex {
    /// Leaf columns whose chunks a range covers (`None`: all).
    pub columns: Option<Vec<usize>>,
    pub footer_cap: u64,
    files: Mutex<HashMap<String, FileEntry>>,
}

impl ParquetIndex {
    pub fn new(columns: Option<Vec<usize>>, footer_cap: u64) -> Self {
        ParquetIndex {
            columns,
            footer_cap,
            files: Mutex::default(),
        }
    }

    fn files(&self) -> std::sync::MutexGuard<'_, HashMap<String, FileEntry>> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn with_file<T>(&self, uri: &str, f: impl FnOnce(&mut FileEntry) -> Result<T>) -> Result<T> {
        match self.files().get_mut(uri) {
            Some(entry) => f(entry),
            None => Err(Error::invalid_argument(
                Operation::GetRange,
                uri,
                "this file is not indexed yet: call ensure_indexed with it first",
            )),
        }
    }

    /// Reads the footers of the files not indexed yet, `concurrency` at a time, and keeps
    /// their row groups' ranges and row offsets.
    pub async fn ensure_indexed(
        &self,
        files: Vec<(Arc<dyn ObjectStore>, String)>,
        concurrency: usize,
    ) -> Result<()> {
        let todo: Vec<_> = {
            let known = self.files();
            files
                .into_iter()
                .filter(|(_, uri)| !known.contains_key(uri))
                .collect()
        };
        let cap = self.footer_cap;
        // Owned inputs and boxed futures: borrowed ones defeat the `Send` proof of callers
        // that spawn this.
        let reads: Vec<_> = (todo.into_iter())
            .map(|(store, uri)| {
                let columns = self.columns.clone();
                async move {
                    let footer = Footer::fetch(&*store, &uri, cap).await?;
                    let ranges = (0..footer.num_row_groups())
                        .map(|rg| footer.extent(rg, columns.as_deref()))
                        .collect::<Result<Vec<_>>>()?;
                    let entry = FileEntry {
                        last_epoch: vec![0; ranges.len()],
                        row_offsets: footer.row_offsets,
                        ranges,
                    };
                    Ok((uri, entry))
                }
                .boxed()
            })
            .collect();
        let entries = try_join_ordered(reads, concurrency.max(1)).await?;
        self.files().extend(entries);
        Ok(())
    }

    /// The row group of `uri` that holds its row `sample`.
    pub fn row_group_of(&self, uri: &str, sample: i64) -> Result<usize> {
        self.with_file(uri, |f| {
            let total = *f.row_offsets.last().unwrap_or(&0);
            match (0..total).contains(&sample) {
                true => Ok(f.row_offsets.partition_point(|&start| start <= sample) - 1),
                false => Err(Error::invalid_argument(
                    Operation::GetRange,
                    uri,
                    format!("row {sample} is out of range: the file has {total} rows"),
                )),
            }
        })
    }

    /// The bytes of row group `rg` of `uri` (the selected columns' extent).
    pub fn range(&self, uri: &str, rg: usize) -> Result<Range<u64>> {
        self.with_file(uri, |f| {
            let n = f.ranges.len();
            f.ranges.get(rg).cloned().ok_or_else(|| {
                Error::invalid_argument(
                    Operation::GetRange,
                    uri,
                    format!("row group {rg} is out of range: the file has {n} (0..{n})"),
                )
            })
        })
    }

    /// Whether `(uri, rg)` was marked fetched in `epoch` or a later one.
    pub fn was_fetched(&self, uri: &str, rg: usize, epoch: u32) -> bool {
        self.files()
            .get(uri)
            .and_then(|f| f.last_epoch.get(rg))
            .is_some_and(|&e| e >= epoch)
    }

    /// Row groups of `uri` not marked fetched in `epoch` or later (0 when not indexed).
    pub fn unfetched(&self, uri: &str, epoch: u32) -> usize {
        self.files()
            .get(uri)
            .map_or(0, |f| f.last_epoch.iter().filter(|&&e| e < epoch).count())
    }

    /// Marks `(uri, rg)` fetched in `epoch`; returns whether it already was (in `epoch` or
    /// later).
    pub fn check_and_mark(&self, uri: &str, rg: usize, epoch: u32) -> bool {
        match self.files().get_mut(uri).and_then(|f| f.last_epoch.get_mut(rg)) {
            Some(e) if *e >= epoch => true,
            Some(e) => {
                *e = epoch;
                false
            }
            None => false,
        }
    }

    pub fn is_indexed(&self, uri: &str) -> bool {
        self.files().contains_key(uri)
    }

    /// Row groups of `uri`, if indexed.
    pub fn row_groups(&self, uri: &str) -> Option<usize> {
        self.files().get(uri).map(|f| f.ranges.len())
    }

    /// Row groups of every indexed file.
    pub fn len(&self) -> usize {
        self.files().values().map(|f| f.ranges.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn file_count(&self) -> usize {
        self.files().len()
    }

    pub fn invalidate(&self, uri: &str) {
        self.files().remove(uri);
    }

    pub fn clear(&self) {
        self.files().clear();
    }
}
