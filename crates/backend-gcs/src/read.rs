//! Media reads: one ranged GET whose headers carry what a read needs besides the bytes
//! (total size in `Content-Range`, the generation in `x-goog-generation`), so no read
//! takes a metadata request first. `gcloud-storage` returns a download's body only,
//! so this request is sent here, through the same client, pool, retries and token.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{ACCEPT_ENCODING, AUTHORIZATION, HeaderMap, RANGE};
use s3dlio_core::wire::{collect_body, parse_content_range};
use s3dlio_core::{GetResult, ObjectMeta, Operation, Result};

use crate::client::Shared;
use crate::error::{body_error, from_status, map_transport};

/// The characters an object name keeps in a URL path segment (RFC 3986 unreserved).
const NAME: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub(crate) fn escape(name: &str) -> String {
    utf8_percent_encode(name, NAME).to_string()
}

/// `GET …/o/NAME?alt=media` with `range` (`bytes=…`), pinned to `generation` when given;
/// `None` for 416 (the range is past the end, or the object is empty).
pub(crate) async fn get(
    shared: &Shared,
    op: Operation,
    uri: &str,
    (bucket, name): (&str, &str),
    range: Option<String>,
    generation: Option<&str>,
) -> Result<Option<GetResult>> {
    let url = format!("{}/b/{}/o/{}", shared.v1, escape(bucket), escape(name));
    let mut query = vec![("alt", "media")];
    if let Some(g) = generation {
        query.push(("ifGenerationMatch", g));
    }
    // Asking for gzip keeps GCS from decompressing objects stored gzip-encoded, so the
    // bytes and the sizes are those stored (and ranges apply to them).
    let mut req = shared.http.get(url).query(&query).header(ACCEPT_ENCODING, "gzip");
    if let Some(r) = range {
        req = req.header(RANGE, r);
    }
    if let Some(token) = shared.authorization(op, uri).await? {
        req = req.header(AUTHORIZATION, token);
    }
    let resp = req.send().await.map_err(|e| map_transport(op, uri, e))?;
    let status = resp.status().as_u16();
    if status == 416 {
        return Ok(None);
    }
    if status >= 400 {
        let body = resp.text().await.unwrap_or_default();
        let message = service_message(&body);
        return Err(from_status(op, uri, status, message.clone(), message.into()));
    }
    let len = resp.content_length().unwrap_or(0);
    let (range, total) = header(resp.headers(), "content-range")
        .and_then(parse_content_range)
        .unwrap_or((0..len, len));
    let meta = meta_from_headers(uri, total, resp.headers());
    let data = collect_body(
        resp.bytes_stream(),
        (range.end - range.start) as usize,
        op,
        uri,
        |e| body_error(op, uri, e),
    )
    .await?;
    Ok(Some(GetResult { data, range, meta }))
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// A JSON API error body: `{"error": {"code": 404, "message": "..."}}`.
#[derive(serde::Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(serde::Deserialize)]
struct ErrorDetail {
    message: String,
}

/// The `message` of a JSON error body, else the body itself (emulators answer in text).
fn service_message(body: &str) -> String {
    let parsed = serde_json::from_str::<ErrorBody>(body).ok();
    let m = parsed.as_ref().map_or(body, |b| b.error.message.as_str()).trim();
    if m.is_empty() {
        "no message".into()
    } else {
        m.chars().take(300).collect()
    }
}

fn meta_from_headers(uri: &str, size: u64, h: &HeaderMap) -> ObjectMeta {
    let text = |name| header(h, name).map(str::to_string);
    let generation = text("x-goog-generation");
    ObjectMeta {
        uri: uri.to_string(),
        size,
        last_modified: header(h, "last-modified").and_then(|d| httpdate::parse_http_date(d).ok()),
        e_tag: generation.clone(),
        content_type: text("content-type"),
        storage_class: text("x-goog-storage-class"),
        version: generation,
        metadata: h
            .iter()
            .filter_map(|(k, v)| {
                let key = k.as_str().strip_prefix("x-goog-meta-")?;
                Some((key.to_string(), v.to_str().ok()?.to_string()))
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_path_segment_and_messages_are_read() {
        assert_eq!(escape("a/b c+d%.txt"), "a%2Fb%20c%2Bd%25.txt");
        assert_eq!(
            service_message(r#"{"error":{"code":404,"message":"No such object: b/k"}}"#),
            "No such object: b/k"
        );
        assert_eq!(
            service_message(r#"{"error":{"message":"say \"hi\"","code":400}}"#),
            "say \"hi\"",
            "escaped quotes are read, not cut"
        );
        assert_eq!(service_message("Not Found\n"), "Not Found");
        assert_eq!(service_message(""), "no message");
    }
}
