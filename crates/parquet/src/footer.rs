//! A Parquet file's footer, read with one suffix request (two when the metadata is larger
//! than the cap), and the byte ranges of its row groups.

use std::ops::Range;
use std::sync::Arc;

use bytes::BytesMut;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader, RowGroupMetaData};
use s3dlio_core::{Error, GetOptions, GetRange, ObjectStore, Operation, Result};

/// Bytes fetched from a file's end to find its footer, unless told otherwise (DLRM-size
/// footers are about 2.7 MiB).
pub const DEFAULT_FOOTER_CAP: u64 = 4 << 20;

/// `metadata length (u32 LE)` + `PAR1`.
const TAIL: u64 = 8;

/// What one file's footer says, and the version it was read from.
#[derive(Debug, Clone)]
pub struct Footer {
    pub uri: String,
    pub size: u64,
    /// The version the footer came from: row-group reads are pinned to it, so a file
    /// rewritten since fails them instead of returning bytes of another file.
    pub e_tag: Option<String>,
    pub metadata: Arc<ParquetMetaData>,
    /// `row_offsets[i]` is the first row of row group `i`; the last entry is the total.
    pub row_offsets: Vec<i64>,
}

impl Footer {
    /// Reads the footer of `uri` with a request for its last `cap` bytes (no HEAD), and
    /// one more, pinned to the same version, when the metadata is longer than that.
    pub async fn fetch(store: &dyn ObjectStore, uri: &str, cap: u64) -> Result<Footer> {
        let cap = cap.max(TAIL);
        let opts = GetOptions::default().with_range(GetRange::Suffix(cap));
        let tail = store.get_opts(uri, opts).await?;
        let (size, e_tag) = (tail.meta.size, tail.meta.e_tag.clone());
        let data = tail.data;
        if (data.len() as u64) < TAIL || !data.ends_with(b"PAR1") {
            return Err(not_parquet(
                uri,
                format!("its last bytes are not `PAR1` ({size} bytes)"),
            ));
        }
        let n = data.len();
        let len = u32::from_le_bytes(data[n - 8..n - 4].try_into().expect("four bytes")) as u64;
        if len + TAIL > size {
            return Err(not_parquet(
                uri,
                format!("its footer claims {len} bytes of a {size}-byte file"),
            ));
        }
        let metadata = if len + TAIL <= n as u64 {
            data.slice(n - 8 - len as usize..n - 8)
        } else {
            // The cap cut the metadata: fetch what is missing, from the same version.
            let missing = size - TAIL - len..size - n as u64;
            let opts = GetOptions {
                range: Some(GetRange::Bounded(missing)),
                if_match: e_tag.clone(),
                place: None,
            };
            let head = store.get_opts(uri, opts).await?.data;
            let mut whole = BytesMut::with_capacity(len as usize);
            whole.extend_from_slice(&head);
            whole.extend_from_slice(&data[..n - 8]);
            whole.freeze()
        };
        let metadata = ParquetMetaDataReader::decode_metadata(&metadata)
            .map_err(|e| not_parquet(uri, format!("its footer does not decode: {e}")))?;
        let mut row_offsets = Vec::with_capacity(metadata.num_row_groups() + 1);
        let mut rows = 0;
        for rg in metadata.row_groups() {
            row_offsets.push(rows);
            rows += rg.num_rows();
        }
        row_offsets.push(rows);
        Ok(Footer {
            uri: uri.to_string(),
            size,
            e_tag,
            metadata: Arc::new(metadata),
            row_offsets,
        })
    }

    pub fn num_row_groups(&self) -> usize {
        self.metadata.num_row_groups()
    }

    /// Row group `rg`, or an error naming how many there are.
    pub fn row_group(&self, rg: usize) -> Result<&RowGroupMetaData> {
        let n = self.num_row_groups();
        match rg < n {
            true => Ok(self.metadata.row_group(rg)),
            false => Err(Error::invalid_argument(
                Operation::GetRange,
                &self.uri,
                format!("row group {rg} is out of range: the file has {n} (0..{n})"),
            )),
        }
    }

    /// The byte ranges of row group `rg`'s column chunks, for `columns` (leaf column
    /// indices; `None`: all), in column order.
    pub fn column_ranges(&self, rg: usize, columns: Option<&[usize]>) -> Result<Vec<Range<u64>>> {
        let group = self.row_group(rg)?;
        let n = group.num_columns();
        let chunk = |c: usize| {
            let (start, len) = group.column(c).byte_range();
            start..start + len
        };
        match columns {
            None => Ok((0..n).map(chunk).collect()),
            Some(cols) => {
                if let Some(&bad) = cols.iter().find(|&&c| c >= n) {
                    return Err(Error::invalid_argument(
                        Operation::GetRange,
                        &self.uri,
                        format!("column {bad} is out of range: the file has {n} leaf columns (0..{n})"),
                    ));
                }
                Ok(cols.iter().map(|&c| chunk(c)).collect())
            }
        }
    }

    /// One range from the first to the end of the last of those column chunks: what one
    /// request returns (it holds any unselected columns that lie between).
    pub fn extent(&self, rg: usize, columns: Option<&[usize]>) -> Result<Range<u64>> {
        let ranges = self.column_ranges(rg, columns)?;
        let start = ranges.iter().map(|r| r.start).min().unwrap_or(0);
        let end = ranges.iter().map(|r| r.end).max().unwrap_or(start);
        Ok(start..end)
    }

    /// The row group holding file row `row`, by binary search of the row offsets.
    pub fn row_group_of(&self, row: i64) -> Result<usize> {
        let total = *self.row_offsets.last().unwrap_or(&0);
        if row < 0 || row >= total {
            return Err(Error::invalid_argument(
                Operation::GetRange,
                &self.uri,
                format!("row {row} is out of range: the file has {total} rows"),
            ));
        }
        Ok(self.row_offsets.partition_point(|&start| start <= row) - 1)
    }
}

fn not_parquet(uri: &str, why: String) -> Error {
    Error::invalid_argument(
        Operation::GetRange,
        uri,
        format!("not a Parquet file: {why}; check that the URI names a .parquet object"),
    )
}
