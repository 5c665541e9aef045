//! What the server holds: buckets of objects and the multipart uploads in progress, and
//! the listing walk over them.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;
use std::time::SystemTime;

use crate::body::Pieces;
use crate::checksum::Algorithm;

/// One stored version of an object. Replaced whole on every write, so a reader that
/// holds the `Arc` keeps reading the version it started with.
#[derive(Debug)]
pub struct Object {
    pub data: Pieces,
    /// A token that changes with every write (not an MD5), without quotes.
    pub etag: String,
    pub modified: SystemTime,
    pub content_type: Option<String>,
    pub metadata: Option<HashMap<String, String>>,
}

#[derive(Debug)]
pub struct Bucket {
    pub created: SystemTime,
    pub objects: BTreeMap<String, Arc<Object>>,
}

#[derive(Debug)]
pub struct Part {
    pub data: Pieces,
    pub etag: String,
    /// Its checksum (base64) when the upload declared an algorithm.
    pub checksum: Option<String>,
}

#[derive(Debug)]
pub struct Upload {
    pub bucket: String,
    pub key: String,
    pub parts: BTreeMap<i32, Part>,
    /// The algorithm it was created with (`x-amz-checksum-algorithm`): each part's
    /// checksum is kept, and the complete call must list it.
    pub checksum: Option<Algorithm>,
    pub content_type: Option<String>,
    pub metadata: Option<HashMap<String, String>>,
    pub initiated: std::time::SystemTime,
}

#[derive(Debug, Default)]
pub struct State {
    pub buckets: BTreeMap<String, Bucket>,
    pub uploads: HashMap<String, Upload>,
}

/// One page of a listing.
#[derive(Debug, Default)]
pub struct Page {
    pub objects: Vec<(String, Arc<Object>)>,
    pub prefixes: Vec<String>,
    /// Where the next page starts (after this key or common prefix); `None` on the last.
    pub next: Option<String>,
}

/// The keys of `objects` under `prefix` after `after`, keys sharing a part up to
/// `delimiter` folded into one common prefix, at most `max` entries (keys and prefixes
/// together, as S3 counts them).
pub fn list(
    objects: &BTreeMap<String, Arc<Object>>,
    prefix: &str,
    delimiter: Option<&str>,
    after: Option<&str>,
    max: usize,
) -> Page {
    let start = match after {
        Some(a) if a >= prefix => Bound::Excluded(a),
        _ => Bound::Included(prefix),
    };
    let mut page = Page::default();
    let mut last: Option<String> = None;
    for (key, object) in objects.range::<str, _>((start, Bound::Unbounded)) {
        if !key.starts_with(prefix) {
            break;
        }
        let folded = delimiter.filter(|d| !d.is_empty()).and_then(|d| {
            key[prefix.len()..]
                .find(d)
                .map(|i| &key[..prefix.len() + i + d.len()])
        });
        // A common prefix already given (on this page, or ending the last one) is skipped.
        if let Some(p) = folded
            && (page.prefixes.last().is_some_and(|l| l == p) || after == Some(p))
        {
            continue;
        }
        if page.objects.len() + page.prefixes.len() == max {
            page.next = last;
            return page;
        }
        match folded {
            Some(p) => {
                page.prefixes.push(p.to_string());
                last = Some(p.to_string());
            }
            None => {
                page.objects.push((key.clone(), object.clone()));
                last = Some(key.clone());
            }
        }
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects(keys: &[&str]) -> BTreeMap<String, Arc<Object>> {
        keys.iter()
            .map(|k| {
                let o = Object {
                    data: Pieces::default(),
                    etag: k.to_string(),
                    modified: SystemTime::UNIX_EPOCH,
                    content_type: None,
                    metadata: None,
                };
                (k.to_string(), Arc::new(o))
            })
            .collect()
    }

    fn keys(p: &Page) -> Vec<&str> {
        p.objects.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn pages_fold_common_prefixes_and_resume_after_them() {
        let o = objects(&["a/1", "a/2", "b", "c/x/1", "c/y", "d"]);
        let first = list(&o, "", Some("/"), None, 2);
        assert_eq!(
            (keys(&first), first.prefixes.clone()),
            (vec!["b"], vec!["a/".to_string()])
        );
        assert_eq!(first.next.as_deref(), Some("b"));
        let second = list(&o, "", Some("/"), first.next.as_deref(), 2);
        assert_eq!(
            (keys(&second), second.prefixes.clone()),
            (vec!["d"], vec!["c/".to_string()])
        );
        assert_eq!(second.next, None, "nothing after d");
        let resumed = list(&o, "", Some("/"), Some("a/"), 10);
        assert_eq!(keys(&resumed), vec!["b", "d"], "a/ is not given twice");
    }

    #[test]
    fn a_prefix_bounds_the_walk_and_a_flat_listing_pages_by_key() {
        let o = objects(&["x", "y/1", "y/2", "y/3", "z"]);
        let page = list(&o, "y/", None, None, 2);
        assert_eq!(keys(&page), vec!["y/1", "y/2"]);
        assert_eq!(page.next.as_deref(), Some("y/2"));
        let rest = list(&o, "y/", None, page.next.as_deref(), 2);
        assert_eq!((keys(&rest), rest.next.as_deref()), (vec!["y/3"], None));
        let after_below_prefix = list(&o, "y/", None, Some("a"), 10);
        assert_eq!(
            keys(&after_below_prefix).len(),
            3,
            "StartAfter before the prefix starts at it"
        );
    }
}
