//! What a host registers about itself in the cluster datastore (`PREFIX/hosts/NAME`, on its
//! lease): enough for every other host to peer with it. JSON, so other tools can read it.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// One host's registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRecord {
    /// `node.name`.
    pub name: String,
    /// `node.asn`.
    pub asn: u32,
    /// `node.router_id`.
    pub router_id: Ipv4Addr,
    /// Where its BGP sessions are reached: the first address is the session's; an IPv6
    /// address after it is its next hop for IPv6 routes over an IPv4 session.
    pub addresses: Vec<IpAddr>,
    /// Its BGP port (`bgp.listen.port`).
    #[serde(default = "default_port")]
    pub port: u16,
    /// The blocks it holds (announced over BGP too; here for operators and tools).
    #[serde(default)]
    pub blocks: Vec<IpNet>,
    /// Its CLUSTER_ID when it is a route reflector.
    #[serde(default)]
    pub route_reflector: Option<Ipv4Addr>,
}

fn default_port() -> u16 {
    179
}

impl HostRecord {
    /// The address its sessions run to.
    pub fn session_address(&self) -> Option<IpAddr> {
        self.addresses.first().copied()
    }

    /// Its IPv6 next hop, if it registered one beside an IPv4 session address.
    pub fn ipv6_next_hop(&self) -> Option<std::net::Ipv6Addr> {
        self.addresses.iter().skip(1).find_map(|a| match a {
            IpAddr::V6(v6) => Some(*v6),
            IpAddr::V4(_) => None,
        })
    }

    /// The record as stored.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A stored record; `None` if it is not one (another version's, or damaged).
    pub fn from_json(text: &str) -> Option<HostRecord> {
        serde_json::from_str(text).ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_record_round_trips_and_old_or_odd_ones_are_read_or_refused() {
        let r = HostRecord {
            name: "h1".into(),
            asn: 64512,
            router_id: "10.0.0.1".parse().unwrap(),
            addresses: vec!["10.0.0.1".parse().unwrap(), "fd00::1".parse().unwrap()],
            port: 179,
            blocks: vec!["10.244.0.0/24".parse().unwrap()],
            route_reflector: Some("10.0.0.1".parse().unwrap()),
        };
        assert_eq!(HostRecord::from_json(&r.to_json()), Some(r.clone()));
        assert_eq!(r.ipv6_next_hop(), Some("fd00::1".parse().unwrap()));
        let minimal =
            r#"{"name":"h2","asn":64512,"router_id":"10.0.0.2","addresses":["10.0.0.2"]}"#;
        let m = HostRecord::from_json(minimal).unwrap();
        assert_eq!(
            (m.port, m.route_reflector, m.ipv6_next_hop()),
            (179, None, None)
        );
        assert_eq!(HostRecord::from_json("{\"name\":3}"), None);
        assert_eq!(HostRecord::from_json("not json"), None);
    }
}
