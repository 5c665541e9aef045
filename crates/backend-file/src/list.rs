//! Directory walks as a stream of listing pages.
//!
//! A walker thread on the blocking pool reads directories in name order and sends pages
//! of entries over a bounded channel, so a listing of millions of files holds at most a
//! few pages (plus the directory being read) in memory, and stops as soon as the stream
//! is dropped.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::time::UNIX_EPOCH;

use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};
use s3dlio_core::{Error, ListEntry, ObjectMeta, ObjectUri, Operation, Result};
use tokio::sync::mpsc;

use crate::io::TEMP_PREFIX;

const PAGE: usize = 1000;
const PAGES_AHEAD: usize = 2;

/// Lists everything whose path starts with `prefix`'s path (a "directory" when it ends in
/// `/`, otherwise a name prefix too).
pub(crate) fn list(prefix: ObjectUri, recursive: bool) -> BoxStream<'static, Result<ListEntry>> {
    let (tx, rx) = mpsc::channel::<Result<Vec<ListEntry>>>(PAGES_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut walker = Walker {
            prefix: &prefix,
            recursive,
            page: Vec::with_capacity(PAGE),
            tx: &tx,
        };
        let path = format!("/{}", prefix.key());
        let outcome = walker.walk_prefix(&path).and_then(|()| walker.flush());
        if let Err(WalkStop::Io(e)) = outcome {
            let _ = tx.blocking_send(Err(Error::from_io(Operation::List, prefix.to_string(), e)));
        }
    });
    stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|page| (page, rx)) })
        .map_ok(|page| stream::iter(page.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
}

enum WalkStop {
    /// The stream was dropped: stop quietly.
    Closed,
    Io(io::Error),
}

impl From<io::Error> for WalkStop {
    fn from(e: io::Error) -> Self {
        WalkStop::Io(e)
    }
}

struct Walker<'a> {
    prefix: &'a ObjectUri,
    recursive: bool,
    page: Vec<ListEntry>,
    tx: &'a mpsc::Sender<Result<Vec<ListEntry>>>,
}

impl Walker<'_> {
    fn walk_prefix(&mut self, path: &str) -> Result<(), WalkStop> {
        let (dir, name_prefix) = path.split_at(path.rfind('/').map_or(0, |i| i + 1));
        self.walk_dir(dir, name_prefix)
    }

    /// Emits the entries of `dir` (ending in `/`) whose names start with `name_prefix`.
    fn walk_dir(&mut self, dir: &str, name_prefix: &str) -> Result<(), WalkStop> {
        let mut names: Vec<String> = match fs::read_dir(dir) {
            Ok(rd) => rd
                .filter_map(|e| e.map(|e| e.file_name().into_string().ok()).transpose())
                .filter(|n| {
                    n.as_ref().map_or(true, |n| {
                        n.starts_with(name_prefix) && !n.starts_with(TEMP_PREFIX)
                    })
                })
                .collect::<io::Result<_>>()?,
            // A prefix that names no directory lists nothing, as on an object store.
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => {
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        names.sort_unstable();
        for name in names {
            let full = format!("{dir}{name}");
            let md = match fs::metadata(&full) {
                Ok(md) => md,
                // Deleted between read_dir and stat (a concurrent delete_prefix).
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            if md.is_dir() {
                let sub = format!("{full}/");
                if self.recursive {
                    self.walk_dir(&sub, "")?;
                } else {
                    self.push(ListEntry::Prefix(self.uri(&sub)))?;
                }
            } else if md.is_file() {
                let meta = meta_from(self.uri(&full), &md);
                self.push(ListEntry::Object(meta))?;
            }
        }
        Ok(())
    }

    fn uri(&self, path: &str) -> String {
        self.prefix.with_key(&path[1..]).to_string()
    }

    fn push(&mut self, e: ListEntry) -> Result<(), WalkStop> {
        self.page.push(e);
        if self.page.len() >= PAGE {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), WalkStop> {
        if self.page.is_empty() {
            return Ok(());
        }
        let page = std::mem::replace(&mut self.page, Vec::with_capacity(PAGE));
        self.tx.blocking_send(Ok(page)).map_err(|_| WalkStop::Closed)
    }
}

/// Metadata of a file. The e_tag combines inode, size and modification time: an atomic
/// put renames a new inode into place, so every put changes it.
pub(crate) fn meta_from(uri: String, md: &fs::Metadata) -> ObjectMeta {
    ObjectMeta {
        uri,
        size: md.len(),
        last_modified: md.modified().ok().filter(|t| *t >= UNIX_EPOCH),
        e_tag: Some(e_tag(md)),
        ..ObjectMeta::default()
    }
}

pub(crate) fn e_tag(md: &fs::Metadata) -> String {
    format!(
        "\"{:x}-{:x}-{:x}.{:x}\"",
        md.ino(),
        md.len(),
        md.mtime(),
        md.mtime_nsec()
    )
}
