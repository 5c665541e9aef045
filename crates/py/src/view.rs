//! Buffers across the boundary: `BytesView` exports Rust `Bytes` to Python without a
//! copy; any Python buffer becomes `Bytes` without a copy; a writable Python buffer
//! becomes a destination for reads.

use std::ffi::{c_int, c_void};
use std::sync::Arc;

use bytes::Bytes;
use pyo3::exceptions::{PyBufferError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyMemoryView};
use s3dlio::buffer::OutputBuffer;

/// Read-only bytes owned by Rust, exported through the buffer protocol.
///
/// Every `memoryview` (and numpy array, torch tensor) made from it holds a reference to
/// this object, and this object holds the `Bytes`: the memory lives exactly as long as
/// the last view of it.
#[pyclass(frozen, module = "s3dlio", name = "BytesView")]
#[derive(Debug)]
pub struct BytesView {
    data: Bytes,
}

#[pymethods]
impl BytesView {
    unsafe fn __getbuffer__(slf: PyRef<'_, Self>, view: *mut ffi::Py_buffer, flags: c_int) -> PyResult<()> {
        let data = &slf.data;
        // SAFETY: `view` is the caller's Py_buffer; `data` lives as long as this object,
        // which the filled view pins. Read-only: a PyBUF_WRITABLE request is refused.
        unsafe {
            export(
                slf.py(),
                slf.as_ptr(),
                view,
                flags,
                data.as_ptr() as *mut u8,
                data.len(),
                true,
            )
        }
    }

    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {}

    fn __len__(&self) -> usize {
        self.data.len()
    }

    fn __bytes__<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.data)
    }

    fn __repr__(&self) -> String {
        format!(
            "<s3dlio.BytesView of {} bytes at {:#x}>",
            self.data.len(),
            self.address()
        )
    }

    /// The address of the first byte of the Rust buffer, to check that a view, an array
    /// or a tensor shares this memory.
    #[getter]
    fn address(&self) -> usize {
        self.data.as_ptr() as usize
    }
}

/// Fills `view` with the `len` bytes at `ptr`, owned by `owner` (the buffer protocol's
/// `__getbuffer__`). On success view.obj holds a new reference to `owner`, so the memory
/// must live as long as `owner`; `readonly` buffers refuse a PyBUF_WRITABLE request.
///
/// # Safety
/// `view` is the Py_buffer CPython passed in; `ptr..ptr + len` is memory `owner` keeps
/// valid (and unmoved) while any view of it is exported.
pub unsafe fn export(
    py: Python<'_>,
    owner: *mut ffi::PyObject,
    view: *mut ffi::Py_buffer,
    flags: c_int,
    ptr: *mut u8,
    len: usize,
    readonly: bool,
) -> PyResult<()> {
    // SAFETY: the caller's contract above.
    let rc = unsafe {
        ffi::PyBuffer_FillInfo(
            view,
            owner,
            ptr as *mut c_void,
            len as ffi::Py_ssize_t,
            c_int::from(readonly),
            flags,
        )
    };
    match rc {
        -1 => Err(PyErr::take(py).unwrap_or_else(|| PyBufferError::new_err("the buffer request failed"))),
        _ => Ok(()),
    }
}

/// A read-only `memoryview` over `data`, without a copy.
pub fn memoryview(py: Python<'_>, data: Bytes) -> PyResult<Py<PyAny>> {
    let owner = Bound::new(py, BytesView { data })?;
    // A `BytesView` refers to no Python object, so it can never be part of a cycle; left
    // tracked, each collection of the young generation walks it (a batch of 20 000
    // ranges made three tracked objects a range, and the collector took ~12 % of the
    // call). CPython's memoryview and its managed buffer stay tracked: their deallocators
    // assume it.
    // SAFETY: a live object of a GC type; pyo3's deallocator untracks with the checked
    // `PyObject_GC_UnTrack`, which accepts an object already untracked.
    unsafe { ffi::PyObject_GC_UnTrack(owner.as_ptr().cast()) };
    Ok(PyMemoryView::from(owner.as_any())?.into_any().unbind())
}

/// Runs `f`, which makes many Python objects that refer to nothing but each other and
/// immutable values (the views of one call, tuples of a URI and a view), with the cycle
/// collector paused, so they are examined together by one collection once it resumes.
/// Python 3.11 otherwise collects inside the loop every 700 allocations and walks the
/// views already made again at each older collection (20 000 ranges with the caller's
/// last two results alive: 1.19–1.47x faster paused, decision 031); 3.12 and later defer
/// the collection to the interpreter's next check on their own. A caller that disabled the
/// collector finds it still disabled. `f` must not release the GIL.
pub fn in_one_collection<T>(_py: Python<'_>, f: impl FnOnce() -> T) -> T {
    struct Resume(bool);
    impl Drop for Resume {
        fn drop(&mut self) {
            if self.0 {
                // SAFETY: the GIL is still held: `f` keeps it.
                unsafe { ffi::PyGC_Enable() };
            }
        }
    }
    // SAFETY: `_py` proves the GIL is held. PyGC_Disable returns whether it was enabled.
    let _resume = Resume(unsafe { ffi::PyGC_Disable() } == 1);
    f()
}

/// `data` copied once into Python `bytes`.
pub fn py_bytes(py: Python<'_>, data: Bytes) -> PyResult<Py<PyAny>> {
    Ok(PyBytes::new(py, &data).into_any().unbind())
}

/// A Python buffer held open for Rust: the exporter cannot free or resize it until this
/// is dropped (which takes the GIL to release it).
struct Held(pyo3::buffer::PyUntypedBuffer);

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        let len = self.0.len_bytes();
        if len == 0 {
            return &[];
        }
        // SAFETY: checked C-contiguous when taken, so `len` bytes from buf_ptr are the
        // buffer's, valid while the export is held. Python code must not write into it
        // while an upload reads it (documented on every write function).
        unsafe { std::slice::from_raw_parts(self.0.buf_ptr() as *const u8, len) }
    }
}

fn contiguous(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<pyo3::buffer::PyUntypedBuffer> {
    let buffer = pyo3::buffer::PyUntypedBuffer::get(obj).map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must support the buffer protocol (bytes, bytearray, memoryview, numpy array, ...), not {}",
            obj.get_type().name().map(|n| n.to_string()).unwrap_or_default()
        ))
    })?;
    if !buffer.is_c_contiguous() {
        return Err(PyValueError::new_err(format!(
            "{what} must be C-contiguous; pass a contiguous copy (numpy.ascontiguousarray)"
        )));
    }
    Ok(buffer)
}

/// Copies from this size release the GIL.
const COPY_WITH_GIL: usize = 1 << 20;

/// Any C-contiguous Python buffer as `Bytes`, without a copy: the `Bytes` keeps the
/// buffer exported until the last clone is dropped. `copy` asks for `Bytes` that may
/// outlive the call (a store that keeps them, a writer that holds parts): then only
/// memory nobody can change is shared (`bytes`, `BytesView`); any other buffer is
/// copied, since a read-only export can still be the owner's scratch space (torch.save
/// hands its writer views of a buffer it reuses).
pub fn bytes_from(obj: &Bound<'_, PyAny>, what: &str, copy: bool) -> PyResult<Bytes> {
    if let Ok(view) = obj.cast::<BytesView>() {
        return Ok(view.get().data.clone());
    }
    let buffer = contiguous(obj, what)?;
    if copy && !obj.is_exact_instance_of::<PyBytes>() {
        let held = Held(buffer);
        if held.as_ref().len() < COPY_WITH_GIL {
            return Ok(Bytes::copy_from_slice(held.as_ref()));
        }
        // A large copy (a 64 MiB tensor from torch.save) lets other threads run.
        return Ok(obj.py().detach(|| Bytes::copy_from_slice(held.as_ref())));
    }
    Ok(Bytes::from_owner(Held(buffer)))
}

/// Whether `obj` is immutable memory `bytes_from` shares without a copy (`bytes`,
/// `BytesView`).
pub fn is_shared(obj: &Bound<'_, PyAny>) -> bool {
    obj.is_exact_instance_of::<PyBytes>() || obj.cast::<BytesView>().is_ok()
}

/// Any C-contiguous buffer, held open while Rust reads it.
pub fn held(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<impl AsRef<[u8]>> {
    Ok(Held(contiguous(obj, what)?))
}

/// Copies `data` into `staging` (without the GIL when large); returns the blocks it
/// completed.
pub fn stage(py: Python<'_>, data: &[u8], staging: &mut s3dlio::staging::Staging) -> Vec<Bytes> {
    match data.len() < COPY_WITH_GIL {
        true => staging.push(data),
        false => py.detach(|| staging.push(data)),
    }
}

/// A caller's writable buffer that a read fills.
pub struct Target {
    buffer: pyo3::buffer::PyUntypedBuffer,
}

impl Target {
    pub fn new(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        let buffer = contiguous(obj, "buffer")?;
        if buffer.readonly() {
            return Err(PyTypeError::new_err(
                "buffer is read-only; pass a writable one (bytearray, numpy array, torch tensor)",
            ));
        }
        Ok(Target { buffer })
    }

    pub fn len(&self) -> usize {
        self.buffer.len_bytes()
    }

    /// The buffer as a read's output: fill tasks write straight into the caller's memory,
    /// which stays exported (so Python cannot resize or free it) until the last one ends.
    pub fn into_output(self) -> Arc<OutputBuffer> {
        let len = self.len();
        self.into_output_at(0, len)
    }

    /// Bytes `start..start + len` of the buffer as a read's output.
    pub fn into_output_at(self, start: usize, len: usize) -> Arc<OutputBuffer> {
        assert!(start + len <= self.len(), "a window outside the buffer");
        // SAFETY: writable and C-contiguous (checked in `new`), `start + len` bytes within
        // it, and held exported by `self`, which the output keeps until its last fill task
        // ends.
        unsafe {
            let ptr = (self.buffer.buf_ptr() as *mut u8).add(start);
            OutputBuffer::over(ptr, len, self)
        }
    }

    /// The buffer as a slice, for a fill that runs without the GIL (Python code must not
    /// use the buffer meanwhile, as for any `readinto`).
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        let len = self.len();
        if len == 0 {
            return &mut [];
        }
        // SAFETY: writable and C-contiguous (checked in `new`), `len` bytes from buf_ptr,
        // held exported by `self` for the borrow's life.
        unsafe { std::slice::from_raw_parts_mut(self.buffer.buf_ptr() as *mut u8, len) }
    }

    /// Copies `data` into the buffer at `at` (the GIL is held: no one else writes it).
    pub fn copy_in(&self, at: usize, data: &[u8]) {
        assert!(at + data.len() <= self.len(), "a copy outside the buffer");
        // SAFETY: writable, C-contiguous, and the range lies inside it (asserted).
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr(),
                (self.buffer.buf_ptr() as *mut u8).add(at),
                data.len(),
            );
        }
    }
}
