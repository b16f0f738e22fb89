//! `lattice peers [PEER]`: one block per peer, like `birdc show protocols all` or FRR's
//! `show bgp neighbors`.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::proto::{MessageCounts, PeerSource, PeerState, PeerStatus, ReflectRole};

use super::{remote_as, table, uptime};

/// Every peer's detail, separated by blank lines.
pub fn peers(list: &[PeerStatus]) -> String {
    list.iter().map(peer).collect::<Vec<_>>().join("\n")
}

/// One peer: state, addresses, timers, capabilities, last error, prefix and message counts.
pub fn peer(p: &PeerStatus) -> String {
    let mut out = String::new();
    let since = match p.uptime_secs {
        Some(s) if p.state == PeerState::Established => format!(" for {}", uptime(s)),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "BGP peer {}, AS{}: {:?}{since}",
        p.interface.as_deref().unwrap_or(&p.address.to_string()),
        remote_as(p),
        p.state
    );
    let mut field = |name: &str, value: String| {
        let _ = writeln!(out, "  {:<18}{value}", format!("{name}:"));
    };
    if let Some(interface) = &p.interface {
        let neighbour = if p.address.is_unspecified() {
            "none yet".to_string()
        } else {
            let by = p
                .neighbour_heard_by
                .as_deref()
                .map(|b| format!(", heard by {b}"))
                .unwrap_or_default();
            format!("{} on {interface}{by}", p.address)
        };
        field("Neighbour", neighbour);
    }
    if let Some(waiting) = &p.waiting {
        field("Waiting", waiting.clone());
    }
    field(
        "Router ID",
        p.remote_router_id
            .map_or_else(|| "-".into(), |id| id.to_string()),
    );
    let c = &p.config;
    field(
        "Configured",
        format!(
            "hold {} s, keepalive {}, connect-retry {} s, {}, TCP MD5 {}, max-prefixes {}",
            c.hold_time,
            c.keepalive
                .map_or_else(|| "hold/3".into(), |k| format!("{k} s")),
            c.connect_retry_secs,
            if c.passive { "passive" } else { "active" },
            if c.md5 { "on" } else { "off" },
            c.max_prefixes
                .map_or_else(|| "none".into(), |m| m.to_string()),
        ),
    );
    if let PeerSource::Discovered { host } = &c.source {
        field(
            "Discovered",
            format!("host {host}, registered in the cluster datastore (bgp.mesh)"),
        );
    }
    if let Some(role) = c.reflect {
        let role = match role {
            ReflectRole::Client => "client (we reflect routes to and from it)",
            ReflectRole::NonClient => "non-client (another reflector: its routes go to clients)",
        };
        field("Route reflection", role.into());
    }
    match &p.session {
        Some(s) => {
            let local = s.local.map_or_else(|| "-".into(), |a| a.to_string());
            let dir = if s.outbound {
                "we connected"
            } else {
                "peer connected"
            };
            field("Local address", format!("{local} ({dir})"));
            field(
                "Negotiated",
                format!("hold {} s, keepalive {} s", s.hold_time, s.keepalive),
            );
            field("Capabilities", s.capabilities.join(" "));
            if let Some(t) = s.peer_restart_time {
                field("GR restart time", format!("{t} s (the peer's)"));
            }
        }
        None => field("Session", "not established".into()),
    }
    if p.graceful_restart_stale {
        field(
            "Graceful restart",
            "peer restarting: its routes are kept as stale".into(),
        );
    }
    field(
        "Last error",
        p.last_error.clone().unwrap_or_else(|| "-".into()),
    );
    if p.prefixes_ignored > 0 {
        field(
            "Ignored",
            format!(
                "{} prefix(es): next hop unusable (RFC 4271 §6.3; see lattice routes)",
                p.prefixes_ignored
            ),
        );
    }
    field(
        "Established",
        format!(
            "{} time(s) since latticed started",
            p.established_transitions
        ),
    );
    out.push_str(&indent(&prefix_table(p)));
    out.push_str(&indent(&message_table(&p.sent, &p.received)));
    let notes = |m: &BTreeMap<String, u64>| {
        if m.is_empty() {
            "none".to_string()
        } else {
            m.iter()
                .map(|(k, n)| format!("{k} x{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let _ = writeln!(
        out,
        "  Notifications:    sent {}; received {}",
        notes(&p.notifications_sent),
        notes(&p.notifications_received)
    );
    out
}

fn prefix_table(p: &PeerStatus) -> String {
    let count = |m: &BTreeMap<String, u64>, f: &str| m.get(f).copied().unwrap_or(0).to_string();
    let rows: Vec<[String; 4]> = ["ipv4", "ipv6"]
        .iter()
        .filter(|f| {
            p.families.iter().any(|x| x == *f)
                || [
                    &p.prefixes_received_by_family,
                    &p.prefixes_accepted_by_family,
                    &p.prefixes_advertised_by_family,
                ]
                .iter()
                .any(|m| m.contains_key(**f))
                || **f == "ipv4"
        })
        .map(|f| {
            [
                f.to_string(),
                count(&p.prefixes_received_by_family, f),
                count(&p.prefixes_accepted_by_family, f),
                count(&p.prefixes_advertised_by_family, f),
            ]
        })
        .collect();
    table(["PREFIXES", "RECEIVED", "ACCEPTED", "ADVERTISED"], &rows)
}

fn message_table(sent: &MessageCounts, received: &MessageCounts) -> String {
    let row = |name: &str, s: u64, r: u64| [name.to_string(), s.to_string(), r.to_string()];
    let rows = [
        row("OPEN", sent.open, received.open),
        row("UPDATE", sent.update, received.update),
        row("NOTIFICATION", sent.notification, received.notification),
        row("KEEPALIVE", sent.keepalive, received.keepalive),
        row("ROUTE-REFRESH", sent.route_refresh, received.route_refresh),
    ];
    table(["MESSAGES", "SENT", "RECEIVED"], &rows)
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::SessionInfo;

    #[test]
    fn an_established_peer_shows_timers_capabilities_and_counts() {
        let mut p = PeerStatus::new("10.0.1.1".parse().unwrap(), 65001);
        p.state = PeerState::Established;
        p.uptime_secs = Some(83);
        p.remote_router_id = Some("10.0.0.1".parse().unwrap());
        p.families = vec!["ipv4".into()];
        p.config.hold_time = 9;
        p.config.connect_retry_secs = 3;
        p.session = Some(SessionInfo {
            local: Some("10.0.1.2:40000".parse().unwrap()),
            outbound: true,
            hold_time: 9,
            keepalive: 3,
            capabilities: vec!["ipv4-unicast".into(), "4-octet-as".into()],
            peer_restart_time: Some(120),
        });
        p.prefixes_received_by_family.insert("ipv4".into(), 4);
        p.prefixes_accepted_by_family.insert("ipv4".into(), 3);
        p.prefixes_advertised_by_family.insert("ipv4".into(), 1);
        p.sent.open = 1;
        p.received.keepalive = 12;
        p.notifications_received.insert("6/4".into(), 1);
        p.established_transitions = 2;
        let expected = "\
BGP peer 10.0.1.1, AS65001: Established for 00:01:23
  Router ID:        10.0.0.1
  Configured:       hold 9 s, keepalive hold/3, connect-retry 3 s, active, TCP MD5 off, max-prefixes none
  Local address:    10.0.1.2:40000 (we connected)
  Negotiated:       hold 9 s, keepalive 3 s
  Capabilities:     ipv4-unicast 4-octet-as
  GR restart time:  120 s (the peer's)
  Last error:       -
  Established:      2 time(s) since latticed started
  PREFIXES  RECEIVED  ACCEPTED  ADVERTISED
  ipv4      4         3         1
  MESSAGES       SENT  RECEIVED
  OPEN           1     0
  UPDATE         0     0
  NOTIFICATION   0     0
  KEEPALIVE      0     12
  ROUTE-REFRESH  0     0
  Notifications:    sent none; received 6/4 x1
";
        assert_eq!(peer(&p), expected);
    }

    #[test]
    fn a_discovered_peer_says_whose_it_is_and_its_reflection_role() {
        let mut p = PeerStatus::new("10.0.0.7".parse().unwrap(), 64512);
        p.config.source = PeerSource::Discovered { host: "h7".into() };
        p.config.reflect = Some(ReflectRole::Client);
        let text = peer(&p);
        assert!(
            text.contains(
                "  Discovered:       host h7, registered in the cluster datastore (bgp.mesh)\n"
            ),
            "{text}"
        );
        assert!(text.contains("  Route reflection: client"), "{text}");
    }

    #[test]
    fn an_interface_peer_shows_its_neighbour_or_why_it_waits() {
        let mut p = PeerStatus::new("::".parse().unwrap(), 0);
        p.interface = Some("eth1".into());
        p.remote_as_config = Some("external".into());
        p.waiting = Some("interface eth1 has no usable IPv6 link-local address yet".into());
        let text = peer(&p);
        assert!(
            text.starts_with("BGP peer eth1, ASexternal: Idle\n  Neighbour:        none yet\n  Waiting:          interface eth1 has no usable IPv6 link-local address yet\n"),
            "{text}"
        );
        p.address = "fe80::a".parse().unwrap();
        p.remote_as = 65011;
        p.waiting = None;
        p.neighbour_heard_by = Some("router advertisement".into());
        p.state = PeerState::Established;
        let text = peer(&p);
        assert!(
            text.starts_with("BGP peer eth1, AS65011 (external): Established\n  Neighbour:        fe80::a on eth1, heard by router advertisement\n"),
            "{text}"
        );
        assert_eq!(super::super::peer_name(&p), "eth1 fe80::a");
    }

    #[test]
    fn a_down_peer_says_why() {
        let mut p = PeerStatus::new("10.0.9.1".parse().unwrap(), 65009);
        p.state = PeerState::Active;
        p.last_error = Some("hold timer expired".into());
        let text = peer(&p);
        assert!(
            text.starts_with("BGP peer 10.0.9.1, AS65009: Active\n"),
            "{text}"
        );
        assert!(
            text.contains("  Session:          not established\n"),
            "{text}"
        );
        assert!(
            text.contains("  Last error:       hold timer expired\n"),
            "{text}"
        );
    }
}
