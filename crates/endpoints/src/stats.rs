//! Per-endpoint counters: lock-free counts, and a latency histogram behind a lock
//! held only to record one value.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;

/// Counters of one endpoint.
#[derive(Debug)]
pub(crate) struct Counters {
    pub requests: AtomicU64,
    pub bytes_read: AtomicU64,
    pub bytes_written: AtomicU64,
    pub errors: AtomicU64,
    pub active: AtomicUsize,
    /// Microseconds per request, 1 µs to 1 hour at 3 significant digits.
    latency: Mutex<Histogram<u64>>,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            requests: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
            bytes_written: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            active: AtomicUsize::new(0),
            latency: Mutex::new(
                Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("constant histogram bounds are valid"),
            ),
        }
    }
}

impl Counters {
    pub fn record_latency(&self, took: Duration) {
        let micros = (took.as_micros() as u64).clamp(1, 3_600_000_000);
        let mut h = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        // In bounds by the clamp above.
        let _ = h.record(micros);
    }

    pub fn snapshot(&self, uri: &str, available: bool) -> EndpointStats {
        let h = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        let at = |q: f64| Duration::from_micros(if h.is_empty() { 0 } else { h.value_at_quantile(q) });
        EndpointStats {
            uri: uri.to_string(),
            requests: self.requests.load(Ordering::Relaxed),
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
            bytes_written: self.bytes_written.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            active: self.active.load(Ordering::Relaxed),
            available,
            latency_mean: Duration::from_micros(h.mean() as u64),
            latency_p50: at(0.5),
            latency_p99: at(0.99),
            latency_max: Duration::from_micros(h.max()),
        }
    }
}

/// What one endpoint has served so far (or, from
/// [`Endpoints::total`](crate::Endpoints::total), all of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointStats {
    /// The endpoint's prefix (`s3://host:port/`, `file:///mnt/a/`); `*` for the total.
    pub uri: String,
    /// Requests sent to it (each try of a retried request counts).
    pub requests: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    /// Requests that failed, for any reason (a missing object too).
    pub errors: u64,
    /// Requests in flight now.
    pub active: usize,
    /// `false` while it is taken out after a failure (its back-off).
    pub available: bool,
    pub latency_mean: Duration,
    pub latency_p50: Duration,
    pub latency_p99: Duration,
    pub latency_max: Duration,
}

impl EndpointStats {
    /// The sum of `all`; latencies are the largest of each (an upper bound, not a merge).
    pub(crate) fn total(all: &[EndpointStats]) -> EndpointStats {
        let max = |f: fn(&EndpointStats) -> Duration| all.iter().map(f).max().unwrap_or_default();
        EndpointStats {
            uri: "*".into(),
            requests: all.iter().map(|s| s.requests).sum(),
            bytes_read: all.iter().map(|s| s.bytes_read).sum(),
            bytes_written: all.iter().map(|s| s.bytes_written).sum(),
            errors: all.iter().map(|s| s.errors).sum(),
            active: all.iter().map(|s| s.active).sum(),
            available: all.iter().any(|s| s.available),
            latency_mean: mean(all),
            latency_p50: max(|s| s.latency_p50),
            latency_p99: max(|s| s.latency_p99),
            latency_max: max(|s| s.latency_max),
        }
    }
}

/// The mean over every request of `all`, weighted by each endpoint's request count.
fn mean(all: &[EndpointStats]) -> Duration {
    let n: u64 = all.iter().map(|s| s.requests).sum();
    if n == 0 {
        return Duration::ZERO;
    }
    let total: u128 = all
        .iter()
        .map(|s| s.latency_mean.as_micros() * u128::from(s.requests))
        .sum();
    Duration::from_micros((total / u128::from(n)) as u64)
}
