//! What latticed knows about its BFD sessions, for the API and the metrics: refreshed from the
//! driver every couple of seconds and on every state change, so a scrape never waits for it.

use std::collections::BTreeMap;

use bfd::driver::{Drops, SessionSnapshot};
use bgp::driver::PeerKey;

use crate::config::BfdTimers;

/// Every configured BFD session.
#[derive(Debug, Clone, Default)]
pub struct BfdView {
    /// By peer.
    pub peers: BTreeMap<PeerKey, PeerBfdView>,
    /// Datagrams the driver dropped, per reason (`None` before it started).
    pub drops: Option<Drops>,
}

/// One peer's BFD session.
#[derive(Debug, Clone)]
pub struct PeerBfdView {
    /// The configured timers.
    pub timers: BfdTimers,
    /// Why it is not running, if it is not.
    pub pending: Option<String>,
    /// The driver's view, while it runs.
    pub session: Option<SessionSnapshot<PeerKey>>,
}

impl crate::metrics::bfd::BfdSource for super::BfdSupervisor {
    fn sessions(&self) -> Vec<crate::metrics::bfd::BfdSessionRow> {
        self.view()
            .peers
            .iter()
            .map(|(peer, v)| {
                let s = v.session.as_ref();
                let status = s.map(|s| s.status);
                let counters = s.map(|s| s.counters).unwrap_or_default();
                crate::metrics::bfd::BfdSessionRow {
                    peer: peer.to_string(),
                    state: status.map_or("pending", |st| st.state.as_str()),
                    detection_seconds: status
                        .and_then(|st| st.detection_time)
                        .map_or(0.0, |d| d.as_secs_f64()),
                    up_transitions: counters.up_transitions,
                    down_transitions: counters.down_transitions,
                    sent: counters.tx,
                    send_errors: counters.tx_errors,
                    received: counters.rx,
                }
            })
            .collect()
    }

    fn drops(&self) -> Vec<(&'static str, u64)> {
        self.view()
            .drops
            .map(|d| d.by_reason.iter().map(|(r, n)| (r.as_str(), *n)).collect())
            .unwrap_or_default()
    }
}
