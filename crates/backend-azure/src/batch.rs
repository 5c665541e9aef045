//! Blob Batch: up to 256 deletes in one request. The body is `multipart/mixed`, one
//! HTTP sub-request per part, each authorized on its own (signed with the account key,
//! or carrying the SAS in its URL); the response holds one sub-response per part.

use azure_core::error::ErrorKind;
use azure_core::http::headers::Headers;
use azure_core::http::{Method, Request, StatusCode, Url};
use s3dlio_core::{Error, Operation, Result};

use crate::client::{Account, BatchAuth};
use crate::error::map_error;

/// Sub-requests one batch may hold.
pub(crate) const BATCH_MAX: usize = 256;

/// Deletes `blobs` (their URIs and blob URLs, all in `account`) in one request; returns
/// each blob's outcome in order. Deleting a missing blob succeeds.
pub(crate) async fn delete(
    account: &Account,
    auth: &BatchAuth,
    blobs: &[(&str, Url)],
) -> Result<Vec<Result<()>>> {
    let first = blobs.first().map_or("", |(uri, _)| *uri);
    let failed = |e: azure_core::Error| map_error(Operation::Delete, first, e);
    let boundary = format!("batch_{:032x}", rand::random::<u128>());
    let mut body = String::new();
    for (i, (_, url)) in blobs.iter().enumerate() {
        let mut sub = Request::new(url.clone(), Method::Delete);
        if let BatchAuth::SharedKey(signer) = auth {
            signer.sign(&mut sub).map_err(failed)?;
        }
        body.push_str(&format!(
            "--{boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\
             Content-ID: {i}\r\n\r\nDELETE {} HTTP/1.1\r\n",
            sub.path_and_query()
        ));
        for (name, value) in sub.headers().iter() {
            body.push_str(&format!("{}: {}\r\n", name.as_str(), value.as_str()));
        }
        body.push_str("Content-Length: 0\r\n\r\n");
    }
    body.push_str(&format!("--{boundary}--\r\n"));

    let mut url = account.service.url().clone();
    url.query_pairs_mut().append_pair("comp", "batch");
    let mut request = Request::new(url, Method::Post);
    request.insert_header("x-ms-version", account.version.clone());
    request.insert_header("content-type", format!("multipart/mixed; boundary={boundary}"));
    request.set_body(bytes::Bytes::from(body));
    let resp = account
        .pipeline
        .send(&Default::default(), &mut request, None)
        .await
        .map_err(failed)?;
    let statuses = sub_responses(resp.headers(), resp.body(), blobs.len()).ok_or_else(|| {
        let shown = String::from_utf8_lossy(&resp.body()[..resp.body().len().min(500)]).into_owned();
        Error::Backend {
            op: Operation::Delete,
            uri: first.to_string(),
            message: "the Blob Batch response could not be read".into(),
            source: Some(shown.into()),
        }
    })?;
    Ok(blobs
        .iter()
        .zip(statuses)
        .map(|((uri, _), (status, code))| outcome(uri, status, code))
        .collect())
}

fn outcome(uri: &str, status: u16, code: Option<String>) -> Result<()> {
    if (200..300).contains(&status) || code.as_deref() == Some("BlobNotFound") {
        return Ok(());
    }
    let status = StatusCode::from(status);
    let message = format!(
        "batch delete: HTTP {} {}",
        u16::from(status),
        code.as_deref().unwrap_or("")
    );
    let err = azure_core::Error::with_message(
        ErrorKind::HttpResponse {
            status,
            error_code: code,
            raw_response: None,
        },
        message,
    );
    Err(map_error(Operation::Delete, uri, err))
}

/// (status, `x-ms-error-code`) of each sub-response, in `Content-ID` order; `None` when
/// the body does not hold `expected` well-formed ones. The body is `multipart/mixed`:
/// parts between `--boundary` lines, each MIME headers (`Content-ID`) then an HTTP
/// response, both read with `httparse`.
fn sub_responses(headers: &Headers, body: &[u8], expected: usize) -> Option<Vec<(u16, Option<String>)>> {
    let content_type = headers.get_optional_str(&"content-type".into())?;
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))?
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let mut out: Vec<Option<(u16, Option<String>)>> = vec![None; expected];
    let mut parts = memchr::memmem::find_iter(body, delimiter.as_bytes()).peekable();
    let mut order = 0;
    while let Some(start) = parts.next() {
        let part = &body[start + delimiter.len()..parts.peek().copied().unwrap_or(body.len())];
        if part.starts_with(b"--") {
            break;
        }
        let (id, status, code) = sub_response(part.strip_prefix(b"\r\n")?)?;
        *out.get_mut(id.unwrap_or(order))? = Some((status, code));
        order += 1;
    }
    out.into_iter().collect()
}

/// One part: its `Content-ID`, and the status and `x-ms-error-code` of the response in it.
fn sub_response(part: &[u8]) -> Option<(Option<usize>, u16, Option<String>)> {
    let mut mime = [httparse::EMPTY_HEADER; 16];
    let httparse::Status::Complete((used, mime)) = httparse::parse_headers(part, &mut mime).ok()? else {
        return None;
    };
    let id = header_text(mime, "content-id").and_then(|v| v.trim().parse().ok());
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    response.parse(&part[used..]).ok()?;
    let code = header_text(response.headers, "x-ms-error-code").map(|c| c.trim().to_string());
    Some((id, response.code?, code))
}

fn header_text<'a>(headers: &'a [httparse::Header<'_>], name: &str) -> Option<&'a str> {
    let h = headers.iter().find(|h| h.name.eq_ignore_ascii_case(name))?;
    std::str::from_utf8(h.value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_responses_are_read_by_content_id() {
        let mut h = Headers::new();
        h.insert("content-type", "multipart/mixed; boundary=batchresponse_x");
        let body = "--batchresponse_x\r\nContent-Type: application/http\r\nContent-ID: 1\r\n\r\n\
                    HTTP/1.1 404 The specified blob does not exist.\r\nx-ms-error-code: BlobNotFound\r\n\r\n\
                    --batchresponse_x\r\nContent-Type: application/http\r\nContent-ID: 0\r\n\r\n\
                    HTTP/1.1 202 Accepted\r\nx-ms-delete-type-permanent: true\r\n\r\n\
                    --batchresponse_x\r\nContent-ID: 2\r\n\r\nHTTP/1.1 403 Forbidden\r\nx-ms-error-code: AuthorizationPermissionMismatch\r\n\r\n\
                    --batchresponse_x--\r\n";
        let got = sub_responses(&h, body.as_bytes(), 3).unwrap();
        assert_eq!(
            got,
            [
                (202, None),
                (404, Some("BlobNotFound".into())),
                (403, Some("AuthorizationPermissionMismatch".into()))
            ]
        );
        assert!(
            outcome("u", 404, Some("BlobNotFound".into())).is_ok(),
            "missing is deleted"
        );
        let e = outcome("az://a/c/k", 403, Some("AuthorizationPermissionMismatch".into())).unwrap_err();
        assert!(matches!(e, Error::PermissionDenied { .. }), "{e:?}");
        assert!(
            sub_responses(&h, body.as_bytes(), 4).is_none(),
            "a missing sub-response is an error"
        );
        let garbled = body.replace("HTTP/1.1 202", "HTTP/1.1 2x2");
        assert!(
            sub_responses(&h, garbled.as_bytes(), 3).is_none(),
            "a bad status line is an error"
        );
        // Bytes that are not UTF-8 in a sub-response's reason phrase do not hide its status.
        let mut raw = body.as_bytes().to_vec();
        let at = memchr::memmem::find(&raw, b"Forbidden").unwrap();
        raw[at] = 0xff;
        assert_eq!(sub_responses(&h, &raw, 3).unwrap()[2].0, 403);
    }
}
