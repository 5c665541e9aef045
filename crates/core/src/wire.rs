//! Pieces every HTTP backend shares: the `Range` header, reading a `Content-Range`,
//! collecting a response body into one buffer, and refusing bytes of another version.

use std::ops::Range;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};

use crate::error::{Error, Operation, Result};
use crate::meta::ObjectMeta;
use crate::options::{GetOptions, GetRange};
use crate::store::GetResult;

/// The `Range` header of a read (`bytes=0-9`, `bytes=5-`, `bytes=-7`), for services
/// that take suffix ranges. An empty bounded range has no header: answer it without a
/// request ([`empty_read`]).
pub fn range_header(r: &GetRange) -> String {
    match r {
        GetRange::Bounded(r) => format!("bytes={}-{}", r.start, r.end.saturating_sub(1)),
        GetRange::Offset(o) => format!("bytes={o}-"),
        GetRange::Suffix(n) => format!("bytes=-{n}"),
    }
}

/// `bytes START-END/TOTAL` → (`START..END+1`, `TOTAL`); `None` for anything else
/// (`bytes */TOTAL` included).
pub fn parse_content_range(s: &str) -> Option<(Range<u64>, u64)> {
    let (span, total) = s.strip_prefix("bytes ")?.split_once('/')?;
    let (a, b) = span.split_once('-')?;
    Some((a.parse().ok()?..b.parse::<u64>().ok()? + 1, total.parse().ok()?))
}

/// `body` with every wait for its next item bounded by `idle` (the backends' idle
/// timeout): a stall becomes [`Error::Timeout`], a failure of the stream what `failed`
/// makes of it, and the stream ends after either.
pub fn idle_bounded<S, T, E>(
    body: S,
    idle: Duration,
    op: Operation,
    uri: &str,
    failed: impl Fn(E) -> Error,
) -> impl Stream<Item = Result<T>>
where
    S: Stream<Item = std::result::Result<T, E>>,
{
    let state = (Box::pin(body), uri.to_string(), failed, false);
    futures::stream::unfold(state, move |(mut body, uri, failed, done)| async move {
        if done {
            return None;
        }
        let item = match tokio::time::timeout(idle, body.next()).await {
            Ok(None) => return None,
            Ok(Some(Ok(item))) => return Some((Ok(item), (body, uri, failed, false))),
            Ok(Some(Err(e))) => failed(e),
            Err(_) => stalled(op, &uri, idle),
        };
        Some((Err(item), (body, uri, failed, true)))
    })
}

/// A body that sent nothing for `idle`, as [`Error::Timeout`].
pub fn stalled(op: Operation, uri: &str, idle: Duration) -> Error {
    Error::Timeout {
        op,
        uri: uri.to_string(),
        after: Some(idle),
        source: Some("no bytes arrived within the idle timeout".into()),
    }
}

/// A body that ended after `got` of its `len` announced bytes, as [`Error::Transient`]:
/// the read is retried rather than returned short.
pub fn short_body(op: Operation, uri: &str, got: usize, len: usize) -> Error {
    Error::Transient {
        op,
        uri: uri.to_string(),
        source: format!("short body: {got} of {len} bytes").into(),
    }
}

/// A stream failure as [`Error::Transient`]: a body cut mid-way is worth another try.
pub fn transient<E: std::error::Error + Send + Sync + 'static>(
    op: Operation,
    uri: &str,
) -> impl Fn(E) -> Error {
    move |e| Error::Transient {
        op,
        uri: uri.to_string(),
        source: Box::new(e),
    }
}

/// Reads a response body of `len` announced bytes into one buffer: each byte is copied
/// once, and a body that arrives as a single frame is returned as it is (no copy). A
/// failure of the stream is what `failed` makes of it (the backend knows which of its
/// errors are timeouts; [`transient`] for the rest); a body of another length is
/// [`Error::Transient`], so the read is retried rather than returned short.
pub async fn collect_body<S, E>(
    body: S,
    len: usize,
    op: Operation,
    uri: &str,
    failed: impl Fn(E) -> Error,
) -> Result<Bytes>
where
    S: Stream<Item = std::result::Result<Bytes, E>>,
{
    let mut body = std::pin::pin!(body);
    let data = match body.try_next().await.map_err(&failed)? {
        None => Bytes::new(),
        Some(first) if first.len() >= len => first,
        Some(first) => {
            // Mapped before the bytes arrive (from a huge-page slab where it can be).
            let mut buf = crate::slab::BodyBuf::new(len);
            let mut got = first.len();
            let mut fits = buf.extend_from_slice(&first);
            drop(first);
            while let Some(chunk) = body.try_next().await.map_err(&failed)? {
                got += chunk.len();
                fits = fits && buf.extend_from_slice(&chunk);
            }
            if !fits {
                return Err(short_body(op, uri, got, len));
            }
            buf.freeze()
        }
    };
    if data.len() != len {
        return Err(short_body(op, uri, data.len(), len));
    }
    Ok(data)
}

/// A server that ignores `If-Match` (some S3-compatible ones do) must still not hand us
/// bytes of another version: `got` must be `pin` when both are known.
pub fn check_pin(op: Operation, uri: &str, pin: Option<&str>, got: Option<&str>) -> Result<()> {
    match (pin, got) {
        (Some(pin), Some(got)) if pin != got => Err(Error::Precondition {
            op,
            uri: uri.to_string(),
            message: format!("the object changed: ETag is {got}, expected {pin}"),
        }),
        _ => Ok(()),
    }
}

/// The answer to a read that needs no bytes (an empty range, or one the server refused
/// with 416, as S3 does for every range of an empty object) from the object's metadata,
/// by the shared range rules: empty bytes, or [`Error::InvalidRange`].
pub fn empty_read(op: Operation, uri: &str, opts: &GetOptions, meta: ObjectMeta) -> Result<GetResult> {
    check_pin(op, uri, opts.if_match.as_deref(), meta.e_tag.as_deref())?;
    let range = opts
        .range
        .clone()
        .unwrap_or(GetRange::Offset(0))
        .resolve(op, uri, meta.size)?;
    Ok(GetResult {
        data: Bytes::new(),
        range: range.start..range.start,
        meta,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::stream;

    #[test]
    fn range_headers() {
        assert_eq!(range_header(&GetRange::Bounded(0..10)), "bytes=0-9");
        assert_eq!(range_header(&GetRange::Offset(5)), "bytes=5-");
        assert_eq!(range_header(&GetRange::Suffix(7)), "bytes=-7");
    }

    #[test]
    fn content_range() {
        assert_eq!(parse_content_range("bytes 10-19/100"), Some((10..20, 100)));
        assert_eq!(parse_content_range("bytes */100"), None);
        assert_eq!(parse_content_range("items 1-2/3"), None);
    }

    #[tokio::test]
    async fn a_body_that_stalls_ends_at_the_idle_timeout() {
        let stalled = stream::iter([Ok::<_, std::io::Error>(Bytes::from("ab"))]).chain(stream::pending());
        let idle = std::time::Duration::from_millis(50);
        let started = std::time::Instant::now();
        let body = idle_bounded(stalled, idle, Operation::Get, "u", transient(Operation::Get, "u"));
        let err = collect_body(body, 5, Operation::Get, "u", |e| e)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Timeout { after: Some(d), .. } if d == idle),
            "{err:?}"
        );
        assert!(started.elapsed() >= idle);
    }

    /// `collect_body` of `frames` announced as `len` bytes.
    async fn collect(frames: Vec<Bytes>, len: usize) -> Result<Bytes> {
        let frames = stream::iter(frames.into_iter().map(Ok::<_, std::io::Error>));
        collect_body(frames, len, Operation::Get, "u", transient(Operation::Get, "u")).await
    }

    #[tokio::test]
    async fn one_frame_is_kept_and_frames_are_joined() {
        let one = Bytes::from(vec![1u8; 64]);
        let got = collect(vec![one.clone()], 64).await.unwrap();
        assert_eq!(got.as_ptr(), one.as_ptr(), "a single frame is not copied");
        let frames = |f: &[&'static str]| f.iter().map(|s| Bytes::from(*s)).collect::<Vec<_>>();
        assert_eq!(collect(frames(&["ab", "cd", "e"]), 5).await.unwrap(), "abcde");
        let short = collect(frames(&["ab"]), 5).await.unwrap_err();
        assert!(short.is_retryable() && short.to_string().contains("u"), "{short}");
        let long = collect(frames(&["ab", "cd", "ef"]), 5).await.unwrap_err();
        let why = std::error::Error::source(&long).map(ToString::to_string);
        assert!(
            long.is_retryable() && why.as_deref() == Some("short body: 6 of 5 bytes"),
            "{why:?}"
        );
        assert!(check_pin(Operation::Get, "u", Some("a"), Some("b")).is_err());
        assert!(check_pin(Operation::Get, "u", Some("a"), None).is_ok());
    }

    #[test]
    fn empty_reads_follow_the_range_rules() {
        let meta = |size| ObjectMeta {
            size,
            e_tag: Some("v1".into()),
            ..Default::default()
        };
        let at = |o| GetOptions::default().with_range(GetRange::Bounded(o..o + 1));
        let r = empty_read(Operation::GetRange, "u", &at(0), meta(0)).unwrap();
        assert!(r.data.is_empty() && r.range == (0..0));
        let e = empty_read(Operation::GetRange, "u", &at(10), meta(10)).unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidRange {
                    offset: 10,
                    size: 10,
                    ..
                }
            ),
            "{e}"
        );
        let pinned = GetOptions::default().with_if_match("v0");
        assert!(matches!(
            empty_read(Operation::Get, "u", &pinned, meta(0)),
            Err(Error::Precondition { .. })
        ));
    }
}
