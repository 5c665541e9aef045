//! Listing, metadata, deletes, copies, uploads, downloads, directories and buckets.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use futures::{TryStreamExt, stream};
use pyo3::IntoPyObjectExt;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use regex::Regex;
use s3dlio::as_prefix;
use s3dlio::transfer::{Plan, copy_between, copy_object, run_jobs};
use s3dlio::{
    Error, ListEntry, ObjectMeta, ObjectStore, ObjectStoreExt, Operation, PendingUpload, Result, StoreCache,
};

use crate::errors::to_py;
use crate::runtime::{Op, current};
use crate::twins::{none, plain, store, twins};

/// The entries under `uri` (one level, or every object with `recursive`) whose key
/// relative to `uri` matches the regex `pattern` (as `s3-cli ls --pattern`), sorted by URI
/// on every backend (S3 pages objects and sub-prefixes apart). A bad pattern is a
/// `ValueError` naming it.
fn list_stat_op(
    py: Python<'_>,
    uri: String,
    recursive: bool,
    pattern: Option<String>,
) -> PyResult<Op<Vec<ListEntry>>> {
    let pattern = pattern
        .map(|p| Regex::new(&p).map_err(|e| PyValueError::new_err(format!("pattern {p:?}: {e}"))))
        .transpose()?;
    let store = store(py, &uri)?;
    Ok(Box::pin(async move {
        let mut all: Vec<ListEntry> = store.list_stream(&uri, recursive).try_collect().await?;
        if let Some(re) = pattern {
            all.retain(|e| re.is_match(e.uri().strip_prefix(uri.as_str()).unwrap_or(e.uri())));
        }
        all.sort_unstable_by(|a, b| a.uri().cmp(b.uri()));
        Ok(all)
    }))
}

fn list_op(
    py: Python<'_>,
    uri: String,
    recursive: bool,
    pattern: Option<String>,
) -> PyResult<Op<Vec<String>>> {
    let entries = list_stat_op(py, uri, recursive, pattern)?;
    Ok(Box::pin(async move {
        Ok(entries.await?.into_iter().map(ListEntry::into_uri).collect())
    }))
}

twins! {
    /// URIs under `uri` (a prefix), sorted: one level, with sub-prefixes ending in `/`,
    /// or every object with `recursive`; `pattern` keeps those whose key relative to `uri`
    /// matches the regex (the meaning `s3-cli ls --pattern` has).
    list / list_async (uri: String, recursive: bool = false, pattern: Option<String> = None)
        => list_op -> plain
}

/// Listing entries as dicts: an object's `stat` dict with `"type": "object"`, a
/// sub-prefix as `{"uri", "type": "prefix"}`.
fn entry_dicts(py: Python<'_>, entries: Vec<ListEntry>) -> PyResult<Py<PyAny>> {
    let out = entries
        .into_iter()
        .map(|e| match e {
            ListEntry::Object(m) => {
                let d = meta_dict(py, m)?;
                d.bind(py).set_item("type", "object")?;
                Ok(d)
            }
            ListEntry::Prefix(p) => {
                let d = PyDict::new(py);
                d.set_item("uri", p)?;
                d.set_item("type", "prefix")?;
                Ok(d.into_any().unbind())
            }
        })
        .collect::<PyResult<Vec<_>>>()?;
    out.into_py_any(py)
}

twins! {
    /// `list` with each entry's metadata, from the listing itself (no request per
    /// object): objects as `stat` dicts with `"type": "object"`, sub-prefixes as
    /// `{"uri", "type": "prefix"}`; sorted by URI.
    list_stat / list_stat_async (uri: String, recursive: bool = false, pattern: Option<String> = None)
        => list_stat_op -> entry_dicts
}

fn uploads_op(py: Python<'_>, prefix: String) -> PyResult<Op<Vec<PendingUpload>>> {
    let store = store(py, &prefix)?;
    Ok(Box::pin(async move {
        store.list_uploads(&prefix).try_collect().await
    }))
}

fn abort_uploads_op(
    py: Python<'_>,
    prefix: String,
    older_than: Option<f64>,
) -> PyResult<Op<Vec<PendingUpload>>> {
    let age = older_than
        .map(|s| {
            std::time::Duration::try_from_secs_f64(s)
                .map_err(|_| PyValueError::new_err(format!("older_than must be seconds >= 0, got {s}")))
        })
        .transpose()?;
    let store = store(py, &prefix)?;
    Ok(Box::pin(async move { store.abort_uploads(&prefix, age).await }))
}

fn upload_dicts(py: Python<'_>, uploads: Vec<PendingUpload>) -> PyResult<Py<PyAny>> {
    let out = uploads
        .into_iter()
        .map(|u| {
            let d = PyDict::new(py);
            d.set_item("uri", u.uri)?;
            d.set_item("upload_id", u.upload_id)?;
            let started = u
                .initiated
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs_f64());
            d.set_item("initiated", started)?;
            Ok(d)
        })
        .collect::<PyResult<Vec<_>>>()?;
    out.into_py_any(py)
}

twins! {
    /// Unfinished multipart uploads under `prefix` (a crashed writer's, or a journaled one
    /// waiting to resume): dicts of uri, upload_id, initiated (seconds since the epoch or
    /// None). S3 only; other backends raise NotImplementedError saying why.
    list_uploads / list_uploads_async (prefix: String) => uploads_op -> upload_dicts
}

twins! {
    /// Aborts the unfinished uploads under `prefix` started more than `older_than` seconds
    /// ago (all with None; undated ones are kept when an age is given); returns them.
    abort_uploads / abort_uploads_async (prefix: String, older_than: Option<f64> = None)
        => abort_uploads_op -> upload_dicts
}

fn stat_op(py: Python<'_>, uri: String) -> PyResult<Op<ObjectMeta>> {
    let store = store(py, &uri)?;
    Ok(Box::pin(async move { store.stat(&uri).await }))
}

fn meta_dict(py: Python<'_>, meta: ObjectMeta) -> PyResult<Py<PyAny>> {
    let d = PyDict::new(py);
    d.set_item("uri", meta.uri)?;
    d.set_item("size", meta.size)?;
    let modified = meta
        .last_modified
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64());
    d.set_item("last_modified", modified)?;
    d.set_item("etag", meta.e_tag)?;
    d.set_item("content_type", meta.content_type)?;
    d.set_item("storage_class", meta.storage_class)?;
    d.set_item("version_id", meta.version)?;
    d.set_item("metadata", meta.metadata)?;
    Ok(d.into_any().unbind())
}

fn list_containers_op(py: Python<'_>, uri: String) -> PyResult<Op<Vec<String>>> {
    let store = store(py, &uri)?;
    Ok(Box::pin(async move { store.list_containers(&uri).await }))
}

twins! {
    /// The buckets, containers or directories under a service root (`s3://`,
    /// `s3://host:port/`, `az://account`, `gs://`, `file:///dir/`), sorted, as URIs.
    list_containers / list_containers_async (uri: String) => list_containers_op -> plain
}

/// `{"bucket", "key"}` of an S3 URI, with `"endpoint"` when it names one
/// (`s3://host:port/bucket/key`).
#[pyfunction]
pub fn parse_s3_uri_full(py: Python<'_>, uri: &str) -> PyResult<Py<PyAny>> {
    let u = s3dlio::ObjectUri::parse(uri).map_err(|e| to_py(py, e))?;
    if u.service() != s3dlio::Service::S3 {
        return Err(to_py(
            py,
            Error::invalid_argument(Operation::ParseUri, uri, "not an s3:// URI"),
        ));
    }
    let d = PyDict::new(py);
    if let Some(endpoint) = u.endpoint() {
        d.set_item("endpoint", endpoint)?;
    }
    d.set_item("bucket", u.bucket())?;
    d.set_item("key", u.key())?;
    Ok(d.into_any().unbind())
}

twins! {
    /// The object's metadata: uri, size, last_modified (seconds since the epoch), etag,
    /// content_type, storage_class, version_id, metadata.
    stat / stat_async (uri: String) => stat_op -> meta_dict
}

fn exists_op(py: Python<'_>, uri: String) -> PyResult<Op<bool>> {
    let store = store(py, &uri)?;
    Ok(Box::pin(async move { store.exists(&uri).await }))
}

twins! {
    /// Whether the object exists; any error other than "not found" is raised.
    exists / exists_async (uri: String) => exists_op -> plain
}

fn delete_op(py: Python<'_>, uri: String, recursive: bool) -> PyResult<Op<u64>> {
    let store = store(py, &uri)?;
    Ok(Box::pin(async move {
        if recursive {
            return store.delete_prefix(&as_prefix(&uri)).await;
        }
        if !uri.ends_with('/') {
            return store.delete(&uri).await.map(|()| 1);
        }
        let objects: Vec<String> = store
            .list_stream(&uri, false)
            .try_filter_map(|e| async move {
                Ok(match e {
                    ListEntry::Object(meta) => Some(meta.uri),
                    _ => None,
                })
            })
            .try_collect()
            .await?;
        for page in objects.chunks(s3dlio::DELETE_PAGE) {
            store.delete_batch(page).await?;
        }
        Ok(objects.len() as u64)
    }))
}

twins! {
    /// Deletes the object; a URI ending in `/` deletes the objects directly under that
    /// prefix, `recursive` everything under it. Returns the objects deleted.
    delete / delete_async (uri: String, recursive: bool = false) => delete_op -> plain
}

/// One store per scheme for a transfer, resolved before it starts.
fn stores(py: Python<'_>) -> PyResult<Arc<StoreCache>> {
    Ok(current(py)?.stores.clone())
}

fn copy_op(py: Python<'_>, src: String, dst: String) -> PyResult<Op<u64>> {
    let (from, to) = (store(py, &src)?, store(py, &dst)?);
    Ok(Box::pin(async move {
        let plan = Plan::for_jobs(1);
        copy_object(&*from, &src, &*to, &dst, None, None, &plan, &|_| {}).await
    }))
}

twins! {
    /// Copies one object between any two URIs (server-side within one service); returns
    /// the bytes copied.
    copy / copy_async (src: String, dst: String) => copy_op -> plain
}

/// Runs every `(src, dst)` copy, `jobs` at a time; the failures are reported together
/// after the rest have finished. Returns the objects copied.
async fn copy_all(
    stores: Arc<StoreCache>,
    pairs: impl futures::Stream<Item = Result<(String, String)>>,
    jobs: usize,
    label: String,
) -> Result<u64> {
    let plan = Plan::for_jobs(jobs);
    let (plan, stores) = (&plan, &*stores);
    let tally = run_jobs(
        pairs,
        jobs,
        |_| {},
        |(src, dst)| async move {
            let result = copy_between(stores, &src, &dst, None, plan, &|_| {}).await;
            (src, result)
        },
    )
    .await?;
    let copied = tally.objects;
    tally.into_result(Operation::Copy, &label).map(|()| copied)
}

fn file_uri(path: &std::path::Path) -> PyResult<String> {
    let abs = std::path::absolute(path)
        .map_err(|e| PyValueError::new_err(format!("resolving {}: {e}", path.display())))?;
    Ok(format!("file://{}", abs.display()))
}

fn upload_op(
    py: Python<'_>,
    src_patterns: Vec<String>,
    dest_prefix: String,
    max_in_flight: usize,
    create_bucket: bool,
) -> PyResult<Op<u64>> {
    let mut files: Vec<PathBuf> = Vec::new();
    for pattern in &src_patterns {
        let matched = glob::glob(pattern)
            .map_err(|e| PyValueError::new_err(format!("src pattern {pattern:?}: {e}")))?
            .filter_map(|p| p.ok())
            .filter(|p| p.is_file());
        files.extend(matched);
    }
    if files.is_empty() {
        return Err(PyValueError::new_err(format!("no files match {src_patterns:?}")));
    }
    let prefix = as_prefix(&dest_prefix);
    let pairs = files
        .iter()
        .map(|f| {
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok((file_uri(f)?, format!("{prefix}{name}")))
        })
        .collect::<PyResult<Vec<_>>>()?;
    let dest = store(py, &prefix)?;
    let stores = stores(py)?;
    Ok(Box::pin(async move {
        if create_bucket && dest.capabilities().explicit_containers {
            ensure_container(&*dest, &prefix).await?;
        }
        copy_all(
            stores,
            stream::iter(pairs.into_iter().map(Ok)),
            max_in_flight,
            prefix,
        )
        .await
    }))
}

twins! {
    /// Uploads the files matching `src_patterns` (globs, `**` included) to
    /// `dest_prefix` + file name, `max_in_flight` at a time; returns the objects written.
    upload / upload_async (
        src_patterns: Vec<String>,
        dest_prefix: String,
        max_in_flight: usize = 32,
        create_bucket: bool = false,
    ) => upload_op -> plain
}

fn download_op(
    py: Python<'_>,
    src_uri: String,
    dest_dir: String,
    max_in_flight: usize,
    recursive: bool,
) -> PyResult<Op<u64>> {
    let dest = as_prefix(&file_uri(std::path::Path::new(&dest_dir))?);
    let source = store(py, &src_uri)?;
    let stores = stores(py)?;
    Ok(Box::pin(async move {
        if !src_uri.ends_with('/') {
            let name = src_uri.rsplit('/').next().unwrap_or_default();
            let one = stream::iter([Ok((src_uri.clone(), format!("{dest}{name}")))]);
            return copy_all(stores, one, 1, src_uri.clone()).await;
        }
        let (from, to) = (src_uri.clone(), dest.clone());
        let pairs = source
            .list_stream(&src_uri, recursive)
            .try_filter_map(move |e| futures::future::ready(Ok(destination(e, &from, &to))));
        copy_all(stores.clone(), pairs, max_in_flight, src_uri.clone()).await
    }))
}

/// Where a listed object lands under `dest`: at its key relative to `prefix`.
fn destination(entry: ListEntry, prefix: &str, dest: &str) -> Option<(String, String)> {
    match entry {
        ListEntry::Object(meta) => {
            let rel = meta.uri.strip_prefix(prefix).unwrap_or(&meta.uri).to_string();
            Some((meta.uri, format!("{dest}{rel}")))
        }
        _ => None,
    }
}

twins! {
    /// Downloads one object (into `dest_dir`) or, for a URI ending in `/`, the objects
    /// under it keeping their relative keys (all levels with `recursive`); returns the
    /// objects written. No partial file is ever left under a final name.
    download / download_async (
        src_uri: String,
        dest_dir: String,
        max_in_flight: usize = 64,
        recursive: bool = true,
    ) => download_op -> plain
}

/// Creates `uri`'s bucket (or container) unless it exists.
pub async fn ensure_container(store: &dyn ObjectStore, uri: &str) -> Result<()> {
    let bucket = s3dlio::ObjectUri::parse(uri)?.with_key("").to_string();
    match store.create_container(&bucket).await {
        Ok(()) | Err(Error::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

fn mkdir_op(py: Python<'_>, uri: String) -> PyResult<Op<()>> {
    let store = store(py, &uri)?;
    Ok(Box::pin(async move {
        if store.capabilities().explicit_containers {
            // Object stores have no directories: a zero-byte `prefix/` marker stands in.
            store.put(&as_prefix(&uri), bytes::Bytes::new()).await.map(drop)
        } else {
            store.create_container(&uri).await
        }
    }))
}

twins! {
    /// Creates a directory (file://, direct://) or a zero-byte `prefix/` marker object.
    mkdir / mkdir_async (uri: String) => mkdir_op -> none
}

/// A bucket argument as a URI: a bare name (the original's form) means S3.
fn bucket_uri(name: &str) -> String {
    if name.contains("://") {
        name.to_string()
    } else {
        format!("s3://{}", name.trim_end_matches('/'))
    }
}

fn create_bucket_op(py: Python<'_>, bucket_name: String) -> PyResult<Op<()>> {
    let uri = bucket_uri(&bucket_name);
    let store = store(py, &uri)?;
    Ok(Box::pin(async move { ensure_container(&*store, &uri).await }))
}

twins! {
    /// Creates a bucket: `name` (S3), or a URI such as `s3://name`, `memory://name`,
    /// `file:///dir`. An existing bucket is fine.
    create_bucket / create_bucket_async (bucket_name: String) => create_bucket_op -> none
}

fn delete_bucket_op(py: Python<'_>, bucket_name: String) -> PyResult<Op<()>> {
    let uri = bucket_uri(&bucket_name);
    let store = store(py, &uri)?;
    Ok(Box::pin(async move { store.delete_container(&uri).await }))
}

twins! {
    /// Deletes an empty bucket (`name` or a URI, as for `create_bucket`).
    delete_bucket / delete_bucket_async (bucket_name: String) => delete_bucket_op -> none
}

/// The storage class of the GCS bucket `uri` names (`gs://bucket/...`), from its
/// metadata: `RAPID` for a zonal Rapid Storage bucket.
#[pyfunction]
pub fn gcs_bucket_storage_class(py: Python<'_>, uri: String) -> PyResult<String> {
    let store = s3dlio::gcs_store_with(&crate::runtime::store_options(py)?).map_err(|e| to_py(py, e))?;
    crate::runtime::block(py, Box::pin(async move { store.storage_class(&uri).await }))
}
