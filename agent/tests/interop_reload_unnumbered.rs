#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! Root-only interop: reloading interface (unnumbered) peers under real FRR (zebra and bgpd,
//! `neighbor IF interface remote-as external`). latticed and FRR are joined by three veths
//! with link-local addresses only; latticed starts with interface peers on l1 and l2. Reloads:
//! l2's communities change live (FRR sees no reset, the new community arrives); the entry on
//! l1 moves to l3 in place, which resets that peer alone (FRR's f1 is told Cease/6, f3 comes
//! up, f2 untouched); the entry on l3 is removed (f3 is told Cease/3, f2 untouched).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{eventually, workspace_bin, Latticed};
use serde_json::Value;
use testkit::daemons::{Frr, FRR_BINARIES};
use testkit::netns::Netns;

const PATIENCE: Duration = Duration::from_secs(40);

/// FRR: AS 65000, an interface neighbour on each of f1-f3, announcing 10.244.90.0/24.
fn frr_conf() -> String {
    let mut c = String::from(
        "router bgp 65000\n bgp router-id 10.55.9.1\n no bgp ebgp-requires-policy\n \
         no bgp network import-check\n",
    );
    for f in ["f1", "f2", "f3"] {
        c += &format!(
            " neighbor {f} interface remote-as external\n neighbor {f} timers 3 9\n \
             neighbor {f} timers connect 1\n"
        );
    }
    c += " address-family ipv4 unicast\n  network 10.244.90.0/24\n exit-address-family\n";
    c
}

/// latticed's file with interface peers `peers` (interface, extra keys).
fn config(dir: &Path, peers: &[(&str, &str)]) -> String {
    let mut t = format!(
        "node: {{name: ru1, asn: 65100, router_id: 10.55.9.2}}\n\
         cluster: {{cidr: 10.244.0.0/16}}\n\
         ipam: {{state_dir: {}, block: 10.244.1.0/24}}\n\
         dataplane: {{uplinks: [l1, l2, l3]}}\n\
         api: {{socket: {}}}\n\
         metrics: {{enabled: false}}\n\
         docker: {{enabled: false}}\n\
         bgp:\n  peers:\n",
        dir.join("state").display(),
        dir.join("api.sock").display(),
    );
    for (dev, extra) in peers {
        let sep = if extra.is_empty() { "" } else { ", " };
        t += &format!(
            "    - {{interface: {dev}, asn: external, hold_time: 9, connect_retry: 1{sep}{extra}}}\n"
        );
    }
    t
}

/// FRR's neighbours (by interface): the JSON of `show bgp neighbors`.
fn neighbours(frr: &Frr) -> Value {
    serde_json::from_str(&frr.vtysh(&["show bgp neighbors json"])).unwrap_or(Value::Null)
}

fn established(frr: &Frr, devs: &[&str]) -> bool {
    let v = neighbours(frr);
    devs.iter()
        .all(|d| v[*d]["bgpState"].as_str() == Some("Established"))
}

/// (connections established, dropped) of FRR's neighbour on `dev`.
fn connections(v: &Value, dev: &str) -> (u64, u64) {
    (
        v[dev]["connectionsEstablished"].as_u64().unwrap_or(0),
        v[dev]["connectionsDropped"].as_u64().unwrap_or(0),
    )
}

/// The NOTIFICATIONs FRR logged receiving over `dev` (bgpd.log, `debug bgp neighbor-events`):
/// the neighbour's JSON keeps only the reason of its latest reset, which FRR's own retries on
/// a link we no longer peer on overwrite.
fn notifications_over(frr: &Frr, dev: &str) -> String {
    let from = format!("received from neighbor {dev} ");
    std::fs::read_to_string(frr.dir().join("bgpd.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("%NOTIFICATION") && l.contains(&from))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The communities on FRR's path to our block learned over `dev`.
fn communities_over(frr: &Frr, dev: &str) -> Option<String> {
    let v: Value =
        serde_json::from_str(&frr.vtysh(&["show bgp ipv4 unicast 10.244.1.0/24 json"])).ok()?;
    v["paths"]
        .as_array()?
        .iter()
        .find(|p| {
            p["peer"]["interface"].as_str() == Some(dev)
                || p["nexthops"][0]["interface"].as_str() == Some(dev)
        })
        .map(|p| p["community"]["string"].as_str().unwrap_or("").to_string())
}

fn reload(dir: &Path) -> String {
    let out = Command::new(workspace_bin("lattice"))
        .arg("--socket")
        .arg(dir.join("api.sock"))
        .arg("reload")
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{shown}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    shown
}

#[test]
fn interface_peers_reload_alone() {
    if !testkit::require(true, FRR_BINARIES) {
        return;
    }
    let l = Netns::new("ru-l");
    let f = Netns::new("ru-f");
    for i in 1..=3 {
        let (ld, fd) = (format!("l{i}"), format!("f{i}"));
        l.veth(&ld, &f, &fd);
        l.up(&ld);
        f.up(&fd);
    }
    for ns in [&l, &f] {
        ns.run(&["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);
    }
    let dir = testkit::cmd::shared_tempdir();
    let d = dir.path();
    let frr = Frr::start(f.name(), d, &frr_conf());
    let path = d.join("latticed.yaml");
    std::fs::write(&path, config(d, &[("l1", ""), ("l2", "")])).unwrap();
    let latticed = Latticed::start(l.name(), &path, &d.join("latticed.log"));
    assert!(
        eventually(PATIENCE, || established(&frr, &["f1", "f2"])),
        "two sessions: {}\n{}",
        frr.vtysh(&["show bgp summary"]),
        latticed.log_text()
    );
    assert!(eventually(PATIENCE, || communities_over(&frr, "f2").is_some()));
    std::thread::sleep(Duration::from_secs(2));
    let before = neighbours(&frr);

    // l2's communities: live, no reset of either session.
    std::fs::write(
        &path,
        config(d, &[("l1", ""), ("l2", "communities: ['65100:7']")]),
    )
    .unwrap();
    let shown = reload(d);
    assert!(
        shown.contains("peer l2: communities applied live (export by 1 UPDATE(s))"),
        "{shown}"
    );
    assert!(
        eventually(PATIENCE, || communities_over(&frr, "f2").as_deref()
            == Some("65100:7")),
        "{}",
        frr.vtysh(&["show bgp ipv4 unicast 10.244.1.0/24"])
    );
    let now = neighbours(&frr);
    for dev in ["f1", "f2"] {
        assert_eq!(connections(&now, dev), connections(&before, dev), "{dev}");
    }

    // The entry on l1 moves to l3 in place: that peer alone is reset.
    std::fs::write(
        &path,
        config(d, &[("l3", ""), ("l2", "communities: ['65100:7']")]),
    )
    .unwrap();
    let shown = reload(d);
    assert!(
        shown.contains("peer l1: reset (Cease/6) for interface, now peer l3"),
        "{shown}"
    );
    assert!(
        eventually(PATIENCE, || established(&frr, &["f3"])),
        "{}",
        frr.vtysh(&["show bgp summary"])
    );
    assert!(
        eventually(PATIENCE, || notifications_over(&frr, "f1")
            .contains("6/6 (Cease/Other Configuration Change)")),
        "{}",
        notifications_over(&frr, "f1")
    );
    assert!(!established(&frr, &["f1"]));
    // Nothing else was told anything.
    assert_eq!(notifications_over(&frr, "f2"), "");
    assert_eq!(notifications_over(&frr, "f3"), "");
    assert_eq!(
        connections(&neighbours(&frr), "f2"),
        connections(&before, "f2"),
        "f2 kept its session"
    );

    // The entry on l3 removed: Cease/3, l2 untouched.
    std::fs::write(&path, config(d, &[("l2", "communities: ['65100:7']")])).unwrap();
    let shown = reload(d);
    assert!(shown.contains("peer l3: removed (Cease/3)"), "{shown}");
    assert!(
        eventually(PATIENCE, || notifications_over(&frr, "f3")
            .contains("6/3 (Cease/Peer De-configured)")),
        "{}",
        notifications_over(&frr, "f3")
    );
    let end = neighbours(&frr);
    assert_eq!(connections(&end, "f2"), connections(&before, "f2"));
    assert!(established(&frr, &["f2"]));
    assert_eq!(notifications_over(&frr, "f2"), "");
    drop(latticed);
    drop(frr);
}
