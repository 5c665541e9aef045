//! Bodies as lists of `Bytes`: what a request brought is kept as it arrived (no
//! concatenation, a multipart object is its parts), and a GET streams slices of it with
//! an exact length.

use std::collections::VecDeque;
use std::ops::Range;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use s3s::dto::StreamingBlob;
use s3s::stream::{ByteStream, RemainingLength};
use s3s::{S3Result, StdError, s3_error};

/// An object's bytes: the pieces in order and their total length.
#[derive(Debug, Clone, Default)]
pub struct Pieces {
    pieces: Vec<Bytes>,
    len: u64,
}

impl Pieces {
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Everything a request body holds, as its chunks arrived.
    pub async fn collect(body: Option<StreamingBlob>) -> S3Result<Pieces> {
        let mut out = Pieces::default();
        let Some(mut body) = body else { return Ok(out) };
        while let Some(chunk) = body.next().await {
            let chunk =
                chunk.map_err(|e| s3_error!(IncompleteBody, "reading the request body failed: {e}"))?;
            out.push(chunk);
        }
        Ok(out)
    }

    /// One chunk.
    #[cfg(test)]
    pub fn of(piece: Bytes) -> Pieces {
        let mut out = Pieces::default();
        out.push(piece);
        out
    }

    /// The chunks, in order.
    pub fn pieces(&self) -> impl Iterator<Item = &Bytes> {
        self.pieces.iter()
    }

    fn push(&mut self, piece: Bytes) {
        if !piece.is_empty() {
            self.len += piece.len() as u64;
            self.pieces.push(piece);
        }
    }

    /// The pieces of several objects, one after the other (a completed multipart upload).
    pub fn concat<'a>(parts: impl IntoIterator<Item = &'a Pieces>) -> Pieces {
        let mut out = Pieces::default();
        for p in parts {
            for piece in &p.pieces {
                out.push(piece.clone());
            }
        }
        out
    }

    /// `range` of the object as a response body of exactly that length, without copies.
    pub fn body(&self, range: Range<u64>) -> StreamingBlob {
        let mut out = VecDeque::new();
        let mut at = 0u64;
        for piece in &self.pieces {
            let end = at + piece.len() as u64;
            if end > range.start && at < range.end {
                let lo = range.start.saturating_sub(at) as usize;
                let hi = (range.end.min(end) - at) as usize;
                out.push_back(piece.slice(lo..hi));
            }
            at = end;
        }
        StreamingBlob::new(Sliced {
            remaining: (range.end - range.start) as usize,
            pieces: out,
        })
    }
}

struct Sliced {
    pieces: VecDeque<Bytes>,
    remaining: usize,
}

impl Stream for Sliced {
    type Item = Result<Bytes, StdError>;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.pieces.pop_front();
        if let Some(piece) = &next {
            self.remaining -= piece.len();
        }
        Poll::Ready(next.map(Ok))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.pieces.len(), Some(self.pieces.len()))
    }
}

impl ByteStream for Sliced {
    fn remaining_length(&self) -> RemainingLength {
        RemainingLength::new_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(blob: StreamingBlob) -> Vec<u8> {
        let mut out = Vec::new();
        let mut blob = blob;
        while let Some(chunk) = blob.next().await {
            out.extend_from_slice(&chunk.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn a_range_across_pieces_is_their_slices() {
        let mut p = Pieces::default();
        for s in [&b"abc"[..], b"", b"defg", b"hi"] {
            p.push(Bytes::copy_from_slice(s));
        }
        assert_eq!(p.len(), 9);
        assert_eq!(read(p.body(0..9)).await, b"abcdefghi");
        assert_eq!(read(p.body(2..8)).await, b"cdefgh");
        let blob = p.body(3..7);
        assert_eq!(blob.remaining_length().exact(), Some(4));
        assert_eq!(read(blob).await, b"defg");
        let joined = Pieces::concat([&p, &p]);
        assert_eq!(read(joined.body(7..11)).await, b"hiab");
    }
}
