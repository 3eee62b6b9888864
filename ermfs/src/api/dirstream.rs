//! Directory streams ([`DirStream`]): `opendir`/`readdir`/`telldir`/
//! `seekdir`/`rewinddir` over a directory's live entry set.
//!
//! Opening costs O(1) whatever the directory's size: nothing is copied. Each
//! read finds the first name after the last one this stream handed out in
//! the directory's sorted set (O(log n)), so a stream continues correctly
//! across concurrent changes: a name present from the open to the end of
//! the stream is listed exactly once, a removed one is not listed after its
//! removal, and one added after the stream's position shows up (one added
//! before it shows after a rewind). Positions are cookies: 0 is the start,
//! 1 and 2 follow `.` and `..`, and `2 + k` follows the `k`-th child this
//! stream listed; the stream remembers the names it listed (one 24-byte
//! entry each) so that [`DirStream::seek`] to any earlier cookie resumes
//! after the right name, as `seekdir` to a `telldir` value must.
//!
//! A removed directory lists nothing, not even `.` and `..`, as on tmpfs.

use std::io;
use std::ops::Bound;

use crate::api::fs::Fs;
use crate::content::stamps::{atime_due, set_atime};
use crate::namespace::node::Node;
use crate::sync::read;
use crate::types::child::ChildName;
use crate::types::errno::fail;
use crate::types::inode::{Body, FileType};
use crate::types::stat::DirEntry;

/// An open directory stream of an [`Fs`]; see [`Fs::opendir_node`].
#[derive(Debug)]
pub struct DirStream {
    fs: Fs,
    dir: Node,
    /// The children listed so far, in order (cookie `2 + k` follows the
    /// `k`-th, counted from 1).
    listed: Vec<ChildName>,
    /// The cookie of the next entry.
    pos: u64,
}

impl DirStream {
    /// The directory this stream lists.
    pub fn dir(&self) -> &Node {
        &self.dir
    }

    /// The next entry, or `None` at the end. `.` and `..` come first, then
    /// the children in byte order of their names.
    ///
    /// # Errors
    /// None today (an `io::Result` so a front end can pass errors through).
    pub fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        let inode = &self.dir.inode;
        let inner = &self.fs.inner;
        if inode.nlink() == 0 {
            return Ok(None); // removed: an empty listing
        }
        if self.pos < 2 {
            let (name, ino) = if self.pos == 0 {
                let st = read(&inode.state);
                if let Some(now) = atime_due(&st, &inner.shared) {
                    drop(st);
                    set_atime(inode, now);
                }
                (&b"."[..], inode.ino)
            } else {
                let parent = match &read(&inode.state).body {
                    Body::Dir(d) => d.parent.upgrade(),
                    _ => None,
                };
                (&b".."[..], parent.map_or(inode.ino, |p| p.ino))
            };
            self.pos += 1;
            return Ok(Some(DirEntry {
                name: name.to_vec(),
                ino,
                kind: FileType::Dir,
            }));
        }
        loop {
            let next = {
                let st = read(&inode.state);
                let Body::Dir(d) = &st.body else {
                    return Ok(None);
                };
                let after = match self.listed.last() {
                    Some(last) => Bound::Excluded(last.as_bytes()),
                    None => Bound::Unbounded,
                };
                d.children
                    .range::<[u8], _>((after, Bound::Unbounded))
                    .next()
                    .cloned()
            };
            let Some(name) = next else {
                return Ok(None);
            };
            let child = inner.child(inode, name.as_bytes())?;
            let bytes = name.as_bytes().to_vec();
            self.listed.push(name);
            self.pos += 1;
            // A name removed between the two looks is skipped.
            if let Some(child) = child {
                return Ok(Some(DirEntry {
                    name: bytes,
                    ino: child.ino,
                    kind: child.kind(),
                }));
            }
        }
    }

    /// The cookie of the next entry (`telldir`; a FUSE readdir offset).
    pub fn tell(&self) -> u64 {
        self.pos
    }

    /// Continues from `cookie`, a value [`tell`](DirStream::tell) gave (a
    /// later one than the stream reached is taken as its end, as a FUSE
    /// server must take an offset it never gave).
    pub fn seek(&mut self, cookie: u64) {
        let max = 2 + self.listed.len() as u64;
        let cookie = cookie.min(max);
        if cookie >= 2 {
            // `cookie - 2` children were listed before it.
            self.listed.truncate((cookie - 2) as usize);
        } else {
            self.listed.clear();
        }
        self.pos = cookie;
    }

    /// Starts again from the beginning (`rewinddir`): the listing then
    /// shows the directory as it is now.
    pub fn rewind(&mut self) {
        self.seek(0);
    }
}

impl Iterator for DirStream {
    type Item = io::Result<DirEntry>;

    fn next(&mut self) -> Option<io::Result<DirEntry>> {
        self.next_entry().transpose()
    }
}

impl Fs {
    /// Opens a stream over the entries of directory `dir` (O(1): nothing
    /// is copied; see [`DirStream`]).
    ///
    /// ```
    /// let fs = ermfs::Fs::new();
    /// fs.mkdir("/d", 0o755)?;
    /// let mut s = fs.opendir_node(&fs.node("/d")?)?;
    /// fs.write_file("/d/late", b"")?; // added after the open: listed
    /// let names: Vec<_> = s.by_ref().map(|e| e.unwrap().name).collect();
    /// assert_eq!(names, [&b"."[..], b"..", b"late"]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// `ENOTDIR` if `dir` is not a directory.
    pub fn opendir_node(&self, dir: &Node) -> io::Result<DirStream> {
        if !dir.inode.is_dir() {
            return fail(libc::ENOTDIR);
        }
        Ok(DirStream {
            fs: self.clone(),
            dir: dir.clone(),
            listed: Vec::new(),
            pos: 0,
        })
    }

    /// [`opendir_node`](Fs::opendir_node) of the directory `path` names.
    ///
    /// # Errors
    /// `ENOTDIR` for a file, and the path errors of [`stat`](Fs::stat).
    pub fn opendir(&self, path: impl AsRef<std::path::Path>) -> io::Result<DirStream> {
        self.opendir_node(&self.node(path)?)
    }
}
