//! latticed's wiring: config -> IPAM, kernel, BGP speaker and API, connected by channels.
//!
//! Nothing here decides anything on its own; the decisions live in the sans-IO cores
//! ([`ipam`], [`bgp::fsm`], [`bgp::rib`], [`crate::dataplane`]). [`run`] takes its kernel,
//! its [`Listeners`] and its [`Clock`] from the caller, so a test runs the whole daemon on a
//! [`FakeKernel`](crate::kernel::FakeKernel).
//!
//! Modules, each using only those listed before it:
//! - leaves: [`clock`], [`error`], [`conflicts`], `attachments` (the attachments file),
//!   `container_watch`, `usage` (IPAM figures), `speaker` (the speaker's configuration),
//!   `listeners`;
//! - [`reconciler`] (the only writer to the kernel; its event loop in `reconciler/driver.rs`);
//! - `blocks` (blackholes and announcements of the held blocks), `learned` (BGP's changes to
//!   the reconciler), `startup` (IPAM opened, host prepared, wiring checked), `cleanup`;
//! - `bfd` (the BFD driver and its sessions, telling the speaker of each fall);
//! - `announce` (prefixes announced through the API, kept in the state directory), [`reload`]
//!   (the configuration read again and its difference applied to the speaker);
//! - `mesh` (this host registered in etcd, its mesh peers kept up to date: `bgp.mesh`);
//! - `handler` (the API, one module per request family), then `docker_driver`;
//! - `run`, which connects them all.

mod announce;
mod attachments;
pub mod bfd;
mod blocks;
mod cleanup;
pub mod clock;
pub mod conflicts;
mod container_watch;
mod docker_driver;
pub mod error;
mod handler;
mod learned;
mod listeners;
pub mod mesh;
pub mod reconciler;
pub mod reload;
mod run;
mod speaker;
mod startup;
mod usage;

pub use cleanup::cleanup;
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::DaemonError;
pub use handler::{AgentHandler, HandlerParts};
pub use listeners::Listeners;
pub use reconciler::{Reconciler, Timing};
pub use run::{netlink_kernel, run, run_reloadable, Reloads};
pub(crate) use speaker::peer_configs;
pub use startup::refuse_peers_at_uplink_addresses;
