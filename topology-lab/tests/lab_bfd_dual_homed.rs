//! Root-only end-to-end with BFD: lattice hosts dual-homed to two FRR ToRs whose configuration
//! uses BFD (`neighbor X bfd`: lattice-lab starts bfdd as FRR's image would). Every session has
//! BFD up on both ends; when host1's uplink to tor1 fails silently (both ends drop, carrier
//! up), BFD takes both ends' BGP sessions down, each host's two-path ECMP route shrinks to the
//! surviving ToR in one netlink change (replaced, never deleted), full reachability holds, and
//! everything comes back when the link heals. BFD is in the metrics too.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::eventually;

const PATIENCE: Duration = Duration::from_secs(40);

fn bgp_routes(ns: &str) -> String {
    testkit::cmd::stdout(&["ip", "-n", ns, "route", "show", "proto", "bgp"])
}

fn lattice_bin() -> PathBuf {
    std::path::Path::new(common::BIN).with_file_name("lattice")
}

/// latticed's peers on a lab host, as JSON.
fn peers(lab: &common::Lab, host: &str) -> serde_json::Value {
    let socket = lab.lab_dir().join(host).join("lattice.sock");
    let out = Command::new(lattice_bin())
        .arg("--socket")
        .arg(socket)
        .args(["peers", "--json"])
        .output()
        .unwrap();
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .map(|v| v["peers"].clone())
        .unwrap_or(serde_json::Value::Null)
}

fn peer(lab: &common::Lab, host: &str, address: &str) -> serde_json::Value {
    peers(lab, host)
        .as_array()
        .and_then(|a| a.iter().find(|p| p["address"] == address).cloned())
        .unwrap_or(serde_json::Value::Null)
}

/// What FRR's bfdd on `tor` says about `peer`.
fn tor_bfd(lab: &common::Lab, tor: &str, peer: &str) -> serde_json::Value {
    let out = lab.run("exec", &[tor, "--", "vtysh", "-c", "show bfd peers json"]);
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .ok()
        .and_then(|v| {
            v.as_array()
                .and_then(|a| a.iter().find(|p| p["peer"] == peer).cloned())
        })
        .unwrap_or(serde_json::Value::Null)
}

/// `ip -n NS monitor route` running until dropped, into a file.
struct Monitor {
    child: std::process::Child,
    file: PathBuf,
}

impl Monitor {
    fn start(ns: &str, file: PathBuf) -> Monitor {
        let out = std::fs::File::create(&file).unwrap();
        let child = Command::new("ip")
            .args(["-n", ns, "monitor", "route"])
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Monitor { child, file }
    }

    /// The messages seen for `prefix`.
    fn lines_for(&self, prefix: &str) -> Vec<String> {
        std::fs::read_to_string(&self.file)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(prefix))
            .map(String::from)
            .collect()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_silent_uplink_failure_is_found_by_bfd_and_ecmp_shrinks_in_one_change() {
    let nft = ["/usr/sbin/nft", "/usr/lib/frr/bfdd"];
    if !common::can_run(&nft) {
        return;
    }
    let Some(lab) = common::example_lab("dual-homed-bfd", "dhb") else {
        return;
    };
    let name = lab.name.clone();
    lab.ok("deploy", &[]);
    let waited = lab.ok("wait", &["--timeout", "90"]);
    assert!(
        waited.contains("all 8 BGP sessions established"),
        "{waited}"
    );
    let (h1, h2, t1) = (
        format!("{name}-host1"),
        format!("{name}-host2"),
        format!("{name}-tor1"),
    );
    let two_paths = |ns: &str, block: &str, a: &str, b: &str| {
        let routes = bgp_routes(ns);
        routes.contains(block)
            && routes.contains(&format!("nexthop via {a} "))
            && routes.contains(&format!("nexthop via {b} "))
    };
    assert!(eventually(PATIENCE, || two_paths(
        &h1,
        "10.244.2.0/24",
        "10.0.11.1",
        "10.0.12.1"
    ) && two_paths(
        &h2,
        "10.244.1.0/24",
        "10.0.21.1",
        "10.0.22.1"
    )));
    // BFD up on all eight ends.
    let all_up = eventually(PATIENCE, || {
        [
            ("host1", "10.0.11.1"),
            ("host1", "10.0.12.1"),
            ("host2", "10.0.21.1"),
            ("host2", "10.0.22.1"),
        ]
        .iter()
        .all(|(h, p)| peer(&lab, h, p)["bfd"]["state"] == "up")
            && [
                ("tor1", "10.0.11.2"),
                ("tor1", "10.0.21.2"),
                ("tor2", "10.0.12.2"),
                ("tor2", "10.0.22.2"),
            ]
            .iter()
            .all(|(t, p)| tor_bfd(&lab, t, p)["status"] == "up")
    });
    assert!(
        all_up,
        "host1: {}\ntor1: {}",
        peers(&lab, "host1"),
        tor_bfd(&lab, "tor1", "10.0.11.2")
    );
    let metrics = common::scrape_metrics(&h1);
    assert_eq!(
        common::series_value(
            &metrics,
            r#"lattice_bfd_session_state{peer="10.0.11.1",state="up"}"#
        ),
        1.0,
        "{metrics}"
    );

    // host1's uplink to tor1 fails silently, both ends.
    let dir = lab.dir.path();
    let (m1, m2) = (
        Monitor::start(&h1, dir.join("host1.routes")),
        Monitor::start(&h2, dir.join("host2.routes")),
    );
    std::thread::sleep(Duration::from_millis(300));
    testkit::silence::silence(&h1, "eth1");
    testkit::silence::silence(&t1, "eth1");
    let one_path = |ns: &str, block: &str, via: &str| {
        let routes = bgp_routes(ns);
        routes.contains(&format!("{block} via {via} ")) && !routes.contains("nexthop")
    };
    assert!(
        eventually(PATIENCE, || one_path(&h1, "10.244.2.0/24", "10.0.12.1")
            && one_path(&h2, "10.244.1.0/24", "10.0.22.1")),
        "host1: {}\nhost2: {}",
        bgp_routes(&h1),
        bgp_routes(&h2)
    );
    // BFD did it on both ends: latticed's reason, and FRR's.
    let p = peer(&lab, "host1", "10.0.11.1");
    assert!(
        p["last_error"]
            .as_str()
            .unwrap_or("")
            .starts_with("BFD down"),
        "{p}"
    );
    assert_eq!(
        p["bfd"]["last_down"]["diag"], "control detection time expired",
        "{p}"
    );
    let out = lab.ok(
        "exec",
        &[
            "tor1",
            "--",
            "vtysh",
            "-c",
            "show bgp neighbors 10.0.11.2 json",
        ],
    );
    assert!(out.contains("BFD"), "tor1's reason: {out}");
    // One netlink change per host for the shrinking route: replaced in place, never deleted.
    std::thread::sleep(Duration::from_millis(500));
    for (monitor, block, via) in [
        (&m1, "10.244.2.0/24", "10.0.12.1"),
        (&m2, "10.244.1.0/24", "10.0.22.1"),
    ] {
        let lines = monitor.lines_for(block);
        assert_eq!(lines.len(), 1, "{block}: {lines:?}");
        assert!(
            lines[0].starts_with(&format!("{block} via {via} ")) && !lines[0].contains("Deleted"),
            "{lines:?}"
        );
    }
    let matrix = lab.ok("pingmatrix", &[]);
    assert!(
        matrix.contains("full reachability") && !matrix.contains("FAIL"),
        "{matrix}"
    );
    // (FRR replaces its BFD session once its BGP session is up, which may count a fall of
    // its own before this one: not a path failure, BGP stayed up.)
    let metrics = common::scrape_metrics(&h1);
    let downs = common::series_value(
        &metrics,
        r#"lattice_bfd_session_transitions_total{peer="10.0.11.1",to="down"}"#,
    );
    assert!(downs >= 1.0, "{metrics}");
    assert_eq!(
        p["established_transitions"], 1,
        "one session until BFD took it down: {p}"
    );

    // The link heals: BFD, BGP and both paths come back.
    testkit::silence::unsilence(&h1, "eth1");
    testkit::silence::unsilence(&t1, "eth1");
    assert!(
        eventually(PATIENCE, || two_paths(
            &h1,
            "10.244.2.0/24",
            "10.0.11.1",
            "10.0.12.1"
        ) && two_paths(
            &h2,
            "10.244.1.0/24",
            "10.0.21.1",
            "10.0.22.1"
        )),
        "host1: {}\nhost2: {}",
        bgp_routes(&h1),
        bgp_routes(&h2)
    );
    assert_eq!(peer(&lab, "host1", "10.0.11.1")["bfd"]["state"], "up");
    drop((m1, m2));
    lab.destroy_and_check();
}
