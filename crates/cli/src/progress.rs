//! Progress bars on stderr, drawn only when stderr is a terminal and `--quiet` is off.
//! Updates are atomic counters; indicatif redraws at most a few times a second, so a bar
//! never slows the work.
//!
//! A bar speaks the summary's units: decimal bytes (`human_bytes`), and the average rate
//! since the start (`human_rate`, `object_rate`), so its last figure is the summary's.

use std::fmt::Write;
use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::output::{human_rate, object_rate};
use crate::size::human_bytes;

#[derive(Debug, Clone)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// Bytes moved against a total: known up front (`Some`), or grown with [`add_total`]
    /// as a listing finds objects (`Some(0)`), or unknown (`None`: no total, no ETA).
    ///
    /// [`add_total`]: Progress::add_total
    pub fn bytes(enabled: bool, total: Option<u64>) -> Self {
        Self::new(enabled, total, style(total.is_some(), Unit::Bytes))
    }

    /// Objects counted (listings, deletes, benchmark phases).
    pub fn objects(enabled: bool, total: Option<u64>) -> Self {
        Self::new(enabled, total, style(total.is_some(), Unit::Objects))
    }

    fn new(enabled: bool, total: Option<u64>, style: ProgressStyle) -> Self {
        let target = if enabled && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(total, target);
        bar.set_style(style);
        Progress { bar }
    }

    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    /// More work found (an object listed): the total, and so the ETA, grows.
    pub fn add_total(&self, n: u64) {
        self.bar.inc_length(n);
    }

    pub fn set_message(&self, message: String) {
        self.bar.set_message(message);
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[derive(Debug, Clone, Copy)]
enum Unit {
    Bytes,
    Objects,
}

/// `[elapsed] done/total rate eta ETA message`; without a total, no `/total` and no ETA.
fn style(total: bool, unit: Unit) -> ProgressStyle {
    let template = match total {
        true => "{spinner} [{elapsed_precise}] {done}/{total} {rate} eta {eta} {msg}",
        false => "{spinner} [{elapsed_precise}] {done} {rate} {msg}",
    };
    ProgressStyle::with_template(template)
        .expect("valid progress template")
        .with_key("done", move |s: &ProgressState, w: &mut dyn Write| {
            let _ = w.write_str(&amount(unit, s.pos()));
        })
        .with_key("total", move |s: &ProgressState, w: &mut dyn Write| {
            let _ = w.write_str(&amount(unit, s.len().unwrap_or(0)));
        })
        .with_key("rate", move |s: &ProgressState, w: &mut dyn Write| {
            let _ = w.write_str(&rate(unit, s.pos(), s.elapsed()));
        })
}

fn amount(unit: Unit, n: u64) -> String {
    match unit {
        Unit::Bytes => human_bytes(n),
        Unit::Objects => format!("{n} objects"),
    }
}

/// The average since the start, as the summary computes it.
fn rate(unit: Unit, n: u64, elapsed: std::time::Duration) -> String {
    match unit {
        Unit::Bytes => human_rate(n, elapsed),
        Unit::Objects => object_rate(n, elapsed),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::output::Summary;

    /// The bar's figures are the summary's: same units, same average.
    #[test]
    fn the_bar_prints_the_summarys_units_and_average_rate() {
        let elapsed = Duration::from_millis(2500);
        let summary = Summary {
            op: "get",
            objects: 40,
            bytes: 123_456_789,
            elapsed,
            failed: 0,
        };
        let (done, bytes_rate) = (
            amount(Unit::Bytes, 123_456_789),
            rate(Unit::Bytes, 123_456_789, elapsed),
        );
        let objects_rate = rate(Unit::Objects, 40, elapsed);
        assert_eq!((done.as_str(), bytes_rate.as_str()), ("123.46 MB", "49.4 MB/s"));
        assert_eq!(
            summary.line(),
            format!("get: 40 objects, {done} in 2.500 s ({bytes_rate}, {objects_rate})")
        );
    }

    /// A total that grows as a listing finds objects.
    #[test]
    fn a_listing_grows_the_total() {
        let p = Progress::bytes(false, Some(0));
        p.add_total(100);
        p.add_total(50);
        p.inc(30);
        assert_eq!((p.bar.position(), p.bar.length()), (30, Some(150)));
    }
}
