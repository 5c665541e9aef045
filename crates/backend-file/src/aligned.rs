//! A heap buffer aligned for O_DIRECT, that `Bytes` can own without a copy.

use std::alloc::{Layout, alloc, dealloc};
use std::ptr::NonNull;

/// `capacity` bytes aligned to `align`. Only the first `len` bytes (those written) are
/// ever exposed as a slice.
#[derive(Debug)]
pub(crate) struct AlignedBuf {
    ptr: NonNull<u8>,
    layout: Layout,
    len: usize,
}

// SAFETY: AlignedBuf owns its allocation exclusively, like a Vec<u8>.
unsafe impl Send for AlignedBuf {}
// SAFETY: shared access only reads initialised bytes.
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    pub(crate) fn new(capacity: usize, align: usize) -> Self {
        let layout =
            Layout::from_size_align(capacity.max(align), align).expect("alignment is a power of two");
        // SAFETY: the layout has a non-zero size.
        let ptr =
            NonNull::new(unsafe { alloc(layout) }).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        AlignedBuf { ptr, layout, len: 0 }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.layout.size()
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Marks the first `len` bytes as written.
    ///
    /// # Safety
    /// Those bytes must have been initialised.
    pub(crate) unsafe fn set_len(&mut self, len: usize) {
        debug_assert!(len <= self.capacity());
        self.len = len;
    }

    /// Appends as much of `data` as fits; returns how much was taken.
    pub(crate) fn extend_from(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.capacity() - self.len);
        // SAFETY: n bytes fit after len; the regions cannot overlap (we own ours).
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(self.len), n);
        }
        self.len += n;
        n
    }

    /// Zero-fills up to the next multiple of `align`; returns the padded length.
    pub(crate) fn pad_to(&mut self, align: usize) -> usize {
        let padded = self.len.next_multiple_of(align).min(self.capacity());
        // SAFETY: padded <= capacity.
        unsafe { std::ptr::write_bytes(self.ptr.as_ptr().add(self.len), 0, padded - self.len) };
        self.len = padded;
        padded
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }
}

impl AsRef<[u8]> for AlignedBuf {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: the first len bytes are initialised (set_len/extend_from/pad_to).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_fill_and_pad() {
        let mut b = AlignedBuf::new(8192, 4096);
        assert_eq!(b.as_mut_ptr() as usize % 4096, 0);
        assert_eq!(b.extend_from(&[7u8; 5000]), 5000);
        assert_eq!(b.pad_to(4096), 8192);
        assert_eq!(&b.as_ref()[4999..5001], &[7, 0]);
        assert_eq!(b.extend_from(&[1]), 0, "full");
        b.clear();
        assert_eq!(b.len(), 0);
    }
}
