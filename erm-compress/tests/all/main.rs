//! erm-compress integration tests: one binary, every behaviour on every backend built.

#![cfg(not(loom))]
#![allow(clippy::unwrap_used)]

mod common;
mod corruption;
mod interop;
mod roundtrip;
mod sparse;
