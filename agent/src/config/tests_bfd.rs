//! `bgp.bfd` and `bgp.peers[].bfd`: defaults, a peer's own timers over them, bad values named
//! with file, line and key.

use super::*;

const BASE: &str = "\
node: {name: h, asn: 65101, router_id: 10.0.1.2}
cluster: {cidr: 10.244.0.0/16}
ipam: {node_index: 1}
bgp:
  bfd: {min_rx_ms: 100, multiplier: 5}
  peers:
    - address: 10.0.1.1
      asn: 65001
      bfd: {enabled: true, min_tx_ms: 50}
    - address: 10.0.2.1
      asn: 65001
      bfd: {enabled: true, multihop: true, min_rx_ms: 1000, min_tx_ms: 1000, multiplier: 3}
    - {address: 10.0.3.1, asn: 65001}
";

#[test]
fn defaults_apply_unless_the_peer_sets_its_own() {
    let c = Config::from_yaml_str(BASE, "t.yaml").unwrap();
    let d = c.bgp.bfd;
    assert_eq!((d.min_rx_ms, d.min_tx_ms, d.multiplier), (100, 300, 5));
    let t = |i: usize| c.bgp.peers[i].bfd.timers(&d);
    assert_eq!(
        t(0),
        Some(BfdTimers {
            min_rx_ms: 100,
            min_tx_ms: 50,
            multiplier: 5
        })
    );
    assert_eq!(
        t(1),
        Some(BfdTimers {
            min_rx_ms: 1000,
            min_tx_ms: 1000,
            multiplier: 3
        })
    );
    assert_eq!(c.bgp.peers[1].bfd.multihop, Some(true));
    assert_eq!(c.bgp.peers[0].bfd.multihop, None);
    // Off unless enabled.
    assert_eq!(t(2), None);
    // Nothing at all: 300 ms x 3, FRR's defaults.
    let bare = Config::from_yaml_str(
        "node: {name: h, asn: 65101, router_id: 10.0.1.2}\ncluster: {cidr: 10.244.0.0/16}\nipam: {node_index: 1}\n",
        "t",
    )
    .unwrap();
    assert_eq!(bare.bgp.bfd, BfdDefaults::default());
    assert_eq!(
        (
            bare.bgp.bfd.min_rx_ms,
            bare.bgp.bfd.min_tx_ms,
            bare.bgp.bfd.multiplier
        ),
        (300, 300, 3)
    );
}

fn error(from: &str, to: &str) -> String {
    let text = BASE.replace(from, to);
    assert_ne!(text, BASE, "{from:?} did not apply");
    Config::from_yaml_str(&text, "t.yaml")
        .unwrap_err()
        .to_string()
}

#[test]
fn bad_values_name_file_line_and_key() {
    assert_eq!(
        error("min_rx_ms: 100,", "min_rx_ms: 5,"),
        "t.yaml:5: bgp.bfd.min_rx_ms: must be between 10 and 60000 milliseconds"
    );
    assert_eq!(
        error("min_tx_ms: 50}", "min_tx_ms: 60001}"),
        "t.yaml:9: bgp.peers[0].bfd.min_tx_ms: must be between 10 and 60000 milliseconds"
    );
    assert_eq!(
        error(
            "multihop: true, min_rx_ms: 1000, min_tx_ms: 1000, multiplier: 3",
            "multiplier: 0"
        ),
        "t.yaml:12: bgp.peers[1].bfd.multiplier: must be between 1 and 255"
    );
    let e = error("multiplier: 5}", "multiplier: 256}");
    assert!(e.starts_with("t.yaml:5: bgp.bfd.multiplier: "), "{e}");
    let e = error("enabled: true, min_tx_ms: 50", "enabled: yes please");
    assert!(e.starts_with("t.yaml:9: bgp.peers[0].bfd.enabled: "), "{e}");
    let e = error("bfd: {min_rx_ms: 100", "bfd: {echo: true, min_rx_ms: 100");
    assert!(
        e.starts_with("t.yaml:5: bgp.bfd.echo: unknown field `echo`"),
        "{e}"
    );
}
