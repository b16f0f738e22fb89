//! containerlab's topology format beyond the basics: every key honoured or ignored once with
//! its reason, FRR's image, extended links, and what stays an error.

use std::path::{Path, PathBuf};

use super::model::Kind;
use super::{is_frr_image, load, parse};

fn ok(text: &str) -> super::Lab {
    parse(text, Path::new("/labs")).unwrap()
}

fn err(text: &str) -> String {
    parse(text, Path::new("/labs")).unwrap_err().to_string()
}

fn with_nodes(nodes: &str, links: &str) -> String {
    format!("name: t\ntopology:\n  nodes:\n{nodes}\n  links:\n{links}\n")
}

#[test]
fn frr_image_makes_a_linux_node_a_router() {
    for image in [
        "quay.io/frrouting/frr:10.5.1",
        "frrouting/frr:v7.5.0",
        "frrouting/frr",
        "localhost:5000/frr:8.4",
        "ghcr.io/me/frr-debian@sha256:0123",
    ] {
        assert!(is_frr_image(image), "{image}");
    }
    for image in ["alpine:3", "wbitt/network-multitool", "myfrr", "frrlike:1"] {
        assert!(!is_frr_image(image), "{image}");
    }
    let lab = ok(&with_nodes(
        "    r: {kind: linux, image: quay.io/frrouting/frr:10.5.1}\n    pc: {kind: linux, image: alpine}",
        "    []",
    ));
    assert_eq!(lab.node("r").unwrap().kind, Kind::Frr);
    assert_eq!(lab.node("pc").unwrap().kind, Kind::Linux);
    assert!(lab
        .notes
        .iter()
        .any(|n| n.contains("node r: image") && n.contains("is FRR's")));
    assert!(lab
        .notes
        .iter()
        .any(|n| n.contains("node pc: image `alpine` ignored")));
}

#[test]
fn every_ignored_key_is_said_once_where_it_is_written() {
    let text = r#"
name: t
prefix: ""
mgmt: {network: m, ipv4-subnet: 172.20.20.0/24}
settings: {certificate-authority: {key-size: 2048}}
debug: true
topology:
  defaults:
    image-pull-policy: IfNotPresent
    restart-policy: always
  kinds:
    linux:
      cpu: 1
      memory: 1Gb
      cap-add: [NET_ADMIN]
  nodes:
    a: {kind: linux, mgmt-ipv4: 172.20.20.2, ports: ["8080:80"], stages: {create: {wait-for: [{node: b, stage: healthy}]}}}
    b: {kind: linux, type: ixrd2, license: l.key, position: "1,2", user: root, cmd: sleep, entrypoint: sh, volumes: [v:/v], devices: [/dev/net/tun], privileged: true, cgroupns-mode: host, cgroup-parent: x, pid-mode: host, tmpfs: {/t: ""}, security-opts: [a], shm-size: 1g, runtime: docker, cpu-set: "0", dns: {servers: [1.1.1.1]}, certificate: {issue: true}, healthcheck: {test: [true]}, credentials: {username: u}, username: u, password: p, aliases: [x], components: [], link-apply-mode: live, mgmt-ipv6: "2001:db8::2", auto-remove: true, enforce-startup-config: true, suppress-startup-config: false, config: {vars: {a: 1}}, extras: {srl-agents: [a.yml]}}
"#;
    let lab = ok(text);
    for key in ["prefix", "mgmt", "settings", "debug"] {
        assert!(
            lab.notes
                .iter()
                .any(|n| n.starts_with(&format!("{key} ignored: "))),
            "{key}: {:?}",
            lab.notes
        );
    }
    for at in [
        "topology.defaults.image-pull-policy",
        "topology.defaults.restart-policy",
        "topology.kinds.linux.cpu",
        "topology.kinds.linux.memory",
        "topology.kinds.linux.cap-add",
        "topology.nodes.a.mgmt-ipv4",
        "topology.nodes.a.ports",
        "topology.nodes.a.stages",
        "topology.nodes.b.extras.srl-agents",
    ] {
        let hits = lab
            .notes
            .iter()
            .filter(|n| n.starts_with(&format!("{at} ignored: ")))
            .count();
        assert_eq!(hits, 1, "{at}: {:?}", lab.notes);
    }
    // Every key of b is reported, each with a reason.
    let b: Vec<&String> = lab
        .notes
        .iter()
        .filter(|n| n.starts_with("topology.nodes.b."))
        .collect();
    assert_eq!(b.len(), 32, "{b:#?}");
    assert!(b.iter().all(|n| n.contains(" ignored: ")));
    // Inherited keys are not repeated per node.
    assert!(!lab.notes.iter().any(|n| n.contains("nodes.a.cpu")));
}

#[test]
fn env_labels_sysctls_merge_key_by_key() {
    let text = r#"
name: t
topology:
  defaults: {env: {A: d, B: d}, labels: {tier: any}, env-files: [common.env]}
  kinds: {linux: {env: {B: k, N: 3}, sysctls: {net.ipv4.ip_forward: 1}}}
  groups: {g: {env: {C: true}, labels: {role: pc}}}
  nodes:
    a: {kind: linux, group: g, env: {A: own}, env-files: [a.env], sysctls: {net.ipv6.conf.all.forwarding: "1", kernel.shmmax: 10}}
"#;
    let lab = ok(text);
    let a = lab.node("a").unwrap();
    let pairs = |m: &std::collections::BTreeMap<String, String>| {
        m.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
    };
    assert_eq!(pairs(&a.env), ["A=own", "B=k", "C=true", "N=3"]);
    assert_eq!(pairs(&a.labels), ["role=pc", "tier=any"]);
    assert_eq!(
        pairs(&a.sysctls),
        ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]
    );
    assert_eq!(
        a.env_files,
        [
            PathBuf::from("/labs/common.env"),
            PathBuf::from("/labs/a.env")
        ]
    );
    assert!(lab
        .notes
        .iter()
        .any(|n| n.contains("sysctl kernel.shmmax ignored")));
    let e = err(&with_nodes(
        "    a: {kind: linux, sysctls: {vm.swappiness: 1}}",
        "    []",
    ));
    assert!(
        e.contains("topology.nodes.a.sysctls.vm.swappiness") && e.contains("the machine itself"),
        "{e}"
    );
}

#[test]
fn exec_lines_concatenate_once_each() {
    let text =
        "name: t\ntopology:\n  defaults: {exec: [a, b]}\n  kinds: {linux: {exec: [b, c]}}\n  \
                nodes: {n: {kind: linux, exec: [d, a]}}\n";
    assert_eq!(ok(text).node("n").unwrap().exec, ["a", "b", "c", "d"]);
}

#[test]
fn nodes_may_be_empty_and_sections_null() {
    let lab = ok(
        "name: t\ntopology:\n  defaults: {kind: linux}\n  kinds: ~\n  nodes:\n    r1:\n    r2: ~\n",
    );
    assert_eq!(lab.nodes.len(), 2);
    assert_eq!(lab.node("r1").unwrap().hostname, "r1");
}

#[test]
fn extended_links_carry_addresses_macs_and_mtu() {
    let links = r#"    - endpoints: ["a:eth1", "b:eth1"]
      mtu: 9000
      ipv4: ["10.0.0.1/30", "10.0.0.2/30"]
      ipv6: ["", "fd00::2/64"]
    - type: veth
      endpoints:
        - {node: a, interface: eth2, mac: "02:00:00:00:00:01", ipv4: 10.0.1.1/30}
        - {node: b, interface: eth2, ipv6: "fd00:1::2/64", vars: {x: 1}}
      labels: {l: 1}"#;
    let lab = ok(&with_nodes(
        "    a: {kind: linux}\n    b: {kind: linux}",
        links,
    ));
    let l0 = &lab.links[0];
    assert_eq!(l0.mtu, Some(9000));
    assert_eq!(l0.a.addrs, ["10.0.0.1/30".parse().unwrap()]);
    assert_eq!(l0.b.addrs.len(), 2);
    let l1 = &lab.links[1];
    assert_eq!(
        (l1.a.ifname.as_str(), l1.a.mac.as_deref()),
        ("eth2", Some("02:00:00:00:00:01"))
    );
    assert_eq!(l1.b.addrs, ["fd00:1::2/64".parse().unwrap()]);
    assert!(lab
        .notes
        .iter()
        .any(|n| n.starts_with("topology.links[1].labels ignored")));
    assert!(lab
        .notes
        .iter()
        .any(|n| n.starts_with("topology.links[1].endpoints[1].vars ignored")));
}

#[test]
fn links_the_lab_cannot_build_are_refused_with_the_reason() {
    let nodes = "    a: {kind: linux}\n    b: {kind: linux}";
    let cases = [
        (
            "    - endpoints: [\"a:eth1\", \"host:veth-a\"]",
            "machine's own network",
        ),
        (
            "    - endpoints: [\"a:eth1\", \"macvlan:enp0s3\"]",
            "machine's own network",
        ),
        (
            "    - {type: host, endpoint: {node: a, interface: eth1}, host-interface: x}",
            "machine's own network",
        ),
        (
            "    - {type: vxlan, endpoint: {node: a, interface: eth1}, remote: 1.2.3.4, vni: 1, dst-port: 4789}",
            "beyond this machine",
        ),
        (
            "    - {type: dummy, endpoint: {node: a, interface: eth1}}",
            "not supported",
        ),
        (
            "    - {endpoints: [\"a:eth1\", \"b:eth1\"], remote: 1.2.3.4}",
            "`remote` is not a key of veth links",
        ),
        (
            "    - {endpoints: [\"a:eth1\", \"b:eth1\"], mtu: 20}",
            "out of range",
        ),
        (
            "    - {endpoints: [\"a:eth1\", \"b:eth1\"], ipv4: [\"fd00::1/64\"]}",
            "not an IPv4 address",
        ),
        (
            "    - {endpoints: [\"a:eth1\", \"b:eth1\"], ipv4: [\"10.0.0.1\"]}",
            "prefix length",
        ),
        (
            "    - {type: veth, endpoints: [{node: a, interface: eth1, colour: red}, {node: b, interface: eth1}]}",
            "unknown key `colour`",
        ),
        (
            "    - {type: veth, endpoints: [{node: a, interface: eth1, mac: zz}, {node: b, interface: eth1}]}",
            "not a MAC address",
        ),
    ];
    for (link, want) in cases {
        let e = err(&with_nodes(nodes, link));
        assert!(
            e.contains("topology.links[0]") && e.contains(want),
            "{link}: {e}"
        );
    }
}

#[test]
fn network_mode_extras_and_startup_config_of_linux_nodes() {
    let e = err(&with_nodes(
        "    a: {kind: linux, network-mode: host}",
        "    []",
    ));
    assert!(e.contains("topology.nodes.a.network-mode"), "{e}");
    ok(&with_nodes(
        "    a: {kind: linux, network-mode: none}",
        "    []",
    ));
    let lab = ok(&with_nodes(
        "    r: {kind: frr, extras: {frr: {daemons: [bgpd, bfdd]}}}\n    \
         l: {kind: linux, extras: {frr: {daemons: [bgpd]}}, hostname: h}\n    \
         f: {kind: linux, image: frrouting/frr, startup-config: f.conf, hostname: edge1}",
        "    []",
    ));
    let r = lab.node("r").unwrap();
    assert_eq!(
        r.frr_daemons.as_deref(),
        Some(&["bgpd".into(), "bfdd".into()][..])
    );
    let f = lab.node("f").unwrap();
    assert_eq!(
        (f.startup_config.as_ref(), f.hostname.as_str()),
        (None, "edge1")
    );
    for note in [
        "node l: extras.frr ignored",
        "node l: hostname ignored",
        "node f: startup-config ignored: containerlab's linux kind has none (bind the file to /etc/frr/frr.conf)",
    ] {
        assert!(lab.notes.iter().any(|n| n.starts_with(note)), "{note}: {:?}", lab.notes);
    }
    let e = err(&with_nodes(
        "    a: {kind: frr, extras: {frr: {daemon: [bgpd]}}}",
        "    []",
    ));
    assert!(e.contains("unknown key `daemon`"), "{e}");
    let e = err(&with_nodes(
        "    a: {kind: frr, extras: {juniper: 1}}",
        "    []",
    ));
    assert!(e.contains("unknown key `juniper`"), "{e}");
}

#[test]
fn the_examples_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut n = 0;
    // examples/X.clab.yml and, laid out as containerlab's labs are, examples/X/X.clab.yml.
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            files.push(p);
        }
    }
    for p in files {
        if p.to_string_lossy().ends_with(".clab.yml") {
            let lab = load(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert!(!lab.nodes.is_empty());
            n += 1;
        }
    }
    assert!(n >= 5, "{n} examples");
}
