//! Root-only: a real Prometheus (Debian's `prometheus`) scrapes latticed on two lab hosts of the
//! two-racks fabric; queries through its HTTP API find every peer up and the expected prefix
//! counts, then see a session go down with the NOTIFICATION FRR sent. Along the way the
//! `lattice` CLI's commands and exit codes are checked against the same running latticed.
//!
//! Prometheus runs inside tor1's namespace (its web API on that namespace's loopback) and
//! scrapes host1 and host2 over their uplinks, as a fabric's monitoring would; the lab's copies
//! of host1.yaml and host2.yaml get `metrics.listen` on their uplink address for that.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{can_run, eventually, Lab, BIN};

const PROMETHEUS: &str = "/usr/bin/prometheus";
/// Prometheus's web port on tor1's loopback (the namespace is the test's own: no collision).
const PROM_PORT: u16 = 19090;
const HOST1: &str = "10.0.1.2:9469";
const HOST2: &str = "10.0.2.2:9469";

fn bin(name: &str) -> PathBuf {
    Path::new(BIN).with_file_name(name)
}

/// Prometheus, stopped by its pid on drop (also when the test fails).
struct Prometheus {
    child: Child,
    ns: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn start(ns: &str, dir: &Path) -> Prometheus {
        std::fs::create_dir_all(dir).unwrap();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global: {{ scrape_interval: 1s, scrape_timeout: 1s }}\n\
                 scrape_configs:\n  - job_name: latticed\n    static_configs:\n      \
                 - targets: ['{HOST1}', '{HOST2}']\n"
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", ns, PROMETHEUS])
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{PROM_PORT}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Prometheus {
            child,
            ns: ns.to_string(),
        }
    }

    /// An instant query through the HTTP API (`/api/v1/query`), from a thread inside the
    /// namespace: each result's labels and value.
    fn query(&self, expr: &str) -> Vec<(serde_json::Value, f64)> {
        let path = format!("/run/netns/{}", self.ns);
        let target = format!("/api/v1/query?query={}", percent_encode(expr));
        let body = std::thread::spawn(move || -> Option<String> {
            let file = std::fs::File::open(path).ok()?;
            nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET).ok()?;
            let mut s = std::net::TcpStream::connect(("127.0.0.1", PROM_PORT)).ok()?;
            s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
            write!(
                s,
                "GET {target} HTTP/1.1\r\nHost: prometheus\r\nConnection: close\r\n\r\n"
            )
            .ok()?;
            let mut text = String::new();
            s.read_to_string(&mut text).ok()?;
            Some(text.split_once("\r\n\r\n")?.1.to_string())
        })
        .join()
        .unwrap();
        let Some(body) = body else { return Vec::new() };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) else {
            return Vec::new();
        };
        v["data"]["result"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .filter_map(|r| {
                        let value = r["value"][1].as_str()?.parse().ok()?;
                        Some((r["metric"].clone(), value))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The single value `expr` yields, if it yields exactly one.
    fn scalar(&self, expr: &str) -> Option<f64> {
        match self.query(expr).as_slice() {
            [(_, v)] => Some(*v),
            _ => None,
        }
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `lattice --socket SOCKET ARGS...`: (exit code, stdout, stderr).
fn lattice(socket: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin("lattice"))
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn prometheus_sees_every_peer_and_prefix_and_the_cli_agrees() {
    let needed = [bin("latticed"), bin("lattice"), PathBuf::from(PROMETHEUS)];
    let needed: Vec<String> = needed.iter().map(|p| p.display().to_string()).collect();
    let needed: Vec<&str> = needed.iter().map(String::as_str).collect();
    if !can_run(&needed) {
        return;
    }
    std::env::set_var("LATTICED_BIN", bin("latticed"));
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let name = format!("obs{}", std::process::id());
    let lab = Lab::new(
        &examples.join("two-racks.clab.yml"),
        &examples.join("two-racks"),
        "two-racks",
        &name,
    );
    for (host, listen) in [("host1", HOST1), ("host2", HOST2)] {
        let file = lab
            .dir
            .path()
            .join("two-racks")
            .join(format!("{host}.yaml"));
        let mut text = std::fs::read_to_string(&file).unwrap();
        text.push_str(&format!("metrics: {{listen: '{listen}'}}\n"));
        std::fs::write(&file, text).unwrap();
    }
    lab.ok("deploy", &[]);
    let waited = lab.ok("wait", &["--timeout", "90"]);
    assert!(
        waited.contains("all 12 BGP sessions established"),
        "{waited}"
    );
    let prom = Prometheus::start(&format!("{name}-tor1"), &lab.dir.path().join("prom"));

    // Every peer of both hosts up; each host accepts the three other blocks of each family,
    // advertises its own (the fabric is dual stack), installed the six learned routes, its two
    // containers and a blackhole per block. Each expression must
    // match one series per host.
    let expectations = [
        "lattice_bgp_session_up == 1",
        r#"lattice_bgp_prefixes_received{afi="ipv4"} == 3"#,
        r#"lattice_bgp_prefixes_accepted{afi="ipv4"} == 3"#,
        r#"lattice_bgp_prefixes_advertised{afi="ipv4"} == 1"#,
        r#"lattice_bgp_prefixes_received{afi="ipv6"} == 3"#,
        r#"lattice_bgp_prefixes_accepted{afi="ipv6"} == 3"#,
        r#"lattice_bgp_prefixes_advertised{afi="ipv6"} == 1"#,
        "lattice_bgp_session_established_transitions_total >= 1",
        r#"lattice_ipam_addresses_in_use{block=~"10[.].*"} == 2"#,
        r#"lattice_ipam_addresses_in_use{block=~"fd00:.*"} == 2"#,
        r#"lattice_ipam_addresses_capacity{block=~"10[.].*"} == 256"#,
        r#"lattice_routes_installed{kind="learned"} == 6"#,
        r#"lattice_routes_installed{kind="local"} == 2"#,
        r#"lattice_routes_installed{kind="blackhole"} == 2"#,
        "lattice_build_info == 1",
        "process_resident_memory_bytes > 0",
        r#"lattice_request_duration_seconds_count{interface="api",operation="attach",result="ok"} == 2"#,
    ];
    let converged = eventually(Duration::from_secs(120), || {
        expectations.iter().all(|e| prom.query(e).len() == 2)
    });
    let report: Vec<String> = expectations
        .iter()
        .map(|e| format!("{e}: {:?}", prom.query(e)))
        .collect();
    assert!(
        converged,
        "not every expectation met:\n{}",
        report.join("\n")
    );
    eprintln!(
        "established transitions: {:?}",
        prom.query("lattice_bgp_session_established_transitions_total")
    );
    for (labels, _) in prom.query("lattice_bgp_session_up") {
        let peer = labels["peer"].as_str().unwrap();
        assert!(["10.0.1.1", "10.0.2.1"].contains(&peer), "{labels}");
    }

    // The CLI against host1's running latticed.
    let socket = lab.lab_dir().join("host1").join("lattice.sock");
    let (code, out, err) = lattice(&socket, &["status"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("Health:      ok (1/1 peers established)"),
        "{out}"
    );
    let (code, out, err) = lattice(&socket, &["peers"]);
    assert_eq!(code, 0, "{out}{err}");
    for needle in [
        "BGP peer 10.0.1.1, AS65001: Established",
        "4-octet-as",
        "hold 9 s",
    ] {
        assert!(out.contains(needle), "{needle} missing in\n{out}");
    }
    let (code, out, err) = lattice(&socket, &["routes", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let routes: serde_json::Value = serde_json::from_str(&out).unwrap();
    let routes = routes["routes"].as_array().unwrap();
    for block in ["10.244.2.0/24", "10.244.3.0/24", "10.244.4.0/24"] {
        let r = routes.iter().find(|r| r["prefix"] == block);
        let r = r.unwrap_or_else(|| panic!("{block} missing in {routes:?}"));
        assert_eq!(r["in_kernel"], true, "{r}");
        assert_eq!(r["paths"][0]["best"], true, "{r}");
    }
    let (code, out, _) = lattice(&socket, &["routes"]);
    assert_eq!(code, 0);
    // The prefix column is as wide as the longest prefix (IPv6 ones here).
    let best = |l: &&str| {
        let mut f = l.split_whitespace();
        f.next() == Some("10.244.2.0/24") && f.next() == Some("*=")
    };
    assert!(out.lines().any(|l| best(&l)), "{out}");
    let best6 = |l: &&str| {
        let mut f = l.split_whitespace();
        f.next() == Some("fd00:10:244:2::/64") && f.next() == Some("*=")
    };
    assert!(out.lines().any(|l| best6(&l)), "{out}");
    let (code, out, _) = lattice(&socket, &["ipam", "--json"]);
    assert_eq!(code, 0);
    let ipam: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(ipam["blocks"][0]["in_use"], 2, "{ipam}");
    assert_eq!(ipam["allocations"].as_array().unwrap().len(), 2, "{ipam}");
    let (code, _, err) = lattice(&socket, &["peers", "10.9.9.9"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not a configured BGP peer"), "{err}");
    let (code, _, err) = lattice(&lab.dir.path().join("nothing.sock"), &["status"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("latticed is not running"), "{err}");

    // tor1 shuts host1's session down (Cease/Administrative Shutdown, RFC 4486 subcode 2).
    lab.ok(
        "exec",
        &[
            "tor1",
            "--",
            "vtysh",
            "-c",
            "configure terminal",
            "-c",
            "router bgp 65001",
            "-c",
            "neighbor 10.0.1.2 shutdown",
        ],
    );
    let seen_down = eventually(Duration::from_secs(60), || {
        prom.scalar(&format!(r#"lattice_bgp_session_up{{instance="{HOST1}"}}"#)) == Some(0.0)
            && prom.scalar(&format!(
                r#"lattice_bgp_notifications_received_total{{instance="{HOST1}",code="6",subcode="2"}}"#
            )) == Some(1.0)
    });
    let notes = prom.query("lattice_bgp_notifications_received_total");
    assert!(seen_down, "notifications: {notes:?}");
    assert_eq!(
        prom.scalar(&format!(r#"lattice_bgp_session_up{{instance="{HOST2}"}}"#)),
        Some(1.0),
        "host2's session is not affected"
    );
    let (code, out, _) = lattice(&socket, &["status"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("DEGRADED (0/1 peers established)"), "{out}");
    let (code, _, _) = lattice(&socket, &["status", "--json"]);
    assert_eq!(code, 1, "--json keeps the exit status");

    // host1's log at the default level: each event once, with its peer, nothing per route.
    let log = std::fs::read_to_string(lab.lab_dir().join("host1").join("latticed.log")).unwrap();
    let count = |needle: &str| log.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(
        count("received NOTIFICATION peer=10.0.1.1 code=6 subcode=2"),
        1,
        "{log}"
    );
    // Every session that came up went down once (a collision at start may add a pair).
    let ups = count("session established peer=10.0.1.1");
    assert!(ups >= 1, "{log}");
    let downs = log
        .lines()
        .filter(|l| l.contains(" session down") && l.contains("peer=10.0.1.1"))
        .count();
    assert_eq!(downs, ups, "{log}");
    for block in ["10.244.2.0", "10.244.3.0", "10.244.4.0"] {
        assert_eq!(
            count(block),
            0,
            "a per-route line at the default level:\n{log}"
        );
    }
    assert!(!log.contains('\u{1b}'), "colour codes in a log file");

    drop(prom);
    lab.destroy_and_check();
}
