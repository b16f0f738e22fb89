//! Adj-RIB-In per peer, Loc-RIB and the decision process (RFC 4271 §9).
//!
//! Pure data structures: the driver feeds UPDATEs in and gets [`RouteChange`]s out, one per
//! prefix whose set of best next hops changed.

mod decision;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use ipnet::Ipv4Net;

use crate::policy::loop_free;
use crate::wire::{AsSegment, Origin, PathAttribute, UpdateMsg};

pub use decision::{best_paths, compare};

/// One path to a prefix, as received from a peer (after import).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// The peer it came from.
    pub peer: IpAddr,
    /// That peer's BGP identifier.
    pub peer_router_id: Ipv4Addr,
    /// That peer's ASN.
    pub peer_asn: u32,
    /// Learned over eBGP.
    pub ebgp: bool,
    /// ORIGIN.
    pub origin: Origin,
    /// AS_PATH.
    pub as_path: Vec<AsSegment>,
    /// NEXT_HOP.
    pub next_hop: Ipv4Addr,
    /// MULTI_EXIT_DISC.
    pub med: Option<u32>,
    /// LOCAL_PREF.
    pub local_pref: Option<u32>,
}

impl Path {
    /// AS_PATH length for the decision process: an AS_SET counts as one (RFC 4271 §9.1.2.2).
    pub fn as_path_len(&self) -> usize {
        self.as_path
            .iter()
            .map(|s| match s {
                AsSegment::Sequence(v) => v.len(),
                AsSegment::Set(_) => 1,
            })
            .sum()
    }

    /// The neighbouring AS: the first AS of the path (RFC 4271 §9.1.2.2 c).
    pub fn neighbour_as(&self) -> Option<u32> {
        match self.as_path.first() {
            Some(AsSegment::Sequence(v)) => v.first().copied(),
            _ => None,
        }
    }

    /// Whether `asn` appears anywhere in the AS_PATH (loop detection, RFC 4271 §9.1.2).
    pub fn contains_as(&self, asn: u32) -> bool {
        self.count_as(asn) > 0
    }

    /// How many times `asn` appears in the AS_PATH.
    pub fn count_as(&self, asn: u32) -> usize {
        self.as_path
            .iter()
            .map(|s| match s {
                AsSegment::Sequence(v) | AsSegment::Set(v) => {
                    v.iter().filter(|a| **a == asn).count()
                }
            })
            .sum()
    }
}

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
    pub prefix: Ipv4Net,
    /// Next hops of the multipath set, sorted; empty when the prefix is gone.
    pub next_hops: Vec<Ipv4Addr>,
}

/// Every peer's Adj-RIB-In and the resulting Loc-RIB next hops.
#[derive(Debug, Default, Clone)]
pub struct Rib {
    /// prefix -> one path per peer. Paths are shared: every prefix of one UPDATE points at the
    /// same `Arc`, so a full table costs a pointer per prefix, not a copy of its attributes.
    adj_in: BTreeMap<Ipv4Net, Vec<Arc<Path>>>,
    /// Count of prefixes per peer.
    per_peer: HashMap<IpAddr, usize>,
    /// prefix -> current multipath next hops.
    loc: BTreeMap<Ipv4Net, Hops>,
}

impl Rib {
    /// Apply one UPDATE from `peer`; returns the Loc-RIB changes.
    pub fn update(&mut self, peer: PeerInfo, update: &UpdateMsg) -> Vec<RouteChange> {
        let mut touched: Vec<Ipv4Net> = Vec::new();
        for prefix in &update.withdrawn {
            self.remove(peer.address, *prefix);
            touched.push(*prefix);
        }
        if !update.nlri.is_empty() {
            // RFC 4271 §9.1.2: a path with our own AS in it is unusable (unless the peer is
            // allowed `allow_as_in` occurrences); it still replaces (implicitly withdraws) what
            // the peer sent before.
            let path = path_from(peer, &update.attributes)
                .filter(|p| loop_free(p.count_as(peer.local_as), peer.allow_as_in))
                .map(Arc::new);
            for prefix in &update.nlri {
                match &path {
                    Some(p) => self.insert(*prefix, p.clone()),
                    None => self.remove(peer.address, *prefix),
                }
                touched.push(*prefix);
            }
        }
        touched.sort();
        touched.dedup();
        touched
            .into_iter()
            .filter_map(|p| self.recompute(p))
            .collect()
    }

    /// Forget every path of `peer` (session down).
    pub fn peer_down(&mut self, peer: IpAddr) -> Vec<RouteChange> {
        let prefixes: Vec<Ipv4Net> = self
            .adj_in
            .iter()
            .filter(|(_, paths)| paths.iter().any(|p| p.peer == peer))
            .map(|(p, _)| *p)
            .collect();
        for p in &prefixes {
            self.remove(peer, *p);
        }
        self.per_peer.remove(&peer);
        prefixes
            .into_iter()
            .filter_map(|p| self.recompute(p))
            .collect()
    }

    /// Prefixes held in `peer`'s Adj-RIB-In.
    pub fn received(&self, peer: IpAddr) -> usize {
        self.per_peer.get(&peer).copied().unwrap_or(0)
    }

    /// The Loc-RIB: prefix -> multipath next hops.
    pub fn loc_rib(&self) -> BTreeMap<Ipv4Net, Vec<Ipv4Addr>> {
        self.loc
            .iter()
            .map(|(p, h)| (*p, h.as_slice().to_vec()))
            .collect()
    }

    /// The next hops in use for `prefix`.
    pub fn next_hops(&self, prefix: &Ipv4Net) -> Option<&[Ipv4Addr]> {
        self.loc.get(prefix).map(Hops::as_slice)
    }

    /// Paths held for `prefix`.
    pub fn paths(&self, prefix: &Ipv4Net) -> Vec<&Path> {
        self.adj_in
            .get(prefix)
            .map(|v| v.iter().map(|p| p.as_ref()).collect())
            .unwrap_or_default()
    }

    fn insert(&mut self, prefix: Ipv4Net, path: Arc<Path>) {
        let peer = path.peer;
        let paths = self.adj_in.entry(prefix).or_default();
        match paths.iter_mut().find(|p| p.peer == peer) {
            Some(slot) => *slot = path,
            None => {
                paths.push(path);
                *self.per_peer.entry(peer).or_default() += 1;
            }
        }
    }

    fn remove(&mut self, peer: IpAddr, prefix: Ipv4Net) {
        let Some(paths) = self.adj_in.get_mut(&prefix) else {
            return;
        };
        let before = paths.len();
        paths.retain(|p| p.peer != peer);
        if paths.len() < before {
            if let Some(n) = self.per_peer.get_mut(&peer) {
                *n = n.saturating_sub(1);
            }
        }
        if paths.is_empty() {
            self.adj_in.remove(&prefix);
        }
    }

    /// Re-run the decision for `prefix`; a change if its next-hop set moved.
    fn recompute(&mut self, prefix: Ipv4Net) -> Option<RouteChange> {
        let paths: Vec<&Path> = self.paths(&prefix);
        let mut hops: Vec<Ipv4Addr> = best_paths(&paths).iter().map(|p| p.next_hop).collect();
        hops.sort();
        hops.dedup();
        let old: &[Ipv4Addr] = self
            .loc
            .get(&prefix)
            .map(Hops::as_slice)
            .unwrap_or_default();
        if old == hops {
            return None;
        }
        if hops.is_empty() {
            self.loc.remove(&prefix);
        } else {
            self.loc.insert(prefix, Hops::from(hops.as_slice()));
        }
        Some(RouteChange {
            prefix,
            next_hops: hops,
        })
    }
}

/// A Loc-RIB entry's next hops, without a heap allocation in the common single-path case.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Hops {
    One([Ipv4Addr; 1]),
    Many(Box<[Ipv4Addr]>),
}

impl Hops {
    fn as_slice(&self) -> &[Ipv4Addr] {
        match self {
            Hops::One(h) => h,
            Hops::Many(h) => h,
        }
    }
}

impl From<&[Ipv4Addr]> for Hops {
    fn from(hops: &[Ipv4Addr]) -> Self {
        match hops {
            [one] => Hops::One([*one]),
            many => Hops::Many(many.into()),
        }
    }
}

/// A path from an UPDATE's attributes; `None` when a mandatory attribute is missing.
pub fn path_from(peer: PeerInfo, attributes: &[PathAttribute]) -> Option<Path> {
    let mut origin = None;
    let mut as_path = None;
    let mut next_hop = None;
    let (mut med, mut local_pref) = (None, None);
    for a in attributes {
        match a {
            PathAttribute::Origin(o) => origin = Some(*o),
            PathAttribute::AsPath(p) => as_path = Some(p.clone()),
            PathAttribute::NextHop(n) => next_hop = Some(*n),
            PathAttribute::MultiExitDisc(m) => med = Some(*m),
            PathAttribute::LocalPref(l) => local_pref = Some(*l),
            _ => {}
        }
    }
    let ebgp = peer.asn != peer.local_as;
    Some(Path {
        peer: peer.address,
        peer_router_id: peer.router_id,
        peer_asn: peer.asn,
        ebgp,
        origin: origin?,
        as_path: as_path?,
        next_hop: next_hop?,
        med,
        // LOCAL_PREF from an eBGP peer is ignored (RFC 4271 §5.1.5).
        local_pref: if ebgp { None } else { local_pref },
    })
}

#[cfg(test)]
mod tests;
