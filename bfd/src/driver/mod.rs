//! The UDP driver: RFC 5881 single hop (IPv4 and IPv6, UDP 3784, TTL 255 sent and required)
//! and RFC 5883 multihop (UDP 4784, minimum TTL configurable) around the sans-IO
//! [`crate::session::Session`].
//!
//! [`Bfd::start`] spawns one OS thread with its own current-thread tokio runtime: no task of
//! the agent, no RIB walk and no netlink burst can delay a transmission or a detection, and
//! the per-packet path (recvmsg into fixed buffers, decode, one hash lookup, encode into 24
//! bytes, send) allocates nothing. The [`Bfd`] handle talks to it over a channel; state changes
//! come back on an unbounded channel so the thread never waits for the agent.
//!
//! Received datagrams are demultiplexed by Your Discriminator, or while it is 0 by source
//! address and interface (single hop) or source and destination address (multihop). Anything
//! malformed, from an unknown source, with the wrong TTL or for an unknown discriminator is
//! dropped and counted per [`DropReason`]; it never reaches a session.

mod counters;
mod handle;
mod runner;
mod socket;
mod table;

use std::net::IpAddr;
use std::time::Instant;

pub use counters::{DropReason, Drops};
pub use handle::Bfd;

use crate::packet::{Diag, State};
use crate::session::{Params, StateChange, Status};

/// RFC 5881 §4: the destination port of single-hop Control packets.
pub const SINGLE_HOP_PORT: u16 = 3784;
/// RFC 5883 §5: the destination port of multihop Control packets.
pub const MULTIHOP_PORT: u16 = 4784;

/// Ports the driver listens on and sends to. Tests move them to run two drivers side by side;
/// anything else uses [`DriverConfig::default`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverConfig {
    /// Where we receive single-hop packets.
    pub listen_single_hop: u16,
    /// Where we receive multihop packets.
    pub listen_multihop: u16,
    /// Where peers receive single-hop packets.
    pub peer_single_hop: u16,
    /// Where peers receive multihop packets.
    pub peer_multihop: u16,
    /// Run the driver's thread under `SCHED_FIFO` at this priority (1-99), so a busy host
    /// (a RIB ingest, a route burst, compilers) cannot delay a packet or a detection past the
    /// detection time; needs `CAP_SYS_NICE`. Without it the thread runs as any other, and
    /// [`Bfd::realtime`] says so. `None` (the default): not asked.
    pub realtime_priority: Option<u8>,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            listen_single_hop: SINGLE_HOP_PORT,
            listen_multihop: MULTIHOP_PORT,
            peer_single_hop: SINGLE_HOP_PORT,
            peer_multihop: MULTIHOP_PORT,
            realtime_priority: None,
        }
    }
}

/// Directly connected (RFC 5881) or not (RFC 5883).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hop {
    /// Single hop: TTL 255 required on receipt, optionally bound to an interface.
    Single,
    /// Multihop: packets with a TTL below `min_ttl` are dropped (1: no check).
    Multi {
        /// Smallest TTL accepted; FRR's default is 254.
        min_ttl: u8,
    },
}

/// One session to create: what the agent knows about the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSpec<K> {
    /// The agent's name for it (a peer key).
    pub key: K,
    /// The peer's address.
    pub remote: IpAddr,
    /// Our address; required for multihop (it selects the session), otherwise the kernel's
    /// choice when `None`.
    pub local: Option<IpAddr>,
    /// The interface (single hop), required for a link-local IPv6 peer.
    pub interface: Option<String>,
    /// Single hop or multihop.
    pub hop: Hop,
    /// Intervals and multiplier.
    pub params: Params,
}

impl<K> SessionSpec<K> {
    /// A single-hop session to `remote`.
    pub fn single_hop(key: K, remote: IpAddr, params: Params) -> Self {
        SessionSpec {
            key,
            remote,
            local: None,
            interface: None,
            hop: Hop::Single,
            params,
        }
    }

    /// A multihop session from `local` to `remote`, minimum TTL 254 like FRR.
    pub fn multihop(key: K, local: IpAddr, remote: IpAddr, params: Params) -> Self {
        SessionSpec {
            key,
            remote,
            local: Some(local),
            interface: None,
            hop: Hop::Multi { min_ttl: 254 },
            params,
        }
    }
}

/// Why a command was refused.
#[derive(Debug, thiserror::Error)]
pub enum BfdError {
    /// A session with this key, or for the same peer, exists.
    #[error("a BFD session for this peer exists already")]
    Duplicate,
    /// No session with this key.
    #[error("no such BFD session")]
    NoSuchSession,
    /// The spec does not hold together.
    #[error("invalid BFD session: {0}")]
    Invalid(&'static str),
    /// The interface does not exist.
    #[error("interface {0}: {1}")]
    Interface(String, std::io::Error),
    /// A socket could not be made (e.g. port 3784 held by another BFD daemon).
    #[error("{0}: {1}")]
    Socket(&'static str, std::io::Error),
    /// The driver thread is gone.
    #[error("the BFD driver has stopped")]
    Stopped,
}

/// A session changed state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BfdEvent<K> {
    /// Which session.
    pub key: K,
    /// From, to, why ([`StateChange::is_path_failure`] says whether a client should act).
    pub change: StateChange,
    /// When.
    pub at: Instant,
}

/// The last time a session left Up or Init, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownReason {
    /// When.
    pub at: Instant,
    /// The state it left.
    pub from: State,
    /// Our diagnostic.
    pub diag: Diag,
    /// The remote's diagnostic at the time.
    pub remote_diag: Diag,
    /// The remote had signalled AdminDown (not a path failure).
    pub remote_admin_down: bool,
}

/// Per-session packet counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionCounters {
    /// Packets sent.
    pub tx: u64,
    /// Sends the kernel refused (e.g. no route).
    pub tx_errors: u64,
    /// Packets accepted.
    pub rx: u64,
    /// Transitions to Up.
    pub up_transitions: u64,
    /// Transitions from Up to anything else.
    pub down_transitions: u64,
}

/// What the agent shows about one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSnapshot<K> {
    /// Which session.
    pub key: K,
    /// The peer.
    pub remote: IpAddr,
    /// Our address, if fixed.
    pub local: Option<IpAddr>,
    /// The interface, if bound.
    pub interface: Option<String>,
    /// Single hop or multihop.
    pub hop: Hop,
    /// Our UDP source port.
    pub source_port: u16,
    /// The configured parameters.
    pub params: Params,
    /// State, diagnostics, discriminators, negotiated intervals and detection time.
    pub status: Status,
    /// The last fall from Up or Init.
    pub last_down: Option<DownReason>,
    /// Packet counters.
    pub counters: SessionCounters,
}
