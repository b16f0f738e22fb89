//! The exposition: every metric present from the start, BGP series from the peer source, and
//! names and types as documented (promtool's lint runs on a live latticed in
//! `agent/tests/metrics_endpoint.rs`).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use bgp::driver::{PeerState, PeerStatus};

use super::peers::PeerSource;
use super::*;

struct Fixed(Vec<PeerStatus>);

impl PeerSource for Fixed {
    fn peers(&self) -> Vec<PeerStatus> {
        self.0.clone()
    }
}

fn established() -> PeerStatus {
    let mut p = PeerStatus::new("10.0.1.1".parse().unwrap(), 65001);
    p.state = PeerState::Established;
    p.uptime_secs = Some(42);
    p.established_transitions = 2;
    p.prefixes_received_by_family = BTreeMap::from([("ipv4".to_string(), 4)]);
    p.prefixes_accepted_by_family = BTreeMap::from([("ipv4".to_string(), 3)]);
    p.prefixes_advertised_by_family = BTreeMap::from([("ipv4".to_string(), 1)]);
    p.sent.keepalive = 7;
    p.received.update = 5;
    p.notifications_received = BTreeMap::from([("6/2".to_string(), 1)]);
    p
}

fn line_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn bgp_series_follow_the_peer_status() {
    let idle = PeerStatus::new("10.0.9.1".parse().unwrap(), 65009);
    let m = Metrics::new(Some(Box::new(Fixed(vec![established(), idle])))).unwrap();
    let t = m.encode();
    let v = |s: &str| line_value(&t, s).unwrap_or_else(|| panic!("{s} missing in\n{t}"));
    assert_eq!(
        v(r#"lattice_bgp_session_up{peer="10.0.1.1",peer_as="65001"}"#),
        1.0
    );
    assert_eq!(
        v(r#"lattice_bgp_session_up{peer="10.0.9.1",peer_as="65009"}"#),
        0.0
    );
    assert_eq!(
        v(r#"lattice_bgp_session_state{peer="10.0.9.1",state="idle"}"#),
        1.0
    );
    assert_eq!(
        v(r#"lattice_bgp_session_state{peer="10.0.9.1",state="established"}"#),
        0.0
    );
    assert_eq!(
        v(r#"lattice_bgp_session_uptime_seconds{peer="10.0.1.1"}"#),
        42.0
    );
    assert_eq!(
        v(r#"lattice_bgp_session_established_transitions_total{peer="10.0.1.1"}"#),
        2.0
    );
    assert_eq!(
        v(r#"lattice_bgp_prefixes_received{afi="ipv4",peer="10.0.1.1"}"#),
        4.0
    );
    assert_eq!(
        v(r#"lattice_bgp_prefixes_accepted{afi="ipv4",peer="10.0.1.1"}"#),
        3.0
    );
    assert_eq!(
        v(r#"lattice_bgp_prefixes_accepted{afi="ipv6",peer="10.0.1.1"}"#),
        0.0
    );
    assert_eq!(
        v(r#"lattice_bgp_prefixes_advertised{afi="ipv4",peer="10.0.1.1"}"#),
        1.0
    );
    assert_eq!(
        v(r#"lattice_bgp_messages_sent_total{peer="10.0.1.1",type="keepalive"}"#),
        7.0
    );
    assert_eq!(
        v(r#"lattice_bgp_messages_received_total{peer="10.0.1.1",type="update"}"#),
        5.0
    );
    assert_eq!(
        v(r#"lattice_bgp_notifications_received_total{code="6",peer="10.0.1.1",subcode="2"}"#),
        1.0
    );
    assert!(t.contains("# TYPE lattice_bgp_messages_sent_total counter"));
    assert!(t.contains("# TYPE lattice_bgp_session_up gauge"));
}

#[test]
fn agent_and_ipam_series_exist_from_the_start_and_move() {
    let m = Metrics::new(None).unwrap();
    let t = m.encode();
    for series in [
        "lattice_reconcile_runs_total",
        "lattice_reconcile_errors_total",
        "lattice_netlink_resyncs_total",
        "lattice_ipam_block_conflicts_total",
        "lattice_ipam_blocks",
        r#"lattice_routes_installed{kind="ecmp"}"#,
        r#"lattice_ipam_allocation_errors_total{reason="exhausted"}"#,
        r#"lattice_request_duration_seconds_count{interface="cni",operation="add",result="ok"}"#,
    ] {
        assert_eq!(line_value(&t, series), Some(0.0), "{series} in\n{t}");
    }
    assert!(t.contains("lattice_build_info{commit="));
    assert!(t.contains("lattice_start_time_seconds "));
    assert!(t.contains("process_resident_memory_bytes "));

    let block: ipnet::IpNet = "10.244.1.0/24".parse().unwrap();
    m.ipam_blocks(&[(block, 2, 256)]);
    m.observe_request(Interface::Api, "attach", "ok", Duration::from_millis(3));
    m.observe_request(
        Interface::Api,
        "attach",
        "exhausted",
        Duration::from_millis(1),
    );
    m.ipam_allocation_error("exhausted");
    m.routes_installed(RouteKind::Learned, 3);
    m.reconcile_run();
    m.reconcile_repairs("route", 2);
    let t = m.encode();
    let v = |s: &str| line_value(&t, s).unwrap_or_else(|| panic!("{s} missing in\n{t}"));
    assert_eq!(v("lattice_ipam_blocks"), 1.0);
    assert_eq!(
        v(r#"lattice_ipam_addresses_in_use{block="10.244.1.0/24"}"#),
        2.0
    );
    assert_eq!(
        v(r#"lattice_ipam_addresses_capacity{block="10.244.1.0/24"}"#),
        256.0
    );
    assert_eq!(
        v(
            r#"lattice_request_duration_seconds_count{interface="api",operation="attach",result="ok"}"#
        ),
        1.0
    );
    assert_eq!(
        v(
            r#"lattice_request_duration_seconds_bucket{interface="api",operation="attach",result="ok",le="0.005"}"#
        ),
        1.0
    );
    assert_eq!(
        v(r#"lattice_ipam_allocation_errors_total{reason="exhausted"}"#),
        1.0
    );
    assert_eq!(v(r#"lattice_routes_installed{kind="learned"}"#), 3.0);
    assert_eq!(v("lattice_reconcile_runs_total"), 1.0);
    assert_eq!(v(r#"lattice_reconcile_repairs_total{kind="route"}"#), 2.0);

    // A block given back disappears rather than reading its last value for ever.
    m.ipam_blocks(&[]);
    let t = m.encode();
    assert!(!t.contains("10.244.1.0/24"), "{t}");
}
