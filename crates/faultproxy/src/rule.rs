//! What the proxy does to which request.

use std::time::Duration;

use http::Method;

/// One fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Waits this long, then forwards.
    Latency(Duration),
    /// Answers with this status and an S3-style error body (`SlowDown` for 503,
    /// `InternalError` for 500) without forwarding.
    Status(u16),
    /// Forwards, then cuts the connection after this many response body bytes.
    ResetAfter(u64),
    /// Forwards, sends this many response body bytes, then nothing more while the
    /// connection stays open.
    StallAfter(u64),
    /// Reads the request and never answers.
    NoAnswer,
    /// Reads this many request body bytes, then cuts the connection without forwarding:
    /// a server that died mid-upload.
    DropRequestAfter(u64),
    /// Forwards with the response body sent at this many bytes per second.
    Bandwidth(u64),
}

impl Fault {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Fault::Latency(_) => "latency",
            Fault::Status(_) => "status",
            Fault::ResetAfter(_) => "reset",
            Fault::StallAfter(_) => "stall",
            Fault::NoAnswer => "no-answer",
            Fault::DropRequestAfter(_) => "drop-request",
            Fault::Bandwidth(_) => "bandwidth",
        }
    }
}

/// A fault and the requests it hits: every condition set must hold. The first
/// `skip` matching requests pass untouched; then the next `times` (all, when `None`) get
/// the fault.
#[derive(Debug, Clone)]
pub struct Rule {
    pub(crate) fault: Fault,
    method: Option<Method>,
    path: Option<String>,
    query: Option<String>,
    header: Option<(String, String)>,
    skip: u32,
    times: Option<u32>,
}

impl Rule {
    /// `fault` on every request, until narrowed.
    pub fn new(fault: Fault) -> Self {
        Rule {
            fault,
            method: None,
            path: None,
            query: None,
            header: None,
            skip: 0,
            times: None,
        }
    }

    pub fn method(mut self, method: Method) -> Self {
        self.method = Some(method);
        self
    }

    /// Requests whose path contains `part`.
    pub fn path(mut self, part: &str) -> Self {
        self.path = Some(part.into());
        self
    }

    /// Requests whose query string contains `part` (`uploadId`, `partNumber=2`).
    pub fn query(mut self, part: &str) -> Self {
        self.query = Some(part.into());
        self
    }

    /// Requests with header `name` whose value contains `part` (`range`, `bytes=0-`).
    pub fn header(mut self, name: &str, part: &str) -> Self {
        self.header = Some((name.to_ascii_lowercase(), part.into()));
        self
    }

    /// Lets the first `n` matching requests through.
    pub fn skip(mut self, n: u32) -> Self {
        self.skip = n;
        self
    }

    /// Hits only `n` requests, then retires.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    fn matches<B>(&self, req: &http::Request<B>) -> bool {
        let uri = req.uri();
        self.method.as_ref().is_none_or(|m| m == req.method())
            && self.path.as_deref().is_none_or(|p| uri.path().contains(p))
            && self
                .query
                .as_deref()
                .is_none_or(|q| uri.query().unwrap_or("").contains(q))
            && self.header.as_ref().is_none_or(|(name, part)| {
                req.headers()
                    .get(name.as_str())
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.contains(part.as_str()))
            })
    }

    /// Whether `req` gets this rule's fault; counts it either way.
    pub(crate) fn take<B>(&mut self, req: &http::Request<B>) -> bool {
        if !self.matches(req) {
            return false;
        }
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        match &mut self.times {
            None => true,
            Some(0) => false,
            Some(n) => {
                *n -= 1;
                true
            }
        }
    }
}
