//! Work moved off the async workers: file I/O, compression, data generation and large
//! copies run on Tokio's blocking pool, never on a worker thread (architecture rule 1);
//! and many futures run a bounded number at a time with their results in input order.

use std::cell::Cell;
use std::future::Future;

use std::task::Context;

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use crate::error::{Error, Operation, Result};

/// Runs `f` on Tokio's blocking pool. A task that panicked or was cancelled with its
/// runtime is [`Error::Backend`] naming `what` failed, with the `JoinError` as its source.
pub async fn run_blocking<T: Send + 'static>(
    op: Operation,
    uri: &str,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::Backend {
        op,
        uri: uri.to_string(),
        message: format!("{what} failed"),
        source: Some(Box::new(e)),
    })
}

thread_local! {
    static CALLER_WAITS: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` on this thread marked as a caller that does nothing but wait for `f`: a
/// synchronous call (a Python call with the GIL released) that drives its future here
/// with `block_on`. Short blocking work of that future ([`run_short_blocking`]) then runs
/// on this thread instead of handing off to the blocking pool and sleeping until it is
/// done: the two thread switches were most of a 4 KiB file read's cost (37k reads/s
/// from Python before, `cargo xtask bench peers`, file:// rows).
pub fn as_waiting_caller<R>(f: impl FnOnce() -> R) -> R {
    caller_waits(true, f)
}

fn caller_waits<R>(value: bool, f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            CALLER_WAITS.with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(CALLER_WAITS.with(|c| c.replace(value)));
    f()
}

/// Short blocking work (open a file and read a few MiB): on a waiting caller's thread
/// ([`as_waiting_caller`]) it runs in place; anywhere else (a runtime worker) on the
/// blocking pool, as [`run_blocking`].
pub async fn run_short_blocking<T: Send + 'static>(
    op: Operation,
    uri: &str,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    if CALLER_WAITS.with(Cell::get) {
        return Ok(f());
    }
    run_blocking(op, uri, what, f).await
}

/// Runs `futures` at most `limit` at a time and returns their outputs in input order, or
/// the first error. A finished future frees its slot at once, whatever its place: unlike
/// `buffered`, one slow early future does not hold the slots of the later ones that
/// already finished (with `buffered`, 32 reads in flight behind one slow response ran
/// as ~4 at a time: `cargo xtask bench frontends`). Memory is every output, which the
/// caller collects anyway.
pub async fn try_join_ordered<T, F>(futures: impl IntoIterator<Item = F>, limit: usize) -> Result<Vec<T>>
where
    F: Future<Output = Result<T>>,
{
    // A loop over `FuturesUnordered` rather than `buffer_unordered` with a closure: the
    // closure's lifetimes defeat the `Send` proof of `async_trait` callers.
    let mut waiting = futures.into_iter().enumerate();
    let mut running = FuturesUnordered::new();
    running.extend(waiting.by_ref().take(limit.max(1)).map(|(i, f)| indexed(i, f)));
    let mut slots: Vec<Option<T>> = Vec::new();
    // Futures that run side by side hand their blocking steps to the pool even on a
    // waiting caller's thread: in place, they would run one at a time (1000 × 64 KiB
    // file reads: 27k/s in place, 42k/s on the pool, 2 vCPU).
    while let Some(result) =
        std::future::poll_fn(|cx: &mut Context<'_>| caller_waits(false, || running.poll_next_unpin(cx))).await
    {
        let (i, t) = result?;
        if slots.len() <= i {
            slots.resize_with(i + 1, || None);
        }
        slots[i] = Some(t);
        running.extend(waiting.next().map(|(i, f)| indexed(i, f)));
    }
    Ok(slots.into_iter().flatten().collect())
}

async fn indexed<T>(i: usize, f: impl Future<Output = Result<T>>) -> Result<(usize, T)> {
    f.await.map(|t| (i, t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_blocking_work_runs_in_place_only_for_a_lone_waiting_caller() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let here = std::thread::current().id();
        let thread = || async {
            run_short_blocking(Operation::Get, "file:///x", "a test step", || {
                std::thread::current().id()
            })
            .await
        };
        assert_eq!(as_waiting_caller(|| rt.block_on(thread())).unwrap(), here);
        assert_ne!(rt.block_on(thread()).unwrap(), here, "not marked: the pool");
        let side_by_side =
            as_waiting_caller(|| rt.block_on(try_join_ordered([thread(), thread()], 2))).unwrap();
        assert!(
            side_by_side.iter().all(|id| *id != here),
            "concurrent steps: the pool"
        );
        assert_eq!(
            as_waiting_caller(|| rt.block_on(thread())).unwrap(),
            here,
            "the mark is restored"
        );
    }

    #[tokio::test]
    async fn a_slow_first_future_does_not_hold_the_later_slots() {
        // The first future finishes only after the last one has run: with two slots, that
        // needs the finished middle futures to free theirs (`buffered` would hang here).
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let mut tx = Some(tx);
        let mut rx = Some(rx);
        let futures: Vec<_> = (0..5)
            .map(|i| {
                let rx = if i == 0 { rx.take() } else { None };
                let tx = if i == 4 { tx.take() } else { None };
                async move {
                    if let Some(rx) = rx {
                        rx.await.expect("the last future signals");
                    }
                    if let Some(tx) = tx {
                        tx.send(()).expect("the first future waits");
                    }
                    Ok::<_, Error>(i * 10)
                }
            })
            .collect();
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), try_join_ordered(futures, 2))
            .await
            .expect("no head-of-line blocking")
            .unwrap();
        assert_eq!(got, vec![0, 10, 20, 30, 40], "outputs in input order");
    }

    #[tokio::test]
    async fn the_first_error_is_returned() {
        let futures = (0..4).map(|i| async move {
            if i == 2 {
                Err(Error::invalid_argument(Operation::Get, "memory://b/k2", "bad"))
            } else {
                Ok(i)
            }
        });
        let e = try_join_ordered(futures, 3).await.unwrap_err();
        assert!(e.to_string().contains("memory://b/k2"), "{e}");
    }

    #[tokio::test]
    async fn returns_the_value_and_names_a_panic() {
        assert_eq!(
            run_blocking(Operation::Get, "u", "adding", || 2 + 2)
                .await
                .unwrap(),
            4
        );
        let e = run_blocking(Operation::Put, "memory://b/k", "generating data", || -> () {
            panic!("boom")
        })
        .await
        .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("memory://b/k") && text.contains("generating data failed"),
            "{text}"
        );
        assert!(
            std::error::Error::source(&e).is_some(),
            "the JoinError is kept as the source"
        );
    }
}
