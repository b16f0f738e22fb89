//! What a client asks latticed.

use std::path::PathBuf;

use ipnet::IpNet;

use serde::{Deserialize, Serialize};

use super::{AttachmentKey, DEFAULT_IFNAME};

fn default_ifname() -> String {
    DEFAULT_IFNAME.to_string()
}

/// A request to latticed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Give the container an address and wire it into the network namespace at `netns`.
    /// Repeating it for the same (container_id, ifname) returns the same attachment.
    Attach {
        /// Caller's container id.
        container_id: String,
        /// Interface name inside the container.
        #[serde(default = "default_ifname")]
        ifname: String,
        /// Path of the container's network namespace (e.g. `/run/netns/c1`).
        netns: PathBuf,
        /// MTU for this attachment, overriding `dataplane.mtu` (the CNI config's `mtu`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mtu: Option<u32>,
    },
    /// Verify that an attachment exists and is wired as it was made (CNI CHECK).
    /// Answered by `attached` when it is, by an error saying what differs when not.
    Check {
        /// Caller's container id.
        container_id: String,
        /// Interface name inside the container.
        #[serde(default = "default_ifname")]
        ifname: String,
        /// Path of the container's network namespace.
        netns: PathBuf,
    },
    /// Reserve an address for `(container_id, ifname)` without wiring anything (the Docker
    /// driver's IPAM: Docker wires the interface itself). Repeating it returns the same address.
    Allocate {
        /// Caller's key.
        container_id: String,
        /// Interface name the key goes with.
        #[serde(default = "default_ifname")]
        ifname: String,
    },
    /// Whether latticed can serve attach requests now (CNI STATUS).
    Ready,
    /// Remove the container's interface and release its address. Idempotent.
    Detach {
        /// Caller's container id.
        container_id: String,
        /// Interface name inside the container.
        #[serde(default = "default_ifname")]
        ifname: String,
    },
    /// Unwire and release every attachment whose key is not in `keep` (CNI GC, Docker
    /// cleanup: the caller lists what is alive).
    Gc {
        /// The attachments to keep.
        keep: Vec<AttachmentKey>,
    },
    /// List current attachments.
    List,
    /// Node, block and BGP peers.
    Status,
    /// Every BGP peer in detail (capabilities, timers, counters), or only `peer`.
    Peers {
        /// Only this neighbour: its address, or an interface peer's interface name (an
        /// address is sent as the same JSON string as before).
        #[serde(default)]
        peer: Option<String>,
    },
    /// The Loc-RIB: every learned prefix with its paths and whether it is in the kernel.
    Routes,
    /// Blocks, their usage and every allocation.
    Ipam,
    /// Read the configuration file again and apply what changed (as SIGHUP does). Answered by
    /// `reloaded` with what was done, or an error saying why nothing was (the file's
    /// `FILE:LINE: key: problem`, or the keys that need a restart).
    Reload,
    /// Announce `prefixes` over BGP (a service or load-balancer address), to the peers whose
    /// export policy accepts them, carrying `communities` (`ASN:VALUE`, `ASN:DATA1:DATA2`).
    /// Kept in `ipam.state_dir` across restarts. Refused, whole, with the reason when some
    /// prefix no peer's export accepts. Announcing a prefix again replaces its communities.
    Announce {
        /// The prefixes.
        prefixes: Vec<IpNet>,
        /// Communities they carry, besides each peer's own.
        #[serde(default)]
        communities: Vec<String>,
    },
    /// Stop announcing `prefixes` (announced through `announce`).
    Withdraw {
        /// The prefixes.
        prefixes: Vec<IpNet>,
    },
    /// `request`, made by `lattice-cni` on behalf of a CNI runtime running `command`: answered
    /// like `request` alone, and timed under the CNI interface (`interface="cni"`,
    /// `operation=command`) in the metrics.
    Cni {
        /// The CNI command being served.
        command: CniCommand,
        /// The request itself (never another `cni`).
        request: Box<Request>,
    },
}

/// The CNI commands that reach latticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CniCommand {
    /// ADD.
    Add,
    /// DEL.
    Del,
    /// CHECK.
    Check,
    /// STATUS.
    Status,
    /// GC.
    Gc,
}

impl CniCommand {
    /// From `CNI_COMMAND` (`ADD`, `DEL`, ...); `None` for VERSION and anything unknown.
    pub fn from_env(value: &str) -> Option<CniCommand> {
        match value {
            "ADD" => Some(CniCommand::Add),
            "DEL" => Some(CniCommand::Del),
            "CHECK" => Some(CniCommand::Check),
            "STATUS" => Some(CniCommand::Status),
            "GC" => Some(CniCommand::Gc),
            _ => None,
        }
    }

    /// The metrics' operation label.
    pub fn as_str(self) -> &'static str {
        match self {
            CniCommand::Add => "add",
            CniCommand::Del => "del",
            CniCommand::Check => "check",
            CniCommand::Status => "status",
            CniCommand::Gc => "gc",
        }
    }
}
