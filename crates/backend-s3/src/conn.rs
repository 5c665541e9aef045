//! The direct path's GETs on connections of their own (decision 028): hyper writes each
//! request and reads its response head, then a body of announced length is read off the
//! socket straight into the buffer the caller gets, or into its window of the caller's
//! buffer. hyper's pooled client hands a body over in frames out of its own read buffer,
//! which a read into one buffer must copy a second time.

use std::collections::HashMap;
use std::fmt;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes};
use http::header::{CONNECTION, HOST, HeaderValue};
use http::{Request, Response, Uri, Version};
use http_body_util::Full;
use hyper::body::{Body, Incoming};
use hyper::client::conn::http1;
use hyper_rustls::MaybeHttpsStream;
use hyper_util::rt::TokioIo;
use s3dlio_core::buffer::Placement;
use s3dlio_core::slab::BodyBuf;
use s3dlio_core::wire::{short_body, stalled};
use s3dlio_core::{Error, Operation, Result};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tower_service::Service;

use crate::https::Connector;

type Io = MaybeHttpsStream<TokioIo<TcpStream>>;
type Conn = http1::Connection<Io, Full<Bytes>>;
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long a connection may idle in the pool (as long as hyper's pooled client keeps one).
const IDLE_FOR: Duration = Duration::from_secs(90);

/// Idle connections by `scheme://authority`, most recently used last.
pub(crate) struct Connections {
    connector: Connector,
    idle: Mutex<HashMap<String, Vec<(Io, Instant)>>>,
    max_idle: usize,
}

impl fmt::Debug for Connections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connections")
            .field("max_idle", &self.max_idle)
            .finish_non_exhaustive()
    }
}

impl Connections {
    /// At most `max_idle` idle connections per host (`None`: no limit, as hyper's).
    pub(crate) fn new(connector: Connector, max_idle: Option<usize>) -> Self {
        Connections {
            connector,
            idle: Mutex::default(),
            max_idle: max_idle.unwrap_or(usize::MAX),
        }
    }

    /// The `Host` header `req` is signed and sent with: its URI's authority, as written.
    pub(crate) fn set_host<B>(req: &mut Request<B>) -> std::result::Result<(), BoxError> {
        let authority = req.uri().authority().ok_or("the URL has no host")?;
        let host = HeaderValue::from_str(authority.as_str())?;
        req.headers_mut().insert(HOST, host);
        Ok(())
    }

    /// Sends the signed `req` (absolute URL, `Host` set) on an idle connection to its host
    /// or a new one, and returns its response head with the connection its body is on. A
    /// reused connection that fails before an answer (the server closed it while it
    /// idled) is replaced by a new one, once: a GET may be sent again.
    pub(crate) async fn send(&self, req: Request<Full<Bytes>>) -> std::result::Result<Exchange, BoxError> {
        let url = req.uri().clone();
        let key = format!(
            "{}://{}",
            url.scheme_str().unwrap_or("http"),
            url.authority().ok_or("the URL has no host")?
        );
        let origin: Uri = url.path_and_query().map_or("/", |p| p.as_str()).parse()?;
        let (mut parts, body) = req.into_parts();
        parts.uri = origin;
        let mut from_pool = true;
        loop {
            let pooled = if from_pool { self.take(&key) } else { None };
            let reused = pooled.is_some();
            let io = match pooled {
                Some(io) => io,
                None => self.connector.clone().call(url.clone()).await?,
            };
            let (mut sender, mut conn) = http1::handshake(io).await?;
            let mut req = Request::new(body.clone());
            *req.method_mut() = parts.method.clone();
            *req.uri_mut() = parts.uri.clone();
            *req.headers_mut() = parts.headers.clone();
            match head(sender.send_request(req), &mut conn).await {
                Ok((resp, sound)) => {
                    return Ok(Exchange {
                        resp,
                        conn,
                        key,
                        sound,
                    });
                }
                Err(_) if reused => from_pool = false,
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn take(&self, key: &str) -> Option<Io> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.get_mut(key)?;
        list.retain(|(_, since)| since.elapsed() < IDLE_FOR);
        list.pop().map(|(io, _)| io)
    }

    fn put_back(&self, key: String, io: Io) {
        if self.max_idle == 0 {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.entry(key).or_default();
        if list.len() >= self.max_idle {
            list.remove(0);
        }
        list.push((io, Instant::now()));
    }
}

/// Drives `conn` until `answer` (the response head) arrives, and no further; with the
/// head, whether the connection is still sound (hyper may have failed on what followed
/// the answer, such as bytes past its body).
async fn head(
    answer: impl Future<Output = hyper::Result<Response<Incoming>>>,
    conn: &mut Conn,
) -> hyper::Result<(Response<Incoming>, bool)> {
    let mut answer = std::pin::pin!(answer);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(r) = answer.as_mut().poll(cx) {
            return Poll::Ready(r.map(|resp| (resp, true)));
        }
        match conn.poll_without_shutdown(cx) {
            Poll::Ready(Err(e)) => match answer.as_mut().poll(cx) {
                Poll::Ready(Ok(resp)) => Poll::Ready(Ok((resp, false))),
                _ => Poll::Ready(Err(e)),
            },
            // The connection ended without an answer: the request fails with why.
            Poll::Ready(Ok(())) | Poll::Pending => answer.as_mut().poll(cx).map_ok(|resp| (resp, true)),
        }
    })
    .await
}

/// Where a body goes: a buffer of its own, or a window of the caller's.
pub(crate) enum Sink<'a> {
    New,
    Place(&'a Placement),
}

/// A body being read: the one hyper read whole, a new buffer, or a caller's window.
enum Dest<'a> {
    Whole(Bytes),
    Buf(BodyBuf),
    Place(&'a Placement),
}

/// A response head, and the connection its body is still on.
pub(crate) struct Exchange {
    resp: Response<Incoming>,
    conn: Conn,
    key: String,
    /// Whether the connection may serve another request after this body.
    sound: bool,
}

impl Exchange {
    pub(crate) fn head(&self) -> &Response<Incoming> {
        &self.resp
    }

    /// The response with its body read through hyper (a refusal): the connection is
    /// driven on a task of its own to the body's end, then closed.
    pub(crate) fn into_response(self) -> Response<Incoming> {
        tokio::spawn(self.conn);
        self.resp
    }

    /// Reads the body's announced `len` bytes into `into` (the returned bytes are empty for
    /// a placement), then keeps the connection for the next request. Each wait for bytes
    /// is bounded by `idle`; a stall is [`Error::Timeout`], a failure or a body of
    /// another length [`Error::Transient`].
    pub(crate) async fn read(
        self,
        pool: &Connections,
        len: usize,
        into: Sink<'_>,
        (idle, op, uri): (Duration, Operation, &str),
    ) -> Result<Bytes> {
        let transient = |source: BoxError| Error::Transient {
            op,
            uri: uri.to_string(),
            source,
        };
        let keep = self.sound
            && self.resp.version() == Version::HTTP_11
            && !self
                .resp
                .headers()
                .get(CONNECTION)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        // What hyper has read past the head: frames it decoded, then bytes it holds.
        let mut pieces = decoded(self.resp.into_body()).map_err(|e| transient(e.into()))?;
        let parts = self.conn.into_parts();
        pieces.push(parts.read_buf);
        pieces.retain(|p| !p.is_empty());
        let held: usize = pieces.iter().map(Bytes::len).sum();
        if held > len {
            return Err(transient(
                format!("the body ran past its {len} announced bytes").into(),
            ));
        }
        let mut io = TokioIo::new(parts.io);
        // Where the body goes, after what hyper held: the rest is read into it in place.
        let mut dest = match into {
            // A body hyper read whole is handed over as it is.
            Sink::New if held == len && pieces.len() <= 1 => Dest::Whole(pieces.pop().unwrap_or_default()),
            Sink::New => {
                // Mapped before the bytes arrive (from a huge-page slab where it can be).
                let mut buf = BodyBuf::new(len);
                // Fits: `held <= len` is checked above.
                let fits = pieces.iter().all(|p| buf.extend_from_slice(p));
                debug_assert!(fits);
                Dest::Buf(buf)
            }
            Sink::Place(place) => {
                if len > place.len() {
                    return Err(Error::Backend {
                        op,
                        uri: uri.to_string(),
                        message: format!(
                            "the response announces {len} bytes for a window of {}",
                            place.len()
                        ),
                        source: None,
                    });
                }
                let mut off = 0;
                for p in &pieces {
                    place.write(off, p);
                    off += p.len();
                }
                Dest::Place(place)
            }
        };
        let mut at = held;
        while at < len {
            let read = async {
                match &mut dest {
                    Dest::Buf(buf) => io.read_buf(&mut buf.limit(len - at)).await,
                    Dest::Place(place) => place.read_from(at..len, &mut io).await,
                    Dest::Whole(_) => unreachable!("a body hyper read whole needs no more bytes"),
                }
            };
            match tokio::time::timeout(idle, read).await {
                Err(_) => return Err(stalled(op, uri, idle)),
                Ok(Err(e)) => return Err(transient(e.into())),
                Ok(Ok(0)) => return Err(short_body(op, uri, at, len)),
                Ok(Ok(n)) => at += n,
            }
        }
        let data = match dest {
            Dest::Whole(data) => data,
            Dest::Buf(buf) => buf.freeze(),
            Dest::Place(_) => Bytes::new(),
        };
        if keep {
            pool.put_back(self.key, io.into_inner());
        }
        Ok(data)
    }
}

/// The frames of `body` hyper has already decoded, without waiting for more.
fn decoded(mut body: Incoming) -> hyper::Result<Vec<Bytes>> {
    let mut pieces = Vec::new();
    let mut cx = Context::from_waker(Waker::noop());
    while let Poll::Ready(Some(frame)) = Pin::new(&mut body).poll_frame(&mut cx) {
        if let Ok(data) = frame?.into_data() {
            pieces.push(data);
        }
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use s3dlio_core::buffer::OutputBuffer;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    use super::*;
    use crate::config::S3Config;

    /// What the server sends for one request: pieces written 20 ms apart, then whether
    /// it closes the connection.
    type Answer = (Vec<&'static [u8]>, bool);

    /// A server on loopback answering the n-th request it reads (over all connections)
    /// with `answer(n)`; returns its URL and the connections it accepted.
    async fn server(answer: impl Fn(usize) -> Answer + Send + Sync + 'static) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/bucket/key", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let (answer, requests) = (Arc::new(answer), Arc::new(AtomicUsize::new(0)));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let (answer, requests) = (answer.clone(), requests.clone());
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    loop {
                        let mut buf = [0u8; 4096];
                        let Ok(n @ 1..) = sock.read(&mut buf).await else {
                            return;
                        };
                        seen.extend_from_slice(&buf[..n]);
                        while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                            seen.drain(..end + 4);
                            let (pieces, close) = answer(requests.fetch_add(1, Ordering::SeqCst));
                            for p in pieces {
                                sock.write_all(p).await.unwrap();
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                            if close {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (url, accepted)
    }

    fn pool() -> Connections {
        Connections::new(crate::https::connector(&S3Config::default()), None)
    }

    async fn get(pool: &Connections, url: &str, len: usize, sink: Sink<'_>) -> Result<Bytes> {
        let mut req = Request::get(url).body(Full::default()).unwrap();
        Connections::set_host(&mut req).unwrap();
        let exchange = pool.send(req).await.unwrap();
        let limits = (Duration::from_secs(5), Operation::Get, "s3://bucket/key");
        exchange.read(pool, len, sink, limits).await
    }

    fn why(e: &Error) -> String {
        std::error::Error::source(e)
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n";

    /// A body arrives partly with its head (what hyper holds) and partly later (read off
    /// the socket): all of it lands, in a buffer of its own or in a caller's window, and
    /// the connection serves the next request.
    #[tokio::test]
    async fn a_body_is_read_whole_from_what_hyper_holds_and_the_socket() {
        let (url, accepted) = server(|_| {
            (
                vec![
                    b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n012",
                    b"3456",
                    b"789",
                ],
                false,
            )
        })
        .await;
        let pool = pool();
        assert_eq!(get(&pool, &url, 10, Sink::New).await.unwrap(), "0123456789");
        let out = OutputBuffer::new(12);
        // SAFETY: the only placement of `out`.
        let place = unsafe { Placement::new(out.clone(), 1, 11) };
        assert!(
            get(&pool, &url, 10, Sink::Place(&place))
                .await
                .unwrap()
                .is_empty()
        );
        drop(place);
        assert_eq!(&out.finish(12)[1..11], b"0123456789");
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "one connection for both");
    }

    /// A pooled connection the server closed while it idled is replaced by a new one,
    /// and a response that says `Connection: close` leaves nothing in the pool.
    #[tokio::test]
    async fn closed_connections_are_not_used_again() {
        let (url, accepted) = server(|n| (vec![HEAD, b"0123456789"], n == 0)).await;
        let pool = pool();
        for _ in 0..2 {
            assert_eq!(get(&pool, &url, 10, Sink::New).await.unwrap(), "0123456789");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 2);

        let (url, accepted) = server(|_| {
            (
                vec![b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 1\r\n\r\nx"],
                true,
            )
        })
        .await;
        for _ in 0..2 {
            assert_eq!(get(&pool, &url, 1, Sink::New).await.unwrap(), "x");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    /// A body cut short, or one longer than announced, is a transient error.
    #[tokio::test]
    async fn a_body_of_another_length_is_transient() {
        let (url, _) = server(|_| (vec![HEAD, b"01234"], true)).await;
        let err = get(&pool(), &url, 10, Sink::New).await.unwrap_err();
        assert!(matches!(err, Error::Transient { .. }), "{err:?}");
        assert!(why(&err).contains("short body: 5 of 10"), "{err:?}");

        let (url, accepted) =
            server(|_| (vec![b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n0123"], false)).await;
        let pool = pool();
        let err = get(&pool, &url, 2, Sink::New).await.unwrap_err();
        assert!(why(&err).contains("ran past its 2 announced bytes"), "{err:?}");
        let _ = get(&pool, &url, 2, Sink::New).await;
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            2,
            "the connection is not used again"
        );
    }
}
