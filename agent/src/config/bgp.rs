//! `bgp.*`: where sessions are accepted, the peers with their policy, graceful restart,
//! multipath.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde::{Deserialize, Deserializer};

use super::default_true;
use super::policy::{ExportConfig, ImportConfig, PolicyConfig};

/// `bgp.*`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BgpConfig {
    /// `bgp.listen`: where to accept sessions.
    #[serde(default)]
    pub listen: ListenConfig,
    /// `bgp.peers`: the neighbours.
    #[serde(default)]
    pub peers: Vec<PeerConfig>,
    /// `bgp.graceful_restart`: RFC 4724, both roles.
    #[serde(default)]
    pub graceful_restart: GracefulRestartConfig,
    /// `bgp.bfd`: the BFD timers of every peer that does not set its own.
    #[serde(default)]
    pub bfd: super::BfdDefaults,
    /// `bgp.policies`: named route policies, for peers' `import` and `export`.
    #[serde(default, deserialize_with = "super::policy::unique_names")]
    pub policies: BTreeMap<String, PolicyConfig>,
    /// `bgp.mesh`: peers found in the cluster datastore.
    #[serde(default)]
    pub mesh: super::MeshConfig,
    /// `bgp.route_reflector`: reflect routes between the mesh's hosts (RFC 4456).
    #[serde(default)]
    pub route_reflector: super::RouteReflectorConfig,
    /// `bgp.shutdown_message`: the Shutdown Communication (RFC 9003) of the Cease/2 sent when
    /// latticed stops with graceful restart off.
    #[serde(default)]
    pub shutdown_message: Option<String>,
    /// `bgp.multipath`: which equal paths make one ECMP route.
    #[serde(default)]
    pub multipath: MultipathConfig,
}

/// `bgp.multipath.*`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultipathConfig {
    /// `relax` (default true): paths through different neighbouring ASes join the ECMP route
    /// when otherwise equal (FRR's `bgp bestpath as-path multipath-relax`, on by default in
    /// Cumulus): a host dual-homed to two leaves, each of its own AS, uses both.
    #[serde(default = "default_true")]
    pub relax: bool,
    /// `maximum_paths` (default 8, 1-64): next hops of one ECMP route at most.
    #[serde(default = "default_maximum_paths")]
    pub maximum_paths: u16,
}

impl Default for MultipathConfig {
    fn default() -> Self {
        Self {
            relax: true,
            maximum_paths: default_maximum_paths(),
        }
    }
}

/// A peer's `asn`: a number, `external` (any AS but ours) or `internal` (ours).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerAsn {
    /// Exactly this AS.
    Number(u32),
    /// `external`.
    External,
    /// `internal`.
    Internal,
}

impl<'de> Deserialize<'de> for PeerAsn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = PeerAsn;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an AS number (1-4294967295), `external` or `internal`")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<PeerAsn, E> {
                u32::try_from(v)
                    .map(PeerAsn::Number)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<PeerAsn, E> {
                u64::try_from(v)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PeerAsn, E> {
                match v {
                    "external" => Ok(PeerAsn::External),
                    "internal" => Ok(PeerAsn::Internal),
                    other => other
                        .parse::<u32>()
                        .map(PeerAsn::Number)
                        .map_err(|_| E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl From<PeerAsn> for bgp::driver::RemoteAs {
    fn from(a: PeerAsn) -> Self {
        match a {
            PeerAsn::Number(n) => bgp::driver::RemoteAs::Number(n),
            PeerAsn::External => bgp::driver::RemoteAs::External,
            PeerAsn::Internal => bgp::driver::RemoteAs::Internal,
        }
    }
}

/// `bgp.graceful_restart.*`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GracefulRestartConfig {
    /// `enabled` (default true): keep a restarting peer's routes, and announce that ours
    /// survive our own restart.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// `restart_time` in seconds (default 120, at most 4095): how long peers keep our routes.
    #[serde(default = "default_restart_time")]
    pub restart_time: u16,
}

impl Default for GracefulRestartConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            restart_time: default_restart_time(),
        }
    }
}

/// `bgp.listen.*`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenConfig {
    /// `bgp.listen.address` (default `::`, both families, when a peer is IPv6 or an interface;
    /// else 0.0.0.0).
    #[serde(default)]
    pub address: Option<IpAddr>,
    /// `bgp.listen.port` (default 179).
    #[serde(default = "default_bgp_port")]
    pub port: u16,
}

/// One entry of `bgp.peers`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// `address`: the neighbour's address (IPv4 or IPv6); exactly one of this and `interface`.
    #[serde(default)]
    pub address: Option<IpAddr>,
    /// `interface`: peer with whoever is on the other end of this interface, over IPv6
    /// link-local addresses (BGP unnumbered); exactly one of this and `address`.
    #[serde(default)]
    pub interface: Option<String>,
    /// `asn`: the neighbour's AS, or `external` / `internal`.
    pub asn: PeerAsn,
    /// `hold_time` in seconds: 0, or at least 3 (default 90).
    #[serde(default = "default_hold_time")]
    pub hold_time: u16,
    /// `port` (default 179).
    #[serde(default = "default_bgp_port")]
    pub port: u16,
    /// `passive`: only accept, never connect (default false).
    #[serde(default)]
    pub passive: bool,
    /// `connect_retry` in seconds (default 3).
    #[serde(default = "default_connect_retry")]
    pub connect_retry: u16,
    /// `local_address`: source address of our connections to this peer.
    #[serde(default)]
    pub local_address: Option<IpAddr>,
    /// `keepalive` in seconds (default: a third of the negotiated hold time).
    #[serde(default)]
    pub keepalive: Option<u16>,
    /// `allow_as_in`: how often our own AS may appear in a received path (default 0).
    #[serde(default)]
    pub allow_as_in: u8,
    /// `max_prefixes`: close the session (Cease/1) above this many accepted prefixes.
    #[serde(default)]
    pub max_prefixes: Option<u32>,
    /// `import`: accepted prefixes (default: `cluster.cidr` and longer, plus 0.0.0.0/0), or the
    /// name of a policy in `bgp.policies`.
    #[serde(default)]
    pub import: Option<ImportConfig>,
    /// `export`: prefixes announced to this peer besides the host's block(s) (default none), or
    /// the name of a policy in `bgp.policies` deciding what of ours it is sent.
    #[serde(default)]
    pub export: ExportConfig,
    /// `communities`: set on every route announced to this peer: `ASN:VALUE` (RFC 1997) or
    /// `ASN:DATA1:DATA2` (large, RFC 8092).
    #[serde(default)]
    pub communities: Vec<String>,
    /// `address_families`: `ipv4`, `ipv6` (default: `ipv4`, plus `ipv6` for an IPv6 neighbour).
    #[serde(default)]
    pub address_families: Option<Vec<String>>,
    /// `ipv4_next_hop`: next hop of IPv4 routes sent over an IPv6 session.
    #[serde(default)]
    pub ipv4_next_hop: Option<Ipv4Addr>,
    /// `ipv6_next_hop`: next hop of IPv6 routes sent over an IPv4 session.
    #[serde(default)]
    pub ipv6_next_hop: Option<std::net::Ipv6Addr>,
    /// `password`: TCP MD5 signature key (RFC 2385), 1-80 bytes (default none: unsigned).
    #[serde(default)]
    pub password: Option<bgp::driver::Password>,
    /// `bfd`: a BFD session protecting the BGP session (default: none).
    #[serde(default)]
    pub bfd: super::PeerBfdConfig,
    /// `ebgp_multihop`: TTL of an eBGP session's packets (default 1: directly connected).
    #[serde(default)]
    pub ebgp_multihop: Option<u8>,
    /// `ttl_security`: GTSM (RFC 5082): send TTL 255, accept only 254 and above.
    #[serde(default)]
    pub ttl_security: bool,
}

/// A parsed `communities` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Community {
    /// `ASN:VALUE`, both 16 bits.
    Standard(u32),
    /// `ASN:DATA1:DATA2`, each 32 bits.
    Large(bgp::wire::LargeCommunity),
}

impl std::str::FromStr for Community {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let bad = || format!("{s:?} is neither ASN:VALUE nor ASN:DATA1:DATA2");
        match parts.as_slice() {
            [a, v] => {
                let a: u16 = a.parse().map_err(|_| bad())?;
                let v: u16 = v.parse().map_err(|_| bad())?;
                Ok(Community::Standard((u32::from(a) << 16) | u32::from(v)))
            }
            [g, l1, l2] => Ok(Community::Large(bgp::wire::LargeCommunity {
                global: g.parse().map_err(|_| bad())?,
                local1: l1.parse().map_err(|_| bad())?,
                local2: l2.parse().map_err(|_| bad())?,
            })),
            _ => Err(bad()),
        }
    }
}

impl PeerConfig {
    /// The parsed `communities` (validation has refused bad ones).
    pub fn parsed_communities(&self) -> Vec<Community> {
        self.communities
            .iter()
            .filter_map(|c| c.parse().ok())
            .collect()
    }

    /// Whether `family` ("ipv4"/"ipv6") is exchanged with this peer.
    pub fn has_family(&self, family: &str) -> bool {
        match &self.address_families {
            Some(list) => list.iter().any(|f| f == family),
            None => family == "ipv4" || (family == "ipv6" && self.is_ipv6()),
        }
    }

    /// Whether sessions run over IPv6 (an interface peer's always do).
    pub fn is_ipv6(&self) -> bool {
        self.interface.is_some() || self.address.is_some_and(|a| a.is_ipv6())
    }

    /// The speaker's key for this peer (validation makes sure there is one).
    pub fn key(&self) -> bgp::PeerKey {
        match (&self.interface, self.address) {
            (Some(name), _) => bgp::PeerKey::Interface(name.clone()),
            (None, Some(a)) => bgp::PeerKey::Address(a),
            (None, None) => bgp::PeerKey::Address(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        }
    }
}

impl BgpConfig {
    /// `bgp.listen` as a socket address: `::` (both families) by default when a peer is IPv6
    /// or an interface, else 0.0.0.0.
    pub fn listen_addr(&self) -> SocketAddr {
        let any_v6 = self.peers.iter().any(PeerConfig::is_ipv6);
        let default = if any_v6 {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        };
        SocketAddr::new(self.listen.address.unwrap_or(default), self.listen.port)
    }
}

impl Default for ListenConfig {
    fn default() -> Self {
        Self {
            address: None,
            port: default_bgp_port(),
        }
    }
}

fn default_maximum_paths() -> u16 {
    8
}
fn default_bgp_port() -> u16 {
    179
}
fn default_restart_time() -> u16 {
    120
}
fn default_hold_time() -> u16 {
    90
}
fn default_connect_retry() -> u16 {
    3
}
