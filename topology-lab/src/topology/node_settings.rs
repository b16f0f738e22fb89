//! The keys of a node definition (`topology.nodes.X`, and the same shape in `defaults`, `kinds`
//! and `groups`): containerlab's `NodeDefinition`, every key of it, plus `containers`.
//!
//! Keys the lab uses are typed fields. Keys that mean nothing without a container engine or a
//! management network are accepted in any shape and reported once each, with the reason, by
//! [`NodeSettings::ignored`]; anything else is an unknown key, as containerlab's strict parser
//! would say.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

/// A scalar value of `env`, `labels` or `sysctls` (string, number or boolean), as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_yaml_ng::Value::deserialize(d)? {
            serde_yaml_ng::Value::String(s) => Ok(Scalar(s)),
            serde_yaml_ng::Value::Number(n) => Ok(Scalar(n.to_string())),
            serde_yaml_ng::Value::Bool(b) => Ok(Scalar(b.to_string())),
            _ => Err(serde::de::Error::custom(
                "expected a string, number or boolean",
            )),
        }
    }
}

/// `extras`: containerlab's per-kind extras, plus lattice-lab's `frr`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extras {
    /// `extras.frr` (lattice-lab's own: containerlab has no `frr` entry here).
    pub frr: Option<FrrExtras>,
    /// Nokia SR Linux agents (ignored).
    #[serde(rename = "srl-agents")]
    pub srl_agents: Option<serde_yaml_ng::Value>,
    /// mysocketctl proxy (ignored).
    #[serde(rename = "mysocket-proxy")]
    pub mysocket_proxy: Option<serde_yaml_ng::Value>,
    /// cEOS flash files (ignored).
    #[serde(rename = "ceos-copy-to-flash")]
    pub ceos_copy_to_flash: Option<serde_yaml_ng::Value>,
    /// k8s-kind cluster options (ignored).
    pub k8s_kind: Option<serde_yaml_ng::Value>,
}

impl Extras {
    /// The vendor entries that are set (they belong to kinds the lab does not run).
    pub fn vendor_keys(&self) -> Vec<&'static str> {
        [
            ("srl-agents", self.srl_agents.is_some()),
            ("mysocket-proxy", self.mysocket_proxy.is_some()),
            ("ceos-copy-to-flash", self.ceos_copy_to_flash.is_some()),
            ("k8s_kind", self.k8s_kind.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect()
    }
}

/// `extras.frr`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrrExtras {
    /// FRR daemons to run besides zebra and staticd (which always run, as in FRR's image).
    pub daemons: Vec<String>,
}

/// Declares [`NodeSettings`] with its honoured fields and, for each ignored key, a field of any
/// shape plus the reason printed when it is set.
macro_rules! node_settings {
    ($($field:ident: $key:literal => $why:literal,)*) => {
        /// Per-node keys; the same shape is used for defaults, kinds and groups.
        #[derive(Debug, Clone, Default, Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        pub struct NodeSettings {
            /// `frr`, `linux` or `lattice`.
            pub kind: Option<String>,
            /// Group whose settings the node inherits.
            pub group: Option<String>,
            /// Config file, relative to the topology file's directory.
            pub startup_config: Option<String>,
            /// Shell lines run inside the node's namespace after it is set up.
            pub exec: Option<Vec<String>>,
            /// `host:container[:options]` binds.
            pub binds: Option<Vec<String>>,
            /// Container image: FRR's image makes a `linux` node an FRR router.
            pub image: Option<String>,
            /// Number of containers a `lattice` node attaches (lattice-lab's own key).
            pub containers: Option<u32>,
            /// Environment of the node's processes.
            pub env: Option<BTreeMap<String, Scalar>>,
            /// Files of `KEY=VALUE` lines added to the environment (before `env`).
            pub env_files: Option<Vec<String>>,
            /// Labels, kept in the lab's state.
            pub labels: Option<BTreeMap<String, Scalar>>,
            /// Sysctls set in the node's namespace.
            pub sysctls: Option<BTreeMap<String, Scalar>>,
            /// Host name (FRR's default `hostname`).
            pub hostname: Option<String>,
            /// Seconds to wait before the node starts.
            pub startup_delay: Option<u64>,
            /// `none` (what every node here is); `host` and `container:X` are refused.
            pub network_mode: Option<String>,
            /// Kind-specific extras.
            pub extras: Option<Extras>,
            $(
                #[doc = concat!("`", $key, "`: ignored, ", $why, ".")]
                #[serde(rename = $key)]
                pub $field: Option<serde_yaml_ng::Value>,
            )*
        }

        impl NodeSettings {
            /// `(key, why it is ignored)` for every ignored key that is set.
            pub fn ignored(&self) -> Vec<(&'static str, &'static str)> {
                let mut out = Vec::new();
                $(
                    if self.$field.is_some() {
                        out.push(($key, $why));
                    }
                )*
                out
            }
        }
    };
}

node_settings! {
    node_type: "type" => "it picks a variant of a vendor NOS kind",
    license: "license" => "licenses are for vendor NOS kinds",
    position: "position" => "it only places the node in graphs",
    enforce_startup_config: "enforce-startup-config" =>
        "every deploy starts from the startup-config (nothing is saved between deploys)",
    suppress_startup_config: "suppress-startup-config" =>
        "a startup-config, when given, is always applied",
    auto_remove: "auto-remove" => "there are no containers to remove",
    restart_policy: "restart-policy" => "there is no container engine to restart anything",
    config: "config" => "containerlab's config engine is not run",
    image_pull_policy: "image-pull-policy" => "there are no images to pull",
    entrypoint: "entrypoint" => "there is no container: the image's process is not run",
    cmd: "cmd" => "there is no container: the image's process is not run (use exec)",
    volumes: "volumes" => "there is no mount namespace",
    devices: "devices" => "there is no container to pass devices to",
    cap_add: "cap-add" => "processes run as root (FRR's daemons as user frr)",
    privileged: "privileged" => "processes run as root (FRR's daemons as user frr)",
    cgroupns_mode: "cgroupns-mode" => "there is no container (no cgroup namespace)",
    cgroup_parent: "cgroup-parent" => "there is no container (no cgroup)",
    pid_mode: "pid-mode" => "there is no container (no PID namespace)",
    tmpfs: "tmpfs" => "there is no mount namespace",
    security_opts: "security-opts" => "there is no container",
    shm_size: "shm-size" => "there is no container (no IPC namespace)",
    ports: "ports" => "nothing is published: there is no management network",
    mgmt_ipv4: "mgmt-ipv4" => "there is no management network",
    mgmt_ipv6: "mgmt-ipv6" => "there is no management network",
    user: "user" => "exec lines run as root",
    runtime: "runtime" => "there is no container runtime",
    cpu: "cpu" => "there are no resource limits (no cgroups)",
    cpu_set: "cpu-set" => "there are no resource limits (no cgroups)",
    memory: "memory" => "there are no resource limits (no cgroups)",
    stages: "stages" => "nodes start in the lab's own order: FRR routers, linux nodes, lattice hosts",
    dns: "dns" => "there is no per-node resolv.conf (no mount namespace)",
    certificate: "certificate" => "no TLS certificates are made",
    healthcheck: "healthcheck" => "there is no container to health-check",
    credentials: "credentials" => "there is no management access",
    username: "username" => "there is no management access",
    password: "password" => "there is no management access",
    aliases: "aliases" => "there is no management network",
    components: "components" => "they describe chassis of vendor NOS kinds",
    link_apply_mode: "link-apply-mode" => "lattice-lab has no `apply` command",
}
