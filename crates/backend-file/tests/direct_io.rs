//! Proof that direct:// really bypasses the page cache, and that file:// behaviours
//! specific to local files hold (temporary files, concurrent positional reads).

use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use bytes::Bytes;
use s3dlio_backend_file::{FileConfig, FileStore, PageCacheHint};
use s3dlio_core::testkit::pattern;
use s3dlio_core::{ObjectStore, ObjectStoreExt, WriterOptions};

/// Pages of `path` resident in the page cache (mmap + mincore).
fn resident_pages(path: &Path) -> usize {
    let file = std::fs::File::open(path).unwrap();
    let len = file.metadata().unwrap().len() as usize;
    let page = 4096;
    // SAFETY: a read-only private mapping of a file we hold open, unmapped below.
    unsafe {
        let addr = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        );
        assert_ne!(addr, libc::MAP_FAILED);
        let mut vec = vec![0u8; len.div_ceil(page)];
        assert_eq!(libc::mincore(addr, len, vec.as_mut_ptr()), 0);
        libc::munmap(addr, len);
        vec.iter().filter(|v| **v & 1 == 1).count()
    }
}

/// True when the filesystem under `dir` accepts O_DIRECT opens.
fn supports_o_direct(dir: &Path) -> bool {
    let probe = dir.join("probe");
    let ok = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .custom_flags(libc::O_DIRECT)
        .open(&probe)
        .is_ok();
    let _ = std::fs::remove_file(probe);
    ok
}

#[tokio::test]
async fn direct_io_bypasses_the_page_cache() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        supports_o_direct(dir.path()),
        "the temp filesystem refuses O_DIRECT; run this test where it works (ext4, xfs)"
    );
    let len = (8 << 20) + 123; // an unaligned tail
    let data = pattern(len, 1);

    let direct = FileStore::direct(FileConfig::default());
    let d_uri = format!("direct://{}/d.bin", dir.path().display());
    direct.put(&d_uri, data.clone()).await.unwrap();
    assert!(direct.get(&d_uri).await.unwrap() == data);
    assert!(direct.get_range(&d_uri, 4095, Some(10_000)).await.unwrap() == data.slice(4095..14_095));
    let stats = direct.direct_io_stats();
    assert!(
        stats.direct_opens >= 3 && stats.buffered_fallbacks == 0,
        "{stats:?}"
    );
    let d_pages = resident_pages(&dir.path().join("d.bin"));

    let buffered = FileStore::new(FileConfig::default());
    let f_uri = format!("file://{}/f.bin", dir.path().display());
    buffered.put(&f_uri, data.clone()).await.unwrap();
    assert!(buffered.get(&f_uri).await.unwrap() == data);
    let f_pages = resident_pages(&dir.path().join("f.bin"));

    let total = len.div_ceil(4096);
    // O_DIRECT leaves (almost) nothing in the cache; buffered I/O leaves the file there.
    assert!(
        d_pages <= 1,
        "direct:// left {d_pages} of {total} pages in the page cache"
    );
    assert!(
        f_pages >= total * 9 / 10,
        "file:// left only {f_pages} of {total} pages cached"
    );
}

/// `S3DLIO_PAGE_CACHE=dontneed` drops a buffered read's pages from the cache afterwards;
/// `normal` leaves them there.
#[tokio::test]
async fn the_dontneed_hint_drops_the_pages_a_read_brought_in() {
    let dir = tempfile::tempdir().unwrap();
    let len = 8 << 20;
    let mut resident = Vec::new();
    for hint in [PageCacheHint::DontNeed, PageCacheHint::Normal] {
        let path = dir.path().join(format!("{hint:?}.bin"));
        let file = std::fs::File::create(&path).unwrap();
        std::io::Write::write_all(&mut &file, &pattern(len, 3)).unwrap();
        // Written back and dropped: only the read below can bring pages in (the kernel
        // does not drop dirty pages).
        file.sync_all().unwrap();
        // SAFETY: a valid fd and plain integers.
        unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        let store = FileStore::new(FileConfig {
            page_cache: hint,
            ..FileConfig::default()
        });
        let uri = format!("file://{}", path.display());
        assert_eq!(store.get(&uri).await.unwrap().len(), len);
        resident.push(resident_pages(&path));
    }
    let total = len / 4096;
    assert!(
        resident[0] <= total / 10 && resident[1] >= total * 9 / 10,
        "pages of {total} cached after a read: dontneed {}, normal {}",
        resident[0],
        resident[1]
    );
}

#[tokio::test]
async fn direct_streaming_writer_handles_unaligned_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::direct(FileConfig::default());
    let uri = format!("direct://{}/w.bin", dir.path().display());
    let mut w = store
        .get_writer(&uri, WriterOptions::default().with_buffer_size(10_000))
        .await
        .unwrap();
    let mut expected = Vec::new();
    for (i, n) in [1usize, 4095, 4097, 70_001, 3].into_iter().enumerate() {
        let chunk = pattern(n, i as u64);
        expected.extend_from_slice(&chunk);
        w.write(chunk).await.unwrap();
    }
    assert_eq!(w.finalize().await.unwrap().size, expected.len() as u64);
    assert_eq!(std::fs::read(dir.path().join("w.bin")).unwrap(), expected);
}

#[tokio::test]
async fn direct_on_tmpfs_reads_and_writes_correctly() {
    // Kernels before 6.6 refuse O_DIRECT on tmpfs (the fallback path); newer ones accept
    // it. Either way the data must be exact and the stats must say which path ran.
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        panic!("/dev/shm is missing: this test needs a tmpfs mount");
    }
    let dir = tempfile::tempdir_in(shm).unwrap();
    let store = FileStore::direct(FileConfig::default());
    let uri = format!("direct://{}/t.bin", dir.path().display());
    let data = pattern(10_000, 3);
    store.put(&uri, data.clone()).await.unwrap();
    assert!(store.get(&uri).await.unwrap() == data);
    let stats = store.direct_io_stats();
    assert_eq!(stats.direct_opens + stats.buffered_fallbacks, 2, "{stats:?}");
    if supports_o_direct(dir.path()) {
        assert_eq!(stats.buffered_fallbacks, 0, "{stats:?}");
    } else {
        assert_eq!(stats.direct_opens, 0, "{stats:?}");
    }
}

#[tokio::test]
async fn cancelled_and_dropped_writers_leave_no_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(FileConfig::default());
    let uri = |k: &str| format!("file://{}/{k}", dir.path().display());
    let mut w = store
        .get_writer(&uri("a"), WriterOptions::default())
        .await
        .unwrap();
    w.write(Bytes::from_static(b"partial")).await.unwrap();
    w.cancel().await.unwrap();
    let mut w = store
        .get_writer(&uri("b"), WriterOptions::default())
        .await
        .unwrap();
    w.write(Bytes::from_static(b"partial")).await.unwrap();
    drop(w);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_ranged_reads_are_exact() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(FileStore::new(FileConfig::default()));
    let uri = format!("file://{}/c.bin", dir.path().display());
    let data = pattern(1 << 20, 9);
    store.put(&uri, data.clone()).await.unwrap();
    let tasks: Vec<_> = (0..64u64)
        .map(|i| {
            let (store, uri, data) = (store.clone(), uri.clone(), data.clone());
            tokio::spawn(async move {
                let off = (i * 16_381) % (1 << 20);
                let got = store.get_range(&uri, off, Some(8192)).await.unwrap();
                let end = (off as usize + 8192).min(data.len());
                assert!(got == data.slice(off as usize..end), "range at {off}");
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn metadata_is_refused_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(FileConfig::default());
    let uri = format!("file://{}/m", dir.path().display());
    let opts = s3dlio_core::PutOptions::default().with_metadata("k", "v");
    let err = s3dlio_core::ObjectStore::put_opts(&store, &uri, Bytes::new(), opts)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("file") && err.to_string().contains(&uri),
        "{err}"
    );
}

/// Dirty and under-writeback pages of `path` in the page cache (`cachestat`, Linux 6.5+).
fn unwritten_pages(path: &Path) -> u64 {
    // The syscall's number is the same on every architecture; libc names it on few.
    const SYS_CACHESTAT: libc::c_long = 451;
    #[repr(C)]
    struct Range {
        off: u64,
        len: u64,
    }
    #[repr(C)]
    #[derive(Default)]
    struct CacheStat {
        cache: u64,
        dirty: u64,
        writeback: u64,
        evicted: u64,
        recently_evicted: u64,
    }
    let file = std::fs::File::open(path).unwrap();
    let whole = Range { off: 0, len: 0 };
    let mut stat = CacheStat::default();
    // SAFETY: a valid fd and two live, correctly laid out structs.
    let rc = unsafe { libc::syscall(SYS_CACHESTAT, file.as_raw_fd(), &whole, &mut stat, 0) };
    assert_eq!(rc, 0, "cachestat: {}", std::io::Error::last_os_error());
    stat.dirty + stat.writeback
}

/// `S3DLIO_FILE_FSYNC=1`: a put, a writer and a copy return only once the object's data
/// is on the disk (no dirty page left); with `0` a fresh put's pages are still dirty.
#[tokio::test]
async fn fsync_writes_each_object_back_before_it_is_visible() {
    let dir = tempfile::tempdir().unwrap();
    let data = pattern(4 << 20, 7);
    let uri = |name: &str| format!("file://{}/{name}", dir.path().display());
    let durable = FileStore::new(FileConfig {
        fsync: true,
        ..FileConfig::default()
    });
    durable.put(&uri("put"), data.clone()).await.unwrap();
    let mut w = durable
        .get_writer(&uri("writer"), WriterOptions::default())
        .await
        .unwrap();
    w.write(data.clone()).await.unwrap();
    w.finalize().await.unwrap();
    durable.copy(&uri("put"), &uri("copy")).await.unwrap();
    for name in ["put", "writer", "copy"] {
        assert_eq!(unwritten_pages(&dir.path().join(name)), 0, "{name} with fsync");
    }

    // Without it the kernel writes back later (30 s by default): the pages are dirty now.
    let fast = FileStore::new(FileConfig::default());
    fast.put(&uri("lazy"), data).await.unwrap();
    assert!(
        unwritten_pages(&dir.path().join("lazy")) > 0,
        "a put without fsync left no dirty page: the comparison above proves nothing"
    );
}

/// `S3DLIO_DIRECT_ALIGNMENT`: a small direct read fetches the aligned block around it, so
/// the alignment sets how many bytes come from the disk (`/proc/self/io` `read_bytes`;
/// this test runs alone in its process under nextest).
#[tokio::test]
async fn the_direct_alignment_sets_the_block_a_small_range_reads() {
    fn disk_reads() -> u64 {
        let io = std::fs::read_to_string("/proc/self/io").unwrap();
        io.lines()
            .find_map(|l| l.strip_prefix("read_bytes: "))
            .unwrap()
            .parse()
            .unwrap()
    }
    let dir = tempfile::tempdir().unwrap();
    assert!(
        supports_o_direct(dir.path()),
        "the temp filesystem refuses O_DIRECT"
    );
    let data = pattern(1 << 20, 9);
    let path = dir.path().join("aligned.bin");
    std::fs::write(&path, &data).unwrap();
    let uri = format!("direct://{}", path.display());
    let mut fetched = Vec::new();
    for align in [4096usize, 65536] {
        let store = FileStore::direct(FileConfig {
            direct_alignment: align,
            ..FileConfig::default()
        });
        let before = disk_reads();
        let got = store.get_range(&uri, 100_000, Some(10)).await.unwrap();
        fetched.push(disk_reads() - before);
        assert_eq!(got, data.slice(100_000..100_010));
    }
    // 100 000..100 010 lies in block 98 304..102 400 of 4 KiB and 65 536..131 072 of 64 KiB.
    assert_eq!(fetched, [4096, 65536]);
}
