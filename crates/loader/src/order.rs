//! Which samples one shard reads in one epoch, and in what order.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// One reader's share of the dataset: rank `rank` of `world_size` (processes, e.g.
/// torch.distributed), worker `worker_id` of `num_workers` inside that process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub rank: usize,
    pub world_size: usize,
    pub worker_id: usize,
    pub num_workers: usize,
}

impl Default for Shard {
    fn default() -> Self {
        Shard {
            rank: 0,
            world_size: 1,
            worker_id: 0,
            num_workers: 1,
        }
    }
}

impl Shard {
    /// This shard's number among all `world_size × num_workers` shards.
    pub fn index(&self) -> usize {
        self.rank * self.num_workers + self.worker_id
    }

    pub fn count(&self) -> usize {
        self.world_size * self.num_workers
    }
}

/// The order of one epoch for one shard: the dataset's indices, shuffled when asked (the
/// same permutation for every shard, so the shards split it), then every `count()`-th
/// one from the shard's own offset. Across all shards each index appears exactly once.
///
/// The permutation is ChaCha8 seeded with `seed`, on stream `epoch`: the same seed and
/// epoch give the same order on every machine and version, and every epoch another one.
pub fn epoch_order(len: usize, shuffle: bool, seed: u64, epoch: u64, shard: Shard) -> Vec<usize> {
    let mut all: Vec<usize> = (0..len).collect();
    if shuffle {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(epoch);
        all.shuffle(&mut rng);
    }
    all.into_iter()
        .skip(shard.index())
        .step_by(shard.count().max(1))
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn every_index_once_across_shards(
            len in 0usize..300,
            world in 1usize..5,
            workers in 1usize..4,
            shuffle: bool,
            seed: u64,
            epoch in 0u64..4,
        ) {
            let mut seen = vec![0u32; len];
            for rank in 0..world {
                for worker_id in 0..workers {
                    let shard = Shard { rank, world_size: world, worker_id, num_workers: workers };
                    let order = epoch_order(len, shuffle, seed, epoch, shard);
                    // Shards differ in length by at most one.
                    prop_assert!(order.len() >= len / (world * workers));
                    prop_assert!(order.len() <= len.div_ceil(world * workers));
                    for i in order {
                        seen[i] += 1;
                    }
                }
            }
            prop_assert!(seen.iter().all(|&n| n == 1));
        }
    }

    #[test]
    fn seeds_and_epochs_decide_the_order() {
        let one = Shard::default();
        let a = epoch_order(1000, true, 7, 0, one);
        assert_eq!(
            a,
            epoch_order(1000, true, 7, 0, one),
            "same seed and epoch, same order"
        );
        assert_ne!(
            a,
            epoch_order(1000, true, 7, 1, one),
            "another epoch, another order"
        );
        assert_ne!(
            a,
            epoch_order(1000, true, 8, 0, one),
            "another seed, another order"
        );
        assert_ne!(
            epoch_order(1000, true, 7, 1, one),
            epoch_order(1000, true, 8, 0, one),
            "seed + epoch collisions do not repeat an order"
        );
        assert_eq!(epoch_order(5, false, 7, 3, one), [0, 1, 2, 3, 4]);
    }
}
