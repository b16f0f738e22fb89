//! BFD metrics, read at scrape time from latticed's view of its sessions (kept current by the
//! BFD supervisor, so a scrape never waits for the driver thread). Labels: the peer (from the
//! configuration), the state and the drop reason (fixed sets).

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{GaugeVec, IntCounterVec, IntGaugeVec, Opts};

/// One session as the metrics see it.
#[derive(Debug, Clone, PartialEq)]
pub struct BfdSessionRow {
    /// The peer (its address).
    pub peer: String,
    /// One of [`STATES`].
    pub state: &'static str,
    /// The detection time now (0 while the peer is not heard).
    pub detection_seconds: f64,
    /// Transitions to Up.
    pub up_transitions: u64,
    /// Transitions from Up.
    pub down_transitions: u64,
    /// Control packets sent.
    pub sent: u64,
    /// Sends the kernel refused.
    pub send_errors: u64,
    /// Control packets accepted.
    pub received: u64,
}

/// Where the collector reads the sessions and the drop counters.
pub trait BfdSource: Send + Sync {
    /// Every configured session.
    fn sessions(&self) -> Vec<BfdSessionRow>;
    /// Datagrams dropped, by reason (every reason, 0 included, once the driver runs).
    fn drops(&self) -> Vec<(&'static str, u64)>;
}

impl<T: BfdSource + ?Sized> BfdSource for std::sync::Arc<T> {
    fn sessions(&self) -> Vec<BfdSessionRow> {
        (**self).sessions()
    }
    fn drops(&self) -> Vec<(&'static str, u64)> {
        (**self).drops()
    }
}

/// The `state` label values: RFC 5880's four, and `pending` for a session latticed could not
/// create yet (`lattice peers` says why).
pub const STATES: [&str; 5] = ["pending", "admin_down", "down", "init", "up"];

struct Families {
    state: IntGaugeVec,
    transitions: IntCounterVec,
    detection: GaugeVec,
    sent: IntCounterVec,
    send_errors: IntCounterVec,
    received: IntCounterVec,
    dropped: IntCounterVec,
}

impl Families {
    fn new() -> prometheus::Result<Self> {
        let counter = |name: &str, help: &str, labels: &[&str]| {
            IntCounterVec::new(Opts::new(name, help), labels)
        };
        Ok(Families {
            state: IntGaugeVec::new(
                Opts::new(
                    "lattice_bfd_session_state",
                    "BFD session state (RFC 5880, or pending): 1 for the session's current state, 0 for the others.",
                ),
                &["peer", "state"],
            )?,
            transitions: counter(
                "lattice_bfd_session_transitions_total",
                "BFD session transitions to Up (to=\"up\") and from Up (to=\"down\").",
                &["peer", "to"],
            )?,
            detection: GaugeVec::new(
                Opts::new(
                    "lattice_bfd_detection_time_seconds",
                    "Time without a packet from the peer after which the session goes down (RFC 5880 §6.8.4); 0 while not heard.",
                ),
                &["peer"],
            )?,
            sent: counter(
                "lattice_bfd_packets_sent_total",
                "BFD Control packets sent to the peer.",
                &["peer"],
            )?,
            send_errors: counter(
                "lattice_bfd_send_errors_total",
                "BFD Control packets the kernel refused to send (e.g. no route).",
                &["peer"],
            )?,
            received: counter(
                "lattice_bfd_packets_received_total",
                "BFD Control packets accepted from the peer.",
                &["peer"],
            )?,
            dropped: counter(
                "lattice_bfd_packets_dropped_total",
                "Received datagrams that reached no session, by reason (malformed, wrong TTL, unknown peer or discriminator, ...).",
                &["reason"],
            )?,
        })
    }

    fn all(&self) -> [&dyn Collector; 7] {
        [
            &self.state,
            &self.transitions,
            &self.detection,
            &self.sent,
            &self.send_errors,
            &self.received,
            &self.dropped,
        ]
    }
}

/// The collector registered with the daemon's registry.
pub struct BfdCollector {
    source: Box<dyn BfdSource>,
    template: Families,
}

impl std::fmt::Debug for BfdCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BfdCollector")
    }
}

impl BfdCollector {
    /// A collector over `source`.
    pub fn new(source: Box<dyn BfdSource>) -> prometheus::Result<Self> {
        Ok(BfdCollector {
            source,
            template: Families::new()?,
        })
    }
}

impl Collector for BfdCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.template
            .all()
            .into_iter()
            .flat_map(|c| c.desc())
            .collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let Ok(f) = Families::new() else {
            return Vec::new();
        };
        for s in self.source.sessions() {
            let peer = s.peer.as_str();
            for state in STATES {
                f.state
                    .with_label_values(&[peer, state])
                    .set(i64::from(state == s.state));
            }
            f.transitions
                .with_label_values(&[peer, "up"])
                .inc_by(s.up_transitions);
            f.transitions
                .with_label_values(&[peer, "down"])
                .inc_by(s.down_transitions);
            f.detection
                .with_label_values(&[peer])
                .set(s.detection_seconds);
            f.sent.with_label_values(&[peer]).inc_by(s.sent);
            f.send_errors
                .with_label_values(&[peer])
                .inc_by(s.send_errors);
            f.received.with_label_values(&[peer]).inc_by(s.received);
        }
        for (reason, n) in self.source.drops() {
            f.dropped.with_label_values(&[reason]).inc_by(n);
        }
        f.all().into_iter().flat_map(|c| c.collect()).collect()
    }
}
