//! Integration tests for ermfd, one binary. Scratch data lives in memfds; child processes are
//! `std::process::Command`s (real tools, or this binary re-run in a child role, see
//! [`all::common::child_entry`]).
#![cfg(not(loom))]
#![allow(clippy::unwrap_used)]

mod all {
    pub mod common;
    mod exec;
    mod io;
    mod leak;
    mod noexec;
    mod pass;
    mod seals;
    mod source;
}
