//! How a peer is named: the key of the speaker's maps and commands, of its status, of the MD5
//! keys on the listener, and of what the agent shows (API, metrics labels).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One neighbour's identity.
///
/// A peer is configured by its address, or by the interface it is on (BGP unnumbered). Dynamic
/// peers (discovered, or accepted from a range) would be further variants; each `match` on this
/// enum is a place the compiler sends you to. Shown (`Display`, JSON, metrics labels) as the
/// bare address or the interface name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum PeerKey {
    /// A neighbour configured by its address (`address: 10.0.12.1`): we connect to it, and
    /// accept connections from it, at that address.
    Address(IpAddr),
    /// The neighbour on the other end of an interface (`interface: eth1`): sessions run between
    /// the two IPv6 link-local addresses, the neighbour's learned from its Router
    /// Advertisements (or Neighbor Discovery), so the link needs no address of its own.
    Interface(String),
}

impl PeerKey {
    /// The address sessions with this peer run to and from, if it is fixed (an interface
    /// peer's is whatever link-local address its neighbour has).
    pub fn address(&self) -> Option<IpAddr> {
        match self {
            PeerKey::Address(a) => Some(*a),
            PeerKey::Interface(_) => None,
        }
    }

    /// The interface of an interface peer.
    pub fn interface(&self) -> Option<&str> {
        match self {
            PeerKey::Address(_) => None,
            PeerKey::Interface(name) => Some(name),
        }
    }

    /// Whether sessions run over IPv6 (an interface peer's always do).
    pub fn is_ipv6(&self) -> bool {
        match self {
            PeerKey::Address(a) => a.to_canonical().is_ipv6(),
            PeerKey::Interface(_) => true,
        }
    }
}

impl fmt::Display for PeerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerKey::Address(a) => a.fmt(f),
            PeerKey::Interface(name) => name.fmt(f),
        }
    }
}

/// A string that names no peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a peer (expected an IPv4 or IPv6 address or an interface name)")]
pub struct BadPeerKey(String);

/// Whether Linux would take `name` for an interface (`dev_valid_name`): 1-15 bytes, not `.` or
/// `..`, no `/`, `:` or whitespace.
pub fn is_interface_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 16
        && name != "."
        && name != ".."
        && !name.contains(['/', ':'])
        && !name.contains(char::is_whitespace)
}

impl FromStr for PeerKey {
    type Err = BadPeerKey;

    /// An address, else an interface name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.parse::<IpAddr>() {
            Ok(a) => Ok(PeerKey::Address(a)),
            Err(_) if is_interface_name(s) => Ok(PeerKey::Interface(s.to_string())),
            Err(_) => Err(BadPeerKey(s.to_string())),
        }
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
            assert_eq!(key.address(), Some(addr));
        }
        assert!(serde_json::from_str::<PeerKey>("\"not a peer\"").is_err());
    }

    #[test]
    fn an_interface_key_shows_and_serialises_as_the_interface_name() {
        let key: PeerKey = "eth1".parse().unwrap();
        assert_eq!(key, PeerKey::Interface("eth1".into()));
        assert_eq!(key.to_string(), "eth1");
        assert_eq!(key.address(), None);
        assert_eq!(key.interface(), Some("eth1"));
        assert!(key.is_ipv6());
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(json, "\"eth1\"");
        assert_eq!(serde_json::from_str::<PeerKey>(&json).unwrap(), key);
        for bad in ["", "a/b", "eth 1", "0123456789abcdef", "..", "eth1:0"] {
            assert!(bad.parse::<PeerKey>().is_err(), "{bad:?}");
        }
        assert!(!PeerKey::Address("10.0.0.1".parse().unwrap()).is_ipv6());
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
