//! `s3dlio-faultproxy`: an HTTP proxy on loopback that breaks requests on purpose, for
//! the reliability suite (issue 17). It sits between a client and a real test server
//! (the memory S3 server, Azurite, the GCS emulator) and, per [`Rule`], adds latency,
//! caps bandwidth, cuts or stalls a response mid-body, answers 503/500 bursts or any
//! status for a chosen request (the commit of a multipart upload), never answers,
//! drops a request mid-upload, or flips a bit of an upload's body; [`Proxy::set_down`]
//! plays a killed server. Every wait ends when the proxy stops, and at the latest after
//! ten minutes.
//!
//! ```no_run
//! # async fn demo(server: std::net::SocketAddr) -> std::io::Result<()> {
//! use s3dlio_faultproxy::{Fault, Proxy, Rule};
//!
//! let proxy = Proxy::start(server).await?;
//! // The first GET is cut after 64 KiB; everything else passes.
//! proxy.add(Rule::new(Fault::ResetAfter(64 << 10)).method(http::Method::GET).times(1));
//! println!("point the client at {}", proxy.endpoint());
//! proxy.stop();
//! # Ok(())
//! # }
//! ```

mod body;
mod rule;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use body::{Body, Error};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use rule::{Fault, Rule};

/// One request the proxy saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    /// Path and query.
    pub target: String,
    /// The `Range` and `If-Match` headers, as sent.
    pub range: Option<String>,
    pub if_match: Option<String>,
    /// `x-amz-content-sha256`: the body's SHA-256 in hex, or `UNSIGNED-PAYLOAD`.
    pub payload_hash: Option<String>,
    /// `x-amz-checksum-crc32c`, as sent.
    pub crc32c: Option<String>,
    /// The request body's length, from its `Content-Length`.
    pub body_len: Option<u64>,
    /// The fault applied to it (`"reset"`, `"status"`, …), if any.
    pub fault: Option<&'static str>,
}

#[derive(Debug, Default)]
struct State {
    rules: Vec<Rule>,
    seen: Vec<Seen>,
}

#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    client: Client<HttpConnector, Body>,
    state: Mutex<State>,
    /// `true` while playing a killed server.
    down: watch::Sender<bool>,
    stopped: watch::Sender<bool>,
    /// Requests being answered now, and the most at once since the start or the last
    /// [`Proxy::clear`].
    in_flight: AtomicU64,
    peak: AtomicU64,
}

/// A running proxy on the current Tokio runtime.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream,
            client: Client::builder(TokioExecutor::new()).build_http(),
            state: Mutex::default(),
            down: watch::channel(false).0,
            stopped: watch::channel(false).0,
            in_flight: AtomicU64::new(0),
            peak: AtomicU64::new(0),
        });
        let task = tokio::spawn(accept(listener, shared.clone()));
        Ok(Proxy { addr, shared, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Adds a rule; the first rule that takes a request decides its fault.
    pub fn add(&self, rule: Rule) {
        self.shared.with(|s| s.rules.push(rule));
    }

    /// Removes every rule and forgets the requests seen and the peak in flight.
    pub fn clear(&self) {
        self.shared.with(|s| {
            s.rules.clear();
            s.seen.clear();
        });
        self.shared.peak.store(0, Ordering::Relaxed);
    }

    /// The most requests in flight at once (from arrival to the answer's head) since the
    /// start or the last [`Proxy::clear`]: what a client's concurrency limit allows.
    pub fn peak_in_flight(&self) -> u64 {
        self.shared.peak.load(Ordering::Relaxed)
    }

    /// Every request seen since the start or the last [`Proxy::clear`], in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.with(|s| s.seen.clone())
    }

    /// `true`: cuts every open connection and refuses new ones, as a killed server
    /// would; `false`: serves again (the server behind kept its state).
    pub fn set_down(&self, down: bool) {
        self.shared.down.send_replace(down);
    }

    /// Stops listening and ends every connection and wait.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stopped.send_replace(true);
        self.task.abort();
    }
}

impl Shared {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The fault for `req` (the first rule that takes it), recorded with it.
    fn fault_for<B>(&self, req: &http::Request<B>) -> Option<Fault> {
        let header = |name| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(String::from)
        };
        self.with(|s| {
            let fault = s
                .rules
                .iter_mut()
                .find_map(|r| r.take(req).then(|| r.fault.clone()));
            s.seen.push(Seen {
                method: req.method().to_string(),
                target: req.uri().path_and_query().map_or("/".into(), |p| p.to_string()),
                range: header(http::header::RANGE),
                if_match: header(http::header::IF_MATCH),
                payload_hash: header(http::header::HeaderName::from_static("x-amz-content-sha256")),
                crc32c: header(http::header::HeaderName::from_static("x-amz-checksum-crc32c")),
                body_len: header(http::header::CONTENT_LENGTH).and_then(|l| l.parse().ok()),
                fault: fault.as_ref().map(Fault::name),
            });
            fault
        })
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    let mut stopped = shared.stopped.subscribe();
    loop {
        let socket = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => socket,
                Err(_) => continue,
            },
            _ = stopped.wait_for(|s| *s) => return,
        };
        let mut down = shared.down.subscribe();
        if *down.borrow_and_update() {
            continue; // dropped: the client sees its connection closed
        }
        let _ = socket.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn({
                let shared = shared.clone();
                move |req| serve(shared.clone(), req)
            });
            let conn =
                hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(socket), service);
            let mut stopped = shared.stopped.subscribe();
            // Dropping the connection closes the socket mid-whatever it was doing.
            tokio::select! {
                _ = conn => {}
                _ = down.wait_for(|d| *d) => {}
                _ = stopped.wait_for(|s| *s) => {}
            }
        });
    }
}

/// Counts one request in flight until dropped.
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn new(shared: &'a Shared) -> Self {
        let now = shared.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        shared.peak.fetch_max(now, Ordering::Relaxed);
        InFlight(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn serve(shared: Arc<Shared>, req: http::Request<Incoming>) -> Result<http::Response<Body>, Error> {
    let _counted = InFlight::new(&shared);
    let fault = shared.fault_for(&req);
    let stopped = shared.stopped.subscribe();
    match fault {
        Some(Fault::Latency(d)) => tokio::time::sleep(d).await,
        Some(Fault::Status(code)) => return Ok(status(code)),
        Some(Fault::NoAnswer) => {
            body::until_stopped(stopped).await;
            return Err("the fault proxy never answered".into());
        }
        Some(Fault::DropRequestAfter(limit)) => {
            let mut body = req.into_body();
            let mut read = 0u64;
            while read < limit {
                match body.frame().await {
                    Some(Ok(frame)) => read += frame.data_ref().map_or(0, |d| d.len() as u64),
                    _ => break,
                }
            }
            return Err("the fault proxy dropped the request".into());
        }
        _ => {}
    }
    let (mut parts, body) = req.into_parts();
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = format!("http://{}{target}", shared.upstream).parse()?;
    let body = match fault {
        Some(Fault::CorruptRequest) => {
            let mut data = body.collect().await?.to_bytes().to_vec();
            if let Some(first) = data.first_mut() {
                *first ^= 1;
            }
            body::full(data)
        }
        _ => body.map_err(Error::from).boxed(),
    };
    let resp = shared
        .client
        .request(http::Request::from_parts(parts, body))
        .await?;
    Ok(resp.map(|b| body::faulty(b, fault, stopped)))
}

/// An answer of `code` with an S3-style error body.
fn status(code: u16) -> http::Response<Body> {
    let kind = match code {
        503 => "SlowDown",
        500 => "InternalError",
        _ => "InjectedFault",
    };
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{kind}</Code><Message>injected by the fault proxy</Message></Error>"
    );
    let mut resp = http::Response::new(body::full(Bytes::from(xml)));
    *resp.status_mut() = http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/xml"),
    );
    resp
}
