//! Generation, footers, row-group reads, the cache, the index and the stream, on the
//! in-memory store (the Python tests run the same calls on every backend's server).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Float32Type;
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use bytes::Bytes;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use s3dlio_core::{Error, MemoryStore, ObjectStore, ObjectStoreExt};
use s3dlio_datagen::{DataSpec, Generator};
use s3dlio_parquet::{
    Column, Decode, Footer, FooterCache, ParquetIndex, ParquetSpec, Pieces, StreamOptions, generate,
    read_row_group, spawn_row_groups,
};

fn spec() -> ParquetSpec {
    let columns = vec![
        Column::new("label", 1),
        Column::new("emb", 16),
        Column::new("t", 3),
    ];
    ParquetSpec::new(columns, 100, 4).with_data(DataSpec::default().with_seed(7))
}

/// Every row group of `file`, read back by the parquet crate itself.
fn batches(file: &Bytes, columns: Option<&[usize]>, row_groups: Vec<usize>) -> Vec<RecordBatch> {
    let mut b = ParquetRecordBatchReaderBuilder::try_new(file.clone())
        .unwrap()
        .with_row_groups(row_groups);
    if let Some(cols) = columns {
        let mask = ProjectionMask::leaves(b.parquet_schema(), cols.iter().copied());
        b = b.with_projection(mask);
    }
    b.build().unwrap().map(Result::unwrap).collect()
}

fn floats(a: &dyn Array) -> Vec<u8> {
    let values = match a.data_type() {
        DataType::Float32 => a.as_primitive::<Float32Type>().clone(),
        _ => a
            .as_fixed_size_list()
            .values()
            .as_primitive::<Float32Type>()
            .clone(),
    };
    values.values().iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[test]
fn a_generated_file_holds_the_generator_bytes_in_its_schema() {
    let spec = spec();
    let file = generate("memory://b/f.parquet", &spec).unwrap();
    let all: Vec<RecordBatch> = (0..4).flat_map(|rg| batches(&file, None, vec![rg])).collect();
    assert_eq!(all.iter().map(RecordBatch::num_rows).sum::<usize>(), 400);
    let schema = all[0].schema();
    assert_eq!(schema.field(0).data_type(), &DataType::Float32);
    assert!(matches!(
        schema.field(1).data_type(),
        DataType::FixedSizeList(_, 16)
    ));
    assert!(matches!(
        schema.field(2).data_type(),
        DataType::FixedSizeList(_, 3)
    ));
    // Row group by row group, column by column: one run of the generator's bytes.
    let data = Generator::new(spec.row_group_bytes() * 4, spec.data).generate();
    let read: Vec<u8> = (all.iter())
        .flat_map(|b| b.columns().iter().flat_map(|c| floats(c)).collect::<Vec<_>>())
        .collect();
    assert_eq!(read.len(), data.len());
    let first_diff = read.iter().zip(data.iter()).position(|(a, b)| a != b);
    assert_eq!(
        first_diff, None,
        "the file's floats differ from the generator's bytes"
    );
    // The pieces a writer streams are the same file: one per row group, then the footer.
    let pieces: Vec<Bytes> = Pieces::new("memory://b/f.parquet", spec)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(pieces.len(), 5);
    assert_eq!(pieces.concat(), file.to_vec());
}

#[test]
fn a_spec_without_columns_rows_or_width_is_refused_by_name() {
    for bad in [
        ParquetSpec::new(vec![], 10, 1),
        ParquetSpec::float_columns(2, 0, 1),
        ParquetSpec::float_columns(2, 10, 0),
        ParquetSpec::new(vec![Column::new("x", 0)], 10, 1),
    ] {
        let e = generate("memory://b/bad.parquet", &bad).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { .. }), "{e}");
        assert!(e.to_string().contains("memory://b/bad.parquet"), "{e}");
    }
}

/// A memory store with the buckets the tests use.
async fn store() -> MemoryStore {
    let store = MemoryStore::new();
    for bucket in ["memory://b", "memory://s"] {
        store.create_container(bucket).await.unwrap();
    }
    store
}

async fn stored(spec: &ParquetSpec, uri: &str) -> (MemoryStore, Bytes) {
    let store = store().await;
    let file = generate(uri, spec).unwrap();
    store.put(uri, file.clone()).await.unwrap();
    (store, file)
}

#[tokio::test]
async fn a_footer_is_read_from_the_end_whatever_the_cap() {
    let uri = "memory://b/f.parquet";
    let (store, file) = stored(&spec(), uri).await;
    let whole = Footer::fetch(&store, uri, 1 << 20).await.unwrap();
    assert_eq!(whole.size, file.len() as u64);
    assert_eq!(whole.row_offsets, vec![0, 100, 200, 300, 400]);
    // A cap shorter than the metadata takes a second request for the rest.
    let cut = Footer::fetch(&store, uri, 16).await.unwrap();
    assert_eq!(cut.row_offsets, whole.row_offsets);
    assert_eq!(cut.extent(3, None).unwrap(), whole.extent(3, None).unwrap());
    assert_eq!(whole.row_group_of(0).unwrap(), 0);
    assert_eq!(whole.row_group_of(199).unwrap(), 1);
    assert_eq!(whole.row_group_of(200).unwrap(), 2);
    assert!(whole.row_group_of(400).is_err() && whole.row_group_of(-1).is_err());
    assert!(
        whole
            .row_group(4)
            .unwrap_err()
            .to_string()
            .contains("the file has 4")
    );
    assert!(
        whole
            .column_ranges(0, Some(&[9]))
            .unwrap_err()
            .to_string()
            .contains("column 9")
    );

    store
        .put("memory://b/not.parquet", Bytes::from_static(b"hello"))
        .await
        .unwrap();
    let e = Footer::fetch(&store, "memory://b/not.parquet", 1024)
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("not a Parquet file") && e.to_string().contains("not.parquet"),
        "{e}"
    );
    let e = Footer::fetch(&store, "memory://b/missing.parquet", 1024)
        .await
        .unwrap_err();
    assert!(e.is_not_found(), "{e}");
}

#[tokio::test]
async fn a_raw_row_group_is_its_column_chunks_as_stored() {
    let uri = "memory://b/f.parquet";
    let (store, file) = stored(&spec(), uri).await;
    let footer = Footer::fetch(&store, uri, 1 << 20).await.unwrap();
    for rg in 0..4 {
        let extent = footer.extent(rg, None).unwrap();
        let raw = read_row_group(&store, &footer, rg, None, Decode::Raw)
            .await
            .unwrap();
        assert_eq!(raw, file.slice(extent.start as usize..extent.end as usize));
        // Columns 0 and 2: one request from the first to the end of the last.
        let some = read_row_group(&store, &footer, rg, Some(&[0, 2]), Decode::Raw)
            .await
            .unwrap();
        let cols = footer.column_ranges(rg, Some(&[0, 2])).unwrap();
        assert_eq!(some.len() as u64, cols[1].end - cols[0].start);
    }
}

#[tokio::test]
async fn an_arrow_row_group_decodes_to_the_rows_of_the_file() {
    let uri = "memory://b/f.parquet";
    let (store, file) = stored(&spec(), uri).await;
    let footer = Footer::fetch(&store, uri, 1 << 20).await.unwrap();
    for cols in [None, Some(&[1usize][..]), Some(&[0, 2][..])] {
        let ipc = read_row_group(&store, &footer, 2, cols, Decode::Arrow)
            .await
            .unwrap();
        let got: Vec<RecordBatch> = arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(ipc), None)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let want = batches(&file, cols, vec![2]);
        assert_eq!(got, want);
        assert_eq!(got[0].num_rows(), 100);
    }
}

#[tokio::test]
async fn a_row_group_of_a_rewritten_file_fails_and_the_cache_reads_the_new_footer() {
    let uri = "memory://b/f.parquet";
    let (store, _) = stored(&spec(), uri).await;
    let store: Arc<dyn ObjectStore> = Arc::new(store);
    let cache = FooterCache::new(8);
    let before = cache
        .read_row_group(&*store, uri, 0, None, Decode::Raw, 1 << 20)
        .await
        .unwrap();
    let old = cache.footer(&*store, uri, 1 << 20).await.unwrap();

    let newer = spec().with_data(DataSpec::default().with_seed(8));
    let file = generate(uri, &newer).unwrap();
    store.put(uri, file.clone()).await.unwrap();
    // Pinned to the old footer's version: no bytes of the new file under the old layout.
    let e = read_row_group(&*store, &old, 0, None, Decode::Raw)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Precondition { .. }), "{e}");
    // The cache notices, reads the footer again, and returns the new file's row group.
    let after = cache
        .read_row_group(&*store, uri, 0, None, Decode::Raw, 1 << 20)
        .await
        .unwrap();
    let extent = Footer::fetch(&*store, uri, 1 << 20)
        .await
        .unwrap()
        .extent(0, None)
        .unwrap();
    assert_eq!(after, file.slice(extent.start as usize..extent.end as usize));
    assert_ne!(before, after);
}

#[tokio::test]
async fn the_cache_keeps_at_most_its_capacity_and_forgets_on_request() {
    let store = store().await;
    let spec = ParquetSpec::float_columns(1, 10, 1);
    let uris: Vec<String> = (0..3).map(|i| format!("memory://b/{i}.parquet")).collect();
    for uri in &uris {
        store.put(uri, generate(uri, &spec).unwrap()).await.unwrap();
    }
    let cache = FooterCache::new(2);
    for uri in &uris {
        cache.footer(&store, uri, 1 << 20).await.unwrap();
    }
    assert_eq!(cache.len(), 2);
    cache.invalidate(&uris[2]);
    assert_eq!(cache.len(), 1);
    cache.clear();
    assert!(cache.is_empty());
}

#[tokio::test]
async fn the_index_maps_rows_to_row_groups_and_marks_epochs() {
    let uri = "memory://b/f.parquet";
    let (store, _) = stored(&spec(), uri).await;
    let store: Arc<dyn ObjectStore> = Arc::new(store);
    let index = ParquetIndex::new(Some(vec![1]), 1 << 20);
    assert!(
        index
            .range(uri, 0)
            .unwrap_err()
            .to_string()
            .contains("ensure_indexed")
    );
    index
        .ensure_indexed(vec![(store.clone(), uri.to_string())], 4)
        .await
        .unwrap();
    let footer = Footer::fetch(&*store, uri, 1 << 20).await.unwrap();
    assert_eq!(
        (index.len(), index.file_count(), index.row_groups(uri)),
        (4, 1, Some(4))
    );
    assert_eq!(index.row_group_of(uri, 250).unwrap(), 2);
    assert!(index.row_group_of(uri, 400).is_err());
    assert_eq!(
        index.range(uri, 2).unwrap(),
        footer.extent(2, Some(&[1])).unwrap()
    );
    assert_eq!(index.unfetched(uri, 1), 4);
    assert!(!index.check_and_mark(uri, 2, 1));
    assert!(index.check_and_mark(uri, 2, 1) && index.was_fetched(uri, 2, 1));
    assert_eq!(index.unfetched(uri, 1), 3);
    assert!(!index.was_fetched(uri, 2, 2) && index.unfetched(uri, 2) == 4);
    index.invalidate(uri);
    assert!(!index.is_indexed(uri));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_delivers_every_row_group_of_every_file_once() {
    let store = store().await;
    let mut files: Vec<(Arc<dyn ObjectStore>, String)> = Vec::new();
    let shared: Arc<dyn ObjectStore> = Arc::new(store);
    for (i, groups) in [3, 1, 5].into_iter().enumerate() {
        let uri = format!("memory://s/{i}.parquet");
        let spec = ParquetSpec::float_columns(2, 10, groups);
        shared.put(&uri, generate(&uri, &spec).unwrap()).await.unwrap();
        files.push((shared.clone(), uri));
    }
    let opts = StreamOptions {
        columns: None,
        decode: Decode::Raw,
        footer_cap: 1 << 20,
        concurrency: 2,
    };
    let mut rx = spawn_row_groups(&tokio::runtime::Handle::current(), files.clone(), opts.clone());
    let mut seen = Vec::new();
    while let Some(item) = rx.recv().await {
        let item = item.unwrap();
        let footer = Footer::fetch(&*shared, &files[item.file].1, 1 << 20)
            .await
            .unwrap();
        let extent = footer.extent(item.rg, None).unwrap();
        assert_eq!(item.data.len() as u64, extent.end - extent.start);
        seen.push((item.file, item.rg));
    }
    seen.sort();
    let want: Vec<(usize, usize)> = [(0, 3), (1, 1), (2, 5)]
        .into_iter()
        .flat_map(|(f, n)| (0..n).map(move |rg| (f, rg)))
        .collect();
    assert_eq!(seen, want);

    files.push((shared.clone(), "memory://s/missing.parquet".into()));
    let mut rx = spawn_row_groups(&tokio::runtime::Handle::current(), files, opts);
    let e = rx.recv().await.unwrap().unwrap_err();
    assert!(
        e.is_not_found() && e.to_string().contains("missing.parquet"),
        "{e}"
    );
    assert!(rx.recv().await.is_none());
}
