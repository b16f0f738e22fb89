//! Docker's libnetwork remote network and IPAM driver, served by latticed (`docker.*` config).
//!
//! Docker calls `Plugin.Activate`, then the IPAM driver for the network's pool (this host's
//! block) and each container's address, then the network driver for its endpoint. latticed
//! reserves the address in its IPAM ([`backend`]), creates a routed veth whose peer Docker
//! moves into the container ([`wire`]), and answers Join with the link-local gateway.
//! [`driver`] holds the protocol logic (no HTTP), [`server`] the HTTP/1.1-over-unix transport.

pub mod backend;
pub mod driver;
pub mod endpoints;
mod ipam_calls;
pub mod pairing;
pub mod proto;
pub mod server;
pub mod wire;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_ipv6;

pub use backend::AgentBackend;
pub use driver::{Backend, Driver};
