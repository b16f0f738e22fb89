//! Routes ignored for their next hop (RFC 4271 §6.3: "If the NEXT_HOP attribute is
//! semantically incorrect, the error SHOULD be logged, and the route SHOULD be ignored"; no
//! NOTIFICATION, the session stays). A next hop that is unspecified, loopback (`::1` is what
//! portable OpenBGPD sends for IPv6 over an IPv4 session), multicast, broadcast, or our own
//! address can never carry traffic: the path takes no part in the decision process (a route
//! the peer sent before for the prefix goes), and the RIB remembers it, with the reason, for
//! `lattice routes` and the peer's count.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use super::{NextHop, PeerId};

/// Why `hop` cannot be a next hop, if it cannot; `own` are this speaker's session addresses
/// (for an IPv6 link-local hop, only our address on the session it came over: a link-local
/// address is ours only on its own link, and routers often reuse one, `fe80::1`, on every link).
/// A loopback next hop is fine when it is the address of the peer's session itself (`peer`:
/// speakers on one host, as in tests): it names that peer, as any other next hop self does.
pub fn next_hop_problem(hop: IpAddr, own: &[IpAddr], peer: IpAddr) -> Option<String> {
    let hop = hop.to_canonical();
    let is_peer = hop == peer.to_canonical();
    let what = if own.iter().any(|a| a.to_canonical() == hop) {
        "our own address"
    } else if hop.is_unspecified() {
        "unspecified"
    } else if hop.is_loopback() && !is_peer {
        "a loopback address"
    } else if hop.is_multicast() {
        "a multicast address"
    } else if matches!(hop, IpAddr::V4(a) if a.is_broadcast()) {
        "the broadcast address"
    } else {
        return None;
    };
    Some(format!(
        "next hop {hop} is {what} (RFC 4271 §6.3: route ignored)"
    ))
}

/// One ignored route: what the peer sent and why it was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredRoute {
    /// The address of the peer's session it came over.
    pub peer: IpAddr,
    /// The next hop it came with (with the session's interface when link-local).
    pub next_hop: NextHop,
    /// Why it was ignored (shared by every prefix of the UPDATE).
    pub reason: Arc<str>,
    /// The peer's session generation for the family when it arrived (like [`super::Path`]'s).
    pub epoch: u32,
}

/// Every peer's ignored routes and their count per peer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ignored {
    routes: BTreeMap<(IpNet, PeerId), IgnoredRoute>,
    per_peer: HashMap<PeerId, usize>,
}

impl Ignored {
    /// `peer` sent `prefix` with an unusable next hop.
    pub fn insert(&mut self, prefix: IpNet, peer: PeerId, route: IgnoredRoute) {
        if self.routes.insert((prefix, peer), route).is_none() {
            let n = self.per_peer.entry(peer).or_default();
            *n = n.saturating_add(1);
        }
    }

    /// `peer` withdrew `prefix` or sent it again with a usable next hop.
    pub fn remove(&mut self, prefix: IpNet, peer: PeerId) {
        if self.routes.is_empty() {
            return;
        }
        if self.routes.remove(&(prefix, peer)).is_some() {
            self.uncount(peer, 1);
        }
    }

    /// Forget `peer`'s routes that `pred` selects (all of them, or its stale ones).
    pub fn remove_where(&mut self, peer: PeerId, pred: impl Fn(&IpNet, &IgnoredRoute) -> bool) {
        let before = self.routes.len();
        self.routes
            .retain(|(p, from), r| *from != peer || !pred(p, r));
        self.uncount(peer, before.saturating_sub(self.routes.len()));
    }

    /// How many of `peer`'s routes are ignored.
    pub fn count(&self, peer: PeerId) -> usize {
        self.per_peer.get(&peer).copied().unwrap_or(0)
    }

    /// Every ignored route: (prefix, peer), what it was.
    pub fn iter(&self) -> impl Iterator<Item = (&(IpNet, PeerId), &IgnoredRoute)> {
        self.routes.iter()
    }

    fn uncount(&mut self, peer: PeerId, n: usize) {
        if let Some(c) = self.per_peer.get_mut(&peer) {
            *c = c.saturating_sub(n);
            if *c == 0 {
                self.per_peer.remove(&peer);
            }
        }
    }
}

impl super::Rib {
    /// Our address on `peer`'s session (`None`: no session): a next hop equal to it is ours.
    pub fn set_local_address(&mut self, peer: PeerId, local: Option<IpAddr>) {
        match local {
            Some(a) => self.locals.insert(peer, a),
            None => self.locals.remove(&peer),
        };
    }

    /// How many of `peer`'s routes are ignored for their next hop.
    pub fn ignored_count(&self, peer: PeerId) -> usize {
        self.ignored.count(peer)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn unusable_next_hops_are_named() {
        let own = ["10.0.0.2".parse().unwrap()];
        for (hop, says) in [
            ("::1", "loopback"),
            ("127.0.0.5", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("224.0.0.5", "multicast"),
            ("ff02::1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("10.0.0.2", "our own"),
        ] {
            let why = next_hop_problem(hop.parse().unwrap(), &own, "10.0.0.1".parse().unwrap());
            assert!(
                why.as_deref().is_some_and(|w| w.contains(says)),
                "{hop}: {why:?}"
            );
        }
        for fine in ["10.0.0.1", "fd00::1", "fe80::1", "2001:db8::1"] {
            assert_eq!(
                next_hop_problem(fine.parse().unwrap(), &own, "10.0.0.1".parse().unwrap()),
                None,
                "{fine}"
            );
        }
    }

    #[test]
    fn a_loopback_next_hop_is_fine_when_it_is_the_peer_itself() {
        let own = ["127.0.0.1".parse().unwrap()];
        let lo = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            next_hop_problem(lo("127.0.0.2"), &own, lo("127.0.0.2")),
            None
        );
        // Not our own address, another loopback address, nor loopback from a peer elsewhere.
        assert!(next_hop_problem(lo("127.0.0.1"), &own, lo("127.0.0.2")).is_some());
        assert!(next_hop_problem(lo("127.0.0.3"), &own, lo("127.0.0.2")).is_some());
        assert!(next_hop_problem(lo("::1"), &own, lo("10.0.0.1")).is_some());
    }

    #[test]
    fn counts_follow_inserts_and_removals() {
        let mut ig = Ignored::default();
        let (a, b) = (PeerId(1), PeerId(3));
        let r = IgnoredRoute {
            peer: "10.0.0.1".parse().unwrap(),
            next_hop: "::1".parse().unwrap(),
            reason: "x".into(),
            epoch: 0,
        };
        let p = |s: &str| s.parse::<IpNet>().unwrap();
        ig.insert(p("fd00:1::/64"), a, r.clone());
        ig.insert(p("fd00:1::/64"), a, r.clone());
        ig.insert(p("fd00:2::/64"), a, r.clone());
        ig.insert(p("fd00:2::/64"), b, r.clone());
        assert_eq!((ig.count(a), ig.count(b)), (2, 1));
        ig.remove(p("fd00:1::/64"), a);
        assert_eq!(ig.count(a), 1);
        ig.remove_where(a, |_, _| true);
        assert_eq!((ig.count(a), ig.count(b)), (0, 1));
        assert_eq!(ig.iter().count(), 1);
    }
}
