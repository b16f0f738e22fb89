//! Docker's libnetwork remote network and IPAM driver, served by latticed (`docker.*` config).
//!
//! Docker calls `Plugin.Activate`, then the IPAM driver for the network's pool (this host's
//! block) and each container's address, then the network driver for its endpoint. latticed
//! reserves the address in its IPAM and creates the endpoint's host side through
//! [`crate::dataplane::Wiring`] in the network's mode (the host's `dataplane.mode`, or
//! `-o lattice.mode`: a routed veth whose peer, or an ipvlan slave that, Docker moves into the
//! container), both behind the [`Backend`] trait ([`AgentBackend`] in the daemon), and answers
//! Join with the routes for that mode. The IPAM driver alone also serves Docker's own ipvlan
//! driver, whose containers latticed then routes through its ipvlan host slave.
//!
//! Layers, each using only those below it: [`server`] (HTTP/1.1 over the unix socket) calls
//! `dispatch` (a request path to its method), which calls the NetworkDriver (`network`) and
//! IpamDriver (`ipam_calls`) methods of [`driver::Driver`], which hold [`endpoints`] and
//! [`pairing`] and talk to a [`backend::Backend`]; [`options`] reads a network's `-o`.

mod agent_backend;
pub mod backend;
mod dispatch;
pub mod driver;
pub mod endpoints;
mod ipam_calls;
mod network;
pub mod options;
pub mod pairing;
pub mod proto;
pub mod server;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_ipv6;
#[cfg(test)]
mod tests_modes;

pub use agent_backend::AgentBackend;
pub use backend::Backend;
pub use driver::Driver;
pub use ipam_calls::ADDRESS_SPACE;
