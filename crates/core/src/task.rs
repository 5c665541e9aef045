//! Work moved off the async workers: file I/O, compression, data generation and large
//! copies run on Tokio's blocking pool, never on a worker thread (architecture rule 1).

use crate::error::{Error, Operation, Result};

/// Runs `f` on Tokio's blocking pool. A task that panicked or was cancelled with its
/// runtime is [`Error::Backend`] naming `what` failed, with the `JoinError` as its source.
pub async fn run_blocking<T: Send + 'static>(
    op: Operation,
    uri: &str,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::Backend {
        op,
        uri: uri.to_string(),
        message: format!("{what} failed"),
        source: Some(Box::new(e)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_value_and_names_a_panic() {
        assert_eq!(
            run_blocking(Operation::Get, "u", "adding", || 2 + 2)
                .await
                .unwrap(),
            4
        );
        let e = run_blocking(Operation::Put, "memory://b/k", "generating data", || -> () {
            panic!("boom")
        })
        .await
        .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("memory://b/k") && text.contains("generating data failed"),
            "{text}"
        );
        assert!(
            std::error::Error::source(&e).is_some(),
            "the JoinError is kept as the source"
        );
    }
}
