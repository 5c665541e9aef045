//! `open_reader`: an object as a readable, seekable file (`torch.load(reader)`), read in
//! ranges on demand with read-ahead, every range pinned to the version it opened.

use std::sync::Mutex;

use bytes::Bytes;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use s3dlio::{ObjectHint, ObjectStoreExt, ReadOptions};

use crate::runtime::block;
use crate::twins::store;
use crate::view::Target;

#[derive(Debug)]
struct State {
    pos: u64,
    /// The last range fetched and where it starts.
    window: Bytes,
    window_at: u64,
    closed: bool,
}

/// An object opened for reading. Reads of up to `read_ahead` bytes are served from one
/// ranged request of `read_ahead` bytes (the window); larger `readinto` calls go straight
/// into the caller's buffer through the read path (concurrent ranged requests). Every
/// request is pinned to the version seen at open: if the object is replaced, a read
/// raises instead of mixing versions.
#[pyclass(module = "s3dlio", name = "ObjectReader")]
#[derive(Debug)]
pub struct Reader {
    uri: String,
    hint: ObjectHint,
    read_ahead: u64,
    state: Mutex<State>,
}

impl Reader {
    /// The state, or an error when another thread is in a call: waiting here with the GIL
    /// held could deadlock with that call, which needs the GIL to finish.
    fn state(&self) -> PyResult<std::sync::MutexGuard<'_, State>> {
        match self.state.try_lock() {
            Ok(st) => Ok(st),
            Err(std::sync::TryLockError::Poisoned(p)) => Ok(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => Err(PyRuntimeError::new_err(format!(
                "the reader of {} is in use by another thread; open one reader per thread",
                self.uri
            ))),
        }
    }

    fn opts(&self, offset: u64, length: u64) -> ReadOptions {
        ReadOptions::default()
            .with_range(offset, Some(length))
            .with_hint(Some(self.hint.clone()))
    }

    fn open_state(&self) -> PyResult<std::sync::MutexGuard<'_, State>> {
        let st = self.state()?;
        if st.closed {
            return Err(PyValueError::new_err(format!(
                "I/O operation on a closed reader ({})",
                self.uri
            )));
        }
        Ok(st)
    }

    /// What the window holds from `pos` on (empty when `pos` lies outside it).
    fn from_window(st: &State) -> Bytes {
        let end = st.window_at + st.window.len() as u64;
        if st.pos >= st.window_at && st.pos < end {
            st.window.slice((st.pos - st.window_at) as usize..)
        } else {
            Bytes::new()
        }
    }

    /// Makes the window the `read_ahead` bytes from `at` (fetched with the GIL released).
    fn refill(&self, py: Python<'_>, st: &mut State, at: u64) -> PyResult<()> {
        let len = self.read_ahead.min(self.hint.size - at);
        let (store, uri, opts) = (store(py, &self.uri)?, self.uri.clone(), self.opts(at, len));
        st.window = block(py, Box::pin(async move { store.read(&uri, opts).await }))?;
        st.window_at = at;
        Ok(())
    }
}

#[pymethods]
impl Reader {
    /// Reads into the writable `buffer`; returns the bytes read (0 at the end).
    fn readinto(&self, py: Python<'_>, buffer: Bound<'_, PyAny>) -> PyResult<usize> {
        let target = Target::new(&buffer)?;
        let mut st = self.open_state()?;
        let n = (target.len() as u64).min(self.hint.size.saturating_sub(st.pos)) as usize;
        let head = Self::from_window(&st);
        let mut got = head.len().min(n);
        target.copy_in(0, &head[..got]);
        let rest = n - got;
        if rest as u64 >= self.read_ahead {
            let (store, uri) = (store(py, &self.uri)?, self.uri.clone());
            let opts = self.opts(st.pos + got as u64, rest as u64);
            let out = target.into_output_at(got, rest);
            block(
                py,
                Box::pin(async move { store.read_into(&uri, opts, out).await }),
            )?;
            got = n;
        } else if rest > 0 {
            let at = st.pos + got as u64;
            self.refill(py, &mut st, at)?;
            target.copy_in(got, &st.window[..rest]);
            got = n;
        }
        st.pos += got as u64;
        Ok(got)
    }

    /// Up to `size` bytes (all that is left when `size` is negative or None) as `bytes`.
    #[pyo3(signature = (size = -1), text_signature = "($self, size=-1)")]
    fn read<'py>(&self, py: Python<'py>, size: Option<i64>) -> PyResult<Bound<'py, PyBytes>> {
        let mut st = self.open_state()?;
        let left = self.hint.size.saturating_sub(st.pos);
        let n = match size {
            Some(k) if k >= 0 => (k as u64).min(left),
            _ => left,
        };
        let head = Self::from_window(&st);
        let data = if head.len() as u64 >= n {
            head.slice(..n as usize)
        } else if n >= self.read_ahead {
            let (store, uri, opts) = (store(py, &self.uri)?, self.uri.clone(), self.opts(st.pos, n));
            block(py, Box::pin(async move { store.read(&uri, opts).await }))?
        } else {
            let mut out = head.to_vec();
            let at = st.pos + head.len() as u64;
            self.refill(py, &mut st, at)?;
            out.extend_from_slice(&st.window[..n as usize - head.len()]);
            Bytes::from(out)
        };
        st.pos += n;
        Ok(PyBytes::new(py, &data))
    }

    /// Up to and including the next `\n` (at most `size` bytes when given), from the
    /// window (pickle reads its text lines this way).
    #[pyo3(signature = (size = -1), text_signature = "($self, size=-1)")]
    fn readline<'py>(&self, py: Python<'py>, size: Option<i64>) -> PyResult<Bound<'py, PyBytes>> {
        let mut st = self.open_state()?;
        let limit = size.filter(|&k| k >= 0).map_or(u64::MAX, |k| k as u64);
        let mut line = Vec::new();
        while (line.len() as u64) < limit && st.pos < self.hint.size {
            let mut head = Self::from_window(&st);
            if head.is_empty() {
                let at = st.pos;
                self.refill(py, &mut st, at)?;
                head = st.window.clone();
            }
            let room = (limit - line.len() as u64).min(head.len() as u64) as usize;
            let take = head[..room]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(room, |i| i + 1);
            line.extend_from_slice(&head[..take]);
            st.pos += take as u64;
            if line.last() == Some(&b'\n') {
                break;
            }
        }
        Ok(PyBytes::new(py, &line))
    }

    /// Everything from the position on.
    fn readall<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self.read(py, None)
    }

    /// Moves the position (`whence`: 0 from the start, 1 from here, 2 from the end);
    /// returns it. Past the end is allowed (reads there return nothing).
    #[pyo3(signature = (offset, whence = 0))]
    fn seek(&self, offset: i64, whence: i32) -> PyResult<u64> {
        let mut st = self.open_state()?;
        let base = match whence {
            0 => 0,
            1 => st.pos as i64,
            2 => self.hint.size as i64,
            w => return Err(PyValueError::new_err(format!("whence {w}: use 0, 1 or 2"))),
        };
        let pos = base + offset;
        if pos < 0 {
            return Err(PyValueError::new_err(format!("negative seek position {pos}")));
        }
        st.pos = pos as u64;
        Ok(st.pos)
    }

    fn tell(&self) -> PyResult<u64> {
        Ok(self.open_state()?.pos)
    }

    /// The object's size when it was opened.
    #[getter]
    fn size(&self) -> u64 {
        self.hint.size
    }

    #[getter]
    fn uri(&self) -> &str {
        &self.uri
    }

    fn readable(&self) -> bool {
        true
    }

    fn seekable(&self) -> bool {
        true
    }

    fn writable(&self) -> bool {
        false
    }

    /// Drops the window; later reads raise.
    fn close(&self) -> PyResult<()> {
        let mut st = self.state()?;
        st.closed = true;
        st.window = Bytes::new();
        Ok(())
    }

    #[getter]
    fn closed(&self) -> PyResult<bool> {
        Ok(self.state()?.closed)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        _exc_type: Option<Bound<'_, PyAny>>,
        _exc: Option<Bound<'_, PyAny>>,
        _tb: Option<Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        self.close()?;
        Ok(false)
    }
}

/// Opens `uri` for reading as a seekable file: one `stat` learns its size and version,
/// then reads fetch ranges of at least `read_ahead` bytes (default 8 MiB), pinned to that
/// version.
#[pyfunction]
#[pyo3(signature = (uri, read_ahead = 8_388_608))]
pub fn open_reader(py: Python<'_>, uri: String, read_ahead: u64) -> PyResult<Reader> {
    if read_ahead == 0 {
        return Err(PyValueError::new_err("read_ahead must be at least 1 byte"));
    }
    let (store, target) = (store(py, &uri)?, uri.clone());
    let meta = block(py, Box::pin(async move { store.stat(&target).await }))?;
    if meta.size > 0 && meta.e_tag.is_none() {
        // Without a version nothing could pin the ranges to one object.
        return Err(PyRuntimeError::new_err(format!(
            "{uri} has no version tag, so a reader cannot keep its ranges to one version; read it whole with s3dlio.get"
        )));
    }
    Ok(Reader {
        hint: ObjectHint::from(&meta),
        uri,
        read_ahead,
        state: Mutex::new(State {
            pos: 0,
            window: Bytes::new(),
            window_at: 0,
            closed: false,
        }),
    })
}
