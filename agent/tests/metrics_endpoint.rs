//! The `/metrics` endpoint over real HTTP on loopback, and its output checked by Prometheus's
//! own linter (`promtool check metrics`, Debian package prometheus): every metric latticed
//! exports, with BGP series from a peer source that has seen every kind of event.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use agent::metrics::peers::PeerSource;
use agent::metrics::{Interface, Metrics, RouteKind};
use bgp::driver::{PeerState, PeerStatus};

const PROMTOOL: &str = "/usr/bin/promtool";

struct Busy;

impl PeerSource for Busy {
    fn peers(&self) -> Vec<PeerStatus> {
        let mut up = PeerStatus::new("10.0.1.1".parse().unwrap(), 65001);
        up.state = PeerState::Established;
        up.uptime_secs = Some(3600);
        up.established_transitions = 3;
        up.prefixes_received_by_family = BTreeMap::from([("ipv4".into(), 5), ("ipv6".into(), 2)]);
        up.prefixes_accepted_by_family = BTreeMap::from([("ipv4".into(), 4)]);
        up.prefixes_advertised_by_family = BTreeMap::from([("ipv4".into(), 1)]);
        up.sent.update = 9;
        up.received.keepalive = 100;
        up.notifications_sent = BTreeMap::from([("6/2".into(), 1)]);
        up.notifications_received = BTreeMap::from([("4/0".into(), 2), ("6/4".into(), 1)]);
        let mut down = PeerStatus::new("2001:db8::1".parse().unwrap(), 4_200_000_001);
        down.state = PeerState::Active;
        down.graceful_restart_stale = true;
        vec![up, down]
    }
}

fn busy_metrics() -> Metrics {
    let m = Metrics::new(Some(Box::new(Busy))).unwrap();
    m.observe_request(Interface::Api, "attach", "ok", Duration::from_millis(4));
    m.observe_request(Interface::Api, "status", "ok", Duration::from_micros(300));
    m.observe_request(Interface::Cni, "add", "exhausted", Duration::from_millis(2));
    m.ipam_blocks(&[("10.244.1.0/24".parse().unwrap(), 2, 256)]);
    m.ipam_allocation_error("exhausted");
    m.ipam_block_conflict();
    m.routes_installed(RouteKind::Learned, 3);
    m.routes_installed(RouteKind::Ecmp, 1);
    m.reconcile_run();
    m.reconcile_repairs("route", 2);
    m.reconcile_error();
    m.netlink_resync();
    m.route_programming_error();
    m
}

/// GET `path` from `addr` with a bare HTTP/1.1 request; (status line, body).
fn get(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), body.to_string())
}

fn promtool_check(text: &str) -> (bool, String) {
    let mut child = Command::new(PROMTOOL)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

#[test]
fn served_over_http_and_clean_for_promtool() {
    let metrics = Arc::new(busy_metrics());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(agent::metrics::server::serve(listener, metrics, async {
        let _ = stopped.await;
    }));

    let (status, body) = get(addr, "/metrics");
    assert!(status.contains("200"), "{status}");
    for needle in [
        "lattice_bgp_session_up{peer=\"10.0.1.1\",peer_as=\"65001\"} 1",
        "lattice_bgp_session_up{peer=\"2001:db8::1\",peer_as=\"4200000001\"} 0",
        "lattice_bgp_notifications_received_total{code=\"4\",peer=\"10.0.1.1\",subcode=\"0\"} 2",
        "lattice_bgp_prefixes_received{afi=\"ipv6\",peer=\"10.0.1.1\"} 2",
        "lattice_bgp_graceful_restart_stale{peer=\"2001:db8::1\"} 1",
        "lattice_ipam_addresses_in_use{block=\"10.244.1.0/24\"} 2",
        "lattice_build_info{commit=",
        "process_cpu_seconds_total",
    ] {
        assert!(body.contains(needle), "{needle} missing in\n{body}");
    }
    let (status, _) = get(addr, "/nothing");
    assert!(status.contains("404"), "{status}");
    // An oversized request head is refused; the endpoint keeps serving.
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let junk = "x".repeat(64 * 1024);
    let _ = write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: a\r\nX-Junk: {junk}\r\n\r\n"
    );
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(
        !answer.contains(" 200 "),
        "{}",
        &answer[..answer.len().min(200)]
    );
    let (status, _) = get(addr, "/metrics");
    assert!(status.contains("200"), "{status}");

    // Prometheus's own linter (Debian package prometheus); under `make test` it must be there.
    if testkit::require(false, &[PROMTOOL]) {
        let (ok, said) = promtool_check(&body);
        assert!(
            ok,
            "promtool check metrics failed:\n{said}\n--- input ---\n{body}"
        );
        // The linter is live: a counter without _total is reported.
        let (ok, _) =
            promtool_check("# HELP bad_counter x\n# TYPE bad_counter counter\nbad_counter 1\n");
        assert!(!ok, "promtool accepted a counter without _total");
    }

    stop.send(()).unwrap();
    rt.block_on(server).unwrap();
}
