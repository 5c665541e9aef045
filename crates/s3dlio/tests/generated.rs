//! Synthetic objects (`transfer::put_generated`, behind the CLI's `put` and Python's
//! `put`): what they hold and how they are generated are real choices, seen in the
//! stored bytes and in the requests the store receives.

use std::sync::Arc;

use s3dlio::datagen::{DataSpec, Generator};
use s3dlio::testkit::FaultyStore;
use s3dlio::transfer::{Generation, Synthetic, put_generated};
use s3dlio::{MemoryStore, ObjectStore, ObjectStoreExt};

const SIZE: u64 = (3 << 20) + 5;

async fn store() -> Arc<FaultyStore> {
    let memory = Arc::new(MemoryStore::new());
    memory.create_container("memory://b").await.unwrap();
    Arc::new(FaultyStore::new(memory))
}

#[tokio::test]
async fn streaming_writes_steps_of_chunk_size_and_single_pass_puts_once() {
    let spec = DataSpec::default().with_seed(7);
    let want = Generator::new(SIZE, spec).generate();

    let s = store().await;
    let step = 1 << 20;
    put_generated(
        &*s,
        "memory://b/streamed",
        SIZE,
        Synthetic::Data(spec),
        Generation::Streaming { step },
    )
    .await
    .unwrap();
    assert_eq!(s.writes(), [step, step, step, 5], "one write per step");
    assert_eq!(s.puts(), 0, "larger than a step: a streaming upload");
    assert_eq!(s.get("memory://b/streamed").await.unwrap(), want);

    let s = store().await;
    put_generated(
        &*s,
        "memory://b/whole",
        SIZE,
        Synthetic::Data(spec),
        Generation::SinglePass,
    )
    .await
    .unwrap();
    assert!(s.writes().is_empty());
    assert_eq!(s.puts(), 1, "single pass: one put of the whole object");
    assert_eq!(
        s.get("memory://b/whole").await.unwrap(),
        want,
        "same bytes either way"
    );

    let s = store().await;
    let big_step = Generation::Streaming { step: SIZE as usize };
    put_generated(&*s, "memory://b/one", SIZE, Synthetic::Data(spec), big_step)
        .await
        .unwrap();
    assert_eq!((s.puts(), s.writes().len()), (1, 0), "fits in one step: one put");
}

#[tokio::test]
async fn zeros_are_zeros_and_data_is_not() {
    let s = store().await;
    let how = Generation::Streaming { step: 1 << 20 };
    put_generated(&*s, "memory://b/z", SIZE, Synthetic::Zeros, how)
        .await
        .unwrap();
    let z = s.get("memory://b/z").await.unwrap();
    assert_eq!(z.len() as u64, SIZE);
    assert!(z.iter().all(|b| *b == 0));
    put_generated(
        &*s,
        "memory://b/d",
        SIZE,
        Synthetic::Data(DataSpec::default()),
        how,
    )
    .await
    .unwrap();
    let d = s.get("memory://b/d").await.unwrap();
    assert!(
        d.iter().filter(|b| **b == 0).count() < d.len() / 16,
        "generated data is not zeros"
    );
}

#[cfg(feature = "parquet")]
#[tokio::test]
async fn a_parquet_object_streams_a_row_group_per_write() {
    use s3dlio::transfer::{PARQUET_ROWS_PER_GROUP, synthetic};
    let s = store().await;
    let what = synthetic("parquet", DataSpec::default()).unwrap();
    let stored = put_generated(&*s, "memory://b/p.parquet", SIZE, what, Generation::default())
        .await
        .unwrap();
    let footer = s3dlio::parquet::Footer::fetch(&*s, "memory://b/p.parquet", 1 << 20)
        .await
        .unwrap();
    // 3 MiB + 5 bytes of Float32 rows: three full row groups and one of a row.
    assert_eq!(footer.num_row_groups(), 4);
    assert_eq!(footer.row_offsets[3], 3 * PARQUET_ROWS_PER_GROUP as i64);
    assert_eq!(footer.size, stored);
    // One write per row group, then the footer: memory never held the file.
    assert_eq!(s.writes().len(), 5);
    assert!(s.writes()[..3].iter().all(|&w| w > 1 << 20), "{:?}", s.writes());
}

#[test]
fn object_types_parse_once_for_the_cli_and_python() {
    use s3dlio::transfer::{FileFormat, synthetic};
    let spec = DataSpec::default();
    assert_eq!(synthetic("RAW", spec), Ok(Synthetic::Data(spec)));
    assert_eq!(synthetic("random", spec), Ok(Synthetic::Data(spec)));
    assert_eq!(synthetic("Npz", spec), Ok(Synthetic::File(FileFormat::Npz, spec)));
    assert_eq!(
        synthetic("tfrecord", spec),
        Ok(Synthetic::File(FileFormat::TfRecord, spec))
    );
    assert!(synthetic("hdf5", spec).unwrap_err().contains("libhdf5"));
    assert!(
        synthetic("zeros", spec.with_dedup(2))
            .unwrap_err()
            .contains("random")
    );
    assert!(synthetic("csv", spec).unwrap_err().contains("tfrecord"));
}
