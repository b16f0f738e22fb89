//! `lattice routes` (the Loc-RIB, like `birdc show route`) and `lattice ipam`.

use std::fmt::Write;

use super::table;
use crate::proto::{Announcement, IpamStatus, RouteStatus};

/// One row per path, the prefix on its first; flags `*` best, `=` in the multipath (ECMP) set,
/// `s` stale, `x` ignored (its next hop cannot be used, RFC 4271 §6.3: why is listed below the
/// table); KERNEL says whether the prefix is installed (or why not).
pub fn routes(list: &[RouteStatus]) -> String {
    let mut rows: Vec<[String; 7]> = Vec::new();
    for r in list {
        for (i, p) in r.paths.iter().enumerate() {
            let mut flags = String::new();
            if p.best {
                flags.push('*');
            }
            if p.multipath {
                flags.push('=');
            }
            if p.stale {
                flags.push('s');
            }
            if p.ignored.is_some() {
                flags.push('x');
            }
            let first = i == 0;
            let mut kernel = match (first, r.in_kernel, &r.not_installed_because) {
                (false, _, _) => String::new(),
                (true, true, _) => {
                    let hops: Vec<String> = r
                        .kernel_next_hops
                        .iter()
                        .enumerate()
                        .map(|(i, h)| {
                            let dev = r.kernel_next_hop_interfaces.get(i).cloned().flatten();
                            zoned(&h.to_string(), dev.as_deref())
                        })
                        .collect();
                    format!("yes via {}", hops.join(","))
                }
                (true, false, Some(why)) => format!("no: {why}"),
                (true, false, None) => match &r.problem {
                    Some(problem) => format!("NO: {problem}"),
                    None => "NO (missing)".into(),
                },
            };
            if let Some(why) = &p.not_installed_because {
                if !kernel.is_empty() {
                    kernel.push_str("; ");
                }
                kernel.push_str(&format!("this next hop left out: {why}"));
            }
            rows.push([
                if first {
                    r.prefix.to_string()
                } else {
                    String::new()
                },
                flags,
                zoned(&p.next_hop.to_string(), p.next_hop_interface.as_deref()),
                p.peer_interface
                    .clone()
                    .unwrap_or_else(|| p.peer.to_string()),
                if p.as_path.is_empty() {
                    "-".into()
                } else {
                    p.as_path.clone()
                },
                p.origin.clone(),
                kernel,
            ]);
        }
    }
    let mut out = table(
        [
            "PREFIX", "FLAGS", "NEXT-HOP", "PEER", "AS-PATH", "ORIGIN", "KERNEL",
        ],
        &rows,
    );
    let missing = list
        .iter()
        .filter(|r| !r.in_kernel && r.not_installed_because.is_none())
        .count();
    let _ = writeln!(
        out,
        "\n{} prefixes, {} in the kernel, {missing} missing. Flags: * best, = multipath (ECMP), s stale, x ignored",
        list.len(),
        list.iter().filter(|r| r.in_kernel).count()
    );
    for r in list {
        for p in &r.paths {
            if let Some(why) = &p.ignored {
                let _ = writeln!(out, "ignored: {} from {}: {why}", r.prefix, p.peer);
            }
        }
    }
    out
}

/// The prefixes announced through the API: communities and the peers each reaches (nothing
/// when there are none).
pub fn announced(list: &[Announcement]) -> String {
    if list.is_empty() {
        return String::new();
    }
    let rows: Vec<[String; 3]> = list
        .iter()
        .map(|a| {
            [
                a.prefix.to_string(),
                if a.communities.is_empty() {
                    "-".into()
                } else {
                    a.communities.join(",")
                },
                if a.peers.is_empty() {
                    "none".into()
                } else {
                    a.peers.join(",")
                },
            ]
        })
        .collect();
    let mut out = String::from("\nAnnounced through the API:\n");
    out.push_str(&table(["PREFIX", "COMMUNITIES", "EXPORTED-TO"], &rows));
    for a in list {
        for why in &a.not_exported {
            let _ = writeln!(out, "{} not exported to {why}", a.prefix);
        }
    }
    out
}

/// `fe80::1%eth1` for a link-local next hop with its interface, else the address.
fn zoned(address: &str, interface: Option<&str>) -> String {
    match interface {
        Some(dev) => format!("{address}%{dev}"),
        None => address.to_string(),
    }
}

/// Whether every route that should be in the kernel is (what `lattice routes` exits on).
pub fn routes_healthy(list: &[RouteStatus]) -> bool {
    list.iter()
        .all(|r| r.in_kernel || r.not_installed_because.is_some())
}

/// Blocks with their usage, then every allocation.
pub fn ipam(s: &IpamStatus) -> String {
    let blocks: Vec<[String; 4]> = s
        .blocks
        .iter()
        .map(|b| {
            let pct = if b.capacity == 0 {
                0.0
            } else {
                b.in_use as f64 * 100.0 / b.capacity as f64
            };
            [
                b.block.to_string(),
                b.in_use.to_string(),
                b.capacity.to_string(),
                format!("{pct:.1}%"),
            ]
        })
        .collect();
    let mut out = table(["BLOCK", "IN-USE", "CAPACITY", "USED"], &blocks);
    out.push('\n');
    // The IPv6 column only on a dual-stack host.
    if s.allocations.iter().any(|a| a.address_v6.is_some()) {
        let rows: Vec<[String; 4]> = s
            .allocations
            .iter()
            .map(|a| {
                [
                    a.address.to_string(),
                    a.address_v6.map_or_else(|| "-".into(), |v6| v6.to_string()),
                    a.container_id.clone(),
                    a.ifname.clone(),
                ]
            })
            .collect();
        out.push_str(&table(["ADDRESS", "IPV6", "CONTAINER", "IFNAME"], &rows));
    } else {
        let rows: Vec<[String; 3]> = s
            .allocations
            .iter()
            .map(|a| {
                [
                    a.address.to_string(),
                    a.container_id.clone(),
                    a.ifname.clone(),
                ]
            })
            .collect();
        out.push_str(&table(["ADDRESS", "CONTAINER", "IFNAME"], &rows));
    }
    out
}

/// A block with no free address left is unhealthy (the next container cannot start).
pub fn ipam_healthy(s: &IpamStatus) -> bool {
    s.blocks.iter().any(|b| b.in_use < b.capacity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Allocation, BlockUsage, RoutePath};

    fn path(peer: &str, best: bool, multipath: bool) -> RoutePath {
        RoutePath {
            peer: peer.parse().unwrap(),
            peer_interface: None,
            next_hop: peer.parse().unwrap(),
            next_hop_interface: None,
            not_installed_because: None,
            as_path: "65001 65102".into(),
            origin: "IGP".into(),
            med: None,
            local_pref: None,
            best,
            multipath,
            stale: false,
            communities: vec![],
            originator_id: None,
            cluster_list: vec![],
            ignored: None,
        }
    }

    #[test]
    fn announcements_show_communities_peers_and_why_not() {
        assert_eq!(announced(&[]), "");
        let a = Announcement {
            prefix: "192.0.2.10/32".parse().unwrap(),
            communities: vec!["65000:7".into()],
            peers: vec!["10.0.1.1".into()],
            not_exported: vec!["peer 10.0.2.1: it has no export policy".into()],
        };
        let text = announced(&[a]);
        assert!(text.contains("Announced through the API:"), "{text}");
        assert!(text.contains("192.0.2.10/32"), "{text}");
        assert!(text.contains("65000:7"), "{text}");
        assert!(text.contains("10.0.1.1"), "{text}");
        assert!(
            text.contains("192.0.2.10/32 not exported to peer 10.0.2.1: it has no export policy"),
            "{text}"
        );
    }

    #[test]
    fn routes_mark_best_multipath_and_kernel_state() {
        let list = vec![
            RouteStatus {
                prefix: "10.244.2.0/24".parse().unwrap(),
                paths: vec![path("10.0.1.1", true, true), path("10.0.9.1", false, true)],
                in_kernel: true,
                kernel_next_hops: vec!["10.0.1.1".parse().unwrap(), "10.0.9.1".parse().unwrap()],
                kernel_next_hop_interfaces: vec![],
                not_installed_because: None,
                problem: None,
            },
            RouteStatus {
                prefix: "10.244.3.0/24".parse().unwrap(),
                paths: vec![path("10.0.1.1", true, true)],
                in_kernel: false,
                kernel_next_hops: vec![],
                kernel_next_hop_interfaces: vec![],
                not_installed_because: None,
                problem: None,
            },
        ];
        let expected = "\
PREFIX         FLAGS  NEXT-HOP  PEER      AS-PATH      ORIGIN  KERNEL
10.244.2.0/24  *=     10.0.1.1  10.0.1.1  65001 65102  IGP     yes via 10.0.1.1,10.0.9.1
               =      10.0.9.1  10.0.9.1  65001 65102  IGP
10.244.3.0/24  *=     10.0.1.1  10.0.1.1  65001 65102  IGP     NO (missing)

2 prefixes, 1 in the kernel, 1 missing. Flags: * best, = multipath (ECMP), s stale, x ignored
";
        assert_eq!(routes(&list), expected);
        assert!(!routes_healthy(&list));
        assert!(routes_healthy(&list[..1]));
    }

    #[test]
    fn ignored_paths_and_known_problems_are_shown() {
        let mut ignored = path("10.0.9.1", false, false);
        ignored.next_hop = "::1".parse().unwrap();
        ignored.ignored =
            Some("next hop ::1 is a loopback address (RFC 4271 §6.3: route ignored)".into());
        let list = vec![
            RouteStatus {
                prefix: "10.244.4.0/24".parse().unwrap(),
                paths: vec![path("10.0.1.1", true, true)],
                in_kernel: false,
                kernel_next_hops: vec![],
                kernel_next_hop_interfaces: vec![],
                not_installed_because: None,
                problem: Some("next hop 10.0.1.1 is on no connected network".into()),
            },
            RouteStatus {
                prefix: "fd00:5::/64".parse().unwrap(),
                paths: vec![ignored],
                in_kernel: false,
                kernel_next_hops: vec![],
                kernel_next_hop_interfaces: vec![],
                not_installed_because: Some("no usable path".into()),
                problem: None,
            },
        ];
        let text = routes(&list);
        assert!(
            text.contains("IGP     NO: next hop 10.0.1.1 is on no connected network\n"),
            "{text}"
        );
        assert!(text.contains("fd00:5::/64    x      ::1"), "{text}");
        assert!(
            text.contains("ignored: fd00:5::/64 from 10.0.9.1: next hop ::1 is a loopback address"),
            "{text}"
        );
        // The missing best route is a fault; the ignored one is not.
        assert!(!routes_healthy(&list));
        assert!(routes_healthy(&list[1..]));
    }

    #[test]
    fn unnumbered_routes_show_interfaces_and_left_out_next_hops() {
        let via = |addr: &str, dev: &str| RoutePath {
            peer: addr.parse().unwrap(),
            peer_interface: Some(dev.into()),
            next_hop_interface: Some(dev.into()),
            ..path(addr, true, true)
        };
        let mut off_link = via("fe80::b", "eth2");
        off_link.next_hop = "fd00:99::1".parse().unwrap();
        off_link.next_hop_interface = None;
        off_link.best = false;
        off_link.not_installed_because = Some("next hop fd00:99::1 is not on-link".into());
        let list = vec![RouteStatus {
            prefix: "10.244.2.0/24".parse().unwrap(),
            paths: vec![via("fe80::a", "eth1"), off_link],
            in_kernel: true,
            kernel_next_hops: vec!["fe80::a".parse().unwrap()],
            kernel_next_hop_interfaces: vec![Some("eth1".into())],
            not_installed_because: None,
            problem: None,
        }];
        let text = routes(&list);
        assert!(
            text.contains("10.244.2.0/24  *=     fe80::a%eth1  eth1  65001 65102  IGP     yes via fe80::a%eth1\n"),
            "{text}"
        );
        assert!(
            text.contains("=      fd00:99::1    eth2  65001 65102  IGP     this next hop left out: next hop fd00:99::1 is not on-link\n"),
            "{text}"
        );
    }

    #[test]
    fn ipam_shows_usage_and_allocations() {
        let s = IpamStatus {
            blocks: vec![BlockUsage {
                block: "10.244.1.0/24".parse().unwrap(),
                in_use: 2,
                capacity: 256,
            }],
            allocations: vec![Allocation {
                address: "10.244.1.0".parse().unwrap(),
                address_v6: None,
                container_id: "c1".into(),
                ifname: "eth0".into(),
            }],
        };
        let expected = "\
BLOCK          IN-USE  CAPACITY  USED
10.244.1.0/24  2       256       0.8%

ADDRESS     CONTAINER  IFNAME
10.244.1.0  c1         eth0
";
        assert_eq!(ipam(&s), expected);
        assert!(ipam_healthy(&s));
        let mut dual = s.clone();
        dual.allocations[0].address_v6 = Some("fd00:10:244::".parse().unwrap());
        let text = ipam(&dual);
        assert!(
            text.contains("ADDRESS     IPV6           CONTAINER  IFNAME\n10.244.1.0  fd00:10:244::  c1         eth0\n"),
            "{text}"
        );
        let mut full = s.clone();
        full.blocks[0].in_use = 256;
        assert!(!ipam_healthy(&full));
    }
}
