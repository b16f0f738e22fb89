//! Route reflection (RFC 4456): which best paths a reflector passes on, kept as a change log
//! its peers read from at their own pace.
//!
//! The RIB records here, for every prefix whose best path moved, the new best path if it may be
//! reflected (learned over iBGP from a peer with a [`ReflectRole`]) or a withdrawal. Each peer
//! remembers the last sequence number it has read and asks for what changed since
//! ([`Reflected::since`]), so a slow peer costs one entry per prefix, not a queue of every step;
//! a new session reads the whole table ([`Reflected::all`]). Who receives what (§6: a client's
//! routes go to everyone, a non-client's to clients only; never back to where they came from)
//! is the exporting peer's decision, made from [`ReflectedPath::from`].

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use ipnet::IpNet;

use super::{Path, PeerId, Rib};
use crate::wire::PathAttribute;

/// A peer's place in reflection (RFC 4456 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReflectRole {
    /// A route-reflector client: its routes are reflected to every peer, and it receives
    /// every reflected route.
    Client,
    /// An iBGP peer that is not a client (another reflector): its routes are reflected to
    /// clients only.
    NonClient,
}

/// A best path a reflector may pass on, and the role of the peer it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReflectedPath {
    /// The path (its `carried` attributes are what goes out).
    pub path: Arc<Path>,
    /// The role of the peer that sent it.
    pub from: ReflectRole,
}

#[derive(Debug, Clone)]
struct Slot {
    seq: u64,
    best: Option<ReflectedPath>,
}

/// The reflectable best path of each prefix, with a log of changes by sequence number.
#[derive(Debug, Clone, Default)]
pub struct Reflected {
    /// Every prefix ever recorded; a withdrawn one stays (as `None`) so that a peer that has
    /// not read the withdrawal yet still finds it. Bounded by the prefixes the cluster uses.
    slots: BTreeMap<IpNet, Slot>,
    /// seq -> prefix, each prefix under its latest seq only.
    log: BTreeMap<u64, IpNet>,
    head: u64,
}

impl Reflected {
    /// The sequence number of the latest change (0: none yet).
    pub fn head(&self) -> u64 {
        self.head
    }

    /// Record `best` as what `prefix` reflects now; true if that changed anything a peer
    /// would be sent.
    pub fn record(&mut self, prefix: IpNet, best: Option<ReflectedPath>) -> bool {
        if let Some(slot) = self.slots.get(&prefix) {
            let same = match (&slot.best, &best) {
                (None, None) => true,
                (Some(a), Some(b)) => a.from == b.from && same_advert(&a.path, &b.path),
                _ => false,
            };
            if same {
                return false;
            }
            self.log.remove(&slot.seq);
        } else if best.is_none() {
            // Never reflected: no peer was sent anything to withdraw.
            return false;
        }
        self.head = self.head.saturating_add(1);
        self.log.insert(self.head, prefix);
        self.slots.insert(
            prefix,
            Slot {
                seq: self.head,
                best,
            },
        );
        true
    }

    /// What changed after `seq`, in the order of the changes (`None`: withdrawn).
    pub fn since(&self, seq: u64) -> Vec<(IpNet, Option<ReflectedPath>)> {
        self.log
            .range(seq.saturating_add(1)..)
            .filter_map(|(_, prefix)| {
                let slot = self.slots.get(prefix)?;
                Some((*prefix, slot.best.clone()))
            })
            .collect()
    }

    /// Every prefix reflected now, in prefix order.
    pub fn all(&self) -> Vec<(IpNet, ReflectedPath)> {
        self.slots
            .iter()
            .filter_map(|(p, s)| Some((*p, s.best.clone()?)))
            .collect()
    }

    /// What `prefix` reflects now.
    pub fn get(&self, prefix: &IpNet) -> Option<ReflectedPath> {
        self.slots.get(prefix).and_then(|s| s.best.clone())
    }
}

impl Rib {
    /// Our BGP identifier: a path whose ORIGINATOR_ID is ours is unusable, it went round a
    /// loop of reflectors (RFC 4456 §8).
    pub fn set_router_id(&mut self, router_id: Ipv4Addr) {
        self.router_id = Some(router_id);
    }

    /// Make this speaker a route reflector with `cluster_id`: a path whose CLUSTER_LIST holds
    /// it is unusable (RFC 4456 §8), and reflectable best paths are recorded for the peers.
    pub fn enable_reflection(&mut self, cluster_id: Ipv4Addr) {
        self.cluster_id = Some(cluster_id);
        self.reflected.get_or_insert_with(Reflected::default);
    }

    /// The role of `peer` in reflection; `None`: its routes are never passed on.
    pub fn set_reflect_role(&mut self, peer: PeerId, role: Option<ReflectRole>) {
        match role {
            Some(r) => self.roles.insert(peer, r),
            None => self.roles.remove(&peer),
        };
    }

    /// The reflectable best paths, when this speaker reflects.
    pub fn reflected(&self) -> Option<&Reflected> {
        self.reflected.as_ref()
    }

    /// Whether `path` survives RFC 4456 §8 loop prevention.
    pub(super) fn reflection_loop_free(&self, path: &Path) -> bool {
        self.router_id
            .is_none_or(|id| path.originator_id != Some(id))
            && self
                .cluster_id
                .is_none_or(|c| !path.cluster_list.contains(&c))
    }

    /// What a reflector keeps of an UPDATE's attributes to pass them on: everything but the
    /// next hop and the NLRI-carrying MP attributes (`None` when not reflecting).
    pub(super) fn carried(&self, attributes: &[PathAttribute]) -> Option<Arc<[PathAttribute]>> {
        self.reflected.as_ref()?;
        Some(
            attributes
                .iter()
                .filter(|a| {
                    // RFC 4271 §5: an unrecognised non-transitive attribute is not passed on.
                    !a.is_unknown_non_transitive()
                        && !matches!(
                            a,
                            PathAttribute::NextHop(_)
                                | PathAttribute::MpReach(_)
                                | PathAttribute::MpUnreach(_)
                        )
                })
                .cloned()
                .collect(),
        )
    }

    /// `prefix`'s best path moved: record what it reflects now.
    pub(super) fn best_moved(&mut self, prefix: IpNet) {
        let Some(reflected) = self.reflected.as_mut() else {
            return;
        };
        let best = match prefix {
            IpNet::V4(p) => self.v4.best(p),
            IpNet::V6(p) => self.v6.best(p),
        };
        // Only routes learned over iBGP from a peer with a role are reflected.
        let eligible = best
            .filter(|p| !p.ebgp && p.carried.is_some())
            .and_then(|p| {
                Some(ReflectedPath {
                    from: *self.roles.get(&p.peer_id)?,
                    path: p.clone(),
                })
            });
        reflected.record(prefix, eligible);
    }
}

/// Whether two paths make the same advertisement from the same source: a re-announcement of an
/// unchanged route (a new session, a refresh) is not sent on again.
fn same_advert(a: &Path, b: &Path) -> bool {
    a.peer == b.peer
        && a.next_hop == b.next_hop
        && a.link_local == b.link_local
        && a.originator_id == b.originator_id
        && a.cluster_list == b.cluster_list
        && a.peer_router_id == b.peer_router_id
        && a.carried == b.carried
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::net::IpAddr;

    use super::*;
    use crate::rib::{path_from, PeerInfo};
    use crate::wire::{AsSegment, Origin, PathAttribute};

    fn path(next_hop: [u8; 4], local_pref: u32) -> Arc<Path> {
        let peer = PeerInfo {
            id: PeerId(u64::from(next_hop[3])),
            address: IpAddr::V4(Ipv4Addr::from(next_hop)),
            interface: None,
            router_id: Ipv4Addr::from(next_hop),
            asn: 65000,
            local_as: 65000,
            allow_as_in: 0,
        };
        let attributes = vec![
            PathAttribute::Origin(Origin::Igp),
            PathAttribute::AsPath(vec![AsSegment::Sequence(vec![])]),
            PathAttribute::NextHop(Ipv4Addr::from(next_hop)),
            PathAttribute::LocalPref(local_pref),
        ];
        let mut p = path_from(peer, &attributes).unwrap();
        p.carried = Some(attributes.into());
        Arc::new(p)
    }

    fn client(p: Arc<Path>) -> Option<ReflectedPath> {
        Some(ReflectedPath {
            path: p,
            from: ReflectRole::Client,
        })
    }

    #[test]
    fn peers_read_each_change_once_in_its_latest_state() {
        let mut r = Reflected::default();
        let a: IpNet = "10.244.1.0/24".parse().unwrap();
        let b: IpNet = "10.244.2.0/24".parse().unwrap();
        // A withdrawal of something never reflected is no change.
        assert!(!r.record(a, None));
        assert_eq!(r.head(), 0);
        assert!(r.record(a, client(path([10, 0, 0, 1], 100))));
        assert!(r.record(b, client(path([10, 0, 0, 2], 100))));
        let seen = r.head();
        // The same advertisement again (a new Arc) is no change.
        assert!(!r.record(a, client(path([10, 0, 0, 1], 100))));
        assert_eq!(r.head(), seen);
        // A changed attribute is one, and a withdrawal too; a reader at `seen` gets both, a
        // reader from the start sees each prefix once, in its latest state.
        assert!(r.record(a, client(path([10, 0, 0, 1], 200))));
        assert!(r.record(b, None));
        let since = r.since(seen);
        assert_eq!(since.len(), 2);
        assert_eq!(since[0].0, a);
        assert!(since[1].1.is_none());
        let from_start = r.since(0);
        assert_eq!(from_start.len(), 2);
        assert_eq!(r.all().len(), 1);
        assert!(r.get(&b).is_none());
        assert!(r.since(r.head()).is_empty());
    }
}
