//! Endpoint lists as users write them: a list, a template (`http://10.0.0.{1...8}:9000`),
//! a file, or the environment, and the balancing strategy by name.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use s3dlio_core::env::EnvReader;
use s3dlio_core::{Error, Operation, Result, Scheme};

/// Comma-separated endpoints (URLs, store URIs or templates), as the original reads it.
pub const ENV_URIS: &str = "S3_ENDPOINT_URIS";
/// One template, read when [`ENV_URIS`] is unset.
pub const ENV_TEMPLATE: &str = "S3_ENDPOINT_TEMPLATE";
/// A file of endpoints, read when neither of the above is set.
pub const ENV_FILE: &str = "S3_ENDPOINT_FILE";
/// `round_robin` (default) or `least_connections`.
pub const ENV_STRATEGY: &str = "S3_LOAD_BALANCE_STRATEGY";

/// How a request picks its endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Each request takes the next endpoint in turn.
    #[default]
    RoundRobin,
    /// Each request takes the endpoint with the fewest requests in flight (ties in turn).
    LeastConnections,
}

impl FromStr for Strategy {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "round_robin" | "roundrobin" => Ok(Strategy::RoundRobin),
            "least_connections" | "leastconnections" => Ok(Strategy::LeastConnections),
            _ => Err(invalid(
                s,
                "unknown load-balancing strategy; use round_robin or least_connections",
            )),
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strategy::RoundRobin => "round_robin",
            Strategy::LeastConnections => "least_connections",
        })
    }
}

/// Every `{a...b}` range of `template` expanded, left to right, into one string per
/// combination; a bound written with a leading zero (`{01...16}`) pads to its width.
/// A template without braces is itself.
///
/// ```
/// use s3dlio_endpoints::expand_template;
/// assert_eq!(
///     expand_template("http://10.0.0.{1...3}:9000").unwrap(),
///     ["http://10.0.0.1:9000", "http://10.0.0.2:9000", "http://10.0.0.3:9000"],
/// );
/// assert_eq!(expand_template("s3://gw{08...10}:80/b/").unwrap()[0], "s3://gw08:80/b/");
/// ```
pub fn expand_template(template: &str) -> Result<Vec<String>> {
    let Some(open) = template.find('{') else {
        return Ok(vec![template.to_string()]);
    };
    let close = template[open..]
        .find('}')
        .map(|i| open + i)
        .ok_or_else(|| invalid(template, "a `{` without its `}`; write a range as {1...8}"))?;
    let (lo, hi) = template[open + 1..close]
        .split_once("...")
        .ok_or_else(|| invalid(template, "a range is written {FIRST...LAST}, e.g. {1...8}"))?;
    let bound = |s: &str| {
        s.parse::<u64>()
            .map_err(|_| invalid(template, &format!("{s:?} is not a number in {{FIRST...LAST}}")))
    };
    let (first, last) = (bound(lo)?, bound(hi)?);
    if first > last {
        return Err(invalid(template, "the range's first number is above its last"));
    }
    let width = if lo.len() > 1 && lo.starts_with('0') {
        lo.len()
    } else {
        0
    };
    let (head, tail) = (&template[..open], &template[close + 1..]);
    let mut out = Vec::new();
    for n in first..=last {
        for rest in expand_template(tail)? {
            out.push(format!("{head}{n:0width$}{rest}"));
        }
    }
    Ok(out)
}

/// Endpoints from a comma- or whitespace-separated list whose items may be templates.
pub fn parse_list(list: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for item in list
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
    {
        out.extend(expand_template(item)?);
    }
    Ok(out)
}

/// Endpoints from a file: one per line (a line may be a template); blank lines and
/// lines starting with `#` are skipped.
pub fn read_file(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        op: Operation::Open,
        uri: path.display().to_string(),
        source,
    })?;
    let mut out = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        out.extend(expand_template(line)?);
    }
    Ok(out)
}

/// The endpoints and strategy the environment names ([`ENV_URIS`], else
/// [`ENV_TEMPLATE`], else [`ENV_FILE`]; [`ENV_STRATEGY`]), or `None` when it names no
/// endpoints.
pub fn from_reader<F: Fn(&str) -> Option<String>>(
    env: &EnvReader<F>,
) -> Result<Option<(Vec<String>, Strategy)>> {
    let strategy = match env.raw(ENV_STRATEGY) {
        Some(s) => s.parse().map_err(|e| named(ENV_STRATEGY, e))?,
        None => Strategy::default(),
    };
    let list = if let Some(v) = env.raw(ENV_URIS) {
        parse_list(&v).map_err(|e| named(ENV_URIS, e))?
    } else if let Some(v) = env.raw(ENV_TEMPLATE) {
        expand_template(v.trim()).map_err(|e| named(ENV_TEMPLATE, e))?
    } else if let Some(v) = env.raw(ENV_FILE) {
        read_file(Path::new(&v)).map_err(|e| named(ENV_FILE, e))?
    } else {
        return Ok(None);
    };
    Ok(Some((list, strategy)))
}

/// An endpoint as the layer keeps it: the URI prefix its requests go under, and, for an
/// S3 endpoint given as a URL, the URL's scheme (`http`/`https`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Normalized {
    pub base: String,
    pub url_scheme: Option<&'static str>,
}

/// `http(s)://host[:port][/]` becomes the S3 service root `s3://host:port/`; a store URI
/// (`s3://host:port/bucket/prefix`, `file:///mnt/a`, `az://...`) becomes a prefix
/// ending in `/`.
pub(crate) fn normalize(spec: &str) -> Result<Normalized> {
    let spec = spec.trim();
    let url = [("http://", "http", 80), ("https://", "https", 443)]
        .into_iter()
        .find_map(|(prefix, scheme, port)| spec.strip_prefix(prefix).map(|rest| (rest, scheme, port)));
    // An Azure portal URL (https://ACCOUNT.blob.core.windows.net/container) is a store URI.
    let azure = |rest: &str| {
        let host = rest.split(['/', ':']).next().unwrap_or_default();
        host.to_ascii_lowercase().ends_with(".blob.core.windows.net")
    };
    if let Some((rest, url_scheme, default_port)) = url
        && !azure(rest)
    {
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() || authority.contains('/') {
            return Err(invalid(
                spec,
                "an endpoint URL is scheme://host:port; put the bucket in the object URIs, or give the endpoint as s3://host:port/bucket/",
            ));
        }
        let authority = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            authority.to_string()
        } else {
            format!("{authority}:{default_port}")
        };
        return Ok(Normalized {
            base: format!("s3://{authority}/"),
            url_scheme: Some(url_scheme),
        });
    }
    if Scheme::of(spec).is_none() {
        return Err(invalid(
            spec,
            "an endpoint is http(s)://host:port or a store URI such as s3://host:port/bucket/ or file:///mnt/a/",
        ));
    }
    let base = if spec.ends_with('/') {
        spec.to_string()
    } else {
        format!("{spec}/")
    };
    // A prefix must parse as a URI of its scheme (a service root such as s3://host:port/ too).
    if !is_service_root(&base) {
        s3dlio_core::ObjectUri::parse(&base)?;
    }
    Ok(Normalized {
        base,
        url_scheme: None,
    })
}

/// `s3://host:port/`: an S3 endpoint that serves every bucket.
pub(crate) fn is_service_root(base: &str) -> bool {
    base.strip_prefix("s3://")
        .and_then(|rest| rest.strip_suffix('/'))
        .is_some_and(|authority| !authority.is_empty() && !authority.contains('/') && authority.contains(':'))
}

pub(crate) fn invalid(what: &str, message: &str) -> Error {
    Error::InvalidArgument {
        op: Operation::Open,
        uri: what.to_string(),
        message: message.to_string(),
    }
}

fn named(var: &str, e: Error) -> Error {
    match e {
        Error::InvalidArgument { op, uri, message } => Error::InvalidArgument {
            op,
            uri,
            message: format!("{var}: {message}"),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_expand_every_range_in_order() {
        assert_eq!(
            expand_template("http://h{1...2}.x{0...1}:9000").unwrap(),
            [
                "http://h1.x0:9000",
                "http://h1.x1:9000",
                "http://h2.x0:9000",
                "http://h2.x1:9000"
            ]
        );
        assert_eq!(expand_template("{9...11}").unwrap(), ["9", "10", "11"]);
        for bad in ["h{1...", "h{1..3}", "h{a...3}", "h{3...1}"] {
            let e = expand_template(bad).unwrap_err().to_string();
            assert!(e.contains(bad) && e.contains("{"), "{bad}: {e}");
        }
    }

    #[test]
    fn lists_and_files_skip_blanks_and_comments() {
        assert_eq!(
            parse_list(" http://a:1, http://b:{2...3} ").unwrap(),
            ["http://a:1", "http://b:2", "http://b:3"]
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("eps.txt");
        std::fs::write(&path, "# gateways\nhttp://a:1\n\n  s3://b:2/bucket/  \n").unwrap();
        assert_eq!(read_file(&path).unwrap(), ["http://a:1", "s3://b:2/bucket/"]);
        let e = read_file(&dir.path().join("missing")).unwrap_err().to_string();
        assert!(e.contains("missing"), "{e}");
    }

    #[test]
    fn the_environment_names_a_list_a_template_or_a_file() {
        let env = EnvReader::from_pairs;
        assert_eq!(from_reader(&env(&[])).unwrap(), None);
        let (list, strategy) = from_reader(&env(&[
            (ENV_TEMPLATE, "http://10.0.0.{1...2}:80"),
            (ENV_STRATEGY, "least_connections"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!((list.len(), strategy), (2, Strategy::LeastConnections));
        let e = from_reader(&env(&[(ENV_URIS, "http://a:1"), (ENV_STRATEGY, "fastest")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains(ENV_STRATEGY) && e.contains("least_connections"), "{e}");
    }

    #[test]
    fn urls_become_s3_roots_and_uris_become_prefixes() {
        let n = normalize("http://127.0.0.1:9000").unwrap();
        assert_eq!(
            (n.base.as_str(), n.url_scheme),
            ("s3://127.0.0.1:9000/", Some("http"))
        );
        assert_eq!(
            normalize("https://gw.example/").unwrap().base,
            "s3://gw.example:443/"
        );
        assert_eq!(normalize("file:///mnt/a").unwrap().base, "file:///mnt/a/");
        assert_eq!(normalize("s3://h:1/b/p").unwrap().base, "s3://h:1/b/p/");
        let az = normalize("https://acct.blob.core.windows.net/c").unwrap();
        assert_eq!(
            (az.base.as_str(), az.url_scheme),
            ("https://acct.blob.core.windows.net/c/", None)
        );
        for bad in ["http://h:1/bucket", "ftp://h/", "10.0.0.1:9000"] {
            let e = normalize(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{bad}: {e}");
        }
    }

    #[test]
    fn strategies_parse_by_name() {
        assert_eq!("round-robin".parse::<Strategy>().unwrap(), Strategy::RoundRobin);
        assert_eq!(
            "LEAST_CONNECTIONS".parse::<Strategy>().unwrap(),
            Strategy::LeastConnections
        );
        assert_eq!(Strategy::LeastConnections.to_string(), "least_connections");
        assert!("random".parse::<Strategy>().is_err());
    }
}
