//! Fresh memory for response bodies: [`BodyBuf`], a buffer of a body's exact length that
//! becomes [`Bytes`] without a copy.
//!
//! Where transparent huge pages are enabled ([`huge_pages_enabled`]), a body of
//! [`SLAB_MIN`]..=[`SLAB_MAX`] bytes is carved out of a 2 MiB slab: one mapping aligned to
//! a huge page and advised `MADV_HUGEPAGE`, which the kernel maps and zeroes in one fault
//! instead of 512. Mapping fresh 4 KiB pages was half of the client's CPU time when
//! reading 1 MiB objects (`perf` of the `peers_worker` example's `1MiB x 1000 get`); on
//! the 2-vCPU VM a C loop filling 1 GiB took 0.47–0.62 s in prefaulted 4 KiB pages and
//! 0.15 s in huge pages. Measured by `cargo xtask bench peers` (the `256KiB x 2000` and
//! `1MiB x 1000` get rows); decision 029.
//!
//! Memory stays what the live bodies hold, page-rounded: a body dropped while others of
//! its slab live hands its pages back at once (`MADV_DONTNEED`, which splits the huge
//! page), as does the end of a slab too short for the next body, and the slab is unmapped
//! with its last body. The slab being carved stays mapped (one per process).
//! Other sizes, and hosts without huge pages, get a vector of their own, prefaulted as
//! [`prefaulted_vec`] says.

use std::ptr::NonNull;
use std::sync::{Arc, Mutex, TryLockError};

use bytes::buf::UninitSlice;
use bytes::{BufMut, Bytes};

use crate::buffer::{HUGE_PAGE, huge_pages_enabled, prefaulted_vec};

/// A slab: one huge page.
pub const SLAB: usize = HUGE_PAGE;
/// Smaller bodies get a vector of their own: the smallest size measured (the peers
/// benchmark's 256 KiB rows: 0.43 s for 2000 bodies in 4 KiB pages, 0.24 s in slabs).
pub const SLAB_MIN: usize = 256 << 10;
/// Larger bodies get a vector of their own: each would take a slab alone, zeroing up to
/// twice its size.
pub const SLAB_MAX: usize = SLAB / 2;
/// Bodies start on a page, so a slab's unused end is whole pages.
const PAGE: usize = 4096;

/// Room for one response body of a known length, filled front to back.
#[derive(Debug)]
pub struct BodyBuf {
    ptr: NonNull<u8>,
    cap: usize,
    filled: usize,
    owner: Owner,
}

#[derive(Debug)]
enum Owner {
    /// Capacity `cap`, length 0 until `freeze`.
    Vec(Vec<u8>),
    /// `cap` bytes of a slab, this buffer's alone: handed back when dropped unread.
    Slab(Piece),
}

// SAFETY: the memory belongs to `owner`; a slab's range is this buffer's alone (`carve`
// never hands out a range twice).
unsafe impl Send for BodyBuf {}
// SAFETY: as above; `&BodyBuf` gives no access to the bytes.
unsafe impl Sync for BodyBuf {}

impl BodyBuf {
    /// Room for `len` bytes, mapped before they arrive: from a slab where huge pages are
    /// enabled ([`huge_pages_enabled`]).
    pub fn new(len: usize) -> BodyBuf {
        BodyBuf::from_slabs(len, huge_pages_enabled())
    }

    fn from_slabs(len: usize, slabs: bool) -> BodyBuf {
        if let Some((slab, at)) = slabs.then(|| carve(len)).flatten() {
            // SAFETY: `at + len <= SLAB` (`carve`), inside the slab's mapping.
            let ptr = unsafe { NonNull::new_unchecked(slab.ptr.as_ptr().add(at)) };
            crate::buffer::populate(ptr.as_ptr(), len);
            return BodyBuf {
                ptr,
                cap: len,
                filled: 0,
                owner: Owner::Slab(Piece { slab, at, len }),
            };
        }
        let mut v = prefaulted_vec(len);
        BodyBuf {
            ptr: NonNull::new(v.as_mut_ptr()).expect("a Vec's pointer is never null"),
            cap: v.capacity(),
            filled: 0,
            owner: Owner::Vec(v),
        }
    }

    /// Whether the body came out of a slab.
    #[cfg(test)]
    fn in_slab(&self) -> bool {
        matches!(self.owner, Owner::Slab(..))
    }

    /// Appends `data`; false, writing nothing, when it would run past the length given to
    /// [`new`](Self::new) (a body longer than announced).
    #[must_use]
    pub fn extend_from_slice(&mut self, data: &[u8]) -> bool {
        if data.len() > self.cap - self.filled {
            return false;
        }
        self.put_slice(data);
        true
    }

    /// What was written, without a copy.
    pub fn freeze(self) -> Bytes {
        match self.owner {
            Owner::Vec(mut v) => {
                // SAFETY: the first `filled` bytes were written (`advance_mut`'s contract).
                unsafe { v.set_len(self.filled) };
                Bytes::from(v)
            }
            Owner::Slab(piece) => Bytes::from_owner(piece).slice(..self.filled),
        }
    }
}

// SAFETY: `chunk_mut` is the unwritten rest of this buffer's memory; `advance_mut` never
// moves past it.
unsafe impl BufMut for BodyBuf {
    fn remaining_mut(&self) -> usize {
        self.cap - self.filled
    }

    unsafe fn advance_mut(&mut self, cnt: usize) {
        assert!(cnt <= self.cap - self.filled, "advanced past the body's length");
        self.filled += cnt;
    }

    fn chunk_mut(&mut self) -> &mut UninitSlice {
        // SAFETY: `[filled, cap)` lies inside this buffer's memory, which nothing else
        // writes or reads.
        unsafe { UninitSlice::from_raw_parts_mut(self.ptr.as_ptr().add(self.filled), self.cap - self.filled) }
    }
}

/// A 2 MiB mapping aligned to a huge page, unmapped when the last body carved from it
/// is dropped.
#[derive(Debug)]
struct Slab {
    ptr: NonNull<u8>,
}

// SAFETY: the mapping is owned here; bodies carved from it touch disjoint ranges.
unsafe impl Send for Slab {}
// SAFETY: as above.
unsafe impl Sync for Slab {}

impl Slab {
    /// A fresh slab, or None where mapping fails (the body then gets a vector).
    #[cfg(target_os = "linux")]
    fn map() -> Option<Slab> {
        // Twice the size, so an aligned slab lies inside; the rest is unmapped at once.
        // SAFETY: a private anonymous mapping of our own.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                2 * SLAB,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return None;
        }
        let base = base as usize;
        let start = base.next_multiple_of(SLAB);
        let end = start + SLAB;
        // SAFETY: both ranges lie inside the mapping made above and outside the slab; the
        // one after it is never empty, as `start - base < SLAB`.
        unsafe {
            if start > base {
                libc::munmap(base as *mut libc::c_void, start - base);
            }
            libc::munmap(end as *mut libc::c_void, base + 2 * SLAB - end);
        }
        crate::buffer::advise_huge_pages(start as *mut u8, SLAB);
        NonNull::new(start as *mut u8).map(|ptr| Slab { ptr })
    }

    #[cfg(not(target_os = "linux"))]
    fn map() -> Option<Slab> {
        None
    }

    /// Hands `range`, which no body uses, back to the kernel.
    fn release(&self, range: std::ops::Range<usize>) {
        let range = range.start..range.end.min(SLAB);
        if !range.is_empty() {
            // SAFETY: inside this slab, used by no body; DONTNEED only drops its pages.
            #[cfg(target_os = "linux")]
            unsafe {
                libc::madvise(
                    self.ptr.as_ptr().add(range.start).cast(),
                    range.len(),
                    libc::MADV_DONTNEED,
                )
            };
        }
    }
}

impl Drop for Slab {
    fn drop(&mut self) {
        // SAFETY: the mapping `map` made; no body refers to it any more.
        #[cfg(target_os = "linux")]
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), SLAB)
        };
    }
}

/// A body's range of a slab, before and after it is frozen.
#[derive(Debug)]
struct Piece {
    slab: Arc<Slab>,
    at: usize,
    len: usize,
}

impl Drop for Piece {
    fn drop(&mut self) {
        // Another body keeps the slab: hand this one's pages back now, so a body kept
        // alive holds its own memory only. The last one unmaps the slab instead.
        if Arc::strong_count(&self.slab) > 1 {
            self.slab
                .release(self.at..(self.at + self.len).next_multiple_of(PAGE));
        }
    }
}

impl AsRef<[u8]> for Piece {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: inside the slab and mapped while this piece lives (zeroes where nothing
        // was written); frozen bodies are never written again.
        unsafe { std::slice::from_raw_parts(self.slab.ptr.as_ptr().add(self.at), self.len) }
    }
}

/// The slab being carved and where its free part starts.
static CARVING: Mutex<Option<(Arc<Slab>, usize)>> = Mutex::new(None);

/// A free range of `len` bytes in a slab, for the sizes slabs serve.
fn carve(len: usize) -> Option<(Arc<Slab>, usize)> {
    if !(SLAB_MIN..=SLAB_MAX).contains(&len) {
        return None;
    }
    // Never waits: a body whose read finds the slab busy gets a vector instead, and a
    // child forked while another thread held the lock (which stays held there) never
    // blocks on it.
    let mut carving = match CARVING.try_lock() {
        Ok(carving) => carving,
        Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        Err(TryLockError::WouldBlock) => return None,
    };
    let (slab, at) = match carving.take() {
        Some((slab, at)) if SLAB - at >= len => (slab, at),
        other => {
            if let Some((old, at)) = other {
                old.release(at..SLAB);
            }
            (Arc::new(Slab::map()?), 0)
        }
    };
    let next = (at + len).next_multiple_of(PAGE);
    if SLAB - next >= SLAB_MIN {
        *carving = Some((slab.clone(), next));
    } else {
        // Full: nothing keeps it but its bodies.
        slab.release(next..SLAB);
    }
    Some((slab, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests carve from the one process-wide slab: one at a time, so each sees its own.
    static SERIAL: Mutex<()> = Mutex::new(());

    fn serial() -> std::sync::MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn filled(len: usize, byte: u8) -> Bytes {
        let mut b = BodyBuf::from_slabs(len, true);
        assert!(b.extend_from_slice(&vec![byte; len / 2]));
        assert!(b.extend_from_slice(&vec![byte; len - len / 2]));
        assert!(!b.extend_from_slice(b"x"), "past the length");
        b.freeze()
    }

    #[test]
    fn bodies_keep_their_bytes_whatever_holds_them() {
        let _one = serial();
        for len in [
            0,
            1,
            64 << 10,
            SLAB_MIN - 1,
            SLAB_MIN,
            700 << 10,
            SLAB_MAX,
            SLAB_MAX + 1,
            3 << 20,
        ] {
            let bodies: Vec<Bytes> = (0..5).map(|i| filled(len, i as u8)).collect();
            for (i, b) in bodies.iter().enumerate() {
                assert_eq!(b.len(), len);
                assert!(b.iter().all(|&x| x == i as u8), "body {i} of {len} bytes");
            }
        }
    }

    #[test]
    fn only_slab_sizes_come_from_slabs_and_only_with_huge_pages() {
        let _one = serial();
        let slabbed = |len| BodyBuf::from_slabs(len, true).in_slab();
        assert!(!slabbed(SLAB_MIN - 1));
        assert!(!slabbed(SLAB_MAX + 1));
        assert_eq!(slabbed(SLAB_MIN), cfg!(target_os = "linux"));
        assert_eq!(slabbed(SLAB_MAX), cfg!(target_os = "linux"));
        assert!(!BodyBuf::from_slabs(SLAB_MAX, false).in_slab());
        let held = CARVING.lock().unwrap();
        assert!(!slabbed(SLAB_MAX), "the slab busy: a vector, without waiting");
        drop(held);
        assert_eq!(BodyBuf::new(SLAB_MAX).in_slab(), huge_pages_enabled());
    }

    /// Pages of `[ptr, ptr + len)` that are resident, or None when it is not mapped.
    #[cfg(target_os = "linux")]
    fn resident(ptr: usize, len: usize) -> Option<usize> {
        let mut pages = vec![0u8; len / PAGE];
        // SAFETY: mincore only reports on the range; `pages` has a byte per page.
        let rc = unsafe { libc::mincore(ptr as *mut libc::c_void, len, pages.as_mut_ptr()) };
        (rc == 0).then(|| pages.iter().filter(|p| **p & 1 == 1).count())
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_slab_holds_bodies_side_by_side_and_hands_back_all_but_the_live_ones() {
        let _one = serial();
        // Start on a fresh slab.
        CARVING.lock().unwrap().take();
        let odd = 700 << 10;
        let (a, b) = (filled(odd, 1), filled(odd, 2));
        let slab = a.as_ptr() as usize;
        assert_eq!(slab % SLAB, 0, "the first body starts the slab");
        assert_eq!(b.as_ptr() as usize, slab + odd, "the second follows it");
        let c = filled(odd, 3);
        assert!(
            c.as_ptr() as usize / SLAB != slab / SLAB,
            "no room left: a new slab"
        );
        let end = slab + 2 * odd;
        assert_eq!(
            resident(end, slab + SLAB - end),
            Some(0),
            "its unused end is handed back"
        );
        assert!(a.iter().all(|&x| x == 1) && b.iter().all(|&x| x == 2) && c.iter().all(|&x| x == 3));
        drop((a, c));
        assert_eq!(
            resident(slab, odd),
            Some(0),
            "a dropped body's pages go back at once"
        );
        assert_eq!(
            resident(slab + odd, odd),
            Some(odd / PAGE),
            "the live body's stay"
        );
        drop(b);
        assert_eq!(resident(slab, SLAB), None, "unmapped with its last body");
        let unread = BodyBuf::from_slabs(odd, true);
        let at = unread.ptr.as_ptr() as usize;
        assert_eq!(
            resident(at, odd),
            Some(odd / PAGE),
            "mapped before the bytes arrive"
        );
        drop(unread);
        assert_eq!(
            resident(at, odd),
            Some(0),
            "a body dropped unread hands its pages back"
        );
    }
}
