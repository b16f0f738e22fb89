//! `bgp.policies.*`: named route policies, and a peer's `import`/`export` naming one (or, as
//! before, listing prefixes). Checked here, and turned into the speaker's
//! [`bgp::policy::Policy`].

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use bgp::policy::PrefixRule;
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::{BgpConfig, Community, Problem};

/// A peer's `import` or `export`: the name of a policy in `bgp.policies`, or a list (prefix
/// rules for `import`, prefixes for `export`: what these keys always took).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedOr<T> {
    /// `import: NAME`.
    Policy(String),
    /// `import: [...]`.
    List(Vec<T>),
}

/// `bgp.peers[].import`.
pub type ImportConfig = NamedOr<PrefixRule>;
/// `bgp.peers[].export`.
pub type ExportConfig = NamedOr<ipnet::IpNet>;

impl<T> Default for NamedOr<T> {
    fn default() -> Self {
        NamedOr::List(Vec::new())
    }
}

impl<T> NamedOr<T> {
    /// The policy name, if one is named.
    pub fn policy(&self) -> Option<&str> {
        match self {
            NamedOr::Policy(name) => Some(name),
            NamedOr::List(_) => None,
        }
    }

    /// The list, if one is given.
    pub fn list(&self) -> &[T] {
        match self {
            NamedOr::Policy(_) => &[],
            NamedOr::List(v) => v,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for NamedOr<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Either<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Either<T> {
            type Value = NamedOr<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("the name of a policy in bgp.policies, or a list")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(NamedOr::Policy(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Vec::<T>::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(NamedOr::List)
            }
        }
        d.deserialize_any(Either(PhantomData))
    }
}

/// `bgp.policies` as a map, refusing a name defined twice (YAML would keep the last).
pub(super) fn unique_names<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, PolicyConfig>, D::Error> {
    struct Unique;
    impl<'de> Visitor<'de> for Unique {
        type Value = BTreeMap<String, PolicyConfig>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a map of policy names to policies")
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(name) = map.next_key::<String>()? {
                if out.contains_key(&name) {
                    return Err(de::Error::custom(format!(
                        "policy {name:?} is defined twice"
                    )));
                }
                let policy = map.next_value::<PolicyConfig>()?;
                out.insert(name, policy);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Unique)
}

/// `bgp.policies.NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// `default`: what happens to a route no rule accepted or rejected (default `reject`).
    #[serde(default)]
    pub default: VerdictConfig,
    /// `rules`: in order.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
}

/// `accept` or `reject`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerdictConfig {
    /// `accept`.
    Accept,
    /// `reject`.
    #[default]
    Reject,
}

/// One rule: conditions, changes, then what.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// `match`: every condition given must hold (none: the rule always applies).
    #[serde(default, rename = "match")]
    pub conditions: MatchConfig,
    /// `set`: changes made when the rule applies.
    #[serde(default)]
    pub set: SetConfig,
    /// `action`: `accept`, `reject`, or `continue` with the next rule (changes kept).
    pub action: RuleAction,
}

/// `accept`, `reject` or `continue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    /// Stop and accept.
    Accept,
    /// Stop and reject.
    Reject,
    /// Go on with the next rule.
    Continue,
}

/// A rule's `match` block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchConfig {
    /// `prefix`: prefix rules (`{prefix, ge, le}`, FRR prefix-list semantics), any of.
    #[serde(default)]
    pub prefix: Option<Vec<PrefixRule>>,
    /// `family`: `ipv4` or `ipv6`.
    #[serde(default)]
    pub family: Option<FamilyConfig>,
    /// `community`: `ASN:VALUE` communities, any of.
    #[serde(default)]
    pub community: Option<Vec<String>>,
    /// `large_community`: `ASN:DATA1:DATA2` large communities, any of.
    #[serde(default)]
    pub large_community: Option<Vec<String>>,
    /// `as_path_contains`: an AS anywhere in the AS_PATH.
    #[serde(default)]
    pub as_path_contains: Option<u32>,
    /// `origin_as`: the AS that originated the path (the last of the AS_PATH).
    #[serde(default)]
    pub origin_as: Option<u32>,
    /// `as_path_length`: `{min, max}` (either may be left out).
    #[serde(default)]
    pub as_path_length: Option<LengthConfig>,
    /// `peer`: neighbours (addresses, or interface names for interface peers), any of (where
    /// the route comes from or goes to).
    #[serde(default)]
    pub peer: Option<Vec<bgp::PeerKey>>,
    /// `source`: `learned`, `block`, `static`, `announced`, any of.
    #[serde(default)]
    pub source: Option<Vec<SourceConfig>>,
    /// `not`: a match block that must not hold as a whole.
    #[serde(default)]
    pub not: Option<Box<MatchConfig>>,
}

/// `ipv4` or `ipv6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FamilyConfig {
    /// `ipv4`.
    Ipv4,
    /// `ipv6`.
    Ipv6,
}

/// `learned`, `block`, `static` or `announced`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceConfig {
    /// Received from a peer.
    Learned,
    /// A block this host holds.
    Block,
    /// From the peer's `export` list.
    Static,
    /// Announced through the API.
    Announced,
}

/// `as_path_length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LengthConfig {
    /// `min`.
    #[serde(default)]
    pub min: Option<u32>,
    /// `max`.
    #[serde(default)]
    pub max: Option<u32>,
}

/// A rule's `set` block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetConfig {
    /// `local_pref`.
    #[serde(default)]
    pub local_pref: Option<u32>,
    /// `med`.
    #[serde(default)]
    pub med: Option<u32>,
    /// `add_communities`: `ASN:VALUE` or `ASN:DATA1:DATA2`.
    #[serde(default)]
    pub add_communities: Vec<String>,
    /// `remove_communities`: `ASN:VALUE` or `ASN:DATA1:DATA2`.
    #[serde(default)]
    pub remove_communities: Vec<String>,
    /// `prepend`: `{asn, count}` (`asn` defaults to `node.asn`).
    #[serde(default)]
    pub prepend: Option<PrependConfig>,
}

/// `prepend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrependConfig {
    /// `asn` (default: ours).
    #[serde(default)]
    pub asn: Option<u32>,
    /// `count`: 1-10.
    pub count: u8,
}

/// The first problem in `bgp.policies`, by name then rule.
pub(super) fn check_policies(bgp: &BgpConfig) -> Result<(), Problem> {
    for (name, policy) in &bgp.policies {
        let at = |k: &str| format!("bgp.policies.{name}{k}");
        let name_ok = !name.is_empty()
            && name.len() <= 63
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !name_ok {
            return Err(Problem::new(
                at(""),
                "a policy name is 1-63 letters, digits, '-', '_' or '.'",
            ));
        }
        for (i, rule) in policy.rules.iter().enumerate() {
            check_match(&rule.conditions, &at(&format!(".rules[{i}].match")))?;
            check_set(&rule.set, &at(&format!(".rules[{i}].set")))?;
        }
    }
    Ok(())
}

fn check_match(m: &MatchConfig, at: &str) -> Result<(), Problem> {
    for (j, rule) in m.prefix.iter().flatten().enumerate() {
        rule.check()
            .map_err(|e| Problem::new(format!("{at}.prefix[{j}]"), e))?;
    }
    for (j, c) in m.community.iter().flatten().enumerate() {
        match c.parse::<Community>() {
            Ok(Community::Standard(_)) => {}
            Ok(Community::Large(_)) => {
                return Err(Problem::new(
                    format!("{at}.community[{j}]"),
                    format!("{c:?} is a large community: list it under large_community"),
                ))
            }
            Err(e) => return Err(Problem::new(format!("{at}.community[{j}]"), e)),
        }
    }
    for (j, c) in m.large_community.iter().flatten().enumerate() {
        match c.parse::<Community>() {
            Ok(Community::Large(_)) => {}
            Ok(Community::Standard(_)) => {
                return Err(Problem::new(
                    format!("{at}.large_community[{j}]"),
                    format!("{c:?} is a standard community: list it under community"),
                ))
            }
            Err(e) => return Err(Problem::new(format!("{at}.large_community[{j}]"), e)),
        }
    }
    if let Some(LengthConfig {
        min: Some(min),
        max: Some(max),
    }) = m.as_path_length
    {
        if min > max {
            return Err(Problem::new(
                format!("{at}.as_path_length"),
                "min must not be above max",
            ));
        }
    }
    if let Some(not) = &m.not {
        if **not == MatchConfig::default() {
            return Err(Problem::new(
                format!("{at}.not"),
                "needs at least one condition",
            ));
        }
        check_match(not, &format!("{at}.not"))?;
    }
    Ok(())
}

fn check_set(s: &SetConfig, at: &str) -> Result<(), Problem> {
    for (key, list) in [
        ("add_communities", &s.add_communities),
        ("remove_communities", &s.remove_communities),
    ] {
        for (j, c) in list.iter().enumerate() {
            c.parse::<Community>()
                .map_err(|e| Problem::new(format!("{at}.{key}[{j}]"), e))?;
        }
    }
    if let Some(p) = s.prepend {
        if !(1..=10).contains(&p.count) {
            return Err(Problem::new(
                format!("{at}.prepend.count"),
                "must be between 1 and 10",
            ));
        }
        if matches!(p.asn, Some(0 | 23456)) {
            return Err(Problem::new(
                format!("{at}.prepend.asn"),
                "AS 0 and AS_TRANS (23456) are reserved",
            ));
        }
    }
    Ok(())
}

/// That `name` (given at `key`) is a policy of `bgp.policies`.
pub(super) fn check_reference(bgp: &BgpConfig, key: &str, name: &str) -> Result<(), Problem> {
    if bgp.policies.contains_key(name) {
        return Ok(());
    }
    let known: Vec<&str> = bgp.policies.keys().map(String::as_str).collect();
    Err(Problem::new(
        key,
        if known.is_empty() {
            format!("no policy named {name:?}: bgp.policies defines none")
        } else {
            format!(
                "no policy named {name:?} in bgp.policies (defined: {})",
                known.join(", ")
            )
        },
    ))
}

mod build;

pub use build::policies;

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
