//! Where a route's packets go: an address, and for a link-local one the interface it is on.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A forwarding next hop. A link-local address means nothing without its zone (RFC 4007 §6),
/// so an IPv6 link-local next hop carries the index of the interface it was learned on; any
/// other address does not (the kernel finds its interface from the connected prefixes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct NextHop {
    /// The gateway's address.
    pub address: IpAddr,
    /// The interface of a link-local gateway; `None` for every other address, and for a
    /// link-local one whose interface is unknown (which cannot be installed).
    pub ifindex: Option<u32>,
}

impl NextHop {
    /// `address` on interface `ifindex`, which is kept only for an IPv6 link-local address.
    pub fn new(address: IpAddr, ifindex: Option<u32>) -> Self {
        let ifindex = ifindex.filter(|_| is_link_local(address));
        NextHop { address, ifindex }
    }

    /// Whether the address is IPv6 link-local (fe80::/10), so it needs its interface.
    pub fn is_link_local(&self) -> bool {
        is_link_local(self.address)
    }
}

fn is_link_local(address: IpAddr) -> bool {
    matches!(address, IpAddr::V6(a) if a.is_unicast_link_local())
}

impl From<IpAddr> for NextHop {
    fn from(address: IpAddr) -> Self {
        NextHop {
            address,
            ifindex: None,
        }
    }
}

/// `10.0.0.1`, `fd00::1`, or `fe80::1%3` (the interface index of a link-local next hop).
impl fmt::Display for NextHop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ifindex {
            Some(i) => write!(f, "{}%{i}", self.address),
            None => self.address.fmt(f),
        }
    }
}

/// A string that is not a next hop.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a next hop (ADDRESS or LINK-LOCAL%IFINDEX)")]
pub struct BadNextHop(String);

impl FromStr for NextHop {
    type Err = BadNextHop;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadNextHop(s.to_string());
        let (addr, zone) = match s.split_once('%') {
            Some((a, z)) => (a, Some(z.parse::<u32>().map_err(|_| bad())?)),
            None => (s, None),
        };
        let address: IpAddr = addr.parse().map_err(|_| bad())?;
        if zone.is_some() && !is_link_local(address) {
            return Err(bad());
        }
        Ok(NextHop::new(address, zone))
    }
}

impl TryFrom<String> for NextHop {
    type Error = BadNextHop;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<NextHop> for String {
    fn from(hop: NextHop) -> String {
        hop.to_string()
    }
}

/// A next hop equals an address when it is that address on no particular interface.
impl PartialEq<IpAddr> for NextHop {
    fn eq(&self, other: &IpAddr) -> bool {
        self.address == *other && self.ifindex.is_none()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_link_local_next_hops_keep_their_interface() {
        let ll = NextHop::new("fe80::1".parse().unwrap(), Some(3));
        assert_eq!(ll.to_string(), "fe80::1%3");
        assert_eq!("fe80::1%3".parse::<NextHop>().unwrap(), ll);
        let global = NextHop::new("fd00::1".parse().unwrap(), Some(3));
        assert_eq!(global.ifindex, None);
        assert_eq!(global.to_string(), "fd00::1");
        assert_eq!(
            "10.0.0.1".parse::<NextHop>().unwrap().to_string(),
            "10.0.0.1"
        );
        for bad in ["10.0.0.1%3", "fe80::1%eth1", "eth1", ""] {
            assert!(bad.parse::<NextHop>().is_err(), "{bad}");
        }
        let json = serde_json::to_string(&ll).unwrap();
        assert_eq!(json, "\"fe80::1%3\"");
        assert_eq!(serde_json::from_str::<NextHop>(&json).unwrap(), ll);
    }
}
