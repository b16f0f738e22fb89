//! The topology file as written: containerlab's format, parsed strictly (an unknown key is an
//! error, as containerlab's own strict parser makes it).

use std::collections::BTreeMap;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_yaml_ng::Value;

pub use super::node_settings::{NodeSettings, Scalar};

/// A whole topology file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyFile {
    /// Lab name; prefixes every namespace of the lab.
    pub name: String,
    /// Container name prefix (ignored: namespaces are always `<name>-<node>`).
    pub prefix: Option<Value>,
    /// Management network (ignored: there is none).
    pub mgmt: Option<Value>,
    /// Global settings such as the certificate authority (ignored).
    pub settings: Option<Value>,
    /// containerlab's debug flag (ignored).
    pub debug: Option<Value>,
    /// Nodes, links and the settings they inherit.
    pub topology: TopologySection,
}

/// The `topology:` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologySection {
    /// Settings every node inherits (`topology.defaults`).
    #[serde(default, deserialize_with = "nullable")]
    pub defaults: NodeSettings,
    /// Settings per kind (`topology.kinds.<kind>`).
    #[serde(default, deserialize_with = "unique_keys")]
    pub kinds: BTreeMap<String, NodeSettings>,
    /// Settings per group (`topology.groups.<group>`).
    #[serde(default, deserialize_with = "unique_keys")]
    pub groups: BTreeMap<String, NodeSettings>,
    /// The nodes by name (a node may be given as just its name: `router1:`).
    #[serde(default, deserialize_with = "unique_keys")]
    pub nodes: BTreeMap<String, NodeSettings>,
    /// Links.
    #[serde(default)]
    pub links: Vec<LinkSpec>,
}

/// One entry of `topology.links`: the brief form (`endpoints: ["a:eth1", "b:eth1"]`) or an
/// extended one (`type: veth`, endpoints as `{node, interface, mac, ipv4, ipv6}`). The keys of
/// the other link types are accepted here so that the error can name the type.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LinkSpec {
    /// Link type (`veth`; absent for the brief form).
    #[serde(rename = "type")]
    pub link_type: Option<String>,
    /// Two endpoints: `node:interface` strings or endpoint mappings.
    pub endpoints: Option<Vec<Value>>,
    /// The single endpoint of host, macvlan, mgmt-net, vxlan and dummy links.
    pub endpoint: Option<Value>,
    /// MTU of both ends.
    pub mtu: Option<u32>,
    /// IPv4 prefixes for the first and second endpoint (brief form).
    pub ipv4: Option<Vec<String>>,
    /// IPv6 prefixes for the first and second endpoint (brief form).
    pub ipv6: Option<Vec<String>>,
    /// Config engine variables (ignored).
    pub vars: Option<Value>,
    /// Link labels (ignored).
    pub labels: Option<Value>,
    /// Of host, macvlan and mgmt-net links.
    pub host_interface: Option<Value>,
    /// Of macvlan links.
    pub mode: Option<Value>,
    /// Of vxlan links.
    pub remote: Option<Value>,
    /// Of vxlan links.
    pub vni: Option<Value>,
    /// Of vxlan links (deprecated name of dst-port).
    pub udp_port: Option<Value>,
    /// Of vxlan links.
    pub dst_port: Option<Value>,
    /// Of vxlan links.
    pub src_port: Option<Value>,
    /// Of vxlan links.
    pub parent_interface: Option<Value>,
}

impl LinkSpec {
    /// Keys of the link types lattice-lab does not build that are set on this link.
    pub fn foreign_keys(&self) -> Vec<&'static str> {
        [
            ("host-interface", self.host_interface.is_some()),
            ("mode", self.mode.is_some()),
            ("remote", self.remote.is_some()),
            ("vni", self.vni.is_some()),
            ("udp-port", self.udp_port.is_some()),
            ("dst-port", self.dst_port.is_some()),
            ("src-port", self.src_port.is_some()),
            ("parent-interface", self.parent_interface.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect()
    }
}

/// `defaults: ~` is an empty section.
fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<NodeSettings, D::Error> {
    Ok(Option::<NodeSettings>::deserialize(d)?.unwrap_or_default())
}

/// A map that rejects a key given twice (YAML parsers otherwise keep the last one silently);
/// an empty value (`router1:`) is an empty node definition.
fn unique_keys<'de, D>(d: D) -> Result<BTreeMap<String, NodeSettings>, D::Error>
where
    D: Deserializer<'de>,
{
    struct Unique;
    impl<'de> Visitor<'de> for Unique {
        type Value = BTreeMap<String, NodeSettings>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a mapping of names")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((k, v)) = map.next_entry::<String, Option<NodeSettings>>()? {
                if out.contains_key(&k) {
                    return Err(serde::de::Error::custom(format!("duplicate key `{k}`")));
                }
                out.insert(k, v.unwrap_or_default());
            }
            Ok(out)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }
    }
    d.deserialize_any(Unique)
}

/// serde's message for a YAML error, said once: without the trailing location (the caller
/// gives line and column) and without the list of every accepted key after an unknown one.
pub fn yaml_message(e: &serde_yaml_ng::Error) -> String {
    let mut text = e.to_string();
    if let Some(loc) = e.location() {
        let suffix = format!(" at line {} column {}", loc.line(), loc.column());
        if let Some(stripped) = text.strip_suffix(&suffix) {
            text = stripped.to_string();
        }
    }
    if let Some(i) = text.find("unknown field `") {
        let cut = [", expected", ", there are no fields"]
            .iter()
            .filter_map(|m| text[i..].find(m).map(|j| i + j))
            .min();
        if let Some(cut) = cut {
            text.truncate(cut);
        }
        text = text.replacen("unknown field `", "unknown key `", 1);
        text.push_str(" (containerlab's topology format has no such key here)");
    }
    text
}
