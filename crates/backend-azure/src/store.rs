//! `AzureStore`: the `ObjectStore` for `az://` on the Azure SDK for Rust.

use std::num::NonZero;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use azure_core::http::headers::Headers;
use azure_core::http::{Etag, StatusCode, Url};
use azure_storage_blob::models::{
    BlobClientDownloadOptions, BlobClientUploadOptions, BlobContainerClientCreateOptions, HttpRange,
};
use bytes::Bytes;
use futures::TryStreamExt;
use futures::stream::BoxStream;
use s3dlio_core::paging::{self, paged};
use s3dlio_core::parts::PartWriter;
use s3dlio_core::wire::{check_pin, collect_body, empty_read, parse_content_range};
use s3dlio_core::{
    Capabilities, DEFAULT_DELETE_CONCURRENCY, Error, GetOptions, GetRange, GetResult, ListEntry, ObjectMeta,
    ObjectStore, ObjectUri, ObjectWriter, Operation, PutOptions, PutResult, Result, Serves, Service,
    WriterOptions, delete_grouped,
};

use crate::batch::{self, BATCH_MAX};
use crate::client::{Account, Clients};
use crate::config::{AzureConfig, Credentials};
use crate::error::{body_error, error_code, map_error};
use crate::list::{Entry, LIST_PAGE, Page, Properties, page_request};
use crate::writer::BlockWriter;

/// How often `copy` looks at a copy the service runs in the background.
const COPY_POLL: Duration = Duration::from_millis(50);

const SERVES: Serves = Serves {
    backend: "azure",
    services: &[Service::Azure],
};

/// `az://account/container/key` and `https://account.blob.core.windows.net/container/key`
/// on the Azure SDK for Rust.
#[derive(Debug)]
pub struct AzureStore {
    clients: Clients,
}

impl AzureStore {
    pub fn new(config: AzureConfig) -> Self {
        AzureStore {
            clients: Clients::new(config),
        }
    }

    /// A store configured from the environment (`AzureConfig::from_env`).
    pub fn from_env() -> Result<Self> {
        Ok(Self::new(AzureConfig::from_env()?))
    }

    fn config(&self) -> &AzureConfig {
        self.clients.config()
    }

    fn account(&self, op: Operation, uri: &str, u: &ObjectUri) -> Result<Arc<Account>> {
        self.clients.get(op, uri, u)
    }

    async fn properties(&self, op: Operation, uri: &str, u: &ObjectUri) -> Result<ObjectMeta> {
        let resp = self
            .account(op, uri, u)?
            .blob(u)
            .get_properties(None)
            .await
            .map_err(|e| map_error(op, uri, e))?;
        let headers = resp.headers();
        let size = header(headers, "content-length")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Ok(meta_from_headers(uri, size, headers))
    }

    /// Answers a range that needs no bytes, or one the service refused with 416, from
    /// the blob's size by the shared rules.
    async fn empty_read(
        &self,
        op: Operation,
        uri: &str,
        u: &ObjectUri,
        opts: &GetOptions,
    ) -> Result<GetResult> {
        empty_read(op, uri, opts, self.properties(op, uri, u).await?)
    }

    /// One page of a listing.
    async fn list_page(
        &self,
        uri: &str,
        u: &ObjectUri,
        delimiter: Option<&str>,
        max_results: u32,
        marker: Option<&str>,
    ) -> Result<(Vec<Entry>, Option<String>)> {
        let op = Operation::List;
        let account = self.account(op, uri, u)?;
        let container = account.container(u);
        let mut request = page_request(
            container.url(),
            &account.version,
            u.key(),
            delimiter,
            max_results,
            marker,
        );
        let resp = account
            .pipeline
            .send(&Default::default(), &mut request, None)
            .await
            .map_err(|e| map_error(op, uri, e))?;
        let page: Page = azure_core::xml::from_xml(resp.body()).map_err(|e| Error::Backend {
            op,
            uri: uri.to_string(),
            message: "the List Blobs response could not be read".into(),
            source: Some(Box::new(e)),
        })?;
        Ok(page.into_parts())
    }
}

fn header<'a>(headers: &'a Headers, name: &'static str) -> Option<&'a str> {
    headers.get_optional_str(&name.into())
}

fn http_date(s: &str) -> Option<SystemTime> {
    azure_core::time::parse_rfc7231(s).ok().map(SystemTime::from)
}

/// An `ObjectMeta` from the headers of a read or a Get Blob Properties.
fn meta_from_headers(uri: &str, size: u64, headers: &Headers) -> ObjectMeta {
    let text = |name| header(headers, name).map(str::to_string);
    ObjectMeta {
        uri: uri.to_string(),
        size,
        last_modified: header(headers, "last-modified").and_then(http_date),
        e_tag: text("etag"),
        content_type: text("content-type"),
        storage_class: text("x-ms-access-tier"),
        version: text("x-ms-version-id"),
        metadata: headers
            .iter()
            .filter_map(|(k, v)| {
                let key = k.as_str().strip_prefix("x-ms-meta-")?;
                Some((key.to_string(), v.as_str().to_string()))
            })
            .collect(),
    }
}

fn listed_meta(uri: String, p: Properties) -> ObjectMeta {
    ObjectMeta {
        uri,
        size: p.content_length,
        last_modified: p.last_modified.as_deref().and_then(http_date),
        // Listings give the ETag bare; headers (and If-Match) quote it.
        e_tag: p
            .etag
            .map(|t| if t.starts_with('"') { t } else { format!("\"{t}\"") }),
        content_type: p.content_type,
        storage_class: p.access_tier,
        ..Default::default()
    }
}

#[async_trait]
impl ObjectStore for AzureStore {
    fn name(&self) -> &'static str {
        "azure"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::none()
            .with_user_metadata()
            .with_server_side_copy()
            .with_explicit_containers()
            .with_chunked_reads()
            .with_resumable_uploads()
    }

    async fn get_opts(&self, uri: &str, opts: GetOptions) -> Result<GetResult> {
        let op = opts.operation();
        let u = SERVES.object(op, uri)?;
        let mut pin = opts.if_match.clone();
        let (start, end) = match &opts.range {
            None => (0, None),
            Some(GetRange::Bounded(r)) if r.start >= r.end => {
                return self.empty_read(op, uri, &u, &opts).await;
            }
            Some(GetRange::Bounded(r)) => (r.start, Some(r.end)),
            Some(GetRange::Offset(o)) => (*o, None),
            Some(suffix @ GetRange::Suffix(_)) => {
                // Blob storage has no suffix ranges: learn the size, then read the tail
                // pinned to the version that size belongs to.
                let m = self.properties(op, uri, &u).await?;
                check_pin(op, uri, pin.as_deref(), m.e_tag.as_deref())?;
                let r = suffix.resolve(op, uri, m.size)?;
                if r.is_empty() {
                    return Ok(GetResult {
                        data: Bytes::new(),
                        range: r.start..r.start,
                        meta: m,
                    });
                }
                pin = m.e_tag.clone();
                (r.start, Some(r.end))
            }
        };
        let range: HttpRange = match end {
            Some(end) => (start..end).into(),
            None => (start..).into(),
        };
        // One request: the SDK's partitioned download fans out only past one partition. An
        // open end is sent as i64::MAX, the largest position the service parses.
        let partition = end.unwrap_or(i64::MAX as u64).saturating_sub(start) as usize;
        let options = BlobClientDownloadOptions {
            range: Some(range),
            parallel: NonZero::new(1),
            partition_size: NonZero::new(partition),
            if_match: pin.clone().map(Etag::from),
            ..Default::default()
        };
        let blob = self.account(op, uri, &u)?.blob(&u);
        let out = match blob.download(Some(options)).await {
            Ok(out) => out,
            Err(e) if e.http_status() == Some(StatusCode::RequestedRangeNotSatisfiable) => {
                return self.empty_read(op, uri, &u, &opts).await;
            }
            Err(e) => return Err(map_error(op, uri, e)),
        };
        let len = header(&out.headers, "content-length")
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0);
        let (range, total) = header(&out.headers, "content-range")
            .and_then(parse_content_range)
            .unwrap_or((0..len, len));
        let meta = meta_from_headers(uri, total, &out.headers);
        check_pin(op, uri, pin.as_deref(), meta.e_tag.as_deref())?;
        // Azurite answers a range that starts at the end with empty success, not 416:
        // judge the request against the size by the shared rules either way.
        if let Some(r @ (GetRange::Bounded(_) | GetRange::Offset(_))) = &opts.range {
            r.resolve(op, uri, total)?;
        }
        let data = collect_body(out.body, (range.end - range.start) as usize, op, uri, |e| {
            body_error(op, uri, e)
        })
        .await?;
        Ok(GetResult { data, range, meta })
    }

    async fn put_opts(&self, uri: &str, data: Bytes, opts: PutOptions) -> Result<PutResult> {
        let u = SERVES.object(Operation::Put, uri)?;
        let options = BlobClientUploadOptions {
            blob_content_type: opts.content_type,
            metadata: (!opts.metadata.is_empty()).then(|| opts.metadata.into_iter().collect()),
            ..Default::default()
        };
        let out = self
            .account(Operation::Put, uri, &u)?
            .blob(&u)
            .upload(data.into(), Some(options))
            .await
            .map_err(|e| map_error(Operation::Put, uri, e))?;
        Ok(PutResult {
            e_tag: out.etag.map(|e| e.to_string()),
            version: None,
        })
    }

    async fn writer(&self, uri: &str, opts: WriterOptions) -> Result<Box<dyn ObjectWriter>> {
        let u = SERVES.object(Operation::Write, uri)?;
        let cfg = self.config();
        let (block_size, in_flight) = (
            opts.part_size_or(cfg.block_size),
            opts.parts_in_flight_or(cfg.blocks_in_flight),
        );
        let w = BlockWriter::new(
            Arc::new(
                self.account(Operation::Write, uri, &u)?
                    .blob(&u)
                    .block_blob_client(),
            ),
            uri,
            opts.put,
            block_size,
            in_flight,
            opts.part_retry,
        )?;
        let w = match &opts.journal {
            Some(path) => w.journaled(path).await?,
            None => w,
        };
        Ok(Box::new(PartWriter::new(w, uri)))
    }

    async fn stat(&self, uri: &str) -> Result<ObjectMeta> {
        let u = SERVES.object(Operation::Stat, uri)?;
        self.properties(Operation::Stat, uri, &u).await
    }

    fn list_stream(&self, prefix: &str, recursive: bool) -> BoxStream<'_, Result<ListEntry>> {
        let u = match SERVES.uri(prefix) {
            Ok(u) => u,
            Err(e) => return paging::failed(e),
        };
        let prefix = prefix.to_string();
        paged(move |marker| {
            let (u, prefix) = (u.clone(), prefix.clone());
            async move {
                let delimiter = (!recursive).then_some("/");
                let (entries, next) = self
                    .list_page(&prefix, &u, delimiter, LIST_PAGE, marker.as_deref())
                    .await?;
                let page = entries
                    .into_iter()
                    .map(|e| match e {
                        Entry::Prefix(p) => ListEntry::Prefix(u.with_key(p).to_string()),
                        Entry::Blob(name, p) => {
                            ListEntry::Object(listed_meta(u.with_key(name).to_string(), p))
                        }
                    })
                    .collect();
                Ok((page, next))
            }
        })
    }

    async fn delete(&self, uri: &str) -> Result<()> {
        let u = SERVES.object(Operation::Delete, uri)?;
        match self
            .account(Operation::Delete, uri, &u)?
            .blob(&u)
            .delete(None)
            .await
        {
            Ok(_) => Ok(()),
            // Deleting a missing blob succeeds; a missing container does not.
            Err(e) if error_code(&e) == Some("BlobNotFound") => Ok(()),
            Err(e) => Err(map_error(Operation::Delete, uri, e)),
        }
    }

    /// Blob Batch requests of up to 256 deletes where sub-requests can be authorized
    /// (Shared Key, SAS), `delete_concurrency` of them in flight; single deletes
    /// otherwise (Entra ID). Every blob the service refused is reported.
    async fn delete_batch(&self, uris: &[String]) -> Result<()> {
        let op = Operation::Delete;
        // Batches carry 256 deletes each; single deletes run as many as any backend's.
        let in_flight = match self.config().credentials {
            Credentials::EntraId => DEFAULT_DELETE_CONCURRENCY,
            _ => self.config().delete_concurrency,
        };
        delete_grouped(
            uris,
            |uri| {
                let u = SERVES.object(op, uri)?;
                Ok((
                    u.account().unwrap_or_default().to_string(),
                    self.account(op, uri, &u)?,
                ))
            },
            |account: &Arc<Account>| {
                if account.batch_auth.is_some() {
                    BATCH_MAX
                } else {
                    1
                }
            },
            in_flight,
            |account, indices| async move {
                let Some(auth) = &account.batch_auth else {
                    let i = indices[0];
                    return Ok(vec![(i, self.delete(&uris[i]).await)]);
                };
                let blobs = indices
                    .iter()
                    .map(|&i| {
                        Ok((
                            uris[i].as_str(),
                            account.blob(&SERVES.object(op, &uris[i])?).url().clone(),
                        ))
                    })
                    .collect::<Result<Vec<(&str, Url)>>>()?;
                let outcomes = batch::delete(&account, auth, &blobs).await?;
                Ok(indices.into_iter().zip(outcomes).collect())
            },
        )
        .await
    }

    async fn copy(&self, src: &str, dst: &str) -> Result<()> {
        let op = Operation::Copy;
        let (s, d) = (SERVES.object(op, src)?, SERVES.object(op, dst)?);
        if s.account() != d.account() {
            return Err(Error::NotSupported {
                operation: op,
                backend: "azure",
                uri: dst.to_string(),
                hint: "a server-side copy needs both blobs in one account; get and put instead".into(),
            });
        }
        let account = self.account(op, dst, &d)?;
        let target = account.blob(&d);
        // Same account: the service authorizes the source with the request's own credentials.
        let source = account.blob(&s).url().clone();
        let started = target
            .start_copy_from_url(source.to_string(), None)
            .await
            .map_err(|e| map_error(op, src, e))?;
        // Within one account the copy is usually done when the call returns (its response
        // says so); a large one runs on in the service, so wait for it to settle.
        let mut headers = started.headers().clone();
        loop {
            match header(&headers, "x-ms-copy-status") {
                None | Some("success") => return Ok(()),
                Some("pending") => tokio::time::sleep(COPY_POLL).await,
                Some(status) => {
                    return Err(Error::Backend {
                        op,
                        uri: dst.to_string(),
                        message: format!(
                            "the copy from {src} ended {status}: {}",
                            header(&headers, "x-ms-copy-status-description").unwrap_or("no reason given")
                        ),
                        source: None,
                    });
                }
            }
            headers = target
                .get_properties(None)
                .await
                .map_err(|e| map_error(op, dst, e))?
                .headers()
                .clone();
        }
    }

    async fn create_container(&self, uri: &str) -> Result<()> {
        let op = Operation::CreateContainer;
        let u = SERVES.uri(uri)?;
        let container = self.account(op, uri, &u)?.container(&u);
        match container.create(None::<BlobContainerClientCreateOptions>).await {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e) == Some("ContainerAlreadyExists") => Ok(()),
            Err(e) => Err(map_error(op, uri, e)),
        }
    }

    async fn delete_container(&self, uri: &str) -> Result<()> {
        let op = Operation::DeleteContainer;
        let u = SERVES.uri(uri)?;
        // Azure deletes a container with everything in it; the contract deletes empty ones
        // only, so look for one blob first.
        let root = u.with_key("");
        let (entries, _) = self
            .list_page(uri, &root, None, 1, None)
            .await
            .map_err(|e| match e {
                Error::NotFound { source, .. } => Error::NotFound {
                    op,
                    uri: uri.to_string(),
                    source,
                },
                other => other,
            })?;
        if !entries.is_empty() {
            return Err(Error::Precondition {
                op,
                uri: uri.to_string(),
                message: "the container is not empty; delete its blobs first (delete_prefix)".into(),
            });
        }
        self.account(op, uri, &u)?
            .container(&u)
            .delete(None)
            .await
            .map(drop)
            .map_err(|e| map_error(op, uri, e))
    }

    async fn list_containers(&self, root: &str) -> Result<Vec<String>> {
        let op = Operation::ListContainers;
        let account = root
            .strip_prefix("az://")
            .map(|rest| rest.trim_end_matches('/'))
            .filter(|a| !a.is_empty() && !a.contains('/'))
            .ok_or_else(|| Error::InvalidUri {
                uri: root.to_string(),
                reason: "list containers with az://account/".into(),
            })?;
        // Any container name parses; the account is what matters.
        let u = SERVES.uri(&format!("az://{account}/any"))?;
        let pager = self
            .account(op, root, &u)?
            .service
            .list_containers(None)
            .map_err(|e| map_error(op, root, e))?;
        let items: Vec<_> = pager.try_collect().await.map_err(|e| map_error(op, root, e))?;
        let mut names: Vec<String> = items
            .into_iter()
            .filter_map(|c| c.name)
            .map(|name| format!("az://{account}/{name}/"))
            .collect();
        names.sort();
        Ok(names)
    }
}
