//! Lattice's test kit, a dev-dependency of the workspace's crates and never a dependency of a
//! shipped binary: what the root, interop and lab tests and the benchmarks share.
//!
//! - [`require_root`], [`require`], [`cannot_run`]: whether a test can run here. A plain
//!   `cargo test` skips what it cannot run with a `SKIPPED:` line; under
//!   `LATTICE_TEST_STRICT=1`, which every `make test-*` target sets, the test fails instead.
//! - [`eventually`] (and [`eventually_async`] for a test sharing its thread with the code under
//!   test): one polling policy.
//! - [`netns`]: uniquely named network namespaces and veths, deleted (with every process in
//!   them) on drop, also when the test panics; [`netns::in_netns`] runs a tokio runtime inside
//!   one.
//! - [`process`]: guards for the processes a test starts; [`daemons`]: FRR, BIRD, GoBGP,
//!   ExaBGP and etcd started the way the lab recipes say, stopped on drop.
//! - [`bgp`]: BGP messages built byte by byte (independent of the codec under test).
//! - [`certs`]: a throwaway CA and certificates (openssl), valid or expired, for TLS tests.
//! - [`bench`]: what the benchmarks share (sender sessions, namespace pairs, memory figures).

// A test kit fails the test loudly when its setup fails: a panic is the right answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod bench;
pub mod bgp;
pub mod certs;
pub mod cmd;
pub mod daemons;
mod eventually;
pub mod netns;
pub mod process;
mod require;

pub use eventually::{eventually, eventually_async};
pub use require::{cannot_run, is_root, require, require_root, strict, unmet, STRICT_ENV};
