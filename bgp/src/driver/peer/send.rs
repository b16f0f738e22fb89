//! Sending: our prefixes (Adj-RIB-Out), End-of-RIB, and route refresh both ways.

use ipnet::IpNet;
use tracing::{debug, info};

use super::PeerTask;
use crate::driver::export::{announcements, next_hops, withdrawals, ExportAttrs};
use crate::fsm::peer::{ConnId, Input};
use crate::fsm::Negotiated;
use crate::wire::{afi, safi, Message, RouteRefreshMsg, UpdateMsg};

/// RFC 7313 §3.2 message subtypes.
const RR_REQUEST: u8 = 0;
const RR_BEGIN: u8 = 1;
const RR_END: u8 = 2;

impl PeerTask {
    /// A session reached Established: show it in the status, then send it our routes.
    pub(super) async fn on_established(&mut self, id: ConnId, n: Negotiated) -> Option<Input> {
        info!(peer = %self.cfg.peer, remote_as = n.remote_as, hold = n.hold_time,
            ipv4 = n.ipv4, ipv6 = n.ipv6, "session established");
        let session = self.session_info(id, &n);
        if self.link.is_none() {
            // The interface of our end gives the peer's link-local next hops their zone.
            let local = self.conns.get(&id).map(|c| c.local);
            self.ifindex = match local {
                Some(std::net::SocketAddr::V6(a)) if a.ip().is_unicast_link_local() => {
                    Some(a.scope_id())
                }
                Some(a) => crate::driver::link::holding(a.ip()),
                None => None,
            };
        }
        self.shared.with_status(&self.cfg.peer, |e| {
            e.since = Some(std::time::Instant::now());
            e.status.established_transitions = e.status.established_transitions.saturating_add(1);
            e.status.remote_router_id = Some(n.remote_router_id);
            e.status.remote_as = n.remote_as;
            e.status.families = [(n.ipv4, "ipv4"), (n.ipv6, "ipv6")]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, f)| f.to_string())
                .collect();
            e.status.session = Some(session);
        });
        self.recovered = 0;
        self.ignored_logged = 0;
        self.advertised.clear();
        self.reflect_reset();
        // Our end of the session: a next hop the peer sends equal to it is ours (RFC 4271 §6.3).
        let (peer, local) = (self.id, self.conns.get(&id).map(|c| c.local.ip()));
        self.with_rib(|rib| {
            rib.set_local_address(peer, local);
            Vec::new()
        });
        self.advertise_all(id, n).await
    }

    /// Send every exported prefix, then End-of-RIB for each family (RFC 4724 §2).
    pub(super) async fn advertise_all(&mut self, id: ConnId, n: Negotiated) -> Option<Input> {
        let prefixes = self.exported();
        if let Some(fail) = self.send_updates(id, &prefixes, &[]).await {
            return Some(fail);
        }
        if let Some(fail) = self.reflect_all(id, None, true).await {
            return Some(fail);
        }
        for (on, family) in [(n.ipv4, afi::IPV4), (n.ipv6, afi::IPV6)] {
            if on {
                let eor = UpdateMsg::end_of_rib_for(family, safi::UNICAST);
                if let Some(fail) = self.send(id, Message::Update(eor)).await {
                    return Some(fail);
                }
            }
        }
        None
    }

    /// Send the difference between what was advertised and the current local prefixes.
    pub(super) async fn readvertise(&mut self) {
        let Some((id, _)) = self.machine.established() else {
            return;
        };
        let now: Vec<IpNet> = self.exported();
        let announce: Vec<IpNet> = now
            .iter()
            .filter(|p| !self.advertised.contains(p))
            .copied()
            .collect();
        let withdraw: Vec<IpNet> = self
            .advertised
            .iter()
            .filter(|p| !now.contains(p))
            .copied()
            .collect();
        if let Some(fail) = self.send_updates(id, &announce, &withdraw).await {
            return self.process(fail).await;
        }
        if let Some(fail) = self
            .reflect_after_local_change(id, &announce, &withdraw)
            .await
        {
            self.process(fail).await;
        }
    }

    /// The peer asked for our routes again (RFC 2918 §4), or marks its own re-advertisement
    /// (RFC 7313 §4: BoRR makes its routes stale, EoRR sweeps those not refreshed).
    pub(super) async fn on_route_refresh(
        &mut self,
        id: ConnId,
        rr: RouteRefreshMsg,
    ) -> Option<Input> {
        let n = self.machine.negotiated(id)?;
        let family_on = rr.safi == safi::UNICAST
            && ((rr.afi == afi::IPV4 && n.ipv4) || (rr.afi == afi::IPV6 && n.ipv6));
        if !family_on {
            debug!(peer = %self.cfg.peer, afi = rr.afi, safi = rr.safi, "ROUTE-REFRESH for a family not negotiated: ignored");
            return None;
        }
        let peer = self.id;
        match rr.subtype {
            RR_REQUEST => {
                info!(peer = %self.cfg.peer, afi = rr.afi, "route refresh requested: sending our routes again");
                let prefixes: Vec<IpNet> = self
                    .exported()
                    .into_iter()
                    .filter(|p| (rr.afi == afi::IPV6) == p.addr().is_ipv6())
                    .collect();
                let marker = |subtype| {
                    Message::RouteRefresh(RouteRefreshMsg {
                        afi: rr.afi,
                        subtype,
                        safi: rr.safi,
                    })
                };
                if n.enhanced_route_refresh {
                    if let Some(fail) = self.send(id, marker(RR_BEGIN)).await {
                        return Some(fail);
                    }
                }
                if let Some(fail) = self.send_updates(id, &prefixes, &[]).await {
                    return Some(fail);
                }
                if let Some(fail) = self.reflect_all(id, Some(rr.afi), false).await {
                    return Some(fail);
                }
                if n.enhanced_route_refresh {
                    return self.send(id, marker(RR_END)).await;
                }
                None
            }
            RR_BEGIN if n.enhanced_route_refresh => {
                self.with_rib(|rib| {
                    rib.mark_stale(peer, Some(rr.afi));
                    Vec::new()
                });
                None
            }
            RR_END if n.enhanced_route_refresh => {
                self.with_rib(|rib| rib.sweep_stale(peer, Some(rr.afi)));
                None
            }
            // RFC 7313 §5: other subtypes are ignored.
            _ => None,
        }
    }

    /// Ask the peer to send its routes again, for every family of the session (RFC 2918 §3).
    pub(super) async fn request_refresh(&mut self) {
        let Some((id, n)) = self.machine.established() else {
            return;
        };
        if !n.route_refresh {
            return;
        }
        for (on, family) in [(n.ipv4, afi::IPV4), (n.ipv6, afi::IPV6)] {
            if !on {
                continue;
            }
            let rr = Message::RouteRefresh(RouteRefreshMsg {
                afi: family,
                subtype: RR_REQUEST,
                safi: safi::UNICAST,
            });
            if let Some(fail) = self.send(id, rr).await {
                self.process(fail).await;
                return;
            }
        }
    }

    async fn send_updates(
        &mut self,
        id: ConnId,
        announce: &[IpNet],
        withdraw: &[IpNet],
    ) -> Option<Input> {
        let n = self.machine.negotiated(id)?;
        let local = self.conns.get(&id)?.local.ip();
        let (v4, v6) = next_hops(local, self.cfg.ipv4_next_hop, self.cfg.ipv6_next_hop);
        let attrs = ExportAttrs {
            local_as: self.shared.local_as,
            ebgp: n.remote_as != self.shared.local_as,
            next_hop_v4: v4.filter(|_| n.ipv4),
            enhe_next_hop: v6.filter(|_| n.ipv4 && n.extended_next_hop),
            next_hop_v6: v6.filter(|_| n.ipv6),
            communities: self.cfg.communities.clone(),
            large_communities: self.cfg.large_communities.clone(),
        };
        let sendable = |p: &&IpNet| match p {
            IpNet::V4(_) => attrs.next_hop_v4.is_some() || attrs.enhe_next_hop.is_some(),
            IpNet::V6(_) => attrs.next_hop_v6.is_some(),
        };
        let announce: Vec<IpNet> = announce.iter().filter(sendable).copied().collect();
        let withdraw: Vec<IpNet> = withdraw.iter().filter(sendable).copied().collect();
        let updates = withdrawals(&withdraw)
            .into_iter()
            .chain(announcements(&announce, &attrs));
        for u in updates {
            if let Some(fail) = self.send(id, Message::Update(u)).await {
                return Some(fail);
            }
        }
        self.advertised.retain(|p| !withdraw.contains(p));
        for p in announce {
            if !self.advertised.contains(&p) {
                self.advertised.push(p);
            }
        }
        self.set_state();
        None
    }

    /// What this peer is sent: the speaker's local prefixes and the peer's extra exports.
    pub(super) fn exported(&self) -> Vec<IpNet> {
        let mut all: Vec<IpNet> = self.channels.prefixes.borrow().clone();
        all.extend(self.cfg.export.iter().copied());
        all.sort();
        all.dedup();
        all
    }
}
