//! `rm`, `mb` and `rb`.

use std::time::Instant;

use futures::TryStreamExt;
use serde_json::json;

use s3dlio::{BatchFailure, DELETE_PAGE, Error, Operation};

use super::{Ctx, store};
use crate::args::RmArgs;
use crate::failure::{CliResult, Failure};
use crate::output::Out;
use crate::progress::Progress;
use crate::target::{as_prefix, objects_under, select, to_uri};
use crate::transfer::{Report, Tally, dry_run};

pub async fn rm(args: &RmArgs, ctx: Ctx, out: &mut Out) -> CliResult {
    let uri = to_uri(&args.uri)?;
    let selection = select(&uri, args.pattern.as_deref())?;
    if !args.recursive && !selection.wildcard {
        if uri.ends_with('/') || args.pattern.is_some() {
            return Err(Failure::Usage(format!(
                "{uri}: deleting a prefix (or by --pattern) needs -r"
            )));
        }
        let store = store(&uri)?;
        // Deleting a missing key succeeds on object stores; say it was not there, as the
        // delete the user asked for (the stat is ours).
        store.stat(&uri).await.map_err(|e| match e {
            Error::NotFound { uri, source, .. } => Error::NotFound {
                op: Operation::Delete,
                uri,
                source,
            },
            e => e,
        })?;
        if args.dry_run {
            return out.line(&format!("would delete {uri}")).await;
        }
        store.delete(&uri).await?;
        return if out.json {
            out.json_line(&json!({ "deleted": uri })).await
        } else {
            out.line(&format!("deleted {uri}")).await
        };
    }
    // -r deletes everything below; a wildcard alone, what it reaches.
    let deep = args.recursive || selection.deep;
    let (prefix, pattern) = (as_prefix(&selection.prefix), selection.pattern);
    let store = store(&prefix)?;
    if args.dry_run {
        let listed = objects_under(&*store, &prefix, deep, pattern.as_ref());
        return dry_run(
            listed.map_ok(|m| format!("would delete {}", m.uri)),
            &args.uri,
            out,
        )
        .await;
    }
    let progress = Progress::objects(ctx.progress, None);
    let started = Instant::now();
    // Pages of keys go to `delete_batch` (one DeleteObjects call per page on S3), a few
    // pages at once; a page's refused keys are collected and the rest go on.
    let mut pages = std::pin::pin!(
        objects_under(&*store, &prefix, deep, pattern.as_ref())
            .map_ok(|m| (m.uri, m.size))
            .try_chunks(DELETE_PAGE)
            .map_err(|e| e.1)
            .map_ok(|page| {
                let store = &store;
                let progress = &progress;
                async move {
                    let uris: Vec<String> = page.iter().map(|(u, _)| u.clone()).collect();
                    let bytes: u64 = page.iter().map(|(_, s)| s).sum();
                    let result = store.delete_batch(&uris).await;
                    progress.inc(uris.len() as u64);
                    Ok::<_, Error>((uris, bytes, result))
                }
            })
            .try_buffer_unordered(args.jobs.max(1))
    );
    let mut tally = Tally::default();
    while let Some((uris, bytes, result)) = pages.try_next().await? {
        match result {
            Ok(()) => {
                tally.objects += uris.len() as u64;
                tally.bytes += bytes;
            }
            Err(Error::Batch {
                succeeded, failures, ..
            }) => {
                tally.objects += succeeded as u64;
                tally.failures.extend(failures);
            }
            Err(error) => tally.failures.push(BatchFailure {
                uri: uris.first().cloned().unwrap_or_default(),
                error,
            }),
        }
    }
    progress.finish();
    if tally.objects == 0 && tally.failures.is_empty() {
        return Err(Failure::NothingMatched(format!("rm {}", args.uri)));
    }
    tally.report("rm", started, out, Operation::Delete, &prefix).await
}

pub async fn make_bucket(uri: &str, out: &mut Out) -> CliResult {
    let uri = to_uri(uri)?;
    store(&uri)?.create_container(&uri).await?;
    report(out, "created", &uri).await
}

pub async fn remove_bucket(uri: &str, out: &mut Out) -> CliResult {
    let uri = to_uri(uri)?;
    store(&uri)?.delete_container(&uri).await?;
    report(out, "removed", &uri).await
}

async fn report(out: &mut Out, what: &str, uri: &str) -> CliResult {
    if out.json {
        out.json_line(&json!({ what: uri })).await
    } else {
        out.line(&format!("{what} {uri}")).await
    }
}
