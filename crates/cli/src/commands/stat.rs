//! `stat`: one object's metadata, as aligned `key : value` lines or JSON.

use serde_json::json;

use super::store;
use crate::failure::CliResult;
use crate::output::Out;
use crate::size::human_bytes;
use crate::target::to_uri;

pub async fn stat(uri: &str, out: &mut Out) -> CliResult {
    let uri = to_uri(uri)?;
    let m = store(&uri)?.stat(&uri).await?;
    let mtime = m
        .last_modified
        .map(|t| humantime::format_rfc3339_millis(t).to_string());
    if out.json {
        return out
            .json_line(&json!({
                "uri": m.uri,
                "size": m.size,
                "last_modified": mtime,
                "e_tag": m.e_tag,
                "content_type": m.content_type,
                "storage_class": m.storage_class,
                "version": m.version,
                "metadata": m.metadata,
            }))
            .await;
    }
    let mut rows: Vec<(String, String)> = vec![
        ("uri".into(), m.uri.clone()),
        ("size".into(), format!("{} ({})", m.size, human_bytes(m.size))),
    ];
    let optional = [
        ("last_modified", mtime),
        ("e_tag", m.e_tag.clone()),
        ("content_type", m.content_type.clone()),
        ("storage_class", m.storage_class.clone()),
        ("version", m.version.clone()),
    ];
    rows.extend(
        optional
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), v))),
    );
    rows.extend(
        m.metadata
            .iter()
            .map(|(k, v)| (format!("metadata.{k}"), v.clone())),
    );
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, value) in rows {
        out.line(&format!("{key:width$} : {value}")).await?;
    }
    Ok(())
}
