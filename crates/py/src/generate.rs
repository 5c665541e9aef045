//! Synthetic data for Python: a whole object as a zero-copy memoryview, generated into
//! the caller's buffer, or streamed chunk by chunk into buffers it reuses. The bytes for
//! a size, factors and seed are the same whichever way and on however many threads.

use std::hash::BuildHasher;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use s3dlio::datagen::{DataSpec, Generator, Threads, default_threads, total_cpus};

use crate::view::{Target, memoryview};

/// The chunk `Generator.fill_chunk` callers are advised to pass, as in the original.
const RECOMMENDED_CHUNK: usize = 32 << 20;

fn spec(dedup: u64, compress: u64, seed: u64) -> PyResult<DataSpec> {
    if dedup == 0 || compress == 0 {
        return Err(PyValueError::new_err("dedup and compress must be at least 1"));
    }
    Ok(DataSpec::default()
        .with_dedup(dedup)
        .with_compress(compress)
        .with_seed(seed))
}

/// A pool of `threads` generator threads (None: half the CPUs).
fn threads(threads: Option<usize>) -> PyResult<Threads> {
    let n = threads.unwrap_or_else(default_threads);
    Threads::new(n).map_err(|e| match n {
        0 => PyValueError::new_err(e),
        _ => PyRuntimeError::new_err(e),
    })
}

/// `size` bytes of synthetic data: `dedup` = 1 / fraction of unique 64 KiB blocks,
/// `compress` = the zstd ratio it reaches, `seed` for repeatable data. Returns a
/// read-only memoryview over the generated Rust buffer. Large sizes use every core.
#[pyfunction]
#[pyo3(signature = (size, dedup = 1, compress = 1, seed = 0))]
pub fn generate_data(py: Python<'_>, size: u64, dedup: u64, compress: u64, seed: u64) -> PyResult<Py<PyAny>> {
    let spec = spec(dedup, compress, seed)?;
    let data = py.detach(|| Generator::new(size, spec).generate());
    memoryview(py, data)
}

/// `generate_data` on `threads` threads (None: `py_default_data_gen_threads()`, half the
/// CPUs, leaving the rest to I/O).
#[pyfunction]
#[pyo3(signature = (size, dedup = 1, compress = 1, threads = None, *, seed = 0))]
pub fn generate_data_with_threads(
    py: Python<'_>,
    size: u64,
    dedup: u64,
    compress: u64,
    threads: Option<usize>,
    seed: u64,
) -> PyResult<Py<PyAny>> {
    let spec = spec(dedup, compress, seed)?;
    let pool = self::threads(threads)?;
    let data = py.detach(|| pool.run(|| Generator::new(size, spec).generate()));
    memoryview(py, data)
}

/// Fills the writable, C-contiguous `buffer` (bytearray, numpy array, memoryview) with
/// `len(buffer)` bytes of synthetic data, in place, without the GIL; returns the count.
#[pyfunction]
#[pyo3(signature = (buffer, dedup = 1, compress = 1, threads = None, *, seed = 0))]
pub fn generate_into_buffer(
    py: Python<'_>,
    buffer: Bound<'_, PyAny>,
    dedup: u64,
    compress: u64,
    threads: Option<usize>,
    seed: u64,
) -> PyResult<usize> {
    let spec = spec(dedup, compress, seed)?;
    let pool = self::threads(threads)?;
    let mut target = Target::new(&buffer)?;
    let out = target.as_mut_slice();
    let len = out.len();
    py.detach(|| pool.run(|| Generator::new(len as u64, spec).fill_at(0, out)));
    Ok(len)
}

/// Logical CPUs this process may run on.
#[pyfunction]
pub fn py_total_cpus() -> usize {
    total_cpus()
}

/// The generator threads used when `threads` is None: half the CPUs, at least one.
#[pyfunction]
pub fn py_default_data_gen_threads() -> usize {
    default_threads()
}

/// One synthetic object of `size` bytes, streamed: each `fill_chunk(buffer)` writes its
/// next bytes into a buffer the caller reuses. Without `seed`, a random one (so two
/// generators never store identical data a deduplicating store would merge).
#[pyclass(module = "s3dlio", name = "Generator")]
#[derive(Debug)]
pub struct PyGenerator {
    generator: Generator,
    pool: Threads,
    seed: u64,
    chunk_size: usize,
    position: u64,
}

#[pymethods]
impl PyGenerator {
    #[new]
    #[pyo3(signature = (size, dedup = 1, compress = 1, threads = None, chunk_size = None, seed = None))]
    fn new(
        size: u64,
        dedup: u64,
        compress: u64,
        threads: Option<usize>,
        chunk_size: Option<usize>,
        seed: Option<u64>,
    ) -> PyResult<Self> {
        let seed =
            seed.unwrap_or_else(|| std::hash::RandomState::new().hash_one(std::time::SystemTime::now()));
        let chunk_size = chunk_size.unwrap_or(RECOMMENDED_CHUNK);
        if chunk_size == 0 {
            return Err(PyValueError::new_err("chunk_size must be at least 1"));
        }
        Ok(PyGenerator {
            generator: Generator::new(size, spec(dedup, compress, seed)?),
            pool: self::threads(threads)?,
            seed,
            chunk_size,
            position: 0,
        })
    }

    /// The buffer size `fill_chunk` callers are advised to use.
    #[getter]
    fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    #[getter]
    fn size(&self) -> u64 {
        self.generator.size()
    }

    /// Bytes generated so far.
    #[getter]
    fn position(&self) -> u64 {
        self.position
    }

    /// The seed (the random one when none was given): another `Generator` with it makes
    /// the same bytes.
    #[getter]
    fn seed(&self) -> u64 {
        self.seed
    }

    /// Writes the next `min(len(buffer), remaining)` bytes into the start of `buffer`
    /// (writable, C-contiguous), without the GIL; returns the count, 0 once complete.
    fn fill_chunk(&mut self, py: Python<'_>, buffer: Bound<'_, PyAny>) -> PyResult<usize> {
        let mut target = Target::new(&buffer)?;
        let remaining = self.generator.size() - self.position;
        let n = (target.len() as u64).min(remaining) as usize;
        let out = &mut target.as_mut_slice()[..n];
        let (generator, pool, at) = (&self.generator, &self.pool, self.position);
        py.detach(|| pool.run(|| generator.fill_at(at, out)));
        self.position += n as u64;
        Ok(n)
    }

    fn is_complete(&self) -> bool {
        self.position == self.generator.size()
    }

    /// Starts again from the first byte (the same bytes again).
    fn reset(&mut self) {
        self.position = 0;
    }
}
