//! [`Backend`]: what the remote driver needs from latticed (the daemon's `AgentBackend`, a
//! fake in tests).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use async_trait::async_trait;
use ipnet::{Ipv4Net, Ipv6Net};

use crate::dataplane::DataplaneMode;

/// What the driver needs from latticed.
#[async_trait]
pub trait Backend: Send + Sync {
    /// This host's block.
    async fn block(&self) -> Result<Ipv4Net, String>;
    /// This host's IPv6 block, on a dual-stack host.
    async fn block_v6(&self) -> Result<Option<Ipv6Net>, String>;
    /// A new, never-used IPAM key for one Docker address (`docker:...`).
    fn fresh_key(&self) -> String;
    /// Reserve the addresses of `key` (IPv4, and IPv6 on a dual-stack host).
    async fn allocate(&self, key: &str) -> Result<(Ipv4Addr, Option<Ipv6Addr>), String>;
    /// The key holding `address`, if one does.
    async fn key_of(&self, address: Ipv4Addr) -> Result<Option<String>, String>;
    /// The key holding IPv6 `address`, if one does.
    async fn key_of_v6(&self, address: Ipv6Addr) -> Result<Option<String>, String>;
    /// Unwire and release `key` (idempotent).
    async fn release(&self, key: &str) -> Result<(), String>;
    /// The host's `dataplane.mode`: how a network that names none is wired.
    fn host_mode(&self) -> DataplaneMode;
    /// The host's `dataplane.parent`, the interface ipvlan slaves hang off.
    fn parent(&self) -> Option<String>;
    /// Make this host ready to wire `mode` (ipvlan: the parent exists, the kernel has ipvlan,
    /// the host slave is up); the reason why not, for the user, otherwise.
    async fn prepare(&self, mode: DataplaneMode) -> Result<(), String>;
    /// Create the host side of `key`'s endpoint in `mode`, routed to `address` (and
    /// `address_v6`); returns the interface Docker moves into the container.
    async fn wire(
        &self,
        mode: DataplaneMode,
        key: &str,
        address: Ipv4Addr,
        address_v6: Option<Ipv6Addr>,
    ) -> Result<String, String>;
    /// Delete the host interfaces of `key`, whatever its mode (idempotent).
    async fn unwire(&self, key: &str) -> Result<(), String>;
    /// Route `address`, a container another driver wired on `dataplane.parent` in the ipvlan
    /// `mode`, out of the ipvlan host slave; nothing on a host without `dataplane.parent`.
    async fn reach(&self, mode: DataplaneMode, address: IpAddr) -> Result<(), String>;
    /// Delete the host route of `address` if it leaves through the ipvlan host slave
    /// (idempotent).
    async fn unreach(&self, address: IpAddr) -> Result<(), String>;
}
