//! `fallocate`: a differential against a kernel memfd (tmpfs underneath:
//! the same modes, errnos, sizes and bytes), pages given back by a punched
//! hole (checked with mincore(2)), reservations and the memory limit.

use std::ffi::CString;

use ermfs::Fs;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::common::{each_fs, each_with, errno};

const KEEP: i32 = libc::FALLOC_FL_KEEP_SIZE;
const PUNCH: i32 = libc::FALLOC_FL_PUNCH_HOLE;
const RW: i32 = libc::O_RDWR | libc::O_CREAT;

/// Modes tried: the three ERMFS takes, tmpfs's refusals, invalid mixes.
const MODES: &[i32] = &[
    0,
    KEEP,
    PUNCH | KEEP,
    PUNCH,
    libc::FALLOC_FL_ZERO_RANGE,
    libc::FALLOC_FL_ZERO_RANGE | KEEP,
    libc::FALLOC_FL_COLLAPSE_RANGE,
    libc::FALLOC_FL_COLLAPSE_RANGE | KEEP,
    libc::FALLOC_FL_INSERT_RANGE,
    libc::FALLOC_FL_UNSHARE_RANGE,
    0x80,
    0x80 | KEEP,
    0x100,
    PUNCH | libc::FALLOC_FL_ZERO_RANGE | KEEP,
    -1,
];

#[derive(Debug, Clone)]
enum Op {
    /// `fallocate` through the read-write (false) or read-only (true) descriptor.
    Fallocate(bool, i32, i64, i64),
    Pwrite(i64, usize, u8),
    Ftruncate(i64),
}

fn op() -> impl Strategy<Value = Op> {
    let mode = prop::sample::select(MODES);
    let range = prop_oneof![
        8 => (0i64..70_000, 1i64..70_000),
        1 => (-5i64..0, 1i64..10),
        1 => (0i64..10, -3i64..=0),
        // Past i64::MAX: EFBIG on both sides before any allocation.
        1 => (1i64..100).prop_map(|o| (o, i64::MAX)),
        1 => (1i64..70_000).prop_map(|l| (i64::MAX - 10, l + 10)),
    ];
    prop_oneof![
        6 => (prop::bool::weighted(0.15), mode, range)
            .prop_map(|(ro, m, (o, l))| Op::Fallocate(ro, m, o, l)),
        3 => (0i64..70_000, 1usize..20_000, any::<u8>()).prop_map(|(o, n, s)| Op::Pwrite(o, n, s)),
        1 => (0i64..70_000).prop_map(Op::Ftruncate),
    ]
}

/// `Ok(())` or the errno of a libc call that returned `ret`.
fn k(ret: i32) -> Result<(), i32> {
    if ret < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap())
    } else {
        Ok(())
    }
}

/// A memfd and a read-only description of it: the oracle.
struct Memfd {
    rw: i32,
    ro: i32,
}

impl Memfd {
    fn new() -> Memfd {
        let name = CString::new("fallocate-oracle").unwrap();
        // SAFETY: `name` is a valid NUL-terminated string.
        let rw = unsafe { libc::memfd_create(name.as_ptr(), 0) };
        assert!(rw >= 0, "memfd_create failed");
        let path = CString::new(format!("/proc/self/fd/{rw}")).unwrap();
        // SAFETY: `path` is a valid NUL-terminated string.
        let ro = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY) };
        assert!(ro >= 0, "reopen failed");
        Memfd { rw, ro }
    }

    fn apply(&self, op: &Op) -> Result<(), i32> {
        match *op {
            Op::Fallocate(ro, mode, off, len) => {
                let fd = if ro { self.ro } else { self.rw };
                // SAFETY: plain syscall, no memory involved.
                k(unsafe { libc::fallocate(fd, mode, off, len) })
            }
            Op::Pwrite(off, n, seed) => {
                let data = vec![seed; n];
                // SAFETY: `data` is valid for `n` bytes of reads.
                let ret = unsafe { libc::pwrite(self.rw, data.as_ptr().cast(), n, off) };
                k(ret.min(0) as i32)
            }
            // SAFETY: plain syscall, no memory involved.
            Op::Ftruncate(len) => k(unsafe { libc::ftruncate(self.rw, len) }),
        }
    }

    fn content(&self) -> Vec<u8> {
        // SAFETY: `st` is a valid out-pointer for fstat.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        assert_eq!(unsafe { libc::fstat(self.rw, &mut st) }, 0);
        let mut buf = vec![0u8; st.st_size as usize];
        // SAFETY: `buf` is valid for its length of writes.
        let n = unsafe { libc::pread(self.rw, buf.as_mut_ptr().cast(), buf.len(), 0) };
        assert_eq!(n as usize, buf.len());
        buf
    }
}

impl Drop for Memfd {
    fn drop(&mut self) {
        // SAFETY: closing the descriptors this value owns.
        unsafe {
            libc::close(self.ro);
            libc::close(self.rw);
        }
    }
}

fn apply(fs: &Fs, rw: i32, ro: i32, op: &Op) -> Result<(), i32> {
    let r = match *op {
        Op::Fallocate(read_only, mode, off, len) => {
            fs.fallocate(if read_only { ro } else { rw }, mode, off, len)
        }
        Op::Pwrite(off, n, seed) => fs.pwrite(rw, &vec![seed; n], off).map(drop),
        Op::Ftruncate(len) => fs.ftruncate(rw, len),
    };
    r.map_err(|e| e.raw_os_error().unwrap())
}

fn content(fs: &Fs, fd: i32) -> Vec<u8> {
    let mut buf = vec![0u8; fs.fstat(fd).unwrap().size as usize];
    assert_eq!(fs.pread(fd, &mut buf, 0).unwrap(), buf.len());
    buf
}

#[test]
fn fallocate_matches_a_memfd() {
    let mut runner = TestRunner::new(Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&prop::collection::vec(op(), 1..25), |ops| {
        let failure = std::cell::RefCell::new(None::<String>);
        each_fs(|fs| {
            let oracle = Memfd::new();
            let rw = fs.open("/f", RW, 0o644).unwrap();
            let ro = fs.open("/f", libc::O_RDONLY, 0).unwrap();
            for (i, op) in ops.iter().enumerate() {
                let (theirs, ours) = (oracle.apply(op), apply(fs, rw, ro, op));
                if failure.borrow().is_some() {
                    break;
                }
                if theirs != ours {
                    *failure.borrow_mut() =
                        Some(format!("op {i} {op:?}: kernel {theirs:?}, ermfs {ours:?}"));
                } else if oracle.content() != content(fs, rw) {
                    *failure.borrow_mut() = Some(format!("op {i} {op:?}: contents differ"));
                }
            }
            fs.close(rw).unwrap();
            fs.close(ro).unwrap();
            fs.unlink("/f").unwrap();
        });
        match failure.into_inner() {
            None => Ok(()),
            Some(f) => Err(TestCaseError::fail(f)),
        }
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Pages of `len` bytes at `ptr` resident in memory (mincore(2)).
fn resident_pages(ptr: *const u8, len: usize) -> usize {
    let page = 4096;
    let mut vec = vec![0u8; len.div_ceil(page)];
    // SAFETY: `ptr` is page-aligned (a page-backed region starts on a page)
    // and `ptr..ptr + len` is mapped (the file's region, held open by the
    // caller); `vec` has one byte per page.
    let ret = unsafe { libc::mincore(ptr as *mut libc::c_void, len, vec.as_mut_ptr()) };
    assert_eq!(ret, 0, "mincore: {}", std::io::Error::last_os_error());
    vec.iter().filter(|&&b| b & 1 != 0).count()
}

#[test]
fn punching_a_hole_gives_whole_pages_back() {
    each_fs(|fs| {
        let fd = fs.open("/f", RW, 0o644).unwrap();
        let len = 64 * 4096;
        fs.write(fd, &vec![0xAB; len]).unwrap();
        let base = fs.with_bytes(fd, 0, len, |b| b.as_ptr() as usize).unwrap();
        assert_eq!(base % 4096, 0);
        assert_eq!(resident_pages(base as *const u8, len), 64);
        // From the middle of page 1 to the middle of page 11: pages 2-10 go.
        fs.fallocate(fd, PUNCH | KEEP, 4096 + 100, 10 * 4096)
            .unwrap();
        assert_eq!(resident_pages(base as *const u8, len), 64 - 9);
        let bytes = content(fs, fd);
        assert_eq!(bytes.len(), len, "KEEP_SIZE: the size stays");
        assert!(bytes[..4196].iter().all(|&b| b == 0xAB));
        assert!(bytes[4196..4196 + 10 * 4096].iter().all(|&b| b == 0));
        assert!(bytes[4196 + 10 * 4096..].iter().all(|&b| b == 0xAB));
        // Past the end: nothing changes.
        fs.fallocate(fd, PUNCH | KEEP, len as i64, 4096).unwrap();
        assert_eq!(fs.fstat(fd).unwrap().size, len as u64);
        fs.close(fd).unwrap();
        // A small file (size class, no whole page) is zeroed in place.
        let fd = fs.open("/s", RW, 0o644).unwrap();
        fs.write(fd, b"0123456789").unwrap();
        fs.fallocate(fd, PUNCH | KEEP, 2, 3).unwrap();
        assert_eq!(content(fs, fd), b"01\x00\x00\x0056789");
        fs.close(fd).unwrap();
    });
}

#[test]
fn keep_size_reserves_and_mode_zero_extends() {
    each_with(
        || Fs::builder().memory_limit(Some(1 << 20)),
        |fs| {
            let fd = fs.open("/f", RW, 0o644).unwrap();
            fs.write(fd, b"abc").unwrap();
            fs.fallocate(fd, KEEP, 0, 512 * 1024).unwrap();
            assert_eq!(fs.fstat(fd).unwrap().size, 3);
            assert!(fs.memory_used() >= 512 * 1024, "the reserve is charged");
            // Writes into the reserve do not grow the charge.
            let used = fs.memory_used();
            fs.pwrite(fd, &[1; 1000], 400_000).unwrap();
            assert_eq!(fs.memory_used(), used);
            // Mode 0 extends with zeros, and never shrinks.
            fs.fallocate(fd, 0, 600_000, 10).unwrap();
            assert_eq!(fs.fstat(fd).unwrap().size, 600_010);
            fs.fallocate(fd, 0, 0, 5).unwrap();
            assert_eq!(fs.fstat(fd).unwrap().size, 600_010);
            // Over the limit: ENOSPC, nothing changed.
            assert_eq!(errno(fs.fallocate(fd, 0, 0, 2 << 20)), libc::ENOSPC);
            assert_eq!(errno(fs.fallocate(fd, KEEP, 0, 2 << 20)), libc::ENOSPC);
            assert_eq!(fs.fstat(fd).unwrap().size, 600_010);
            // Past the largest region: EFBIG.
            let huge = erm_alloc::MAX_LEN as i64;
            assert_eq!(errno(fs.fallocate(fd, 0, huge, 1)), libc::EFBIG);
            assert_eq!(errno(fs.fallocate(fd, KEEP, huge, 1)), libc::EFBIG);
            fs.close(fd).unwrap();
        },
    );
}

#[test]
fn fallocate_bad_input() {
    each_fs(|fs| {
        for bad in [-1, 5, i32::MAX] {
            assert_eq!(errno(fs.fallocate(bad, 0, 0, 1)), libc::EBADF);
            assert_eq!(errno(fs.fallocate(bad, -1, -1, 0)), libc::EBADF, "fd first");
        }
        let fd = fs.open("/f", RW, 0o644).unwrap();
        assert_eq!(errno(fs.fallocate(fd, 0, -1, 1)), libc::EINVAL);
        assert_eq!(errno(fs.fallocate(fd, 0, 0, 0)), libc::EINVAL);
        assert_eq!(errno(fs.fallocate(fd, 0, 0, -1)), libc::EINVAL);
        assert_eq!(errno(fs.fallocate(fd, PUNCH, 0, 1)), libc::EOPNOTSUPP);
        assert_eq!(errno(fs.fallocate(fd, 0, i64::MAX, 1)), libc::EFBIG);
        fs.close(fd).unwrap();
        fs.mkdir("/d", 0o755).unwrap();
        let d = fs.open("/d", libc::O_RDONLY, 0).unwrap();
        assert_eq!(errno(fs.fallocate(d, 0, 0, 1)), libc::EBADF);
        assert_eq!(errno(fs.fallocate(d, 0x100, 0, 1)), libc::EOPNOTSUPP);
        fs.close(d).unwrap();
    });
}
