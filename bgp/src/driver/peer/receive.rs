//! Receiving: import into the RIB, the maximum-prefix limit, session loss, and the
//! graceful-restart helper (RFC 4724 §4.2) with its timers.

use std::time::Duration;

use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::{PeerTask, Which, MAX_PREFIX_BACKOFF};
use crate::driver::status::PeerState;
use crate::fsm::{Input, Negotiated};
use crate::rib::{PeerInfo, RouteChange};
use crate::wire::{afi, ErrorCode, NotificationMsg, Recovery, UpdateMsg};

/// How long stale routes may wait for End-of-RIB once the peer is back (FRR's stale-path time).
const STALE_PATH_TIME: Duration = Duration::from_secs(360);

impl PeerTask {
    /// Import an UPDATE: prefixes the import policy refuses count as withdrawn (they replace
    /// whatever the peer sent for them before); then End-of-RIB and the max-prefix limit
    /// (RFC 4486 Cease/1).
    pub(super) fn learn(&mut self, which: Which, update: &UpdateMsg) -> Option<Input> {
        let n = self.slot(which).and_then(|s| s.session.negotiated())?;
        for r in &update.recovered {
            let action = match r.action {
                Recovery::TreatAsWithdraw => "treat-as-withdraw",
                Recovery::AttributeDiscard => "attribute discard",
            };
            // Once per session at warn: a peer repeating the fault on every UPDATE must not
            // flood the log; the rest go to debug.
            self.recovered = self.recovered.saturating_add(1);
            if self.recovered == 1 {
                warn!(peer = %self.cfg.address, code = r.error.code as u8, subcode = r.error.subcode,
                    reason = r.error.reason, action,
                    "malformed UPDATE handled per RFC 7606 (further ones this session at debug level)");
            } else {
                debug!(peer = %self.cfg.address, code = r.error.code as u8, subcode = r.error.subcode,
                    reason = r.error.reason, action, count = self.recovered,
                    "malformed UPDATE handled per RFC 7606");
            }
        }
        if let Some((family, _)) = update.end_of_rib().filter(|_| update.recovered.is_empty()) {
            debug!(peer = %self.cfg.address, family, "End-of-RIB received");
            self.with_rib(|rib| rib.sweep_stale(rib_peer(&n, self).address, Some(family)));
            self.publish_stale();
            return None;
        }
        let peer = rib_peer(&n, self);
        let import = &self.cfg.import;
        let refused_now = std::cell::RefCell::new(Vec::new());
        let held = match self.shared.rib.lock() {
            Ok(mut rib) => {
                let accept = |p: &ipnet::IpNet| {
                    let ok = import.accepts(p);
                    if !ok {
                        refused_now.borrow_mut().push(*p);
                    }
                    ok
                };
                if rib.update_quietly(peer, update, accept) {
                    self.shared.signal.changed();
                }
                rib.received(peer.address)
            }
            Err(_) => return None,
        };
        self.track_refused(update, refused_now.into_inner());
        let max = self.cfg.max_prefixes?;
        if held > max as usize {
            warn!(peer = %self.cfg.address, held, max, "maximum prefixes exceeded: closing the session");
            self.backoff = Some(MAX_PREFIX_BACKOFF);
            // RFC 4486 §4: data = AFI (2), SAFI (1), the limit (4).
            let mut data = vec![0, 1, 1];
            data.extend_from_slice(&max.to_be_bytes());
            return Some(Input::Stop(NotificationMsg {
                code: ErrorCode::Cease as u8,
                subcode: 1,
                data,
            }));
        }
        None
    }

    /// The primary session fell to Idle: forget the peer's routes, or keep them as stale when
    /// it announced graceful restart and no NOTIFICATION was exchanged (RFC 4724 §4.2).
    pub(super) fn down(&mut self, which: Which, was: Option<PeerState>, reason: String) {
        if which == Which::Candidate {
            return;
        }
        let address = self.cfg.address;
        // The status says Idle before any route change goes out, so whoever sees the change
        // sees the session down too.
        self.advertised.clear();
        self.refused.0.clear();
        self.refused.1.clear();
        self.publish_refused();
        if let Ok(mut status) = self.shared.status.lock() {
            if let Some(e) = status.get_mut(&address) {
                e.since = None;
                e.status.last_error = Some(reason.clone());
                e.status.families.clear();
            }
        }
        self.set_state();
        if was == Some(PeerState::Established) {
            let negotiated = self.established.take();
            // RFC 4724 §4.2: only the families listed in its capability are kept. A helper-only
            // speaker (FRR's default) lists none: its routes go at once, like without GR.
            let graceful = negotiated
                .and_then(|n| n.peer_gr)
                .filter(|gr| gr.restart_time > 0 && (gr.ipv4.is_some() || gr.ipv6.is_some()));
            match graceful {
                Some(gr) if !self.primary.session.ended_with_notification() => {
                    warn!(peer = %address, %reason, restart_time = gr.restart_time,
                        "session down: keeping its routes as stale while it restarts");
                    self.with_rib(|rib| {
                        rib.mark_stale(address, None);
                        let unlisted = [(afi::IPV4, gr.ipv4), (afi::IPV6, gr.ipv6)];
                        unlisted
                            .into_iter()
                            .filter(|(_, listed)| listed.is_none())
                            .flat_map(|(family, _)| rib.sweep_stale(address, Some(family)))
                            .collect()
                    });
                    let wait = Duration::from_secs(u64::from(gr.restart_time));
                    self.gr_restart_deadline = Some(Instant::now() + wait);
                    self.gr_stale_deadline = None;
                }
                _ => {
                    warn!(peer = %address, %reason, "session down");
                    self.drop_routes();
                }
            }
            self.publish_stale();
        } else {
            debug!(peer = %address, %reason, "session attempt failed");
            self.failures = self.failures.saturating_add(1);
        }
        if !*self.stop.borrow() {
            let delay = match self.backoff.take() {
                Some(d) => {
                    self.hold_down_until = Some(Instant::now() + d);
                    // A second connection in progress must not outlive the hold-down either.
                    self.candidate = None;
                    d
                }
                None => self.retry_delay(self.cfg.connect_retry),
            };
            self.restart_at = Some(Instant::now() + delay);
        }
    }

    /// The peer is back: families it no longer preserves lose their stale routes at once; the
    /// rest wait for its End-of-RIB, at most [`STALE_PATH_TIME`] (RFC 4724 §4.2).
    pub(super) fn gr_reestablished(&mut self, n: Negotiated) {
        if self.gr_restart_deadline.take().is_none() {
            return;
        }
        let address = self.cfg.address;
        let kept = |f: Option<Option<bool>>| f.flatten() == Some(true);
        let gr = n.peer_gr;
        for (family, preserved, negotiated) in [
            (afi::IPV4, kept(gr.map(|g| g.ipv4)), n.ipv4),
            (afi::IPV6, kept(gr.map(|g| g.ipv6)), n.ipv6),
        ] {
            if !(preserved && negotiated) {
                self.with_rib(|rib| rib.sweep_stale(address, Some(family)));
            }
        }
        info!(peer = %address, "peer restarted gracefully: waiting for its End-of-RIB");
        self.gr_stale_deadline = Some(Instant::now() + STALE_PATH_TIME);
        self.publish_stale();
    }

    /// The restart and stale-path timers.
    pub(super) fn gr_timers(&mut self, now: Instant) {
        let address = self.cfg.address;
        if self.gr_restart_deadline.is_some_and(|t| t <= now) {
            self.gr_restart_deadline = None;
            warn!(peer = %address, "peer did not come back within its restart time: routes dropped");
            self.drop_routes();
            self.publish_stale();
        }
        if self.gr_stale_deadline.is_some_and(|t| t <= now) {
            self.gr_stale_deadline = None;
            self.with_rib(|rib| rib.sweep_stale(address, None));
            self.publish_stale();
        }
    }

    fn drop_routes(&mut self) {
        let address = self.cfg.address;
        self.with_rib(|rib| rib.peer_down(address));
    }

    /// Run `f` on the RIB and pass its changes on to the agent.
    pub(super) fn with_rib(&self, f: impl FnOnce(&mut crate::rib::Rib) -> Vec<RouteChange>) {
        let changes = match self.shared.rib.lock() {
            Ok(mut rib) => f(&mut rib),
            Err(_) => Vec::new(),
        };
        self.send_changes(changes);
    }

    /// Wake the consumer when the Loc-RIB moved (it takes the latest state from the RIB).
    fn send_changes(&self, changes: Vec<RouteChange>) {
        if !changes.is_empty() {
            self.shared.signal.changed();
        }
    }

    /// Show in the status whether the peer's routes are being kept as stale.
    pub(super) fn publish_stale(&self) {
        let stale = self
            .shared
            .rib
            .lock()
            .map(|rib| rib.stale_count(self.cfg.address) > 0)
            .unwrap_or(false);
        if let Ok(mut status) = self.shared.status.lock() {
            if let Some(e) = status.get_mut(&self.cfg.address) {
                e.status.graceful_restart_stale = stale;
            }
        }
    }
}

fn rib_peer(n: &Negotiated, task: &PeerTask) -> PeerInfo {
    PeerInfo {
        address: task.cfg.address,
        router_id: n.remote_router_id,
        asn: n.remote_as,
        local_as: task.shared.local_as,
        allow_as_in: task.cfg.allow_as_in,
    }
}
