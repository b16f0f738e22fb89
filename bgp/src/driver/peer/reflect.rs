//! Sending reflected routes (RFC 4456): a reflector's peer task reads the RIB's reflection log
//! from where it left off and announces or withdraws what changed; a new session gets the
//! whole table before End-of-RIB. Who gets what is `driver/reflect.rs`'s pure decision.

use std::collections::HashSet;

use ipnet::IpNet;

use super::PeerTask;
use crate::driver::export::withdrawals;
use crate::driver::reflect::{reflected_updates, wanted, ReflectTarget};
use crate::fsm::peer::{ConnId, Input};
use crate::rib::ReflectedPath;
use crate::wire::{afi, Message};

/// What one peer was sent of the reflected routes.
#[derive(Debug, Default)]
pub(super) struct ReflectOut {
    /// The last entry of the reflection log read.
    seq: u64,
    /// Prefixes announced to the peer by reflection (its Adj-RIB-Out beside our own prefixes).
    pub(super) sent: HashSet<IpNet>,
}

impl PeerTask {
    /// Take part in reflection if the speaker reflects and this peer has a role.
    pub(super) fn with_reflection(mut self) -> Self {
        if self.channels.reflected.is_some() {
            self.reflect_out = Some(ReflectOut::default());
        }
        self
    }

    /// The session went down: nothing is advertised any more.
    pub(super) fn reflect_reset(&mut self) {
        if let Some(out) = &mut self.reflect_out {
            out.sent.clear();
        }
    }

    /// Every reflected route of `family` (`None`: both), for a new session (`from_scratch`:
    /// the log is read from its head on) or a route refresh.
    pub(super) async fn reflect_all(
        &mut self,
        id: ConnId,
        family: Option<u16>,
        from_scratch: bool,
    ) -> Option<Input> {
        self.reflect_out.as_ref()?;
        let (head, all) = {
            let rib = self.shared.rib.lock().ok()?;
            let reflected = rib.reflected()?;
            (reflected.head(), reflected.all())
        };
        if from_scratch {
            if let Some(out) = &mut self.reflect_out {
                out.seq = head;
            }
        }
        let of_family = |p: &IpNet| match family {
            None => true,
            Some(f) => (f == afi::IPV6) == p.addr().is_ipv6(),
        };
        let items = all
            .into_iter()
            .filter(|(p, _)| of_family(p))
            .map(|(p, r)| (p, Some(r)))
            .collect();
        self.send_reflected(id, items).await
    }

    /// What changed in the reflection log since this peer last read it.
    pub(super) async fn reflect_changes(&mut self) {
        let Some((id, _)) = self.machine.established() else {
            return;
        };
        let Some(seq) = self.reflect_out.as_ref().map(|o| o.seq) else {
            return;
        };
        let (head, changes) = {
            let Ok(rib) = self.shared.rib.lock() else {
                return;
            };
            let Some(reflected) = rib.reflected() else {
                return;
            };
            (reflected.head(), reflected.since(seq))
        };
        if let Some(out) = &mut self.reflect_out {
            out.seq = head;
        }
        if let Some(fail) = self.send_reflected(id, changes).await {
            self.process(fail).await;
        }
    }

    /// Our own prefixes changed: an announced one replaces its reflected route, a withdrawn
    /// one makes way for it again.
    pub(super) async fn reflect_after_local_change(
        &mut self,
        id: ConnId,
        announced: &[IpNet],
        withdrawn: &[IpNet],
    ) -> Option<Input> {
        let out = self.reflect_out.as_mut()?;
        for p in announced {
            out.sent.remove(p);
        }
        let items: Vec<(IpNet, Option<ReflectedPath>)> = {
            let rib = self.shared.rib.lock().ok()?;
            let reflected = rib.reflected()?;
            withdrawn.iter().map(|p| (*p, reflected.get(p))).collect()
        };
        self.send_reflected(id, items).await
    }

    /// Announce or withdraw each prefix as reflection decides for this peer; our own prefixes
    /// are left to our own announcements.
    async fn send_reflected(
        &mut self,
        id: ConnId,
        items: Vec<(IpNet, Option<ReflectedPath>)>,
    ) -> Option<Input> {
        let to = self.reflect_target(id)?;
        let local: HashSet<IpNet> = self.exported().into_keys().collect();
        let out = self.reflect_out.as_mut()?;
        let (mut announce, mut withdraw) = (Vec::new(), Vec::new());
        for (prefix, route) in items {
            if local.contains(&prefix) {
                continue;
            }
            match route.filter(|r| wanted(&to, &prefix, r)) {
                Some(r) => {
                    out.sent.insert(prefix);
                    announce.push((prefix, r.path));
                }
                None => {
                    if out.sent.remove(&prefix) {
                        withdraw.push(prefix);
                    }
                }
            }
        }
        if announce.is_empty() && withdraw.is_empty() {
            return None;
        }
        let updates = withdrawals(&withdraw)
            .into_iter()
            .chain(reflected_updates(&to, &announce));
        for u in updates {
            if let Some(fail) = self.send(id, Message::Update(u)).await {
                return Some(fail);
            }
        }
        self.set_state();
        None
    }

    /// The peer as reflection sees it, while a session is up.
    fn reflect_target(&self, id: ConnId) -> Option<ReflectTarget> {
        let n = self.machine.negotiated(id)?;
        Some(ReflectTarget {
            id: self.id,
            router_id: n.remote_router_id,
            role: self.cfg.reflect?,
            cluster_id: self.shared.cluster_id?,
            ipv4: n.ipv4,
            ipv6: n.ipv6,
            extended_next_hop: n.extended_next_hop,
        })
    }

    /// Prefixes sent by reflection (for the status).
    pub(super) fn reflected_sent(&self) -> impl Iterator<Item = &IpNet> {
        self.reflect_out.iter().flat_map(|o| o.sent.iter())
    }
}
