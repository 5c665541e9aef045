//! One row of the log: MinIO warp's columns, tab-separated.

use std::io::Write;
use std::time::{Duration, SystemTime};

use s3dlio_core::ObjectUri;

/// The header line, warp's column names in warp's order.
pub const HEADER: &str = "idx\tthread\top\tclient_id\tn_objects\tbytes\tendpoint\tfile\terror\tstart\tfirst_byte\tend\tduration_ns";

/// One operation as it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpRecord {
    /// A small number per OS thread that issued the operation.
    pub thread: u64,
    /// `GET`, `PUT`, `STAT`, `DELETE`, `LIST`, `COPY`, ... (warp's names where it has one).
    pub op: &'static str,
    pub n_objects: u64,
    pub bytes: u64,
    /// The store's backend name (`s3`, `file`, ...), the `endpoint` column when the URI
    /// names none.
    pub backend: &'static str,
    pub uri: String,
    /// Empty when the operation succeeded.
    pub error: String,
    pub start: SystemTime,
    /// When the first byte arrived (streams); the end for operations answered whole.
    pub first_byte: SystemTime,
    pub end: SystemTime,
}

impl OpRecord {
    /// The `endpoint` column: an S3 URI's explicit `host:port`, an Azure account, else
    /// the backend's name. Derived when the row is written, off the operation's path.
    fn write_endpoint(&self, out: &mut impl Write) -> std::io::Result<()> {
        match ObjectUri::parse(&self.uri) {
            Ok(u) => match u.endpoint().or(u.account()) {
                Some(e) => out.write_all(clean(e).as_bytes()),
                None => out.write_all(self.backend.as_bytes()),
            },
            Err(_) => out.write_all(self.backend.as_bytes()),
        }
    }

    pub fn duration(&self) -> Duration {
        self.end.duration_since(self.start).unwrap_or_default()
    }

    /// Writes the row and its newline, numbered `idx`, for `client_id`, with times moved
    /// by `offset_ns` (a clock offset to line logs of several hosts up): straight into
    /// `out`, without a string per row.
    pub fn write_tsv(
        &self,
        out: &mut impl Write,
        idx: u64,
        client_id: &str,
        offset_ns: i64,
    ) -> std::io::Result<()> {
        let at = |t: SystemTime| {
            let moved = match offset_ns {
                n if n >= 0 => t + Duration::from_nanos(n as u64),
                n => t - Duration::from_nanos(n.unsigned_abs()),
            };
            humantime::format_rfc3339_nanos(moved)
        };
        write!(
            out,
            "{idx}\t{}\t{}\t{}\t{}\t{}\t",
            self.thread,
            self.op,
            clean(client_id),
            self.n_objects,
            self.bytes,
        )?;
        self.write_endpoint(out)?;
        writeln!(
            out,
            "\t{}\t{}\t{}\t{}\t{}\t{}",
            clean(&self.uri),
            clean(&self.error),
            at(self.start),
            at(self.first_byte),
            at(self.end),
            self.duration().as_nanos(),
        )
    }
}

/// A field with the tabs and line breaks that would break a row replaced by spaces.
fn clean(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains(['\t', '\n', '\r']) {
        s.replace(['\t', '\n', '\r'], " ").into()
    } else {
        s.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_has_warps_columns_and_no_stray_separators() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let r = OpRecord {
            thread: 3,
            op: "GET",
            n_objects: 1,
            bytes: 65536,
            backend: "s3",
            uri: "s3://127.0.0.1:9000/b/k".into(),
            error: "bad\tthing\nhappened".into(),
            start: t0,
            first_byte: t0 + Duration::from_micros(5),
            end: t0 + Duration::from_millis(2),
        };
        let mut row = Vec::new();
        r.write_tsv(&mut row, 7, "host-a", -1_000).unwrap();
        let row = String::from_utf8(row).unwrap();
        let row = row.strip_suffix('\n').expect("one row, one newline");
        let cols: Vec<&str> = row.split('\t').collect();
        assert_eq!(cols.len(), HEADER.split('\t').count());
        assert_eq!(
            &cols[..9],
            [
                "7",
                "3",
                "GET",
                "host-a",
                "1",
                "65536",
                "127.0.0.1:9000",
                "s3://127.0.0.1:9000/b/k",
                "bad thing happened"
            ]
        );
        assert_eq!(
            cols[9], "2023-11-14T22:13:19.999999000Z",
            "start moved back by the offset"
        );
        assert_eq!(cols[12], "2000000");
    }
}
