//! The resolved lab: every node's settings merged, every name checked.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use ipnet::IpNet;

/// What a node is and how it is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// FRR router: FRR's daemons in the namespace, run as FRR's container image runs them.
    /// Also a `linux` node whose image is FRR's.
    Frr,
    /// A bare namespace plus its exec lines.
    Linux,
    /// A host running latticed, with `containers` container namespaces.
    Lattice,
    /// A single-member etcd, the lattice hosts' cluster datastore.
    Etcd,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Frr => "frr",
            Kind::Linux => "linux",
            Kind::Lattice => "lattice",
            Kind::Etcd => "etcd",
        })
    }
}

/// A `host:container[:ro]` bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// Host path (absolute, resolved against the topology directory).
    pub host: PathBuf,
    /// Path inside the "container".
    pub container: String,
    /// `:ro` was given.
    pub read_only: bool,
}

/// One node after merging node > group > kind > defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Node name.
    pub name: String,
    /// Node kind.
    pub kind: Kind,
    /// Startup config, absolute.
    pub startup_config: Option<PathBuf>,
    /// Shell lines to run inside the namespace.
    pub exec: Vec<String>,
    /// Binds (only FRR config binds are honoured).
    pub binds: Vec<Bind>,
    /// Containers to attach (lattice only, else 0).
    pub containers: u32,
    /// `env-files`, absolute, read in this order before `env`.
    pub env_files: Vec<PathBuf>,
    /// `env`, merged defaults < kind < group < node.
    pub env: BTreeMap<String, String>,
    /// `labels`, merged like `env`; kept in the lab's state.
    pub labels: BTreeMap<String, String>,
    /// `sysctls` (only `net.*`), set in the node's namespace before it starts.
    pub sysctls: BTreeMap<String, String>,
    /// Host name: `hostname`, else the node name (FRR's default `hostname`).
    pub hostname: String,
    /// Seconds to wait before starting the node (`startup-delay`).
    pub startup_delay: u64,
    /// `extras.frr.daemons`: FRR daemons to run besides zebra and staticd.
    pub frr_daemons: Option<Vec<String>>,
}

/// `node:interface`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Node name.
    pub node: String,
    /// Interface name inside the node's namespace.
    pub ifname: String,
    /// MAC address to set, if given.
    pub mac: Option<String>,
    /// Addresses to configure on it (`ipv4`/`ipv6` of the link or endpoint).
    pub addrs: Vec<IpNet>,
}

/// A veth between two endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// First endpoint.
    pub a: Endpoint,
    /// Second endpoint.
    pub b: Endpoint,
    /// MTU of both ends, if given.
    pub mtu: Option<u32>,
}

/// A validated lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lab {
    /// Lab name.
    pub name: String,
    /// Nodes in name order.
    pub nodes: Vec<Node>,
    /// Links in file order.
    pub links: Vec<Link>,
    /// Things accepted but ignored, for the operator.
    pub notes: Vec<String>,
}

/// Where `exec` runs: a node or one of a lattice node's containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target<'a> {
    /// The node (for a container: the lattice node that owns it).
    pub node: &'a Node,
    /// Container index (1-based) if the target is a container.
    pub container: Option<u32>,
    /// The namespace to enter.
    pub namespace: String,
}

impl Lab {
    /// Namespace of a node.
    pub fn namespace(&self, node: &str) -> String {
        format!("{}-{}", self.name, node)
    }

    /// Name (as used by `exec`) of container `i` of `node`.
    pub fn container_name(node: &str, i: u32) -> String {
        format!("{node}-c{i}")
    }

    /// Namespace of container `i` of `node`.
    pub fn container_namespace(&self, node: &str, i: u32) -> String {
        self.namespace(&Lab::container_name(node, i))
    }

    /// Look a node up by name.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Every namespace this lab may create: nodes, then containers.
    pub fn all_namespaces(&self) -> Vec<String> {
        let mut out: Vec<String> = self.nodes.iter().map(|n| self.namespace(&n.name)).collect();
        for n in &self.nodes {
            for i in 1..=n.containers {
                out.push(self.container_namespace(&n.name, i));
            }
        }
        out
    }

    /// Resolve `NODE` or `NODE-c<i>` to a namespace.
    pub fn target(&self, name: &str) -> Option<Target<'_>> {
        if let Some(node) = self.node(name) {
            return Some(Target {
                node,
                container: None,
                namespace: self.namespace(name),
            });
        }
        self.nodes.iter().find_map(|n| {
            (1..=n.containers)
                .find(|i| Lab::container_name(&n.name, *i) == name)
                .map(|i| Target {
                    node: n,
                    container: Some(i),
                    namespace: self.namespace(name),
                })
        })
    }
}
