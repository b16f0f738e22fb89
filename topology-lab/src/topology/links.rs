//! `topology.links`: the brief form (`endpoints: ["a:eth1", "b:eth1"]`, optional `mtu`, `ipv4`,
//! `ipv6`) and `type: veth` with endpoint mappings (`node`, `interface`, `mac`, `ipv4`, `ipv6`).
//! Every link becomes a veth between two lab namespaces; link types that would reach the
//! machine's own interfaces or beyond it are refused with the reason.

use std::collections::BTreeMap;

use ipnet::IpNet;
use serde::Deserialize;
use serde_yaml_ng::Value;

use super::file::{LinkSpec, TopologyFile};
use super::model::{Endpoint, Link, Node};
use super::notes::Notes;
use super::resolve::Problem;

/// Longest interface name Linux accepts (IFNAMSIZ - 1).
const MAX_IFNAME: usize = 15;

/// An endpoint mapping of an extended (`type: veth`) link.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointSpec {
    node: String,
    interface: String,
    mac: Option<String>,
    ipv4: Option<String>,
    ipv6: Option<String>,
    vars: Option<Value>,
}

/// Every link, checked: known nodes, each interface used once, usable names and addresses.
pub(super) fn resolve_links(
    file: &TopologyFile,
    nodes: &[Node],
    notes: &mut Notes,
) -> Result<Vec<Link>, Problem> {
    let mut used: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut links = Vec::new();
    for (li, spec) in file.topology.links.iter().enumerate() {
        let at = format!("topology.links[{li}]");
        for (key, set) in [
            ("vars", spec.vars.is_some()),
            ("labels", spec.labels.is_some()),
        ] {
            if set {
                notes.push(format!(
                    "{at}.{key} ignored: containerlab's config engine is not run"
                ));
            }
        }
        let (mut a, mut b) = endpoints(&at, spec, notes)?;
        for (ei, ep) in [&a, &b].into_iter().enumerate() {
            let eat = format!("{at}.endpoints[{ei}]");
            if !nodes.iter().any(|n| n.name == ep.node) {
                return Err((eat, unknown_node(&ep.node)));
            }
            let key = (ep.node.clone(), ep.ifname.clone());
            if let Some(prev) = used.insert(key, eat.clone()) {
                return Err((
                    eat,
                    format!(
                        "interface `{}:{}` is already used at {prev}",
                        ep.node, ep.ifname
                    ),
                ));
            }
        }
        for (family, list) in [(4, &spec.ipv4), (6, &spec.ipv6)] {
            for (ei, raw) in list.iter().flatten().enumerate() {
                let fat = format!("{at}.ipv{family}[{ei}]");
                let target = match ei {
                    0 => &mut a,
                    1 => &mut b,
                    _ => return Err((fat, "at most one address per endpoint".into())),
                };
                if !raw.is_empty() {
                    target.addrs.push(prefix(&fat, raw, family)?);
                }
            }
        }
        let mtu = match spec.mtu {
            Some(m) if !(68..=65535).contains(&m) => {
                return Err((
                    format!("{at}.mtu"),
                    format!("mtu {m} is out of range (68-65535)"),
                ))
            }
            m => m,
        };
        links.push(Link { a, b, mtu });
    }
    Ok(links)
}

/// What a `node:` of an endpoint that is not a lab node means in containerlab.
fn unknown_node(node: &str) -> String {
    match node {
        "host" | "macvlan" | "mgmt-net" => format!(
            "`{node}` endpoints connect to the machine's own network: lattice-lab never touches \
             it (only veths between lab nodes)"
        ),
        _ => format!("names unknown node `{node}`"),
    }
}

/// The two endpoints of a brief or veth link.
fn endpoints(
    at: &str,
    spec: &LinkSpec,
    notes: &mut Notes,
) -> Result<(Endpoint, Endpoint), Problem> {
    match spec.link_type.as_deref() {
        None | Some("veth") => {}
        Some(t) => return Err((format!("{at}.type"), link_type_refusal(t))),
    }
    if let Some(key) = spec.foreign_keys().first() {
        return Err((
            format!("{at}.{key}"),
            format!("`{key}` is not a key of veth links"),
        ));
    }
    if spec.endpoint.is_some() {
        return Err((
            format!("{at}.endpoint"),
            "`endpoint` belongs to host, macvlan, mgmt-net, vxlan and dummy links, which \
             lattice-lab does not build (only veths between lab nodes)"
                .into(),
        ));
    }
    let at = format!("{at}.endpoints");
    let list = spec.endpoints.as_deref().unwrap_or_default();
    let [a, b] = list else {
        return Err((at, format!("need exactly 2 endpoints, got {}", list.len())));
    };
    let a = endpoint(&format!("{at}[0]"), a, notes)?;
    let b = endpoint(&format!("{at}[1]"), b, notes)?;
    Ok((a, b))
}

fn link_type_refusal(t: &str) -> String {
    match t {
        "host" | "macvlan" | "mgmt-net" => format!(
            "`{t}` links connect to the machine's own network: lattice-lab never touches it \
             (only veths between lab nodes)"
        ),
        "vxlan" | "vxlan-stitch" => format!(
            "`{t}` links reach beyond this machine: lattice-lab builds only veths between lab \
             nodes"
        ),
        "dummy" | "veth-stitch" => {
            format!("`{t}` links are not supported (only veths between lab nodes)")
        }
        other => format!("unknown link type `{other}`"),
    }
}

/// `node:ifname`, or a `{node, interface, mac, ipv4, ipv6}` mapping.
fn endpoint(at: &str, raw: &Value, notes: &mut Notes) -> Result<Endpoint, Problem> {
    match raw {
        Value::String(s) => parse_endpoint(s).map_err(|m| (at.to_string(), m)),
        Value::Mapping(_) => {
            let spec: EndpointSpec = serde_yaml_ng::from_value(raw.clone())
                .map_err(|e| (at.to_string(), super::file::yaml_message(&e)))?;
            if spec.vars.is_some() {
                notes.push(format!(
                    "{at}.vars ignored: containerlab's config engine is not run"
                ));
            }
            let mut ep = parse_endpoint(&format!("{}:{}", spec.node, spec.interface))
                .map_err(|m| (at.to_string(), m))?;
            if let Some(mac) = spec.mac {
                if !is_mac(&mac) {
                    return Err((format!("{at}.mac"), format!("`{mac}` is not a MAC address")));
                }
                ep.mac = Some(mac);
            }
            for (family, raw) in [(4, &spec.ipv4), (6, &spec.ipv6)] {
                if let Some(raw) = raw.as_deref().filter(|r| !r.is_empty()) {
                    ep.addrs
                        .push(prefix(&format!("{at}.ipv{family}"), raw, family)?);
                }
            }
            Ok(ep)
        }
        _ => Err((
            at.to_string(),
            "an endpoint is `node:interface` or a mapping with node and interface".into(),
        )),
    }
}

/// An address with its prefix length, of the given family.
fn prefix(at: &str, raw: &str, family: u8) -> Result<IpNet, Problem> {
    let net: IpNet = raw.parse().map_err(|_| {
        (
            at.to_string(),
            format!("`{raw}` is not an address with a prefix length (10.0.0.1/30)"),
        )
    })?;
    let ok = matches!((family, net), (4, IpNet::V4(_)) | (6, IpNet::V6(_)));
    if ok {
        Ok(net)
    } else {
        Err((
            at.to_string(),
            format!("`{raw}` is not an IPv{family} address"),
        ))
    }
}

fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// `node:ifname` with a usable Linux interface name.
pub(super) fn parse_endpoint(raw: &str) -> Result<Endpoint, String> {
    let Some((node, ifname)) = raw.split_once(':') else {
        return Err(format!("endpoint `{raw}` is not node:interface"));
    };
    if node.is_empty() || ifname.is_empty() {
        return Err(format!("endpoint `{raw}` is not node:interface"));
    }
    let if_ok = ifname.len() <= MAX_IFNAME
        && ifname != "lo"
        && ifname
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if !if_ok {
        return Err(format!(
            "endpoint `{raw}`: `{ifname}` is not a usable interface name (1-15 of [A-Za-z0-9_.-], not lo)"
        ));
    }
    Ok(Endpoint {
        node: node.to_string(),
        ifname: ifname.to_string(),
        mac: None,
        addrs: Vec::new(),
    })
}
