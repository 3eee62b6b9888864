//! Differential test: random descriptor calls on one ERMFS file and on a
//! kernel memfd (the oracle; no file on disk) must give the same results,
//! errnos and bytes. Reopening the memfd through `/proc/self/fd` gives each
//! open its own description, offset and access mode, as ERMFS's `open` does.

use ermfs::Fs;
use proptest::prelude::*;

use super::common::each_with;

#[derive(Debug, Clone)]
enum Op {
    Open {
        access: i32,
        append: bool,
        trunc: bool,
    },
    Close(usize),
    Dup(usize),
    Read(usize, usize),
    Write(usize, usize, u8),
    Pread(usize, usize, i64),
    Pwrite(usize, usize, i64, u8),
    Lseek(usize, i64, i32),
    Ftruncate(usize, i64),
    BadFd,
}

fn op() -> impl Strategy<Value = Op> {
    let access = prop_oneof![
        Just(libc::O_RDONLY),
        Just(libc::O_WRONLY),
        Just(libc::O_RDWR)
    ];
    let off = prop_oneof![3 => 0i64..70_000, 1 => -20_000i64..0];
    prop_oneof![
        3 => (access, any::<bool>(), prop::bool::weighted(0.1))
            .prop_map(|(access, append, trunc)| Op::Open { access, append, trunc }),
        2 => any::<usize>().prop_map(Op::Close),
        1 => any::<usize>().prop_map(Op::Dup),
        3 => (any::<usize>(), 0usize..20_000).prop_map(|(i, n)| Op::Read(i, n)),
        4 => (any::<usize>(), 0usize..20_000, any::<u8>()).prop_map(|(i, n, s)| Op::Write(i, n, s)),
        2 => (any::<usize>(), 0usize..20_000, off.clone()).prop_map(|(i, n, o)| Op::Pread(i, n, o)),
        2 => (any::<usize>(), 0usize..20_000, off.clone(), any::<u8>())
            .prop_map(|(i, n, o, s)| Op::Pwrite(i, n, o, s)),
        3 => (
            any::<usize>(),
            off.clone(),
            prop_oneof![Just(libc::SEEK_SET), Just(libc::SEEK_CUR), Just(libc::SEEK_END)]
        )
            .prop_map(|(i, o, w)| Op::Lseek(i, o, w)),
        1 => (any::<usize>(), prop_oneof![9 => 0i64..70_000, 1 => Just(-1i64)])
            .prop_map(|(i, l)| Op::Ftruncate(i, l)),
        1 => Just(Op::BadFd),
    ]
}

fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| seed.wrapping_add((i % 251) as u8)).collect()
}

/// A kernel result as `Ok(value)` or `Err(errno)`.
fn k(ret: i64) -> Result<i64, i32> {
    if ret < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap())
    } else {
        Ok(ret)
    }
}

/// An ERMFS result in the same shape.
fn e<T: TryInto<i64>>(r: std::io::Result<T>) -> Result<i64, i32> {
    match r {
        Ok(v) => Ok(v.try_into().ok().unwrap()),
        Err(err) => Err(err.raw_os_error().unwrap()),
    }
}

/// Thin safe wrappers over the kernel calls (the oracle side).
mod kernel {
    use super::k;
    use std::ffi::CString;
    pub fn memfd() -> i32 {
        let name = CString::new("oracle").unwrap();
        // SAFETY: `name` is a valid NUL-terminated string.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), 0) };
        assert!(fd >= 0, "memfd_create failed");
        fd
    }

    /// A new open description of `memfd` with `flags`.
    pub fn reopen(memfd: i32, flags: i32) -> Result<i64, i32> {
        let path = CString::new(format!("/proc/self/fd/{memfd}")).unwrap();
        // SAFETY: `path` is a valid NUL-terminated string for the call.
        k(unsafe { libc::open(path.as_ptr(), flags) } as i64)
    }

    pub fn close(fd: i32) -> Result<i64, i32> {
        // SAFETY: closing a descriptor the test owns (or an invalid one) is sound.
        k(unsafe { libc::close(fd) } as i64)
    }

    pub fn dup(fd: i32) -> Result<i64, i32> {
        // SAFETY: plain syscall, no memory involved.
        k(unsafe { libc::dup(fd) } as i64)
    }

    pub fn read(fd: i32, buf: &mut [u8]) -> Result<i64, i32> {
        // SAFETY: `buf` is valid for `buf.len()` bytes of writes.
        k(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } as i64)
    }

    pub fn pread(fd: i32, buf: &mut [u8], off: i64) -> Result<i64, i32> {
        // SAFETY: `buf` is valid for `buf.len()` bytes of writes.
        k(unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), off) } as i64)
    }

    pub fn write(fd: i32, data: &[u8]) -> Result<i64, i32> {
        // SAFETY: `data` is valid for `data.len()` bytes of reads.
        k(unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) } as i64)
    }

    pub fn pwrite(fd: i32, data: &[u8], off: i64) -> Result<i64, i32> {
        // SAFETY: `data` is valid for `data.len()` bytes of reads.
        k(unsafe { libc::pwrite(fd, data.as_ptr().cast(), data.len(), off) } as i64)
    }

    pub fn lseek(fd: i32, off: i64, whence: i32) -> Result<i64, i32> {
        // SAFETY: plain syscall, no memory involved.
        k(unsafe { libc::lseek(fd, off, whence) })
    }

    pub fn ftruncate(fd: i32, len: i64) -> Result<i64, i32> {
        // SAFETY: plain syscall, no memory involved.
        k(unsafe { libc::ftruncate(fd, len) } as i64)
    }
}

fn run(fs: &Fs, ops: &[Op]) {
    let memfd = kernel::memfd();
    super::common::put(fs, "/f", b"");
    let mut fds: Vec<(i32, i32)> = Vec::new(); // (ermfs, kernel)
    for (step, op) in ops.iter().enumerate() {
        let pick = |i: usize| (!fds.is_empty()).then(|| fds[i % fds.len()]);
        let mut bufs = (Vec::new(), Vec::new());
        let (ours, theirs) = match *op {
            Op::Open {
                access,
                append,
                trunc,
            } => {
                let flags = access
                    | if append { libc::O_APPEND } else { 0 }
                    | if trunc { libc::O_TRUNC } else { 0 };
                let (o, t) = (e(fs.open("/f", flags, 0)), kernel::reopen(memfd, flags));
                if let (Ok(o), Ok(t)) = (o, t) {
                    fds.push((o as i32, t as i32));
                }
                (o.map(|_| 0), t.map(|_| 0))
            }
            Op::Close(i) => {
                let Some((o, t)) = pick(i) else { continue };
                fds.retain(|&p| p != (o, t));
                (e(fs.close(o).map(|()| 0)), kernel::close(t))
            }
            Op::Dup(i) => {
                let Some((o, t)) = pick(i) else { continue };
                let (o, t) = (e(fs.dup(o)), kernel::dup(t));
                if let (Ok(o), Ok(t)) = (o, t) {
                    fds.push((o as i32, t as i32));
                }
                (o.map(|_| 0), t.map(|_| 0))
            }
            Op::Read(i, n) => {
                let Some((o, t)) = pick(i) else { continue };
                bufs = (vec![0u8; n], vec![0u8; n]);
                (e(fs.read(o, &mut bufs.0)), kernel::read(t, &mut bufs.1))
            }
            Op::Pread(i, n, off) => {
                let Some((o, t)) = pick(i) else { continue };
                bufs = (vec![0u8; n], vec![0u8; n]);
                (
                    e(fs.pread(o, &mut bufs.0, off)),
                    kernel::pread(t, &mut bufs.1, off),
                )
            }
            Op::Write(i, n, seed) => {
                let Some((o, t)) = pick(i) else { continue };
                let data = bytes(n, seed);
                (e(fs.write(o, &data)), kernel::write(t, &data))
            }
            Op::Pwrite(i, n, off, seed) => {
                let Some((o, t)) = pick(i) else { continue };
                let data = bytes(n, seed);
                (e(fs.pwrite(o, &data, off)), kernel::pwrite(t, &data, off))
            }
            Op::Lseek(i, off, whence) => {
                let Some((o, t)) = pick(i) else { continue };
                (e(fs.lseek(o, off, whence)), kernel::lseek(t, off, whence))
            }
            Op::Ftruncate(i, len) => {
                let Some((o, t)) = pick(i) else { continue };
                (
                    e(fs.ftruncate(o, len).map(|()| 0)),
                    kernel::ftruncate(t, len),
                )
            }
            Op::BadFd => {
                let mut buf = [0u8; 4];
                (e(fs.read(-1, &mut buf)), kernel::read(-1, &mut buf))
            }
        };
        let mode = fs.is_lockless();
        assert_eq!(ours, theirs, "step {step}: {op:?} (lockless: {mode})");
        if let Ok(n) = ours {
            let n = (n as usize).min(bufs.0.len());
            assert_eq!(bufs.0[..n], bufs.1[..n], "step {step}: {op:?} bytes");
        }
    }
    for (o, t) in fds {
        fs.close(o).unwrap();
        kernel::close(t).unwrap();
    }
    // Final content: ERMFS's file went through compression at its last close.
    let ours = super::common::get(fs, "/f");
    let mut theirs = vec![0u8; ours.len() + 1];
    let n = kernel::pread(memfd, &mut theirs, 0).unwrap();
    assert_eq!(n, ours.len() as i64, "final size");
    assert_eq!(ours[..], theirs[..ours.len()], "final bytes");
    kernel::close(memfd).unwrap();
}

proptest! {
    // No failure persistence: the tests write no files.
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn descriptor_calls_match_a_memfd(ops in prop::collection::vec(op(), 1..40)) {
        each_with(|| Fs::builder().block_size(4096), |fs| run(fs, &ops));
    }
}

#[test]
fn edge_offsets_match_a_memfd() {
    let max = i64::MAX;
    let ops = vec![
        Op::Open {
            access: libc::O_RDWR,
            append: false,
            trunc: false,
        },
        Op::Pwrite(0, 1, max, 1),
        Op::Pwrite(0, 0, max, 1),
        Op::Pread(0, 8, max),
        Op::Pread(0, 8, max - 1),
        Op::Lseek(0, max, libc::SEEK_SET),
        Op::Write(0, 1, 3),
        Op::Read(0, 4),
        Op::Lseek(0, 1, libc::SEEK_CUR),
        Op::Lseek(0, max, libc::SEEK_END),
        Op::Lseek(0, i64::MIN, libc::SEEK_SET),
        Op::Lseek(0, 0, 12345),
    ];
    super::common::each_fs(|fs| run(fs, &ops));
}
