//! # s3dlio-parquet
//!
//! Parquet on any s3dlio store, for benchmarks and training readers:
//!
//! - [`generate`] / [`Pieces`]: Parquet files of `Float32` columns (or fixed-size lists of
//!   them, embeddings) holding the data generator's bytes, produced a row group at a time
//!   so a writer streams them with memory for one row group
//!   (`s3dlio::transfer::write_parquet`).
//! - [`Footer`]: a file's footer from one suffix request (no HEAD), and the byte ranges
//!   of its row groups and column chunks.
//! - [`read_row_group`]: one row group by byte range, pinned to the footer's version,
//!   as stored ([`Decode::Raw`]) or decoded into an Arrow IPC stream ([`Decode::Arrow`]);
//!   [`FooterCache`] keeps footers across reads; [`ParquetIndex`] maps rows to row groups
//!   and ranges; [`spawn_row_groups`] streams every row group of many files.
//!
//! ```
//! use s3dlio_core::{MemoryStore, ObjectStore, ObjectStoreExt};
//! use s3dlio_parquet::{Decode, Footer, ParquetSpec, generate, read_row_group};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! store.create_container("memory://b").await.unwrap();
//! let uri = "memory://b/train.parquet";
//! // 3 Float32 columns, 3 row groups of 1000 rows.
//! let spec = ParquetSpec::float_columns(3, 1000, 3);
//! store.put(uri, generate(uri, &spec).unwrap()).await.unwrap();
//!
//! let footer = Footer::fetch(&store, uri, 64 * 1024).await.unwrap();
//! assert_eq!(footer.row_offsets, vec![0, 1000, 2000, 3000]);
//! let raw = read_row_group(&store, &footer, 1, Some(&[0]), Decode::Raw).await.unwrap();
//! assert!(raw.len() >= 4000); // 1000 floats of column 0, plus its page header
//! # });
//! ```

mod cache;
mod footer;
mod generate;
mod index;
mod read;
mod stream;

pub use cache::{DEFAULT_CACHE_FILES, FooterCache};
pub use footer::{DEFAULT_FOOTER_CAP, Footer};
pub use generate::{Column, ParquetSpec, Pieces, generate};
pub use index::ParquetIndex;
pub use read::{Decode, read_row_group};
pub use stream::{RowGroup, StreamOptions, spawn_row_groups};
