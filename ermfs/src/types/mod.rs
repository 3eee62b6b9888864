//! Leaf data types: inodes and their bodies, names, times, attributes,
//! ACLs, identities, statistics, configuration values, errnos.
//!
//! **Architecture invariant:** nothing here imports from `content`,
//! `namespace` or `api` (checked by `cargo xtask tidy`).

pub(crate) mod acl;
pub(crate) mod child;
pub(crate) mod config;
pub(crate) mod errno;
pub(crate) mod identity;
pub(crate) mod inode;
pub(crate) mod name;
pub(crate) mod perm;
pub(crate) mod stat;
pub(crate) mod stats;
pub(crate) mod times;
pub(crate) mod xattr;
pub(crate) mod xattr_store;
