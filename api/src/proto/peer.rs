//! What `lattice status` and `lattice peers` show of each BGP peer. latticed fills these
//! from its speaker's own records; they are the API's, so the speaker can change without the
//! socket protocol changing.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

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
    /// Peer's address: for an interface peer, its neighbour's link-local address once known
    /// (`::` until then).
    pub address: IpAddr,
    /// Peer's ASN: the configured number, or (`asn: external`/`internal`) the AS it last
    /// opened with, 0 before that.
    pub remote_as: u32,
    /// `external` or `internal`, when that is configured instead of a number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_as_config: Option<String>,
    /// An interface peer's interface (BGP unnumbered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// How an interface peer's neighbour made itself known (`router advertisement`,
    /// `neighbor discovery`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neighbour_heard_by: Option<String>,
    /// Why an interface peer cannot try to connect yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
    /// Session state.
    pub state: PeerState,
    /// Seconds since the session reached Established, if it is.
    pub uptime_secs: Option<u64>,
    /// Prefixes currently held in this peer's Adj-RIB-In.
    pub prefixes_received: u64,
    /// Prefixes currently advertised to this peer.
    pub prefixes_advertised: u64,
    /// The peer's BGP identifier once known.
    pub remote_router_id: Option<Ipv4Addr>,
    /// The last error that reset the session, for the operator.
    pub last_error: Option<String>,
    /// Families exchanged on the current session ("ipv4", "ipv6").
    #[serde(default)]
    pub families: Vec<String>,
    /// The peer's routes are kept as stale while it restarts (RFC 4724 helper).
    #[serde(default)]
    pub graceful_restart_stale: bool,
    /// Times the session reached Established.
    #[serde(default)]
    pub established_transitions: u64,
    /// Messages sent, by type.
    #[serde(default)]
    pub sent: MessageCounts,
    /// Messages received, by type.
    #[serde(default)]
    pub received: MessageCounts,
    /// NOTIFICATIONs sent, by "code/subcode".
    #[serde(default)]
    pub notifications_sent: BTreeMap<String, u64>,
    /// NOTIFICATIONs received, by "code/subcode".
    #[serde(default)]
    pub notifications_received: BTreeMap<String, u64>,
    /// Prefixes held from this peer, by family ("ipv4", "ipv6"): accepted plus refused by
    /// the import policy.
    #[serde(default)]
    pub prefixes_received_by_family: BTreeMap<String, u64>,
    /// Prefixes the import policy accepted (the peer's Adj-RIB-In after policy).
    #[serde(default)]
    pub prefixes_accepted: u64,
    /// Accepted prefixes, by family.
    #[serde(default)]
    pub prefixes_accepted_by_family: BTreeMap<String, u64>,
    /// Prefixes advertised to this peer, by family.
    #[serde(default)]
    pub prefixes_advertised_by_family: BTreeMap<String, u64>,
    /// Configured timers and mode.
    #[serde(default)]
    pub config: PeerSettings,
    /// What the current session negotiated, while Established.
    #[serde(default)]
    pub session: Option<SessionInfo>,
    /// Prefixes the peer sent whose next hop cannot be used (RFC 4271 §6.3), ignored. Absent
    /// from the JSON when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub prefixes_ignored: u64,
}

/// A peer's configured timers and mode, for `lattice peers`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerSettings {
    /// Hold time we propose (s).
    pub hold_time: u16,
    /// Configured keepalive interval (s), if not a third of the hold time.
    pub keepalive: Option<u16>,
    /// Seconds between connection attempts.
    pub connect_retry_secs: u64,
    /// Only accept, never connect.
    pub passive: bool,
    /// Import limit (Cease/1 above it).
    pub max_prefixes: Option<u32>,
    /// TCP MD5 signature in use (the key itself is never shown).
    pub md5: bool,
    /// Where the peer's configuration came from.
    #[serde(default)]
    pub source: PeerSource,
    /// Its role when this host reflects routes (RFC 4456).
    #[serde(default)]
    pub reflect: Option<ReflectRole>,
}

/// Where a peer's configuration came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PeerSource {
    /// Written in the configuration (`bgp.peers`).
    #[default]
    Configured,
    /// Found in the cluster's datastore (`bgp.mesh`).
    Discovered {
        /// The registered host it belongs to.
        host: String,
    },
}

/// A peer's role in route reflection (RFC 4456).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReflectRole {
    /// A client: its routes go to every peer, it gets every reflected route.
    Client,
    /// Another reflector: its routes go to clients only.
    NonClient,
}

/// What one Established session agreed (RFC 4271 §4.2 and the capabilities of RFC 5492).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Our end of the TCP connection.
    pub local: Option<SocketAddr>,
    /// Whether we opened the connection.
    pub outbound: bool,
    /// Negotiated hold time (s); 0: no hold timer.
    pub hold_time: u16,
    /// Keepalive interval in use (s).
    pub keepalive: u16,
    /// Capabilities both sides agreed, by short name (e.g. "4-octet-as", "route-refresh").
    pub capabilities: Vec<String>,
    /// The peer's graceful-restart time (s), when it announced graceful restart.
    pub peer_restart_time: Option<u16>,
}

/// Message counters by type (RFC 4271 §4.1, RFC 2918).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageCounts {
    /// OPEN.
    pub open: u64,
    /// UPDATE.
    pub update: u64,
    /// NOTIFICATION.
    pub notification: u64,
    /// KEEPALIVE.
    pub keepalive: u64,
    /// ROUTE-REFRESH.
    pub route_refresh: u64,
}

impl PeerStatus {
    /// A peer that has not connected yet.
    pub fn new(address: IpAddr, remote_as: u32) -> Self {
        Self {
            address,
            remote_as,
            remote_as_config: None,
            interface: None,
            neighbour_heard_by: None,
            waiting: None,
            state: PeerState::Idle,
            uptime_secs: None,
            prefixes_received: 0,
            prefixes_advertised: 0,
            remote_router_id: None,
            last_error: None,
            families: Vec::new(),
            graceful_restart_stale: false,
            established_transitions: 0,
            sent: MessageCounts::default(),
            received: MessageCounts::default(),
            notifications_sent: BTreeMap::new(),
            notifications_received: BTreeMap::new(),
            prefixes_received_by_family: BTreeMap::new(),
            prefixes_accepted: 0,
            prefixes_accepted_by_family: BTreeMap::new(),
            prefixes_advertised_by_family: BTreeMap::new(),
            config: PeerSettings::default(),
            session: None,
            prefixes_ignored: 0,
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
