//! Buffers of one size that come back when the last `Bytes` made of them drops, so the
//! next user writes into memory already faulted in. glibc does not give that on its
//! own: a freed buffer of 128 KiB or more is unmapped (or its thread arena's heap is),
//! and the next one is fresh pages, each faulted and zeroed by the kernel (decision 026).

use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;

/// A pool of buffers of `block_size` bytes, keeping at most `max_idle` of them.
#[derive(Debug)]
pub struct BlockPool {
    block: usize,
    max_idle: usize,
    free: Mutex<Vec<Vec<u8>>>,
}

/// A buffer handed out as `Bytes`; dropping its last slice returns it to its pool.
struct Block {
    data: Vec<u8>,
    pool: Weak<BlockPool>,
}

impl AsRef<[u8]> for Block {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.upgrade() {
            pool.give_back(std::mem::take(&mut self.data));
        }
    }
}

impl BlockPool {
    pub fn new(block_size: usize, max_idle: usize) -> Arc<Self> {
        Arc::new(BlockPool {
            block: block_size.max(1),
            max_idle,
            free: Mutex::new(Vec::new()),
        })
    }

    pub fn block_size(&self) -> usize {
        self.block
    }

    /// An empty buffer with room for one block: an idle one if there is one.
    pub fn take(&self) -> Vec<u8> {
        self.lock()
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(self.block))
    }

    /// `data` (a buffer from [`take`](Self::take)) as `Bytes`, which goes back to the pool
    /// when its last slice drops (or is freed, once the pool is gone).
    pub fn freeze(self: &Arc<Self>, data: Vec<u8>) -> Bytes {
        Bytes::from_owner(Block {
            data,
            pool: Arc::downgrade(self),
        })
    }

    fn give_back(&self, mut data: Vec<u8>) {
        let mut idle = self.lock();
        if idle.len() < self.max_idle && data.capacity() >= self.block {
            data.clear();
            idle.push(data);
        }
    }

    /// Buffers waiting to be handed out again.
    pub fn idle(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Vec<u8>>> {
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_comes_back_when_its_last_slice_drops_and_idle_ones_are_capped() {
        let pool = BlockPool::new(4, 1);
        let mut a = pool.take();
        a.extend_from_slice(b"abcd");
        let at = a.as_ptr();
        let a = pool.freeze(a);
        let slice = a.slice(1..3);
        drop(a);
        let other = pool.take();
        assert_ne!(other.as_ptr(), at, "a buffer with a slice alive was handed out");
        assert_eq!(pool.idle(), 0);
        drop(slice);
        assert_eq!(pool.idle(), 1, "the finished buffer did not come back");
        let again = pool.take();
        assert_eq!(again.as_ptr(), at, "the finished buffer was not reused");
        assert!(again.is_empty() && again.capacity() >= 4);
        // Two come back, one is kept.
        let (x, y) = (pool.freeze(again), pool.freeze(pool.take()));
        drop((x, y));
        assert_eq!(pool.idle(), 1);
    }
}
