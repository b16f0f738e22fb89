//! latticed's local API: newline-delimited JSON over a unix stream socket (mode 0600).
//!
//! One [`proto::Request`] per line, one [`proto::Reply`] per line. [`proto`] holds the wire
//! types, [`client`] sends a request and reads the reply, [`format`] renders replies for the
//! `lattice` CLI. latticed serves it (`agent::api::server`); `lattice`, `lattice-cni` and
//! `lattice-lab` are its clients and depend on this crate alone, not on the agent.

pub mod client;
pub mod format;
pub mod proto;
