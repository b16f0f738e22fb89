//! Sending: our prefixes (Adj-RIB-Out), End-of-RIB, and route refresh both ways.

use ipnet::IpNet;
use tracing::{debug, info};

use super::PeerTask;
use crate::driver::adj_out::{adj_rib_out, announced_delta, diff, AdjRibOut, Groups};
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
        // A peer that cannot be asked for its routes again has them kept as received, for a
        // changed import policy (see rib/kept.rs).
        let peer_id = self.id;
        if let Ok(mut rib) = self.shared.rib.lock() {
            rib.keep_received(peer_id, !n.route_refresh);
        }
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
        self.sent_from = self.our_routes();
        let wanted = self.exported();
        let (_, groups) = diff(&AdjRibOut::new(), &wanted);
        if let Err(fail) = self.send_updates(id, &groups, &[]).await {
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

    /// Send the difference between what was advertised and what the peer should have now
    /// (our routes or, `full`, its export changed); the number of UPDATEs sent. When only the
    /// announced prefixes changed, only those are looked at.
    pub(super) async fn readvertise(&mut self, full: bool) -> u64 {
        let Some((id, _)) = self.machine.established() else {
            return 0;
        };
        let ours = self.our_routes();
        let local_as = self.shared.local_as;
        let delta = (!full)
            .then(|| {
                announced_delta(
                    &self.cfg,
                    local_as,
                    &self.sent_from,
                    &ours,
                    &self.advertised,
                )
            })
            .flatten();
        let (withdraw, groups) = match delta {
            Some(delta) => delta,
            None => diff(&self.advertised, &adj_rib_out(&self.cfg, local_as, &ours)),
        };
        self.sent_from = ours;
        let sent = match self.send_updates(id, &groups, &withdraw).await {
            Ok(sent) => sent,
            Err(fail) => {
                self.process(fail).await;
                return 0;
            }
        };
        // A prefix of ours now sent replaces its reflected route; one withdrawn makes way for
        // it again.
        let announced: Vec<IpNet> = groups.iter().flat_map(|(_, p)| p.iter().copied()).collect();
        if let Some(fail) = self
            .reflect_after_local_change(id, &announced, &withdraw)
            .await
        {
            self.process(fail).await;
        }
        sent
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
                let mut family = self.exported();
                family.retain(|p, _| (rr.afi == afi::IPV6) == p.addr().is_ipv6());
                let (_, groups) = diff(&AdjRibOut::new(), &family);
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
                if let Err(fail) = self.send_updates(id, &groups, &[]).await {
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

    /// Send the withdrawals, then each group of prefixes with its attributes, and record them in
    /// the Adj-RIB-Out; the number of UPDATEs sent, or the input a failed write makes.
    async fn send_updates(
        &mut self,
        id: ConnId,
        groups: &Groups,
        withdraw: &[IpNet],
    ) -> Result<u64, Input> {
        let Some(n) = self.machine.negotiated(id) else {
            return Ok(0);
        };
        let Some(local) = self.conns.get(&id).map(|c| c.local.ip()) else {
            return Ok(0);
        };
        let (v4, v6) = next_hops(local, self.cfg.ipv4_next_hop, self.cfg.ipv6_next_hop);
        let attrs = ExportAttrs {
            local_as: self.shared.local_as,
            ebgp: n.remote_as != self.shared.local_as,
            next_hop_v4: v4.filter(|_| n.ipv4),
            enhe_next_hop: v6.filter(|_| n.ipv4 && n.extended_next_hop),
            next_hop_v6: v6.filter(|_| n.ipv6),
        };
        let sendable = |p: &&IpNet| match p {
            IpNet::V4(_) => attrs.next_hop_v4.is_some() || attrs.enhe_next_hop.is_some(),
            IpNet::V6(_) => attrs.next_hop_v6.is_some(),
        };
        let withdraw: Vec<IpNet> = withdraw.iter().filter(sendable).copied().collect();
        let mut sent = 0u64;
        for u in withdrawals(&withdraw) {
            if let Some(fail) = self.send(id, Message::Update(u)).await {
                return Err(fail);
            }
            sent = sent.saturating_add(1);
        }
        for p in &withdraw {
            self.advertised.remove(p);
        }
        for (route, prefixes) in groups {
            let prefixes: Vec<IpNet> = prefixes.iter().filter(sendable).copied().collect();
            for u in announcements(&prefixes, &attrs, route) {
                if let Some(fail) = self.send(id, Message::Update(u)).await {
                    return Err(fail);
                }
                sent = sent.saturating_add(1);
            }
            for p in prefixes {
                self.advertised.insert(p, route.clone());
            }
        }
        self.set_state();
        Ok(sent)
    }

    /// What this peer should be sent now: our routes through its export.
    pub(super) fn exported(&self) -> AdjRibOut {
        adj_rib_out(&self.cfg, self.shared.local_as, &self.our_routes())
    }
}
