//! latticed's local API: newline-delimited JSON over a unix stream socket (mode 0600).
//!
//! One [`Request`] per line, one [`Reply`] per line. Used by the `lattice` CLI, the lab and,
//! later, the CNI plugin.

pub mod client;
pub mod format;
pub mod proto;
pub mod server;
