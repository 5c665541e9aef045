//! `get` (read and discard: a read benchmark) and `cat` (to stdout).

use std::time::Instant;

use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use serde_json::json;

use s3dlio::{ObjectHint, ObjectMeta, Operation};

use super::{Ctx, store, stores};
use crate::args::{GetArgs, RangeArgs};
use crate::failure::{CliResult, Failure};
use crate::output::{Out, mb_per_s};
use crate::progress::Progress;
use s3dlio::transfer::{Plan, Span};

use crate::target::{as_prefix, objects_under, select, to_uri};
use crate::transfer::{Report, read_discard, run_jobs};

/// Where a multi-object `get` finds its objects.
enum Source {
    /// URIs from a file, and the file's name.
    Keylist(Vec<String>, String),
    /// A listing of the prefix.
    Listing(std::sync::Arc<dyn s3dlio::ObjectStore>),
}

/// Objects to read: URI and, from a listing, what the engine needs to skip its probe.
type Items<'a> = BoxStream<'a, s3dlio::Result<(String, Option<ObjectHint>)>>;

/// `--offset/--length` as a span; `None` when neither is given.
pub fn span(range: RangeArgs) -> Span {
    range.is_set().then(|| (range.offset.unwrap_or(0), range.length))
}

pub async fn get(args: &GetArgs, ctx: Ctx, out: &mut Out) -> CliResult {
    let uri = args.uri.as_deref().map(to_uri).transpose()?;
    let selection = uri.as_deref().map(|u| select(u, None)).transpose()?;
    let wildcard = selection.as_ref().is_some_and(|s| s.wildcard);
    let prefix_arg = uri.as_deref().is_some_and(|u| u.ends_with('/'));
    if (args.keylist.is_some() || args.recursive || wildcard || prefix_arg) && args.range.is_set() {
        return Err(Failure::Usage(
            "--offset/--length read a range of one object; they cannot be used with a prefix, a wildcard, -r or --keylist".into(),
        ));
    }
    if prefix_arg && !args.recursive && args.keylist.is_none() {
        let u = uri.as_deref().unwrap_or_default();
        return Err(Failure::Usage(format!(
            "{u} is a prefix: read everything under it with -r, or name its objects with a wildcard (`{u}*`)"
        )));
    }
    let many = args.keylist.is_some() || args.recursive || wildcard;
    if !many {
        let uri = uri.ok_or_else(|| Failure::Usage("get needs a URI or --keylist FILE".into()))?;
        return get_one(&uri, span(args.range), ctx, out).await;
    }
    let plan = Plan::for_jobs(args.jobs);
    // A listing gives each object's size, so a total that grows as it goes; a keylist not.
    let progress = Progress::bytes(ctx.progress, args.keylist.is_none().then_some(0));
    let started = Instant::now();
    let (prefix, pattern, deep) = match selection {
        Some(s) => (as_prefix(&s.prefix), s.pattern, args.recursive || s.deep),
        None => (String::new(), None, false),
    };
    let source = match &args.keylist {
        Some(file) => {
            let text = tokio::fs::read_to_string(file)
                .await
                .map_err(|e| Failure::Local(format!("reading keylist {}", file.display()), e))?;
            Source::Keylist(keylist_uris(&text, uri.as_deref())?, file.display().to_string())
        }
        None => Source::Listing(store(&prefix)?),
    };
    let (items, label): (Items<'_>, String) = match &source {
        Source::Keylist(uris, file) => (
            stream::iter(uris.iter().map(|u| Ok((u.clone(), None)))).boxed(),
            file.clone(),
        ),
        Source::Listing(store) => {
            let listed = objects_under(&**store, &prefix, deep, pattern.as_ref()).map_ok(|m| {
                progress.add_total(m.size);
                let h = hint(&m);
                (m.uri, Some(h))
            });
            (listed.boxed(), uri.clone().unwrap_or_else(|| prefix.clone()))
        }
    };
    let stores = stores();
    let tally = run_jobs(items, args.jobs, &progress, |(uri, hint)| {
        let (plan, progress) = (&plan, &progress);
        async move {
            let result = match stores.get(&uri) {
                Ok(s) => read_discard(&*s, &uri, None, hint, plan, progress).await,
                Err(e) => Err(e),
            };
            (uri, result)
        }
    })
    .await?;
    progress.finish();
    if tally.objects == 0 && tally.failures.is_empty() {
        return Err(Failure::NothingMatched(format!("get {label}")));
    }
    tally.report("get", started, out, Operation::Get, &label).await
}

async fn get_one(uri: &str, span: Span, ctx: Ctx, out: &mut Out) -> CliResult {
    let store = store(uri)?;
    let plan = Plan::for_jobs(1);
    let progress = Progress::bytes(ctx.progress, None);
    let started = Instant::now();
    let bytes = read_discard(&*store, uri, span, None, &plan, &progress).await?;
    let elapsed = started.elapsed();
    progress.finish();
    let offset = span.map_or(0, |(o, _)| o);
    let rate = mb_per_s(bytes, elapsed);
    if out.json {
        return out
            .json_line(&json!({
                "uri": uri,
                "offset": offset,
                "bytes": bytes,
                "seconds": elapsed.as_secs_f64(),
                "mb_per_s": rate,
            }))
            .await;
    }
    let what = if span.is_some() {
        format!("{uri} bytes {offset}..{}", offset + bytes)
    } else {
        uri.to_string()
    };
    out.line(&format!(
        "{what}: {bytes} bytes in {:.3} s ({rate:.1} MB/s)",
        elapsed.as_secs_f64()
    ))
    .await
}

/// Streams an object (or a range) to stdout in order, as chunks arrive.
pub async fn cat(uri: &str, range: RangeArgs) -> CliResult {
    let uri = to_uri(uri)?;
    let store = store(&uri)?;
    let plan = Plan::for_jobs(1);
    let mut out = Out::new(false);
    let mut chunks = store.get_stream(&uri, plan.read(span(range), None));
    while let Some(chunk) = chunks.next().await {
        out.bytes(&chunk?).await?;
    }
    out.flush().await
}

/// A listing's size and ETag let the engine skip its probe and pin every chunk.
pub fn hint(m: &ObjectMeta) -> ObjectHint {
    ObjectHint::from(m)
}

/// The URIs of a keylist: one per line, blank lines and `#` comments skipped; a line
/// without a scheme is a key under `base`.
fn keylist_uris(text: &str, base: Option<&str>) -> CliResult<Vec<String>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            if line.contains("://") {
                Ok(line.to_string())
            } else {
                base.map(|b| format!("{}{line}", as_prefix(b))).ok_or_else(|| {
                    Failure::Usage(format!(
                        "keylist line {line:?} is a bare key: give full URIs, or a prefix URI for the keys to live under"
                    ))
                })
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keylists_take_full_uris_and_keys_under_a_base() {
        let text = "# shards\ns3://b/x\n\n  y/z  \n";
        assert_eq!(
            keylist_uris(text, Some("memory://m/p")).unwrap(),
            ["s3://b/x", "memory://m/p/y/z"]
        );
        assert!(keylist_uris(text, None).is_err());
    }
}
