//! latticed: the per-host Lattice agent.
//!
//! [`config`] parses the YAML config, [`api`] is the local unix-socket API, [`kernel`] is the one
//! boundary to the kernel (netlink, with an in-memory fake), [`dataplane`] wires containers and
//! computes the routes the kernel must hold, and [`daemon`] ties them to the BGP speaker.

pub mod api;
pub mod cni;
pub mod config;
pub mod daemon;
pub mod dataplane;
pub mod docker;
pub mod kernel;
pub mod metrics;
pub mod state_file;
