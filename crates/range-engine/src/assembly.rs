//! The contiguous output buffer: allocated once, filled in disjoint pieces by copy tasks
//! on the blocking pool, so copying — and the page faults of fresh memory, which cost
//! more than the copy itself on many machines — runs on every core instead of stalling
//! the task that keeps requests flowing.

use std::sync::Arc;

use bytes::Bytes;
use s3dlio_core::{Operation, Result, run_blocking};

/// Shared by the read and its copy tasks; a cancelled read's buffer lives until the last
/// copy task holding it finishes, so no copy ever writes into freed memory.
#[derive(Debug)]
pub(crate) struct Assembly {
    /// Start of `vec`'s allocation (`vec` itself keeps length 0 until `finish`).
    ptr: *mut u8,
    len: usize,
    vec: Vec<u8>,
}

// SAFETY: the allocation is owned by `vec`; concurrent writers touch disjoint ranges
// (the engine hands each chunk's range to exactly one copy task), and nothing reads the
// bytes until `finish`, after every writer is done.
unsafe impl Send for Assembly {}
// SAFETY: as above.
unsafe impl Sync for Assembly {}

impl Assembly {
    pub(crate) fn new(len: usize) -> Arc<Self> {
        let mut vec = Vec::with_capacity(len);
        let ptr = vec.as_mut_ptr();
        Arc::new(Assembly { ptr, len, vec })
    }

    /// Copies `data` to `offset` on the blocking pool.
    ///
    /// Each byte range must be written by exactly one call.
    pub(crate) async fn copy_in(self: &Arc<Self>, uri: &str, offset: usize, data: Bytes) -> Result<()> {
        assert!(offset + data.len() <= self.len, "copy outside the buffer");
        let this = self.clone();
        run_blocking(Operation::GetRange, uri, "a copy task", move || {
            // SAFETY: in bounds (checked above), and the engine gives each range to one
            // call only, so no other writer touches these bytes.
            unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), this.ptr.add(offset), data.len()) }
        })
        .await
    }

    /// The filled buffer. `written` must equal the buffer's length, every byte written
    /// once, and every copy task finished.
    pub(crate) fn finish(self: Arc<Self>, written: usize) -> Bytes {
        let mut this = Arc::try_unwrap(self).expect("every copy task has finished");
        assert_eq!(written, this.len, "every byte of the output was written");
        // SAFETY: all `len` bytes were initialised by the copies (asserted above).
        unsafe { this.vec.set_len(this.len) };
        Bytes::from(std::mem::take(&mut this.vec))
    }
}
