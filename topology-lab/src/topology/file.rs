//! The topology file as written: containerlab's format, parsed strictly.

use std::collections::BTreeMap;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

/// A whole topology file (`name` + `topology`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyFile {
    /// Lab name; prefixes every namespace of the lab.
    pub name: String,
    /// Nodes, links and the settings they inherit.
    pub topology: TopologySection,
}

/// The `topology:` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologySection {
    /// Settings every node inherits (`topology.defaults`).
    #[serde(default)]
    pub defaults: NodeSettings,
    /// Settings per kind (`topology.kinds.<kind>`).
    #[serde(default, deserialize_with = "unique_keys")]
    pub kinds: BTreeMap<String, NodeSettings>,
    /// Settings per group (`topology.groups.<group>`).
    #[serde(default, deserialize_with = "unique_keys")]
    pub groups: BTreeMap<String, NodeSettings>,
    /// The nodes by name.
    #[serde(default, deserialize_with = "unique_keys")]
    pub nodes: BTreeMap<String, NodeSettings>,
    /// Point-to-point links.
    #[serde(default)]
    pub links: Vec<LinkSpec>,
}

/// Per-node keys; the same shape is used for defaults, kinds and groups.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NodeSettings {
    /// `frr`, `linux` or `lattice`.
    pub kind: Option<String>,
    /// Group whose settings the node inherits (only on nodes).
    pub group: Option<String>,
    /// Config file, relative to the topology file's directory.
    pub startup_config: Option<String>,
    /// Shell lines run inside the node's namespace after it is set up.
    pub exec: Option<Vec<String>>,
    /// `host:container[:ro]` binds.
    pub binds: Option<Vec<String>>,
    /// Container image: accepted and ignored (no container engine).
    pub image: Option<String>,
    /// Number of containers a `lattice` node attaches.
    pub containers: Option<u32>,
}

/// One entry of `topology.links`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// Exactly two `node:interface` strings.
    pub endpoints: Vec<String>,
}

/// A map that rejects a key given twice (YAML parsers otherwise keep the last one silently).
fn unique_keys<'de, D, V>(d: D) -> Result<BTreeMap<String, V>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct Unique<V>(std::marker::PhantomData<V>);
    impl<'de, V: Deserialize<'de>> Visitor<'de> for Unique<V> {
        type Value = BTreeMap<String, V>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a mapping of names")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((k, v)) = map.next_entry::<String, V>()? {
                if out.contains_key(&k) {
                    return Err(serde::de::Error::custom(format!("duplicate key `{k}`")));
                }
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Unique(std::marker::PhantomData))
}
