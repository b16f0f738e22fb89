//! What a peer task reports in the speaker's status table: state, advertised counts, the
//! negotiated session, message counters and refused prefixes (for `lattice` and metrics).

use super::PeerTask;
use crate::driver::status::{PeerState, SessionInfo};
use crate::fsm::peer::ConnId;
use crate::fsm::Negotiated;
use crate::wire::{Message, UpdateMsg};

impl PeerTask {
    /// Publish the primary session's state and counters.
    pub(super) fn set_state(&self) {
        let state = self.machine.state();
        if let Ok(mut status) = self.shared.status.lock() {
            if let Some(e) = status.get_mut(&self.cfg.peer) {
                e.status.state = state;
                e.status.held_down_by_bfd = self.machine.held_down_by_bfd();
                let established = state == PeerState::Established;
                let advertised = || self.advertised.keys().chain(self.reflected_sent());
                e.status.prefixes_advertised = if established {
                    advertised().count() as u64
                } else {
                    0
                };
                e.status.prefixes_advertised_by_family.clear();
                if established {
                    for p in advertised() {
                        let family = if p.addr().is_ipv4() { "ipv4" } else { "ipv6" };
                        let n = e
                            .status
                            .prefixes_advertised_by_family
                            .entry(family.to_string())
                            .or_default();
                        *n = n.saturating_add(1);
                    }
                } else {
                    e.status.session = None;
                }
                if state == PeerState::Established {
                    e.status.last_error = None;
                }
            }
        }
    }

    /// What an Established session agreed, for the status (`lattice peers`).
    pub(super) fn session_info(&self, id: ConnId, n: &Negotiated) -> SessionInfo {
        let conn = self.conns.get(&id);
        let third = n.hold_time / 3;
        let keepalive = self.cfg.keepalive.map_or(third, |k| k.min(third));
        let caps = [
            (n.ipv4, "ipv4-unicast"),
            (n.ipv6, "ipv6-unicast"),
            (n.four_octet_as, "4-octet-as"),
            (n.route_refresh, "route-refresh"),
            (n.enhanced_route_refresh, "enhanced-route-refresh"),
            (n.extended_message, "extended-message"),
            (n.extended_next_hop, "extended-next-hop"),
            (n.peer_gr.is_some(), "graceful-restart"),
        ];
        SessionInfo {
            local: conn.map(|c| c.local),
            outbound: conn.is_some_and(|c| c.outbound),
            hold_time: n.hold_time,
            keepalive,
            capabilities: caps
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, name)| name.to_string())
                .collect(),
            peer_restart_time: n.peer_gr.map(|g| g.restart_time),
        }
    }

    /// Count a message in the peer's status.
    pub(super) fn count(&self, outbound: bool, message: &Message) {
        self.shared
            .with_status(&self.cfg.peer, |e| e.status.count(outbound, message));
    }

    /// Keep the sets of announced-but-refused prefixes current: withdrawals leave them, new
    /// refusals join them. Costs nothing while the import policy accepts everything.
    pub(super) fn track_refused(&mut self, update: &UpdateMsg, refused_now: Vec<ipnet::IpNet>) {
        let (v4, v6) = &mut self.refused;
        if v4.is_empty() && v6.is_empty() && refused_now.is_empty() {
            return;
        }
        let withdrawn_mp = update.attributes.iter().flat_map(|a| match a {
            crate::wire::PathAttribute::MpUnreach(mp) => mp.withdrawn.as_slice(),
            _ => &[],
        });
        let withdrawn = update.withdrawn.iter().map(|p| ipnet::IpNet::V4(*p));
        for p in withdrawn.chain(withdrawn_mp.copied()) {
            let _ = match p {
                ipnet::IpNet::V4(p) => v4.remove(&p),
                ipnet::IpNet::V6(p) => v6.remove(&p),
            };
        }
        for p in refused_now {
            let _ = match p {
                ipnet::IpNet::V4(p) => v4.insert(p),
                ipnet::IpNet::V6(p) => v6.insert(p),
            };
        }
        self.publish_refused();
    }

    /// Show the refused counts in the status, by family.
    pub(super) fn publish_refused(&self) {
        let counts = (self.refused.0.len() as u64, self.refused.1.len() as u64);
        self.shared
            .with_status(&self.cfg.peer, |e| e.refused = counts);
    }
}
