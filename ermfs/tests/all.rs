//! Integration tests for ermfs, one binary: every behaviour test runs on both
//! backends (locked and lockless) through [`common::each_fs`].
#![cfg(not(loom))]
#![allow(clippy::unwrap_used)]

mod all {
    mod acl;
    mod at_rest;
    mod background;
    pub mod common;
    mod concurrency;
    mod copies;
    mod differential;
    mod export;
    mod fallocate;
    mod files;
    mod full;
    mod identity_kernel;
    pub mod kernel;
    mod lazy;
    mod lifecycle;
    mod links;
    mod meta;
    mod meta_kernel;
    mod namespace;
    mod namespace_kernel;
    mod node;
    mod shared_memfd;
    mod sparse;
    mod sparse_kernel;
    mod std_api;
    mod symlinks;
    mod xattr;
}
