//! `Endpoints`: the set a multi-endpoint store balances over — which endpoint each
//! request takes, which are taken out after failures, and what each has served.

use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use s3dlio_core::env::EnvReader;
use s3dlio_core::{Error, Operation, Result, Service};

use crate::spec::{self, Normalized, Strategy, invalid};
use crate::stats::{Counters, EndpointStats};

/// How long an endpoint stays out after its first failure; each further failure in a
/// row doubles it, up to [`DEFAULT_MAX_BACKOFF`].
pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(1);
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Several endpoints of one service, and how requests are spread over them.
///
/// Endpoints are gateways to **one** store (MinIO or Vast nodes, AIStore proxies): any
/// of them serves any object, so a read's chunks may come from different endpoints and
/// stay pinned to one version by its ETag. An endpoint whose request fails with a
/// retryable error (refused, reset, timed out, 5xx) is taken out for a back-off period;
/// the retry layer's next try goes to another one.
///
/// ```
/// use s3dlio_endpoints::{Endpoints, Strategy};
///
/// let eps = Endpoints::from_template("http://127.0.0.{1...4}:9000", Strategy::RoundRobin).unwrap();
/// assert_eq!(eps.len(), 4);
/// assert_eq!(eps.uris()[0], "s3://127.0.0.1:9000/");
/// assert_eq!(eps.uri_on(2, "s3://bucket/key").unwrap(), "s3://127.0.0.3:9000/bucket/key");
/// ```
#[derive(Debug)]
pub struct Endpoints {
    list: Vec<Endpoint>,
    strategy: Strategy,
    next: AtomicUsize,
    backoff: Duration,
    max_backoff: Duration,
    epoch: Instant,
    service: Service,
    url_scheme: Option<&'static str>,
    /// Every endpoint is an S3 service root (`s3://host:port/`), so `s3://bucket/key`
    /// (no endpoint named) is routed too.
    roots: bool,
}

#[derive(Debug)]
struct Endpoint {
    base: String,
    counters: Counters,
    /// Nanoseconds after `epoch` until which it is out; 0: in.
    out_until: AtomicU64,
    /// Failures in a row.
    failures: AtomicU32,
}

impl Endpoints {
    /// Endpoints from `specs`: `http(s)://host:port` URLs (S3), or store URIs of one
    /// service (`s3://host:port/bucket/`, `file:///mnt/a/`, `az://acct/container/`).
    pub fn new<S: AsRef<str>>(specs: &[S], strategy: Strategy) -> Result<Self> {
        let normalized = specs
            .iter()
            .map(|s| spec::normalize(s.as_ref()))
            .collect::<Result<Vec<Normalized>>>()?;
        let Some(first) = normalized.first() else {
            return Err(invalid("endpoints", "no endpoints given; name at least one"));
        };
        let service_of = |n: &Normalized| {
            s3dlio_core::Scheme::of(&n.base)
                .map(|s| s.service())
                .expect("normalize keeps only known schemes")
        };
        let service = service_of(first);
        for n in &normalized {
            if service_of(n) != service {
                return Err(invalid(
                    &n.base,
                    &format!(
                        "every endpoint must be of one service; the first is {service}, this one {}",
                        service_of(n)
                    ),
                ));
            }
            if n.url_scheme != first.url_scheme {
                return Err(invalid(
                    &n.base,
                    "mixes http and https endpoint URLs (or URLs and s3:// URIs); use one form for all",
                ));
            }
            if normalized.iter().filter(|m| m.base == n.base).count() > 1 {
                return Err(invalid(&n.base, "is named twice; name each endpoint once"));
            }
        }
        let roots = normalized.iter().all(|n| spec::is_service_root(&n.base));
        Ok(Endpoints {
            url_scheme: first.url_scheme,
            list: normalized
                .into_iter()
                .map(|n| Endpoint {
                    base: n.base,
                    counters: Counters::default(),
                    out_until: AtomicU64::new(0),
                    failures: AtomicU32::new(0),
                })
                .collect(),
            strategy,
            next: AtomicUsize::new(0),
            backoff: DEFAULT_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            epoch: Instant::now(),
            service,
            roots,
        })
    }

    /// Endpoints from a template such as `http://10.0.0.{1...8}:9000`.
    pub fn from_template(template: &str, strategy: Strategy) -> Result<Self> {
        Self::new(&spec::expand_template(template)?, strategy)
    }

    /// Endpoints from a file, one per line (templates allowed, `#` comments).
    pub fn from_file(path: &Path, strategy: Strategy) -> Result<Self> {
        Self::new(&spec::read_file(path)?, strategy)
    }

    /// Endpoints from `S3_ENDPOINT_URIS`, `S3_ENDPOINT_TEMPLATE` or `S3_ENDPOINT_FILE`
    /// and `S3_LOAD_BALANCE_STRATEGY`; an error when none of the three is set.
    /// `strategy`, when given, beats the variable.
    pub fn from_env(strategy: Option<Strategy>) -> Result<Self> {
        match spec::from_reader(&EnvReader::process())? {
            Some((list, from_env)) => Self::new(&list, strategy.unwrap_or(from_env)),
            None => Err(invalid(
                "env",
                &format!(
                    "no endpoints in the environment; set {} (comma-separated), {} or {}",
                    spec::ENV_URIS,
                    spec::ENV_TEMPLATE,
                    spec::ENV_FILE
                ),
            )),
        }
    }

    /// Takes a failing endpoint out for `first`, doubling per failure in a row up to
    /// `max` (defaults [`DEFAULT_BACKOFF`], [`DEFAULT_MAX_BACKOFF`]).
    pub fn with_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff = first;
        self.max_backoff = max.max(first);
        self
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// The service every endpoint belongs to.
    pub fn service(&self) -> Service {
        self.service
    }

    /// `http` or `https` when the endpoints were given as URLs: the scheme the S3
    /// backend must use for the `s3://host:port/` URIs they become.
    pub fn url_scheme(&self) -> Option<&'static str> {
        self.url_scheme
    }

    /// Each endpoint's prefix, in order.
    pub fn uris(&self) -> Vec<&str> {
        self.list.iter().map(|e| e.base.as_str()).collect()
    }

    /// What each endpoint has served, in order.
    pub fn stats(&self) -> Vec<EndpointStats> {
        let now = self.now();
        self.list
            .iter()
            .map(|e| e.counters.snapshot(&e.base, e.is_in(now)))
            .collect()
    }

    /// The sum over every endpoint.
    pub fn total(&self) -> EndpointStats {
        EndpointStats::total(&self.stats())
    }

    /// `uri` as it reads on endpoint `index`: a URI under any endpoint's prefix (or, for
    /// S3 service roots, `s3://bucket/key`) moved under endpoint `index`'s.
    pub fn uri_on(&self, index: usize, uri: &str) -> Result<String> {
        let route = self.route(Operation::Open, uri)?;
        self.check_index(index, uri)?;
        Ok(format!("{}{}", self.list[index].base, route.rel))
    }

    /// An error naming `what` unless endpoint `index` exists.
    pub(crate) fn check_index(&self, index: usize, what: &str) -> Result<()> {
        if index < self.list.len() {
            return Ok(());
        }
        Err(invalid(
            what,
            &format!(
                "endpoint index {index} is out of range; there are {}",
                self.list.len()
            ),
        ))
    }

    /// The endpoint whose prefix `uri` is under (the longest, where several are).
    pub fn index_of(&self, uri: &str) -> Option<usize> {
        (0..self.list.len())
            .filter(|&i| uri.starts_with(self.list[i].base.as_str()))
            .max_by_key(|&i| self.list[i].base.len())
    }

    /// Where `uri` is relative to the endpoints: the prefix the caller wrote and the rest.
    pub(crate) fn route<'a>(&'a self, op: Operation, uri: &'a str) -> Result<Route<'a>> {
        let under = self
            .list
            .iter()
            .filter_map(|e| {
                if let Some(rel) = uri.strip_prefix(e.base.as_str()) {
                    Some((
                        e.base.len(),
                        Route {
                            caller: e.base.as_str(),
                            rel,
                        },
                    ))
                } else if e.base.strip_suffix('/') == Some(uri) {
                    Some((
                        uri.len(),
                        Route {
                            caller: e.base.as_str(),
                            rel: "",
                        },
                    ))
                } else {
                    None
                }
            })
            .max_by_key(|(len, _)| *len);
        if let Some((_, route)) = under {
            return Ok(route);
        }
        if self.roots
            && let Some(rest) = uri.strip_prefix("s3://")
            && !rest.split('/').next().unwrap_or_default().contains(':')
        {
            return Ok(Route {
                caller: "s3://",
                rel: rest,
            });
        }
        Err(Error::InvalidUri {
            uri: uri.to_string(),
            reason: format!(
                "{op}: the URI is under none of this store's endpoints ({}){}; write it under one of them",
                self.uris().join(", "),
                if self.roots {
                    " and names no other endpoint, as s3://bucket/key does"
                } else {
                    ""
                }
            ),
        })
    }

    /// The endpoint the next request takes (`pin`: that one).
    pub(crate) fn pick(&self, pin: Option<usize>) -> usize {
        if let Some(i) = pin {
            return i;
        }
        let n = self.list.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let now = self.now();
        let order = (0..n).map(|k| (start + k) % n);
        let chosen = match self.strategy {
            Strategy::RoundRobin => order.clone().find(|&i| self.list[i].is_in(now)),
            // Strictly fewer in flight wins; ties go to the first in turn.
            Strategy::LeastConnections => order
                .clone()
                .filter(|&i| self.list[i].is_in(now))
                .min_by_key(|&i| self.list[i].counters.active.load(Ordering::Relaxed)),
        };
        // Every endpoint out: the one back soonest (the retry layer bounds the tries).
        chosen.unwrap_or_else(|| {
            order
                .min_by_key(|&i| self.list[i].out_until.load(Ordering::Relaxed))
                .unwrap_or(0)
        })
    }

    /// Starts a request on endpoint `index`; the guard records it when it ends.
    pub(crate) fn begin(&self, index: usize) -> Request<'_> {
        let c = &self.list[index].counters;
        c.requests.fetch_add(1, Ordering::Relaxed);
        c.active.fetch_add(1, Ordering::Relaxed);
        Request {
            endpoints: self,
            index,
            started: Instant::now(),
        }
    }

    pub(crate) fn base(&self, index: usize) -> &str {
        &self.list[index].base
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn failed(&self, index: usize, e: &Error) {
        let ep = &self.list[index];
        ep.counters.errors.fetch_add(1, Ordering::Relaxed);
        if !e.is_retryable() {
            // The endpoint answered (a missing object, a refused precondition): it is up.
            return;
        }
        let n = ep.failures.fetch_add(1, Ordering::Relaxed).min(16);
        let out = self.backoff.saturating_mul(1 << n).min(self.max_backoff);
        ep.out_until
            .store((self.now() + out.as_nanos() as u64).max(1), Ordering::Relaxed);
        tracing::warn!(
            "endpoint {} taken out for {out:?} after {} failure(s) in a row: {e}",
            ep.base,
            n + 1
        );
    }

    fn succeeded(&self, index: usize) {
        let ep = &self.list[index];
        if ep.failures.swap(0, Ordering::Relaxed) > 0 {
            ep.out_until.store(0, Ordering::Relaxed);
            tracing::info!("endpoint {} is back", ep.base);
        }
    }
}

impl Endpoint {
    fn is_in(&self, now: u64) -> bool {
        self.out_until.load(Ordering::Relaxed) <= now
    }
}

/// A URI split at the endpoint prefix the caller wrote.
#[derive(Debug, Clone)]
pub(crate) struct Route<'a> {
    /// The prefix the caller's URI starts with (`s3://` for an S3 URI that names no
    /// endpoint): results are handed back under it.
    pub caller: &'a str,
    pub rel: &'a str,
}

/// One request in flight on one endpoint.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    endpoints: &'a Endpoints,
    index: usize,
    started: Instant,
}

impl Request<'_> {
    /// Records how the request ended, with the bytes it read and wrote.
    pub fn end<T>(self, result: &Result<T>, read: impl FnOnce(&T) -> u64, written: u64) {
        let c = &self.endpoints.list[self.index].counters;
        match result {
            Ok(v) => {
                c.bytes_read.fetch_add(read(v), Ordering::Relaxed);
                c.bytes_written.fetch_add(written, Ordering::Relaxed);
                self.endpoints.succeeded(self.index);
            }
            Err(e) => self.endpoints.failed(self.index, e),
        }
    }

    /// An error part-way through a stream (a listing page).
    pub fn error(&self, e: &Error) {
        self.endpoints.failed(self.index, e);
    }
}

/// A request's latency ends when its guard goes: after its outcome, or, for a listing,
/// when its stream is dropped.
impl Drop for Request<'_> {
    fn drop(&mut self) {
        let c = &self.endpoints.list[self.index].counters;
        c.record_latency(self.started.elapsed());
        c.active.fetch_sub(1, Ordering::Relaxed);
    }
}
