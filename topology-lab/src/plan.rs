//! What a deploy will do, computed before anything is created: every config file read and
//! checked, the veths to create and the order nodes start in.

use crate::error::LabError;
use crate::kinds::{self, Prepared};
use crate::paths::LabDir;
use crate::topology::{Kind, Lab, Node};

/// One veth pair, both ends placed directly in lab namespaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Veth {
    /// Namespace of the first end.
    pub a_ns: String,
    /// Name of the first end.
    pub a_if: String,
    /// Namespace of the second end.
    pub b_ns: String,
    /// Name of the second end.
    pub b_if: String,
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
    if lab.nodes.iter().any(|n| n.kind == Kind::Frr) {
        kinds::frr::check_reachable_by_frr(dir.root())?;
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

/// Routers first, so hosts find their peers listening; then plain nodes; then lattice hosts.
pub fn start_order(lab: &Lab) -> Vec<&Node> {
    [Kind::Frr, Kind::Linux, Kind::Lattice]
        .iter()
        .flat_map(|k| lab.nodes.iter().filter(move |n| n.kind == *k))
        .collect()
}

/// The veths of the lab's links.
pub fn veths(lab: &Lab) -> Vec<Veth> {
    lab.links
        .iter()
        .map(|l| Veth {
            a_ns: lab.namespace(&l.a.node),
            a_if: l.a.ifname.clone(),
            b_ns: lab.namespace(&l.b.node),
            b_if: l.b.ifname.clone(),
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
        assert_eq!(
            v,
            [Veth {
                a_ns: "p-r1".into(),
                a_if: "eth1".into(),
                b_ns: "p-h1".into(),
                b_if: "eth1".into()
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
