//! Path resolution: walks of parsed paths over the registry, symlinks
//! followed as Linux does, and the parent of a path's last component.

use std::io;
use std::path::Path;
use std::sync::Arc;

use erm_registry::Registry;

use crate::namespace::names::Namespace;
use crate::namespace::path::{Comp, Parsed, parse, parse_bytes};
use crate::types::errno::{err, fail};
use crate::types::inode::Inode;
use crate::types::name::Name;

/// Symbolic links one path resolution follows at most; the next one is
/// `ELOOP` (Linux's `MAXSYMLINKS`).
pub const MAX_SYMLINKS: u32 = 40;

/// Whether a symlink as the last component of a path is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Follow {
    /// To what it points (`stat`, `open`, `chmod`...).
    Yes,
    /// Not: the link itself (`lstat`, `readlink`, `link`'s source). A
    /// trailing `/` follows it anyway, as on Linux.
    No,
}

/// Where the last component of a path points, for calls that create or remove it.
pub(crate) enum Last<'a> {
    /// The path names `/` itself.
    Root,
    /// The path ends in `.`.
    Dot,
    /// The path ends in `..`.
    DotDot,
    /// An ordinary name in the parent directory.
    Name(&'a [u8]),
}

/// A resolved parent directory and the path's last component.
pub(crate) struct ParentOf<'a> {
    /// The parent directory, and the chain of directories from `/` to it.
    pub chain: Vec<Arc<Inode>>,
    pub last: Last<'a>,
    pub trailing_slash: bool,
}

impl ParentOf<'_> {
    /// The parent directory.
    pub fn dir(&self) -> &Arc<Inode> {
        self.chain
            .last()
            .expect("a chain always starts at the root")
    }
}

/// Counts one more symlink followed in a resolution: `ELOOP` past
/// [`MAX_SYMLINKS`].
pub(crate) fn hop(hops: &mut u32) -> io::Result<()> {
    *hops += 1;
    if *hops > MAX_SYMLINKS {
        return fail(libc::ELOOP);
    }
    Ok(())
}

impl Namespace {
    /// Walks `comps` on from `chain` (`..` pops it, never past `/`),
    /// following every symlink met before the last component, and one met
    /// as the last when `follow` says so. `hops` counts the links followed
    /// in this resolution (`ELOOP` past [`MAX_SYMLINKS`]); `search` is asked
    /// about each directory before a name is looked up in it (the
    /// permission checks of [`Fs::access`]; a no-op elsewhere). A walk that
    /// meets no symlink costs one type test per component more than a
    /// plain walk.
    pub(crate) fn walk_on<S>(
        &self,
        chain: &mut Vec<Arc<Inode>>,
        comps: &[Comp<'_>],
        follow: Follow,
        hops: &mut u32,
        search: &S,
    ) -> io::Result<()>
    where
        S: Fn(&Inode) -> io::Result<()>,
    {
        for (i, comp) in comps.iter().enumerate() {
            let cur = chain.last().expect("the chain never loses the root");
            if !cur.is_dir() {
                return fail(libc::ENOTDIR);
            }
            search(cur)?;
            match comp {
                Comp::Dot => {}
                Comp::DotDot => {
                    if chain.len() > 1 {
                        chain.pop();
                    }
                }
                Comp::Name(name) => {
                    let next = self.child(cur, name)?.ok_or_else(|| err(libc::ENOENT))?;
                    if next.is_symlink() && (follow == Follow::Yes || i + 1 < comps.len()) {
                        self.follow(chain, &next, hops, search)?;
                    } else {
                        chain.push(next);
                    }
                }
            }
        }
        Ok(())
    }

    /// Walks on from `chain` (the link's directory) along the target of
    /// symlink `link`: from `/` if it is absolute. Its last component is
    /// followed too, and a target ending in `/` must name a directory.
    #[cold]
    fn follow<S>(
        &self,
        chain: &mut Vec<Arc<Inode>>,
        link: &Inode,
        hops: &mut u32,
        search: &S,
    ) -> io::Result<()>
    where
        S: Fn(&Inode) -> io::Result<()>,
    {
        hop(hops)?;
        let target = self.target(link)?;
        // An empty target is `ENOENT` here, as on Linux.
        let parsed = parse_bytes(&target)?;
        if parsed.absolute {
            chain.truncate(1);
        }
        self.walk_on(chain, &parsed.comps, Follow::Yes, hops, search)?;
        let last = chain.last().expect("the chain never loses the root");
        if parsed.trailing_slash && !last.is_dir() {
            return fail(libc::ENOTDIR);
        }
        Ok(())
    }

    /// The inode `path` names, its last component followed if a symlink.
    pub fn resolve(&self, path: &Path) -> io::Result<Arc<Inode>> {
        self.resolve_as(path, Follow::Yes)
    }

    /// The inode `path` names; a symlink as the last component is followed
    /// or not as `follow` says (always with a trailing `/`, as on Linux).
    pub fn resolve_as(&self, path: &Path, follow: Follow) -> io::Result<Arc<Inode>> {
        self.resolve_parsed(&parse(path)?, follow, &|_: &Inode| Ok(()))
    }

    /// [`resolve_as`](Namespace::resolve_as) on a parsed path, with a `search`
    /// check as [`walk_on`](Namespace::walk_on).
    pub(crate) fn resolve_parsed<S>(
        &self,
        parsed: &Parsed<'_>,
        follow: Follow,
        search: &S,
    ) -> io::Result<Arc<Inode>>
    where
        S: Fn(&Inode) -> io::Result<()>,
    {
        let follow = if parsed.trailing_slash {
            Follow::Yes
        } else {
            follow
        };
        let inode = match self.walk_names(&parsed.comps, follow, search) {
            Some(walked) => walked?,
            None => {
                let mut chain = vec![Arc::clone(&self.root)];
                self.walk_on(&mut chain, &parsed.comps, follow, &mut 0, search)?;
                chain.pop().expect("the chain never loses the root")
            }
        };
        if parsed.trailing_slash && !inode.is_dir() {
            return fail(libc::ENOTDIR);
        }
        Ok(inode)
    }

    /// The common walk, without reference counts: `comps` are all names and
    /// each one before the last is a directory. Those directories are only
    /// looked at ([`Registry::inspect`]), so threads walking the same
    /// directories write nothing shared (a chain of `Arc`s would write the
    /// root's and each directory's reference count on every walk); only the
    /// last inode is taken. Gives the same result and errno as
    /// [`walk_on`](Namespace::walk_on) from the root, or `None` where that walk
    /// is needed: no components, `.`/`..`, or a symlink met (before the last
    /// component, or as the last when `follow` says so).
    fn walk_names<S>(
        &self,
        comps: &[Comp<'_>],
        follow: Follow,
        search: &S,
    ) -> Option<io::Result<Arc<Inode>>>
    where
        S: Fn(&Inode) -> io::Result<()>,
    {
        let (Comp::Name(last), init) = comps.split_last()? else {
            return None;
        };
        let names = self.names.load();
        // `walk_on` checks each directory just before looking a name up in
        // it: the root here, every other one as soon as it is found (a name
        // follows it, so the full walk would check it next).
        if let Err(e) = search(&self.root) {
            return Some(Err(e));
        }
        let mut dir = self.root.ino;
        for comp in init {
            let Comp::Name(name) = comp else {
                return None;
            };
            let key = match Name::new(dir, name) {
                Ok(key) => key,
                Err(e) => return Some(Err(e)),
            };
            // None: a symlink, left to the full walk.
            let mut step: Option<io::Result<u64>> = Some(Err(err(libc::ENOENT)));
            names.inspect(&key, &mut |inode| {
                step = if inode.is_symlink() {
                    None
                } else if !inode.is_dir() {
                    Some(Err(err(libc::ENOTDIR)))
                } else {
                    Some(search(inode).map(|()| inode.ino))
                };
            });
            dir = match step? {
                Ok(ino) => ino,
                Err(e) => return Some(Err(e)),
            };
        }
        let key = match Name::new(dir, last) {
            Ok(key) => key,
            Err(e) => return Some(Err(e)),
        };
        match names.get(&key) {
            None => Some(fail(libc::ENOENT)),
            Some(inode) if inode.is_symlink() && follow == Follow::Yes => None,
            Some(inode) => Some(Ok(inode)),
        }
    }

    /// The directory holding the last component of `parsed` (symlinks on
    /// the way followed, the last component not looked up).
    pub fn resolve_parent<'a>(&self, parsed: &Parsed<'a>) -> io::Result<ParentOf<'a>> {
        self.parent_from(vec![Arc::clone(&self.root)], parsed, &mut 0)
    }

    /// [`resolve_parent`](Namespace::resolve_parent) for a path met in a
    /// resolution already under way: a relative `parsed` starts from
    /// `chain` (a symlink's directory), and `hops` goes on counting.
    pub(crate) fn parent_from<'a>(
        &self,
        mut chain: Vec<Arc<Inode>>,
        parsed: &Parsed<'a>,
        hops: &mut u32,
    ) -> io::Result<ParentOf<'a>> {
        let (last, init) = match parsed.comps.split_last() {
            None => (Last::Root, &[][..]),
            Some((Comp::Dot, init)) => (Last::Dot, init),
            Some((Comp::DotDot, init)) => (Last::DotDot, init),
            Some((Comp::Name(n), init)) => (Last::Name(n), init),
        };
        if parsed.absolute {
            chain.truncate(1);
        }
        self.walk_on(&mut chain, init, Follow::Yes, hops, &|_: &Inode| Ok(()))?;
        if !chain
            .last()
            .expect("the chain never loses the root")
            .is_dir()
        {
            return fail(libc::ENOTDIR);
        }
        Ok(ParentOf {
            chain,
            last,
            trailing_slash: parsed.trailing_slash,
        })
    }
}
