//! The RIB the driver holds: one table per family, per-peer counts and session epochs.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::path::path_with_next_hop;
use super::table::Table;
use super::Path;
use crate::policy::loop_free;
use crate::wire::{afi, MpNextHop, PathAttribute, UpdateMsg};

/// Who sent an UPDATE, for building [`Path`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerInfo {
    /// Peer address.
    pub address: IpAddr,
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
    pub next_hops: Vec<IpAddr>,
}

/// Every peer's Adj-RIB-In and the resulting Loc-RIB next hops, for both families.
#[derive(Debug, Default, Clone)]
pub struct Rib {
    pub(crate) v4: Table<Ipv4Net>,
    pub(crate) v6: Table<Ipv6Net>,
    /// Count of prefixes per peer and family (AFI).
    per_peer: HashMap<(IpAddr, u16), usize>,
    /// Each peer's generation per family (AFI); paths from older ones are stale.
    epochs: HashMap<(IpAddr, u16), u32>,
    /// Prefixes whose next hops changed since [`Rib::take_changes`] last reported them, each
    /// once (the table entry's dirty flag): a consumer that lags sees each prefix once, in its
    /// latest state.
    pending: std::collections::VecDeque<IpNet>,
}

impl Rib {
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
        let touched = self.apply_update(peer, update, accept);
        self.recompute_all(touched)
    }

    /// [`Rib::update_filtered`] for a caller that takes changes with [`Rib::take_changes`]:
    /// nothing is collected; true if some prefix's next hops moved.
    pub fn update_quietly(
        &mut self,
        peer: PeerInfo,
        update: &UpdateMsg,
        accept: impl Fn(&IpNet) -> bool,
    ) -> bool {
        let touched = self.apply_update(peer, update, accept);
        self.recompute_quietly(touched)
    }

    /// Store what the UPDATE says; the prefixes whose decision must run again.
    fn apply_update(
        &mut self,
        peer: PeerInfo,
        update: &UpdateMsg,
        accept: impl Fn(&IpNet) -> bool,
    ) -> Vec<IpNet> {
        let mut touched: Vec<IpNet> = Vec::new();
        let withdrawn_mp = update.attributes.iter().flat_map(|a| match a {
            PathAttribute::MpUnreach(mp) => mp.withdrawn.as_slice(),
            _ => &[],
        });
        let withdrawn = update.withdrawn.iter().map(|p| IpNet::V4(*p));
        for prefix in withdrawn.chain(withdrawn_mp.copied()) {
            self.remove(peer.address, prefix);
            touched.push(prefix);
        }
        let classic_nh = update.attributes.iter().find_map(|a| match a {
            PathAttribute::NextHop(n) => Some(MpNextHop {
                global: IpAddr::V4(*n),
                link_local: None,
            }),
            _ => None,
        });
        let mut batches: Vec<(Option<MpNextHop>, Vec<IpNet>)> = Vec::new();
        if !update.nlri.is_empty() {
            let v4 = update.nlri.iter().map(|p| IpNet::V4(*p)).collect();
            batches.push((classic_nh, v4));
        }
        for attr in &update.attributes {
            if let PathAttribute::MpReach(mp) = attr {
                batches.push((Some(mp.next_hop), mp.nlri.clone()));
            }
        }
        for (nh, prefixes) in batches {
            let family = match prefixes.first() {
                Some(IpNet::V6(_)) => afi::IPV6,
                _ => afi::IPV4,
            };
            let epoch = self.epoch(peer.address, family);
            // RFC 4271 §9.1.2: a path with our own AS in it is unusable (unless the peer is
            // allowed `allow_as_in` occurrences); it still replaces what the peer sent before.
            let path = nh
                .and_then(|nh| path_with_next_hop(peer, &update.attributes, nh, epoch))
                .filter(|p| loop_free(p.count_as(peer.local_as), peer.allow_as_in))
                .map(Arc::new);
            for prefix in prefixes {
                match &path {
                    Some(p) if accept(&prefix) => self.insert(prefix, p.clone()),
                    _ => self.remove(peer.address, prefix),
                }
                touched.push(prefix);
            }
        }
        touched
    }

    /// Forget every path of `peer` (session down, no graceful restart).
    pub fn peer_down(&mut self, peer: IpAddr) -> Vec<RouteChange> {
        self.epochs.retain(|(p, _), _| *p != peer);
        self.sweep(|p| p.peer == peer, None)
    }

    /// Mark `peer`'s paths of one family (or both) stale: they stay in use until replaced or
    /// swept. For a graceful restart (RFC 4724 §4.2) and an enhanced route refresh (RFC 7313
    /// §4, on BoRR).
    pub fn mark_stale(&mut self, peer: IpAddr, family: Option<u16>) {
        for f in [afi::IPV4, afi::IPV6] {
            if family.is_none_or(|x| x == f) {
                let e = self.epochs.entry((peer, f)).or_insert(0);
                *e = e.wrapping_add(1);
            }
        }
    }

    /// Drop `peer`'s stale paths of one family (`afi`), or of both (`None`): on End-of-RIB (or
    /// EoRR), when the restart timer runs out, or when the new session does not keep the family.
    pub fn sweep_stale(&mut self, peer: IpAddr, family: Option<u16>) -> Vec<RouteChange> {
        let (e4, e6) = (self.epoch(peer, afi::IPV4), self.epoch(peer, afi::IPV6));
        let mut changes = Vec::new();
        if family.is_none_or(|f| f == afi::IPV4) {
            changes.extend(self.sweep(move |p| p.peer == peer && p.epoch != e4, Some(afi::IPV4)));
        }
        if family.is_none_or(|f| f == afi::IPV6) {
            changes.extend(self.sweep(move |p| p.peer == peer && p.epoch != e6, Some(afi::IPV6)));
        }
        changes
    }

    /// How many of `peer`'s paths are stale.
    pub fn stale_count(&self, peer: IpAddr) -> usize {
        let (e4, e6) = (self.epoch(peer, afi::IPV4), self.epoch(peer, afi::IPV6));
        let v4 = self
            .v4
            .prefixes_where(|p| p.peer == peer && p.epoch != e4)
            .len();
        let v6 = self
            .v6
            .prefixes_where(|p| p.peer == peer && p.epoch != e6)
            .len();
        v4.saturating_add(v6)
    }

    /// `peer`'s current session generation for `family` (AFI).
    pub(crate) fn epoch_of(&self, peer: IpAddr, family: u16) -> u32 {
        self.epoch(peer, family)
    }

    fn epoch(&self, peer: IpAddr, family: u16) -> u32 {
        self.epochs.get(&(peer, family)).copied().unwrap_or(0)
    }

    fn sweep(&mut self, pred: impl Fn(&Path) -> bool, family: Option<u16>) -> Vec<RouteChange> {
        let mut touched: Vec<IpNet> = Vec::new();
        if family.is_none_or(|f| f == afi::IPV4) {
            for p in self.v4.prefixes_where(&pred) {
                self.remove_where(IpNet::V4(p), &pred);
                touched.push(IpNet::V4(p));
            }
        }
        if family.is_none_or(|f| f == afi::IPV6) {
            for p in self.v6.prefixes_where(&pred) {
                self.remove_where(IpNet::V6(p), &pred);
                touched.push(IpNet::V6(p));
            }
        }
        self.recompute_all(touched)
    }

    /// Prefixes held in `peer`'s Adj-RIB-In.
    pub fn received(&self, peer: IpAddr) -> usize {
        [afi::IPV4, afi::IPV6]
            .iter()
            .map(|f| self.per_peer.get(&(peer, *f)).copied().unwrap_or(0))
            .sum()
    }

    /// Prefixes held in `peer`'s Adj-RIB-In, by family (only families with some).
    pub fn received_by_family(&self, peer: IpAddr) -> std::collections::BTreeMap<String, u64> {
        let count = |f| self.per_peer.get(&(peer, f)).copied().unwrap_or(0) as u64;
        [("ipv4", count(afi::IPV4)), ("ipv6", count(afi::IPV6))]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(f, n)| (f.to_string(), n))
            .collect()
    }

    /// The Loc-RIB: prefix -> multipath next hops.
    pub fn loc_rib(&self) -> Vec<(IpNet, Vec<IpAddr>)> {
        let v4 = self.v4.loc().map(|(p, h)| (IpNet::V4(*p), h.to_vec()));
        let v6 = self.v6.loc().map(|(p, h)| (IpNet::V6(*p), h.to_vec()));
        v4.chain(v6).collect()
    }

    /// The next hops in use for `prefix`.
    pub fn next_hops(&self, prefix: &IpNet) -> Option<&[IpAddr]> {
        match prefix {
            IpNet::V4(p) => self.v4.next_hops(p),
            IpNet::V6(p) => self.v6.next_hops(p),
        }
    }

    /// Paths held for `prefix`.
    pub fn paths(&self, prefix: &IpNet) -> Vec<&Path> {
        match prefix {
            IpNet::V4(p) => self.v4.paths(p),
            IpNet::V6(p) => self.v6.paths(p),
        }
    }

    fn insert(&mut self, prefix: IpNet, path: Arc<Path>) {
        let peer = path.peer;
        let new = match prefix {
            IpNet::V4(p) => self.v4.insert(p, path),
            IpNet::V6(p) => self.v6.insert(p, path),
        };
        if new {
            *self.per_peer.entry((peer, family_of(&prefix))).or_default() += 1;
        }
    }

    fn remove(&mut self, peer: IpAddr, prefix: IpNet) {
        self.remove_where(prefix, |p| p.peer == peer);
    }

    /// Remove the paths of `prefix` that `pred` selects (at most one per peer).
    fn remove_where(&mut self, prefix: IpNet, pred: impl Fn(&Path) -> bool) {
        let owner = self
            .paths(&prefix)
            .into_iter()
            .find(|p| pred(p))
            .map(|p| p.peer);
        let removed = match prefix {
            IpNet::V4(p) => self.v4.remove_if(p, &pred),
            IpNet::V6(p) => self.v6.remove_if(p, &pred),
        };
        if let (true, Some(peer)) = (removed, owner) {
            if let Some(n) = self.per_peer.get_mut(&(peer, family_of(&prefix))) {
                *n = n.saturating_sub(1);
            }
        }
    }

    fn recompute_all(&mut self, mut touched: Vec<IpNet>) -> Vec<RouteChange> {
        touched.sort();
        touched.dedup();
        touched
            .into_iter()
            .filter_map(|prefix| {
                let (hops, newly_dirty) = match prefix {
                    IpNet::V4(p) => self.v4.recompute(p),
                    IpNet::V6(p) => self.v6.recompute(p),
                }?;
                if newly_dirty {
                    self.pending.push_back(prefix);
                }
                Some(RouteChange {
                    prefix,
                    next_hops: hops,
                })
            })
            .collect()
    }

    /// Re-run the decision for `touched`, queueing what moved; true if anything did.
    fn recompute_quietly(&mut self, mut touched: Vec<IpNet>) -> bool {
        touched.sort_unstable();
        touched.dedup();
        let mut moved = false;
        for prefix in touched {
            let changed = match prefix {
                IpNet::V4(p) => self.v4.recompute(p),
                IpNet::V6(p) => self.v6.recompute(p),
            };
            if let Some((_, newly_dirty)) = changed {
                moved = true;
                if newly_dirty {
                    self.pending.push_back(prefix);
                }
            }
        }
        moved
    }

    /// Up to `max` prefixes whose next hops changed since they were last taken, in their
    /// current state (empty next hops: gone), oldest change first.
    pub fn take_changes(&mut self, max: usize) -> Vec<RouteChange> {
        let n = max.min(self.pending.len());
        let mut out = Vec::with_capacity(n);
        for prefix in self.pending.drain(..n).collect::<Vec<_>>() {
            let next_hops = match prefix {
                IpNet::V4(p) => self.v4.take_dirty(&p),
                IpNet::V6(p) => self.v6.take_dirty(&p),
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
