//! latticed's YAML configuration. Key names are stable: they are extended, never renamed.
//!
//! Every error names the file, the line and the key path: `FILE:LINE: bgp.peers[0].hold_time: ...`.

mod bfd;
mod bgp;
mod bounds;
mod error;
mod ipam;
mod locate;
mod mesh;
pub mod policy;
mod sanity;
mod validate;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use ipnet::{Ipv4Net, Ipv6Net};
use serde::Deserialize;

pub use self::ipam::{DatastoreKind, EtcdConfig, FanConfig, IpamConfig, UplinkAddresses};
pub use bfd::{BfdDefaults, BfdTimers, PeerBfdConfig};
pub use bgp::{
    BgpConfig, Community, GracefulRestartConfig, ListenConfig, MultipathConfig, PeerAsn, PeerConfig,
};
pub use bounds::{MAX_CONFIG_BYTES, MAX_NESTING};
pub use error::{ConfigError, Problem};
pub use mesh::{MeshConfig, RouteReflectorConfig};
pub use policy::{ExportConfig, ImportConfig, NamedOr, PolicyConfig};
pub use sanity::{own_addresses, MAX_SOCKET_PATH};

use crate::dataplane::{DataplaneMode, Wiring};

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `node`: who this host is.
    pub node: NodeConfig,
    /// `cluster`: the address ranges shared by every host.
    pub cluster: ClusterConfig,
    /// `ipam`: how this host gets its block and stores its allocations.
    #[serde(default)]
    pub ipam: IpamConfig,
    /// `dataplane`: how containers are wired.
    #[serde(default)]
    pub dataplane: DataplaneConfig,
    /// `bgp`: the embedded speaker.
    #[serde(default)]
    pub bgp: BgpConfig,
    /// `api`: the local unix-socket API.
    #[serde(default)]
    pub api: ApiConfig,
    /// The Prometheus endpoint.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// `docker`: the libnetwork remote network and IPAM driver.
    #[serde(default)]
    pub docker: DockerConfig,
}

/// `node.*`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// `node.name`: shown by `lattice status` and to peers.
    pub name: String,
    /// `node.asn`: this host's AS number (4-octet allowed).
    pub asn: u32,
    /// `node.router_id`: BGP identifier, dotted (`10.0.0.1`) or just a number (`42`): it
    /// need not be an address of the host (RFC 6286), so an IPv6-only host has one too.
    #[serde(deserialize_with = "router_id")]
    pub router_id: Ipv4Addr,
}

/// A BGP identifier: a dotted quad, or the 32-bit number it stands for.
fn router_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Ipv4Addr, D::Error> {
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = Ipv4Addr;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an IPv4 address or a number from 1 to 4294967295")
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Ipv4Addr, E> {
            u32::try_from(v)
                .map(Ipv4Addr::from)
                .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Ipv4Addr, E> {
            u64::try_from(v)
                .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
                .and_then(|v| self.visit_u64(v))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Ipv4Addr, E> {
            v.parse::<Ipv4Addr>()
                .or_else(|_| v.parse::<u32>().map(Ipv4Addr::from))
                .map_err(|_| E::invalid_value(serde::de::Unexpected::Str(v), &self))
        }
    }
    d.deserialize_any(Visitor)
}

/// `cluster.*`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// `cluster.cidr`: the range every host block is carved from.
    pub cidr: Ipv4Net,
    /// `cluster.block_prefix_len`: size of a host block (default 24).
    #[serde(default = "default_block_prefix_len")]
    pub block_prefix_len: u8,
    /// `cluster.cidr_v6`: the IPv6 range for dual stack; each container also gets an IPv6
    /// address from it.
    #[serde(default)]
    pub cidr_v6: Option<Ipv6Net>,
    /// `cluster.block_prefix_len_v6`: size of an IPv6 host block (default 120).
    #[serde(default = "default_block_prefix_len_v6")]
    pub block_prefix_len_v6: u8,
}

/// `dataplane.*`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataplaneConfig {
    /// `dataplane.mode`: `routed-veth` (default), `ipvlan-l3`, `ipvlan-l3s`.
    #[serde(default)]
    pub mode: DataplaneMode,
    /// `dataplane.uplinks`: interfaces towards the fabric; the first gives the container MTU.
    #[serde(default)]
    pub uplinks: Vec<String>,
    /// `dataplane.mtu`: container MTU, overriding the uplink's.
    #[serde(default)]
    pub mtu: Option<u32>,
    /// `dataplane.parent`: the ipvlan parent interface (required by the ipvlan modes).
    #[serde(default)]
    pub parent: Option<String>,
    /// `dataplane.resync_interval`: seconds between full kernel resyncs.
    #[serde(default = "default_resync_interval")]
    pub resync_interval: u32,
    /// `dataplane.netlink_receive_buffer`: bytes of socket buffer for kernel notifications.
    #[serde(default = "default_netlink_receive_buffer")]
    pub netlink_receive_buffer: u32,
}

/// `api.*`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// `api.socket`: the unix socket path (default `/run/lattice/lattice.sock`).
    #[serde(default = "default_socket")]
    pub socket: PathBuf,
}

/// `metrics`: where `/metrics` is served.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve `/metrics` at all.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Address and port of the HTTP listener (loopback by default: metrics say a lot about the
    /// host, so exposing them beyond it is a deliberate choice).
    #[serde(default = "default_metrics_listen")]
    pub listen: SocketAddr,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: default_metrics_listen(),
        }
    }
}

fn default_metrics_listen() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9469)
}

/// `docker.*`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockerConfig {
    /// `docker.enabled`: serve Docker's remote driver protocol (default true; a socket that
    /// cannot be bound is logged and skipped, never fatal).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// `docker.socket`: where Docker finds the plugin (default
    /// `/run/docker/plugins/lattice.sock`, which makes the driver's name `lattice`).
    #[serde(default = "default_docker_socket")]
    pub socket: PathBuf,
}

impl Config {
    /// Read and validate a configuration file: at most [`bounds::MAX_CONFIG_BYTES`] of it are
    /// read, and it must be UTF-8.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = bounds::read(path)?;
        Self::from_yaml_str(&text, &path.display().to_string())
    }

    /// Parse and validate YAML text; `origin` names it in errors. Text over
    /// [`bounds::MAX_CONFIG_BYTES`] or nested deeper than [`bounds::MAX_NESTING`] is refused
    /// before it is parsed.
    pub fn from_yaml_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
        bounds::check(text, origin)?;
        let deserializer = serde_yaml_ng::Deserializer::from_str(text);
        let config: Config = serde_path_to_error::deserialize(deserializer)
            .map_err(|e| ConfigError::from_yaml(origin, text, &e))?;
        validate::validate(&config).map_err(|(key, message)| ConfigError::Invalid {
            origin: origin.to_string(),
            line: locate::line_of(text, &key),
            key,
            message,
        })?;
        Ok(config)
    }

    /// The wiring `dataplane.mode` asks for (the ipvlan modes need `dataplane.parent`).
    pub fn wiring(&self) -> Result<Wiring, Problem> {
        Wiring::for_mode(self.dataplane.mode, self.dataplane.parent.as_deref())
            .map_err(|message| Problem::new("dataplane.parent", message))
    }
}

fn default_block_prefix_len() -> u8 {
    24
}
fn default_block_prefix_len_v6() -> u8 {
    ::ipam::DEFAULT_BLOCK_PREFIX_LEN_V6
}
fn default_resync_interval() -> u32 {
    30
}
fn default_netlink_receive_buffer() -> u32 {
    8 << 20
}
pub(crate) fn default_true() -> bool {
    true
}
fn default_socket() -> PathBuf {
    "/run/lattice/lattice.sock".into()
}
fn default_docker_socket() -> PathBuf {
    "/run/docker/plugins/lattice.sock".into()
}

impl Default for DockerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            socket: default_docker_socket(),
        }
    }
}

impl Default for DataplaneConfig {
    fn default() -> Self {
        Self {
            mode: DataplaneMode::default(),
            uplinks: Vec::new(),
            mtu: None,
            parent: None,
            resync_interval: default_resync_interval(),
            netlink_receive_buffer: default_netlink_receive_buffer(),
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            socket: default_socket(),
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_bfd;
