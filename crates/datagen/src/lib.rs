//! # s3dlio-datagen
//!
//! Seeded synthetic bytes with controllable deduplication and compressibility, for
//! benchmarks and synthetic uploads (`s3-cli put`, `s3dlio.put` in Python).
//!
//! An object is cut into [`BLOCK_SIZE`] blocks. With `dedup = N`, block `i` repeats
//! unique block `i % ceil(blocks / N)`, so about 1/N of the blocks are unique. With
//! `compress = N`, the first `ceil(len / N)` bytes of each block are pseudo-random and
//! the rest are zeros, so a compressor shrinks the object about N×. A block's bytes depend
//! only on the seed, its unique id and its length, which is what lets any byte range be
//! generated on its own ([`Generator::fill_at`]) and large objects be generated in
//! parallel or streamed in parts ([`Generator::chunks`]).
//!
//! ```
//! use s3dlio_datagen::{DataSpec, Generator};
//!
//! let spec = DataSpec::default().with_dedup(2).with_compress(3).with_seed(42);
//! let generator = Generator::new(1_000_000, spec);
//! let all = generator.generate();
//! assert_eq!(all.len(), 1_000_000);
//! // Any range on its own gives the same bytes as the whole object.
//! let mut part = vec![0u8; 1000];
//! generator.fill_at(500_000, &mut part);
//! assert_eq!(&all[500_000..501_000], &part[..]);
//! ```

pub mod npz;
pub mod tfrecord;
mod threads;

pub use threads::{Threads, default_threads, on_threads, total_cpus};

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};
use rayon::prelude::*;

/// The unit of deduplication and compressibility.
pub const BLOCK_SIZE: usize = 64 * 1024;

/// Objects at least this large are generated on all cores.
pub const PARALLEL_THRESHOLD: usize = 4 * 1024 * 1024;

/// What to generate: dedup and compress factors (1 = none) and a seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataSpec {
    pub dedup: u64,
    pub compress: u64,
    pub seed: u64,
}

impl Default for DataSpec {
    /// Unique, incompressible data with seed 0.
    fn default() -> Self {
        DataSpec {
            dedup: 1,
            compress: 1,
            seed: 0,
        }
    }
}

impl DataSpec {
    /// About 1/`n` of the blocks unique; 0 is read as 1.
    pub fn with_dedup(mut self, n: u64) -> Self {
        self.dedup = n.max(1);
        self
    }

    /// About (`n`−1)/`n` of each block compressible; 0 is read as 1.
    pub fn with_compress(mut self, n: u64) -> Self {
        self.compress = n.max(1);
        self
    }

    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// The contents of one synthetic object of a given size.
#[derive(Debug, Clone)]
pub struct Generator {
    size: u64,
    spec: DataSpec,
    unique_blocks: u64,
}

impl Generator {
    pub fn new(size: u64, spec: DataSpec) -> Self {
        let spec = DataSpec {
            dedup: spec.dedup.max(1),
            compress: spec.compress.max(1),
            seed: spec.seed,
        };
        let blocks = size.div_ceil(BLOCK_SIZE as u64);
        Generator {
            size,
            spec,
            unique_blocks: blocks.div_ceil(spec.dedup).max(1),
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The whole object, generated on all cores when it is large.
    pub fn generate(&self) -> Bytes {
        let len = usize::try_from(self.size).expect("object size fits in memory");
        // Zeroed by the allocator (fresh pages): the compressible tails need no writes.
        let mut buf = vec![0u8; len];
        self.fill(0, &mut buf, true);
        Bytes::from(buf)
    }

    /// Writes the object's bytes `offset..offset + buf.len()` into `buf`.
    ///
    /// Panics if the range runs past the object's size.
    pub fn fill_at(&self, offset: u64, buf: &mut [u8]) {
        self.fill(offset, buf, false);
    }

    fn fill(&self, offset: u64, buf: &mut [u8], zeroed: bool) {
        assert!(
            offset + buf.len() as u64 <= self.size,
            "range {offset}+{} past the end of a {}-byte object",
            buf.len(),
            self.size
        );
        // Split at block boundaries so each piece belongs to exactly one block.
        let first_len = (BLOCK_SIZE - (offset % BLOCK_SIZE as u64) as usize).min(buf.len());
        let (head, rest) = buf.split_at_mut(first_len);
        self.fill_piece(offset, head, zeroed);
        let rest_offset = offset + first_len as u64;
        if buf_len_parallel(rest.len()) {
            rest.par_chunks_mut(BLOCK_SIZE)
                .enumerate()
                .for_each(|(i, piece)| self.fill_piece(rest_offset + (i * BLOCK_SIZE) as u64, piece, zeroed));
        } else {
            for (i, piece) in rest.chunks_mut(BLOCK_SIZE).enumerate() {
                self.fill_piece(rest_offset + (i * BLOCK_SIZE) as u64, piece, zeroed);
            }
        }
    }

    /// The object as consecutive parts of `part_size` bytes (the last may be shorter),
    /// each generated when the iterator reaches it: memory stays at one part.
    pub fn chunks(&self, part_size: usize) -> impl Iterator<Item = Bytes> + '_ {
        assert!(part_size > 0, "part_size must be positive");
        (0..self.size)
            .step_by(part_size)
            .map(move |offset| self.range(offset, (self.size - offset).min(part_size as u64) as usize))
    }

    /// The object's bytes `offset..offset + len` in a new buffer.
    pub fn range(&self, offset: u64, len: usize) -> Bytes {
        let mut buf = vec![0u8; len];
        self.fill(offset, &mut buf, true);
        Bytes::from(buf)
    }

    /// Fills `piece`, which lies inside one block, starting at object offset `offset`.
    fn fill_piece(&self, offset: u64, piece: &mut [u8], zeroed: bool) {
        if piece.is_empty() {
            return;
        }
        let block = offset / BLOCK_SIZE as u64;
        let block_start = block * BLOCK_SIZE as u64;
        let block_len = (self.size - block_start).min(BLOCK_SIZE as u64) as usize;
        let random_len = block_len.div_ceil(self.spec.compress as usize);
        let uid = block % self.unique_blocks;
        let mut rng = SmallRng::seed_from_u64(mix(self.spec.seed, uid, block_len as u64));
        let within = (offset - block_start) as usize;
        let random_end = random_len.saturating_sub(within).min(piece.len());
        if random_end > 0 {
            // The stream is 8-byte words, so a piece starting mid-block skips whole words
            // and then drops the first bytes of one.
            for _ in 0..within / 8 {
                rng.next_u64();
            }
            let mut out = &mut piece[..random_end];
            let skip = within % 8;
            if skip > 0 {
                let n = (8 - skip).min(out.len());
                out[..n].copy_from_slice(&rng.next_u64().to_le_bytes()[skip..skip + n]);
                out = &mut out[n..];
            }
            fill_words(&mut rng, out);
        }
        if !zeroed {
            piece[random_end..].fill(0);
        }
    }
}

/// Fills `buf` from consecutive little-endian words, so that any prefix of a block's
/// stream is the same bytes whatever the length asked for (`RngCore::fill_bytes` takes a
/// short tail from a different half of the word).
fn fill_words(rng: &mut SmallRng, buf: &mut [u8]) {
    let mut words = buf.chunks_exact_mut(8);
    for word in &mut words {
        word.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    let tail = words.into_remainder();
    if !tail.is_empty() {
        let len = tail.len();
        tail.copy_from_slice(&rng.next_u64().to_le_bytes()[..len]);
    }
}

fn buf_len_parallel(len: usize) -> bool {
    len >= PARALLEL_THRESHOLD && rayon::current_num_threads() > 1
}

/// Generates `size` bytes with the given factors (a shorthand for [`Generator`]).
pub fn generate(size: u64, dedup: u64, compress: u64, seed: u64) -> Bytes {
    let spec = DataSpec::default()
        .with_dedup(dedup)
        .with_compress(compress)
        .with_seed(seed);
    Generator::new(size, spec).generate()
}

/// SplitMix64 finaliser over the three inputs: nearby seeds and ids give unrelated
/// generator states.
fn mix(seed: u64, uid: u64, len: u64) -> u64 {
    let mut z = seed
        .wrapping_add(uid.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(len.rotate_left(32));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
