//! [`Backend`]: what the remote driver needs from latticed (the daemon's `AgentBackend`, a
//! fake in tests).

use async_trait::async_trait;
use ipnet::{Ipv4Net, Ipv6Net};
use std::net::{Ipv4Addr, Ipv6Addr};

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
    /// Create the host veth for `key` routed to `address` (and `address_v6`); returns the
    /// peer Docker moves.
    async fn wire(
        &self,
        key: &str,
        address: Ipv4Addr,
        address_v6: Option<Ipv6Addr>,
    ) -> Result<String, String>;
    /// Delete the host veth of `key` (idempotent).
    async fn unwire(&self, key: &str) -> Result<(), String>;
}
