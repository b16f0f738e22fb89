//! `lattice routes`: each Loc-RIB prefix with what the kernel holds for it, and why a prefix or
//! one of its next hops is left out (pure: the caller gathers the kernel's state).

use std::collections::HashMap;

use api::proto::RouteStatus;
use bgp::rib::RibRoute;
use ipnet::IpNet;

use super::convert;
use crate::dataplane::Reachability;
use crate::kernel::NextHop;

/// What the routes are shown against.
#[derive(Debug, Clone, Default)]
pub struct KernelView {
    /// The kernel's `proto bgp` routes: destination -> next hops (normalized).
    pub routes: HashMap<IpNet, Vec<NextHop>>,
    /// Which gateways the kernel can use, and the interfaces' names.
    pub reach: Reachability,
    /// Blocks this host holds.
    pub held: Vec<IpNet>,
    /// Prefixes raised as block conflicts.
    pub conflicts: Vec<IpNet>,
    /// `cluster.cidr` and `cluster.cidr_v6`.
    pub clusters: Vec<IpNet>,
}

impl KernelView {
    /// One prefix as `lattice routes` shows it.
    pub fn route(&self, r: RibRoute) -> RouteStatus {
        let p = r.prefix;
        let installed = self.routes.get(&p);
        let name = |i: u32| self.reach.interface_name(i).map(String::from);
        let paths: Vec<_> = r
            .paths
            .into_iter()
            .map(|path| {
                // Only next hops the kernel route should carry can be missing from it.
                let used = path.multipath || path.best;
                convert::path(path, name, |h| {
                    let hop = crate::kernel::NextHop {
                        gateway: h.address,
                        ifindex: h.ifindex,
                    };
                    let missing = installed.is_none_or(|k| !k.contains(&hop.normalized()));
                    self.reach.why_not(hop).filter(|_| used && missing)
                })
            })
            .collect();
        // Paths that take part in the decision: none when every one was ignored for its next
        // hop (RFC 4271 §6.3, each shown with its reason).
        let usable = paths.iter().any(|x| x.ignored.is_none());
        let unusable: Vec<String> = paths
            .iter()
            .filter_map(|x| x.not_installed_because.clone())
            .collect();
        let why = match installed {
            Some(_) => None,
            None if self.conflicts.contains(&p) => {
                Some("inside a block this host holds: a block conflict".to_string())
            }
            None if self.held.iter().any(|b| b.contains(&p)) => {
                Some("inside a block this host holds".to_string())
            }
            None if p.prefix_len() != 0 && !self.clusters.iter().any(|c| c.contains(&p)) => {
                Some("outside the cluster ranges".to_string())
            }
            None if !usable => Some("every path is ignored for its next hop".to_string()),
            None => None,
        };
        // A best route the kernel should hold but cannot: a fault, unlike the above.
        let problem = match (installed, &why) {
            (None, None) if !unusable.is_empty() => {
                Some(format!("no usable next hop ({})", unusable.join("; ")))
            }
            _ => None,
        };
        let hops = installed.cloned().unwrap_or_default();
        let interfaces: Vec<Option<String>> =
            hops.iter().map(|h| h.ifindex.and_then(name)).collect();
        RouteStatus {
            prefix: p,
            paths,
            in_kernel: installed.is_some(),
            kernel_next_hops: hops.iter().map(|h| h.gateway).collect(),
            kernel_next_hop_interfaces: if interfaces.iter().any(Option::is_some) {
                interfaces
            } else {
                Vec::new()
            },
            not_installed_because: why,
            problem,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::kernel::LinkInfo;
    use bgp::rib::{PeerId, RibPath};

    fn path(peer: &str, next_hop: &str, interface: Option<u32>) -> RibPath {
        RibPath {
            peer_id: PeerId(1),
            peer: peer.parse().unwrap(),
            peer_interface: interface,
            next_hop: next_hop.parse().unwrap(),
            as_path: "65011 65102".into(),
            origin: "IGP".into(),
            med: None,
            local_pref: None,
            best: true,
            multipath: true,
            stale: false,
            communities: vec![],
            originator_id: None,
            cluster_list: Vec::new(),
            ignored: None,
        }
    }

    fn view() -> KernelView {
        let link = |index, name: &str| LinkInfo {
            index,
            name: name.into(),
            mac: None,
            mtu: 1500,
            up: true,
            peer_index: None,
        };
        KernelView {
            reach: Reachability::new(
                &[link(3, "eth1"), link(4, "eth2")],
                &[
                    (3, "fe80::1/64".parse().unwrap()),
                    (4, "fe80::1/64".parse().unwrap()),
                ],
            ),
            clusters: vec!["10.244.0.0/16".parse().unwrap()],
            ..KernelView::default()
        }
    }

    #[test]
    fn a_route_via_link_local_next_hops_names_their_interfaces() {
        let mut v = view();
        let prefix: IpNet = "10.244.2.0/24".parse().unwrap();
        v.routes.insert(
            prefix,
            vec!["fe80::a%3".parse().unwrap(), "fe80::b%4".parse().unwrap()],
        );
        let shown = v.route(RibRoute {
            prefix,
            paths: vec![
                path("fe80::a", "fe80::a%3", Some(3)),
                path("fe80::b", "fe80::b%4", Some(4)),
            ],
        });
        assert!(shown.in_kernel);
        assert_eq!(
            shown.kernel_next_hop_interfaces,
            [Some("eth1".into()), Some("eth2".into())]
        );
        assert_eq!(shown.paths[1].peer_interface.as_deref(), Some("eth2"));
        assert_eq!(shown.paths[1].next_hop_interface.as_deref(), Some("eth2"));
        assert!(shown
            .paths
            .iter()
            .all(|p| p.not_installed_because.is_none()));
    }

    #[test]
    fn a_next_hop_off_the_link_is_not_installed_and_says_why() {
        let v = view();
        // An interface peer announcing a global next hop no link holds.
        let shown = v.route(RibRoute {
            prefix: "10.244.2.0/24".parse().unwrap(),
            paths: vec![path("fe80::a", "fd00:99::1", Some(3))],
        });
        assert!(!shown.in_kernel);
        let why = "next hop fd00:99::1 is not on-link (no up interface has a prefix holding it)";
        assert_eq!(shown.paths[0].not_installed_because.as_deref(), Some(why));
        // Not left out on purpose: a fault (`lattice status` is DEGRADED), with the reason.
        assert_eq!(shown.not_installed_because, None);
        assert_eq!(shown.problem, Some(format!("no usable next hop ({why})")));
    }

    #[test]
    fn our_own_address_is_no_gateway_but_a_neighbours_equal_link_local_is() {
        let v = view();
        // fe80::1 is ours on eth1 (3) and eth2 (4): as a next hop on either, it is us.
        let shown = v.route(RibRoute {
            prefix: "10.244.2.0/24".parse().unwrap(),
            paths: vec![path("fe80::1", "fe80::1%3", Some(3))],
        });
        assert_eq!(
            shown.problem.as_deref(),
            Some("no usable next hop (next hop fe80::1 is this host's own address)")
        );
        // A neighbour's link-local next hop on an up link is fine, whatever our addresses.
        assert!(v.reach.reaches(crate::kernel::NextHop {
            gateway: "fe80::2".parse().unwrap(),
            ifindex: Some(3)
        }));
        // Every path ignored: left out on purpose, each path saying why.
        let mut ignored = path("10.0.0.9", "::1", None);
        ignored.best = false;
        ignored.multipath = false;
        ignored.ignored = Some("next hop ::1 is a loopback address".into());
        let shown = v.route(RibRoute {
            prefix: "10.244.3.0/24".parse().unwrap(),
            paths: vec![ignored],
        });
        assert_eq!(
            shown.not_installed_because.as_deref(),
            Some("every path is ignored for its next hop")
        );
        assert_eq!(shown.problem, None);
        assert_eq!(
            shown.paths[0].ignored.as_deref(),
            Some("next hop ::1 is a loopback address")
        );
    }
}
