//! Helpers: the backends to run on, test data, and piping through real tools.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use erm_compress::{Backend, Compressor, Index, Options};

/// Whether `import` is built (it needs a streaming inflater: zlib or zlib-ng).
/// Without it, import tests check the `EPROTONOSUPPORT` answer and stop.
pub fn can_import() -> bool {
    let can = cfg!(any(feature = "zlib", feature = "zlib-ng"));
    if !can {
        let e = erm_compress::import(&[0x1f], Options::new(), &mut Vec::new()).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPROTONOSUPPORT));
    }
    can
}

/// Every backend built into this test binary (each test runs on all of them).
pub fn backends() -> Vec<Backend> {
    let all: Vec<_> = Backend::available().collect();
    assert!(!all.is_empty(), "no backend feature enabled");
    all
}

/// Kinds of test data.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Text-like, shrinks well.
    Compressible,
    /// Random bytes: stored blocks.
    Incompressible,
    /// Alternating runs of both, 3000 bytes each.
    Mixed,
}

pub const KINDS: [Kind; 3] = [Kind::Compressible, Kind::Incompressible, Kind::Mixed];

/// A tiny seeded generator (SplitMix64).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// `n` bytes of `kind`, seeded.
pub fn data(kind: Kind, n: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed);
    const WORDS: [&[u8]; 8] = [
        b"block ",
        b"gzip ",
        b"member ",
        b"the ",
        b"of ",
        b"index\n",
        b"ERMFS ",
        b"deflate ",
    ];
    let mut text = |out: &mut Vec<u8>, len: usize| {
        let end = out.len() + len;
        while out.len() < end {
            let w = WORDS[(rng.next() % 8) as usize];
            out.extend_from_slice(&w[..w.len().min(end - out.len())]);
        }
    };
    let mut out = Vec::with_capacity(n);
    match kind {
        Kind::Compressible => text(&mut out, n),
        Kind::Incompressible => {
            let mut r = Rng(seed ^ 0xdead);
            out.extend((0..n).map(|_| r.next() as u8));
        }
        Kind::Mixed => {
            let mut r = Rng(seed ^ 0xbeef);
            let mut random = false;
            while out.len() < n {
                let len = 3000.min(n - out.len());
                if random {
                    out.extend((0..len).map(|_| r.next() as u8));
                } else {
                    text(&mut out, len);
                }
                random = !random;
            }
        }
    }
    out
}

/// Compresses `src` with `opts` into a fresh stream.
pub fn compress(opts: Options, src: &[u8]) -> (Vec<u8>, Index) {
    let mut comp = Compressor::new(opts).unwrap();
    let mut out = Vec::new();
    let index = comp.compress(src, &mut out, |_| Ok(())).unwrap();
    (out, index)
}

/// Runs `cmd args`, feeding `input` on stdin (from a thread, so a full pipe
/// cannot deadlock) and returning stdout; panics if the tool fails.
pub fn pipe(cmd: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(cmd)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd} not runnable: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let out = std::thread::scope(|s| {
        s.spawn(move || {
            // The tool may exit early on bad input; a broken pipe is its answer.
            let _ = stdin.write_all(input);
        });
        let mut out = Vec::new();
        stdout.read_to_end(&mut out).unwrap();
        out
    });
    let status = child.wait_with_output().unwrap();
    assert!(
        status.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    out
}
