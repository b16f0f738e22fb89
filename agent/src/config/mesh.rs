//! `bgp.mesh` and `bgp.route_reflector`: peers found in the cluster's datastore instead of
//! written by hand (an iBGP full mesh, or eBGP between hosts of different ASNs), and route
//! reflection (RFC 4456) for clusters too large for a mesh.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Deserialize;

use super::{Config, DatastoreKind};

/// `bgp.mesh.*`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeshConfig {
    /// `enabled`: register this host in `ipam.etcd` and peer with every registered host (only
    /// with the route reflectors once there are some).
    #[serde(default)]
    pub enabled: bool,
    /// `address`: where the other hosts reach this one (default: the first IPv4 address of
    /// `dataplane.uplinks`, else `node.router_id`).
    #[serde(default)]
    pub address: Option<IpAddr>,
    /// `ipv6_address`: this host's IPv6 next hop for IPv6 routes over the mesh (dual stack);
    /// without it the mesh carries IPv4 only.
    #[serde(default)]
    pub ipv6_address: Option<Ipv6Addr>,
    /// `hold_time` in seconds for mesh sessions: 0, or at least 3 (default 90).
    #[serde(default = "default_hold_time")]
    pub hold_time: u16,
    /// `keepalive` in seconds (default: a third of the negotiated hold time).
    #[serde(default)]
    pub keepalive: Option<u16>,
    /// `connect_retry` in seconds (default 3).
    #[serde(default = "default_connect_retry")]
    pub connect_retry: u16,
    /// `password`: TCP MD5 key of every mesh session (the same on every host).
    #[serde(default)]
    pub password: Option<bgp::driver::Password>,
}

impl Default for MeshConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            address: None,
            ipv6_address: None,
            hold_time: default_hold_time(),
            keepalive: None,
            connect_retry: default_connect_retry(),
            password: None,
        }
    }
}

/// `bgp.route_reflector.*`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteReflectorConfig {
    /// `enabled`: this host reflects routes between the mesh's hosts, which then peer with the
    /// reflectors only.
    #[serde(default)]
    pub enabled: bool,
    /// `cluster_id`: the CLUSTER_ID (default `node.router_id`). Reflectors with the same id
    /// form one cluster and drop each other's reflections of it.
    #[serde(default)]
    pub cluster_id: Option<Ipv4Addr>,
}

impl Config {
    /// This host's CLUSTER_ID when it is a route reflector.
    pub fn cluster_id(&self) -> Option<Ipv4Addr> {
        let rr = &self.bgp.route_reflector;
        rr.enabled
            .then(|| rr.cluster_id.unwrap_or(self.node.router_id))
    }
}

/// The checks of `bgp.mesh` and `bgp.route_reflector`: (key, message).
pub(super) fn validate(c: &Config) -> Result<(), (String, String)> {
    let fail = |k: &str, m: &str| Err((k.to_string(), m.to_string()));
    let m = &c.bgp.mesh;
    if m.enabled && c.ipam.datastore != DatastoreKind::Etcd {
        return fail(
            "bgp.mesh.enabled",
            "the mesh finds hosts in the cluster datastore: it needs ipam.datastore: etcd",
        );
    }
    if c.bgp.route_reflector.enabled && !m.enabled {
        return fail(
            "bgp.route_reflector.enabled",
            "a route reflector finds its clients through bgp.mesh: enable it too",
        );
    }
    if let Some(a) = m.address {
        let broadcast = matches!(a, IpAddr::V4(v4) if v4.is_broadcast());
        if a.is_unspecified() || a.is_multicast() || broadcast || a.is_loopback() {
            return fail(
                "bgp.mesh.address",
                "must be a unicast address other hosts reach",
            );
        }
    }
    if let Some(a) = m.ipv6_address {
        if a.is_unspecified() || a.is_multicast() || a.is_loopback() {
            return fail("bgp.mesh.ipv6_address", "must be a unicast IPv6 address");
        }
    }
    if matches!(m.hold_time, 1 | 2) {
        return fail(
            "bgp.mesh.hold_time",
            "must be 0 or at least 3 seconds (RFC 4271 §4.2)",
        );
    }
    if m.connect_retry == 0 {
        return fail("bgp.mesh.connect_retry", "must be at least 1 second");
    }
    if let Some(k) = m.keepalive {
        if k == 0 || (m.hold_time > 0 && k >= m.hold_time) {
            return fail(
                "bgp.mesh.keepalive",
                "must be at least 1 second and below hold_time",
            );
        }
    }
    if let Some(p) = &m.password {
        let len = p.expose().len();
        if len == 0 || len > 80 {
            return Err((
                "bgp.mesh.password".into(),
                format!("is {len} bytes long; a TCP MD5 key is 1-80 bytes"),
            ));
        }
    }
    if c.bgp
        .route_reflector
        .cluster_id
        .is_some_and(|id| id.is_unspecified())
    {
        return fail("bgp.route_reflector.cluster_id", "must not be 0.0.0.0");
    }
    Ok(())
}

fn default_hold_time() -> u16 {
    90
}
fn default_connect_retry() -> u16 {
    3
}
