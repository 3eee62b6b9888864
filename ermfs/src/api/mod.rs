//! The API on top: [`Fs`](crate::Fs) and its builder, descriptors and the
//! descriptor gate, the path, descriptor and node calls, directory
//! streams, export and import, the `std`-shaped layer.
//!
//! Only `builder` and `fs` import each other (the builder builds an `Fs`,
//! which keeps the builder's settings); every other import points down.

pub(crate) mod builder;
pub(crate) mod dirstream;
pub(crate) mod export;
pub(crate) mod fallocate;
pub(crate) mod fd;
pub(crate) mod fs;
pub(crate) mod gate;
pub(crate) mod hooks;
pub(crate) mod links;
pub(crate) mod node;
pub(crate) mod open_file;
pub(crate) mod paths;
pub(crate) mod perm;
pub(crate) mod statfs;
pub mod std_api;
pub(crate) mod times;
#[cfg(feature = "vfs")]
pub(crate) mod vfs_fs;
pub(crate) mod xattr;
