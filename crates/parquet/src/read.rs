//! One row group by byte range, pinned to the footer's version: its raw column-chunk
//! bytes, or decoded into an Arrow IPC stream.

use std::ops::Range;

use arrow_array::RecordBatchReader;
use bytes::{Buf, Bytes};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, Length};
use s3dlio_core::{
    Error, ObjectStore, Operation, RangeGetClient, Result, coalesce, slice_fetched, try_join_ordered,
};

use crate::footer::Footer;

/// Column chunks at most this far apart are read with one request.
const COALESCE_GAP: u64 = 1 << 20;

/// Requests of one row group in flight at once.
const CONCURRENCY: usize = 8;

/// What a row-group read returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Decode {
    /// The bytes from the first selected column chunk to the end of the last, as stored
    /// (compressed pages): one request, no decoding.
    #[default]
    Raw,
    /// The selected columns decoded into one Arrow IPC stream of the row group's rows
    /// (`pyarrow.ipc.open_stream` reads it); only their chunks are fetched.
    Arrow,
}

impl std::str::FromStr for Decode {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "raw" | "none" => Ok(Decode::Raw),
            "arrow" => Ok(Decode::Arrow),
            other => Err(format!(
                "decode={other:?}: use 'raw' (column-chunk bytes as stored) or 'arrow' (an Arrow IPC stream)"
            )),
        }
    }
}

/// Row group `rg` of the file `footer` describes, for `columns` (leaf indices; `None`:
/// all). Every request is pinned to the footer's version: a file rewritten since the
/// footer was read fails with [`Error::Precondition`] rather than mixing two files.
pub async fn read_row_group(
    store: &dyn ObjectStore,
    footer: &Footer,
    rg: usize,
    columns: Option<&[usize]>,
    decode: Decode,
) -> Result<Bytes> {
    match decode {
        Decode::Raw => {
            let extent = footer.extent(rg, columns)?;
            Ok(fetch(store, footer, &[extent]).await?.remove(0))
        }
        Decode::Arrow => {
            let ranges = footer.column_ranges(rg, columns)?;
            let pieces = fetch(store, footer, &ranges).await?;
            let chunks = Chunks {
                size: footer.size,
                pieces: ranges.iter().map(|r| r.start).zip(pieces).collect(),
            };
            let (footer, columns) = (footer.clone(), columns.map(<[usize]>::to_vec));
            s3dlio_core::run_blocking(
                Operation::GetRange,
                &footer.uri.clone(),
                "decoding a row group",
                move || decode_arrow(&footer, rg, columns.as_deref(), chunks),
            )
            .await?
        }
    }
}

/// `ranges` of the file, nearby ones in one request, all pinned to the footer's version.
async fn fetch(store: &dyn ObjectStore, footer: &Footer, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
    let uri = footer.uri.as_str();
    let plan = coalesce(ranges, COALESCE_GAP, u64::MAX);
    let pin = footer.e_tag.as_deref();
    let requests = (plan.fetches.iter().cloned())
        .map(|f| async move { store.get_range_chunk(uri, f, pin, None).await.map(|c| c.data) });
    let fetched = try_join_ordered(requests, CONCURRENCY).await?;
    slice_fetched(uri, ranges, &plan, &fetched, footer.size)
}

fn decode_arrow(footer: &Footer, rg: usize, columns: Option<&[usize]>, chunks: Chunks) -> Result<Bytes> {
    let uri = footer.uri.as_str();
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        Error::invalid_argument(Operation::GetRange, uri, format!("{what} row group {rg}: {e}"))
    };
    let meta = ArrowReaderMetadata::try_new(footer.metadata.clone(), ArrowReaderOptions::default())
        .map_err(|e| failed("reading the schema of", &e))?;
    let rows = footer.row_group(rg)?.num_rows().max(1) as usize;
    let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(chunks, meta)
        .with_row_groups(vec![rg])
        .with_batch_size(rows);
    if let Some(cols) = columns {
        let mask = ProjectionMask::leaves(builder.parquet_schema(), cols.iter().copied());
        builder = builder.with_projection(mask);
    }
    let reader = builder.build().map_err(|e| failed("decoding", &e))?;
    let schema = reader.schema();
    let mut out = Vec::new();
    let mut ipc =
        arrow_ipc::writer::StreamWriter::try_new(&mut out, &schema).map_err(|e| failed("encoding", &e))?;
    for batch in reader {
        let batch = batch.map_err(|e| failed("decoding", &e))?;
        ipc.write(&batch).map_err(|e| failed("encoding", &e))?;
    }
    ipc.finish().map_err(|e| failed("encoding", &e))?;
    drop(ipc);
    Ok(Bytes::from(out))
}

/// The fetched column chunks of one row group, addressed by file offset: the reader asks
/// only for bytes inside them.
struct Chunks {
    size: u64,
    /// (file offset, bytes), one per column chunk.
    pieces: Vec<(u64, Bytes)>,
}

impl Chunks {
    fn piece(&self, start: u64, len: u64) -> std::result::Result<Bytes, ParquetError> {
        self.pieces
            .iter()
            .find(|(at, b)| *at <= start && start + len <= at + b.len() as u64)
            .map(|(at, b)| b.slice((start - at) as usize..(start - at + len) as usize))
            .ok_or_else(|| ParquetError::General(format!("bytes {start}..{} were not fetched", start + len)))
    }
}

impl Length for Chunks {
    fn len(&self) -> u64 {
        self.size
    }
}

impl ChunkReader for Chunks {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> std::result::Result<Self::T, ParquetError> {
        let (at, b) = self
            .pieces
            .iter()
            .find(|(at, b)| *at <= start && start < at + b.len() as u64)
            .ok_or_else(|| ParquetError::General(format!("offset {start} was not fetched")))?;
        Ok(b.slice((start - at) as usize..).reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> std::result::Result<Bytes, ParquetError> {
        self.piece(start, length as u64)
    }
}
