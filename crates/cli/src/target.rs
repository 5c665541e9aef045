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

/// Where a source URI's objects are: a prefix, and the regular expression (over keys
/// relative to it) its wildcard or `--pattern` makes; `deep` when the selection reaches
/// below the first level.
#[derive(Debug)]
pub struct Selection {
    pub prefix: String,
    pub pattern: Option<Regex>,
    pub deep: bool,
    /// Whether the URI held a wildcard (which selects objects without -r).
    pub wildcard: bool,
}

/// Splits `uri` at its first wildcard (`*`, `?`, `[`): the prefix is everything up to
/// the `/` before it, the rest a glob over keys relative to that prefix, where `*` and
/// `?` stay within one `/`-separated level and `**` spans levels (`s3://b/d/**/x.npz`).
/// Without a wildcard, `uri` is the prefix and `pattern` (a `--pattern`) the filter.
pub fn select(uri: &str, pattern: Option<&str>) -> CliResult<Selection> {
    let body = uri.find("://").map_or(0, |i| i + 3);
    let Some(at) = uri[body..].find(['*', '?', '[']).map(|i| body + i) else {
        return Ok(Selection {
            prefix: uri.to_string(),
            pattern: compile_pattern(pattern)?,
            deep: false,
            wildcard: false,
        });
    };
    if pattern.is_some() {
        return Err(Failure::Usage(format!(
            "{uri}: select objects with a wildcard or with --pattern, not both"
        )));
    }
    let cut = uri[..at].rfind('/').map_or(at, |i| i + 1);
    let glob = &uri[cut..];
    let regex = glob_regex(glob).map_err(|why| Failure::Usage(format!("{uri}: bad wildcard: {why}")))?;
    Ok(Selection {
        prefix: uri[..cut].to_string(),
        pattern: Some(Regex::new(&regex).map_err(|e| Failure::Usage(format!("{uri}: bad wildcard: {e}")))?),
        deep: glob.contains('/') || glob.contains("**"),
        wildcard: true,
    })
}

/// A glob as an anchored regular expression over relative keys: `**` any run of
/// characters, `*` any run without `/`, `?` one character but `/`, `[...]` (`[!...]`
/// negated) a class; everything else literal.
fn glob_regex(glob: &str) -> Result<String, String> {
    let mut out = String::from("^");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                // `**/` also matches no directory at all.
                if chars.peek() == Some(&'/') {
                    chars.next();
                    out.push_str("(?:.*/)?");
                } else {
                    out.push_str(".*");
                }
            }
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            '[' => {
                let mut class = String::from("[");
                if chars.peek() == Some(&'!') {
                    chars.next();
                    class.push('^');
                }
                loop {
                    match chars.next() {
                        Some(']') if class.len() > 1 && class != "[^" => break,
                        Some('\\') => class.push_str("\\\\"),
                        Some(ch) => class.push(ch),
                        None => return Err(format!("{glob:?} has a `[` without its `]`")),
                    }
                }
                class.push(']');
                out.push_str(&class);
            }
            other => out.push_str(&regex::escape(other.encode_utf8(&mut [0; 4]))),
        }
    }
    out.push('$');
    Ok(out)
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
    fn wildcards_split_into_a_prefix_and_a_glob_over_relative_keys() {
        let s = select("s3://b/data/*.npz", None).unwrap();
        assert_eq!(
            (s.prefix.as_str(), s.deep, s.wildcard),
            ("s3://b/data/", false, true)
        );
        let re = s.pattern.unwrap();
        assert!(re.is_match("a.npz") && !re.is_match("sub/a.npz") && !re.is_match("a.npzx"));
        let s = select("s3://b/data/**/x?.bin", None).unwrap();
        let re = s.pattern.unwrap();
        assert!(s.deep && re.is_match("x1.bin") && re.is_match("p/q/x2.bin") && !re.is_match("p/x12.bin"));
        let s = select("s3://b/part-[!0]*", None).unwrap();
        let re = s.pattern.unwrap();
        assert_eq!(s.prefix, "s3://b/");
        assert!(re.is_match("part-1.parquet") && !re.is_match("part-0.parquet"));
        let s = select("s3://b/p/", Some("x$")).unwrap();
        assert!(!s.wildcard && !s.deep && s.prefix == "s3://b/p/" && s.pattern.is_some());
        assert!(select("s3://b/[ab", None).is_err());
        assert!(select("s3://b/*", Some("x")).is_err());
        // A literal dot or plus is not a regex operator.
        assert!(
            select("s3://b/a+b.*", None)
                .unwrap()
                .pattern
                .unwrap()
                .is_match("a+b.c")
        );
    }

    #[test]
    fn patterns_match_the_relative_key() {
        let re = Regex::new(r"^a/.*\.npz$").unwrap();
        assert!(matches(Some(&re), "s3://b/p/", "s3://b/p/a/x.npz"));
        assert!(!matches(Some(&re), "s3://b/p/", "s3://b/p/b/a/x.npz"));
        assert!(matches(None, "s3://b/p/", "anything"));
    }
}
