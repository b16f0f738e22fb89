#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! Root-only interop: latticed reloads its configuration under real FRR (bgpd) and touches
//! only what changed. FRR peers with latticed four times (10.55.0.11-14 to 10.55.0.1-4), and
//! sends each session different prefixes. With three peers established, one reload adds the
//! fourth, changes the export communities of the first and the import policy of the second:
//! FRR's neighbour counters show no reset of any session, the import change arrives as one
//! ROUTE-REFRESH, the third session sees no message at all, and `ip monitor route` running
//! through the reload sees changes only for the prefixes whose best path changed. A reload
//! with a syntax error, and one changing node.asn, change nothing. 100 SIGHUPs in a second
//! while the file flips end on the file's last version with no session reset.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{eventually, workspace_bin, Latticed};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use testkit::daemons::{Frr, FRR_BINARIES};
use testkit::netns::Netns;

const PATIENCE: Duration = Duration::from_secs(40);

/// latticed's address for peer `i` (1-4), and FRR's.
fn ours(i: u8) -> String {
    format!("10.55.0.{i}")
}
fn frr(i: u8) -> String {
    format!("10.55.0.{}", 10 + i)
}

/// One bgpd, four neighbours (latticed's four addresses); neighbour i is sent 10.244.60.0/24
/// (i = 1-3) and 10.244.6i.0/24 of its own.
fn frr_conf() -> String {
    let mut c = String::from(
        "router bgp 65000\n bgp router-id 10.55.0.11\n no bgp ebgp-requires-policy\n \
         no bgp network import-check\n no bgp default ipv4-unicast\n",
    );
    for i in 1..=4 {
        let (l, f) = (ours(i), frr(i));
        c += &format!(
            " neighbor {l} remote-as 65100\n neighbor {l} update-source {f}\n \
             neighbor {l} timers 3 9\n neighbor {l} timers connect 1\n"
        );
    }
    c += " address-family ipv4 unicast\n";
    for p in 60..=64 {
        c += &format!("  network 10.244.{p}.0/24\n");
    }
    for i in 1..=4 {
        c += &format!(
            "  neighbor {} activate\n  neighbor {} route-map TO{i} out\n",
            ours(i),
            ours(i)
        );
    }
    c += " exit-address-family\n";
    for i in 1..=4u8 {
        if i < 4 {
            c += &format!("ip prefix-list P{i} seq 5 permit 10.244.60.0/24\n");
        }
        c += &format!(
            "ip prefix-list P{i} seq 10 permit 10.244.{}.0/24\nroute-map TO{i} permit 10\n match ip address prefix-list P{i}\n",
            60 + i
        );
    }
    c
}

/// `peers` are (i, extra keys) of the `bgp.peers` entries.
fn config(dir: &Path, peers: &[(u8, &str)], asn: u32) -> String {
    let mut t = format!(
        "node: {{name: rl1, asn: {asn}, router_id: 10.55.0.1}}\n\
         cluster: {{cidr: 10.244.0.0/16}}\n\
         ipam: {{state_dir: {}, block: 10.244.1.0/24}}\n\
         dataplane: {{uplinks: [eth1]}}\n\
         api: {{socket: {}}}\n\
         metrics: {{enabled: false}}\n\
         docker: {{enabled: false}}\n\
         bgp:\n  listen: {{address: 0.0.0.0, port: 179}}\n  peers:\n",
        dir.join("state").display(),
        dir.join("api.sock").display(),
    );
    for (i, extra) in peers {
        let sep = if extra.is_empty() { "" } else { ", " };
        t += &format!(
            "    - {{address: {}, asn: 65000, local_address: {}, hold_time: 9, connect_retry: 1{sep}{extra}}}\n",
            frr(*i),
            ours(*i)
        );
    }
    t += "  policies:\n\
          \x20   b-in-v1:\n      rules:\n        - {match: {prefix: [{prefix: 10.244.0.0/16, le: 24}]}, action: accept}\n\
          \x20   b-in-v2:\n      rules:\n        - {match: {prefix: [{prefix: 10.244.62.0/24}]}, action: reject}\n        - {match: {prefix: [{prefix: 10.244.0.0/16, le: 24}]}, action: accept}\n";
    t
}

/// FRR's view of each neighbour: (connections established, dropped, messageStats).
fn neighbours(frr: &Frr) -> BTreeMap<String, (u64, u64, Value)> {
    let out = frr.vtysh(&["show bgp neighbors json"]);
    let v: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
    let mut m = BTreeMap::new();
    if let Value::Object(all) = v {
        for (addr, n) in all {
            let est = n["connectionsEstablished"].as_u64().unwrap_or(0);
            let dropped = n["connectionsDropped"].as_u64().unwrap_or(0);
            m.insert(addr, (est, dropped, n["messageStats"].clone()));
        }
    }
    m
}

fn stat(n: &BTreeMap<String, (u64, u64, Value)>, i: u8, key: &str) -> u64 {
    n[&ours(i)].2[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {:?}", n[&ours(i)].2))
}

fn established(frr: &Frr, which: &[u8]) -> bool {
    let out = frr.vtysh(&["show bgp neighbors json"]);
    let v: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
    which
        .iter()
        .all(|i| v[ours(*i)]["bgpState"].as_str() == Some("Established"))
}

/// The communities on FRR's path to our block from neighbour `i`.
fn communities_from(frr: &Frr, i: u8) -> Option<String> {
    let out = frr.vtysh(&["show bgp ipv4 unicast 10.244.1.0/24 json"]);
    let v: Value = serde_json::from_str(&out).ok()?;
    let paths = v["paths"].as_array()?;
    paths
        .iter()
        .find(|p| p["peer"]["peerId"].as_str() == Some(&ours(i)))
        .map(|p| p["community"]["string"].as_str().unwrap_or("").to_string())
}

fn lattice(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(workspace_bin("lattice"))
        .arg("--socket")
        .arg(dir.join("api.sock"))
        .args(args)
        .output()
        .unwrap()
}

fn kernel_bgp_routes(ns: &Netns) -> String {
    ns.ip(&["route", "show", "proto", "bgp"])
}

/// `ip monitor route` in `ns`, its output collected until dropped.
struct Monitor {
    child: std::process::Child,
    file: PathBuf,
}

impl Monitor {
    fn start(ns: &Netns, file: PathBuf) -> Monitor {
        let out = std::fs::File::create(&file).unwrap();
        let child = ns
            .command("ip")
            .args(["monitor", "route"])
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // `ip monitor` subscribes at once; give it a moment to be in place.
        std::thread::sleep(Duration::from_millis(300));
        Monitor { child, file }
    }

    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut s = String::new();
        std::fs::File::open(&self.file)
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        s
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_reload_touches_only_what_changed() {
    if !testkit::require(true, FRR_BINARIES) {
        return;
    }
    let l = Netns::new("rl-l");
    let f = Netns::new("rl-f");
    l.veth("eth1", &f, "eth1");
    for i in 1..=4 {
        l.addr("eth1", &format!("{}/24", ours(i)));
        f.addr("eth1", &format!("{}/24", frr(i)));
    }
    l.up("eth1");
    f.up("eth1");
    let dir = testkit::cmd::shared_tempdir();
    let d = dir.path();
    let bgpd = Frr::start_bgpd_only(f.name(), d, &frr_conf());
    let path = d.join("latticed.yaml");
    let first = config(
        d,
        &[
            (1, "communities: ['65100:1']"),
            (2, "import: b-in-v1"),
            (3, ""),
        ],
        65100,
    );
    std::fs::write(&path, &first).unwrap();
    let mut latticed = Latticed::start(l.name(), &path, &d.join("latticed.log"));
    assert!(
        eventually(PATIENCE, || established(&bgpd, &[1, 2, 3])),
        "three sessions: {}",
        bgpd.vtysh(&["show bgp summary"])
    );
    let routes_in = || kernel_bgp_routes(&l);
    assert!(
        eventually(PATIENCE, || {
            let r = routes_in();
            [
                "10.244.60.0/24",
                "10.244.61.0/24",
                "10.244.62.0/24",
                "10.244.63.0/24",
            ]
            .iter()
            .all(|p| r.contains(p))
        }),
        "learned routes: {}",
        routes_in()
    );
    assert!(eventually(PATIENCE, || communities_from(&bgpd, 1)
        .as_deref()
        == Some("65100:1")));
    // Quiet: initial UPDATEs and End-of-RIBs are all in.
    std::thread::sleep(Duration::from_secs(2));
    let before = neighbours(&bgpd);
    let kernel_before = routes_in();

    // The reload: peer 4 added, peer 1's communities, peer 2's import policy.
    let monitor = Monitor::start(&l, d.join("monitor.txt"));
    std::fs::write(
        &path,
        config(
            d,
            &[
                (1, "communities: ['65100:2']"),
                (2, "import: b-in-v2"),
                (3, ""),
                (4, ""),
            ],
            65100,
        ),
    )
    .unwrap();
    let out = lattice(d, &["reload"]);
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{shown}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        shown.contains("peer 10.55.0.11: communities applied live (export by 1 UPDATE(s))"),
        "{shown}"
    );
    assert!(
        shown.contains("peer 10.55.0.12: import applied live (import by ROUTE-REFRESH)"),
        "{shown}"
    );
    assert!(shown.contains("peer 10.55.0.14: added"), "{shown}");
    assert!(eventually(PATIENCE, || established(&bgpd, &[1, 2, 3, 4])));
    assert!(eventually(PATIENCE, || communities_from(&bgpd, 1)
        .as_deref()
        == Some("65100:2")));
    assert!(eventually(PATIENCE, || {
        let r = routes_in();
        r.contains("10.244.64.0/24") && !r.contains("10.244.62.0/24")
    }));
    std::thread::sleep(Duration::from_secs(2));
    let seen = monitor.stop();
    let after = neighbours(&bgpd);

    // No session was reset: each of the three was established once and never dropped.
    for i in 1..=3 {
        assert_eq!(
            (after[&ours(i)].0, after[&ours(i)].1),
            (1, 0),
            "neighbour {i}: {after:?}"
        );
        assert_eq!(stat(&after, i, "notificationsRecv"), 0);
        assert_eq!(stat(&after, i, "opensRecv"), 1);
    }
    // Peer 1: UPDATEs, no refresh. Peer 2: one ROUTE-REFRESH, no UPDATE. Peer 3: nothing.
    assert!(stat(&after, 1, "updatesRecv") > stat(&before, 1, "updatesRecv"));
    assert_eq!(stat(&after, 1, "routeRefreshRecv"), 0);
    assert_eq!(
        stat(&after, 2, "routeRefreshRecv"),
        stat(&before, 2, "routeRefreshRecv") + 1
    );
    assert_eq!(
        stat(&after, 2, "updatesRecv"),
        stat(&before, 2, "updatesRecv")
    );
    for key in ["updatesRecv", "routeRefreshRecv"] {
        assert_eq!(
            stat(&after, 3, key),
            stat(&before, 3, key),
            "{key} from latticed to 3"
        );
    }
    // The kernel: only 10.244.62.0/24 (now refused) and 10.244.64.0/24 (new) moved.
    let touched: Vec<&str> = seen
        .lines()
        .filter(|l| l.contains("10.244.") || l.contains("10.55."))
        .collect();
    for line in &touched {
        assert!(
            line.contains("10.244.62.0/24") || line.contains("10.244.64.0/24"),
            "a route whose best path did not change moved: {line}\nall: {seen}\nbefore: {kernel_before}"
        );
    }
    assert!(
        touched.iter().any(|l| l.contains("10.244.64.0/24")),
        "{seen}"
    );
    assert!(
        touched
            .iter()
            .any(|l| l.starts_with("Deleted") && l.contains("10.244.62.0/24")),
        "{seen}"
    );

    // A syntax error, and a key that needs a restart: refused, nothing changes.
    let settled = neighbours(&bgpd);
    let kernel_settled = routes_in();
    let last = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, last.replace("  peers:\n", "  peers: [\n")).unwrap();
    let out = lattice(d, &["reload"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("latticed.yaml:") && err.contains("the running configuration stays"),
        "{err}"
    );
    std::fs::write(
        &path,
        last.replace("asn: 65100, router_id", "asn: 65101, router_id"),
    )
    .unwrap();
    let out = lattice(d, &["reload"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.contains("node.asn: restart required"), "{err}");
    std::thread::sleep(Duration::from_secs(1));
    let now = neighbours(&bgpd);
    for i in 1..=4 {
        for key in [
            "updatesRecv",
            "routeRefreshRecv",
            "notificationsRecv",
            "opensRecv",
        ] {
            assert_eq!(stat(&now, i, key), stat(&settled, i, key), "{key} of {i}");
        }
    }
    assert_eq!(routes_in(), kernel_settled);

    // 100 SIGHUPs in a second while peer 3's communities flip; the file ends without them.
    let plain = last.clone();
    let tagged = last.replace(
        &format!(
            "local_address: {}, hold_time: 9, connect_retry: 1}}",
            ours(3)
        ),
        &format!(
            "local_address: {}, hold_time: 9, connect_retry: 1, communities: ['65100:3']}}",
            ours(3)
        ),
    );
    assert_ne!(plain, tagged);
    let pid = Pid::from_raw(latticed.pid().unwrap() as i32);
    for n in 0..100 {
        std::fs::write(&path, if n % 2 == 0 { &tagged } else { &plain }).unwrap();
        kill(pid, Signal::SIGHUP).unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    std::fs::write(&path, &plain).unwrap();
    kill(pid, Signal::SIGHUP).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert!(latticed.running(), "SIGHUP must not end latticed");
    assert!(eventually(PATIENCE, || communities_from(&bgpd, 3)
        .as_deref()
        == Some("")));
    let out = lattice(d, &["reload"]);
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(shown.contains("nothing changed"), "{shown}");
    let end = neighbours(&bgpd);
    for i in 1..=4 {
        assert_eq!(
            (end[&ours(i)].0, end[&ours(i)].1),
            (1, 0),
            "neighbour {i} kept its session"
        );
    }
    let log = latticed.log_text();
    assert!(log.contains("SIGHUP: reloading the configuration"), "{log}");
    latticed.stop();
}
