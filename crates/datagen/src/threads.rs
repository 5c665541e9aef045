//! How many threads generation runs on: all of rayon's global pool by default, or a pool
//! of a chosen size for callers that keep cores for I/O.

/// Logical CPUs this process may run on (its affinity mask and CPU quota counted).
pub fn total_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Threads for a caller that leaves room for I/O beside generation: half the CPUs,
/// at least one.
pub fn default_threads() -> usize {
    (total_cpus() / 2).max(1)
}

/// A pool of generator threads: [`Threads::run`] makes rayon's parallel loops (so
/// [`Generator`](crate::Generator)'s) use it. Kept by a caller that generates many times.
#[derive(Debug)]
pub struct Threads(rayon::ThreadPool);

impl Threads {
    /// `threads` threads; 0 is refused.
    pub fn new(threads: usize) -> Result<Self, String> {
        if threads == 0 {
            return Err("threads must be at least 1".into());
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("s3dlio-datagen-{i}"))
            .build()
            .map(Threads)
            .map_err(|e| format!("starting {threads} generator threads: {e}"))
    }

    pub fn run<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.0.install(f)
    }
}

/// Runs `f` on a pool of `threads` threads made for it; 0 is refused.
pub fn on_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> Result<R, String> {
    Ok(Threads::new(threads)?.run(f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DataSpec, Generator, PARALLEL_THRESHOLD};

    #[test]
    fn a_pool_of_the_size_asked_and_the_same_bytes_on_any() {
        assert_eq!(on_threads(1, rayon::current_num_threads), Ok(1));
        assert_eq!(on_threads(3, rayon::current_num_threads), Ok(3));
        assert!(on_threads(0, || ()).is_err());
        let generator = Generator::new(
            2 * PARALLEL_THRESHOLD as u64 + 12_345,
            DataSpec::default().with_compress(2),
        );
        let one = on_threads(1, || generator.generate()).unwrap();
        let four = on_threads(4, || generator.generate()).unwrap();
        assert_eq!(one, four);
        assert!(default_threads() >= 1 && default_threads() <= total_cpus());
    }
}
