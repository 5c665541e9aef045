//! Reading `S3DLIO_*` knobs: one parser per kind of value, every error naming the
//! variable. Each config reads its variables through this, from the process
//! environment or (in tests) from a map.

use crate::error::{Error, Operation, Result};

/// Typed access to variables through a lookup function.
#[derive(Debug, Clone, Copy)]
pub struct EnvReader<F> {
    get: F,
}

impl EnvReader<fn(&str) -> Option<String>> {
    /// Reads the process environment.
    pub fn process() -> Self {
        EnvReader {
            get: |k| std::env::var(k).ok(),
        }
    }
}

impl EnvReader<()> {
    /// Reads only `pairs` (name, value): a config's tests read a fixed environment.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> EnvReader<impl Fn(&str) -> Option<String> + use<>> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        EnvReader::new(move |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }
}

impl<F: Fn(&str) -> Option<String>> EnvReader<F> {
    /// Reads through `get` (a map in tests).
    pub fn new(get: F) -> Self {
        EnvReader { get }
    }

    /// The raw value, as set.
    pub fn raw(&self, var: &str) -> Option<String> {
        (self.get)(var)
    }

    /// A value `parse` accepts; otherwise an error saying it is not `want`.
    pub fn parse<T>(&self, var: &str, want: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Option<T>> {
        self.raw(var)
            .map(|v| parse(&v).ok_or_else(|| invalid(var, &v, want)))
            .transpose()
    }

    /// A positive integer.
    pub fn positive(&self, var: &str) -> Result<Option<u64>> {
        self.parse(var, "a positive integer", |v| {
            v.trim().parse::<u64>().ok().filter(|n| *n > 0)
        })
    }

    /// `1`/`true` or `0`/`false` (surrounding spaces ignored).
    pub fn flag(&self, var: &str) -> Result<Option<bool>> {
        self.parse(var, "0 or 1", |v| match v.trim() {
            "1" | "true" => Some(true),
            "0" | "false" => Some(false),
            _ => None,
        })
    }
}

/// The error for a malformed variable.
pub fn invalid(var: &str, value: &str, want: &str) -> Error {
    Error::InvalidArgument {
        op: Operation::Open,
        uri: format!("env:{var}"),
        message: format!("{value:?} is not {want}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_an_environment() {
        let env = EnvReader::from_pairs(&[("A", "1"), ("B", "x")]);
        assert_eq!(env.positive("A").unwrap(), Some(1));
        assert_eq!(env.raw("B").as_deref(), Some("x"));
        assert_eq!(env.raw("C"), None);
    }

    #[test]
    fn parses_and_names_the_variable() {
        let env = EnvReader::new(|k: &str| match k {
            "N" => Some("42".into()),
            "Z" => Some("0".into()),
            "F" => Some("true".into()),
            "E" => Some(String::new()),
            _ => None,
        });
        assert_eq!(env.positive("N").unwrap(), Some(42));
        assert!(
            env.positive("E").is_err(),
            "set but empty is malformed, not unset"
        );
        assert_eq!(env.positive("unset").unwrap(), None);
        assert_eq!(env.flag("F").unwrap(), Some(true));
        let e = env.positive("Z").unwrap_err().to_string();
        assert!(e.contains("env:Z") && e.contains("positive integer"), "{e}");
        assert!(env.flag("N").unwrap_err().to_string().contains("0 or 1"));
    }
}
