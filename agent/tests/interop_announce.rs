#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Root-only interop: prefixes announced through the API (`lattice announce`) reach real FRR
//! (zebra and bgpd, so they land in FRR's kernel) with their communities, where the export
//! policy allows; one the policy refuses is refused with the reason; `lattice routes` shows
//! them. latticed restarts (graceful: no NOTIFICATION, FRR keeps our routes as stale) and
//! `ip monitor route` in FRR's namespace sees no change of the announced route at all: it came
//! back from the state directory in latticed's first UPDATEs. `lattice withdraw` removes it.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{eventually, workspace_bin, Latticed};
use serde_json::Value;
use testkit::daemons::{Frr, FRR_BINARIES};
use testkit::netns::Netns;

const PATIENCE: Duration = Duration::from_secs(40);
const VIP: &str = "192.0.2.10/32";

fn frr_conf() -> String {
    "router bgp 65000\n bgp router-id 10.56.0.2\n no bgp ebgp-requires-policy\n \
     no bgp default ipv4-unicast\n neighbor 10.56.0.1 remote-as 65100\n \
     neighbor 10.56.0.1 timers 3 9\n neighbor 10.56.0.1 timers connect 1\n \
     address-family ipv4 unicast\n  neighbor 10.56.0.1 activate\n exit-address-family\n"
        .to_string()
}

fn config(dir: &Path) -> String {
    format!(
        "node: {{name: an1, asn: 65100, router_id: 10.56.0.1}}\n\
         cluster: {{cidr: 10.244.0.0/16}}\n\
         ipam: {{state_dir: {}, block: 10.244.1.0/24}}\n\
         dataplane: {{uplinks: [eth1]}}\n\
         api: {{socket: {}}}\n\
         metrics: {{enabled: false}}\n\
         docker: {{enabled: false}}\n\
         bgp:\n  listen: {{address: 10.56.0.1}}\n  peers:\n\
         \x20   - {{address: 10.56.0.2, asn: 65000, hold_time: 9, connect_retry: 1, export: lb}}\n\
         \x20 policies:\n\
         \x20   lb:\n      rules:\n\
         \x20       - {{match: {{source: [block]}}, action: accept}}\n\
         \x20       - {{match: {{source: [announced], prefix: [{{prefix: 192.0.2.0/24, le: 32}}]}}, set: {{add_communities: ['65100:80']}}, action: accept}}\n",
        dir.join("state").display(),
        dir.join("api.sock").display(),
    )
}

fn lattice(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(workspace_bin("lattice"))
        .arg("--socket")
        .arg(dir.join("api.sock"))
        .args(args)
        .output()
        .unwrap()
}

/// FRR's path to `prefix`: its communities, if FRR holds it.
fn frr_has(frr: &Frr, prefix: &str) -> Option<String> {
    let v: Value =
        serde_json::from_str(&frr.vtysh(&[&format!("show bgp ipv4 unicast {prefix} json")]))
            .ok()?;
    let path = v["paths"].as_array()?.first()?;
    Some(
        path["community"]["string"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    )
}

#[test]
fn announced_prefixes_survive_a_restart_without_a_flap() {
    if !testkit::require(true, FRR_BINARIES) {
        return;
    }
    let l = Netns::new("an-l");
    let f = Netns::new("an-f");
    l.veth("eth1", &f, "eth1");
    l.addr("eth1", "10.56.0.1/24");
    f.addr("eth1", "10.56.0.2/24");
    l.up("eth1");
    f.up("eth1");
    let dir = testkit::cmd::shared_tempdir();
    let d = dir.path();
    let frr = Frr::start(f.name(), d, &frr_conf());
    let path = d.join("latticed.yaml");
    std::fs::write(&path, config(d)).unwrap();
    let mut latticed = Latticed::start(l.name(), &path, &d.join("latticed.log"));
    assert!(
        eventually(PATIENCE, || frr_has(&frr, "10.244.1.0/24").is_some()),
        "our block at FRR: {}",
        frr.vtysh(&["show bgp summary"])
    );

    // Announced with a community; the policy adds its own.
    let out = lattice(d, &["announce", VIP, "--communities", "65000:7"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("10.56.0.2"));
    assert!(eventually(PATIENCE, || frr_has(&frr, VIP).as_deref()
        == Some("65000:7 65100:80")));
    // Outside what the policy exports: refused with the reason.
    let out = lattice(d, &["announce", "198.51.100.0/24"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("198.51.100.0/24 would reach no peer")
            && err.contains("no rule of policy \"lb\" decides it"),
        "{err}"
    );
    let routes = String::from_utf8_lossy(&lattice(d, &["routes"]).stdout).into_owned();
    assert!(
        routes.contains("Announced through the API") && routes.contains(VIP),
        "{routes}"
    );
    // FRR's kernel holds it (zebra): the monitor below watches that route.
    assert!(eventually(PATIENCE, || f
        .ip(&["route", "show", "192.0.2.10"])
        .contains("10.56.0.1")));

    // Restart under a route monitor in FRR's namespace.
    let file = d.join("monitor.txt");
    let mut monitor = f
        .command("ip")
        .args(["monitor", "route"])
        .stdout(std::fs::File::create(&file).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    latticed.stop();
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        frr_has(&frr, VIP).is_some(),
        "FRR keeps it while we restart"
    );
    latticed.spawn();
    // Back, refreshed: FRR's path is no longer stale.
    assert!(eventually(PATIENCE, || {
        let v: Value =
            serde_json::from_str(&frr.vtysh(&[&format!("show bgp ipv4 unicast {VIP} json")]))
                .unwrap_or(Value::Null);
        v["paths"][0]["stale"].as_bool() != Some(true)
            && v["paths"][0]["valid"] == Value::Bool(true)
    }));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(frr_has(&frr, VIP).as_deref(), Some("65000:7 65100:80"));

    // Withdrawn: gone from FRR, and from its kernel.
    let out = lattice(d, &["withdraw", VIP]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(eventually(PATIENCE, || frr_has(&frr, VIP).is_none()));
    assert!(eventually(PATIENCE, || !f
        .ip(&["route", "show", "192.0.2.10"])
        .contains("10.56.0.1")));
    std::thread::sleep(Duration::from_millis(500));
    let _ = monitor.kill();
    let _ = monitor.wait();
    let mut seen = String::new();
    std::fs::File::open(&file)
        .unwrap()
        .read_to_string(&mut seen)
        .unwrap();
    // The one change the monitor saw for it is the withdrawal: nothing during the restart.
    let vip: Vec<&str> = seen.lines().filter(|l| l.contains("192.0.2.10")).collect();
    assert_eq!(
        vip.len(),
        1,
        "the announced route moved during the restart:\n{seen}"
    );
    assert!(vip[0].starts_with("Deleted"), "{seen}");
    latticed.stop();
    frr.stop();
}
