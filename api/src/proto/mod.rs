//! The local API's wire types: one [`Request`] per line from the client, one [`Reply`] per line
//! from latticed, as JSON. These are the protocol's own types: latticed converts its internal
//! records (the BGP speaker's, the IPAM's) into them, so an internal change is not an API change.

mod bfd;
mod peer;
mod reply;
mod request;
mod route;
#[cfg(test)]
mod tests;

use std::net::Ipv4Addr;

pub use bfd::{BfdDown, BfdState, BfdStatus};
pub use peer::{
    MessageCounts, PeerSettings, PeerSource, PeerState, PeerStatus, ReflectRole, SessionInfo,
};
pub use reply::{
    Allocation, Announcement, ApiError, Attachment, AttachmentKey, BlockConflict, BlockUsage,
    IpamStatus, NodeStatus, Reply,
};
pub use request::{CniCommand, Request};
pub use route::{RoutePath, RouteStatus};

/// The interface name a container gets when the caller does not say.
pub const DEFAULT_IFNAME: &str = "eth0";

/// The IPv4 gateway of every attachment: the container's default route points at this
/// link-local address, which the host side answers (CNI results report it).
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(169, 254, 1, 1);

/// Attachments whose container id starts with this belong to latticed's Docker driver, which
/// a CNI runtime's GC knows nothing about: GC keeps them.
pub const DOCKER_ID_PREFIX: &str = "docker:";
