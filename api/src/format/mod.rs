//! Human-readable renderings of API replies for the `lattice` CLI. Pure functions of the
//! replies, so every layout is tested without a running latticed.

mod bfd;
mod peers;
mod routes;

use std::fmt::Write;

pub use peers::{peer, peers};
pub use routes::{announced, ipam, ipam_healthy, routes, routes_healthy};

#[cfg(test)]
use crate::proto::BlockUsage;
use crate::proto::{Attachment, NodeStatus, PeerState, PeerStatus};

/// `lattice status`: node summary, then one row per peer (like `birdc show protocols`).
pub fn status(s: &NodeStatus) -> String {
    let mut out = String::new();
    let blocks: Vec<String> = s
        .blocks
        .iter()
        .map(|b| ipnet::IpNet::V4(*b))
        .chain(s.blocks_v6.iter().map(|b| ipnet::IpNet::V6(*b)))
        .map(|b| match s.block_usage.iter().find(|u| u.block == b) {
            Some(u) => format!("{b} ({}/{} in use)", u.in_use, u.capacity),
            None => b.to_string(),
        })
        .collect();
    let _ = writeln!(
        out,
        "Node:        {}  AS{}  router-id {}",
        s.node, s.asn, s.router_id
    );
    let _ = writeln!(out, "Blocks:      {}", blocks.join(", "));
    let _ = writeln!(
        out,
        "Containers:  {}    Learned routes: {}",
        s.attachments, s.learned_routes
    );
    let up = s
        .peers
        .iter()
        .filter(|p| p.state == PeerState::Established)
        .count();
    let _ = writeln!(out, "Health:      {}", health(s, up));
    for c in &s.conflicts {
        let hops: Vec<String> = c.next_hops.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "CONFLICT:    {} from {} overlaps our block {} (not imported)",
            c.prefix,
            hops.join(", "),
            c.block
        );
    }
    out.push('\n');
    let rows: Vec<[String; 8]> = s.peers.iter().map(peer_row).collect();
    out.push_str(&table(
        [
            "PEER",
            "AS",
            "STATE",
            "UPTIME",
            "RECEIVED",
            "ACCEPTED",
            "ADVERTISED",
            "INFO",
        ],
        &rows,
    ));
    out
}

/// `lattice list`: one row per attachment.
pub fn attachments(list: &[Attachment]) -> String {
    let rows: Vec<[String; 5]> = list
        .iter()
        .map(|a| {
            [
                a.container_id.clone(),
                a.ifname.clone(),
                a.address.to_string(),
                a.host_ifname.clone(),
                a.netns.display().to_string(),
            ]
        })
        .collect();
    table(
        ["CONTAINER", "IFNAME", "ADDRESS", "HOST-IF", "NETNS"],
        &rows,
    )
}

/// Whether every peer is Established, no peer advertises into our blocks, some block has a
/// free address, and every best route BGP chose for the kernel is in it (what `lattice status`
/// exits on).
pub fn healthy(s: &NodeStatus) -> bool {
    s.peers.iter().all(|p| p.state == PeerState::Established)
        && s.conflicts.is_empty()
        && full_blocks(s).is_empty()
        && s.routes_not_installed == 0
}

/// The blocks, when every one is full: the next container needs a block borrowed (if the
/// datastore has one left). One full block among others with room is normal.
fn full_blocks(s: &NodeStatus) -> Vec<String> {
    let all_full =
        !s.block_usage.is_empty() && s.block_usage.iter().all(|u| u.in_use >= u.capacity);
    if !all_full {
        return Vec::new();
    }
    s.block_usage.iter().map(|u| u.block.to_string()).collect()
}

fn health(s: &NodeStatus, up: usize) -> String {
    let total = s.peers.len();
    let mut full: String = full_blocks(s)
        .iter()
        .map(|b| format!("; block {b} full"))
        .collect();
    if !s.conflicts.is_empty() {
        full.push_str(&format!("; {} block conflict(s)", s.conflicts.len()));
    }
    if s.routes_not_installed > 0 {
        full.push_str(&format!(
            "; {} best route(s) not in the kernel (see lattice routes)",
            s.routes_not_installed
        ));
    }
    if up == total && full.is_empty() {
        format!("ok ({up}/{total} peers established)")
    } else {
        format!("DEGRADED ({up}/{total} peers established{full})")
    }
}

fn peer_row(p: &PeerStatus) -> [String; 8] {
    [
        peer_name(p),
        remote_as(p),
        format!("{:?}", p.state),
        p.uptime_secs.map(uptime).unwrap_or_else(|| "-".into()),
        p.prefixes_received.to_string(),
        p.prefixes_accepted.to_string(),
        p.prefixes_advertised.to_string(),
        peer_info(p),
    ]
}

/// `10.0.1.1`, or an interface peer's `eth1` (with its neighbour once known: `eth1
/// fe80::a`).
pub(crate) fn peer_name(p: &PeerStatus) -> String {
    match &p.interface {
        Some(name) if p.address.is_unspecified() => name.clone(),
        Some(name) => format!("{name} {}", p.address),
        None => p.address.to_string(),
    }
}

/// `65001`, or `external` / `internal` with the AS it opened with once known.
pub(crate) fn remote_as(p: &PeerStatus) -> String {
    match (&p.remote_as_config, p.remote_as) {
        (Some(rule), 0) => rule.clone(),
        (Some(rule), asn) => format!("{asn} ({rule})"),
        (None, asn) => asn.to_string(),
    }
}

/// The families of an Established session, else why it is down (or, for an interface peer,
/// what it waits for); a graceful restart in progress (routes kept stale); the BFD session's
/// state.
fn peer_info(p: &PeerStatus) -> String {
    let mut info = if p.state == PeerState::Established {
        p.families.join("+")
    } else if let Some(waiting) = &p.waiting {
        format!("waiting: {waiting}")
    } else {
        p.last_error.clone().unwrap_or_default()
    };
    if p.graceful_restart_stale {
        if !info.is_empty() {
            info.push_str("; ");
        }
        info.push_str("graceful restart: stale routes kept");
    }
    if let Some(b) = &p.bfd {
        if !info.is_empty() {
            info.push_str("; ");
        }
        info.push_str(&bfd::brief(b));
    }
    if let crate::proto::PeerSource::Discovered { host } = &p.config.source {
        if !info.is_empty() {
            info.push_str("; ");
        }
        info.push_str("mesh: ");
        info.push_str(host);
    }
    info
}

/// `3725` -> `01:02:05`, `90061` -> `1d01:01:01`.
pub fn uptime(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d{h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
pub(crate) fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header = header.map(str::to_string);
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i + 1 == N {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(addr: &str, state: PeerState, up: Option<u64>, err: Option<&str>) -> PeerStatus {
        PeerStatus {
            address: addr.parse().unwrap(),
            remote_as: 65001,
            state,
            uptime_secs: up,
            prefixes_received: 3,
            prefixes_accepted: 2,
            prefixes_advertised: 1,
            remote_router_id: None,
            last_error: err.map(str::to_string),
            families: vec!["ipv4".into()],
            ..PeerStatus::new(addr.parse().unwrap(), 65001)
        }
    }

    fn node(peers: Vec<PeerStatus>) -> NodeStatus {
        NodeStatus {
            node: "host1".into(),
            asn: 65101,
            router_id: "10.0.1.2".parse().unwrap(),
            blocks: vec!["10.244.1.0/24".parse().unwrap()],
            blocks_v6: vec![],
            conflicts: vec![],
            attachments: 2,
            peers,
            learned_routes: 3,
            block_usage: vec![BlockUsage {
                block: "10.244.1.0/24".parse().unwrap(),
                in_use: 2,
                capacity: 256,
            }],
            routes_not_installed: 0,
        }
    }

    #[test]
    fn status_table_is_aligned() {
        let s = node(vec![
            peer("10.0.1.1", PeerState::Established, Some(83), None),
            peer(
                "10.0.9.1",
                PeerState::Active,
                None,
                Some("hold timer expired"),
            ),
        ]);
        let expected = "\
Node:        host1  AS65101  router-id 10.0.1.2
Blocks:      10.244.1.0/24 (2/256 in use)
Containers:  2    Learned routes: 3
Health:      DEGRADED (1/2 peers established)

PEER      AS     STATE        UPTIME    RECEIVED  ACCEPTED  ADVERTISED  INFO
10.0.1.1  65001  Established  00:01:23  3         2         1           ipv4
10.0.9.1  65001  Active       -         3         2         1           hold timer expired
";
        assert_eq!(status(&s), expected);
        assert!(!healthy(&s));
        let mut fine = node(vec![peer(
            "10.0.1.1",
            PeerState::Established,
            Some(1),
            None,
        )]);
        assert!(healthy(&fine));
        fine.block_usage[0].in_use = 256;
        assert!(!healthy(&fine));
        assert!(
            status(&fine).contains("DEGRADED (1/1 peers established; block 10.244.1.0/24 full)"),
            "{}",
            status(&fine)
        );
    }

    #[test]
    fn conflicts_and_ipv6_blocks_are_shown() {
        let mut s = node(vec![]);
        s.blocks_v6 = vec!["fd00:10:244::100/120".parse().unwrap()];
        s.conflicts = vec![crate::proto::BlockConflict {
            prefix: "10.244.1.0/24".parse().unwrap(),
            block: "10.244.1.0/24".parse().unwrap(),
            next_hops: vec!["10.0.1.1".parse().unwrap()],
            since: 0,
        }];
        let out = status(&s);
        assert!(
            out.contains("Blocks:      10.244.1.0/24 (2/256 in use), fd00:10:244::100/120\n"),
            "{out}"
        );
        assert!(
            out.contains("CONFLICT:    10.244.1.0/24 from 10.0.1.1 overlaps our block 10.244.1.0/24 (not imported)\n"),
            "{out}"
        );
    }

    #[test]
    fn a_best_route_not_in_the_kernel_degrades_health() {
        let mut s = node(vec![]);
        assert!(healthy(&s));
        s.routes_not_installed = 2;
        assert!(!healthy(&s));
        assert!(
            status(&s)
                .contains("DEGRADED (0/0 peers established; 2 best route(s) not in the kernel"),
            "{}",
            status(&s)
        );
    }

    #[test]
    fn uptime_formats() {
        assert_eq!(uptime(0), "00:00:00");
        assert_eq!(uptime(3725), "01:02:05");
        assert_eq!(uptime(90061), "1d01:01:01");
    }
}
