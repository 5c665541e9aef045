//! Results of `_async` calls handed to their event loop without the GIL.
//!
//! A finished operation used to take the GIL on a Tokio worker to call
//! `loop.call_soon_threadsafe`: while the loop's thread ran Python, that worker blocked
//! (up to the interpreter's 5 ms switch interval) and every other request on it stalled.
//! Now the worker pushes the outcome into the loop's [`Inbox`] and writes one byte to a
//! pipe the loop watches (`loop.add_reader`); the loop's thread, which holds the GIL
//! anyway, converts and delivers everything queued in one go. Test:
//! `test_async_results_reach_their_own_loop_on_every_loop_and_thread`; speed: `cargo xtask bench peers`
//! (PUT rows, which run `put_bytes_async`).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex, PoisonError};

use pyo3::prelude::*;

/// Makes the outcome's Python value; runs on the loop's thread.
pub type Outcome = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

struct Delivery {
    future: Py<PyAny>,
    outcome: Outcome,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("future", &self.future)
            .finish_non_exhaustive()
    }
}

/// The queue and wake-up pipe of one event loop.
#[derive(Debug)]
pub struct Queue {
    pending: Mutex<Vec<Delivery>>,
    read: OwnedFd,
    write: OwnedFd,
}

impl Queue {
    /// Queues `outcome` for `future`; no GIL needed. The first delivery into an empty
    /// queue wakes the loop; later ones ride along with it.
    pub fn push(&self, future: Py<PyAny>, outcome: Outcome) {
        let wake = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            pending.push(Delivery { future, outcome });
            pending.len() == 1
        };
        if wake {
            // A full pipe already holds a wake-up, so a failed write loses nothing.
            // SAFETY: writes one byte from a live buffer to a descriptor this queue owns.
            let _ = unsafe { libc::write(self.write.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
        }
    }
}

/// The Python side of a [`Queue`]: `loop.add_reader(fd, inbox)` calls it.
#[pyclass(module = "s3dlio")]
#[derive(Debug)]
pub struct Inbox {
    queue: Arc<Queue>,
}

#[pymethods]
impl Inbox {
    fn __call__(&self, py: Python<'_>) -> PyResult<()> {
        let mut buf = [0u8; 256];
        // SAFETY: reads into a live buffer of its length from a descriptor this queue owns.
        while unsafe { libc::read(self.queue.read.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
        let batch = std::mem::take(&mut *self.queue.pending.lock().unwrap_or_else(PoisonError::into_inner));
        for Delivery { future, outcome } in batch {
            let future = future.bind(py);
            // Cancelled while its result was on the way.
            if future.call_method0("done")?.is_truthy()? {
                continue;
            }
            match outcome(py) {
                Ok(value) => future.call_method1("set_result", (value,))?,
                Err(e) => future.call_method1("set_exception", (e.into_value(py),))?,
            };
        }
        Ok(())
    }
}

/// The queue of `event_loop`, made and registered on first use. The registry maps each
/// loop weakly to its inbox, so a loop that is dropped takes its inbox (and pipe) along.
pub fn queue_for(py: Python<'_>, event_loop: &Bound<'_, PyAny>) -> PyResult<Arc<Queue>> {
    static REGISTRY: pyo3::sync::PyOnceLock<Py<PyAny>> = pyo3::sync::PyOnceLock::new();
    let registry = REGISTRY
        .get_or_try_init(py, || {
            py.import("weakref")?
                .call_method0("WeakKeyDictionary")
                .map(Bound::unbind)
        })?
        .bind(py);
    if let Some(inbox) = registry
        .call_method1("get", (event_loop,))?
        .extract::<Option<Bound<'_, Inbox>>>()?
    {
        return Ok(inbox.borrow().queue.clone());
    }
    let (read, write) = pipe().map_err(|e| {
        pyo3::exceptions::PyOSError::new_err(format!("s3dlio: cannot make a wake-up pipe: {e}"))
    })?;
    let fd = read.as_raw_fd();
    let queue = Arc::new(Queue {
        pending: Mutex::default(),
        read,
        write,
    });
    let inbox = Bound::new(py, Inbox { queue: queue.clone() })?;
    event_loop.call_method1("add_reader", (fd, &inbox))?;
    registry.set_item(event_loop, &inbox)?;
    Ok(queue)
}

/// A non-blocking, close-on-exec pipe: (read end, write end).
fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `pipe2` fills the two-element array it is given.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just opened and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}
