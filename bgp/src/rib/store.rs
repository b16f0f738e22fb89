//! The RIB the driver holds: one table per family, per-peer counts and session epochs.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use ipnet::IpNet;

use super::ignored::{next_hop_problem, Ignored, IgnoredRoute};
use super::path::path_with_next_hop;
use super::reflect::{ReflectRole, Reflected};
use super::table::{Outcome, Table, V4Key, V6Key};
use super::{Multipath, NextHop, Path, PeerId};
use crate::policy::loop_free;
use crate::wire::{afi, MpNextHop, PathAttribute, UpdateMsg};

/// Who sent an UPDATE, for building [`Path`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerInfo {
    /// Which peer (the speaker's number for it).
    pub id: PeerId,
    /// Its address on the session the UPDATE came over.
    pub address: IpAddr,
    /// The interface that session runs over, when known (for link-local next hops).
    pub interface: Option<u32>,
    /// Peer BGP identifier.
    pub router_id: Ipv4Addr,
    /// Peer ASN.
    pub asn: u32,
    /// Our ASN (eBGP when different; loop detection).
    pub local_as: u32,
    /// How many times our ASN may appear in a path (`allow_as_in`; 0 = classic loop detection).
    pub allow_as_in: u8,
}

/// A change to the Loc-RIB: the next hops now used for `prefix` (empty: no route any more).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteChange {
    /// The prefix.
    pub prefix: IpNet,
    /// Next hops of the multipath set, sorted; empty when the prefix is gone.
    pub next_hops: Vec<NextHop>,
}

/// Every peer's Adj-RIB-In and the resulting Loc-RIB next hops, for both families.
#[derive(Debug, Default, Clone)]
pub struct Rib {
    pub(crate) v4: Table<V4Key>,
    pub(crate) v6: Table<V6Key>,
    /// Count of prefixes per peer and family (AFI).
    per_peer: HashMap<(PeerId, u16), usize>,
    /// Each peer's generation per family (AFI); paths from older ones are stale.
    epochs: HashMap<(PeerId, u16), u32>,
    /// Prefixes whose next hops changed since [`Rib::take_changes`] last reported them, each
    /// once (the table entry's dirty flag): a consumer that lags sees each prefix once, in its
    /// latest state.
    pending: std::collections::VecDeque<IpNet>,
    /// Prefixes one operation queued, put in prefix order before they join `pending`, so that
    /// changes come out in the same order whatever order the peer listed its NLRI in.
    queued: Vec<IpNet>,
    /// The Adj-RIB-In as received, before loop detection and import policy, of the peers that
    /// asked for it ([`Rib::keep_received`]): what a changed import policy is applied to again
    /// for a peer that cannot send its routes again (no ROUTE-REFRESH).
    pub(super) kept: HashMap<PeerId, HashMap<IpNet, Arc<Path>>>,
    /// Our BGP identifier, for the ORIGINATOR_ID loop check (RFC 4456 §8).
    pub(super) router_id: Option<Ipv4Addr>,
    /// Our CLUSTER_ID when we reflect (RFC 4456 §7).
    pub(super) cluster_id: Option<Ipv4Addr>,
    /// Each peer's role in reflection (peers without one are never reflected).
    pub(super) roles: HashMap<PeerId, ReflectRole>,
    /// The reflectable best paths, when we reflect.
    pub(super) reflected: Option<Reflected>,
    /// Routes left out for an unusable next hop (RFC 4271 §6.3).
    pub(crate) ignored: Ignored,
    /// Our address on each peer's session (a next hop equal to one of them is ours).
    pub(crate) locals: HashMap<PeerId, IpAddr>,
}

/// What an UPDATE gives a family: a path, nothing usable (a loop, a missing attribute: the
/// peer's previous path goes), or a path ignored for its next hop (it goes too, remembered).
enum Offer {
    Use(Arc<Path>),
    Unusable,
    Ignore(IgnoredRoute),
}

/// What import makes of one received path for one prefix: the path to store (the same one,
/// or one a policy changed), or `None` to treat it as withdrawn.
pub type Import<'a> = dyn FnMut(&IpNet, &Arc<Path>) -> Option<Arc<Path>> + 'a;

impl Rib {
    /// An empty RIB whose ECMP sets follow `multipath` ([`Rib::default`]: FRR's defaults).
    pub fn new(multipath: Multipath) -> Self {
        Rib {
            v4: Table::new(multipath),
            v6: Table::new(multipath),
            ..Rib::default()
        }
    }

    /// Which paths form a prefix's ECMP set.
    pub fn multipath(&self) -> Multipath {
        self.v4.multipath()
    }

    /// Apply one UPDATE from `peer`, accepting every prefix.
    pub fn update(&mut self, peer: PeerInfo, update: &UpdateMsg) -> Vec<RouteChange> {
        self.update_filtered(peer, update, |_| true)
    }

    /// Apply one UPDATE from `peer`: announced prefixes `accept` refuses count as withdrawn (they
    /// replace whatever the peer sent for them before). Returns the Loc-RIB changes.
    pub fn update_filtered(
        &mut self,
        peer: PeerInfo,
        update: &UpdateMsg,
        accept: impl Fn(&IpNet) -> bool,
    ) -> Vec<RouteChange> {
        let mut moved = Vec::new();
        let mut import = |p: &IpNet, path: &Arc<Path>| accept(p).then(|| path.clone());
        self.apply_update(peer, update, &mut import, &mut |p| moved.push(p));
        self.changes_of(moved)
    }

    /// [`Rib::update_filtered`] for a caller that takes changes with [`Rib::take_changes`]:
    /// nothing is collected; true if some prefix's next hops moved.
    pub fn update_quietly(
        &mut self,
        peer: PeerInfo,
        update: &UpdateMsg,
        accept: impl Fn(&IpNet) -> bool,
    ) -> bool {
        let mut any = false;
        let mut import = |p: &IpNet, path: &Arc<Path>| accept(p).then(|| path.clone());
        self.apply_update(peer, update, &mut import, &mut |_| any = true);
        any
    }

    /// [`Rib::update_quietly`] with an import step that may also change paths (a route
    /// policy): `import` sees each usable path (loop detection passed) once per prefix.
    pub fn update_with(&mut self, peer: PeerInfo, update: &UpdateMsg, import: &mut Import) -> bool {
        let mut any = false;
        self.apply_update(peer, update, import, &mut |_| any = true);
        any
    }

    /// Store what the UPDATE says, telling `moved` of each prefix whose next hops changed.
    fn apply_update(
        &mut self,
        peer: PeerInfo,
        update: &UpdateMsg,
        import: &mut Import,
        moved: &mut dyn FnMut(IpNet),
    ) {
        let from = peer.id;
        let withdrawn_mp = update.attributes.iter().flat_map(|a| match a {
            PathAttribute::MpUnreach(mp) => mp.withdrawn.as_slice(),
            _ => &[],
        });
        let withdrawn = update.withdrawn.iter().map(|p| IpNet::V4(*p));
        for prefix in withdrawn.chain(withdrawn_mp.copied()) {
            self.forget_kept(from, &prefix);
            self.remove_path(from, prefix, |p| p.peer_id == from, moved);
            self.ignored.remove(prefix, from);
        }
        if !update.nlri.is_empty() {
            let nh = update.attributes.iter().find_map(|a| match a {
                PathAttribute::NextHop(n) => Some(MpNextHop {
                    global: IpAddr::V4(*n),
                    link_local: None,
                }),
                _ => None,
            });
            let path = self.path(peer, update, nh, afi::IPV4);
            let prefixes = update.nlri.iter().map(|p| IpNet::V4(*p));
            self.announce(peer, path, prefixes, import, moved);
        }
        for attr in &update.attributes {
            if let PathAttribute::MpReach(mp) = attr {
                let family = match mp.nlri.first() {
                    Some(IpNet::V6(_)) => afi::IPV6,
                    _ => afi::IPV4,
                };
                let path = self.path(peer, update, Some(mp.next_hop), family);
                self.announce(peer, path, mp.nlri.iter().copied(), import, moved);
            }
        }
        self.flush_queued();
    }

    /// The path the UPDATE gives `family`, if it has one with every mandatory attribute, as
    /// received (loop detection, the next hop's check and import come in [`Rib::announce`]).
    fn path(
        &self,
        peer: PeerInfo,
        update: &UpdateMsg,
        nh: Option<MpNextHop>,
        family: u16,
    ) -> Option<Arc<Path>> {
        let epoch = self.epoch(peer.id, family);
        nh.and_then(|nh| path_with_next_hop(peer, &update.attributes, nh, epoch))
            .map(|mut path| {
                // What a reflector passes on (only kept when this speaker reflects).
                path.carried = self.carried(&update.attributes);
                Arc::new(path)
            })
    }

    /// What `path` offers: RFC 4271 §9.1.2: a path with our own AS in it is unusable (unless
    /// the peer is allowed `allow_as_in` occurrences); it still replaces what the peer sent
    /// before. RFC 4271 §6.3: one whose next hop cannot be used is ignored (and remembered as
    /// such).
    fn offer(&self, peer: PeerInfo, path: &Arc<Path>) -> Offer {
        if !loop_free(path.count_as(peer.local_as), peer.allow_as_in)
            || !self.reflection_loop_free(path)
        {
            return Offer::Unusable;
        }
        let forwarding = path.forwarding_next_hop();
        let hop = forwarding.address;
        // A link-local address is ours only on the link it is on: compare it with our address
        // on this session alone.
        let own: Vec<IpAddr> = if is_link_local(hop) {
            self.locals.get(&peer.id).copied().into_iter().collect()
        } else {
            self.locals.values().copied().collect()
        };
        match next_hop_problem(hop, &own, path.peer) {
            Some(reason) => Offer::Ignore(IgnoredRoute {
                peer: path.peer,
                next_hop: forwarding,
                reason: reason.into(),
                epoch: path.epoch,
            }),
            None => Offer::Use(path.clone()),
        }
    }

    /// Give every prefix `path` as `import` makes it (or, without a path, when it is unusable
    /// or when `import` refuses it, withdraw the peer's path for it; an accepted prefix whose
    /// path is ignored for its next hop is remembered as ignored). A peer whose Adj-RIB-In is
    /// kept has `path` recorded as received.
    pub(super) fn announce(
        &mut self,
        peer: PeerInfo,
        path: Option<Arc<Path>>,
        prefixes: impl Iterator<Item = IpNet>,
        import: &mut Import,
        moved: &mut dyn FnMut(IpNet),
    ) {
        let from = peer.id;
        let offer = path
            .as_ref()
            .map_or(Offer::Unusable, |p| self.offer(peer, p));
        let mut kept = self.kept.remove(&from);
        let (mut new4, mut new6) = (0usize, 0usize);
        for prefix in prefixes {
            if let Some(kept) = kept.as_mut() {
                match &path {
                    Some(p) => kept.insert(prefix, p.clone()),
                    None => kept.remove(&prefix),
                };
            }
            let (stored, ignore) = match &offer {
                Offer::Use(p) => (import(&prefix, p), None),
                Offer::Unusable => (None, None),
                // Remembered only if import would take the route.
                Offer::Ignore(r) => {
                    let accepted = path.as_ref().is_some_and(|p| import(&prefix, p).is_some());
                    (None, accepted.then(|| r.clone()))
                }
            };
            let Some(path) = stored else {
                self.remove_path(from, prefix, |p| p.peer_id == from, moved);
                match ignore {
                    Some(r) => self.ignored.insert(prefix, from, r),
                    None => self.ignored.remove(prefix, from),
                }
                continue;
            };
            self.ignored.remove(prefix, from);
            let outcome = match prefix {
                IpNet::V4(p) => self.v4.insert(p, path),
                IpNet::V6(p) => self.v6.insert(p, path),
            };
            if outcome.counted {
                match prefix {
                    IpNet::V4(_) => new4 = new4.saturating_add(1),
                    IpNet::V6(_) => new6 = new6.saturating_add(1),
                }
            }
            self.note(prefix, outcome, moved);
        }
        for (family, n) in [(afi::IPV4, new4), (afi::IPV6, new6)] {
            if n > 0 {
                let count = self.per_peer.entry((from, family)).or_default();
                *count = count.saturating_add(n);
            }
        }
        if let Some(kept) = kept {
            self.kept.insert(from, kept);
        }
    }

    /// Queue a prefix that moved (once until taken) and tell `moved`; a reflector records a
    /// new best path.
    fn note(&mut self, prefix: IpNet, outcome: Outcome, moved: &mut dyn FnMut(IpNet)) {
        if outcome.queue {
            self.queued.push(prefix);
        }
        if outcome.best_moved {
            self.best_moved(prefix);
        }
        if outcome.moved {
            moved(prefix);
        }
    }

    /// Move what one operation queued onto the pending list, in prefix order.
    pub(super) fn flush_queued(&mut self) {
        self.queued.sort_unstable();
        self.pending.extend(self.queued.drain(..));
    }

    /// Forget every path of `peer` (session down, no graceful restart).
    pub fn peer_down(&mut self, peer: PeerId) -> Vec<RouteChange> {
        self.epochs.retain(|(p, _), _| *p != peer);
        self.kept.remove(&peer);
        self.ignored.remove_where(peer, |_, _| true);
        self.sweep(peer, |p| p.peer_id == peer, None)
    }

    /// Mark `peer`'s paths of one family (or both) stale: they stay in use until replaced or
    /// swept. For a graceful restart (RFC 4724 §4.2) and an enhanced route refresh (RFC 7313
    /// §4, on BoRR).
    pub fn mark_stale(&mut self, peer: PeerId, family: Option<u16>) {
        for f in [afi::IPV4, afi::IPV6] {
            if family.is_none_or(|x| x == f) {
                let e = self.epochs.entry((peer, f)).or_insert(0);
                *e = e.wrapping_add(1);
            }
        }
    }

    /// Drop `peer`'s stale paths of one family (`afi`), or of both (`None`): on End-of-RIB (or
    /// EoRR), when the restart timer runs out, or when the new session does not keep the family.
    pub fn sweep_stale(&mut self, peer: PeerId, family: Option<u16>) -> Vec<RouteChange> {
        let (e4, e6) = (self.epoch(peer, afi::IPV4), self.epoch(peer, afi::IPV6));
        self.ignored.remove_where(peer, |prefix, r| {
            let f = family_of(prefix);
            family.is_none_or(|x| x == f) && r.epoch != if f == afi::IPV4 { e4 } else { e6 }
        });
        let mut changes = Vec::new();
        if family.is_none_or(|f| f == afi::IPV4) {
            let stale = move |p: &Path| p.peer_id == peer && p.epoch != e4;
            changes.extend(self.sweep(peer, stale, Some(afi::IPV4)));
        }
        if family.is_none_or(|f| f == afi::IPV6) {
            let stale = move |p: &Path| p.peer_id == peer && p.epoch != e6;
            changes.extend(self.sweep(peer, stale, Some(afi::IPV6)));
        }
        changes
    }

    /// How many of `peer`'s paths are stale.
    pub fn stale_count(&self, peer: PeerId) -> usize {
        let (e4, e6) = (self.epoch(peer, afi::IPV4), self.epoch(peer, afi::IPV6));
        let v4 = self
            .v4
            .prefixes_where(|p| p.peer_id == peer && p.epoch != e4)
            .len();
        let v6 = self
            .v6
            .prefixes_where(|p| p.peer_id == peer && p.epoch != e6)
            .len();
        v4.saturating_add(v6)
    }

    /// `peer`'s current session generation for `family` (AFI).
    pub(crate) fn epoch_of(&self, peer: PeerId, family: u16) -> u32 {
        self.epoch(peer, family)
    }

    fn epoch(&self, peer: PeerId, family: u16) -> u32 {
        self.epochs.get(&(peer, family)).copied().unwrap_or(0)
    }

    /// Remove the paths of `peer` that `pred` selects, in one family or both.
    fn sweep(
        &mut self,
        peer: PeerId,
        pred: impl Fn(&Path) -> bool,
        family: Option<u16>,
    ) -> Vec<RouteChange> {
        let mut moved = Vec::new();
        let mut doomed: Vec<IpNet> = Vec::new();
        if family.is_none_or(|f| f == afi::IPV4) {
            doomed.extend(self.v4.prefixes_where(&pred).into_iter().map(IpNet::V4));
        }
        if family.is_none_or(|f| f == afi::IPV6) {
            doomed.extend(self.v6.prefixes_where(&pred).into_iter().map(IpNet::V6));
        }
        for prefix in doomed {
            self.remove_path(peer, prefix, &pred, &mut |p| moved.push(p));
        }
        self.flush_queued();
        self.changes_of(moved)
    }

    /// Prefixes held in `peer`'s Adj-RIB-In.
    pub fn received(&self, peer: PeerId) -> usize {
        [afi::IPV4, afi::IPV6]
            .iter()
            .map(|f| self.per_peer.get(&(peer, *f)).copied().unwrap_or(0))
            .sum()
    }

    /// Prefixes held in `peer`'s Adj-RIB-In, by family (only families with some).
    pub fn received_by_family(&self, peer: PeerId) -> std::collections::BTreeMap<String, u64> {
        let count = |f| self.per_peer.get(&(peer, f)).copied().unwrap_or(0) as u64;
        [("ipv4", count(afi::IPV4)), ("ipv6", count(afi::IPV6))]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(f, n)| (f.to_string(), n))
            .collect()
    }

    /// The Loc-RIB: prefix -> multipath next hops.
    pub fn loc_rib(&self) -> Vec<(IpNet, Vec<NextHop>)> {
        let v4 = self.v4.loc().map(|(p, h)| (IpNet::V4(p), h));
        let v6 = self.v6.loc().map(|(p, h)| (IpNet::V6(p), h));
        v4.chain(v6).collect()
    }

    /// The next hops in use for `prefix` (empty: no route).
    pub fn next_hops(&self, prefix: &IpNet) -> Vec<NextHop> {
        match prefix {
            IpNet::V4(p) => self.v4.next_hops(*p),
            IpNet::V6(p) => self.v6.next_hops(*p),
        }
    }

    /// Paths held for `prefix`, best first.
    pub fn paths(&self, prefix: &IpNet) -> Vec<&Path> {
        match prefix {
            IpNet::V4(p) => self.v4.paths(*p),
            IpNet::V6(p) => self.v6.paths(*p),
        }
    }

    /// Remove the path of `peer` for `prefix` if `pred` selects it.
    fn remove_path(
        &mut self,
        peer: PeerId,
        prefix: IpNet,
        pred: impl Fn(&Path) -> bool,
        moved: &mut dyn FnMut(IpNet),
    ) {
        let outcome = match prefix {
            IpNet::V4(p) => self.v4.remove_if(p, &pred),
            IpNet::V6(p) => self.v6.remove_if(p, &pred),
        };
        if outcome.counted {
            if let Some(n) = self.per_peer.get_mut(&(peer, family_of(&prefix))) {
                *n = n.saturating_sub(1);
            }
        }
        self.note(prefix, outcome, moved);
    }

    /// The changes for prefixes that moved, each once, in prefix order, in their current state.
    fn changes_of(&self, mut moved: Vec<IpNet>) -> Vec<RouteChange> {
        moved.sort_unstable();
        moved.dedup();
        moved
            .into_iter()
            .map(|prefix| RouteChange {
                prefix,
                next_hops: self.next_hops(&prefix),
            })
            .collect()
    }

    /// Up to `max` prefixes whose next hops changed since they were last taken, in their
    /// current state (empty next hops: gone), oldest change first.
    pub fn take_changes(&mut self, max: usize) -> Vec<RouteChange> {
        let n = max.min(self.pending.len());
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let Some(prefix) = self.pending.pop_front() else {
                break;
            };
            let next_hops = match prefix {
                IpNet::V4(p) => self.v4.take_dirty(p),
                IpNet::V6(p) => self.v6.take_dirty(p),
            };
            out.push(RouteChange { prefix, next_hops });
        }
        if self.pending.is_empty() && self.pending.capacity() > 4096 {
            self.pending.shrink_to(4096);
        }
        out
    }
}

fn family_of(prefix: &IpNet) -> u16 {
    match prefix {
        IpNet::V4(_) => afi::IPV4,
        IpNet::V6(_) => afi::IPV6,
    }
}

fn is_link_local(a: IpAddr) -> bool {
    matches!(a, IpAddr::V6(v6) if v6.is_unicast_link_local())
}
