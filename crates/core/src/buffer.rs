//! Large output buffers: allocated once, filled in disjoint pieces on the blocking pool,
//! and cheap to touch for the first time.
//!
//! Filling runs on the blocking pool, so copying (and the page faults of fresh memory) runs
//! on every core instead of stalling the task that keeps requests flowing.
//!
//! A read of a large object into fresh memory pays one page fault per 4 KiB page it
//! writes (262 144 per GiB), which on small VMs costs more than the copy itself. Buffers of
//! at least [`HUGE_PAGE`] are advised `MADV_HUGEPAGE`, so where transparent huge pages are
//! enabled (`always` or `madvise`) the kernel maps them 2 MiB at a time: 512 faults per
//! GiB. Elsewhere the advice is ignored and nothing changes.
//! Measured by `cargo xtask bench peers` (the `1GiB x 1 get` rows, file:// and s3://).

use std::sync::Arc;

use bytes::Bytes;

use crate::{Operation, Result, run_blocking};

/// One object's output, shared by the read and its fill tasks; a cancelled read's buffer
/// lives until the last fill task holding it finishes, so no task writes into freed memory.
#[derive(Debug)]
pub struct OutputBuffer {
    /// Start of `vec`'s allocation (`vec` itself keeps length 0 until `finish`).
    ptr: *mut u8,
    len: usize,
    vec: Vec<u8>,
}

// SAFETY: the allocation is owned by `vec`; concurrent writers touch disjoint ranges (the
// contract of `fill`), and nothing reads the bytes until `finish`, after every writer.
unsafe impl Send for OutputBuffer {}
// SAFETY: as above.
unsafe impl Sync for OutputBuffer {}

impl OutputBuffer {
    pub fn new(len: usize) -> Arc<Self> {
        let mut vec = large_vec(len);
        let ptr = vec.as_mut_ptr();
        Arc::new(OutputBuffer { ptr, len, vec })
    }

    /// Runs `write(ptr, n)` on the blocking pool, where `ptr` is byte `offset` of the
    /// buffer and `n` the length of the piece; `write` must initialise all `n` bytes
    /// when it succeeds (`finish` counts them as written).
    ///
    /// # Safety
    /// Each byte range must be given to exactly one call: pieces never overlap.
    pub async unsafe fn fill<T: Send + 'static>(
        self: &Arc<Self>,
        op: Operation,
        uri: &str,
        offset: usize,
        n: usize,
        write: impl FnOnce(*mut u8, usize) -> T + Send + 'static,
    ) -> Result<T> {
        assert!(offset + n <= self.len, "a piece outside the buffer");
        let this = self.clone();
        // SAFETY: in bounds (checked above).
        run_blocking(op, uri, "a fill task", move || {
            write(unsafe { this.ptr.add(offset) }, n)
        })
        .await
    }

    /// Copies `data` to `offset` on the blocking pool.
    ///
    /// # Safety
    /// As [`fill`](Self::fill): each byte range is written by one call only.
    pub async unsafe fn copy_in(
        self: &Arc<Self>,
        op: Operation,
        uri: &str,
        offset: usize,
        data: Bytes,
    ) -> Result<()> {
        let n = data.len();
        let copy = move |to: *mut u8, n: usize| {
            // SAFETY: `to[..n]` is this piece of the buffer, owned by this call alone.
            unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), to, n) }
        };
        // SAFETY: the caller's contract.
        unsafe { self.fill(op, uri, offset, n, copy) }.await
    }

    /// The filled buffer. `written` must equal the buffer's length, every byte written
    /// once, and every fill task finished.
    pub fn finish(self: Arc<Self>, written: usize) -> Bytes {
        let mut this = Arc::try_unwrap(self).expect("every fill task has finished");
        assert_eq!(written, this.len, "every byte of the output was written");
        // SAFETY: all `len` bytes were initialised by the fills (asserted above).
        unsafe { this.vec.set_len(this.len) };
        Bytes::from(std::mem::take(&mut this.vec))
    }
}

/// The size from which a buffer is advised to use huge pages (x86-64's PMD size).
pub const HUGE_PAGE: usize = 2 << 20;

/// An empty `Vec` with room for `len` bytes, advised to use huge pages when it is large.
pub fn large_vec(len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    advise_huge_pages(v.as_mut_ptr(), len);
    v
}

#[cfg(target_os = "linux")]
fn advise_huge_pages(ptr: *mut u8, len: usize) {
    if len < HUGE_PAGE {
        return;
    }
    // madvise wants a page-aligned start: advise the whole pages inside the allocation.
    const PAGE: usize = 4096;
    let start = (ptr as usize).next_multiple_of(PAGE);
    let end = (ptr as usize + len) / PAGE * PAGE;
    if end > start {
        // SAFETY: [start, end) lies inside the allocation we own; MADV_HUGEPAGE changes
        // how its pages are backed, never their contents. A refusal (THP compiled out)
        // leaves ordinary pages, so the result is ignored.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_: *mut u8, _: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_vec_has_room_for_its_length_and_works_as_a_vec() {
        for len in [0, 10, HUGE_PAGE + 17, 3 * HUGE_PAGE] {
            let mut v = large_vec(len);
            assert!(v.capacity() >= len && v.is_empty());
            v.resize(len, 7);
            assert!(v.iter().all(|&b| b == 7));
        }
    }
}
