//! A store filled to its memory limit still reads every file back
//! byte-exact (read, pread, `with_bytes`, an export), under every
//! compression policy and in both modes; what needs new memory (a writable
//! open of a compressed file, a write) is refused with `ENOSPC` and changes
//! nothing.

use std::io::Read;
use std::time::Duration;

use ermfs::{CompressionPolicy, ExportFlags, Fs};

use super::common::{each_with, errno, get};

const LIMIT: usize = 4 << 20;
const CHUNK: usize = 16 << 10;

/// File `i`'s intended bytes: text that compresses, random bytes that do
/// not, or text with far holes, from 10 KiB to about 600 KiB.
fn content(i: usize) -> Vec<u8> {
    let len = 10_000 + (i * 7919) % 600_000;
    let mut x = i as u64 + 1;
    let mut rand = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    match i % 3 {
        0 => (0..len)
            .map(|k| b"the quick brown fox jumps over the lazy dog "[(k + i) % 44])
            .collect(),
        1 => (0..len).map(|_| rand() as u8).collect(),
        _ => {
            let mut v = vec![0u8; len];
            for k in (0..len).step_by(100_000) {
                let end = (k + 3000).min(len);
                v[k..end].fill(b'a' + (i % 26) as u8);
            }
            v
        }
    }
}

/// Writes more files until even a new file's first chunk is refused twice
/// in a row, adding each file's path and the bytes that went in to
/// `files`; returns the bytes written.
fn fill_some(fs: &Fs, files: &mut Vec<(String, Vec<u8>)>) -> usize {
    let mut refused = 0;
    let mut total = 0;
    for i in files.len()..5000 {
        if refused == 2 {
            return total;
        }
        let want = content(i);
        let path = format!("/f{i}");
        let fd = fs
            .open(&path, libc::O_CREAT | libc::O_WRONLY, 0o644)
            .unwrap();
        let mut written = 0;
        for chunk in want.chunks(CHUNK) {
            match fs.pwrite(fd, chunk, written as i64) {
                Ok(n) => written += n,
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{path}");
                    break;
                }
            }
        }
        refused = if written == 0 { refused + 1 } else { 0 };
        total += written;
        fs.close(fd).unwrap();
        files.push((path, want[..written].to_vec()));
    }
    panic!("5000 files never filled a {LIMIT}-byte store");
}

/// Fills the store: rounds of [`fill_some`] until, with every compression
/// done, a round writes nothing.
fn fill(fs: &Fs) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    while fill_some(fs, &mut files) > 0 {
        fs.settle();
    }
    files
}

#[test]
fn a_full_store_reads_every_file_back() {
    for policy in [
        CompressionPolicy::Immediate,
        CompressionPolicy::Never,
        CompressionPolicy::Background {
            delay: Duration::ZERO,
        },
    ] {
        each_with(
            || Fs::builder().memory_limit(Some(LIMIT)).compression(policy),
            |fs| {
                let files = fill(fs);
                // Full: no new chunk fits.
                let probe = fs
                    .open("/probe", libc::O_CREAT | libc::O_RDWR, 0o600)
                    .unwrap();
                assert_eq!(
                    errno(fs.write(probe, &[1u8; CHUNK])),
                    libc::ENOSPC,
                    "{policy:?}"
                );
                let used = fs.memory_used();
                assert!(used + CHUNK > LIMIT, "{policy:?}: {used} of {LIMIT}");
                // A writable open of a compressed file (its stream far
                // smaller than its data) needs room for all of it.
                let packed = files
                    .iter()
                    .filter(|(path, want)| {
                        let st = fs.stat(path).unwrap();
                        st.blocks * 512 < st.size / 2 && want.len() > 2 * CHUNK
                    })
                    .max_by_key(|(_, w)| w.len());
                assert_eq!(packed.is_some(), policy != CompressionPolicy::Never);
                if let Some((path, want)) = packed {
                    assert_eq!(
                        errno(fs.open(path, libc::O_RDWR, 0)),
                        libc::ENOSPC,
                        "{path}"
                    );
                    assert_eq!(fs.stat(path).unwrap().size, want.len() as u64);
                    assert_eq!(fs.memory_used(), used);
                }
                for (k, (path, want)) in files.iter().enumerate() {
                    assert!(get(fs, path) == *want, "{policy:?} {path}");
                    let fd = fs.open(path, libc::O_RDONLY, 0).unwrap();
                    let at = want.len() / 3;
                    let mut piece = vec![0u8; 5000];
                    let n = fs.pread(fd, &mut piece, at as i64).unwrap();
                    assert!(piece[..n] == want[at..(at + 5000).min(want.len())]);
                    let seen = fs.with_bytes(fd, at as i64, 7000, <[u8]>::to_vec).unwrap();
                    assert!(seen == want[at..(at + 7000).min(want.len())], "{path}");
                    fs.close(fd).unwrap();
                    if k % 7 == 0 {
                        let mut exported = Vec::new();
                        std::fs::File::from(fs.export_memfd(path, ExportFlags::SEALED).unwrap())
                            .read_to_end(&mut exported)
                            .unwrap();
                        assert!(exported == *want, "export of {path}");
                    }
                    assert!(fs.memory_used() <= LIMIT);
                }
                assert_eq!(fs.memory_used(), used, "{policy:?}: reads leave no charge");
                // Compressed files were read past the cache (no room for it).
                let uncached = fs.stats().uncached_reads;
                assert_eq!(
                    uncached > 0,
                    policy != CompressionPolicy::Never,
                    "{uncached}"
                );
                fs.close(probe).unwrap();
            },
        );
    }
}
