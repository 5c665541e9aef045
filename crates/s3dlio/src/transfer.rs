//! Moving bytes between stores, shared by `s3-cli` and the Python wheel so that both take
//! one code path: one object copied between any two stores, and synthetic objects
//! written from `s3dlio-datagen`.
//!
//! Reads go through the one read path's in-order stream (`get_stream`: no HEAD,
//! concurrent ranged GETs pinned to one version, bounded bytes in flight); writes go
//! through the destination's streaming writer, so a transfer holds at most the read
//! path's bytes in flight plus the writer's parts in flight, whatever the object's size. Writers make the object visible only on `finalize`, and a
//! failed transfer cancels its writer: nothing partial is left under the final name.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use s3dlio_core::{
    BatchFailure, DEFAULT_PART_SIZE, Error, ObjectHint, ObjectStore, ObjectStoreExt, ObjectUri, ObjectWriter,
    Operation, ReadOptions, Result, WriterOptions, run_blocking,
};
use s3dlio_datagen::{DataSpec, Generator};

use crate::StoreCache;

/// How each transfer reads and writes.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Transfers running at once: each read gets this share of the store's read budget.
    pub jobs: usize,
    pub writer: WriterOptions,
    /// Uploads are journaled here, one journal per destination, so the same transfer run
    /// again after a crash resumes them ([`WriterOptions::journal`]).
    pub journal_dir: Option<PathBuf>,
}

impl Plan {
    /// Settings for `jobs` concurrent transfers: each gets its share of the read path's
    /// byte cap (at least two chunks) and of the writer's parts in flight (at least
    /// one), so memory stays near one object's budget however many run at once.
    pub fn for_jobs(jobs: usize) -> Self {
        let jobs = jobs.max(1);
        Plan {
            jobs,
            writer: WriterOptions::default().with_concurrent_writers(jobs),
            journal_dir: None,
        }
    }

    pub fn with_journal_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.journal_dir = Some(dir.into());
        self
    }

    /// The writer options of an upload to `dst`: with a journal in
    /// [`journal_dir`](Self::journal_dir) named after `dst` (its CRC32C and last segment;
    /// a journal holds its URI, so a clash is refused, never mixed up).
    pub fn writer_for(&self, dst: &str) -> WriterOptions {
        let Some(dir) = &self.journal_dir else {
            return self.writer.clone();
        };
        let tail: String = dst
            .rsplit('/')
            .next()
            .unwrap_or("")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .take(64)
            .collect();
        let name = format!("{:08x}-{tail}.journal", crate::crc32c(dst.as_bytes()));
        self.writer.clone().with_journal(dir.join(name))
    }

    /// The read options of one transfer of `span` (the whole object when `None`).
    pub fn read(&self, span: Span, hint: Option<ObjectHint>) -> ReadOptions {
        let (offset, length) = span.unwrap_or((0, None));
        ReadOptions::default()
            .with_range(offset, length)
            .with_hint(hint)
            .with_concurrent_reads(self.jobs)
    }
}

/// A byte range of the source: `offset` and an optional `length` (`None`: the whole object).
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

/// Copies `src` (or a span of it) to `dst`; returns the bytes moved. `progress` hears of
/// every chunk as it lands. A whole-object copy within one service is done server-side.
#[allow(clippy::too_many_arguments)]
pub async fn copy_object(
    src_store: &dyn ObjectStore,
    src: &str,
    dst_store: &dyn ObjectStore,
    dst: &str,
    span: Span,
    hint: Option<ObjectHint>,
    plan: &Plan,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<u64> {
    if span.is_none() && same_service(src, dst) && dst_store.capabilities().server_side_copy {
        let size = match &hint {
            Some(h) => h.size,
            None => src_store.stat(src).await?.size,
        };
        dst_store.copy(src, dst).await?;
        progress(size);
        return Ok(size);
    }
    let mut writer = dst_store.get_writer(dst, plan.writer_for(dst)).await?;
    let mut chunks = src_store.get_stream(src, plan.read(span, hint));
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
                progress(len);
            }
            Err(e) => return Err(abandon(writer, dst, e).await),
        }
    }
    writer.finalize().await?;
    Ok(moved)
}

/// Cancels an upload that failed with `error` (so nothing is left behind) and gives the
/// error back; a failed cancel is logged, the original error is what the caller sees. A
/// journaled upload is kept instead, for a later writer to resume.
pub async fn abandon(writer: Box<dyn ObjectWriter>, uri: &str, error: Error) -> Error {
    if writer.resumable() {
        tracing::info!("the journaled upload to {uri} stays for a resume after `{error}`");
        return error;
    }
    if let Err(cancel) = writer.cancel().await {
        tracing::warn!("cancelling the upload to {uri} after `{error}` failed too: {cancel}");
    }
    error
}

/// A key like `../../etc/passwd` in a bucket must not write outside the destination
/// directory: local destinations refuse `.` and `..` path segments.
pub fn check_local_key(dst: &str) -> Result<()> {
    let local = dst.starts_with("file://") || dst.starts_with("direct://");
    if local && dst.split('/').skip(3).any(|seg| seg == ".." || seg == ".") {
        return Err(Error::invalid_argument(
            Operation::Copy,
            dst,
            "the key has '.' or '..' segments and would land outside the destination directory; skipped",
        ));
    }
    Ok(())
}

/// Copies `src` to `dst` with stores from `stores`, after refusing keys that would land
/// outside a local destination ([`check_local_key`]).
pub async fn copy_between(
    stores: &StoreCache,
    src: &str,
    dst: &str,
    hint: Option<ObjectHint>,
    plan: &Plan,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<u64> {
    check_local_key(dst)?;
    let (from, to) = (stores.get(src)?, stores.get(dst)?);
    copy_object(&*from, src, &*to, dst, None, hint, plan, progress).await
}

/// What a multi-object run did.
#[derive(Debug, Default)]
pub struct Tally {
    pub objects: u64,
    pub bytes: u64,
    pub failures: Vec<BatchFailure>,
}

impl Tally {
    /// `Ok` when every object succeeded, else an [`Error::Batch`] naming each failure.
    pub fn into_result(self, op: Operation, uri: &str) -> Result<()> {
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

/// Runs `job` on every item, `jobs` at a time; `on_result` sees the tally after each.
/// A failed item is recorded and the others go on; a failure of the item source itself
/// (a listing) stops the run.
pub async fn run_jobs<T, F, Fut>(
    items: impl Stream<Item = Result<T>>,
    jobs: usize,
    on_result: impl Fn(&Tally),
    job: F,
) -> Result<Tally>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = (String, Result<u64>)>,
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
        on_result(&tally);
    }
    Ok(tally)
}

/// `object_{}_of_{}.dat` → `object_3_of_10.dat`: the first `{}` is the index, the second
/// the count.
pub fn object_name(template: &str, index: u64, count: u64) -> String {
    let mut values = [index, count].into_iter();
    let mut parts = template.split("{}");
    let mut name = parts.next().unwrap_or_default().to_string();
    for part in parts {
        if let Some(v) = values.next() {
            name.push_str(&v.to_string());
        }
        name.push_str(part);
    }
    name
}

/// What a synthetic object holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synthetic {
    /// All zero bytes.
    Zeros,
    /// Generated data shaped by the spec (dedup and compress factors, seed).
    Data(DataSpec),
    /// A file of `format` that its readers parse, holding generated data.
    File(FileFormat, DataSpec),
}

/// Files `put` writes for readers that parse them, each holding generated bytes and
/// about the object's size (headers and framing add a little).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// numpy's `savez`: `x.npy`, a `<f4` vector of `size / 4` values, and `y.npy`, one
    /// int64 label.
    Npz,
    /// `tf.train.Example` records of [`TFRECORD_RECORD`] bytes (`data`; the last shorter) and their index
    /// (`label`).
    TfRecord,
    /// One `Float32` column `col0` of `size / 4` rows, in row groups of
    /// [`PARQUET_ROWS_PER_GROUP`] rows; streamed a row group at a time.
    #[cfg(feature = "parquet")]
    Parquet,
}

/// Bytes of generated data in each TFRecord record.
pub const TFRECORD_RECORD: usize = 64 * 1024;

/// Rows in each row group of a Parquet object (1 MiB of `Float32`).
pub const PARQUET_ROWS_PER_GROUP: usize = 256 * 1024;

/// The object types `s3-cli put -o` and Python's `put(object_type=)` accept, one parser
/// for both: `zeros`, `random` (alias `raw`), `npz`, `tfrecord`, `parquet`; `hdf5` is
/// refused with the reason, and so is `zeros` with a dedup or compress factor.
pub fn synthetic(object_type: &str, spec: DataSpec) -> std::result::Result<Synthetic, String> {
    Ok(match object_type.to_ascii_lowercase().as_str() {
        "zeros" if spec.dedup != 1 || spec.compress != 1 => {
            return Err(
                "object type zeros writes zero bytes, which dedup and compress factors cannot \
                        shape: use object type random (object_type='random') for shaped data"
                    .into(),
            );
        }
        "zeros" => Synthetic::Zeros,
        "random" | "raw" => Synthetic::Data(spec),
        "npz" => Synthetic::File(FileFormat::Npz, spec),
        "tfrecord" => Synthetic::File(FileFormat::TfRecord, spec),
        #[cfg(feature = "parquet")]
        "parquet" => Synthetic::File(FileFormat::Parquet, spec),
        "hdf5" => {
            return Err(
                "object type hdf5 is not generated: the maintained HDF5 crates bind the C \
                        library (libhdf5), which this build does not link; use npz, tfrecord or parquet"
                    .into(),
            );
        }
        other => {
            return Err(format!(
                "object type {other:?}: use zeros, random (or raw), npz, tfrecord{}",
                if cfg!(feature = "parquet") {
                    " or parquet"
                } else {
                    ""
                }
            ));
        }
    })
}

impl Synthetic {
    /// The same content with data seeded `seed` (zeros stay zeros).
    pub fn with_seed(self, seed: u64) -> Self {
        match self {
            Synthetic::Zeros => Synthetic::Zeros,
            Synthetic::Data(spec) => Synthetic::Data(spec.with_seed(seed)),
            Synthetic::File(format, spec) => Synthetic::File(format, spec.with_seed(seed)),
        }
    }
}

/// How a synthetic object is generated and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// `step` bytes at a time into a streaming writer (one put when the object fits in
    /// one step): memory is one step plus the writer's parts in flight.
    Streaming { step: usize },
    /// The whole object into one buffer, stored with one put: memory is the object.
    SinglePass,
}

impl Default for Generation {
    fn default() -> Self {
        // One step per default part: the writer sends each step as it comes.
        Generation::Streaming {
            step: DEFAULT_PART_SIZE,
        }
    }
}

/// Writes a synthetic object of `size` bytes holding `what`, generated as `how` says (a
/// file format decides its own pieces: NPZ and TFRecord are built whole, Parquet a row
/// group at a time). A failed upload is abandoned, so nothing partial is left.
/// Generation runs on the blocking pool, never on the async workers. Returns the bytes
/// stored.
pub async fn put_generated(
    store: &dyn ObjectStore,
    uri: &str,
    size: u64,
    what: Synthetic,
    how: Generation,
) -> Result<u64> {
    let data = match what {
        Synthetic::Zeros => Source::Zeros,
        Synthetic::Data(spec) => Source::Data(Generator::new(size, spec)),
        Synthetic::File(format, spec) => return put_file(store, uri, size, format, spec).await,
    };
    let source = Arc::new(data);
    let step = match how {
        Generation::Streaming { step } => step.max(1) as u64,
        Generation::SinglePass => size.max(1),
    };
    if size <= step {
        let data = generate(uri, source, 0, size).await?;
        store.put(uri, data).await?;
        return Ok(size);
    }
    let pieces = (0..size)
        .step_by(step as usize)
        .map(move |offset| Ok(source.range(offset, step.min(size - offset) as usize)));
    write_pieces(store, uri, pieces).await
}

async fn put_file(
    store: &dyn ObjectStore,
    uri: &str,
    size: u64,
    format: FileFormat,
    spec: DataSpec,
) -> Result<u64> {
    let values = (size / 4).max(1) as usize;
    type Build = Box<dyn FnOnce() -> std::result::Result<Bytes, String> + Send>;
    let whole: Build = match format {
        FileFormat::Npz => Box::new(move || s3dlio_datagen::npz::npz(&[values], "<f4", 1, spec)),
        FileFormat::TfRecord => Box::new(move || {
            Ok(s3dlio_datagen::tfrecord::tfrecord(
                size as usize,
                TFRECORD_RECORD,
                spec,
            ))
        }),
        #[cfg(feature = "parquet")]
        FileFormat::Parquet => {
            let rows = values.min(PARQUET_ROWS_PER_GROUP);
            let file =
                s3dlio_parquet::ParquetSpec::float_columns(1, rows, values.div_ceil(rows)).with_data(spec);
            return write_pieces(store, uri, s3dlio_parquet::Pieces::new(uri, file)?).await;
        }
    };
    let data = run_blocking(Operation::Put, uri, "generating the object", whole)
        .await?
        .map_err(|e| Error::invalid_argument(Operation::Put, uri, e))?;
    write_pieces(store, uri, std::iter::once(Ok(data))).await
}

/// Generates the Parquet file `spec` describes into `uri`, a row group per write (memory:
/// one row group plus the writer's parts in flight); a failure abandons the upload.
/// Returns the bytes stored.
#[cfg(feature = "parquet")]
pub async fn write_parquet(
    store: &dyn ObjectStore,
    uri: &str,
    spec: s3dlio_parquet::ParquetSpec,
) -> Result<u64> {
    write_pieces(store, uri, s3dlio_parquet::Pieces::new(uri, spec)?).await
}

/// Streams `pieces` (each made on the blocking pool) into a writer for `uri`, abandoning
/// the upload when a piece or a write fails. Returns the bytes written.
async fn write_pieces<I>(store: &dyn ObjectStore, uri: &str, pieces: I) -> Result<u64>
where
    I: Iterator<Item = Result<Bytes>> + Send + 'static,
{
    let mut writer = store.get_writer(uri, WriterOptions::default()).await?;
    let mut pieces = pieces;
    loop {
        let next = run_blocking(Operation::Put, uri, "generating the object's data", move || {
            let piece = pieces.next();
            (pieces, piece)
        })
        .await;
        let piece = match next {
            Ok((rest, piece)) => {
                pieces = rest;
                piece
            }
            Err(e) => return Err(abandon(writer, uri, e).await),
        };
        let written = match piece {
            None => return Ok(writer.finalize().await?.bytes_written),
            Some(Ok(data)) => writer.write(data).await,
            Some(Err(e)) => Err(e),
        };
        if let Err(e) = written {
            return Err(abandon(writer, uri, e).await);
        }
    }
}

/// The bytes of a synthetic object, by range.
#[derive(Debug)]
enum Source {
    Zeros,
    Data(Generator),
}

impl Source {
    fn range(&self, offset: u64, len: usize) -> Bytes {
        match self {
            Source::Zeros => Bytes::from(vec![0u8; len]),
            Source::Data(g) => g.range(offset, len),
        }
    }
}

async fn generate(uri: &str, source: Arc<Source>, offset: u64, len: u64) -> Result<Bytes> {
    run_blocking(Operation::Put, uri, "generating the object's data", move || {
        source.range(offset, len as usize)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::object_name;

    #[test]
    fn templates_take_index_then_count() {
        assert_eq!(object_name("object_{}_of_{}.dat", 3, 10), "object_3_of_10.dat");
        assert_eq!(object_name("k{}", 7, 10), "k7");
        assert_eq!(object_name("fixed", 0, 1), "fixed");
    }
}
