//! The one boundary to the kernel.
//!
//! Everything the agent asks of the kernel goes through the [`Kernel`] trait: links, addresses,
//! routes, neighbours, sysctls and namespaces. [`NetlinkKernel`] talks rtnetlink; [`FakeKernel`]
//! keeps the same objects in memory so the dataplane logic is tested without root.
//! The trait is object safe (`Arc<dyn Kernel>`), so the daemon holds one without generics.

mod error;
mod events;
pub mod fake;
pub mod netlink;
mod types;

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use ipnet::IpNet;

pub use error::{KernelError, KernelResult};
pub use events::{EventReceiver, EventSender};
pub use fake::FakeKernel;
pub use netlink::NetlinkKernel;
pub use types::{
    IpvlanMode, KernelEvent, LinkInfo, MacAddr, NetnsId, NetnsKind, NextHop, Route, RouteOp,
    RouteTarget, RTPROT_BGP, RTPROT_KERNEL, RTPROT_STATIC,
};

/// Operations on one network namespace. Every method acts in the namespace this value was
/// created for; [`Kernel::netns`] gives a `Kernel` for another one.
#[async_trait]
pub trait Kernel: Send + Sync + std::fmt::Debug {
    /// Creates a veth pair: `name` here, `peer_name` created directly in the namespace at
    /// `peer_netns` (so it never appears here, even briefly).
    async fn create_veth(&self, name: &str, peer_name: &str, peer_netns: &Path)
        -> KernelResult<()>;
    /// Creates an ipvlan slave `name` of link `parent` (here), directly in the namespace at
    /// `netns` (`None`: here). A kernel without ipvlan answers [`KernelError::Unsupported`].
    async fn create_ipvlan(
        &self,
        parent: u32,
        name: &str,
        mode: IpvlanMode,
        netns: Option<&Path>,
    ) -> KernelResult<()>;
    /// Deletes a link (for a veth, the peer and routes through either end go too).
    async fn delete_link(&self, index: u32) -> KernelResult<()>;
    /// Looks a link up by name; [`KernelError::NotFound`] if absent.
    async fn link_by_name(&self, name: &str) -> KernelResult<LinkInfo>;
    /// Every link of the namespace.
    async fn links(&self) -> KernelResult<Vec<LinkInfo>>;
    /// Renames a (down) link.
    async fn rename_link(&self, index: u32, name: &str) -> KernelResult<()>;
    /// Sets a link administratively up.
    async fn set_link_up(&self, index: u32) -> KernelResult<()>;
    /// Sets a link's MTU.
    async fn set_link_mtu(&self, index: u32, mtu: u32) -> KernelResult<()>;

    /// Adds an IPv4 or IPv6 address to a link; succeeds if it is already there. IPv6
    /// addresses are added `nodad`: they are ours by allocation, waiting for DAD only delays.
    async fn add_address(&self, index: u32, address: IpNet) -> KernelResult<()>;
    /// The addresses on a link (both families).
    async fn addresses(&self, index: u32) -> KernelResult<Vec<IpNet>>;
    /// Every address of the namespace with its link index (both families).
    async fn all_addresses(&self) -> KernelResult<Vec<(u32, IpNet)>>;

    /// Installs a route in the main table, atomically replacing one to the same destination
    /// (`RTM_NEWROUTE` with `NLM_F_CREATE|NLM_F_REPLACE`). Calls may be issued concurrently:
    /// each is one request in flight on the shared socket.
    async fn replace_route(&self, route: &Route) -> KernelResult<()>;
    /// Deletes the main-table route to `destination` owned by `protocol`.
    async fn delete_route(&self, destination: IpNet, protocol: u8) -> KernelResult<()>;
    /// The IPv4 and IPv6 main-table routes owned by `protocol`.
    async fn routes(&self, protocol: u8) -> KernelResult<Vec<Route>>;
    /// Applies route changes in order, with as few system calls as the implementation can;
    /// returns the failed ones by index (a delete of a missing route fails with
    /// [`KernelError::NotFound`]). `Err`: the batch itself failed, and which changes took
    /// effect is unknown (every change is idempotent, so the caller may apply them again).
    /// The default applies them one by one.
    async fn apply_routes(&self, ops: &[RouteOp]) -> KernelResult<Vec<(usize, KernelError)>> {
        let mut failed = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            let result = match op {
                RouteOp::Replace(route) => self.replace_route(route).await,
                RouteOp::Delete {
                    destination,
                    protocol,
                } => self.delete_route(*destination, *protocol).await,
            };
            if let Err(e) = result {
                failed.push((i, e));
            }
        }
        Ok(failed)
    }

    /// Adds (or replaces) a permanent neighbour entry `ip lladdr mac` on a link.
    async fn add_neighbour(&self, index: u32, ip: IpAddr, mac: MacAddr) -> KernelResult<()>;

    /// Writes a sysctl of this namespace; `key` is relative to /proc/sys and must start with
    /// `net/` (e.g. `net/ipv4/ip_forward`).
    async fn write_sysctl(&self, key: &str, value: &str) -> KernelResult<()>;
    /// Reads a sysctl of this namespace (trimmed), same key rules as [`Kernel::write_sysctl`].
    async fn read_sysctl(&self, key: &str) -> KernelResult<String>;

    /// Subscribes to link, address and route notifications of this namespace. Lost
    /// notifications (a full socket buffer, `ENOBUFS`) arrive as [`KernelEvent::Overrun`].
    /// Route additions and replacements owned by one of the `quiet` protocols are not
    /// delivered: they are the subscriber's own writes echoing back, and at 100k routes they
    /// would only crowd out what matters.
    async fn subscribe(&self, quiet: &[u8]) -> KernelResult<EventReceiver>;

    /// A `Kernel` for the network namespace at `path` (e.g. `/run/netns/x`, `/proc/PID/ns/net`).
    async fn netns(&self, path: &Path) -> KernelResult<Arc<dyn Kernel>>;

    /// What the file at `path` is: a network namespace (this kernel's own, or another one and
    /// which), another kind of namespace, or no namespace at all. Checked before a container is
    /// wired into it.
    async fn classify_netns(&self, path: &Path) -> KernelResult<NetnsKind>;
}

/// Checks a sysctl key: under `net/`, no `..`, no empty or absolute components.
pub fn validate_sysctl_key(key: &str) -> KernelResult<()> {
    let ok = key.starts_with("net/")
        && key
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if ok {
        Ok(())
    } else {
        Err(KernelError::Invalid(format!("sysctl key {key:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_keys_stay_under_net() {
        assert!(validate_sysctl_key("net/ipv4/ip_forward").is_ok());
        assert!(validate_sysctl_key("net/ipv4/conf/lat0/rp_filter").is_ok());
        for bad in [
            "kernel/hostname",
            "net/../kernel/x",
            "net//x",
            "/net/x",
            "net/ipv4/",
        ] {
            assert!(validate_sysctl_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mac_parses_only_six_bytes() {
        assert_eq!(
            MacAddr::from_bytes(&[2, 0, 0, 0, 0, 1]).map(|m| m.to_string()),
            Some("02:00:00:00:00:01".to_string())
        );
        assert_eq!(MacAddr::from_bytes(&[1, 2, 3]), None);
    }
}
