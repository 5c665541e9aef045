//! A writer's staging of borrowed Python buffers: copied into blocks of the writer's
//! part size, so each block is a whole part at a part boundary (the writer takes it
//! without another copy), and a small write is a memcpy with no call into the runtime.
//!
//! Blocks of a part's size are allocated and freed as parts upload, so the allocator
//! hands the same memory back: copying 1 GiB into fresh 256 MiB buffers took 0.8 s here
//! (262 144 page faults), into recycled 8 MiB blocks 0.15 s (decision 020).

use bytes::{Bytes, BytesMut};

#[derive(Debug)]
pub struct Staging {
    block: usize,
    buf: BytesMut,
}

impl Staging {
    pub fn new(block: usize) -> Self {
        Staging {
            block: block.max(1),
            buf: BytesMut::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Copies `data` in; returns the blocks it completed, in order.
    pub fn push(&mut self, mut data: &[u8]) -> Vec<Bytes> {
        let mut full = Vec::new();
        while !data.is_empty() {
            if self.buf.capacity() == 0 {
                self.buf.reserve(self.block);
            }
            let take = (self.block - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() == self.block {
                full.push(self.buf.split().freeze());
            }
        }
        full
    }

    /// The unfinished last block (possibly empty).
    pub fn take_rest(&mut self) -> Bytes {
        self.buf.split().freeze()
    }
}
