//! Config parsing: the documented example, every default, and bad input naming key and line.

use super::*;

const EXAMPLE: &str = "\
node:      { name: host1, asn: 65101, router_id: 10.0.1.2 }
cluster:   { cidr: 10.244.0.0/16, block_prefix_len: 24 }
ipam:      { datastore: local, state_dir: /var/lib/lattice, block: 10.244.1.0/24 }
dataplane: { mode: routed-veth, uplinks: [eth1] }
bgp:
  listen:  { address: 0.0.0.0, port: 179 }
  peers:
    - { address: 10.0.1.1, asn: 65001, hold_time: 9 }
api:       { socket: /run/lattice/lattice.sock }
";

#[test]
fn the_documented_example_parses() {
    let c = Config::from_yaml_str(EXAMPLE, "host1.yaml").unwrap();
    assert_eq!(c.node.name, "host1");
    assert_eq!(c.node.asn, 65101);
    assert_eq!(c.ipam.block, Some("10.244.1.0/24".parse().unwrap()));
    assert_eq!(c.dataplane.uplinks, vec!["eth1".to_string()]);
    assert_eq!(c.bgp.peers.len(), 1);
    assert_eq!(c.bgp.peers[0].hold_time, 9);
    assert_eq!(c.bgp.listen_addr().to_string(), "0.0.0.0:179");
}

#[test]
fn defaults_fill_what_is_left_out() {
    let c = Config::from_yaml_str(
        "node: {name: h, asn: 4200000000, router_id: 1.1.1.1}\ncluster: {cidr: 10.244.0.0/16}\nipam: {node_index: 2}\nbgp: {peers: [{address: 10.0.0.1, asn: 65000}]}\n",
        "t",
    )
    .unwrap();
    assert_eq!(c.cluster.block_prefix_len, 24);
    assert_eq!(c.ipam.datastore, DatastoreKind::Local);
    assert_eq!(c.ipam.state_dir, PathBuf::from("/var/lib/lattice"));
    assert_eq!(c.dataplane.mode, DataplaneMode::RoutedVeth);
    assert_eq!(c.dataplane.mtu, None);
    assert_eq!(c.api.socket, PathBuf::from("/run/lattice/lattice.sock"));
    let p = &c.bgp.peers[0];
    assert_eq!(
        (p.hold_time, p.port, p.passive, p.connect_retry),
        (90, 179, false, 3)
    );
    assert_eq!(
        ::ipam::choose_block(&c.ipam_settings(UplinkAddresses::NotLookedUp).unwrap())
            .unwrap()
            .to_string(),
        "10.244.2.0/24"
    );
}

/// Replace `from` with `to` in the example and return the error's "line: key: message".
fn error_for(from: &str, to: &str) -> (usize, String, String) {
    let text = EXAMPLE.replace(from, to);
    assert_ne!(text, EXAMPLE, "substitution {from:?} did not apply");
    let e = Config::from_yaml_str(&text, "host1.yaml").unwrap_err();
    let shown = e.to_string();
    assert!(shown.starts_with("host1.yaml:"), "{shown}");
    (e.line().unwrap(), e.key().unwrap().to_string(), shown)
}

#[test]
fn bad_input_names_key_and_line() {
    let cases: &[(&str, &str, usize, &str)] = &[
        (
            "hold_time: 9",
            "hold_time: 9, colour: red",
            8,
            "bgp.peers[0].colour",
        ),
        ("hold_time: 9", "hold_time: 1", 8, "bgp.peers[0].hold_time"),
        ("asn: 65001", "asn: 0", 8, "bgp.peers[0].asn"),
        ("asn: 65101", "asn: -1", 1, "node.asn"),
        (
            "router_id: 10.0.1.2",
            "router_id: 0.0.0.0",
            1,
            "node.router_id",
        ),
        (
            "router_id: 10.0.1.2",
            "router_id: banana",
            1,
            "node.router_id",
        ),
        (
            "block: 10.244.1.0/24",
            "block: 10.9.1.0/24",
            3,
            "ipam.block",
        ),
        ("datastore: local", "datastore: etcd", 3, "ipam.datastore"),
        ("datastore: local", "datastore: fan", 3, "ipam.datastore"),
        (
            "datastore: local",
            "datastore: zookeeper",
            3,
            "ipam.datastore",
        ),
        (
            "block: 10.244.1.0/24 }",
            "block: 10.244.1.0/24, max_blocks_per_host: 0 }",
            3,
            "ipam.max_blocks_per_host",
        ),
        (
            "block: 10.244.1.0/24 }",
            "block: 10.244.1.0/24, blocks: [10.244.1.0/24] }",
            3,
            "ipam.blocks",
        ),
        (
            "block_prefix_len: 24 }",
            "block_prefix_len: 24, cidr_v6: 'fd00::/48' }",
            3,
            "ipam.block_v6",
        ),
        (
            "datastore: local,",
            "datastore: etcd, etcd: { endpoints: [localhost:2379] },",
            3,
            "ipam.etcd.endpoints[0]",
        ),
        ("mode: routed-veth", "mode: bridge", 4, "dataplane.mode"),
        (
            "mode: routed-veth",
            "mode: routed-veth, netlink_receive_buffer: 100",
            4,
            "dataplane.netlink_receive_buffer",
        ),
        (
            "cidr: 10.244.0.0/16",
            "cidr: 10.244.0.1/16",
            2,
            "cluster.cidr",
        ),
        ("api:       {", "apix:      {", 9, "apix"),
        ("/run/lattice/lattice.sock", "lattice.sock", 9, "api.socket"),
    ];
    for (from, to, line, key) in cases {
        let (got_line, got_key, shown) = error_for(from, to);
        assert_eq!(
            (got_line, got_key.as_str()),
            (*line, *key),
            "{from} -> {to}: {shown}"
        );
    }
}

#[test]
fn unknown_keys_are_named() {
    let (_, _, shown) = error_for("hold_time: 9", "hold_time: 9, colour: red");
    assert!(shown.contains("colour"), "{shown}");
    let (line, _, shown) = error_for("bgp:\n", "bgp:\n  speed: 3\n");
    assert_eq!(line, 6, "{shown}");
    assert!(shown.contains("speed"), "{shown}");
}

#[test]
fn peer_policy_keys_parse_and_are_checked() {
    let text = EXAMPLE.replace(
        "{ address: 10.0.1.1, asn: 65001, hold_time: 9 }",
        "{ address: 10.0.1.1, asn: 65001, hold_time: 9, keepalive: 2, allow_as_in: 1, max_prefixes: 100, local_address: 10.0.1.2, passive: true, import: [{prefix: 10.244.0.0/16, le: 24}, {prefix: 0.0.0.0/0}], export: [10.96.0.0/12] }",
    );
    let c = Config::from_yaml_str(&text, "f").unwrap();
    let p = &c.bgp.peers[0];
    assert_eq!(
        (p.keepalive, p.allow_as_in, p.max_prefixes),
        (Some(2), 1, Some(100))
    );
    assert_eq!(p.import.as_ref().unwrap().list().len(), 2);
    assert_eq!(p.export.list(), ["10.96.0.0/12".parse().unwrap()]);
    for (bad, key) in [
        ("keepalive: 2", "bgp.peers[0].keepalive"),
        ("max_prefixes: 0", "bgp.peers[0].max_prefixes"),
        (
            "import: [{prefix: 10.244.0.0/16, ge: 8}]",
            "bgp.peers[0].import[0]",
        ),
        ("export: [10.96.0.1/12]", "bgp.peers[0].export[0]"),
        ("password: ''", "bgp.peers[0].password"),
    ] {
        let bad = if bad.starts_with("keepalive") {
            "keepalive: 9".to_string()
        } else {
            bad.to_string()
        };
        let text = EXAMPLE.replace("hold_time: 9 }", &format!("hold_time: 9, {bad} }}"));
        let e = Config::from_yaml_str(&text, "f").unwrap_err();
        assert_eq!(e.key(), Some(key), "{bad}: {e}");
        assert_eq!(e.line(), Some(8), "{bad}: {e}");
    }
}

#[test]
fn peer_password_is_read_and_limited_to_80_bytes() {
    let with = |password: &str| {
        EXAMPLE.replace(
            "hold_time: 9 }",
            &format!("hold_time: 9, password: \"{password}\" }}"),
        )
    };
    let c = Config::from_yaml_str(&with(&"k".repeat(80)), "f").unwrap();
    assert_eq!(
        c.bgp.peers[0].password.as_ref().map(|p| p.expose()),
        Some("k".repeat(80).as_str())
    );
    // The key never shows in a config dump.
    assert!(!format!("{c:?}").contains(&"k".repeat(80)));
    let c = Config::from_yaml_str(EXAMPLE, "f").unwrap();
    assert_eq!(c.bgp.peers[0].password, None);

    let secret = format!("{}!", "k".repeat(80));
    let e = Config::from_yaml_str(&with(&secret), "host1.yaml").unwrap_err();
    let shown = e.to_string();
    assert!(
        shown.starts_with("host1.yaml:8: bgp.peers[0].password: is 81 bytes long"),
        "{shown}"
    );
    assert!(
        !shown.contains(&secret),
        "the key must not be echoed: {shown}"
    );
}

#[test]
fn duplicate_peers_are_refused() {
    let text = EXAMPLE.replace(
        "    - { address: 10.0.1.1, asn: 65001, hold_time: 9 }\n",
        "    - { address: 10.0.1.1, asn: 65001 }\n    - { address: 10.0.1.1, asn: 65002 }\n",
    );
    let e = Config::from_yaml_str(&text, "f").unwrap_err();
    assert_eq!(e.key(), Some("bgp.peers[1].address"));
    assert_eq!(e.line(), Some(9));
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    for text in [
        "",
        "[]",
        ":",
        "node: [",
        "\u{0}",
        "node: {name: x}\n",
        "- - -",
    ] {
        assert!(Config::from_yaml_str(text, "f").is_err(), "{text:?}");
    }
}

#[test]
fn metrics_keys_default_parse_and_name_bad_values() {
    let c = Config::from_yaml_str(EXAMPLE, "host1.yaml").unwrap();
    assert!(c.metrics.enabled);
    assert_eq!(c.metrics.listen.to_string(), "127.0.0.1:9469");
    let text = format!("{EXAMPLE}metrics:   {{ listen: '[::]:9100', enabled: false }}\n");
    let c = Config::from_yaml_str(&text, "host1.yaml").unwrap();
    assert_eq!(c.metrics.listen.to_string(), "[::]:9100");
    assert!(!c.metrics.enabled);
    for bad in [
        "{ listen: 9469 }",
        "{ listen: 'localhost:9469' }",
        "{ port: 1 }",
    ] {
        let text = format!("{EXAMPLE}metrics:   {bad}\n");
        let e = Config::from_yaml_str(&text, "host1.yaml").unwrap_err();
        assert_eq!(e.line(), Some(10), "{bad}: {e}");
        assert!(e.key().unwrap().starts_with("metrics"), "{bad}: {e}");
    }
}

#[test]
fn dual_stack_fan_and_etcd_settings() {
    let c = Config::from_yaml_str(
        "node: {name: h7, asn: 65001, router_id: 10.0.0.7}\ncluster: {cidr: 10.244.0.0/16, cidr_v6: 'fd00:10:244::/56'}\nipam: {datastore: fan, fan: {underlay: 10.0.0.0/24}}\n",
        "t",
    )
    .unwrap();
    assert_eq!(c.cluster.block_prefix_len_v6, 120);
    let s = c.ipam_settings(UplinkAddresses::NotLookedUp).unwrap();
    let f = ::ipam::fixed_blocks(&s).unwrap().unwrap();
    assert_eq!(
        f.v4.to_string(),
        "10.244.7.0/24",
        "router_id 10.0.0.7 picks the 8th /24"
    );
    assert_eq!(f.v6.unwrap().to_string(), "fd00:10:244:7::/120");

    let c = Config::from_yaml_str(
        "node: {name: h, asn: 65001, router_id: 10.0.0.7}\ncluster: {cidr: 10.244.0.0/16}\nipam: {datastore: etcd, etcd: {endpoints: ['http://127.0.0.1:2379']}, block_grace_period: 30}\n",
        "t",
    )
    .unwrap();
    match c
        .ipam_settings(UplinkAddresses::NotLookedUp)
        .unwrap()
        .datastore
    {
        ::ipam::Datastore::Etcd { prefix, node, .. } => {
            assert_eq!((prefix.as_str(), node.as_str()), ("/lattice", "h"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.ipam_settings(UplinkAddresses::NotLookedUp)
            .unwrap()
            .grace_period_secs,
        30
    );

    let e = Config::from_yaml_str(
        "node: {name: h, asn: 65001, router_id: 192.0.2.1}\ncluster: {cidr: 10.244.0.0/16}\nipam: {datastore: fan, fan: {underlay: 10.0.0.0/24}}\n",
        "t",
    )
    .unwrap_err();
    assert_eq!(e.key(), Some("ipam.fan.address"), "{e}");
    // With an uplink the address is looked up at start (daemon/startup.rs).
    Config::from_yaml_str(
        "node: {name: h, asn: 65001, router_id: 192.0.2.1}\ncluster: {cidr: 10.244.0.0/16}\nipam: {datastore: fan, fan: {underlay: 10.0.0.0/24}}\ndataplane: {uplinks: [eth1]}\n",
        "t",
    )
    .unwrap();
}

#[test]
fn docker_keys_default_on_and_are_checked() {
    let c = Config::from_yaml_str(EXAMPLE, "t").unwrap();
    assert!(c.docker.enabled, "the driver is served unless turned off");
    assert_eq!(
        c.docker.socket,
        PathBuf::from("/run/docker/plugins/lattice.sock")
    );
    let off = format!("{EXAMPLE}docker: {{enabled: false}}\n");
    assert!(!Config::from_yaml_str(&off, "t").unwrap().docker.enabled);
    let moved = format!("{EXAMPLE}docker: {{socket: /run/x/lattice.sock}}\n");
    let c = Config::from_yaml_str(&moved, "t").unwrap();
    assert!(c.docker.enabled);
    assert_eq!(c.docker.socket, PathBuf::from("/run/x/lattice.sock"));
    // Off, the socket may be anything absolute, even the API's.
    let off_same =
        format!("{EXAMPLE}docker: {{enabled: false, socket: /run/lattice/lattice.sock}}\n");
    assert!(Config::from_yaml_str(&off_same, "t").is_ok());
    let rel = format!("{EXAMPLE}docker:\n  socket: lattice.sock\n");
    let e = Config::from_yaml_str(&rel, "h.yaml")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("h.yaml:11") && e.contains("docker.socket"),
        "{e}"
    );
    let same = format!("{EXAMPLE}docker: {{enabled: true, socket: /run/lattice/lattice.sock}}\n");
    let e = Config::from_yaml_str(&same, "t").unwrap_err().to_string();
    assert!(
        e.contains("docker.socket") && e.contains("api.socket"),
        "{e}"
    );
    let unknown = format!("{EXAMPLE}docker: {{enable: true}}\n");
    assert!(Config::from_yaml_str(&unknown, "t").is_err());
}

#[test]
fn mesh_route_reflector_and_etcd_security_keys() {
    let base = "node: {name: h, asn: 64512, router_id: 10.0.0.7}\ncluster: {cidr: 10.244.0.0/16}\n";
    let etcd = "ipam: {datastore: etcd, etcd: {endpoints: ['https://10.0.0.9:2379'], ca_file: /etc/lattice/ca.pem, cert_file: /etc/lattice/h.pem, key_file: /etc/lattice/h.key, username: lattice, password: s3cret}}\n";
    let text = format!(
        "{base}{etcd}bgp:\n  mesh: {{enabled: true, address: 10.0.0.7, hold_time: 9}}\n  route_reflector: {{enabled: true}}\n"
    );
    let c = Config::from_yaml_str(&text, "t").unwrap();
    assert!(c.bgp.mesh.enabled);
    assert_eq!(c.bgp.mesh.hold_time, 9);
    assert_eq!(
        c.cluster_id(),
        Some("10.0.0.7".parse().unwrap()),
        "router id by default"
    );
    match c
        .ipam_settings(UplinkAddresses::NotLookedUp)
        .unwrap()
        .datastore
    {
        ::ipam::Datastore::Etcd { security, .. } => {
            assert_eq!(security.username.as_deref(), Some("lattice"));
            assert_eq!(security.ca_file, Some(PathBuf::from("/etc/lattice/ca.pem")));
            assert!(!format!("{security:?}").contains("s3cret"), "never shown");
        }
        other => panic!("{other:?}"),
    }
    // Each mistake names its key and line.
    let cases = [
        (
            format!("{base}ipam: {{node_index: 1}}\nbgp: {{mesh: {{enabled: true}}}}\n"),
            "bgp.mesh.enabled",
        ),
        (
            format!("{base}{etcd}bgp: {{route_reflector: {{enabled: true}}}}\n"),
            "bgp.route_reflector.enabled",
        ),
        (
            format!("{base}{etcd}bgp: {{mesh: {{enabled: true, hold_time: 2}}}}\n"),
            "bgp.mesh.hold_time",
        ),
        (
            format!("{base}{etcd}bgp: {{mesh: {{enabled: true, address: 0.0.0.0}}}}\n"),
            "bgp.mesh.address",
        ),
        (
            format!("{base}ipam: {{datastore: etcd, etcd: {{endpoints: ['https://e:2379']}}}}\n"),
            "ipam.etcd.ca_file",
        ),
        (
            format!("{base}ipam: {{datastore: etcd, etcd: {{endpoints: ['http://e:2379'], ca_file: /ca.pem}}}}\n"),
            "ipam.etcd.endpoints",
        ),
        (
            format!("{base}ipam: {{datastore: etcd, etcd: {{endpoints: ['https://e:2379'], ca_file: /ca.pem, cert_file: /c.pem}}}}\n"),
            "ipam.etcd.key_file",
        ),
        (
            format!("{base}ipam: {{datastore: etcd, etcd: {{endpoints: ['http://e:2379'], username: u}}}}\n"),
            "ipam.etcd.password",
        ),
        (
            format!("{base}ipam: {{datastore: etcd, etcd: {{endpoints: ['http://e:2379'], ca_file: ca.pem}}}}\n"),
            "ipam.etcd.endpoints",
        ),
        (
            format!("{base}ipam: {{datastore: etcd, etcd: {{endpoints: ['https://e:2379'], ca_file: ca.pem}}}}\n"),
            "ipam.etcd.ca_file",
        ),
        (
            format!("{base}ipam: {{datastore: etcd, etcd: {{endpoints: ['http://e:2379', 'https://f:2379']}}}}\n"),
            "ipam.etcd.endpoints",
        ),
    ];
    for (text, key) in cases {
        let e = Config::from_yaml_str(&text, "t").unwrap_err();
        assert_eq!(e.key(), Some(key), "{text}: {e}");
    }
}

#[test]
fn interface_peers_asn_rules_multipath_and_numeric_router_ids() {
    let c = Config::from_yaml_str(
        "node: {name: h, asn: 65101, router_id: 42}\ncluster: {cidr: 10.244.0.0/16}\n\
         ipam: {node_index: 1}\nbgp:\n  peers:\n    - {interface: eth1, asn: external}\n    \
         - {interface: eth2, asn: internal}\n    - {address: 'fd00::1', asn: 65001}\n",
        "t",
    )
    .unwrap();
    assert_eq!(c.node.router_id, std::net::Ipv4Addr::new(0, 0, 0, 42));
    let p = &c.bgp.peers;
    assert_eq!(p[0].key(), ::bgp::PeerKey::Interface("eth1".into()));
    assert_eq!(p[0].asn, PeerAsn::External);
    assert_eq!(p[1].asn, PeerAsn::Internal);
    assert_eq!(p[2].asn, PeerAsn::Number(65001));
    assert!(p[0].has_family("ipv4") && p[0].has_family("ipv6"));
    // Relax on, 8 paths, by default; the listener takes IPv6 (link-local) connections.
    assert_eq!(
        c.bgp.multipath,
        MultipathConfig {
            relax: true,
            maximum_paths: 8
        }
    );
    assert_eq!(c.bgp.listen_addr().to_string(), "[::]:179");
    let c = Config::from_yaml_str(
        "node: {name: h, asn: 65101, router_id: '10.0.0.1'}\ncluster: {cidr: 10.244.0.0/16}\n\
         ipam: {node_index: 1}\nbgp: {multipath: {relax: false, maximum_paths: 2}}\n",
        "t",
    )
    .unwrap();
    assert_eq!(
        c.bgp.multipath,
        MultipathConfig {
            relax: false,
            maximum_paths: 2
        }
    );
    assert_eq!(c.bgp.listen_addr().to_string(), "0.0.0.0:179");
}

#[test]
fn bad_neighbours_are_named() {
    let peer = "    - { address: 10.0.1.1, asn: 65001, hold_time: 9 }";
    let cases: &[(&str, &str, &str)] = &[
        (
            "    - { asn: 65001 }",
            "bgp.peers[0].address",
            "missing: give the neighbour's address, or the interface it is on",
        ),
        (
            "    - { address: 10.0.1.1, interface: eth1, asn: 65001 }",
            "bgp.peers[0].interface",
            "either address or interface, not both",
        ),
        (
            "    - { interface: 'eth/1', asn: 65001 }",
            "bgp.peers[0].interface",
            "is not an interface name",
        ),
        (
            "    - { address: 'fe80::1', asn: 65001 }",
            "bgp.peers[0].address",
            "use interface: IFNAME",
        ),
        (
            "    - { interface: eth1, asn: 65001, password: s }",
            "bgp.peers[0].password",
            "not supported on interface peers",
        ),
        (
            "    - { interface: eth1, asn: 65001, local_address: 'fd00::2' }",
            "bgp.peers[0].local_address",
            "link-local address",
        ),
        (
            "    - { interface: eth1, asn: outside }",
            "bgp.peers[0].asn",
            "`external` or `internal`",
        ),
        (
            "    - { interface: eth1, asn: 65001 }\n    - { interface: eth1, asn: 65002 }",
            "bgp.peers[1].interface",
            "eth1 is listed twice",
        ),
        (
            "    - { interface: eth1, asn: 65001 }",
            "bgp.listen.address",
            "listen on ::",
        ),
    ];
    for (to, key, message) in cases {
        let mut text = EXAMPLE.replace(peer, to);
        if *key != "bgp.listen.address" {
            text = text.replace("address: 0.0.0.0", "address: '::'");
        }
        let e = Config::from_yaml_str(&text, "f").unwrap_err();
        assert_eq!(e.key(), Some(*key), "{to}: {e}");
        assert!(e.to_string().contains(message), "{to}: {e}");
    }
    let text = EXAMPLE.replace(
        "port: 179 }",
        "port: 179 }\n  multipath: { maximum_paths: 0 }",
    );
    let e = Config::from_yaml_str(&text, "f").unwrap_err();
    assert_eq!(e.key(), Some("bgp.multipath.maximum_paths"));
    assert_eq!(e.line(), Some(7));
}
