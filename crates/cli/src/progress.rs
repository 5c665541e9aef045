//! Progress bars on stderr, drawn only when stderr is a terminal and `--quiet` is off.
//! Updates are atomic counters; indicatif redraws at most a few times a second, so a bar
//! never slows the work.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug, Clone)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// Bytes moved (with ETA when the total is known) and objects done.
    pub fn bytes(enabled: bool, total: Option<u64>) -> Self {
        let template = if total.is_some() {
            "{spinner} [{elapsed_precise}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {msg}"
        } else {
            "{spinner} [{elapsed_precise}] {bytes} {binary_bytes_per_sec} {msg}"
        };
        Self::new(enabled, total, template)
    }

    /// Objects counted (listings, deletes).
    pub fn objects(enabled: bool, total: Option<u64>) -> Self {
        let template = if total.is_some() {
            "{spinner} [{elapsed_precise}] {human_pos}/{human_len} objects {per_sec} eta {eta} {msg}"
        } else {
            "{spinner} [{elapsed_precise}] {human_pos} objects {per_sec} {msg}"
        };
        Self::new(enabled, total, template)
    }

    fn new(enabled: bool, total: Option<u64>, template: &str) -> Self {
        let target = if enabled && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(total, target);
        bar.set_style(ProgressStyle::with_template(template).expect("valid progress template"));
        Progress { bar }
    }

    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    pub fn set_message(&self, message: String) {
        self.bar.set_message(message);
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
