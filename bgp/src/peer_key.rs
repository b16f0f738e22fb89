//! How a peer is named: the key of the speaker's maps and commands, of its status, of the MD5
//! keys on the listener, and of what the agent shows (API, metrics labels).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One neighbour's identity.
///
/// Every peer is configured by its address today. Interface peers (`interface: eth1`, BGP
/// unnumbered) and dynamic peers (discovered, or accepted from a range) become further variants;
/// each `match` on this enum is then a place the compiler sends you to. Shown (`Display`, JSON,
/// metrics labels) as the bare address, as before the key existed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum PeerKey {
    /// A neighbour configured by its address (`address: 10.0.12.1`): we connect to it, and
    /// accept connections from it, at that address.
    Address(IpAddr),
}

impl PeerKey {
    /// The address sessions with this peer run to and from.
    pub fn address(&self) -> IpAddr {
        match self {
            PeerKey::Address(a) => *a,
        }
    }
}

impl fmt::Display for PeerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerKey::Address(a) => a.fmt(f),
        }
    }
}

/// A string that names no peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a peer (expected an IPv4 or IPv6 address)")]
pub struct BadPeerKey(String);

impl FromStr for PeerKey {
    type Err = BadPeerKey;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<IpAddr>()
            .map(PeerKey::Address)
            .map_err(|_| BadPeerKey(s.to_string()))
    }
}

impl TryFrom<String> for PeerKey {
    type Error = BadPeerKey;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<PeerKey> for String {
    fn from(key: PeerKey) -> String {
        key.to_string()
    }
}

impl From<IpAddr> for PeerKey {
    fn from(a: IpAddr) -> Self {
        PeerKey::Address(a)
    }
}

impl From<Ipv4Addr> for PeerKey {
    fn from(a: Ipv4Addr) -> Self {
        PeerKey::Address(a.into())
    }
}

impl From<Ipv6Addr> for PeerKey {
    fn from(a: Ipv6Addr) -> Self {
        PeerKey::Address(a.into())
    }
}

/// A peer key equals an address when it names the peer at that address.
impl PartialEq<IpAddr> for PeerKey {
    fn eq(&self, other: &IpAddr) -> bool {
        matches!(self, PeerKey::Address(a) if a == other)
    }
}

impl PartialEq<PeerKey> for IpAddr {
    fn eq(&self, other: &PeerKey) -> bool {
        other == self
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn an_address_key_shows_and_serialises_as_the_bare_address() {
        for text in ["10.0.12.1", "fd00::1"] {
            let key: PeerKey = text.parse().unwrap();
            assert_eq!(key.to_string(), text);
            let json = serde_json::to_string(&key).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<PeerKey>(&json).unwrap(), key);
            let addr: IpAddr = text.parse().unwrap();
            assert_eq!(key, addr);
            assert_eq!(addr, key);
            assert_eq!(key.address(), addr);
        }
        assert!("eth1".parse::<PeerKey>().is_err());
        assert!(serde_json::from_str::<PeerKey>("\"not a peer\"").is_err());
    }

    #[test]
    fn keys_sort_like_their_addresses() {
        let mut keys: Vec<PeerKey> = ["10.0.0.9", "10.0.0.10", "::1", "10.0.0.1"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        keys.sort();
        let shown: Vec<String> = keys.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["10.0.0.1", "10.0.0.9", "10.0.0.10", "::1"]);
    }
}
