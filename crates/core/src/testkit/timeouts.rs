//! Helpers for the timeout knobs' tests: an endpoint nobody can connect to, and the check
//! that a timeout set to two values ends a hung step after each of them.

use std::future::Future;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::{Error, ObjectStore, ObjectStoreExt};

/// A loopback listener whose accept queue is full, so the kernel drops every further SYN:
/// a client's connect waits until its own connect timeout ends it. Dropping it frees the
/// port.
#[derive(Debug)]
pub struct Unconnectable {
    _listener: TcpListener,
    _queued: Vec<TcpStream>,
    addr: SocketAddr,
}

impl Unconnectable {
    pub fn new() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        // Listening again on a listening socket sets its backlog; with 0 one queued
        // connection fills it (std always asks for 128).
        // SAFETY: a valid socket fd and a plain integer.
        assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
        let addr = listener.local_addr().unwrap();
        let mut queued = Vec::new();
        loop {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(s) if queued.len() < 8 => queued.push(s),
                Ok(_) => panic!("the kernel kept accepting connections past a backlog of 0"),
                Err(_) => break,
            }
        }
        Unconnectable {
            _listener: listener,
            _queued: queued,
            addr,
        }
    }

    /// `http://127.0.0.1:port`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A backend's connect-timeout test: `store(limit, endpoint)` builds a store whose
    /// connect timeout is `limit` and whose endpoint is this one's. A GET and a HEAD of
    /// `uri` must each end after the limit (see [`timeout_ends_the_wait`]) with a
    /// retryable error that names `uri`.
    pub async fn connect_timeout_ends_the_wait<S, F>(&self, uri: &str, store: F)
    where
        S: ObjectStore,
        F: Fn(Duration, String) -> S,
    {
        let store = &store;
        let get = timeout_ends_the_wait("connect_timeout (GET)", |limit| async move {
            store(limit, self.endpoint()).get(uri).await.unwrap_err()
        })
        .await;
        let head = timeout_ends_the_wait("connect_timeout (HEAD)", |limit| async move {
            store(limit, self.endpoint()).stat(uri).await.unwrap_err()
        })
        .await;
        for err in get.into_iter().chain(head) {
            assert!(err.is_retryable() && err.to_string().contains(uri), "{err:?}");
        }
    }
}

impl Default for Unconnectable {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs `attempt` with a timeout of 400 ms and of 1.5 s, each against a step that never
/// ends by itself, and checks that each fails after at least its timeout and within a
/// second of it: the knob, not some other limit, ends the wait. Returns the two errors.
pub async fn timeout_ends_the_wait<F, Fut>(what: &str, mut attempt: F) -> Vec<Error>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Error>,
{
    let mut errors = Vec::new();
    for limit in [Duration::from_millis(400), Duration::from_millis(1500)] {
        let started = Instant::now();
        let err = attempt(limit).await;
        let took = started.elapsed();
        assert!(
            took >= limit && took < limit + Duration::from_secs(1),
            "{what} = {limit:?} ended the wait after {took:?}: {err}"
        );
        errors.push(err);
    }
    errors
}
