//! Docker's IPv6 addresses against Lattice's per-key dual-stack reservations.
//!
//! libnetwork asks the IPAM driver for an endpoint's IPv4 address and then for its IPv6 address,
//! in two calls that name no endpoint, and gives them back in two more. Lattice's IPAM reserves
//! both families of a key at once. So the IPv4 request reserves the key and parks its IPv6
//! address; the IPv6 request hands out the oldest parked one. Two endpoints set up at once can
//! end up holding each other's IPv6 address, so a key goes back to IPAM only once Docker has
//! returned both of its addresses: never while any of them is still in use. Sans-IO: the
//! driver asks, then calls the backend.

use std::collections::{BTreeSet, VecDeque};
use std::net::Ipv6Addr;

use serde::{Deserialize, Serialize};

/// Which keys have which of their addresses out with Docker.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pairing {
    /// IPv6 addresses reserved with an IPv4 request and not yet handed out, oldest first. Not
    /// kept across restarts: an endpoint is set up within one driver's life.
    #[serde(skip)]
    parked: VecDeque<(String, Ipv6Addr)>,
    /// Keys whose IPv6 address Docker holds.
    v6_out: BTreeSet<String>,
    /// Keys whose IPv4 address Docker gave back while their IPv6 address is still out.
    v4_back: BTreeSet<String>,
}

impl Pairing {
    /// An IPv4 request reserved `key`, which comes with `v6` on a dual-stack host.
    pub fn reserved(&mut self, key: &str, v6: Option<Ipv6Addr>) {
        if let Some(v6) = v6 {
            self.parked.push_back((key.to_string(), v6));
        }
    }

    /// The IPv6 address to answer an IPv6 request with (and its key), if one is parked.
    pub fn hand_out_v6(&mut self) -> Option<(String, Ipv6Addr)> {
        let (key, v6) = self.parked.pop_front()?;
        self.v6_out.insert(key.clone());
        Some((key, v6))
    }

    /// Docker gave back `key`'s IPv4 address: true if the key may go back to IPAM now.
    pub fn v4_released(&mut self, key: &str) -> bool {
        self.parked.retain(|(k, _)| k != key);
        if self.v6_out.contains(key) {
            self.v4_back.insert(key.to_string());
            false
        } else {
            true
        }
    }

    /// Docker gave back `key`'s IPv6 address: true if the key may go back to IPAM now.
    pub fn v6_released(&mut self, key: &str) -> bool {
        let was_out = self.v6_out.remove(key);
        let v4_back = self.v4_back.remove(key);
        was_out && v4_back
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(n: u16) -> Option<Ipv6Addr> {
        Some(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, n))
    }

    #[test]
    fn one_endpoint_goes_back_once_both_addresses_are_back() {
        let mut p = Pairing::default();
        p.reserved("a", v6(1));
        assert_eq!(p.hand_out_v6(), Some(("a".into(), v6(1).unwrap())));
        assert!(!p.v4_released("a"), "its IPv6 address is still out");
        assert!(p.v6_released("a"));
        assert_eq!(p, Pairing::default());
    }

    #[test]
    fn ipv4_only_endpoints_go_back_at_once() {
        let mut p = Pairing::default();
        p.reserved("a", v6(1));
        p.reserved("b", None);
        assert!(p.v4_released("a"), "never handed out");
        assert!(p.v4_released("b"));
        assert_eq!(p.hand_out_v6(), None, "a's parked address went with it");
    }

    #[test]
    fn crossed_endpoints_release_nothing_in_use() {
        let mut p = Pairing::default();
        // A's and B's IPv4 requests, then B's IPv6 request first: B holds a's IPv6 address.
        p.reserved("a", v6(1));
        p.reserved("b", v6(2));
        let (for_b, _) = p.hand_out_v6().unwrap();
        let (for_a, _) = p.hand_out_v6().unwrap();
        assert_eq!((for_b.as_str(), for_a.as_str()), ("a", "b"));
        // A goes: its IPv4 (key a) and its IPv6 (key b) come back; b's IPv4 is still B's.
        assert!(!p.v4_released("a"));
        assert!(!p.v6_released("b"));
        // B goes: now both keys are free.
        assert!(p.v4_released("b"));
        assert!(p.v6_released("a"));
        assert_eq!(p, Pairing::default());
    }

    #[test]
    fn survives_a_round_trip_without_the_parked_addresses() {
        let mut p = Pairing::default();
        p.reserved("a", v6(1));
        p.hand_out_v6();
        p.reserved("b", v6(2));
        let text = serde_json::to_string(&p).unwrap();
        let mut back: Pairing = serde_json::from_str(&text).unwrap();
        assert_eq!(back.hand_out_v6(), None);
        assert!(!back.v4_released("a"));
        assert!(back.v6_released("a"));
    }
}
