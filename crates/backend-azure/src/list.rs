//! Listing blobs one page at a time. The SDK's `list_blobs` has no delimiter and its
//! model drops `BlobPrefix`, so the page request goes through the account's pipeline
//! (same policies, retries and signing) and the page is read here.

use azure_core::http::{Method, Request, Url};
use serde::Deserialize;

/// Entries one List Blobs page holds (the service's maximum).
pub(crate) const LIST_PAGE: u32 = 5000;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Page {
    #[serde(default)]
    blobs: Blobs,
    next_marker: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Blobs {
    #[serde(rename = "$value", default)]
    items: Vec<Item>,
}

#[derive(Debug, Deserialize)]
enum Item {
    Blob(Blob),
    BlobPrefix(Prefix),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Blob {
    name: String,
    properties: Properties,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Prefix {
    name: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Properties {
    #[serde(rename = "Content-Length")]
    pub(crate) content_length: u64,
    #[serde(rename = "Etag")]
    pub(crate) etag: Option<String>,
    #[serde(rename = "Last-Modified")]
    pub(crate) last_modified: Option<String>,
    #[serde(rename = "Content-Type")]
    pub(crate) content_type: Option<String>,
    #[serde(rename = "AccessTier")]
    pub(crate) access_tier: Option<String>,
}

/// One entry of a page: a blob with its properties, or a "directory".
#[derive(Debug)]
pub(crate) enum Entry {
    Blob(String, Properties),
    Prefix(String),
}

impl Page {
    /// The entries in the service's (lexical) order, and the marker of the next page.
    pub(crate) fn into_parts(self) -> (Vec<Entry>, Option<String>) {
        let entries = self
            .blobs
            .items
            .into_iter()
            .map(|i| match i {
                Item::Blob(b) => Entry::Blob(b.name, b.properties),
                Item::BlobPrefix(p) => Entry::Prefix(p.name),
            })
            .collect();
        (entries, self.next_marker.filter(|m| !m.is_empty()))
    }
}

/// The request for one page under `prefix` of the container at `container_url`.
pub(crate) fn page_request(
    container_url: &Url,
    version: &str,
    prefix: &str,
    delimiter: Option<&str>,
    max_results: u32,
    marker: Option<&str>,
) -> Request {
    let mut url = container_url.clone();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("restype", "container").append_pair("comp", "list");
        if !prefix.is_empty() {
            q.append_pair("prefix", prefix);
        }
        if let Some(d) = delimiter {
            q.append_pair("delimiter", d);
        }
        q.append_pair("maxresults", &max_results.to_string());
        if let Some(m) = marker {
            q.append_pair("marker", m);
        }
    }
    let mut request = Request::new(url, Method::Get);
    request.insert_header("accept", "application/xml");
    request.insert_header("x-ms-version", version.to_string());
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_blobs_and_prefixes_in_order() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?>
<EnumerationResults ServiceEndpoint="http://h/acct" ContainerName="c"><Prefix>p/</Prefix><MaxResults>2</MaxResults><Delimiter>/</Delimiter>
<Blobs><Blob><Name>p/a</Name><Properties><Content-Length>3</Content-Length><Etag>"0x1"</Etag><Last-Modified>Tue, 01 Dec 2026 00:00:00 GMT</Last-Modified><Content-Type>text/plain</Content-Type><AccessTier>Hot</AccessTier></Properties><Metadata /></Blob>
<BlobPrefix><Name>p/d/</Name></BlobPrefix><Blob><Name Encoded="false">p/z</Name><Properties><Content-Length>0</Content-Length></Properties></Blob></Blobs>
<NextMarker>m2</NextMarker></EnumerationResults>"#;
        let page: Page = azure_core::xml::from_xml(xml).unwrap();
        let (entries, next) = page.into_parts();
        assert_eq!(next.as_deref(), Some("m2"));
        let names: Vec<String> = entries
            .iter()
            .map(|e| match e {
                Entry::Blob(n, p) => format!("{n}:{}", p.content_length),
                Entry::Prefix(n) => n.clone(),
            })
            .collect();
        assert_eq!(names, ["p/a:3", "p/d/", "p/z:0"]);
        let empty: Page =
            azure_core::xml::from_xml("<EnumerationResults><Blobs /><NextMarker /></EnumerationResults>")
                .unwrap();
        let (entries, next) = empty.into_parts();
        assert!(entries.is_empty() && next.is_none());
    }
}
