//! What the speaker reports about each peer (for `lattice status` and metrics).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::wire::Message;
use crate::PeerKey;

/// RFC 4271 §8.2.2 session states, as shown to operators.
pub use crate::fsm::State as PeerState;

/// A snapshot of one peer's session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerStatus {
    /// The peer. Named `address` on the wire, as before peers had keys: an address peer's key
    /// is its address.
    #[serde(rename = "address")]
    pub peer: PeerKey,
    /// Peer's ASN: the configured number, or (`external`, `internal`) the AS it last opened
    /// with, 0 before that.
    pub remote_as: u32,
    /// `external` or `internal` when that is what is configured instead of a number.
    #[serde(default)]
    pub remote_as_config: Option<String>,
    /// An interface peer's neighbour: its link-local address, once known.
    #[serde(default)]
    pub neighbour: Option<std::net::Ipv6Addr>,
    /// How the neighbour made itself known (`router advertisement`, `neighbor discovery`).
    #[serde(default)]
    pub neighbour_heard_by: Option<String>,
    /// Why an interface peer cannot try to connect yet (no interface, no link-local address,
    /// no neighbour heard).
    #[serde(default)]
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
    pub remote_router_id: Option<std::net::Ipv4Addr>,
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
    /// Prefixes whose next hop cannot be used (loopback, ours, ...: RFC 4271 §6.3), ignored.
    #[serde(default)]
    pub prefixes_ignored: u64,
    /// Prefixes advertised to this peer, by family.
    #[serde(default)]
    pub prefixes_advertised_by_family: BTreeMap<String, u64>,
    /// Configured timers and mode.
    #[serde(default)]
    pub config: PeerSettings,
    /// What the current session negotiated, while Established.
    #[serde(default)]
    pub session: Option<SessionInfo>,
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
    pub source: super::PeerSource,
    /// Its role when we reflect routes (RFC 4456).
    #[serde(default)]
    pub reflect: Option<super::ReflectRole>,
}

/// What one Established session agreed (RFC 4271 §4.2 and the capabilities of RFC 5492).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Our end of the TCP connection.
    pub local: Option<std::net::SocketAddr>,
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

impl MessageCounts {
    /// Count one message.
    pub fn add(&mut self, m: &Message) {
        let slot = match m {
            Message::Open(_) => &mut self.open,
            Message::Update(_) => &mut self.update,
            Message::Notification(_) => &mut self.notification,
            Message::Keepalive => &mut self.keepalive,
            Message::RouteRefresh(_) => &mut self.route_refresh,
        };
        *slot = slot.saturating_add(1);
    }
}

impl PeerStatus {
    /// Count a message sent (`outbound`) or received, and its NOTIFICATION code if it is one.
    pub fn count(&mut self, outbound: bool, m: &Message) {
        let (counts, notes) = if outbound {
            (&mut self.sent, &mut self.notifications_sent)
        } else {
            (&mut self.received, &mut self.notifications_received)
        };
        counts.add(m);
        if let Message::Notification(n) = m {
            *notes
                .entry(format!("{}/{}", n.code, n.subcode))
                .or_default() += 1;
        }
    }
}

impl PeerStatus {
    /// A peer that has not connected yet.
    pub fn new(peer: PeerKey, remote_as: impl Into<crate::fsm::RemoteAs>) -> Self {
        let remote_as = remote_as.into();
        Self {
            peer,
            remote_as: remote_as.number().unwrap_or(0),
            remote_as_config: remote_as.number().is_none().then(|| remote_as.to_string()),
            neighbour: None,
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
            prefixes_ignored: 0,
            prefixes_advertised_by_family: BTreeMap::new(),
            config: PeerSettings::default(),
            session: None,
        }
    }
}
