//! `uploads`: unfinished multipart uploads under a prefix, listed or aborted.

use std::time::SystemTime;

use futures::TryStreamExt;
use serde_json::json;

use s3dlio::{ObjectStoreExt, PendingUpload};

use super::store;
use crate::args::UploadsArgs;
use crate::failure::CliResult;
use crate::output::Out;
use crate::target::to_uri;

pub async fn uploads(args: &UploadsArgs, out: &mut Out) -> CliResult {
    let uri = to_uri(&args.uri)?;
    let store = store(&uri)?;
    let found = match args.abort {
        true => store.abort_uploads(&uri, args.older_than).await?,
        false => {
            let cutoff = args.older_than.map(|age| SystemTime::now() - age);
            store
                .list_uploads(&uri)
                .try_filter(|u| {
                    std::future::ready(cutoff.is_none_or(|c| u.initiated.is_some_and(|t| t <= c)))
                })
                .try_collect()
                .await?
        }
    };
    for upload in &found {
        if out.json {
            out.json_line(&upload_json(upload, args.abort)).await?;
        } else {
            out.line(&upload_line(upload, args.abort)).await?;
        }
    }
    Ok(())
}

fn started(u: &PendingUpload) -> String {
    u.initiated
        .map(|t| humantime::format_rfc3339_seconds(t).to_string())
        .unwrap_or_else(|| "-".into())
}

fn upload_json(u: &PendingUpload, aborted: bool) -> serde_json::Value {
    json!({
        "uri": u.uri,
        "upload_id": u.upload_id,
        "initiated": u.initiated.map(|t| humantime::format_rfc3339_seconds(t).to_string()),
        "aborted": aborted,
    })
}

fn upload_line(u: &PendingUpload, aborted: bool) -> String {
    let verb = if aborted { "aborted " } else { "" };
    format!("{verb}{}  {}  {}", started(u), u.uri, u.upload_id)
}
