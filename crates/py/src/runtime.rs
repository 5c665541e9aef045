//! The one Tokio runtime behind every call, renewed after `fork()`, and the two ways
//! Python waits on it: blocking (GIL released, Ctrl-C honoured) and `await`.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use pyo3::prelude::*;
use s3dlio::env::EnvReader;
use s3dlio::oplog::OpLog;
use s3dlio::{StoreCache, StoreOptions};
use tokio::runtime::Runtime;
use tokio::task::AbortHandle;

use crate::errors::{internal, to_py};

/// Worker threads of the runtime (default: one per core).
pub const ENV_RUNTIME_THREADS: &str = "S3DLIO_RUNTIME_THREADS";
/// The original's name for it, read when ours is unset (DLIO's object-store storage sets
/// it per rank before the first call).
const ENV_RT_THREADS_ORIGINAL: &str = "S3DLIO_RT_THREADS";

/// How often a blocking call wakes to let Python see Ctrl-C.
const SIGNAL_POLL: Duration = Duration::from_millis(100);

/// After Ctrl-C, how long the interrupted call waits for the cleanups its dropped writers
/// started (temporary files removed, multipart uploads aborted): a script that exits on
/// `KeyboardInterrupt` would otherwise end them half-way. The same grace as `s3-cli`.
const CLEANUP_GRACE: Duration = Duration::from_millis(300);

/// A runtime and the stores whose connections live on it, owned by one process.
pub struct Generation {
    pid: u32,
    pub runtime: Runtime,
    pub stores: Arc<StoreCache>,
}

static CURRENT: Mutex<Option<Arc<Generation>>> = Mutex::new(None);

/// The options `s3dlio.configure` made; `None`: the environment's, read as each store is
/// made.
static OPTIONS: Mutex<Option<StoreOptions>> = Mutex::new(None);

/// Calls, awaitables and loader epochs that use the runtime right now.
static BUSY: AtomicUsize = AtomicUsize::new(0);

/// Marks the runtime in use while it lives (see [`before_fork`]).
#[derive(Debug)]
pub struct Busy(());

impl Busy {
    pub fn new() -> Self {
        BUSY.fetch_add(1, Ordering::SeqCst);
        Busy(())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        BUSY.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs just before `os.fork()` (registered by the package): an idle runtime is shut
/// down, its threads joined, so the child inherits no runtime thread and no connection
/// of the parent's. Parent and child each start a new runtime on their next call. A
/// runtime in use (a call in another thread, an unfinished loader epoch) is left running:
/// stopping it would break that work. The child is safe then too because Tokio is built
/// without parking_lot, whose process-wide table of parked threads a child could inherit
/// locked (decision 024).
pub fn before_fork(py: Python<'_>) {
    if BUSY.load(Ordering::SeqCst) != 0 {
        return;
    }
    shut_down(py);
}

/// Runs at interpreter exit (`atexit`, registered by the package): the runtime's threads
/// end while the interpreter is whole, so none is still running (an idle connection, a
/// timer) while the process tears down. Without it, about half the runs of a script
/// that made 2000 `put_bytes_async` calls to S3 died of SIGABRT after finishing its work
/// (`cargo xtask bench peers`; test `test_a_script_exits_cleanly_after_many_async_puts`).
/// Work still running in other threads ends with the process anyway.
pub fn at_exit(py: Python<'_>) {
    // An op-log never finalized is closed (its zstd frame ended), so the file reads.
    if let Err(e) = crate::oplog::finalize_op_log(py) {
        e.print(py);
    }
    shut_down(py);
}

/// Stops this process's runtime, if any, after dropping its stores inside it; the next
/// call starts a new one.
fn shut_down(py: Python<'_>) {
    let mut slot = CURRENT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let Some(generation) = slot.take() else { return };
    match Arc::try_unwrap(generation) {
        Ok(Generation { runtime, stores, pid }) if pid == std::process::id() => {
            // Clients first, inside the runtime their connections were made on.
            let entered = runtime.enter();
            drop(stores);
            drop(entered);
            drop(slot);
            // Without the GIL: a worker finishing an awaitable may need it to end.
            py.detach(|| runtime.shutdown_timeout(FORK_SHUTDOWN));
        }
        Ok(other) => std::mem::forget(other),
        Err(shared) => *slot = Some(shared),
    }
}

/// The longest `before_fork` waits for an idle runtime's threads to end.
const FORK_SHUTDOWN: Duration = Duration::from_secs(2);

/// This process's runtime and stores. A forked child finds its parent's generation, whose
/// worker threads did not survive the fork and whose connections belong to the parent,
/// so it starts a new one.
///
/// Callers hold the GIL (the `py` token). `os.fork()` holds it too, so no thread is inside
/// this function when a process forks and the child never inherits the lock held.
pub fn current(_py: Python<'_>) -> PyResult<Arc<Generation>> {
    let pid = std::process::id();
    let mut slot = CURRENT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(generation) = slot.as_ref().filter(|g| g.pid == pid) {
        return Ok(generation.clone());
    }
    if let Some(parents) = slot.take() {
        // Dropping the parent's runtime would wait for threads that do not exist here.
        std::mem::forget(parents);
    }
    // `configure(runtime_threads=...)` stands in front of the variable, as every knob does.
    let vars = configured().and_then(|o| o.vars);
    let env = EnvReader::new(|k: &str| {
        vars.as_ref()
            .and_then(|v| v.get(k).cloned())
            .or_else(|| std::env::var(k).ok())
    });
    let threads = match env.positive(ENV_RUNTIME_THREADS) {
        Ok(None) => env.positive(ENV_RT_THREADS_ORIGINAL),
        set => set,
    }
    .map_err(|e| to_py(_py, e))?;
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().thread_name("s3dlio-rt");
    if let Some(n) = threads {
        builder.worker_threads(n as usize);
    }
    let runtime = builder
        .build()
        .map_err(|e| internal(format!("starting the s3dlio runtime failed: {e}")))?;
    let generation = Arc::new(Generation {
        pid,
        runtime,
        stores: Arc::new(store_cache(_py, pid)?),
    });
    *slot = Some(generation.clone());
    Ok(generation)
}

/// The stores of a new generation: made with [`store_options`], or, when neither
/// `s3dlio.configure` nor an op-log set any, with the environment's options read as each
/// store is made.
fn store_cache(py: Python<'_>, pid: u32) -> PyResult<StoreCache> {
    Ok(match (configured(), active_log(pid)) {
        (None, None) => StoreCache::new(),
        _ => StoreCache::with_options(store_options(py)?),
    })
}

/// The options every store of this process is made with: `s3dlio.configure`'s (else the
/// environment's), recording into the op-log this process started, if one is active. A
/// forked child records nothing: the log's writer thread is its parent's.
pub fn store_options(py: Python<'_>) -> PyResult<StoreOptions> {
    let options = match configured() {
        Some(o) => o,
        None => StoreOptions::from_env().map_err(|e| to_py(py, e))?,
    };
    Ok(match active_log(std::process::id()) {
        Some(log) => options.with_op_log(log),
        None => options,
    })
}

fn configured() -> Option<StoreOptions> {
    OPTIONS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

fn active_log(pid: u32) -> Option<Arc<OpLog>> {
    OP_LOG
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
        .filter(|(owner, log)| *owner == pid && log.is_active())
        .map(|(_, log)| log)
}

/// The op-log this process started last (active or finished), with its process id.
static OP_LOG: Mutex<Option<(u32, Arc<OpLog>)>> = Mutex::new(None);

/// The op-log this process started last, if any.
pub fn op_log() -> Option<Arc<OpLog>> {
    OP_LOG
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
        .filter(|(owner, _)| *owner == std::process::id())
        .map(|(_, log)| log)
}

/// Records every operation from now on into `log`; the stores are rebuilt around it.
pub fn set_op_log(py: Python<'_>, log: Arc<OpLog>) -> PyResult<()> {
    *OP_LOG.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((std::process::id(), log));
    reset_stores(py)
}

/// Makes every store from now on with `options` (`s3dlio.configure`); calls already
/// running finish with the stores they have.
pub fn set_options(py: Python<'_>, options: StoreOptions) -> PyResult<()> {
    *OPTIONS.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(options);
    reset_stores(py)
}

/// Drops every cached store, so the next call builds stores anew.
pub fn reset_stores(py: Python<'_>) -> PyResult<()> {
    let old = CURRENT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .take();
    // Calls still running hold the old generation; it ends when the last of them does.
    drop(old);
    current(py).map(drop)
}

/// A future the wheel runs: an operation on the stores, with the stores it was given.
pub type Op<T> = std::pin::Pin<Box<dyn Future<Output = s3dlio::Result<T>> + Send>>;

/// Runs `op` to completion with the GIL released. Every [`SIGNAL_POLL`] it takes the GIL
/// back to run Python's signal handlers: on Ctrl-C the operation is dropped (writers
/// cancel their uploads) and `KeyboardInterrupt` propagates.
pub fn block<T: Send + 'static>(py: Python<'_>, op: Op<T>) -> PyResult<T> {
    let _busy = Busy::new();
    let generation = current(py)?;
    let runtime = &generation.runtime;
    let mut op = op;
    loop {
        // This thread only waits for `op`: its short blocking steps (a small file read)
        // run here rather than on the blocking pool.
        let outcome = py.detach(|| {
            s3dlio::as_waiting_caller(|| {
                runtime.block_on(async { tokio::time::timeout(SIGNAL_POLL, &mut op).await.ok() })
            })
        });
        match outcome {
            Some(result) => return result.map_err(|e| to_py(py, e)),
            None => {
                if let Err(interrupt) = py.check_signals() {
                    // Inside the runtime: writers' drop handlers spawn their cleanup.
                    let entered = runtime.enter();
                    drop(op);
                    drop(entered);
                    py.detach(|| runtime.block_on(async { tokio::time::sleep(CLEANUP_GRACE).await }));
                    return Err(interrupt);
                }
            }
        }
    }
}

/// Converts an operation's result into a Python object, with the GIL held.
pub type Convert<T> = fn(Python<'_>, T) -> PyResult<Py<PyAny>>;

/// An awaitable of `convert(op's result)`. Like a coroutine, nothing runs until it is
/// awaited; then `op` starts on the runtime and completes an `asyncio.Future` of the
/// running loop. Cancelling that future aborts the operation.
pub fn awaitable<'py, T: Send + 'static>(
    py: Python<'py>,
    op: Op<T>,
    convert: Convert<T>,
) -> PyResult<Bound<'py, PyAny>> {
    let start: Start = Box::new(move |py| start(py, op, convert).map(Bound::unbind));
    Ok(Bound::new(
        py,
        Pending {
            start: Mutex::new(Some(start)),
        },
    )?
    .into_any())
}

type Start = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// What an `_async` function returns: awaiting it starts the operation.
#[pyclass(module = "s3dlio")]
struct Pending {
    start: Mutex<Option<Start>>,
}

#[pymethods]
impl Pending {
    fn __await__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let start = self.start.lock().unwrap_or_else(|p| p.into_inner()).take();
        let start = start.ok_or_else(|| internal("this s3dlio awaitable was already awaited".into()))?;
        start(py)?.bind(py).call_method0("__await__")
    }
}

fn start<'py, T: Send + 'static>(
    py: Python<'py>,
    op: Op<T>,
    convert: Convert<T>,
) -> PyResult<Bound<'py, PyAny>> {
    let generation = current(py)?;
    let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
    let future = event_loop.call_method0("create_future")?;
    let inbox = crate::inbox::queue_for(py, &event_loop)?;
    let target = future.clone().unbind();
    let busy = Busy::new();
    let task = generation.runtime.spawn(async move {
        let _busy = busy;
        let result = AssertUnwindSafe(op).catch_unwind().await;
        // No GIL here: the loop's thread converts and delivers (see `inbox`).
        inbox.push(
            target,
            Box::new(move |py| match result {
                Ok(Ok(value)) => convert(py, value),
                Ok(Err(e)) => Err(to_py(py, e)),
                Err(_) => Err(internal(
                    "an s3dlio task panicked; please report this as a bug".into(),
                )),
            }),
        );
    });
    future.call_method1(
        "add_done_callback",
        (AbortOnCancel {
            task: task.abort_handle(),
        },),
    )?;
    Ok(future)
}

/// Aborts the Rust task when its asyncio future is cancelled.
#[pyclass]
struct AbortOnCancel {
    task: AbortHandle,
}

#[pymethods]
impl AbortOnCancel {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0("cancelled")?.is_truthy()? {
            self.task.abort();
        }
        Ok(())
    }
}
