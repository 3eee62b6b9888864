//! Shared helpers: both backends, errno extraction, small file helpers.

use std::io;

use ermfs::{Fs, FsBuilder};

/// Runs `f` on a locked and a lockless file system made from `builder`.
pub fn each_with(builder: impl Fn() -> FsBuilder, f: impl Fn(&Fs)) {
    for lockless in [false, true] {
        let fs = builder().lockless(lockless).build().unwrap();
        assert_eq!(fs.is_lockless(), lockless);
        f(&fs);
    }
}

/// Runs `f` on a locked and a lockless file system with default settings.
pub fn each_fs(f: impl Fn(&Fs)) {
    each_with(Fs::builder, f)
}

/// The errno of a result (0 for success).
pub fn errno<T>(r: io::Result<T>) -> i32 {
    match r {
        Ok(_) => 0,
        Err(e) => e.raw_os_error().unwrap_or(-1),
    }
}

/// Creates `path` holding `data`.
pub fn put(fs: &Fs, path: &str, data: &[u8]) {
    let fd = fs
        .open(path, libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC, 0o644)
        .unwrap();
    assert_eq!(fs.write(fd, data).unwrap(), data.len());
    fs.close(fd).unwrap();
}

/// Writes pages into `fd` from offset 0 until the store refuses one (it is
/// then full to the page); returns the bytes written.
pub fn fill_to_the_page(fs: &Fs, fd: i32) -> i64 {
    let mut at = 0;
    while fs.pwrite(fd, &[7u8; 4096], at).is_ok() {
        at += 4096;
    }
    at
}

/// The whole content of `path`.
pub fn get(fs: &Fs, path: &str) -> Vec<u8> {
    let fd = fs.open(path, libc::O_RDONLY, 0).unwrap();
    let size = fs.fstat(fd).unwrap().size as usize;
    let mut buf = vec![0u8; size + 1];
    let n = fs.pread(fd, &mut buf, 0).unwrap();
    fs.close(fd).unwrap();
    buf.truncate(n);
    buf
}
