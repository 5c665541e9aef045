//! Large output buffers: allocated once, filled in disjoint pieces on the blocking pool,
//! and cheap to touch for the first time.
//!
//! Filling runs on the blocking pool, so copying (and the page faults of fresh memory) runs
//! on every core instead of stalling the task that keeps requests flowing.
//!
//! A read of a large object into fresh memory pays one page fault per 4 KiB page it
//! writes (262 144 per GiB), which on small VMs costs more than the copy itself. Buffers of
//! at least [`HUGE_PAGE`] are advised `MADV_HUGEPAGE`, so where transparent huge pages are
//! enabled (`always` or `madvise`) the kernel maps them 2 MiB at a time: 512 faults per
//! GiB. Elsewhere the advice is ignored and nothing changes.
//! Measured by `cargo xtask bench peers` (the `1GiB x 1 get` rows, file:// and s3://).

use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use crate::{Operation, Result, run_blocking};

/// One read's output, shared by the read and its fill tasks; a cancelled read's buffer
/// lives until the last fill task holding it finishes, so no task writes into freed memory.
///
/// Three kinds: fresh memory of the read's size ([`new`](Self::new)), a vector the caller
/// hands over to be overwritten and taken back ([`from_vec`](Self::from_vec)), and
/// memory another owner keeps alive, such as a Python buffer ([`over`](Self::over)).
#[derive(Debug)]
pub struct OutputBuffer {
    ptr: *mut u8,
    len: usize,
    storage: Storage,
}

enum Storage {
    /// Capacity `len`, length 0 until `finish`: nothing is initialised before the fills.
    Fresh(Vec<u8>),
    /// Initialised to its length; fills overwrite it.
    Given(Vec<u8>),
    /// Someone else's memory, valid while this owner lives.
    Borrowed(#[expect(dead_code, reason = "held to keep the memory alive, never read")] Box<dyn Send + Sync>),
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Storage::Fresh(_) => "Fresh",
            Storage::Given(_) => "Given",
            Storage::Borrowed(_) => "Borrowed",
        })
    }
}

// SAFETY: the memory is owned by `storage` (or kept alive by it); concurrent writers touch
// disjoint ranges (the contract of `fill`), and nothing reads the bytes until every
// writer is done (`finish` and `into_vec` need the last reference).
unsafe impl Send for OutputBuffer {}
// SAFETY: as above.
unsafe impl Sync for OutputBuffer {}

/// Pieces shorter than this are copied on the calling task: handing them to the
/// blocking pool costs more than the copy.
const INLINE_COPY: usize = 256 << 10;

impl OutputBuffer {
    /// `len` bytes of fresh memory (huge-page advised when large), to be written in full.
    pub fn new(len: usize) -> Arc<Self> {
        let mut vec = large_vec(len);
        let ptr = vec.as_mut_ptr();
        Arc::new(OutputBuffer {
            ptr,
            len,
            storage: Storage::Fresh(vec),
        })
    }

    /// Reads into `vec`'s `len()` bytes, memory the caller already owns (and has touched),
    /// so a reused buffer costs no page faults; [`into_vec`](Self::into_vec) hands it back.
    pub fn from_vec(mut vec: Vec<u8>) -> Arc<Self> {
        let (ptr, len) = (vec.as_mut_ptr(), vec.len());
        Arc::new(OutputBuffer {
            ptr,
            len,
            storage: Storage::Given(vec),
        })
    }

    /// Reads into `len` bytes at `ptr`, memory that `owner` keeps valid (a Python
    /// buffer export, a pinned allocation).
    ///
    /// # Safety
    /// `ptr..ptr + len` must stay valid for writes, and untouched by anyone else, for as
    /// long as `owner` lives; `owner` is dropped after the last fill task ends.
    pub unsafe fn over(ptr: *mut u8, len: usize, owner: impl Send + Sync + 'static) -> Arc<Self> {
        Arc::new(OutputBuffer {
            ptr,
            len,
            storage: Storage::Borrowed(Box::new(owner)),
        })
    }

    /// The bytes the buffer holds.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Fails with [`InvalidArgument`](crate::Error::InvalidArgument), naming `uri`, when
    /// `need` bytes do not fit: checked before a byte is written.
    pub fn room_for(&self, op: Operation, uri: &str, need: u64) -> Result<()> {
        if need <= self.len as u64 {
            return Ok(());
        }
        Err(crate::Error::invalid_argument(
            op,
            uri,
            format!(
                "the buffer of {} bytes is too small for the {need} bytes to read; pass a larger buffer or a shorter range",
                self.len
            ),
        ))
    }

    /// Runs `write(ptr, n)` on the blocking pool, where `ptr` is byte `offset` of the
    /// buffer and `n` the length of the piece; `write` must initialise all `n` bytes
    /// when it succeeds (`finish` counts them as written).
    ///
    /// # Safety
    /// Each byte range must be given to exactly one call: pieces never overlap.
    pub async unsafe fn fill<T: Send + 'static>(
        self: &Arc<Self>,
        op: Operation,
        uri: &str,
        offset: usize,
        n: usize,
        write: impl FnOnce(*mut u8, usize) -> T + Send + 'static,
    ) -> Result<T> {
        assert!(offset + n <= self.len, "a piece outside the buffer");
        let this = self.clone();
        // SAFETY: in bounds (checked above).
        run_blocking(op, uri, "a fill task", move || {
            write(unsafe { this.ptr.add(offset) }, n)
        })
        .await
    }

    /// Copies `data` to `offset` (on the blocking pool, unless it is short).
    ///
    /// # Safety
    /// As [`fill`](Self::fill): each byte range is written by one call only.
    pub async unsafe fn copy_in(
        self: &Arc<Self>,
        op: Operation,
        uri: &str,
        offset: usize,
        data: Bytes,
    ) -> Result<()> {
        let n = data.len();
        let copy = move |to: *mut u8, n: usize| {
            // SAFETY: `to[..n]` is this piece of the buffer, owned by this call alone.
            unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), to, n) }
        };
        if n < INLINE_COPY {
            assert!(offset + n <= self.len, "a piece outside the buffer");
            // SAFETY: in bounds (asserted); the caller's contract makes the piece ours.
            copy(unsafe { self.ptr.add(offset) }, n);
            return Ok(());
        }
        // SAFETY: the caller's contract.
        unsafe { self.fill(op, uri, offset, n, copy) }.await
    }

    /// The first `written` bytes, every one of them written, once every fill task has
    /// finished. A fresh buffer must be written in full.
    ///
    /// # Panics
    /// On a borrowed buffer ([`over`](Self::over)): its bytes belong to their owner.
    pub fn finish(self: Arc<Self>, written: usize) -> Bytes {
        let OutputBuffer { len, storage, .. } = Arc::try_unwrap(self).expect("every fill task has finished");
        assert!(written <= len, "written past the end of the output");
        match storage {
            Storage::Fresh(mut vec) => {
                assert_eq!(written, len, "every byte of the output was written");
                // SAFETY: all `len` bytes were initialised by the fills (asserted above).
                unsafe { vec.set_len(written) };
                Bytes::from(vec)
            }
            Storage::Given(mut vec) => {
                vec.truncate(written);
                Bytes::from(vec)
            }
            Storage::Borrowed(_) => panic!("a borrowed output's bytes belong to its owner"),
        }
    }

    /// The whole vector a [`from_vec`](Self::from_vec) buffer was made from, bytes not
    /// written included; `None` for the other kinds. Every fill task must have finished.
    pub fn into_vec(self: Arc<Self>) -> Option<Vec<u8>> {
        match Arc::try_unwrap(self)
            .expect("every fill task has finished")
            .storage
        {
            Storage::Given(vec) => Some(vec),
            _ => None,
        }
    }
}

/// A window of an [`OutputBuffer`] that one response's body may be written into, instead
/// of a buffer of its own ([`GetOptions::place`](crate::GetOptions::place)): the read path
/// hands each ranged request of a large read the window its bytes belong in, so a body
/// is copied once, from the connection's buffers into place.
#[derive(Clone, Debug)]
pub struct Placement {
    out: Arc<OutputBuffer>,
    at: usize,
    len: usize,
}

impl Placement {
    /// Bytes `at..at + len` of `out`.
    ///
    /// # Safety
    /// No other placement, fill or copy of `out` may cover any byte of the window while
    /// this placement (or a clone of it) is in use.
    pub unsafe fn new(out: Arc<OutputBuffer>, at: usize, len: usize) -> Self {
        assert!(at + len <= out.len, "a placement outside the buffer");
        Placement { out, at, len }
    }

    /// The window's length.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies `data` to `offset` of the window, on the calling task (pieces are a
    /// connection's frames: short). `false`, writing nothing, when it would not fit.
    pub fn write(&self, offset: usize, data: &[u8]) -> bool {
        if offset.checked_add(data.len()).is_none_or(|end| end > self.len) {
            return false;
        }
        // SAFETY: inside the window (checked above), which is this placement's alone
        // (the contract of `new`), inside the buffer (asserted in `new`).
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.out.ptr.add(self.at + offset), data.len())
        };
        true
    }

    /// Reads once from `src` into bytes `span` of the window, so the bytes go from the
    /// source straight into place; `Ok(0)` at the source's end, or for a span that is
    /// empty or not inside the window.
    pub async fn read_from<R>(&self, span: std::ops::Range<usize>, src: &mut R) -> std::io::Result<usize>
    where
        R: tokio::io::AsyncRead + Unpin,
    {
        if span.is_empty() || span.end > self.len {
            return Ok(0);
        }
        // SAFETY: inside the window (checked above), which is this placement's alone (the
        // contract of `new`), inside the buffer (asserted in `new`); only ever written.
        let window = unsafe {
            std::slice::from_raw_parts_mut(
                self.out
                    .ptr
                    .add(self.at + span.start)
                    .cast::<std::mem::MaybeUninit<u8>>(),
                span.len(),
            )
        };
        let mut buf = tokio::io::ReadBuf::uninit(window);
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut *src).poll_read(cx, &mut buf)).await?;
        Ok(buf.filled().len())
    }
}

impl PartialEq for Placement {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.out, &other.out) && (self.at, self.len) == (other.at, other.len)
    }
}

impl Eq for Placement {}

/// The size from which a buffer is advised to use huge pages (x86-64's PMD size).
pub const HUGE_PAGE: usize = 2 << 20;

/// An empty `Vec` with room for `len` bytes, advised to use huge pages when it is large.
pub fn large_vec(len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    advise_huge_pages(v.as_mut_ptr(), len);
    v
}

/// Bodies from this size up to [`PREFAULT_MAX`] are prefaulted by [`prefaulted_vec`]:
/// smaller ones come from the allocator's heap, mostly mapped already, where the call
/// would cost more than it saves.
pub const PREFAULT_MIN: usize = 64 << 10;
/// A larger body would hold its caller (an async task) for milliseconds in one call, so
/// it faults page by page as it fills.
pub const PREFAULT_MAX: usize = 16 << 20;

/// An empty `Vec` with room for `len` bytes about to be written whole, its pages mapped
/// now in one `madvise(MADV_POPULATE_WRITE)` (Linux 5.14+) instead of one fault per 4 KiB
/// page as the bytes are copied in. On the 2-vCPU VM, filling 1000 fresh 1 MiB buffers
/// took 0.61–0.67 s prefaulted against 0.80–0.93 s faulting (a C loop of malloc and
/// memcpy). Elsewhere, or outside [`PREFAULT_MIN`]..=[`PREFAULT_MAX`], the pages fault
/// as before.
/// Measured by `cargo xtask bench peers` (the `1MiB x 1000 get` rows); test
/// `populating_maps_every_page_of_fresh_memory_before_it_is_written`.
pub fn prefaulted_vec(len: usize) -> Vec<u8> {
    let mut v = large_vec(len);
    if (PREFAULT_MIN..=PREFAULT_MAX).contains(&len) {
        populate(v.as_mut_ptr(), len);
    }
    v
}

/// The whole pages inside `[ptr, ptr + len)`, as madvise wants them.
#[cfg(target_os = "linux")]
fn whole_pages(ptr: *mut u8, len: usize) -> Option<(usize, usize)> {
    const PAGE: usize = 4096;
    let start = (ptr as usize).next_multiple_of(PAGE);
    let end = (ptr as usize + len) / PAGE * PAGE;
    (end > start).then_some((start, end - start))
}

#[cfg(target_os = "linux")]
pub(crate) fn populate(ptr: *mut u8, len: usize) {
    if let Some((start, len)) = whole_pages(ptr, len) {
        // SAFETY: the range lies inside the allocation we own; populating maps its pages
        // (zeroed, as a fault would) and never changes bytes already written. An older
        // kernel refuses (EINVAL) and the pages fault as they are written.
        unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_POPULATE_WRITE) };
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn populate(_: *mut u8, _: usize) {}

/// Whether the kernel backs `MADV_HUGEPAGE` memory with huge pages: transparent huge
/// pages are `always` or `madvise`.
///
/// On a VM whose balloon reports free memory to the host (the development VM), free 2 MiB
/// blocks go back to the host, so a huge page a process touches first costs the host a
/// fault per 4 KiB page: 1 GiB took 3–4 s, against 0.15 s once backed. Memory the process
/// freed and maps again (a loader's steady state) stays backed. Decision 029.
pub fn huge_pages_enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| {
        std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .is_ok_and(|mode| mode.contains("[always]") || mode.contains("[madvise]"))
    })
}

#[cfg(target_os = "linux")]
pub(crate) fn advise_huge_pages(ptr: *mut u8, len: usize) {
    if len < HUGE_PAGE {
        return;
    }
    if let Some((start, len)) = whole_pages(ptr, len) {
        // SAFETY: the range lies inside the allocation we own; MADV_HUGEPAGE changes how
        // its pages are backed, never their contents. A refusal (THP compiled out) leaves
        // ordinary pages, so the result is ignored.
        unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_HUGEPAGE) };
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn advise_huge_pages(_: *mut u8, _: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    /// A placement reads from a source into the span it is given and nowhere else.
    #[tokio::test]
    async fn a_placement_reads_into_its_span_only() {
        let out = OutputBuffer::from_vec(vec![b'.'; 12]);
        // SAFETY: the only placement of `out`.
        let place = unsafe { Placement::new(out.clone(), 2, 8) };
        let mut src: &[u8] = b"abcdefghij";
        assert_eq!(place.read_from(0..3, &mut src).await.unwrap(), 3);
        assert_eq!(place.read_from(3..8, &mut src).await.unwrap(), 5);
        assert_eq!(
            place.read_from(8..9, &mut src).await.unwrap(),
            0,
            "past the window"
        );
        assert_eq!(place.read_from(4..4, &mut src).await.unwrap(), 0, "an empty span");
        drop(place);
        assert_eq!(out.into_vec().unwrap(), b"..abcdefgh..");
    }

    /// How many of the `len / 4096` pages at `ptr` are resident (`mincore`).
    #[cfg(target_os = "linux")]
    fn resident(ptr: *mut u8, len: usize) -> usize {
        let mut pages = vec![0u8; len / 4096];
        // SAFETY: the caller's mapping covers `len` bytes; `pages` has a byte per page.
        let rc = unsafe { libc::mincore(ptr.cast(), len, pages.as_mut_ptr()) };
        assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
        pages.iter().filter(|p| **p & 1 == 1).count()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn populating_maps_every_page_of_fresh_memory_before_it_is_written() {
        let len = 1 << 20;
        // SAFETY: a private anonymous mapping of our own, unmapped below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(ptr, libc::MAP_FAILED);
        let ptr = ptr.cast::<u8>();
        assert_eq!(resident(ptr, len), 0, "fresh memory faults as it is written");
        populate(ptr, len);
        assert_eq!(resident(ptr, len), len / 4096, "every page mapped up front");
        // SAFETY: mapped above, nothing refers to it.
        unsafe { libc::munmap(ptr.cast(), len) };
    }

    #[tokio::test]
    async fn pieces_land_in_place_in_every_kind_of_buffer() {
        let big = Bytes::from(vec![3u8; INLINE_COPY + 1]);
        let len = 10 + big.len();
        let fill = |out: Arc<OutputBuffer>| async move {
            // SAFETY: the two pieces are disjoint and cover the buffer's first `len` bytes.
            unsafe {
                out.copy_in(Operation::Get, "u", 0, Bytes::from_static(b"0123456789"))
                    .await
                    .unwrap();
                out.copy_in(Operation::Get, "u", 10, Bytes::from(vec![3u8; INLINE_COPY + 1]))
                    .await
                    .unwrap();
            }
            out
        };
        let fresh = fill(OutputBuffer::new(len)).await.finish(len);
        assert_eq!(&fresh[..10], b"0123456789");
        assert!(fresh[10..] == big[..]);

        let given = fill(OutputBuffer::from_vec(vec![9; len + 2])).await;
        let v = given.into_vec().unwrap();
        assert_eq!(v.len(), len + 2);
        assert!(
            v[10..len] == big[..] && v[len..] == [9, 9],
            "bytes past the pieces are kept"
        );

        let mut mine = vec![9u8; len];
        // SAFETY: `mine` outlives the buffer (dropped below, before `mine` is read).
        let over = unsafe { OutputBuffer::over(mine.as_mut_ptr(), len, ()) };
        let over = fill(over).await;
        assert!(over.into_vec().is_none());
        assert_eq!(&mine[..10], b"0123456789");
    }

    #[test]
    fn room_is_checked_against_the_buffers_length() {
        let out = OutputBuffer::from_vec(vec![0; 8]);
        assert_eq!(out.len(), 8);
        assert!(out.room_for(Operation::Get, "s3://b/k", 8).is_ok());
        let err = out.room_for(Operation::Get, "s3://b/k", 9).unwrap_err();
        assert!(matches!(err, crate::Error::InvalidArgument { .. }));
        assert!(
            err.to_string().contains("s3://b/k") && err.to_string().contains("too small"),
            "{err}"
        );
        assert_eq!(&out.finish(3)[..], &[0, 0, 0]);
    }

    #[test]
    fn a_large_vec_has_room_for_its_length_and_works_as_a_vec() {
        for len in [0, 10, HUGE_PAGE + 17, 3 * HUGE_PAGE] {
            let mut v = large_vec(len);
            assert!(v.capacity() >= len && v.is_empty());
            v.resize(len, 7);
            assert!(v.iter().all(|&b| b == 7));
        }
    }
}
