//! Model test: random writes, resizes, releases, commits and reservations on a
//! region, against a model (the written pages and the length) and against
//! the kernel's tmpfs (a memfd given the same writes, truncations and
//! punched holes) for `SEEK_DATA`/`SEEK_HOLE` and `st_blocks`.
//!
//! Lives in the crate (not in `tests/`) because the kernel oracle needs
//! syscalls, and those only go through `sys.rs`.

use crate::sys::{self, oracle};
use crate::{MemoryBudget, Region, RegionKind, page_size};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

const TIB: usize = 1 << 40;

#[derive(Debug, Clone)]
enum Op {
    WriteAt {
        offset: usize,
        len: usize,
        byte: u8,
    },
    Resize(usize),
    /// Bounds as fractions (of `u16::MAX`) of the length, plus a few bytes.
    Release {
        a: u16,
        b: u16,
        past: usize,
    },
    Commit {
        at: u16,
        len: usize,
    },
    Reserve(usize),
    /// Another writer's `pwrite` on a memfd region's file, then
    /// `Region::sync` (a plain write for an anonymous region).
    External {
        offset: usize,
        len: usize,
        byte: u8,
    },
}

/// Offsets clustered where behaviour changes: inside size classes, around
/// the small/page boundary, page boundaries, a few hundred KiB, and rarely
/// 34 GB or 1 TiB.
fn offset() -> impl Strategy<Value = usize> {
    prop_oneof![
        4 => 0usize..200,
        2 => 1900usize..2200,
        3 => 4000usize..4200,
        4 => 0usize..300_000,
        1 => 34_000_000_000usize..34_000_020_000,
        1 => TIB..TIB + 20_000,
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (offset(), 0usize..9000, 1u8..).prop_map(|(offset, len, byte)| Op::WriteAt { offset, len, byte }),
        2 => prop_oneof![9 => offset(), 1 => Just(crate::MAX_LEN)].prop_map(Op::Resize),
        2 => (any::<u16>(), any::<u16>(), prop_oneof![9 => Just(0usize), 1 => 1usize..5000])
            .prop_map(|(a, b, past)| Op::Release { a, b, past }),
        1 => (any::<u16>(), 0usize..20_000).prop_map(|(at, len)| Op::Commit { at, len }),
        1 => (0usize..20_000).prop_map(Op::Reserve),
        2 => (offset(), 0usize..9000, 1u8..).prop_map(|(offset, len, byte)| Op::External { offset, len, byte }),
    ]
}

fn fraction(len: usize, f: u16) -> usize {
    (len as u128 * u128::from(f) / u128::from(u16::MAX)) as usize
}

/// The written pages (index to content) and the length.
#[derive(Debug, Default)]
struct Model {
    pages: BTreeMap<usize, Vec<u8>>,
    len: usize,
}

impl Model {
    fn touch(&mut self, start: usize, end: usize) {
        let page = page_size();
        if start < end {
            for p in start / page..end.div_ceil(page) {
                self.pages.entry(p).or_insert_with(|| vec![0; page]);
            }
        }
    }

    fn write(&mut self, offset: usize, data: &[u8]) {
        let page = page_size();
        self.touch(offset, offset + data.len());
        for (i, &b) in data.iter().enumerate() {
            let at = offset + i;
            self.pages.get_mut(&(at / page)).expect("touched")[at % page] = b;
        }
        if !data.is_empty() {
            self.len = self.len.max(offset + data.len());
        }
    }

    fn resize(&mut self, n: usize) {
        let page = page_size();
        if n < self.len {
            self.pages.retain(|&p, _| p < n.div_ceil(page));
            if let Some(last) = self.pages.get_mut(&(n / page)) {
                last[n % page..].fill(0);
            }
        }
        self.len = n;
    }

    fn byte(&self, at: usize) -> u8 {
        let page = page_size();
        if at >= self.len {
            return 0;
        }
        self.pages.get(&(at / page)).map_or(0, |p| p[at % page])
    }

    fn seek_data(&self, offset: usize) -> Option<usize> {
        let page = page_size();
        if offset >= self.len {
            return None;
        }
        let p = self.pages.range(offset / page..).next()?.0;
        Some((p * page).max(offset)).filter(|&at| at < self.len)
    }

    fn seek_hole(&self, offset: usize) -> Option<usize> {
        let page = page_size();
        if offset >= self.len {
            return None;
        }
        let mut p = offset / page;
        if !self.pages.contains_key(&p) {
            return Some(offset);
        }
        while self.pages.contains_key(&(p + 1)) {
            p += 1;
        }
        Some(((p + 1) * page).min(self.len))
    }

    /// Offsets worth probing: the ends and both sides of every page boundary
    /// next to a data page.
    fn probes(&self) -> Vec<usize> {
        let page = page_size();
        let mut out = vec![0, 1, self.len.saturating_sub(1), self.len, self.len / 2];
        for &p in self.pages.keys() {
            for base in [p * page, (p + 1) * page] {
                out.extend([base.saturating_sub(1), base, base + 1]);
            }
            out.push((p + 2) * page);
        }
        out
    }
}

/// The kernel's side: a memfd given the same changes.
struct Kernel {
    fd: OwnedFd,
    /// Seek answers are compared only until the first commit: tmpfs reports
    /// fallocated pages never written as holes to `SEEK_DATA` (they still
    /// count in `st_blocks`), a region reports committed pages as data.
    seek_comparable: bool,
}

impl Kernel {
    fn new() -> Kernel {
        let fd = sys::memfd_create(c"erm-alloc-oracle").expect("memfd_create");
        Kernel {
            fd,
            seek_comparable: true,
        }
    }
}

fn errno(e: &std::io::Error) -> i32 {
    e.raw_os_error().expect("errors carry an errno")
}

/// Whether a commit ending at `end` succeeded: it must, unless it ends past
/// the address space (then `EFBIG`, and nothing changed).
fn done(result: std::io::Result<()>, end: usize) -> bool {
    match result {
        Ok(()) => true,
        Err(e) => {
            assert_eq!(errno(&e), libc::EFBIG, "only address space runs out");
            assert!(end > 1 << 47, "{end} fits the address space");
            false
        }
    }
}

fn apply(region: &mut Region, model: &mut Model, kernel: &mut Kernel, op: &Op) {
    let page = page_size();
    let fd = kernel.fd.as_fd();
    match *op {
        Op::WriteAt { offset, len, byte } => {
            let data = vec![byte; len];
            region.write_at(offset, &data).expect("unlimited budget");
            model.write(offset, &data);
            oracle::pwrite_all(fd, &data, offset).expect("pwrite");
        }
        Op::External { offset, len, byte } => {
            let data = vec![byte; len];
            match region.memfd() {
                Some(file) => {
                    let other = file.try_clone_to_owned().expect("dup");
                    oracle::pwrite_all(other.as_fd(), &data, offset).expect("pwrite");
                    let moved = region.sync().expect("sync").modified;
                    // (The region's own changes move it too, so a sync after
                    // them may report a time without another writer.)
                    assert!(moved.is_some() || len == 0, "a write moves the mtime");
                    let again = region.sync().expect("sync");
                    assert_eq!(again, crate::Synced::default(), "nothing new");
                }
                None => region.write_at(offset, &data).expect("unlimited budget"),
            }
            model.write(offset, &data);
            oracle::pwrite_all(fd, &data, offset).expect("pwrite");
        }
        Op::Resize(n) => {
            region.resize(n).expect("unlimited budget");
            model.resize(n);
            sys::ftruncate(fd, n).expect("ftruncate");
        }
        Op::Release { a, b, past } => {
            let (a, b) = (fraction(model.len, a), fraction(model.len, b));
            let (start, end) = (a.min(b), a.max(b) + past);
            match region.release(start..end) {
                Ok(released) => {
                    assert!(end <= model.len.next_multiple_of(page));
                    let (s, e) = (start.div_ceil(page) * page, end / page * page);
                    if s < e {
                        assert_eq!(released, e - s);
                        model.pages.retain(|&p, _| p < s / page || p >= e / page);
                        let mode = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
                        oracle::fallocate(fd, mode, s, e - s).expect("punch");
                    } else {
                        assert_eq!(released, 0);
                    }
                }
                Err(e) => {
                    assert_eq!(errno(&e), libc::EINVAL);
                    assert!(
                        end > model.len.next_multiple_of(page),
                        "only releases past the last page fail"
                    );
                }
            }
        }
        Op::Commit { at, len } => {
            let start = fraction(model.len, at);
            if !done(region.commit(start..start + len), start + len) {
                return;
            }
            model.touch(start, start + len);
            if len > 0 {
                kernel.seek_comparable = false;
                oracle::fallocate(fd, libc::FALLOC_FL_KEEP_SIZE, start, len).expect("fallocate");
            }
        }
        Op::Reserve(n) => {
            let start = model.len;
            if !done(region.reserve(n), start + n) {
                return;
            }
            model.touch(start, start + n);
            if n > 0 {
                kernel.seek_comparable = false;
                oracle::fallocate(fd, libc::FALLOC_FL_KEEP_SIZE, start, n).expect("fallocate");
            }
        }
    }
}

fn check(region: &Region, model: &Model, kernel: &Kernel, budget: &MemoryBudget) {
    let page = page_size();
    assert_eq!(region.len(), model.len);
    if let Some(file) = region.memfd() {
        assert_eq!(
            oracle::size(file).expect("fstat"),
            model.len as u64,
            "memfd size"
        );
    }
    let data = model.pages.len() * page;
    assert_eq!(region.data_bytes(), data, "data_bytes");
    assert_eq!(budget.used(), region.capacity(), "the budget is the charge");
    match region.kind() {
        RegionKind::Small => {
            assert!(small_capacity(region.capacity()));
            assert!(model.pages.keys().eq([&0]), "a slot is page 0");
        }
        _ => assert_eq!(region.capacity(), data, "charged exactly the data pages"),
    }
    let fd = kernel.fd.as_fd();
    assert_eq!(
        oracle::blocks(fd).expect("fstat") * 512,
        data as u64,
        "st_blocks of the kernel's memfd"
    );
    // Contents, around every data page and at the probes.
    let mut buf = vec![0xEEu8; 3 * page];
    for at in model.probes() {
        let at = at.saturating_sub(page);
        let n = region.read_at(at, &mut buf);
        assert_eq!(n, buf.len().min(model.len.saturating_sub(at)));
        for (i, &b) in buf[..n].iter().enumerate() {
            assert_eq!(b, model.byte(at + i), "byte at {}", at + i);
        }
        let at = at + page;
        let want = model.seek_data(at);
        let got = region.seek_data(at);
        assert_eq!(got.as_ref().ok(), want.as_ref(), "seek_data({at})");
        if let Err(e) = got {
            assert_eq!(errno(&e), libc::ENXIO);
        }
        let want_hole = model.seek_hole(at);
        assert_eq!(region.seek_hole(at).ok(), want_hole, "seek_hole({at})");
        if kernel.seek_comparable {
            let k = oracle::lseek(fd, at, libc::SEEK_DATA).ok();
            assert_eq!(k, want, "kernel SEEK_DATA({at})");
            let k = oracle::lseek(fd, at, libc::SEEK_HOLE).ok();
            assert_eq!(k, want_hole, "kernel SEEK_HOLE({at})");
        }
    }
    // The mapped prefix agrees with read_at, when small enough to compare
    // (not for a memfd: reading a hole through a shared mapping makes the
    // kernel allocate it, and the next sync would count it as data).
    let slice = region.as_slice();
    assert_eq!(slice.len(), region.mapped_len());
    if slice.len() <= 1 << 20 && region.memfd().is_none() {
        for (i, &b) in slice.iter().enumerate() {
            assert_eq!(b, model.byte(i), "as_slice byte {i}");
        }
    }
    // Extents: inside the prefix, in order, and covering every non-zero byte.
    let extents: Vec<_> = region.data_extents().collect();
    let mut last = 0;
    for e in &extents {
        assert!(e.start >= last && e.start < e.end && e.end <= region.mapped_len());
        last = e.end;
    }
    for (&p, bytes) in &model.pages {
        for (i, &b) in bytes.iter().enumerate() {
            let at = p * page + i;
            if b != 0 && at < model.len {
                assert!(
                    extents.iter().any(|e| e.contains(&at)),
                    "{at} outside extents"
                );
            }
        }
    }
}

fn small_capacity(c: usize) -> bool {
    crate::small::CLASSES.contains(&c)
}

fn run(memfd: bool, ops: &[Op]) {
    let budget = Arc::new(MemoryBudget::unlimited());
    let mut region = if memfd {
        Region::new_memfd(&budget, "erm-alloc-model").expect("memfd")
    } else {
        Region::new(&budget)
    };
    let mut model = Model::default();
    let mut kernel = Kernel::new();
    for op in ops {
        apply(&mut region, &mut model, &mut kernel, op);
        check(&region, &model, &kernel, &budget);
    }
    drop(region);
    assert_eq!(budget.used(), 0, "dropping the region credits everything");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn region_matches_the_model_and_the_kernel(ops in prop::collection::vec(op(), 1..30)) {
        run(false, &ops);
        run(true, &ops);
    }
}
