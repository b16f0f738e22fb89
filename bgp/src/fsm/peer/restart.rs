//! The graceful-restart helper (RFC 4724 §4.2): what becomes of a peer's routes when its
//! session drops, and the two deadlines that bound how long stale routes are kept.

use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::event::Output;
use crate::fsm::Negotiated;
use crate::wire::afi;
use crate::PeerKey;

/// How long stale routes may wait for End-of-RIB once the peer is back (FRR's stale-path time).
pub const STALE_PATH_TIME: Duration = Duration::from_secs(360);

/// The helper's deadlines for one peer.
#[derive(Debug, Clone, Default)]
pub(super) struct Helper {
    /// Drop the peer's stale routes at this time unless it is back (its Restart Time).
    restart: Option<Instant>,
    /// Drop stale routes the peer has not refreshed by this time (after it came back).
    stale: Option<Instant>,
}

impl Helper {
    /// The Established session `negotiated` fell at `now`: keep its routes as stale when the
    /// peer announced graceful restart for some family and no NOTIFICATION was exchanged;
    /// otherwise they go. A helper-only speaker (FRR's default) lists no family: its routes go
    /// at once, as without graceful restart.
    pub fn session_lost(
        &mut self,
        key: &PeerKey,
        negotiated: Option<Negotiated>,
        notified: bool,
        reason: &str,
        now: Instant,
    ) -> Vec<Output> {
        let graceful = negotiated
            .and_then(|n| n.peer_gr)
            .filter(|gr| gr.restart_time > 0 && (gr.ipv4.is_some() || gr.ipv6.is_some()));
        match graceful {
            Some(gr) if !notified => {
                warn!(peer = %key, %reason, restart_time = gr.restart_time,
                    "session down: keeping its routes as stale while it restarts");
                let mut out = vec![Output::MarkStale];
                // Only the families listed in its capability are kept.
                let unlisted = [(afi::IPV4, gr.ipv4), (afi::IPV6, gr.ipv6)];
                out.extend(
                    unlisted
                        .into_iter()
                        .filter(|(_, listed)| listed.is_none())
                        .map(|(family, _)| Output::SweepStale(Some(family))),
                );
                let wait = Duration::from_secs(u64::from(gr.restart_time));
                self.restart = Some(now + wait);
                self.stale = None;
                out
            }
            _ => {
                warn!(peer = %key, %reason, "session down");
                vec![Output::DropRoutes]
            }
        }
    }

    /// The peer is back with session `n`: families it no longer preserves lose their stale
    /// routes at once; the rest wait for its End-of-RIB, at most [`STALE_PATH_TIME`].
    pub fn reestablished(&mut self, key: &PeerKey, n: Negotiated, now: Instant) -> Vec<Output> {
        if self.restart.take().is_none() {
            return Vec::new();
        }
        let kept = |f: Option<Option<bool>>| f.flatten() == Some(true);
        let gr = n.peer_gr;
        let out = [
            (afi::IPV4, kept(gr.map(|g| g.ipv4)), n.ipv4),
            (afi::IPV6, kept(gr.map(|g| g.ipv6)), n.ipv6),
        ]
        .into_iter()
        .filter(|&(_, preserved, negotiated)| !(preserved && negotiated))
        .map(|(family, _, _)| Output::SweepStale(Some(family)))
        .collect();
        info!(peer = %key, "peer restarted gracefully: waiting for its End-of-RIB");
        self.stale = Some(now + STALE_PATH_TIME);
        out
    }

    /// Whatever expired by `now`: the restart time (every route goes) and the stale-path time
    /// (the routes still stale go).
    pub fn expire(&mut self, key: &PeerKey, now: Instant) -> Vec<Output> {
        let mut out = Vec::new();
        if self.restart.is_some_and(|t| t <= now) {
            self.restart = None;
            warn!(peer = %key, "peer did not come back within its restart time: routes dropped");
            out.push(Output::DropRoutes);
        }
        if self.stale.is_some_and(|t| t <= now) {
            self.stale = None;
            out.push(Output::SweepStale(None));
        }
        out
    }

    /// Whether the peer's routes are kept as stale, waiting for it to come back.
    pub fn waiting(&self) -> bool {
        self.restart.is_some()
    }

    /// Forget both deadlines (the peer is removed: its routes go anyway).
    pub fn forget(&mut self) {
        *self = Self::default();
    }

    /// The deadlines that are set.
    pub fn deadlines(&self) -> impl Iterator<Item = Instant> {
        self.restart.into_iter().chain(self.stale)
    }
}
