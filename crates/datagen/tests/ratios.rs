//! The generator's promises: exact sizes, reproducibility, ranges that match the whole,
//! and the dedup and compression ratios it is asked for.

use std::collections::HashSet;

use proptest::prelude::*;
use s3dlio_datagen::{BLOCK_SIZE, DataSpec, Generator, PARALLEL_THRESHOLD, generate};

#[test]
fn every_size_is_exact_down_to_one_byte() {
    for size in [
        0u64,
        1,
        7,
        4095,
        4096,
        BLOCK_SIZE as u64 - 1,
        BLOCK_SIZE as u64 + 1,
        1_000_003,
    ] {
        assert_eq!(generate(size, 1, 1, 0).len() as u64, size, "size {size}");
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = generate(300_000, 2, 2, 7);
    assert_eq!(a, generate(300_000, 2, 2, 7));
    assert_ne!(a, generate(300_000, 2, 2, 8));
}

#[test]
fn parallel_generation_matches_piecewise_generation() {
    let generator = Generator::new(
        PARALLEL_THRESHOLD as u64 * 2 + 12_345,
        DataSpec::default().with_dedup(3).with_compress(2),
    );
    let whole = generator.generate();
    let mut pieces = Vec::new();
    let mut offset = 0u64;
    for len in [1usize, 100_000, 3, BLOCK_SIZE, 5_000_000].iter().cycle() {
        let len = (*len as u64).min(generator.size() - offset) as usize;
        let mut buf = vec![0xAAu8; len];
        generator.fill_at(offset, &mut buf);
        pieces.extend_from_slice(&buf);
        offset += len as u64;
        if offset == generator.size() {
            break;
        }
    }
    assert_eq!(&whole[..], &pieces[..]);
    let streamed: Vec<u8> = generator.chunks(5 * 1024 * 1024 + 1).flatten().collect();
    assert_eq!(&whole[..], &streamed[..]);
}

fn unique_block_fraction(data: &[u8]) -> f64 {
    let blocks: Vec<&[u8]> = data.chunks(BLOCK_SIZE).collect();
    let unique: HashSet<&[u8]> = blocks.iter().copied().collect();
    unique.len() as f64 / blocks.len() as f64
}

#[test]
fn dedup_n_leaves_about_one_in_n_blocks_unique() {
    for n in [1u64, 2, 3, 4, 8] {
        let data = generate(BLOCK_SIZE as u64 * 240, n, 1, 1);
        let fraction = unique_block_fraction(&data);
        let want = 1.0 / n as f64;
        assert!(
            (fraction - want).abs() <= want * 0.1,
            "dedup {n}: unique fraction {fraction}, want {want}"
        );
    }
}

#[test]
fn compress_n_gives_a_zstd_ratio_within_ten_percent_of_n() {
    for n in [1u64, 2, 3, 4, 6, 8] {
        let data = generate(8 * 1024 * 1024, 1, n, 3);
        let compressed = zstd::bulk::compress(&data, 3).unwrap();
        let ratio = data.len() as f64 / compressed.len() as f64;
        assert!(
            (ratio - n as f64).abs() <= n as f64 * 0.1,
            "compress {n}: zstd ratio {ratio:.3}"
        );
    }
}

#[test]
fn small_objects_are_compressible_too() {
    // The first 1/N of even a tiny object is random, the rest zeros.
    let data = generate(1000, 1, 4, 9);
    assert_eq!(data.iter().rposition(|&b| b != 0).map(|p| p < 250), Some(true));
    assert!(data[250..].iter().all(|&b| b == 0));
}

proptest! {
    #[test]
    fn any_range_matches_the_whole_object(
        size in 1u64..400_000,
        start_frac in 0.0f64..1.0,
        len_frac in 0.0f64..1.0,
        dedup in 1u64..5,
        compress in 1u64..5,
        seed in any::<u64>(),
    ) {
        let generator = Generator::new(size, DataSpec { dedup, compress, seed });
        let whole = generator.generate();
        let start = (size as f64 * start_frac) as u64;
        let len = ((size - start) as f64 * len_frac) as usize;
        let mut buf = vec![0x55u8; len];
        generator.fill_at(start, &mut buf);
        prop_assert_eq!(&whole[start as usize..start as usize + len], &buf[..]);
    }
}
