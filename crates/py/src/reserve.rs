//! Memory a writer lends Python to fill: `ObjectWriter.reserve` returns a writable
//! `memoryview` over a Rust buffer, `commit` gives the filled bytes to the upload.
//!
//! The bytes go to the upload without a copy when no view of the buffer is left in
//! Python at `commit` (the returned `memoryview` is released there); a view still held
//! elsewhere (a numpy array over it) could change bytes the upload is sending, so then
//! they are copied once. Unlike the original's `reserve`, a view kept past `commit` can
//! never write into memory that is gone or in flight.

use std::ffi::c_int;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::{Bytes, BytesMut};
use pyo3::ffi;
use pyo3::prelude::*;

use crate::view::export;

/// The writable buffer behind a `reserve`d `memoryview` (its `.obj`).
#[pyclass(frozen, module = "s3dlio", name = "ReservedBuffer")]
#[derive(Debug)]
pub struct ReservedBuffer {
    /// Never resized while exported, so the pointer a view holds stays valid; taken
    /// (left empty) only when no view is exported.
    data: Mutex<BytesMut>,
    /// Views exported through the buffer protocol and not yet released.
    exports: AtomicUsize,
}

impl ReservedBuffer {
    pub fn new(size: usize) -> Self {
        ReservedBuffer {
            data: Mutex::new(BytesMut::zeroed(size)),
            exports: AtomicUsize::new(0),
        }
    }

    fn data(&self) -> std::sync::MutexGuard<'_, BytesMut> {
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn len(&self) -> usize {
        self.data().len()
    }

    /// Whether the first `nbytes` are given away without a copy (no view left).
    pub fn unshared(&self) -> bool {
        self.exports.load(Ordering::Acquire) == 0
    }

    /// The first `nbytes` (at most `len`) as `Bytes`: the buffer itself when no view of
    /// it is exported, else a copy.
    pub fn take(&self, nbytes: usize) -> Bytes {
        let mut data = self.data();
        if self.unshared() {
            let mut owned = std::mem::take(&mut *data);
            owned.truncate(nbytes);
            return owned.freeze();
        }
        Bytes::copy_from_slice(&data[..nbytes])
    }
}

#[pymethods]
impl ReservedBuffer {
    unsafe fn __getbuffer__(slf: PyRef<'_, Self>, view: *mut ffi::Py_buffer, flags: c_int) -> PyResult<()> {
        let (ptr, len) = {
            let mut data = slf.data();
            (data.as_mut_ptr(), data.len())
        };
        // SAFETY: `view` is the caller's Py_buffer; the bytes are this object's, which the
        // filled view pins, and are neither resized nor taken while `exports` > 0.
        unsafe { export(slf.py(), slf.as_ptr(), view, flags, ptr, len, false) }?;
        slf.exports.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {
        self.exports.fetch_sub(1, Ordering::AcqRel);
    }

    fn __len__(&self) -> usize {
        self.len()
    }
}
