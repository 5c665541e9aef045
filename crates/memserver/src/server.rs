//! Serving [`MemS3`] over HTTP/1.1 and HTTP/2 on a TCP listener, and stopping it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::MemS3;

/// How the server answers.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `(access key, secret key)`: every request must be signed (SigV4) with this pair.
    /// `None` serves unsigned requests (for raw HTTP clients measuring the server's limit).
    pub credentials: Option<(String, String)>,
    /// Waited before each answer, to model a store across a network (zero: none).
    pub latency: Duration,
    /// Serve this store (another server's [`Server::store`]) instead of a new one: several
    /// servers over one store are the gateways of one cluster (its latency applies).
    pub share: Option<MemS3>,
    /// Requests this server works on at once; more wait (a gateway's capacity, so a
    /// benchmark can show what spreading over several gains). `None`: no limit.
    pub max_in_flight: Option<usize>,
}

/// A running server on the current Tokio runtime.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    s3: MemS3,
    connections: Arc<AtomicU64>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// `GET` this path for the number of S3 requests answered so far (plain text).
pub const REQUESTS_PATH: &str = "/_memserver/requests";

impl Server {
    /// Binds `addr` (port 0: any free port) and serves until [`Server::stop`].
    pub async fn start(addr: impl ToSocketAddrs, opts: Options) -> std::io::Result<Server> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let s3 = match opts.share {
            Some(store) => store.gateway(),
            None => MemS3::new(opts.latency),
        };
        let mut builder = S3ServiceBuilder::new(s3.clone());
        if let Some((key, secret)) = opts.credentials {
            builder.set_auth(SimpleAuth::from_single(key, secret));
        }
        let s3_service = builder.build();
        let counter = s3.clone();
        let capacity = opts
            .max_in_flight
            .map(|n| Arc::new(tokio::sync::Semaphore::new(n)));
        // One path outside S3's namespace (bucket names cannot start with `_`) answers
        // the request count, so an out-of-process benchmark can read it.
        let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            let (s3_service, counter, capacity) = (s3_service.clone(), counter.clone(), capacity.clone());
            async move {
                let _permit = match &capacity {
                    Some(c) => Some(
                        c.clone()
                            .acquire_owned()
                            .await
                            .expect("the semaphore is never closed"),
                    ),
                    None => None,
                };
                if req.uri().path() == REQUESTS_PATH {
                    return Ok(hyper::Response::new(s3s::Body::from(
                        counter.requests().to_string(),
                    )));
                }
                hyper::service::Service::call(&s3_service, req).await
            }
        });
        let (stop, mut stopped) = watch::channel(false);
        let connections = Arc::new(AtomicU64::new(0));
        let accepted_count = connections.clone();
        let task = tokio::spawn(async move {
            let http = Builder::new(TokioExecutor::new());
            loop {
                let socket = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((socket, _)) => {
                            accepted_count.fetch_add(1, Ordering::Relaxed);
                            socket
                        }
                        Err(e) => {
                            tracing::warn!("accepting a connection failed: {e}");
                            continue;
                        }
                    },
                    _ = stopped.changed() => break,
                };
                // Small responses leave at once rather than waiting on the peer's ACK.
                let _ = socket.set_nodelay(true);
                let conn = http
                    .serve_connection(TokioIo::new(socket), service.clone())
                    .into_owned();
                let mut stopped = stopped.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = conn => {}
                        _ = stopped.changed() => {}
                    }
                });
            }
        });
        Ok(Server {
            addr,
            s3,
            connections,
            stop,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, the endpoint clients use (path-style).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests this server answered so far (not its store's other gateways').
    pub fn requests(&self) -> u64 {
        self.s3.requests()
    }

    /// Connections accepted so far: how often clients did not reuse one.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// The most requests this server answered at once so far.
    pub fn peak_in_flight(&self) -> u64 {
        self.s3.peak_in_flight()
    }

    /// The store it serves: pass it as [`Options::share`] to start another gateway to it.
    pub fn store(&self) -> MemS3 {
        self.s3.clone()
    }

    /// Stops accepting and drops every open connection.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}
