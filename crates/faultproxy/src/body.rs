//! Response bodies with a fault applied as they stream.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, BodyStream, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use tokio::sync::watch;

use crate::Fault;

pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;
pub(crate) type Body = BoxBody<Bytes, Error>;

/// The longest a stalled body or an unanswered request waits for the proxy to stop: every
/// wait in the proxy ends.
pub(crate) const MAX_STALL: Duration = Duration::from_secs(600);

pub(crate) fn full(data: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(data.into())
        .map_err(|never| match never {})
        .boxed()
}

/// Waits until the proxy stops (or [`MAX_STALL`]).
pub(crate) async fn until_stopped(mut stopped: watch::Receiver<bool>) {
    let _ = tokio::time::timeout(MAX_STALL, stopped.wait_for(|s| *s)).await;
}

/// `body` as the client sees it under `fault` (only body faults change it).
pub(crate) fn faulty(body: Incoming, fault: Option<Fault>, stopped: watch::Receiver<bool>) -> Body {
    let (limit, stall, rate) = match fault {
        Some(Fault::ResetAfter(n)) => (n, false, None),
        Some(Fault::StallAfter(n)) => (n, true, None),
        Some(Fault::Bandwidth(rate)) => (u64::MAX, false, Some(rate.max(1))),
        _ => return body.map_err(Error::from).boxed(),
    };
    let state = Cut {
        frames: BodyStream::new(body),
        sent: 0,
        limit,
        stall,
        rate,
        stopped,
        done: false,
    };
    BodyExt::boxed(StreamBody::new(futures::stream::unfold(state, Cut::next)))
}

/// A response body streamed until its byte limit, then cut or stalled.
struct Cut {
    frames: BodyStream<Incoming>,
    sent: u64,
    limit: u64,
    stall: bool,
    rate: Option<u64>,
    stopped: watch::Receiver<bool>,
    done: bool,
}

impl Cut {
    async fn next(mut self) -> Option<(Result<Frame<Bytes>, Error>, Self)> {
        if self.done {
            return None;
        }
        if self.sent >= self.limit {
            // Also when the body ended exactly at the limit: the fault is what follows.
            self.done = true;
            if self.stall {
                until_stopped(self.stopped.clone()).await;
            }
            return Some((Err(Error::from("connection cut by the fault proxy")), self));
        }
        let mut frame = match self.frames.next().await? {
            Ok(frame) => frame,
            Err(e) => return Some((Err(e.into()), self)),
        };
        if let Some(data) = frame.data_mut() {
            let room = self.limit - self.sent;
            if data.len() as u64 > room {
                *data = data.slice(..room as usize);
            }
            self.sent += data.len() as u64;
            if let Some(rate) = self.rate {
                tokio::time::sleep(Duration::from_secs_f64(data.len() as f64 / rate as f64)).await;
            }
        }
        Some((Ok(frame), self))
    }
}
