//! What a deploy will do, computed before anything is created: every config file read and
//! checked, the veths to create and the order nodes start in.

use ipnet::IpNet;

use crate::error::LabError;
use crate::kinds::{self, Prepared};
use crate::paths::LabDir;
use crate::topology::{Kind, Lab, Node};

/// One end of a veth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VethEnd {
    /// Its namespace.
    pub ns: String,
    /// Its interface name.
    pub ifname: String,
    /// MAC address to set.
    pub mac: Option<String>,
    /// Addresses to add (`ipv4`/`ipv6` of the link).
    pub addrs: Vec<IpNet>,
}

/// One veth pair, both ends placed directly in lab namespaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Veth {
    /// First end.
    pub a: VethEnd,
    /// Second end.
    pub b: VethEnd,
    /// MTU of both ends.
    pub mtu: Option<u32>,
}

/// A deploy, ready to run.
#[derive(Debug)]
pub struct Plan<'a> {
    /// Node namespaces, in node order.
    pub namespaces: Vec<(&'a Node, String)>,
    /// Links.
    pub veths: Vec<Veth>,
    /// Nodes in start order with what each needs written.
    pub starts: Vec<(&'a Node, Prepared)>,
}

/// Read every config and check every external dependency; nothing is created.
pub fn plan<'a>(lab: &'a Lab, dir: &LabDir) -> Result<Plan<'a>, LabError> {
    let mut starts = Vec::new();
    for node in start_order(lab) {
        starts.push((node, kinds::prepare(dir, node)?));
    }
    if lab.nodes.iter().any(|n| n.kind == Kind::Lattice) {
        kinds::lattice::find_latticed()?;
    }
    if lab.nodes.iter().any(|n| n.kind == Kind::Etcd) {
        kinds::etcd::check_installed()?;
    }
    if lab.nodes.iter().any(|n| n.kind == Kind::Frr) {
        kinds::frr::check_reachable_by_frr(dir.root())?;
    }
    for (node, prep) in &starts {
        if let Prepared::Frr(f) = prep {
            kinds::frr::check_installed(node, f)?;
        }
    }
    let namespaces = lab
        .nodes
        .iter()
        .map(|n| (n, lab.namespace(&n.name)))
        .collect();
    Ok(Plan {
        namespaces,
        veths: veths(lab),
        starts,
    })
}

/// Routers first, so hosts find their peers listening; then plain nodes (a switch); then
/// etcd, which lattice hosts need at start; then lattice hosts.
pub fn start_order(lab: &Lab) -> Vec<&Node> {
    [Kind::Frr, Kind::Linux, Kind::Etcd, Kind::Lattice]
        .iter()
        .flat_map(|k| lab.nodes.iter().filter(move |n| n.kind == *k))
        .collect()
}

/// The veths of the lab's links.
pub fn veths(lab: &Lab) -> Vec<Veth> {
    let end = |e: &crate::topology::model::Endpoint| VethEnd {
        ns: lab.namespace(&e.node),
        ifname: e.ifname.clone(),
        mac: e.mac.clone(),
        addrs: e.addrs.clone(),
    };
    lab.links
        .iter()
        .map(|l| Veth {
            a: end(&l.a),
            b: end(&l.b),
            mtu: l.mtu,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAB: &str = r#"
name: p
topology:
  nodes:
    h1: {kind: lattice, startup-config: h1.yaml}
    r1: {kind: frr}
    l1: {kind: linux}
  links:
    - endpoints: ["r1:eth1", "h1:eth1"]
"#;

    #[test]
    fn routers_start_first_and_veths_name_namespaces() {
        let lab = crate::topology::parse(LAB, std::path::Path::new("/x")).unwrap();
        let order: Vec<&str> = start_order(&lab).iter().map(|n| n.name.as_str()).collect();
        assert_eq!(order, ["r1", "l1", "h1"]);
        let v = veths(&lab);
        let end = |ns: &str| VethEnd {
            ns: ns.into(),
            ifname: "eth1".into(),
            mac: None,
            addrs: vec![],
        };
        assert_eq!(
            v,
            [Veth {
                a: end("p-r1"),
                b: end("p-h1"),
                mtu: None
            }]
        );
    }

    #[test]
    fn a_missing_config_fails_the_plan() {
        let lab = crate::topology::parse(LAB, std::path::Path::new("/nonexistent")).unwrap();
        let dir = LabDir::for_lab("p");
        let e = plan(&lab, &dir).unwrap_err().to_string();
        assert!(
            e.contains("node h1") && e.contains("/nonexistent/h1.yaml"),
            "{e}"
        );
    }
}
