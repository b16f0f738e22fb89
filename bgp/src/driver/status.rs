//! What the speaker reports about each peer (for `lattice status` and metrics).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// RFC 4271 §8.2.2 session states, as shown to operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PeerState {
    /// Idle.
    Idle,
    /// Connect.
    Connect,
    /// Active.
    Active,
    /// OpenSent.
    OpenSent,
    /// OpenConfirm.
    OpenConfirm,
    /// Established.
    Established,
}

/// A snapshot of one peer's session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerStatus {
    /// Peer's address.
    pub address: IpAddr,
    /// Peer's configured ASN.
    pub remote_as: u32,
    /// Session state.
    pub state: PeerState,
    /// Seconds since the session reached Established, if it is.
    pub uptime_secs: Option<u64>,
    /// Prefixes currently held in this peer's Adj-RIB-In.
    pub prefixes_received: u64,
    /// Prefixes currently advertised to this peer.
    pub prefixes_advertised: u64,
    /// The peer's BGP identifier once known.
    pub remote_router_id: Option<std::net::Ipv4Addr>,
    /// The last error that reset the session, for the operator.
    pub last_error: Option<String>,
    /// Families exchanged on the current session ("ipv4", "ipv6").
    #[serde(default)]
    pub families: Vec<String>,
    /// The peer's routes are kept as stale while it restarts (RFC 4724 helper).
    #[serde(default)]
    pub graceful_restart_stale: bool,
}

impl PeerStatus {
    /// A peer that has not connected yet.
    pub fn new(address: IpAddr, remote_as: u32) -> Self {
        Self {
            address,
            remote_as,
            state: PeerState::Idle,
            uptime_secs: None,
            prefixes_received: 0,
            prefixes_advertised: 0,
            remote_router_id: None,
            last_error: None,
            families: Vec::new(),
            graceful_restart_stale: false,
        }
    }
}
