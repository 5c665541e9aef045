//! Resumable uploads: a journal on local disk that outlives the writer's process.
//!
//! A writer given [`WriterOptions::journal`](crate::WriterOptions::journal) writes the
//! service's upload id (S3 upload id, Azure block-id prefix, GCS session URL) there when
//! the multipart upload starts, and one line per part the service acknowledged. After a
//! crash, a new writer with the same journal and URI asks the service which parts it
//! holds, and the caller writes the object again from its first byte: each part the
//! service holds with the same size and the journal's CRC32C is not sent again. A part
//! whose bytes differ (the source changed) is sent again and replaces the stored one, so
//! the object is always exactly what the last writer wrote.
//!
//! The journal is JSON lines: a header, then one record per stored part, appended. A
//! line torn by a crash is the last one and is ignored (its part is sent again). A
//! finalized or cancelled writer removes its journal; a failed or dropped one keeps it,
//! and the upload, for the next try ([`ObjectStore::list_uploads`](crate::ObjectStore)
//! finds uploads nobody resumed).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use crate::checksum::crc32c_extend;
use crate::error::{Error, Operation, Result};

/// The journal format this build writes and reads.
pub const JOURNAL_FORMAT: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: u32,
    uri: String,
    backend: String,
    upload: String,
    part_size: u64,
}

/// The URI the journal at `path` was written for, when it holds a readable header: a
/// wrapper that moves URIs (the multi-endpoint layer) resumes an upload where it began.
/// Anything else is `None`; the writer's own load reports what is wrong with it.
pub async fn journal_uri(path: &Path) -> Option<String> {
    let text = tokio::fs::read_to_string(path).await.ok()?;
    let header: Header = serde_json::from_str(text.lines().next()?).ok()?;
    Some(header.uri)
}

/// One part the service acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    /// 0-based position of the part in the object.
    pub index: u32,
    pub size: u64,
    pub crc32c: u32,
    /// The service's tag of the part, where it returns one (S3 needs it to complete).
    #[serde(default)]
    pub e_tag: Option<String>,
}

/// What an earlier writer recorded: the upload it started and the parts stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journaled {
    pub upload: String,
    pub parts: BTreeMap<u32, PartRecord>,
}

/// The journal of one writer: where it lives and what it must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadJournal {
    path: PathBuf,
    uri: String,
    backend: &'static str,
    part_size: u64,
}

impl UploadJournal {
    pub fn new(path: &Path, uri: &str, backend: &'static str, part_size: usize) -> Self {
        UploadJournal {
            path: path.to_path_buf(),
            uri: uri.to_string(),
            backend,
            part_size: part_size as u64,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io_error(&self, op: Operation, e: std::io::Error) -> Error {
        Error::from_io(
            op,
            format!("{} (the upload journal of {})", self.path.display(), self.uri),
            e,
        )
    }

    fn invalid(&self, message: String) -> Error {
        Error::invalid_argument(
            Operation::Write,
            &self.uri,
            format!("upload journal {}: {message}", self.path.display()),
        )
    }

    /// What an earlier writer of this URI recorded; `None` when there is no journal.
    /// A journal of another URI, backend or part size is refused, never reused.
    pub async fn load(&self) -> Result<Option<Journaled>> {
        let text = match tokio::fs::read_to_string(&self.path).await {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io_error(Operation::Write, e)),
        };
        let mut lines = text.lines();
        let header: Header = lines
            .next()
            .and_then(|l| serde_json::from_str(l).ok())
            .ok_or_else(|| {
                self.invalid("not an s3dlio upload journal; delete it or choose another path".into())
            })?;
        if header.format != JOURNAL_FORMAT {
            return Err(self.invalid(format!(
                "format {} is not this build's {JOURNAL_FORMAT}; finish it with the build that wrote it, or delete it",
                header.format
            )));
        }
        if header.uri != self.uri || header.backend != self.backend {
            return Err(self.invalid(format!(
                "it belongs to an upload of {} ({}); use one journal per object",
                header.uri, header.backend
            )));
        }
        if header.part_size != self.part_size {
            return Err(self.invalid(format!(
                "it was written with part_size {}, this writer's is {}; set part_size to {} to resume, or delete the journal to start over",
                header.part_size, self.part_size, header.part_size
            )));
        }
        let records: Vec<&str> = lines.filter(|l| !l.trim().is_empty()).collect();
        let mut parts = BTreeMap::new();
        for (i, line) in records.iter().enumerate() {
            match serde_json::from_str::<PartRecord>(line) {
                Ok(p) => {
                    parts.insert(p.index, p);
                }
                // Torn by a crash while appending: that part is simply sent again.
                Err(_) if i + 1 == records.len() => {}
                Err(e) => {
                    return Err(
                        self.invalid(format!("record {} is corrupt ({e}); delete the journal", i + 1))
                    );
                }
            }
        }
        Ok(Some(Journaled {
            upload: header.upload,
            parts,
        }))
    }

    /// Starts the journal of a new upload, replacing an old journal whole (written beside
    /// it, then renamed over it).
    pub async fn begin(&self, upload: &str) -> Result<()> {
        let header = Header {
            format: JOURNAL_FORMAT,
            uri: self.uri.clone(),
            backend: self.backend.to_string(),
            upload: upload.to_string(),
            part_size: self.part_size,
        };
        let mut line = serde_json::to_vec(&header).expect("a header serializes");
        line.push(b'\n');
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let write = async {
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                tokio::fs::create_dir_all(dir).await?;
            }
            tokio::fs::write(&tmp, &line).await?;
            tokio::fs::rename(&tmp, &self.path).await
        };
        write.await.map_err(|e| self.io_error(Operation::Write, e))
    }

    /// Appends the record of a part the service acknowledged.
    pub async fn record(&self, part: &PartRecord) -> Result<()> {
        let mut line = serde_json::to_vec(part).expect("a record serializes");
        line.push(b'\n');
        let append = async {
            let mut f = tokio::fs::OpenOptions::new()
                .append(true)
                .open(&self.path)
                .await?;
            // One write of one short line: appends of concurrent parts do not interleave.
            f.write_all(&line).await?;
            f.flush().await
        };
        append.await.map_err(|e| self.io_error(Operation::Write, e))
    }

    /// Removes the journal (the upload finished or was cancelled); a missing one is fine.
    pub async fn remove(&self) -> Result<()> {
        match tokio::fs::remove_file(&self.path).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(self.io_error(Operation::Finalize, e)),
            _ => Ok(()),
        }
    }
}

/// What to do with one part of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartPlan {
    /// The service holds these very bytes already: reuse its record.
    Stored(PartRecord),
    /// Send it; a journaled upload journals it once the service acknowledged it.
    Send(Option<Pending>),
}

/// A part being sent, to be journaled when the service acknowledges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    journal: UploadJournal,
    /// Its record, without the service's tag.
    pub record: PartRecord,
}

impl Pending {
    /// Journals the part the service acknowledged with `e_tag`.
    pub async fn acknowledged(&self, e_tag: Option<String>) -> Result<()> {
        let record = PartRecord {
            e_tag,
            ..self.record.clone()
        };
        self.journal.record(&record).await
    }
}

/// The plan of part `index` (these bytes) of an upload: journaled by `resume`, or not
/// journaled at all (`None`: always sent).
pub async fn plan(resume: Option<&mut Resume>, uri: &str, index: u32, part: &Bytes) -> Result<PartPlan> {
    match resume {
        Some(r) => r.plan(uri, index, part).await,
        None => Ok(PartPlan::Send(None)),
    }
}

/// A journaled writer's view of its upload: the journal, and the parts a resumed upload
/// need not send again.
#[derive(Debug)]
pub struct Resume {
    journal: UploadJournal,
    stored: HashMap<u32, PartRecord>,
    reused: u64,
}

impl Resume {
    /// A writer starting a new upload (its journal is written by [`Resume::begin`]).
    pub fn fresh(journal: UploadJournal) -> Self {
        Resume {
            journal,
            stored: HashMap::new(),
            reused: 0,
        }
    }

    /// A writer resuming `journaled`: a part counts as stored when the service reports
    /// it (`on_service(index)` → its size and tag) with the journal's size, and the same
    /// tag where both know one.
    pub fn resumed(
        journal: UploadJournal,
        journaled: Journaled,
        on_service: impl Fn(u32) -> Option<(u64, Option<String>)>,
    ) -> Self {
        let stored = journaled
            .parts
            .into_values()
            .filter_map(|mut p| {
                let (size, tag) = on_service(p.index)?;
                let same_tag = match (&p.e_tag, &tag) {
                    (Some(a), Some(b)) => a == b,
                    _ => true,
                };
                (size == p.size && same_tag).then(|| {
                    p.e_tag = tag.or(p.e_tag);
                    (p.index, p)
                })
            })
            .collect();
        Resume {
            journal,
            stored,
            reused: 0,
        }
    }

    pub fn journal(&self) -> &UploadJournal {
        &self.journal
    }

    /// Records the new upload's id, replacing any older journal.
    pub async fn begin(&self, upload: &str) -> Result<()> {
        self.journal.begin(upload).await
    }

    /// Whether part `index` (these bytes) must be sent, or is stored already.
    pub async fn plan(&mut self, uri: &str, index: u32, part: &Bytes) -> Result<PartPlan> {
        let crc = crc32c_extend(Operation::Write, uri, 0, part.clone()).await?;
        if let Some(p) = self.stored.remove(&index)
            && p.size == part.len() as u64
            && p.crc32c == crc
        {
            self.reused += p.size;
            return Ok(PartPlan::Stored(p));
        }
        Ok(PartPlan::Send(Some(Pending {
            journal: self.journal.clone(),
            record: PartRecord {
                index,
                size: part.len() as u64,
                crc32c: crc,
                e_tag: None,
            },
        })))
    }

    /// Bytes of parts found stored and not sent again.
    pub fn reused_bytes(&self) -> u64 {
        self.reused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal(dir: &Path, uri: &str, part_size: usize) -> UploadJournal {
        UploadJournal::new(&dir.join("up.journal"), uri, "s3", part_size)
    }

    fn record(index: u32, data: &[u8], tag: Option<&str>) -> PartRecord {
        PartRecord {
            index,
            size: data.len() as u64,
            crc32c: crate::crc32c(data),
            e_tag: tag.map(str::to_string),
        }
    }

    #[tokio::test]
    async fn a_journal_round_trips_and_a_torn_last_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let j = journal(dir.path(), "s3://b/k", 4);
        assert_eq!(j.load().await.unwrap(), None, "no journal yet");
        j.begin("id-1").await.unwrap();
        j.record(&record(0, b"abcd", Some("t0"))).await.unwrap();
        j.record(&record(2, b"ijkl", None)).await.unwrap();
        let mut f = std::fs::OpenOptions::new().append(true).open(j.path()).unwrap();
        std::io::Write::write_all(&mut f, b"{\"index\":3,\"si").unwrap();
        let got = j.load().await.unwrap().unwrap();
        assert_eq!(got.upload, "id-1");
        assert_eq!(got.parts.keys().copied().collect::<Vec<_>>(), [0, 2]);
        assert_eq!(got.parts[&0], record(0, b"abcd", Some("t0")));

        j.begin("id-2").await.unwrap();
        let again = j.load().await.unwrap().unwrap();
        assert_eq!(
            (again.upload.as_str(), again.parts.len()),
            ("id-2", 0),
            "begin replaces"
        );
        j.remove().await.unwrap();
        j.remove().await.unwrap();
        assert_eq!(j.load().await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_journal_of_another_upload_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        journal(dir.path(), "s3://b/k", 4).begin("id").await.unwrap();
        let other = journal(dir.path(), "s3://b/other", 4).load().await.unwrap_err();
        assert!(
            other.to_string().contains("belongs to an upload of s3://b/k"),
            "{other}"
        );
        let size = journal(dir.path(), "s3://b/k", 8).load().await.unwrap_err();
        assert!(size.to_string().contains("set part_size to 4"), "{size}");
        std::fs::write(dir.path().join("up.journal"), "hello\n").unwrap();
        let junk = journal(dir.path(), "s3://b/k", 4).load().await.unwrap_err();
        assert!(
            junk.to_string().contains("not an s3dlio upload journal"),
            "{junk}"
        );
    }

    #[tokio::test]
    async fn only_parts_the_service_holds_with_the_same_bytes_are_reused() {
        let dir = tempfile::tempdir().unwrap();
        let j = journal(dir.path(), "s3://b/k", 4);
        let journaled = Journaled {
            upload: "id".into(),
            parts: [
                record(0, b"abcd", Some("t0")),
                record(1, b"efgh", Some("t1")),
                record(2, b"ijkl", None),
                record(3, b"mnop", None),
            ]
            .into_iter()
            .map(|p| (p.index, p))
            .collect(),
        };
        // The service: part 0 as journaled, part 1 with another tag, part 2 with its
        // service tag, part 3 missing.
        let mut r = Resume::resumed(j, journaled, |i| match i {
            0 => Some((4, Some("t0".into()))),
            1 => Some((4, Some("other".into()))),
            2 => Some((4, Some("t2".into()))),
            _ => None,
        });
        async fn plan(r: &mut Resume, i: u32, data: &'static [u8]) -> PartPlan {
            r.plan("s3://b/k", i, &Bytes::from_static(data)).await.unwrap()
        }
        // The CRC32C a part to send will be journaled with.
        fn sent_crc(p: PartPlan) -> Option<u32> {
            match p {
                PartPlan::Send(Some(pending)) => Some(pending.record.crc32c),
                _ => None,
            }
        }
        assert_eq!(
            plan(&mut r, 0, b"abcd").await,
            PartPlan::Stored(record(0, b"abcd", Some("t0")))
        );
        assert_eq!(
            sent_crc(plan(&mut r, 1, b"efgh").await),
            Some(crate::crc32c(b"efgh")),
            "another tag: someone else's part"
        );
        assert_eq!(
            sent_crc(plan(&mut r, 2, b"ijkX").await),
            Some(crate::crc32c(b"ijkX")),
            "changed bytes are sent again"
        );
        assert!(
            matches!(plan(&mut r, 3, b"mnop").await, PartPlan::Send(Some(_))),
            "not on the service"
        );
        assert_eq!(r.reused_bytes(), 4);
    }
}
