//! `ipam.*`: the datastore the host's blocks come from, and its settings.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::Deserialize;

use super::{Config, Problem};

/// `ipam.datastore`: where the host's blocks come from. [`Config::ipam_settings`] is the one
/// place it is matched on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatastoreKind {
    /// `local`: the configured blocks.
    #[default]
    Local,
    /// `fan`: blocks computed from the host's underlay address (`ipam.fan`).
    Fan,
    /// `etcd`: blocks claimed in etcd (`ipam.etcd`).
    Etcd,
}

/// `ipam.*`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpamConfig {
    /// `ipam.datastore`: where blocks and allocations live (default `local`).
    #[serde(default)]
    pub datastore: DatastoreKind,
    /// `ipam.state_dir`: the local datastore's directory (default `/var/lib/lattice`).
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// `ipam.block`: this host's block; if absent, `ipam.node_index` chooses it.
    #[serde(default)]
    pub block: Option<Ipv4Net>,
    /// `ipam.node_index`: the index of this host's block inside `cluster.cidr` (and
    /// `cluster.cidr_v6`).
    #[serde(default)]
    pub node_index: Option<u32>,
    /// `ipam.block_v6`: this host's IPv6 block; if absent, `ipam.node_index` chooses it.
    #[serde(default)]
    pub block_v6: Option<Ipv6Net>,
    /// `ipam.blocks`: further blocks a `local` host may borrow when its blocks are full.
    #[serde(default)]
    pub blocks: Vec<IpNet>,
    /// `ipam.max_blocks_per_host`: blocks held per family at most (default 4).
    #[serde(default = "default_max_blocks")]
    pub max_blocks_per_host: usize,
    /// `ipam.block_grace_period` in seconds: how long a drained borrowed block, or a dead
    /// host's blocks in etcd, are kept before they return to the pool (default 300).
    #[serde(default = "default_grace")]
    pub block_grace_period: u64,
    /// `ipam.leak_grace_period` in seconds: an attachment whose container namespace is gone
    /// and that got no DEL for this long is released (default 300; 0 never releases).
    #[serde(default = "default_leak_grace")]
    pub leak_grace_period: u64,
    /// `ipam.fan`: settings of the `fan` datastore.
    #[serde(default)]
    pub fan: Option<FanConfig>,
    /// `ipam.etcd`: settings of the `etcd` datastore.
    #[serde(default)]
    pub etcd: Option<EtcdConfig>,
}

/// `ipam.fan.*`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FanConfig {
    /// `ipam.fan.underlay`: the range of the hosts' underlay addresses.
    pub underlay: Ipv4Net,
    /// `ipam.fan.address`: this host's underlay address (default `node.router_id`).
    #[serde(default)]
    pub address: Option<Ipv4Addr>,
}

/// `ipam.etcd.*`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EtcdConfig {
    /// `ipam.etcd.endpoints`: client URLs, e.g. `http://10.0.0.10:2379`.
    pub endpoints: Vec<String>,
    /// `ipam.etcd.prefix`: key prefix of this cluster (default `/lattice`).
    #[serde(default = "default_etcd_prefix")]
    pub prefix: String,
    /// `ipam.etcd.ca_file`: CA bundle (PEM) etcd's certificate must chain to; required with
    /// `https://` endpoints.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// `ipam.etcd.cert_file`: client certificate (PEM) for etcd's `--client-cert-auth`.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// `ipam.etcd.key_file`: its private key (PEM).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// `ipam.etcd.username`: etcd user, when etcd has authentication enabled.
    #[serde(default)]
    pub username: Option<String>,
    /// `ipam.etcd.password`: that user's password.
    #[serde(default)]
    pub password: Option<ipam::etcd::EtcdPassword>,
    /// `ipam.etcd.password_file`: a file whose first line is the password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

/// What is known of the IPv4 addresses on `dataplane.uplinks` when the IPAM settings are made
/// (the `fan` datastore may take the host's underlay address from them).
#[derive(Debug, Clone, Copy)]
pub enum UplinkAddresses<'a> {
    /// Checking a file, without a kernel to ask: one inside `ipam.fan.underlay` is assumed.
    NotLookedUp,
    /// Read from the kernel at start, in `dataplane.uplinks` order.
    Found(&'a [Ipv4Addr]),
}

impl Config {
    /// The IPAM crate's view of `cluster.*` and `ipam.*`; a datastore without its settings
    /// section (or with bad ones) is a [`Problem`] naming the key.
    pub fn ipam_settings(
        &self,
        uplinks: UplinkAddresses<'_>,
    ) -> Result<ipam::IpamSettings, Problem> {
        let datastore = match self.ipam.datastore {
            DatastoreKind::Local => ipam::Datastore::Local,
            DatastoreKind::Fan => self.fan(uplinks)?,
            DatastoreKind::Etcd => self.etcd()?,
        };
        Ok(ipam::IpamSettings {
            cluster: self.cluster.cidr,
            block_prefix_len: self.cluster.block_prefix_len,
            cluster_v6: self.cluster.cidr_v6,
            block_prefix_len_v6: self.cluster.block_prefix_len_v6,
            block: self.ipam.block,
            block_v6: self.ipam.block_v6,
            node_index: self.ipam.node_index,
            blocks: self.ipam.blocks.clone(),
            max_blocks_per_host: self.ipam.max_blocks_per_host,
            grace_period_secs: self.ipam.block_grace_period,
            state_dir: self.ipam.state_dir.clone(),
            datastore,
        })
    }

    /// `fan`: `ipam.fan.address` alone when set; else `node.router_id`, then the uplinks'
    /// addresses (the source takes the first inside the underlay).
    fn fan(&self, uplinks: UplinkAddresses<'_>) -> Result<ipam::Datastore, Problem> {
        let Some(fan) = &self.ipam.fan else {
            return Err(Problem::new(
                "ipam.datastore",
                "fan needs ipam.fan: { underlay: PREFIX }",
            ));
        };
        let underlay = fan.underlay.trunc();
        let router_id = self.node.router_id;
        let mut addresses = vec![fan.address.unwrap_or(router_id)];
        if fan.address.is_none() && !underlay.contains(&router_id) {
            if self.dataplane.uplinks.is_empty() {
                return Err(Problem::new(
                    "ipam.fan.address",
                    format!(
                        "node.router_id {router_id} is not inside ipam.fan.underlay {underlay}: \
                         set ipam.fan.address, or list dataplane.uplinks to take it from"
                    ),
                ));
            }
            match uplinks {
                // Looked up on the uplinks at start; check the rest with a stand-in address.
                UplinkAddresses::NotLookedUp => addresses.push(underlay.network()),
                UplinkAddresses::Found(found) => addresses.extend_from_slice(found),
            }
        }
        Ok(ipam::Datastore::Fan {
            underlay: fan.underlay,
            addresses,
        })
    }

    /// `etcd`: the endpoints (URLs) and the key prefix, for this node.
    fn etcd(&self) -> Result<ipam::Datastore, Problem> {
        let Some(e) = &self.ipam.etcd else {
            return Err(Problem::new(
                "ipam.datastore",
                "etcd needs ipam.etcd: { endpoints: [URL, ...] }",
            ));
        };
        if e.endpoints.is_empty() {
            return Err(Problem::new(
                "ipam.etcd.endpoints",
                "must list at least one endpoint",
            ));
        }
        for (i, url) in e.endpoints.iter().enumerate() {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(Problem::new(
                    format!("ipam.etcd.endpoints[{i}]"),
                    format!("{url:?} is not an http:// or https:// URL"),
                ));
            }
        }
        if !e.prefix.starts_with('/') {
            return Err(Problem::new("ipam.etcd.prefix", "must start with '/'"));
        }
        let https = e
            .endpoints
            .iter()
            .filter(|u| u.starts_with("https://"))
            .count();
        if https > 0 && https < e.endpoints.len() {
            return Err(Problem::new(
                "ipam.etcd.endpoints",
                "mixes http:// and https:// endpoints",
            ));
        }
        let tls = e.ca_file.is_some() || e.cert_file.is_some() || e.key_file.is_some();
        if https > 0 && e.ca_file.is_none() {
            return Err(Problem::new(
                "ipam.etcd.ca_file",
                "https:// endpoints need the CA bundle etcd's certificate is signed by",
            ));
        }
        if https == 0 && tls {
            return Err(Problem::new(
                "ipam.etcd.endpoints",
                "TLS files are set (ca_file, cert_file, key_file): the endpoints must be https://",
            ));
        }
        if e.cert_file.is_some() != e.key_file.is_some() {
            let missing = if e.cert_file.is_some() {
                "key_file"
            } else {
                "cert_file"
            };
            return Err(Problem::new(
                format!("ipam.etcd.{missing}"),
                "cert_file and key_file go together",
            ));
        }
        for (key, path) in [
            ("ca_file", &e.ca_file),
            ("cert_file", &e.cert_file),
            ("key_file", &e.key_file),
            ("password_file", &e.password_file),
        ] {
            if path.as_deref().is_some_and(|p: &Path| !p.is_absolute()) {
                return Err(Problem::new(
                    format!("ipam.etcd.{key}"),
                    "must be an absolute path",
                ));
            }
        }
        let password = e.password.is_some() || e.password_file.is_some();
        if e.password.is_some() && e.password_file.is_some() {
            return Err(Problem::new(
                "ipam.etcd.password_file",
                "set password or password_file, not both",
            ));
        }
        if e.username.is_some() != password {
            let (key, message) = if password {
                (
                    "ipam.etcd.username",
                    "a password is set without a user name",
                )
            } else {
                (
                    "ipam.etcd.password",
                    "ipam.etcd.username needs a password (or password_file)",
                )
            };
            return Err(Problem::new(key, message));
        }
        Ok(ipam::Datastore::Etcd {
            endpoints: e.endpoints.clone(),
            prefix: e.prefix.clone(),
            node: self.node.name.clone(),
            security: ipam::etcd::EtcdSecurity {
                ca_file: e.ca_file.clone(),
                cert_file: e.cert_file.clone(),
                key_file: e.key_file.clone(),
                username: e.username.clone(),
                password: e.password.clone(),
                password_file: e.password_file.clone(),
            },
        })
    }
}

fn default_max_blocks() -> usize {
    ipam::DEFAULT_MAX_BLOCKS_PER_HOST
}
fn default_grace() -> u64 {
    ipam::DEFAULT_GRACE_PERIOD_SECS
}
fn default_leak_grace() -> u64 {
    300
}
fn default_etcd_prefix() -> String {
    "/lattice".into()
}
fn default_state_dir() -> PathBuf {
    "/var/lib/lattice".into()
}

impl Default for IpamConfig {
    fn default() -> Self {
        Self {
            datastore: DatastoreKind::default(),
            state_dir: default_state_dir(),
            block: None,
            node_index: None,
            block_v6: None,
            blocks: Vec::new(),
            max_blocks_per_host: default_max_blocks(),
            block_grace_period: default_grace(),
            leak_grace_period: default_leak_grace(),
            fan: None,
            etcd: None,
        }
    }
}
