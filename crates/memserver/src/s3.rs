//! The S3 operations, over [`State`] behind one lock. The lock is held only to look up or
//! swap an `Arc` (never across an await, never while a body is read or sent), so readers
//! stream the version they found while writers replace it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};

use crate::body::Pieces;
use crate::checksum::{self, Algorithm};
use crate::state::{self, Bucket, Object, Part, State, Upload};

/// S3's smallest part, except the last: a complete with a smaller one is `EntityTooSmall`.
const MIN_PART: u64 = 5 << 20;
/// The most keys a listing page holds, as on S3.
const MAX_KEYS: usize = 1000;

/// One request being answered (see [`MemS3::peak_in_flight`]).
#[derive(Debug)]
struct InFlight(Arc<(AtomicU64, AtomicU64)>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The in-memory S3 service. Clones share the one store (the server keeps a clone to
/// read its counters).
#[derive(Debug, Clone, Default)]
pub struct MemS3 {
    state: Arc<RwLock<State>>,
    versions: Arc<AtomicU64>,
    requests: Arc<AtomicU64>,
    /// Requests being answered now, and the most there have been at once.
    in_flight: Arc<(AtomicU64, AtomicU64)>,
    latency: Duration,
}

impl MemS3 {
    /// A server that waits `latency` before answering each request.
    pub fn new(latency: Duration) -> Self {
        MemS3 {
            latency,
            ..MemS3::default()
        }
    }

    /// Another gateway to this store: the same objects and versions, its own request
    /// count.
    pub fn gateway(&self) -> MemS3 {
        MemS3 {
            requests: Arc::default(),
            in_flight: Arc::default(),
            ..self.clone()
        }
    }

    /// Requests answered (or being answered) so far, through this gateway.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The most requests answered at once so far, through this gateway (a GET until its
    /// answer starts): what a client's
    /// concurrency knob allowed.
    pub fn peak_in_flight(&self) -> u64 {
        self.in_flight.1.load(Ordering::Relaxed)
    }

    /// Counts a request until the guard drops (when its handler returns).
    async fn enter(&self) -> InFlight {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let now = self.in_flight.0.fetch_add(1, Ordering::Relaxed) + 1;
        self.in_flight.1.fetch_max(now, Ordering::Relaxed);
        let guard = InFlight(self.in_flight.clone());
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        guard
    }

    fn version(&self) -> String {
        format!("{:016x}", self.versions.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn object(&self, bucket: &str, key: &str) -> S3Result<Arc<Object>> {
        let state = self.read();
        bucket_ref(&state, bucket)?
            .objects
            .get(key)
            .cloned()
            .ok_or_else(|| s3_error!(NoSuchKey, "no key {key} in {bucket}"))
    }

    /// Stores `object` under `key` unless the preconditions fail against what is there.
    fn store(
        &self,
        bucket: &str,
        key: &str,
        object: Object,
        if_match: Option<&ETagCondition>,
        if_none_match: Option<&ETagCondition>,
    ) -> S3Result<Arc<Object>> {
        let mut state = self.write();
        let b = bucket_mut(&mut state, bucket)?;
        let current = b.objects.get(key);
        if let Some(cond) = if_match
            && !current.is_some_and(|o| matches(cond, o))
        {
            return Err(s3_error!(
                PreconditionFailed,
                "{key} is not at the version If-Match names"
            ));
        }
        if let Some(cond) = if_none_match
            && current.is_some_and(|o| matches(cond, o))
        {
            return Err(s3_error!(
                PreconditionFailed,
                "{key} exists and If-None-Match forbids replacing it"
            ));
        }
        let object = Arc::new(object);
        b.objects.insert(key.to_string(), object.clone());
        Ok(object)
    }
}

fn bucket_ref<'a>(state: &'a State, bucket: &str) -> S3Result<&'a Bucket> {
    state
        .buckets
        .get(bucket)
        .ok_or_else(|| s3_error!(NoSuchBucket, "no bucket {bucket}"))
}

fn bucket_mut<'a>(state: &'a mut State, bucket: &str) -> S3Result<&'a mut Bucket> {
    state
        .buckets
        .get_mut(bucket)
        .ok_or_else(|| s3_error!(NoSuchBucket, "no bucket {bucket}"))
}

fn matches(cond: &ETagCondition, o: &Object) -> bool {
    match cond {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value() == o.etag,
    }
}

/// GET and HEAD preconditions: a failed If-Match is 412, a matching If-None-Match 304.
fn check_read(
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    o: &Object,
) -> S3Result<()> {
    if let Some(cond) = if_match
        && !matches(cond, o)
    {
        return Err(s3_error!(
            PreconditionFailed,
            "the object is not at the version If-Match names"
        ));
    }
    if let Some(cond) = if_none_match
        && matches(cond, o)
    {
        return Err(s3_error!(NotModified));
    }
    Ok(())
}

fn etag(o: &Object) -> Option<ETag> {
    Some(ETag::Strong(o.etag.clone()))
}

fn entry(key: String, o: &Object) -> s3s::dto::Object {
    s3s::dto::Object {
        key: Some(key),
        size: Some(o.data.len() as i64),
        e_tag: etag(o),
        last_modified: Some(o.modified.into()),
        ..Default::default()
    }
}

#[async_trait]
impl S3 for MemS3 {
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let _answering = self.enter().await;
        let name = req.input.bucket;
        let mut state = self.write();
        if state.buckets.contains_key(&name) {
            return Err(s3_error!(BucketAlreadyOwnedByYou, "bucket {name} exists"));
        }
        state.buckets.insert(
            name,
            Bucket {
                created: SystemTime::now(),
                objects: BTreeMap::new(),
            },
        );
        Ok(S3Response::new(CreateBucketOutput::default()))
    }

    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
        let _answering = self.enter().await;
        bucket_ref(&self.read(), &req.input.bucket)?;
        Ok(S3Response::new(HeadBucketOutput::default()))
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let _answering = self.enter().await;
        let name = req.input.bucket;
        let mut state = self.write();
        if !bucket_mut(&mut state, &name)?.objects.is_empty() {
            return Err(s3_error!(BucketNotEmpty, "bucket {name} holds objects"));
        }
        state.buckets.remove(&name);
        Ok(S3Response::new(DeleteBucketOutput::default()))
    }

    async fn list_buckets(
        &self,
        _req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let _answering = self.enter().await;
        let buckets = self
            .read()
            .buckets
            .iter()
            .map(|(name, b)| s3s::dto::Bucket {
                name: Some(name.clone()),
                creation_date: Some(b.created.into()),
                ..Default::default()
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            ..Default::default()
        }))
    }

    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let _answering = self.enter().await;
        let i = req.input;
        let data = Pieces::collect(i.body).await?;
        let sent = (i.checksum_crc32.as_deref(), i.checksum_crc32c.as_deref());
        checksum::checked(sent, req.trailing_headers.as_ref(), &data)?;
        let object = Object {
            data,
            etag: self.version(),
            modified: SystemTime::now(),
            content_type: i.content_type,
            metadata: i.metadata,
        };
        let o = self.store(
            &i.bucket,
            &i.key,
            object,
            i.if_match.as_ref(),
            i.if_none_match.as_ref(),
        )?;
        Ok(S3Response::new(PutObjectOutput {
            e_tag: etag(&o),
            ..Default::default()
        }))
    }

    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        let _answering = self.enter().await;
        let i = req.input;
        let o = self.object(&i.bucket, &i.key)?;
        check_read(i.if_match.as_ref(), i.if_none_match.as_ref(), &o)?;
        let size = o.data.len();
        let (range, content_range) = match i.range {
            None => (0..size, None),
            Some(r) => {
                let r = r.check(size).map_err(|_| {
                    s3_error!(
                        InvalidRange,
                        "the range is not within the {size} bytes of {}",
                        i.key
                    )
                })?;
                let content_range = format!("bytes {}-{}/{size}", r.start, r.end - 1);
                (r, Some(content_range))
            }
        };
        Ok(S3Response::new(GetObjectOutput {
            content_length: Some((range.end - range.start) as i64),
            body: Some(o.data.body(range)),
            content_range,
            accept_ranges: Some("bytes".into()),
            e_tag: etag(&o),
            last_modified: Some(o.modified.into()),
            content_type: o.content_type.clone(),
            metadata: o.metadata.clone(),
            ..Default::default()
        }))
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        let _answering = self.enter().await;
        let i = req.input;
        let o = self.object(&i.bucket, &i.key)?;
        check_read(i.if_match.as_ref(), i.if_none_match.as_ref(), &o)?;
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(o.data.len() as i64),
            accept_ranges: Some("bytes".into()),
            e_tag: etag(&o),
            last_modified: Some(o.modified.into()),
            content_type: o.content_type.clone(),
            metadata: o.metadata.clone(),
            ..Default::default()
        }))
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let _answering = self.enter().await;
        let i = req.input;
        // As on S3: deleting a missing key succeeds.
        bucket_mut(&mut self.write(), &i.bucket)?.objects.remove(&i.key);
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let _answering = self.enter().await;
        let i = req.input;
        let mut state = self.write();
        let b = bucket_mut(&mut state, &i.bucket)?;
        let deleted = i
            .delete
            .objects
            .into_iter()
            .map(|id| {
                b.objects.remove(&id.key);
                DeletedObject {
                    key: Some(id.key),
                    ..Default::default()
                }
            })
            .collect::<Vec<_>>();
        let quiet = i.delete.quiet.unwrap_or(false);
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: (!quiet).then_some(deleted),
            ..Default::default()
        }))
    }

    async fn copy_object(&self, req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
        let _answering = self.enter().await;
        let i = req.input;
        let CopySource::Bucket { bucket, key, .. } = &i.copy_source else {
            return Err(s3_error!(
                NotImplemented,
                "copies from access points are not served"
            ));
        };
        let src = self.object(bucket, key)?;
        if let Some(cond) = &i.copy_source_if_match
            && !matches(cond, &src)
        {
            return Err(s3_error!(
                PreconditionFailed,
                "{key} is not at the version x-amz-copy-source-if-match names"
            ));
        }
        let replace = i
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
        let (content_type, metadata) = if replace {
            (i.content_type, i.metadata)
        } else {
            (src.content_type.clone(), src.metadata.clone())
        };
        let object = Object {
            data: src.data.clone(),
            etag: self.version(),
            modified: SystemTime::now(),
            content_type,
            metadata,
        };
        let o = self.store(&i.bucket, &i.key, object, None, None)?;
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: etag(&o),
                last_modified: Some(o.modified.into()),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let _answering = self.enter().await;
        let i = req.input;
        let prefix = i.prefix.clone().unwrap_or_default();
        let max = i.max_keys.map_or(MAX_KEYS, |m| (m.max(0) as usize).min(MAX_KEYS));
        let after = i.continuation_token.as_deref().or(i.start_after.as_deref());
        let page = {
            let state = self.read();
            let b = bucket_ref(&state, &i.bucket)?;
            state::list(&b.objects, &prefix, i.delimiter.as_deref(), after, max)
        };
        let contents: Vec<_> = page.objects.into_iter().map(|(k, o)| entry(k, &o)).collect();
        let common_prefixes: Vec<_> = page
            .prefixes
            .into_iter()
            .map(|p| CommonPrefix { prefix: Some(p) })
            .collect();
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(i.bucket),
            prefix: i.prefix,
            delimiter: i.delimiter,
            max_keys: Some(max as i32),
            key_count: Some((contents.len() + common_prefixes.len()) as i32),
            continuation_token: i.continuation_token,
            start_after: i.start_after,
            is_truncated: Some(page.next.is_some()),
            next_continuation_token: page.next,
            contents: Some(contents),
            common_prefixes: Some(common_prefixes),
            ..Default::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let _answering = self.enter().await;
        let i = req.input;
        let id = self.version();
        let mut state = self.write();
        bucket_mut(&mut state, &i.bucket)?;
        state.uploads.insert(
            id.clone(),
            Upload {
                bucket: i.bucket.clone(),
                key: i.key.clone(),
                parts: BTreeMap::new(),
                checksum: Algorithm::declared(i.checksum_algorithm.as_ref())?,
                content_type: i.content_type,
                metadata: i.metadata,
                initiated: SystemTime::now(),
            },
        );
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(i.bucket),
            key: Some(i.key),
            checksum_algorithm: i.checksum_algorithm,
            upload_id: Some(id),
            ..Default::default()
        }))
    }

    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        let _answering = self.enter().await;
        let i = req.input;
        if !(1..=10_000).contains(&i.part_number) {
            return Err(s3_error!(InvalidArgument, "part numbers run from 1 to 10000"));
        }
        let data = Pieces::collect(i.body).await?;
        let sent = (i.checksum_crc32.as_deref(), i.checksum_crc32c.as_deref());
        let sent = checksum::checked(sent, req.trailing_headers.as_ref(), &data)?;
        let etag = self.version();
        let mut state = self.write();
        let upload = upload_mut(&mut state, &i.upload_id, &i.bucket, &i.key)?;
        // The declared algorithm's value: as sent, else computed (as S3 does).
        let kept = upload.checksum.map(|a| {
            let value = sent.iter().find(|(s, _)| *s == a).map(|(_, v)| v.clone());
            (a, value.unwrap_or_else(|| a.of(&data)))
        });
        upload.parts.insert(
            i.part_number,
            Part {
                data,
                etag: etag.clone(),
                checksum: kept.as_ref().map(|(_, v)| v.clone()),
            },
        );
        let mut out = UploadPartOutput {
            e_tag: Some(ETag::Strong(etag)),
            ..Default::default()
        };
        match kept {
            Some((Algorithm::Crc32, v)) => out.checksum_crc32 = Some(v),
            Some((Algorithm::Crc32c, v)) => out.checksum_crc32c = Some(v),
            None => {}
        }
        Ok(S3Response::new(out))
    }

    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        let _answering = self.enter().await;
        let i = req.input;
        let mut state = self.write();
        let upload = upload_mut(&mut state, &i.upload_id, &i.bucket, &i.key)?;
        let parts = upload
            .parts
            .iter()
            .map(|(n, p)| {
                let value = |a| (upload.checksum == Some(a)).then(|| p.checksum.clone()).flatten();
                s3s::dto::Part {
                    part_number: Some(*n),
                    e_tag: Some(ETag::Strong(p.etag.clone())),
                    size: Some(p.data.len() as i64),
                    checksum_crc32: value(Algorithm::Crc32),
                    checksum_crc32c: value(Algorithm::Crc32c),
                    ..Default::default()
                }
            })
            .collect();
        let checksum_algorithm = upload.checksum.map(Algorithm::dto);
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(i.bucket),
            key: Some(i.key),
            checksum_algorithm,
            upload_id: Some(i.upload_id),
            parts: Some(parts),
            is_truncated: Some(false),
            ..Default::default()
        }))
    }

    /// Every upload in progress under the prefix, by key (the suite's leaked-upload check).
    /// One page: markers and delimiters are refused rather than ignored.
    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let _answering = self.enter().await;
        let i = req.input;
        if i.delimiter.is_some() || i.key_marker.is_some() || i.upload_id_marker.is_some() {
            return Err(s3_error!(
                NotImplemented,
                "this server lists uploads in one page, without delimiter or markers"
            ));
        }
        let prefix = i.prefix.unwrap_or_default();
        let state = self.read();
        if !state.buckets.contains_key(&i.bucket) {
            return Err(s3_error!(NoSuchBucket));
        }
        let mut uploads: Vec<MultipartUpload> = state
            .uploads
            .iter()
            .filter(|(_, u)| u.bucket == i.bucket && u.key.starts_with(&prefix))
            .map(|(id, u)| MultipartUpload {
                key: Some(u.key.clone()),
                upload_id: Some(id.clone()),
                initiated: Some(u.initiated.into()),
                ..Default::default()
            })
            .collect();
        uploads.sort_by(|a, b| (&a.key, &a.upload_id).cmp(&(&b.key, &b.upload_id)));
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(i.bucket),
            prefix: Some(prefix),
            is_truncated: Some(false),
            uploads: Some(uploads),
            ..Default::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let _answering = self.enter().await;
        let i = req.input;
        let listed = i.multipart_upload.and_then(|m| m.parts).unwrap_or_default();
        let (data, upload) = {
            let mut state = self.write();
            let upload = match state.uploads.remove(&i.upload_id) {
                Some(u) if u.bucket == i.bucket && u.key == i.key => u,
                other => {
                    if let Some(u) = other {
                        state.uploads.insert(i.upload_id.clone(), u);
                    }
                    return Err(s3_error!(NoSuchUpload, "no upload {} for {}", i.upload_id, i.key));
                }
            };
            // A failed complete leaves the upload as it was, as on S3.
            match chosen_parts(&upload, &listed) {
                Ok(parts) => (Pieces::concat(parts.into_iter().map(|p| &p.data)), upload),
                Err(e) => {
                    state.uploads.insert(i.upload_id, upload);
                    return Err(e);
                }
            }
        };
        let version = self.version();
        let object = Object {
            data,
            etag: format!("{version}-{}", listed.len()),
            modified: SystemTime::now(),
            content_type: upload.content_type,
            metadata: upload.metadata,
        };
        let o = self.store(
            &i.bucket,
            &i.key,
            object,
            i.if_match.as_ref(),
            i.if_none_match.as_ref(),
        )?;
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(i.bucket),
            key: Some(i.key),
            e_tag: etag(&o),
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let _answering = self.enter().await;
        let i = req.input;
        let mut state = self.write();
        upload_mut(&mut state, &i.upload_id, &i.bucket, &i.key)?;
        state.uploads.remove(&i.upload_id);
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }
}

fn upload_mut<'a>(state: &'a mut State, id: &str, bucket: &str, key: &str) -> S3Result<&'a mut Upload> {
    state
        .uploads
        .get_mut(id)
        .filter(|u| u.bucket == bucket && u.key == key)
        .ok_or_else(|| s3_error!(NoSuchUpload, "no upload {id} for {key}"))
}

/// The parts a complete names, checked as S3 checks them: ascending numbers, each
/// uploaded with the ETag given (and, when the upload declared a checksum algorithm,
/// listed with the part's checksum), every one but the last at least 5 MiB.
fn chosen_parts<'a>(upload: &'a Upload, listed: &[CompletedPart]) -> S3Result<Vec<&'a Part>> {
    if listed.is_empty() {
        return Err(s3_error!(MalformedXML, "a complete needs at least one part"));
    }
    let mut chosen = Vec::with_capacity(listed.len());
    let mut previous = 0;
    for (n, c) in listed.iter().enumerate() {
        let number = c.part_number.unwrap_or(0);
        if number <= previous {
            return Err(s3_error!(
                InvalidPartOrder,
                "parts must be listed in ascending order"
            ));
        }
        previous = number;
        let part = upload
            .parts
            .get(&number)
            .filter(|p| c.e_tag.as_ref().is_none_or(|e| e.value() == p.etag))
            .ok_or_else(|| s3_error!(InvalidPart, "part {number} was not uploaded with that ETag"))?;
        let given = match upload.checksum {
            Some(Algorithm::Crc32) => &c.checksum_crc32,
            Some(Algorithm::Crc32c) => &c.checksum_crc32c,
            None => &part.checksum,
        };
        if *given != part.checksum {
            return Err(s3_error!(
                InvalidPart,
                "part {number}: the upload was created with {:?} checksums; list each part's",
                upload.checksum
            ));
        }
        if n + 1 < listed.len() && part.data.len() < MIN_PART {
            return Err(s3_error!(
                EntityTooSmall,
                "part {number} is under 5 MiB and not the last"
            ));
        }
        chosen.push(part);
    }
    Ok(chosen)
}
