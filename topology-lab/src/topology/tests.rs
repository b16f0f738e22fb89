//! Parsing, merging and every rejected input.

use std::path::{Path, PathBuf};

use super::model::{Bind, Kind};
use super::{parse, TopologyError};

fn base() -> PathBuf {
    PathBuf::from("/labs")
}

fn ok(text: &str) -> super::Lab {
    parse(text, &base()).unwrap()
}

/// The error text of a rejected file.
fn err(text: &str) -> String {
    let e = parse(text, &base()).unwrap_err();
    e.to_string()
}

const GOOD: &str = r#"
name: t1
topology:
  defaults:
    kind: linux
    exec: ["echo default"]
  kinds:
    frr:
      image: quay.io/frrouting/frr:8.4.4
      binds: ["cfg/daemons:/etc/frr/daemons", "cfg/motd:/etc/frr/motd.txt"]
    lattice:
      containers: 2
  groups:
    tors:
      kind: frr
      exec: ["echo group"]
  nodes:
    spine: {kind: frr, startup-config: spine.conf}
    tor: {group: tors, startup-config: tor.conf, binds: ["x/bgpd.conf:/etc/frr/bgpd.conf:ro"]}
    h1: {kind: lattice, startup-config: h1.yaml, exec: ["ip addr add 10.0.1.2/30 dev eth1"]}
    h2: {kind: lattice, startup-config: h2.yaml, containers: 3}
    plain: {}
  links:
    - endpoints: ["spine:eth1", "tor:eth1"]
    - endpoints: ["tor:eth2", "h1:eth1"]
"#;

#[test]
fn merges_node_over_group_over_kind_over_defaults() {
    let lab = ok(GOOD);
    assert_eq!(lab.name, "t1");
    let tor = lab.node("tor").unwrap();
    assert_eq!(tor.kind, Kind::Frr, "kind from the group");
    assert_eq!(
        tor.exec,
        vec!["echo default", "echo group"],
        "exec lines are concatenated from defaults to the node, as containerlab does"
    );
    assert_eq!(
        tor.startup_config.as_deref(),
        Some(Path::new("/labs/tor.conf"))
    );
    let spine = lab.node("spine").unwrap();
    assert_eq!(spine.exec, vec!["echo default"]);
    let plain = lab.node("plain").unwrap();
    assert_eq!(plain.kind, Kind::Linux, "kind from defaults");
    assert_eq!(
        lab.node("h1").unwrap().containers,
        2,
        "containers from the kind"
    );
    assert_eq!(lab.node("h2").unwrap().containers, 3, "node beats kind");
    assert_eq!(
        lab.node("h1").unwrap().exec,
        vec!["echo default", "ip addr add 10.0.1.2/30 dev eth1"]
    );
}

#[test]
fn binds_merge_across_layers_with_node_first() {
    let lab = ok(GOOD);
    let tor = lab.node("tor").unwrap();
    assert_eq!(
        tor.binds,
        vec![
            Bind {
                host: PathBuf::from("/labs/x/bgpd.conf"),
                container: "/etc/frr/bgpd.conf".into(),
                read_only: true
            },
            Bind {
                host: PathBuf::from("/labs/cfg/daemons"),
                container: "/etc/frr/daemons".into(),
                read_only: false
            },
            Bind {
                host: PathBuf::from("/labs/cfg/motd"),
                container: "/etc/frr/motd.txt".into(),
                read_only: false
            },
        ]
    );
}

#[test]
fn notes_for_ignored_image_and_binds() {
    let lab = ok(GOOD);
    assert!(
        lab.notes
            .iter()
            .any(|n| n.contains("node spine: image `quay.io/frrouting/frr:8.4.4` is FRR's")),
        "{:?}",
        lab.notes
    );
    assert!(lab
        .notes
        .iter()
        .any(|n| n.contains("/etc/frr/motd.txt ignored")));
    for used in ["/etc/frr/bgpd.conf", "/etc/frr/daemons"] {
        assert!(
            !lab.notes
                .iter()
                .any(|n| n.contains(&format!("{used} ignored"))),
            "{used}: {:?}",
            lab.notes
        );
    }
}

#[test]
fn namespaces_and_targets() {
    let lab = ok(GOOD);
    let all = lab.all_namespaces();
    assert!(all.contains(&"t1-spine".to_string()));
    assert!(all.contains(&"t1-h2-c3".to_string()));
    assert_eq!(all.len(), 5 + 2 + 3);
    let t = lab.target("h2-c3").unwrap();
    assert_eq!(
        (t.node.name.as_str(), t.container, t.namespace.as_str()),
        ("h2", Some(3), "t1-h2-c3")
    );
    assert!(lab.target("h2-c4").is_none());
    assert_eq!(lab.target("tor").unwrap().namespace, "t1-tor");
}

#[test]
fn links_resolve() {
    let lab = ok(GOOD);
    assert_eq!(lab.links.len(), 2);
    assert_eq!(lab.links[1].b.node, "h1");
    assert_eq!(lab.links[1].b.ifname, "eth1");
}

fn with_nodes(nodes: &str, links: &str) -> String {
    format!("name: t\ntopology:\n  nodes:\n{nodes}\n  links:\n{links}\n")
}

/// The message names the key and the line, once.
fn said_once(e: &str, key: &str, line: &str) {
    assert!(
        e.contains(&format!("unknown key `{key}`")) && e.contains(line),
        "{e}"
    );
    assert_eq!(e.matches(key).count(), 1, "said once: {e}");
    assert!(!e.contains("expected one of"), "no list of every key: {e}");
}

#[test]
fn unknown_top_level_key_names_the_key_and_line() {
    let e = err("name: t\ncolour: red\ntopology:\n  nodes: {a: {kind: linux}}\n");
    said_once(&e, "colour", "line 2 column 1");
}

#[test]
fn unknown_node_key_is_rejected() {
    let e = err("name: t\ntopology:\n  nodes:\n    a: {kind: linux, colour: red}\n");
    said_once(&e, "colour", "line 4");
    assert!(e.contains("topology.nodes.a"), "{e}");
}

#[test]
fn unknown_link_key_is_rejected() {
    let e = err(&with_nodes(
        "    a: {kind: linux}",
        "    - {endpoints: [\"a:e1\", \"a:e2\"], speed: 9000}",
    ));
    said_once(&e, "speed", "line 6");
}

#[test]
fn a_kind_the_lab_cannot_run_is_rejected_only_where_used() {
    let e = err(&with_nodes("    a: {kind: ceos}", "    []"));
    assert!(
        e.contains("topology.nodes.a.kind") && e.contains("kind `ceos` cannot run here"),
        "{e}"
    );
    let lab = ok("name: t\ntopology:\n  kinds: {nokia_srlinux: {}}\n  nodes: {a: {kind: linux}}\n");
    assert_eq!(
        lab.notes,
        [
            "topology.kinds.nokia_srlinux ignored: lattice-lab does not run kind nokia_srlinux \
          (a node of that kind is an error)"
        ]
    );
}

#[test]
fn missing_kind_is_rejected_and_a_group_may_be_a_plain_label() {
    assert!(err(&with_nodes("    a: {}", "    []")).contains("no `kind`"));
    // containerlab also uses `group` to sort nodes in graphs: no `groups` entry is needed.
    let lab = ok(&with_nodes("    a: {kind: linux, group: tier-1}", "    []"));
    assert_eq!(lab.node("a").unwrap().kind, Kind::Linux);
}

#[test]
fn link_to_unknown_node_is_rejected() {
    let e = err(&with_nodes(
        "    a: {kind: linux}",
        "    - endpoints: [\"a:eth1\", \"b:eth1\"]",
    ));
    assert!(
        e.contains("topology.links[0].endpoints[1]") && e.contains("unknown node `b`"),
        "{e}"
    );
}

#[test]
fn interface_used_twice_is_rejected() {
    let links =
        "    - endpoints: [\"a:eth1\", \"b:eth1\"]\n    - endpoints: [\"a:eth1\", \"b:eth2\"]";
    let e = err(&with_nodes(
        "    a: {kind: linux}\n    b: {kind: linux}",
        links,
    ));
    assert!(
        e.contains("topology.links[1].endpoints[0]") && e.contains("already used"),
        "{e}"
    );
}

#[test]
fn malformed_endpoints_are_rejected() {
    let nodes = "    a: {kind: linux}\n    b: {kind: linux}";
    for bad in [
        "\"aeth1\", \"b:eth1\"",
        "\"a:\", \"b:eth1\"",
        "\":eth1\", \"b:eth1\"",
        "\"a:averyveryverylongname\", \"b:eth1\"",
        "\"a:lo\", \"b:eth1\"",
        "\"a:e/1\", \"b:eth1\"",
    ] {
        let e = err(&with_nodes(nodes, &format!("    - endpoints: [{bad}]")));
        assert!(e.contains("topology.links[0].endpoints[0]"), "{bad}: {e}");
    }
    let e = err(&with_nodes(nodes, "    - endpoints: [\"a:eth1\"]"));
    assert!(e.contains("exactly 2 endpoints"), "{e}");
}

#[test]
fn container_name_clash_is_rejected() {
    let nodes =
        "    h: {kind: lattice, startup-config: h.yaml, containers: 2}\n    h-c2: {kind: linux}";
    let e = err(&with_nodes(nodes, "    []"));
    assert!(
        e.contains("topology.nodes.h-c2") && e.contains("clashes"),
        "{e}"
    );
}

#[test]
fn containers_only_on_lattice_and_bounded() {
    let e = err(&with_nodes("    a: {kind: frr, containers: 1}", "    []"));
    assert!(e.contains("only for kind lattice"), "{e}");
    let e = err(&with_nodes(
        "    a: {kind: lattice, startup-config: a.yaml, containers: 999}",
        "    []",
    ));
    assert!(e.contains("at most"), "{e}");
    let e = err(&with_nodes("    a: {kind: lattice}", "    []"));
    assert!(e.contains("needs a `startup-config`"), "{e}");
}

#[test]
fn bad_names_are_rejected() {
    let e = err("name: \"a/b\"\ntopology:\n  nodes: {a: {kind: linux}}\n");
    assert!(e.contains("name: `a/b` is not a valid name"), "{e}");
    let e = err(&with_nodes("    \"x y\": {kind: linux}", "    []"));
    assert!(e.contains("topology.nodes.x y"), "{e}");
}

#[test]
fn malformed_binds_are_rejected() {
    for good in ["a:/b:ro,Z", "a:/b:rw", "a:/b:z"] {
        ok(&with_nodes(
            &format!("    a: {{kind: frr, binds: [\"{good}\"]}}"),
            "    []",
        ));
    }
    for bad in [
        "nocolon",
        "a:relative",
        "a:/b:rx",
        ":/b",
        "a:/b:ro:x",
        "a:/b:ro,q",
    ] {
        let e = err(&with_nodes(
            &format!("    a: {{kind: frr, binds: [\"{bad}\"]}}"),
            "    []",
        ));
        assert!(e.contains("topology.nodes.a.binds[0]"), "{bad}: {e}");
    }
}

#[test]
fn group_and_kind_resolve_as_in_containerlab() {
    // `kind` inside a kind and `group` inside a group mean nothing there: noted, not fatal.
    let lab = ok("name: t\ntopology:\n  kinds: {frr: {kind: linux}}\n  nodes: {a: {kind: frr}}\n");
    assert_eq!(lab.node("a").unwrap().kind, Kind::Frr);
    assert!(
        lab.notes[0].contains("topology.kinds.frr.kind ignored"),
        "{:?}",
        lab.notes
    );
    let lab = ok(
        "name: t\ntopology:\n  groups: {g: {group: h, kind: linux}}\n  nodes: {a: {group: g}}\n",
    );
    assert!(
        lab.notes[0].contains("groups do not nest"),
        "{:?}",
        lab.notes
    );
    // The kind may come from the group named in defaults ...
    let lab = ok("name: t\ntopology:\n  defaults: {group: g}\n  groups: {g: {kind: frr, exec: [x]}}\n  nodes: {a: {}}\n");
    let a = lab.node("a").unwrap();
    assert_eq!((a.kind, a.exec.clone()), (Kind::Frr, vec!["x".to_string()]));
    // ... and a kind may name the group of its nodes.
    let lab = ok("name: t\ntopology:\n  kinds: {linux: {group: g}}\n  groups: {g: {exec: [y]}}\n  nodes: {a: {kind: linux}}\n");
    assert_eq!(lab.node("a").unwrap().exec, ["y"]);
}

#[test]
fn empty_lab_and_garbage_are_rejected() {
    assert!(err("name: t\ntopology: {}\n").contains("no nodes"));
    assert!(matches!(
        parse("name: [", &base()),
        Err(TopologyError::Yaml { .. })
    ));
    assert!(err("topology: {nodes: {a: {kind: linux}}}\n").contains("missing field `name`"));
}

#[test]
fn duplicate_node_is_rejected() {
    let e = err("name: t\ntopology:\n  nodes:\n    a: {kind: linux}\n    a: {kind: frr}\n");
    assert!(e.contains("duplicate") && e.contains("line"), "{e}");
}
