//! `S3Store`: the `ObjectStore` for `s3://` on aws-sdk-s3.

use std::collections::HashMap;
use std::time::SystemTime;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use bytes::Bytes;
use futures::stream::{self, BoxStream};
use percent_encoding::utf8_percent_encode;
use s3dlio_core::paging::{self, paged};
use s3dlio_core::parts::PartWriter;
use s3dlio_core::wire::{
    check_pin, collect_body, empty_read, idle_bounded, parse_content_range, range_header, transient,
};
use s3dlio_core::{
    Capabilities, Error, GetOptions, GetRange, GetResult, ListEntry, ObjectMeta, ObjectStore, ObjectStoreExt,
    ObjectUri, ObjectWriter, Operation, PendingUpload, PutOptions, PutResult, Result, RetryPolicy, Serves,
    Service, WriterOptions, delete_grouped,
};

use crate::client::Clients;
use crate::config::{S3Config, UploadChecksum};
use crate::direct::{KEY_PATH, bounded};
use crate::error::map_sdk_error;
use crate::writer::MultipartWriter;

/// Keys one DeleteObjects request may carry.
pub const DELETE_BATCH: usize = 1000;
/// Entries one ListObjectsV2 page holds.
const LIST_PAGE: i32 = 1000;

/// GetObject and HeadObject outputs are different types with the same accessors.
macro_rules! fields_of {
    ($out:expr) => {
        Fields {
            e_tag: $out.e_tag(),
            last_modified: $out.last_modified(),
            content_type: $out.content_type(),
            storage_class: $out.storage_class().map(|s| s.as_str()),
            version: $out.version_id(),
            metadata: $out.metadata(),
        }
    };
}

/// A put larger than this many parts goes up as a multipart upload ([`S3Store::put_opts`]).
pub const MULTIPART_PUT_PARTS: usize = 2;

const SERVES: Serves = Serves {
    backend: "s3",
    services: &[Service::S3],
};

/// `s3://bucket/key` and `s3://host:port/bucket/key` on aws-sdk-s3.
#[derive(Debug)]
pub struct S3Store {
    clients: Clients,
}

impl S3Store {
    /// A GET through the SDK; `Ok(None)` when S3 answered 416 (the caller answers from
    /// the object's size).
    async fn sdk_get(
        &self,
        op: Operation,
        uri: &str,
        u: &ObjectUri,
        opts: &GetOptions,
    ) -> Result<Option<GetResult>> {
        let mut req = self.client(u).await.get_object().bucket(u.bucket()).key(u.key());
        if let Some(r) = &opts.range {
            req = req.range(range_header(r));
        }
        if let Some(tag) = &opts.if_match {
            req = req.if_match(tag);
        }
        let out = match req.send().await {
            Ok(out) => out,
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 416) => return Ok(None),
            Err(e) => return Err(map_sdk_error(op, uri, e)),
        };
        check_pin(op, uri, opts.if_match.as_deref(), out.e_tag())?;
        let len = out.content_length().unwrap_or(0) as u64;
        let (range, total) = out
            .content_range()
            .and_then(parse_content_range)
            .unwrap_or((0..len, len));
        let m = meta(uri, total, fields_of!(out));
        let body = idle_bounded(
            frames(out.body),
            self.config().idle_timeout,
            op,
            uri,
            transient(op, uri),
        );
        let data = collect_body(body, (range.end - range.start) as usize, op, uri, |e| e).await?;
        Ok(Some(GetResult { data, range, meta: m }))
    }

    /// A put of more than [`MULTIPART_PUT_PARTS`] parts, sent as a multipart upload
    /// ([`ObjectStoreExt::put_multipart`] at the store's part size): the parts (slices of
    /// `data`, no copy) are signed and sent concurrently, where one PUT
    /// hashes the whole body for SigV4 before its first byte leaves (1 GiB: ~1.4× faster
    /// here, `cargo xtask bench peers`), and objects over S3's 5 GiB PUT limit work. Still
    /// atomic: nothing is visible before the complete, and a failure aborts the upload.
    /// Parts are not retried inside: the retry layer above owns the whole put.
    async fn put_in_parts(
        &self,
        uri: &str,
        data: Bytes,
        opts: PutOptions,
        part_size: usize,
    ) -> Result<PutResult> {
        let writer = WriterOptions {
            part_size: Some(part_size),
            put: opts,
            ..WriterOptions::default()
        };
        let summary = self.put_multipart(uri, data, writer).await?;
        Ok(PutResult {
            e_tag: summary.e_tag,
            version: None,
        })
    }

    pub fn new(config: S3Config) -> Self {
        S3Store {
            clients: Clients::new(config),
        }
    }

    /// A store configured from the environment (`S3Config::from_env`).
    pub fn from_env() -> Result<Self> {
        Ok(Self::new(S3Config::from_env()?))
    }

    fn config(&self) -> &S3Config {
        self.clients.config()
    }

    async fn client(&self, u: &ObjectUri) -> Client {
        self.clients.get(u.endpoint()).await
    }

    async fn head(&self, op: Operation, uri: &str, u: &ObjectUri) -> Result<ObjectMeta> {
        let out = self
            .client(u)
            .await
            .head_object()
            .bucket(u.bucket())
            .key(u.key())
            .send()
            .await
            .map_err(|e| map_sdk_error(op, uri, e))?;
        Ok(meta(
            uri,
            out.content_length().unwrap_or(0) as u64,
            fields_of!(out),
        ))
    }

    /// Answers a range that needs no bytes (or that S3 refused with 416, which it does
    /// for every range of an empty object) from the object's size, by the shared rules.
    async fn empty_read(
        &self,
        op: Operation,
        uri: &str,
        u: &ObjectUri,
        opts: &GetOptions,
    ) -> Result<GetResult> {
        empty_read(op, uri, opts, self.head(op, uri, u).await?)
    }
}

/// The response fields an `ObjectMeta` is made of (GET and HEAD carry the same ones).
struct Fields<'a> {
    e_tag: Option<&'a str>,
    last_modified: Option<&'a DateTime>,
    content_type: Option<&'a str>,
    storage_class: Option<&'a str>,
    version: Option<&'a str>,
    metadata: Option<&'a HashMap<String, String>>,
}

fn meta(uri: &str, size: u64, f: Fields<'_>) -> ObjectMeta {
    ObjectMeta {
        uri: uri.to_string(),
        size,
        last_modified: f.last_modified.and_then(|t| SystemTime::try_from(*t).ok()),
        e_tag: f.e_tag.map(str::to_string),
        content_type: f.content_type.map(str::to_string),
        storage_class: f.storage_class.map(str::to_string),
        version: f.version.map(str::to_string),
        metadata: f
            .metadata
            .map(|m| m.clone().into_iter().collect())
            .unwrap_or_default(),
    }
}

/// The response body as a stream of frames, for `collect_body`.
fn frames(
    body: ByteStream,
) -> impl futures::Stream<Item = std::result::Result<Bytes, aws_sdk_s3::primitives::ByteStreamError>> {
    stream::unfold(body, |mut body| async move {
        body.try_next().await.transpose().map(|frame| (frame, body))
    })
}

/// An object's user metadata as the SDK's builders take it (`None` when there is none).
pub(crate) fn sdk_metadata(opts: &PutOptions) -> Option<HashMap<String, String>> {
    (!opts.metadata.is_empty()).then(|| opts.metadata.clone().into_iter().collect())
}

/// A PutObject through the SDK (where the direct path cannot send it) of `data` as
/// `object` (bucket, key), carrying `checksum`.
pub(crate) async fn sdk_put(
    client: &Client,
    op: Operation,
    (uri, (bucket, key)): (&str, (&str, &str)),
    data: Bytes,
    opts: &PutOptions,
    checksum: UploadChecksum,
) -> Result<PutResult> {
    let out = client
        .put_object()
        .bucket(bucket)
        .key(key)
        .set_content_type(opts.content_type.clone())
        .set_metadata(sdk_metadata(opts))
        .set_checksum_crc32_c(checksum.of(op, uri, &data).await?)
        .body(ByteStream::from(data))
        .send()
        .await
        .map_err(|e| map_sdk_error(op, uri, e))?;
    Ok(PutResult {
        e_tag: out.e_tag().map(str::to_string),
        version: out.version_id().map(str::to_string),
    })
}

/// The page token of an upload listing: its two markers, the key's length first (a key
/// may hold any character).
fn upload_token(key: &str, upload_id: &str) -> String {
    format!("{}:{key}{upload_id}", key.len())
}

fn split_upload_token(token: &str) -> (&str, &str) {
    let (len, rest) = token.split_once(':').unwrap_or(("0", token));
    rest.split_at(len.parse::<usize>().unwrap_or(0).min(rest.len()))
}

#[async_trait]
impl ObjectStore for S3Store {
    fn name(&self) -> &'static str {
        "s3"
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
        if let Some(GetRange::Bounded(r)) = &opts.range
            && r.start >= r.end
        {
            return self.empty_read(op, uri, &u, &opts).await;
        }
        if let Some((direct, target)) = self.clients.direct(&u).await {
            return match direct.get(op, uri, &target, &opts).await? {
                Some(got) => Ok(got),
                None => self.empty_read(op, uri, &u, &opts).await,
            };
        }
        let call = self.sdk_get(op, uri, &u, &opts);
        match bounded(self.config().call_timeout(), op, uri, call).await? {
            Some(got) => Ok(got),
            None => self.empty_read(op, uri, &u, &opts).await,
        }
    }

    async fn put_opts(&self, uri: &str, data: Bytes, opts: PutOptions) -> Result<PutResult> {
        let part_size = WriterOptions::default().part_size_or(self.config().part_size);
        if data.len() > MULTIPART_PUT_PARTS * part_size {
            return self.put_in_parts(uri, data, opts, part_size).await;
        }
        let u = SERVES.object(Operation::Put, uri)?;
        if let Some((direct, target)) = self.clients.direct(&u).await {
            return direct.put(Operation::Put, uri, &target, data, &opts).await;
        }
        let client = self.client(&u).await;
        let object = (u.bucket(), u.key());
        sdk_put(
            &client,
            Operation::Put,
            (uri, object),
            data,
            &opts,
            self.config().checksum,
        )
        .await
    }

    async fn writer(&self, uri: &str, opts: WriterOptions) -> Result<Box<dyn ObjectWriter>> {
        let u = SERVES.object(Operation::Write, uri)?;
        let cfg = self.config();
        let (part_size, in_flight) = (
            opts.part_size_or(cfg.part_size),
            opts.parts_in_flight_or(cfg.parts_in_flight),
        );
        let w = MultipartWriter::new(
            self.client(&u).await,
            self.clients.direct(&u).await,
            uri,
            &u,
            opts.put,
            part_size,
            in_flight,
            (cfg.put_verify, cfg.checksum),
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
        self.head(Operation::Stat, uri, &u).await
    }

    fn list_stream(&self, prefix: &str, recursive: bool) -> BoxStream<'_, Result<ListEntry>> {
        let u = match SERVES.uri(prefix) {
            Ok(u) => u,
            Err(e) => return paging::failed(e),
        };
        let prefix = prefix.to_string();
        paged(move |token| {
            let (u, prefix) = (u.clone(), prefix.clone());
            async move {
                let out = self
                    .client(&u)
                    .await
                    .list_objects_v2()
                    .bucket(u.bucket())
                    .prefix(u.key())
                    .set_delimiter((!recursive).then(|| "/".to_string()))
                    .max_keys(LIST_PAGE)
                    .set_continuation_token(token)
                    .send()
                    .await
                    .map_err(|e| map_sdk_error(Operation::List, &prefix, e))?;
                let dirs = out
                    .common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix())
                    .map(|p| ListEntry::Prefix(u.with_key(p).to_string()));
                let objects = out.contents().iter().filter_map(|o| {
                    let key = o.key()?;
                    Some(ListEntry::Object(meta(
                        &u.with_key(key).to_string(),
                        o.size().unwrap_or(0) as u64,
                        Fields {
                            e_tag: o.e_tag(),
                            last_modified: o.last_modified(),
                            content_type: None,
                            storage_class: o.storage_class().map(|s| s.as_str()),
                            version: None,
                            metadata: None,
                        },
                    )))
                });
                let page = dirs.chain(objects).collect();
                let next = out
                    .is_truncated()
                    .unwrap_or(false)
                    .then(|| out.next_continuation_token().map(str::to_string))
                    .flatten();
                Ok((page, next))
            }
        })
    }

    fn list_uploads(&self, prefix: &str) -> BoxStream<'_, Result<PendingUpload>> {
        let u = match SERVES.uri(prefix) {
            Ok(u) => u,
            Err(e) => return paging::failed(e),
        };
        let prefix = prefix.to_string();
        paged(move |token| {
            let (u, prefix) = (u.clone(), prefix.clone());
            async move {
                let (key_marker, id_marker) = match token.as_deref().map(split_upload_token) {
                    Some((k, i)) => (Some(k.to_string()), Some(i.to_string())),
                    None => (None, None),
                };
                let out = self
                    .client(&u)
                    .await
                    .list_multipart_uploads()
                    .bucket(u.bucket())
                    .prefix(u.key())
                    .set_key_marker(key_marker)
                    .set_upload_id_marker(id_marker)
                    .send()
                    .await
                    .map_err(|e| map_sdk_error(Operation::List, &prefix, e))?;
                let page = out
                    .uploads()
                    .iter()
                    .filter_map(|up| {
                        Some(PendingUpload {
                            uri: u.with_key(up.key()?).to_string(),
                            upload_id: up.upload_id()?.to_string(),
                            initiated: up.initiated().and_then(|t| SystemTime::try_from(*t).ok()),
                        })
                    })
                    .collect();
                let next = match (
                    out.is_truncated(),
                    out.next_key_marker(),
                    out.next_upload_id_marker(),
                ) {
                    (Some(true), Some(k), Some(i)) => Some(upload_token(k, i)),
                    _ => None,
                };
                Ok((page, next))
            }
        })
    }

    async fn abort_upload(&self, upload: &PendingUpload) -> Result<()> {
        let u = SERVES.object(Operation::Delete, &upload.uri)?;
        // One try: the retry layer above owns this request.
        let target = (u.bucket(), u.key(), upload.upload_id.as_str());
        let client = self.client(&u).await;
        crate::writer::abort(
            &client,
            target,
            Operation::Delete,
            &upload.uri,
            &RetryPolicy::none(),
        )
        .await
    }

    async fn delete(&self, uri: &str) -> Result<()> {
        let u = SERVES.object(Operation::Delete, uri)?;
        // S3 answers 204 for a missing key too, so deleting is idempotent as it is.
        self.client(&u)
            .await
            .delete_object()
            .bucket(u.bucket())
            .key(u.key())
            .send()
            .await
            .map(drop)
            .map_err(|e| map_sdk_error(Operation::Delete, uri, e))
    }

    /// DeleteObjects, ≤ 1000 keys a request, `S3DLIO_S3_DELETE_CONCURRENCY` requests at
    /// once; every key the server refused is reported with its reason.
    async fn delete_batch(&self, uris: &[String]) -> Result<()> {
        delete_grouped(
            uris,
            |uri| {
                let u = SERVES.object(Operation::Delete, uri)?;
                let group = (u.endpoint().map(str::to_string), u.bucket().to_string());
                Ok((group.clone(), group))
            },
            |_| DELETE_BATCH,
            self.config().delete_concurrency,
            |(endpoint, bucket), keys| self.delete_objects(uris, endpoint, bucket, keys),
        )
        .await
    }

    async fn copy(&self, src: &str, dst: &str) -> Result<()> {
        let (s, d) = (
            SERVES.object(Operation::Copy, src)?,
            SERVES.object(Operation::Copy, dst)?,
        );
        if s.endpoint() != d.endpoint() {
            return Err(Error::NotSupported {
                operation: Operation::Copy,
                backend: "s3",
                uri: dst.to_string(),
                hint: "a server-side copy needs both objects on one endpoint; get and put instead".into(),
            });
        }
        let source = format!("{}/{}", s.bucket(), utf8_percent_encode(s.key(), KEY_PATH));
        self.client(&d)
            .await
            .copy_object()
            .bucket(d.bucket())
            .key(d.key())
            .copy_source(source)
            .send()
            .await
            .map_err(|e| map_sdk_error(Operation::Copy, src, e))?;
        Ok(())
    }

    async fn create_container(&self, uri: &str) -> Result<()> {
        let u = SERVES.uri(uri)?;
        let client = self.client(&u).await;
        let mut req = client.create_bucket().bucket(u.bucket());
        if let Some(region) = client.config().region().map(|r| r.as_ref().to_string())
            && region != crate::client::FALLBACK_REGION
        {
            use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region.as_str()))
                    .build(),
            );
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&e).map(str::to_string);
                let ours = matches!(
                    code.as_deref(),
                    Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")
                ) && client.head_bucket().bucket(u.bucket()).send().await.is_ok();
                if ours {
                    Ok(())
                } else {
                    Err(map_sdk_error(Operation::CreateContainer, uri, e))
                }
            }
        }
    }

    async fn list_containers(&self, root: &str) -> Result<Vec<String>> {
        let endpoint = root
            .strip_prefix("s3://")
            .map(|rest| rest.trim_end_matches('/'))
            .filter(|rest| !rest.contains('/') && (rest.is_empty() || rest.contains(':')))
            .ok_or_else(|| Error::InvalidUri {
                uri: root.to_string(),
                reason: "list buckets with s3:// (the configured endpoint) or s3://host:port/".into(),
            })?;
        let explicit = (!endpoint.is_empty()).then_some(endpoint);
        let out = self
            .clients
            .get(explicit)
            .await
            .list_buckets()
            .send()
            .await
            .map_err(|e| map_sdk_error(Operation::ListContainers, root, e))?;
        let base = explicit.map_or_else(|| "s3://".to_string(), |e| format!("s3://{e}/"));
        let mut names: Vec<String> = out
            .buckets()
            .iter()
            .filter_map(|b| b.name())
            .map(|name| format!("{base}{name}/"))
            .collect();
        names.sort();
        Ok(names)
    }

    async fn delete_container(&self, uri: &str) -> Result<()> {
        let u = SERVES.uri(uri)?;
        self.client(&u)
            .await
            .delete_bucket()
            .bucket(u.bucket())
            .send()
            .await
            .map_err(|e| map_sdk_error(Operation::DeleteContainer, uri, e))?;
        Ok(())
    }
}

impl S3Store {
    /// One DeleteObjects request for `uris[i]` of each index; one outcome per index
    /// (a key the server refused carries its code and message).
    async fn delete_objects(
        &self,
        uris: &[String],
        endpoint: Option<String>,
        bucket: String,
        indices: Vec<usize>,
    ) -> Result<Vec<(usize, Result<()>)>> {
        let first = &uris[indices[0]];
        let keys: Vec<(usize, String)> = indices
            .iter()
            .map(|&i| Ok((i, SERVES.object(Operation::Delete, &uris[i])?.key().to_string())))
            .collect::<Result<_>>()?;
        let ids = keys
            .iter()
            .map(|(_, k)| ObjectIdentifier::builder().key(k).build())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::invalid_argument(Operation::Delete, first, e.to_string()))?;
        let delete = Delete::builder()
            .set_objects(Some(ids))
            .quiet(true)
            .build()
            .map_err(|e| Error::invalid_argument(Operation::Delete, first, e.to_string()))?;
        let out = self
            .clients
            .get(endpoint.as_deref())
            .await
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| map_sdk_error(Operation::Delete, first, e))?;
        let mut refused: HashMap<&str, Error> = HashMap::new();
        for e in out.errors().iter().filter(|e| e.code() != Some("NoSuchKey")) {
            let key = e.key().unwrap_or_default();
            let uri = keys
                .iter()
                .find(|(_, k)| k == key)
                .map_or_else(|| key.to_string(), |(i, _)| uris[*i].clone());
            let error = Error::Backend {
                op: Operation::Delete,
                uri,
                message: format!(
                    "{}: {}",
                    e.code().unwrap_or("error"),
                    e.message().unwrap_or("the server refused to delete this key")
                ),
                source: None,
            };
            refused.insert(key, error);
        }
        Ok(keys
            .iter()
            .map(|(i, k)| (*i, refused.remove(k.as_str()).map_or(Ok(()), Err)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_source_escapes_what_it_must() {
        let s = utf8_percent_encode("a b/c+d%e/ключ", KEY_PATH).to_string();
        assert_eq!(s, "a%20b/c%2Bd%25e/%D0%BA%D0%BB%D1%8E%D1%87");
    }
}
