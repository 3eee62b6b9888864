//! The namespace: the registry of names, directory child sets, the
//! namespace lock, path parsing and walks, links, and the node operations
//! every path call ends in.
//!
//! **Architecture invariant:** imports only `types` and `content`, never
//! `api` (no descriptors; checked by `cargo xtask tidy`).

pub(crate) mod access;
pub(crate) mod dirops;
pub(crate) mod ino_index;
pub(crate) mod links;
pub(crate) mod names;
pub(crate) mod node;
pub(crate) mod path;
pub(crate) mod walk;
