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
    /// Forwards the request with one bit of its body's first byte flipped (a body
    /// corrupted on the way, which only a checksum the server checks can catch).
    CorruptRequest,
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
            Fault::CorruptRequest => "corrupt-request",
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

/// A rule written as words, for the proxy's binary: the fault first, then the
/// conditions, e.g. `reset-after=65536 method=GET skip=1 times=1`,
/// `status=500 method=POST query=uploadId`, `no-answer`, `latency-ms=200 path=/bucket/key`,
/// `header=range:bytes=0-`.
impl std::str::FromStr for Rule {
    type Err = String;

    fn from_str(spec: &str) -> Result<Rule, String> {
        let mut words = spec.split_whitespace();
        let first = words
            .next()
            .ok_or("an empty rule: start with a fault such as `status=503`")?;
        let mut rule = Rule::new(fault(first)?);
        for word in words {
            let (key, value) = word
                .split_once('=')
                .ok_or_else(|| format!("`{word}` in rule `{spec}`: conditions are key=value"))?;
            rule = match key {
                "method" => {
                    rule.method(Method::from_bytes(value.as_bytes()).map_err(|e| format!("`{word}`: {e}"))?)
                }
                "path" => rule.path(value),
                "query" => rule.query(value),
                "header" => {
                    let (name, part) = value
                        .split_once(':')
                        .ok_or_else(|| format!("`{word}`: write header=NAME:PART"))?;
                    rule.header(name, part)
                }
                "skip" => rule.skip(number(word, value)?),
                "times" => rule.times(number(word, value)?),
                _ => {
                    return Err(format!(
                        "`{word}` in rule `{spec}`: conditions are method, path, query, header, skip, times"
                    ));
                }
            };
        }
        Ok(rule)
    }
}

fn fault(word: &str) -> Result<Fault, String> {
    let (name, value) = word.split_once('=').unwrap_or((word, ""));
    let n = || number::<u64>(word, value);
    Ok(match name {
        "latency-ms" => Fault::Latency(Duration::from_millis(n()?)),
        "status" => Fault::Status(number(word, value)?),
        "reset-after" => Fault::ResetAfter(n()?),
        "stall-after" => Fault::StallAfter(n()?),
        "no-answer" => Fault::NoAnswer,
        "drop-request-after" => Fault::DropRequestAfter(n()?),
        "bandwidth" => Fault::Bandwidth(n()?),
        _ => {
            return Err(format!(
                "`{word}`: faults are latency-ms=MS, status=CODE, reset-after=BYTES, stall-after=BYTES, \
                 no-answer, drop-request-after=BYTES, bandwidth=BYTES_PER_S"
            ));
        }
    })
}

fn number<T: std::str::FromStr>(word: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("`{word}`: `{value}` is not a number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, range: Option<&str>) -> http::Request<()> {
        let mut req = http::Request::get(path);
        if let Some(r) = range {
            req = req.header("range", r);
        }
        req.body(()).unwrap()
    }

    #[test]
    fn a_written_rule_applies_its_fault_and_every_condition() {
        let mut rule: Rule = "reset-after=65536 method=GET path=/b/k header=Range:bytes=0- skip=1 times=1"
            .parse()
            .unwrap();
        assert_eq!(rule.fault, Fault::ResetAfter(65536));
        assert!(
            !rule.take(&http::Request::put("/b/k").body(()).unwrap()),
            "method"
        );
        assert!(!rule.take(&get("/b/other", Some("bytes=0-9"))), "path");
        assert!(!rule.take(&get("/b/k", None)), "header");
        assert!(!rule.take(&get("/b/k", Some("bytes=0-9"))), "skipped");
        assert!(rule.take(&get("/b/k", Some("bytes=0-9"))), "hit");
        assert!(!rule.take(&get("/b/k", Some("bytes=0-9"))), "retired after one");
    }

    #[test]
    fn every_fault_has_a_word() {
        for (word, fault) in [
            ("latency-ms=5", Fault::Latency(Duration::from_millis(5))),
            ("status=503", Fault::Status(503)),
            ("stall-after=1", Fault::StallAfter(1)),
            ("no-answer", Fault::NoAnswer),
            ("drop-request-after=7", Fault::DropRequestAfter(7)),
            ("bandwidth=1000", Fault::Bandwidth(1000)),
        ] {
            assert_eq!(word.parse::<Rule>().unwrap().fault, fault, "{word}");
        }
    }

    #[test]
    fn a_bad_rule_says_what_is_wrong() {
        for (spec, says) in [
            ("", "empty rule"),
            ("explode", "faults are"),
            ("status=abc", "not a number"),
            ("status=503 colour=red", "conditions are method"),
            ("status=503 header=range", "NAME:PART"),
            ("status=503 GET", "key=value"),
        ] {
            let err = spec.parse::<Rule>().unwrap_err();
            assert!(err.contains(says), "{spec}: {err}");
        }
    }
}
