//! latticed: the per-host Lattice agent.
//!
//! [`config`] parses the YAML config, [`api`] serves the local unix-socket API (whose protocol
//! is the `api` crate's), [`kernel`] is the one boundary to the kernel (netlink, with an
//! in-memory fake), [`dataplane`] wires containers and computes the routes the kernel must hold,
//! and [`daemon`] ties them to the BGP speaker. The CNI plugin and the `lattice` CLI are crates
//! of their own (`cni`, `cli`) that talk to latticed through the `api` crate only.

pub mod api;
pub mod config;
pub mod daemon;
pub mod dataplane;
pub mod docker;
pub mod kernel;
pub mod metrics;
pub mod state_file;
