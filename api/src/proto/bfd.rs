//! What `lattice peers` and `lattice status` show of a peer's BFD session (RFC 5880).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// A BFD session's state (RFC 5880 §4.1), or why it does not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BfdState {
    /// Not running: latticed could not create it (see [`BfdStatus::reason`]); it tries again.
    Pending,
    /// AdminDown.
    AdminDown,
    /// Down.
    Down,
    /// Init.
    Init,
    /// Up.
    Up,
}

/// A peer's BFD session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BfdStatus {
    /// The session's state.
    pub state: BfdState,
    /// Why a pending session does not run (e.g. the kernel has no route to the peer).
    #[serde(default)]
    pub reason: Option<String>,
    /// RFC 5883 multihop (UDP 4784) rather than RFC 5881 single hop (UDP 3784).
    pub multihop: bool,
    /// Our address, once chosen.
    #[serde(default)]
    pub local: Option<IpAddr>,
    /// The interface a single-hop session is bound to.
    #[serde(default)]
    pub interface: Option<String>,
    /// Configured Required Min RX (ms).
    pub min_rx_ms: u32,
    /// Configured Desired Min TX once Up (ms).
    pub min_tx_ms: u32,
    /// Configured Detect Mult.
    pub multiplier: u8,
    /// The interval we send at now, before jitter (ms).
    #[serde(default)]
    pub tx_interval_ms: Option<u64>,
    /// The agreed interval the peer sends at (ms).
    #[serde(default)]
    pub rx_interval_ms: Option<u64>,
    /// Time without a packet after which we declare the session down (ms).
    #[serde(default)]
    pub detection_time_ms: Option<u64>,
    /// The peer's Detect Mult (0 before it spoke).
    #[serde(default)]
    pub remote_multiplier: u8,
    /// The C bit we send: our BFD does not share fate with our control plane (RFC 5880 §4.1).
    #[serde(default)]
    pub control_plane_independent: bool,
    /// The C bit the peer sends.
    #[serde(default)]
    pub remote_control_plane_independent: bool,
    /// The last fall from Up or Init.
    #[serde(default)]
    pub last_down: Option<BfdDown>,
    /// The BGP session is held down until BFD is Up again.
    #[serde(default)]
    pub holding_bgp_down: bool,
    /// Times the session reached Up.
    #[serde(default)]
    pub up_transitions: u64,
    /// Times the session left Up.
    #[serde(default)]
    pub down_transitions: u64,
    /// Control packets sent.
    #[serde(default)]
    pub packets_sent: u64,
    /// Control packets accepted from the peer.
    #[serde(default)]
    pub packets_received: u64,
}

/// Why and when a BFD session last fell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BfdDown {
    /// Seconds ago.
    pub secs_ago: u64,
    /// The state it left ("up", "init").
    pub from: BfdState,
    /// Our diagnostic (RFC 5880 §4.1), e.g. "control detection time expired".
    pub diag: String,
    /// The peer's diagnostic at the time.
    pub remote_diag: String,
    /// The peer had signalled AdminDown (not a failure).
    pub remote_admin_down: bool,
}
