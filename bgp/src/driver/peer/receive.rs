//! Receiving: import into the RIB (the import policy, End-of-RIB, RFC 7606 repairs), and the
//! RIB and status side of a session going down.

use tracing::{debug, warn};

use super::import::Importer;
use super::PeerTask;
use crate::fsm::peer::{ConnId, Input};
use crate::fsm::Negotiated;
use crate::rib::{PeerInfo, RouteChange};
use crate::wire::{afi, safi, PathAttribute, Recovery, UpdateMsg};

impl PeerTask {
    /// Import an UPDATE: prefixes the import policy refuses count as withdrawn (they replace
    /// whatever the peer sent for them before); End-of-RIB sweeps the family's stale routes.
    /// Then the machine hears how many prefixes the peer holds (its maximum-prefix limit).
    pub(super) fn learn(&mut self, id: ConnId, update: &UpdateMsg) -> Option<Input> {
        let n = self.machine.negotiated(id)?;
        for r in &update.recovered {
            let action = match r.action {
                Recovery::TreatAsWithdraw => "treat-as-withdraw",
                Recovery::AttributeDiscard => "attribute discard",
            };
            // Once per session at warn: a peer repeating the fault on every UPDATE must not
            // flood the log; the rest go to debug.
            self.recovered = self.recovered.saturating_add(1);
            if self.recovered == 1 {
                warn!(peer = %self.cfg.peer, code = r.error.code as u8, subcode = r.error.subcode,
                    reason = r.error.reason, action,
                    "malformed UPDATE handled per RFC 7606 (further ones this session at debug level)");
            } else {
                debug!(peer = %self.cfg.peer, code = r.error.code as u8, subcode = r.error.subcode,
                    reason = r.error.reason, action, count = self.recovered,
                    "malformed UPDATE handled per RFC 7606");
            }
        }
        let peer_id = self.id;
        if let Some((family, _)) = update.end_of_rib().filter(|_| update.recovered.is_empty()) {
            debug!(peer = %self.cfg.peer, family, "End-of-RIB received");
            self.with_rib(|rib| rib.sweep_stale(peer_id, Some(family)));
            self.publish_stale();
            return None;
        }
        let peer = self.rib_peer(&n);
        let mut importer = Importer::new(
            &self.cfg.import,
            self.cfg.import_policy.as_deref(),
            &self.cfg.peer,
            self.shared.local_as,
        );
        let mut ignored = (0, 0);
        let (held, reflected) = match self.shared.rib.lock() {
            Ok(mut rib) => {
                ignored.0 = rib.ignored_count(peer.id);
                if rib.update_with(peer, update, &mut |p, path| importer.import(p, path)) {
                    self.shared.signal.changed();
                }
                ignored.1 = rib.ignored_count(peer.id);
                // Ignored routes count towards the limit too: they are held.
                (
                    rib.received(peer.id).saturating_add(ignored.1),
                    rib.reflected().map(|r| r.head()),
                )
            }
            Err(_) => return None,
        };
        let refused = importer.refused;
        self.shared.reflected_to(reflected);
        if ignored.1 > ignored.0 {
            self.log_ignored(update, ignored.1);
        }
        self.track_refused(update, refused);
        Some(Input::Imported {
            conn: id,
            held,
            family: announced_family(update),
        })
    }

    /// RFC 4271 §6.3: routes ignored for their next hop are logged, once per session at warn
    /// (a peer that sends nothing else must not flood the log), then at debug.
    fn log_ignored(&mut self, update: &UpdateMsg, held: usize) {
        let local: Vec<std::net::IpAddr> = self.conns.values().map(|c| c.local.ip()).collect();
        let peer = self
            .remote
            .unwrap_or(std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED));
        let hops = update.attributes.iter().filter_map(|a| match a {
            PathAttribute::NextHop(n) => Some(std::net::IpAddr::V4(*n)),
            PathAttribute::MpReach(mp) => Some(mp.next_hop.global),
            _ => None,
        });
        let why = hops
            .filter_map(|h| crate::rib::next_hop_problem(h, &local, peer))
            .next()
            .unwrap_or_else(|| "next hop unusable".into());
        self.ignored_logged = self.ignored_logged.saturating_add(1);
        if self.ignored_logged == 1 {
            warn!(peer = %self.cfg.peer, reason = %why, ignored = held,
                "routes ignored (further ones this session at debug level)");
        } else {
            debug!(peer = %self.cfg.peer, reason = %why, ignored = held, "routes ignored");
        }
    }

    /// Apply the current import (prefix list, policy, `allow_as_in`) again to what the peer
    /// sent, kept since its session came up (a peer without ROUTE-REFRESH). False if nothing is
    /// kept for it.
    pub(super) fn reimport_kept(&mut self) -> bool {
        let Some((_, n)) = self.machine.established() else {
            return false;
        };
        let peer = self.rib_peer(&n);
        let mut importer = Importer::new(
            &self.cfg.import,
            self.cfg.import_policy.as_deref(),
            &self.cfg.peer,
            self.shared.local_as,
        );
        let moved = match self.shared.rib.lock() {
            Ok(mut rib) => rib.reimport(peer, &mut |p, path| importer.import(p, path)),
            Err(_) => None,
        };
        if moved == Some(true) {
            self.shared.signal.changed();
        }
        if moved.is_some() {
            // The refused set is what the kept table holds and the import refuses now.
            self.refused.0.clear();
            self.refused.1.clear();
            for p in importer.refused {
                let _ = match p {
                    ipnet::IpNet::V4(p) => self.refused.0.insert(p),
                    ipnet::IpNet::V6(p) => self.refused.1.insert(p),
                };
            }
            self.publish_refused();
        }
        moved.is_some()
    }

    /// The session fell to Idle: the status says so, with the reason, before any route change
    /// goes out, so whoever sees the change sees the session down too. What happens to the
    /// peer's routes is the machine's next outputs.
    pub(super) fn down(&mut self, reason: String) {
        self.advertised.clear();
        self.reflect_reset();
        self.refused.0.clear();
        self.refused.1.clear();
        self.publish_refused();
        self.shared.with_status(&self.cfg.peer, |e| {
            e.since = None;
            e.status.last_error = Some(reason);
            e.status.families.clear();
        });
        self.set_state();
    }

    /// Run `f` on the RIB and wake the consumer if the Loc-RIB moved (it takes the latest state
    /// from the RIB).
    pub(super) fn with_rib(&self, f: impl FnOnce(&mut crate::rib::Rib) -> Vec<RouteChange>) {
        let (changes, reflected) = match self.shared.rib.lock() {
            Ok(mut rib) => {
                let changes = f(&mut rib);
                (changes, rib.reflected().map(|r| r.head()))
            }
            Err(_) => (Vec::new(), None),
        };
        if !changes.is_empty() {
            self.shared.signal.changed();
        }
        self.shared.reflected_to(reflected);
    }

    /// Show in the status whether the peer's routes are being kept as stale.
    pub(super) fn publish_stale(&self) {
        let stale = self
            .shared
            .rib
            .lock()
            .map(|rib| rib.stale_count(self.id) > 0)
            .unwrap_or(false);
        self.shared.with_status(&self.cfg.peer, |e| {
            e.status.graceful_restart_stale = stale;
        });
    }

    fn rib_peer(&self, n: &Negotiated) -> PeerInfo {
        PeerInfo {
            id: self.id,
            address: self
                .remote
                .unwrap_or(std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)),
            interface: self.ifindex,
            router_id: n.remote_router_id,
            asn: n.remote_as,
            local_as: self.shared.local_as,
            allow_as_in: self.cfg.allow_as_in,
        }
    }
}

/// The AFI and SAFI of what `update` announces: IPv4 unicast in the classic NLRI field, else
/// the family of its MP_REACH_NLRI (RFC 4760); a pure withdrawal counts as IPv4 unicast.
fn announced_family(update: &UpdateMsg) -> (u16, u8) {
    if !update.nlri.is_empty() {
        return (afi::IPV4, safi::UNICAST);
    }
    update
        .attributes
        .iter()
        .find_map(|a| match a {
            PathAttribute::MpReach(mp) => Some((mp.afi, mp.safi)),
            _ => None,
        })
        .unwrap_or((afi::IPV4, safi::UNICAST))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_family_of_an_update_is_that_of_what_it_announces() {
        let v6 = UpdateMsg {
            attributes: vec![PathAttribute::MpReach(crate::wire::MpReach {
                afi: afi::IPV6,
                safi: safi::UNICAST,
                next_hop: crate::wire::MpNextHop {
                    global: "fd00::1"
                        .parse()
                        .unwrap_or(std::net::Ipv6Addr::LOCALHOST.into()),
                    link_local: None,
                },
                nlri: vec!["fd00:1::/64".parse().unwrap_or_default()],
            })],
            ..UpdateMsg::default()
        };
        assert_eq!(announced_family(&v6), (2, 1));
        let v4 = UpdateMsg {
            nlri: vec!["10.0.0.0/24".parse().unwrap_or_default()],
            ..UpdateMsg::default()
        };
        assert_eq!(announced_family(&v4), (1, 1));
    }
}
