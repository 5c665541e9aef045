//! Turning arguments into URIs: local paths become `file://` URIs; prefixes end in `/`.

use std::path::Path;

use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use regex::Regex;
pub use s3dlio::as_prefix;
use s3dlio::{ListEntry, ObjectMeta, ObjectStore};

use crate::failure::{CliResult, Failure};

/// `arg` as a URI: anything with `://` is taken as is, anything else is a local path
/// (made absolute) served by `file://`. A trailing `/` is kept.
pub fn to_uri(arg: &str) -> CliResult<String> {
    if arg.contains("://") {
        return Ok(arg.to_string());
    }
    let abs = std::path::absolute(arg).map_err(|e| Failure::Local(format!("resolving path {arg:?}"), e))?;
    let mut uri = format!("file://{}", abs.display());
    if arg.ends_with('/') && !uri.ends_with('/') {
        uri.push('/');
    }
    Ok(uri)
}

/// The last path segment of an object URI.
pub fn basename(uri: &str) -> &str {
    uri.rsplit('/').next().unwrap_or(uri)
}

/// Whether `arg` names a local directory.
pub fn is_local_dir(arg: &str) -> bool {
    !arg.contains("://") && Path::new(arg).is_dir()
}

/// Compiles a `--pattern`; a bad expression is a usage error.
pub fn compile_pattern(pattern: Option<&str>) -> CliResult<Option<Regex>> {
    pattern
        .map(|p| {
            Regex::new(p).map_err(|e| {
                Failure::Usage(format!("--pattern {p:?} is not a valid regular expression: {e}"))
            })
        })
        .transpose()
}

/// The objects under `prefix` (one level, or all with `recursive`) whose key relative to
/// the prefix matches `pattern`, streamed page by page.
pub fn objects_under<'a>(
    store: &'a dyn ObjectStore,
    prefix: &'a str,
    recursive: bool,
    pattern: Option<&'a Regex>,
) -> BoxStream<'a, s3dlio::Result<ObjectMeta>> {
    store
        .list_stream(prefix, recursive)
        .try_filter_map(move |entry| async move {
            Ok(match entry {
                ListEntry::Object(meta) if matches(pattern, prefix, &meta.uri) => Some(meta),
                _ => None,
            })
        })
        .boxed()
}

/// Whether `uri`'s key relative to `prefix` matches `pattern` (no pattern matches all).
pub fn matches(pattern: Option<&Regex>, prefix: &str, uri: &str) -> bool {
    pattern.is_none_or(|re| re.is_match(uri.strip_prefix(prefix).unwrap_or(uri)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_become_file_uris() {
        assert_eq!(to_uri("s3://b/k").unwrap(), "s3://b/k");
        assert_eq!(to_uri("/tmp/x").unwrap(), "file:///tmp/x");
        assert_eq!(to_uri("/tmp/x/").unwrap(), "file:///tmp/x/");
        let rel = to_uri("rel/y").unwrap();
        assert!(rel.starts_with("file:///") && rel.ends_with("/rel/y"), "{rel}");
    }

    #[test]
    fn patterns_match_the_relative_key() {
        let re = Regex::new(r"^a/.*\.npz$").unwrap();
        assert!(matches(Some(&re), "s3://b/p/", "s3://b/p/a/x.npz"));
        assert!(!matches(Some(&re), "s3://b/p/", "s3://b/p/b/a/x.npz"));
        assert!(matches(None, "s3://b/p/", "anything"));
    }
}
