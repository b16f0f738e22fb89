//! Root, real FRR: containerlab labs written the way containerlab's own examples are (FRR's
//! image on `linux` nodes, integrated frr.conf and daemons files bound into /etc/frr, hosts
//! configured by exec lines) deploy unchanged and route: OSPFv2 + OSPFv3 with redistributed
//! static routes, eBGP with BFD. Also lattice-lab's own `kind: frr` with an integrated
//! startup-config, daemons inferred or from `extras.frr.daemons`, and a per-daemon file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod clab_kit;
mod common;

use clab_kit::{daemons, exec, pings};
use common::eventually;
use std::time::Duration;

#[test]
fn containerlab_ospf_lab_runs_unchanged() {
    let lab = clab_kit::example("frr-ospf", "co");
    let out = lab.ok("deploy", &[]);
    assert!(
        out.contains("note: mgmt ignored: there is no management network"),
        "{out}"
    );
    assert!(out.contains("note: node r1: image `quay.io/frrouting/frr:10.5.1` is FRR's"));
    // The daemons file decides; staticd runs anyway, as FRR's init script always starts it.
    for r in ["r1", "r2", "r3"] {
        assert_eq!(
            daemons(&lab, r),
            ["zebra", "ospfd", "ospf6d", "staticd"],
            "{r}"
        );
    }
    // Interface addresses come from frr.conf (zebra), not from exec lines.
    let table = lab.ok("inspect", &[]);
    let r1 = table.lines().find(|l| l.starts_with("r1 ")).unwrap();
    assert!(
        r1.contains("running") && r1.contains("eth1=10.1.12.1/30"),
        "{r1}"
    );
    let st = clab_kit::state(&lab);
    let pc1 = st["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "pc1")
        .unwrap();
    assert_eq!(pc1["labels"]["role"], "pc", "labels kept in state");

    // Every PC reaches every other PC and every router's loopback, over IPv4 and IPv6.
    let deployed = std::time::Instant::now();
    let targets = [
        ("pc1", "172.16.2.10"),
        ("pc1", "172.16.3.10"),
        ("pc2", "172.16.3.10"),
        ("pc3", "10.255.0.1"),
        ("pc1", "2001:db8:2::10"),
        ("pc1", "2001:db8:3::10"),
        ("pc2", "2001:db8:3::10"),
        ("pc3", "2001:db8:ff::2"),
    ];
    for (from, to) in targets {
        assert!(
            eventually(Duration::from_secs(120), || pings(&lab, from, to)),
            "{from} never reached {to}"
        );
    }
    eprintln!(
        "frr-ospf: every ping answered {:.1}s after the deploy returned",
        deployed.elapsed().as_secs_f64()
    );
    // r3's static routes (staticd) reach r1 through OSPF and OSPFv3 (external LSAs may come
    // after the intra-area routes the pings needed).
    for route in [["ip", "-4"], ["ip", "-6"]] {
        let prefix = if route[1] == "-4" {
            "192.0.2.0/24"
        } else {
            "2001:db8:beef::/48"
        };
        let args = [route[0], route[1], "route", "show", prefix];
        assert!(
            eventually(Duration::from_secs(40), || exec(&lab, "r1", &args)
                .contains("proto ospf")),
            "r1 never learned {prefix} from r3"
        );
    }
    // vtysh through exec talks to the node's own daemons.
    let nbrs = exec(&lab, "r2", &["vtysh", "-c", "show ip ospf neighbor json"]);
    assert!(
        nbrs.contains("10.255.0.1") && nbrs.contains("10.255.0.3"),
        "{nbrs}"
    );
    assert!(!nbrs.contains("10.255.0.2\""), "{nbrs}");
    let log = std::fs::read_to_string(lab.lab_dir().join("r1").join("node.log")).unwrap();
    assert!(
        log.contains(" -b\n") && log.contains("(exit status: 0)"),
        "{log}"
    );

    lab.destroy_and_check();
}

/// Every BFD peer the node reports is up; how many there are.
fn bfd_peers_up(lab: &common::Lab, node: &str) -> Option<usize> {
    let out = lab.run("exec", &[node, "--", "vtysh", "-c", "show bfd peers json"]);
    let peers: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let peers = peers.as_array()?;
    peers
        .iter()
        .all(|p| p["status"] == "up")
        .then_some(peers.len())
}

#[test]
fn containerlab_bgp_lab_with_bfd_runs_unchanged() {
    let lab = clab_kit::example("frr-bgp", "cb");
    lab.ok("deploy", &[]);
    for r in ["spine", "leaf1", "leaf2"] {
        assert_eq!(
            daemons(&lab, r),
            ["zebra", "bgpd", "staticd", "bfdd"],
            "{r}"
        );
    }
    let waited = lab.ok("wait", &["--timeout", "60"]);
    assert!(
        waited.contains("all 4 BGP sessions established"),
        "{waited}"
    );
    // bfdd runs the `bfd` peer sections of both ends: the sessions come up.
    assert!(
        eventually(Duration::from_secs(40), || bfd_peers_up(&lab, "spine")
            == Some(2)),
        "spine's BFD peers"
    );
    assert!(
        eventually(Duration::from_secs(40), || bfd_peers_up(&lab, "leaf1")
            == Some(1)),
        "leaf1's BFD peer"
    );
    assert!(
        eventually(Duration::from_secs(40), || pings(
            &lab,
            "h1",
            "192.168.2.10"
        )),
        "h1 never reached h2"
    );
    assert!(
        pings(&lab, "h2", "10.255.1.1"),
        "h2 reaches leaf1's loopback"
    );

    // env from the group reaches `exec`; the link's mtu and ipv4 were applied.
    let role = exec(&lab, "h1", &["sh", "-c", "echo role=$HOST_ROLE"]);
    assert_eq!(role.trim(), "role=client");
    let link = exec(&lab, "spine", &["ip", "link", "show", "eth1"]);
    assert!(link.contains("mtu 9000"), "{link}");
    let h1 = exec(&lab, "h1", &["ip", "-4", "addr", "show", "eth1"]);
    assert!(h1.contains("192.168.1.10/24"), "{h1}");
    let rows: serde_json::Value = serde_json::from_str(&lab.ok("inspect", &["--json"])).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["node"] == "h2")
        .unwrap();
    assert_eq!(row["labels"]["lab"], "frr-bgp");
    assert_eq!(row["labels"]["role"], "host");

    lab.destroy_and_check();
}

const NATIVE: &str = r#"
name: NAME
topology:
  kinds:
    frr: {image: quay.io/frrouting/frr:8.4.4}
  nodes:
    r1:
      kind: frr
      startup-config: r1.conf
      env-files: [r1.env]
      sysctls: {net.ipv4.conf.all.rp_filter: 2}
    r2:
      kind: frr
      hostname: edge-r2
      startup-delay: 1
      startup-config: r2.conf
      binds: [r2-staticd.conf:/etc/frr/staticd.conf]
      extras:
        frr: {daemons: [bgpd, bfdd]}
  links:
    - type: veth
      endpoints:
        - {node: r1, interface: eth1, mac: "02:00:5e:10:00:01"}
        - {node: r2, interface: eth1}
"#;

const R1: &str = "hostname r1\n!\ninterface eth1\n ip address 10.9.0.1/31\n!\ninterface lo\n \
                  ip address 10.9.255.1/32\n!\nip route 203.0.113.0/24 blackhole\n!\nbfd\n \
                  peer 10.9.0.0 interface eth1\n !\n!\nrouter bgp 65001\n \
                  no bgp ebgp-requires-policy\n neighbor 10.9.0.0 remote-as 65002\n \
                  neighbor 10.9.0.0 timers 3 9\n neighbor 10.9.0.0 timers connect 1\n \
                  neighbor 10.9.0.0 bfd\n !\n address-family ipv4 unicast\n  \
                  redistribute static\n  redistribute connected\n exit-address-family\n!\n";

const R2: &str = "!\ninterface eth1\n ip address 10.9.0.0/31\n!\nbfd\n \
                  peer 10.9.0.1 interface eth1\n !\n!\nrouter bgp 65002\n \
                  no bgp ebgp-requires-policy\n neighbor 10.9.0.1 remote-as 65001\n \
                  neighbor 10.9.0.1 timers 3 9\n neighbor 10.9.0.1 timers connect 1\n \
                  neighbor 10.9.0.1 bfd\n!\n";

#[test]
fn kind_frr_takes_an_integrated_startup_config() {
    clab_kit::require_root_and_frr();
    let src = tempfile::tempdir().unwrap();
    let d = src.path();
    std::fs::write(d.join("native.clab.yml"), NATIVE.replace("NAME", "native")).unwrap();
    std::fs::write(d.join("r1.conf"), R1).unwrap();
    std::fs::write(d.join("r2.conf"), R2).unwrap();
    std::fs::write(
        d.join("r2-staticd.conf"),
        "ip route 198.51.100.0/24 blackhole\n",
    )
    .unwrap();
    std::fs::write(d.join("r1.env"), "# site\nLAB_SITE=west\n").unwrap();
    let lab = clab_kit::lab_from_dir(d, "native.clab.yml", "native", "cn");
    let out = lab.ok("deploy", &[]);
    assert!(out.contains("r2: startup-delay 1s"), "{out}");
    // r1: daemons from its config's sections; r2: from extras.frr.daemons.
    assert_eq!(daemons(&lab, "r1"), ["zebra", "bgpd", "staticd", "bfdd"]);
    assert_eq!(daemons(&lab, "r2"), ["zebra", "bgpd", "staticd", "bfdd"]);
    let waited = lab.ok("wait", &["--timeout", "60"]);
    assert!(
        waited.contains("all 2 BGP sessions established"),
        "{waited}"
    );
    assert!(
        eventually(Duration::from_secs(40), || bfd_peers_up(&lab, "r1")
            == Some(1)),
        "r1's BFD peer"
    );
    assert!(
        eventually(Duration::from_secs(40), || bfd_peers_up(&lab, "r2")
            == Some(1)),
        "r2's BFD peer"
    );
    // zebra took the interface stanzas, staticd r1's static route (carried by BGP to r2) and
    // r2's own staticd.conf.
    assert!(
        eventually(Duration::from_secs(20), || exec(
            &lab,
            "r2",
            &["ip", "route", "show", "203.0.113.0/24"]
        )
        .contains("proto bgp")),
        "r1's static route never reached r2"
    );
    let own = exec(&lab, "r2", &["ip", "route", "show", "198.51.100.0/24"]);
    assert!(
        own.contains("blackhole") && own.contains("proto static"),
        "{own}"
    );
    assert!(
        eventually(Duration::from_secs(20), || pings(&lab, "r2", "10.9.255.1")),
        "r2 never reached r1's loopback"
    );
    // hostname (no hostname line in r2.conf), sysctls, env-files, the endpoint's MAC.
    let run = exec(&lab, "r2", &["vtysh", "-c", "show running-config"]);
    assert!(run.contains("hostname edge-r2"), "{run}");
    let rp = exec(&lab, "r1", &["sysctl", "-n", "net.ipv4.conf.all.rp_filter"]);
    assert_eq!(rp.trim(), "2");
    assert_eq!(
        exec(&lab, "r1", &["sh", "-c", "echo $LAB_SITE"]).trim(),
        "west"
    );
    let st = clab_kit::state(&lab);
    let r1 = st["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "r1")
        .unwrap();
    let zebra = r1["pids"][0].as_u64().unwrap();
    let environ = std::fs::read(format!("/proc/{zebra}/environ")).unwrap();
    assert!(
        String::from_utf8_lossy(&environ).contains("LAB_SITE=west"),
        "zebra has the node's environment"
    );
    let link = exec(&lab, "r1", &["ip", "link", "show", "eth1"]);
    assert!(link.contains("02:00:5e:10:00:01"), "{link}");
    // `write memory` through exec writes the node's own frr.conf, never the machine's.
    let before = std::fs::metadata("/etc/frr/frr.conf")
        .ok()
        .and_then(|m| m.modified().ok());
    exec(&lab, "r1", &["vtysh", "-c", "write memory"]);
    let after = std::fs::metadata("/etc/frr/frr.conf")
        .ok()
        .and_then(|m| m.modified().ok());
    assert_eq!(before, after, "/etc/frr/frr.conf untouched");
    let saved = std::fs::read_to_string(lab.lab_dir().join("r1/etc/frr.conf")).unwrap();
    assert!(saved.contains("peer 10.9.0.0 interface eth1"), "{saved}");
    lab.destroy_and_check();
}
