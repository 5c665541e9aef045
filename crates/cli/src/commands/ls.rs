//! `ls` and `list-buckets`.

use futures::StreamExt;
use serde_json::json;

use s3dlio::{ListEntry, ObjectMeta};

use super::{Ctx, store};
use crate::args::LsArgs;
use crate::failure::{CliResult, Failure};
use crate::output::Out;
use crate::progress::Progress;
use crate::target::{Selection, matches, select, to_uri};

pub async fn ls(args: &LsArgs, ctx: Ctx, out: &mut Out) -> CliResult {
    let Selection {
        prefix: uri,
        pattern,
        deep,
        ..
    } = select(&to_uri(&args.uri)?, args.pattern.as_deref())?;
    let store = store(&uri)?;
    let progress = Progress::objects(ctx.progress && args.count_only, None);
    let mut entries = store.list_stream(&uri, args.recursive || deep);
    let mut count = 0u64;
    while let Some(entry) = entries.next().await {
        let entry = entry?;
        if !matches(pattern.as_ref(), &uri, entry.uri()) {
            continue;
        }
        count += 1;
        if args.count_only {
            progress.inc(1);
        } else if out.json {
            out.json_line(&entry_json(&entry)).await?;
        } else {
            out.line(&entry_line(&entry, args.long)).await?;
        }
    }
    progress.finish();
    if args.count_only {
        // The count is the answer, 0 included.
        if out.json {
            out.json_line(&json!({ "uri": uri, "count": count })).await?;
        } else {
            out.line(&count.to_string()).await?;
        }
    } else if count == 0 {
        return Err(Failure::NothingMatched(format!("ls {}", args.uri)));
    }
    Ok(())
}

pub async fn list_buckets(uri: &str, out: &mut Out) -> CliResult {
    let uri = to_uri(uri)?;
    for bucket in store(&uri)?.list_containers(&uri).await? {
        if out.json {
            out.json_line(&json!({ "uri": bucket })).await?;
        } else {
            out.line(&bucket).await?;
        }
    }
    Ok(())
}

fn entry_json(entry: &ListEntry) -> serde_json::Value {
    match entry {
        ListEntry::Object(m) => json!({
            "uri": m.uri,
            "size": m.size,
            "last_modified": m.last_modified.map(|t| humantime::format_rfc3339_millis(t).to_string()),
            "e_tag": m.e_tag,
        }),
        ListEntry::Prefix(p) => json!({ "uri": p, "prefix": true }),
    }
}

fn entry_line(entry: &ListEntry, long: bool) -> String {
    match (entry, long) {
        (_, false) => entry.uri().to_string(),
        (ListEntry::Object(m), true) => long_line(m),
        (ListEntry::Prefix(p), true) => format!("{:>14}  {:20}  {:34}  {p}", "PRE", "", ""),
    }
}

fn long_line(m: &ObjectMeta) -> String {
    let mtime = m
        .last_modified
        .map(|t| humantime::format_rfc3339_seconds(t).to_string())
        .unwrap_or_default();
    format!(
        "{:>14}  {mtime:20}  {:34}  {}",
        m.size,
        m.e_tag.as_deref().unwrap_or(""),
        m.uri
    )
}
