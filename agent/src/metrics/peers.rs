//! BGP metrics, read from the speaker's status at scrape time: the `bgp` crate stays free of
//! Prometheus, and a scrape always shows the speaker's current counters (no second copy that
//! could drift).

use bgp::driver::{MessageCounts, PeerState, PeerStatus};
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{IntCounterVec, IntGaugeVec, Opts};

/// Where the collector gets its peers from (the speaker; a fixed list in tests).
pub trait PeerSource: Send + Sync {
    /// The current status of every configured peer.
    fn peers(&self) -> Vec<PeerStatus>;
}

impl PeerSource for bgp::driver::SpeakerHandle {
    fn peers(&self) -> Vec<PeerStatus> {
        self.snapshot()
    }
}

/// The families every peer is reported for, so a family with no prefixes reads 0.
const FAMILIES: [&str; 2] = ["ipv4", "ipv6"];
/// Every state, so `lattice_bgp_session_state` is a complete state set.
const STATES: [PeerState; 6] = [
    PeerState::Idle,
    PeerState::Connect,
    PeerState::Active,
    PeerState::OpenSent,
    PeerState::OpenConfirm,
    PeerState::Established,
];

/// Builds fresh metric vectors per scrape from fixed options, so a peer's series are exactly
/// what its status says now.
struct Families {
    up: IntGaugeVec,
    state: IntGaugeVec,
    transitions: IntCounterVec,
    uptime: IntGaugeVec,
    received: IntGaugeVec,
    accepted: IntGaugeVec,
    advertised: IntGaugeVec,
    ignored: IntGaugeVec,
    sent: IntCounterVec,
    recv: IntCounterVec,
    notes_sent: IntCounterVec,
    notes_recv: IntCounterVec,
    stale: IntGaugeVec,
}

fn gauge(name: &str, help: &str, labels: &[&str]) -> prometheus::Result<IntGaugeVec> {
    IntGaugeVec::new(Opts::new(name, help), labels)
}

fn counter(name: &str, help: &str, labels: &[&str]) -> prometheus::Result<IntCounterVec> {
    IntCounterVec::new(Opts::new(name, help), labels)
}

impl Families {
    fn new() -> prometheus::Result<Self> {
        Ok(Self {
            up: gauge(
                "lattice_bgp_session_up",
                "1 when the BGP session with the peer is Established, else 0.",
                &["peer", "peer_as"],
            )?,
            state: gauge(
                "lattice_bgp_session_state",
                "RFC 4271 session state: 1 for the peer's current state, 0 for the others.",
                &["peer", "state"],
            )?,
            transitions: counter(
                "lattice_bgp_session_established_transitions_total",
                "Times the session with the peer reached Established.",
                &["peer"],
            )?,
            uptime: gauge(
                "lattice_bgp_session_uptime_seconds",
                "Seconds since the session reached Established; 0 while it is down.",
                &["peer"],
            )?,
            received: gauge(
                "lattice_bgp_prefixes_received",
                "Prefixes the peer currently announces to us, before the import policy.",
                &["peer", "afi"],
            )?,
            accepted: gauge(
                "lattice_bgp_prefixes_accepted",
                "Prefixes of the peer the import policy accepted (its Adj-RIB-In after policy).",
                &["peer", "afi"],
            )?,
            advertised: gauge(
                "lattice_bgp_prefixes_advertised",
                "Prefixes we currently advertise to the peer.",
                &["peer", "afi"],
            )?,
            ignored: gauge(
                "lattice_bgp_prefixes_ignored",
                "Prefixes of the peer ignored for a next hop that cannot be used (loopback, ours, multicast, unspecified: RFC 4271 §6.3).",
                &["peer"],
            )?,
            sent: counter(
                "lattice_bgp_messages_sent_total",
                "BGP messages sent to the peer, by type.",
                &["peer", "type"],
            )?,
            recv: counter(
                "lattice_bgp_messages_received_total",
                "BGP messages received from the peer, by type.",
                &["peer", "type"],
            )?,
            notes_sent: counter(
                "lattice_bgp_notifications_sent_total",
                "NOTIFICATIONs sent to the peer, by error code and subcode (RFC 4271 §4.5).",
                &["peer", "code", "subcode"],
            )?,
            notes_recv: counter(
                "lattice_bgp_notifications_received_total",
                "NOTIFICATIONs received from the peer, by error code and subcode.",
                &["peer", "code", "subcode"],
            )?,
            stale: gauge(
                "lattice_bgp_graceful_restart_stale",
                "1 while the peer's routes are kept as stale during its graceful restart.",
                &["peer"],
            )?,
        })
    }

    fn all(&self) -> [&dyn Collector; 13] {
        [
            &self.up,
            &self.state,
            &self.transitions,
            &self.uptime,
            &self.received,
            &self.accepted,
            &self.advertised,
            &self.ignored,
            &self.sent,
            &self.recv,
            &self.notes_sent,
            &self.notes_recv,
            &self.stale,
        ]
    }

    fn fill(&self, p: &PeerStatus) {
        // The address or the interface name; the AS as configured (`external`/`internal` rather
        // than what the peer opened with: labels never come from what a peer sends).
        let peer = p.peer.to_string();
        let peer_as = p
            .remote_as_config
            .clone()
            .unwrap_or_else(|| p.remote_as.to_string());
        let up = p.state == PeerState::Established;
        self.up
            .with_label_values(&[&peer, &peer_as])
            .set(i64::from(up));
        for s in STATES {
            let on = i64::from(s == p.state);
            self.state
                .with_label_values(&[&peer, state_name(s)])
                .set(on);
        }
        self.transitions
            .with_label_values(&[&peer])
            .inc_by(p.established_transitions);
        let uptime = p.uptime_secs.unwrap_or(0);
        self.uptime
            .with_label_values(&[&peer])
            .set(i64::try_from(uptime).unwrap_or(i64::MAX));
        for family in FAMILIES {
            let get = |m: &std::collections::BTreeMap<String, u64>| {
                i64::try_from(m.get(family).copied().unwrap_or(0)).unwrap_or(i64::MAX)
            };
            let labels = [peer.as_str(), family];
            self.received
                .with_label_values(&labels)
                .set(get(&p.prefixes_received_by_family));
            self.accepted
                .with_label_values(&labels)
                .set(get(&p.prefixes_accepted_by_family));
            self.advertised
                .with_label_values(&labels)
                .set(get(&p.prefixes_advertised_by_family));
        }
        self.ignored
            .with_label_values(&[&peer])
            .set(i64::try_from(p.prefixes_ignored).unwrap_or(i64::MAX));
        add_messages(&self.sent, &peer, &p.sent);
        add_messages(&self.recv, &peer, &p.received);
        add_notifications(&self.notes_sent, &peer, &p.notifications_sent);
        add_notifications(&self.notes_recv, &peer, &p.notifications_received);
        self.stale
            .with_label_values(&[&peer])
            .set(i64::from(p.graceful_restart_stale));
    }
}

fn add_messages(vec: &IntCounterVec, peer: &str, m: &MessageCounts) {
    for (kind, n) in [
        ("open", m.open),
        ("update", m.update),
        ("notification", m.notification),
        ("keepalive", m.keepalive),
        ("route_refresh", m.route_refresh),
    ] {
        vec.with_label_values(&[peer, kind]).inc_by(n);
    }
}

/// The status keys NOTIFICATIONs by "code/subcode"; both are u8 on the wire, so the label set
/// stays bounded whatever a peer sends.
fn add_notifications(
    vec: &IntCounterVec,
    peer: &str,
    notes: &std::collections::BTreeMap<String, u64>,
) {
    for (key, n) in notes {
        let (code, subcode) = key.split_once('/').unwrap_or((key.as_str(), "0"));
        vec.with_label_values(&[peer, code, subcode]).inc_by(*n);
    }
}

/// The RFC 4271 name of a state, as the `state` label.
pub fn state_name(s: PeerState) -> &'static str {
    match s {
        PeerState::Idle => "idle",
        PeerState::Connect => "connect",
        PeerState::Active => "active",
        PeerState::OpenSent => "opensent",
        PeerState::OpenConfirm => "openconfirm",
        PeerState::Established => "established",
    }
}

/// The collector registered with the daemon's registry.
pub struct BgpCollector {
    source: Box<dyn PeerSource>,
    /// Only for [`Collector::desc`]: the per-scrape families are built fresh.
    template: Families,
}

impl std::fmt::Debug for BgpCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BgpCollector")
    }
}

impl BgpCollector {
    /// A collector over `source`'s peers.
    pub fn new(source: Box<dyn PeerSource>) -> prometheus::Result<Self> {
        Ok(Self {
            source,
            template: Families::new()?,
        })
    }
}

impl Collector for BgpCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.template
            .all()
            .into_iter()
            .flat_map(|c| c.desc())
            .collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        // The same definitions as the template, which was built without error.
        let Ok(families) = Families::new() else {
            return Vec::new();
        };
        for p in self.source.peers() {
            families.fill(&p);
        }
        families
            .all()
            .into_iter()
            .flat_map(|c| c.collect())
            .collect()
    }
}
