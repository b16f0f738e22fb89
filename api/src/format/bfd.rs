//! A peer's BFD session in `lattice peers` (lines of its own) and `lattice status` (a word in
//! the INFO column).

use crate::proto::{BfdState, BfdStatus};

/// The state as operators read it (FRR's `show bfd peers` words).
pub(super) fn state(s: BfdState) -> &'static str {
    match s {
        BfdState::Pending => "pending",
        BfdState::AdminDown => "admin-down",
        BfdState::Down => "down",
        BfdState::Init => "init",
        BfdState::Up => "up",
    }
}

/// `BFD up`, `BFD down`, `BFD pending: no route to ...`, for the INFO column.
pub(super) fn brief(b: &BfdStatus) -> String {
    match (&b.reason, b.state) {
        (Some(why), BfdState::Pending) => format!("BFD pending: {why}"),
        (_, s) if b.holding_bgp_down => format!("BFD {}: BGP held down", state(s)),
        (_, s) => format!("BFD {}", state(s)),
    }
}

/// The `lattice peers` lines: (field, value).
pub(super) fn detail(b: &BfdStatus) -> Vec<(&'static str, String)> {
    let ms = |v: Option<u64>| v.map_or_else(|| "-".into(), |v| format!("{v} ms"));
    let mut lines = Vec::new();
    if b.state == BfdState::Pending {
        let why = b.reason.as_deref().unwrap_or("not started yet");
        lines.push(("BFD", format!("pending: {why}")));
    } else {
        let hop = if b.multihop { "multihop" } else { "single hop" };
        let on = b
            .interface
            .as_ref()
            .map_or_else(String::new, |i| format!(" on {i}"));
        let from = b.local.map_or_else(String::new, |l| format!(" from {l}"));
        let mut line = format!("{}, {hop}{on}{from}", state(b.state));
        if b.holding_bgp_down {
            line.push_str("; holds the BGP session down until up");
        }
        lines.push(("BFD", line));
    }
    let peer_mult = if b.remote_multiplier == 0 {
        String::new()
    } else {
        format!(", peer x{}", b.remote_multiplier)
    };
    lines.push((
        "BFD timers",
        format!(
            "tx {}, rx {}, detection {} (configured tx {} ms, rx {} ms, x{}{peer_mult})",
            ms(b.tx_interval_ms),
            ms(b.rx_interval_ms),
            ms(b.detection_time_ms),
            b.min_tx_ms,
            b.min_rx_ms,
            b.multiplier,
        ),
    ));
    if let Some(d) = &b.last_down {
        let admin = if d.remote_admin_down {
            " (peer AdminDown: not a failure)"
        } else {
            ""
        };
        lines.push((
            "BFD last down",
            format!(
                "{} s ago from {}: {} (peer: {}){admin}",
                d.secs_ago,
                state(d.from),
                d.diag,
                d.remote_diag
            ),
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::BfdDown;

    fn up() -> BfdStatus {
        BfdStatus {
            state: BfdState::Up,
            reason: None,
            multihop: false,
            local: Some("10.0.1.2".parse().unwrap()),
            interface: Some("eth1".into()),
            min_rx_ms: 300,
            min_tx_ms: 300,
            multiplier: 3,
            tx_interval_ms: Some(300),
            rx_interval_ms: Some(300),
            detection_time_ms: Some(900),
            remote_multiplier: 3,
            control_plane_independent: true,
            remote_control_plane_independent: false,
            last_down: None,
            holding_bgp_down: false,
            up_transitions: 1,
            down_transitions: 0,
            packets_sent: 10,
            packets_received: 10,
        }
    }

    #[test]
    fn an_up_session_shows_where_it_runs_and_what_was_negotiated() {
        let d = detail(&up());
        assert_eq!(d[0], ("BFD", "up, single hop on eth1 from 10.0.1.2".into()));
        assert_eq!(
            d[1].1,
            "tx 300 ms, rx 300 ms, detection 900 ms (configured tx 300 ms, rx 300 ms, x3, peer x3)"
        );
        assert_eq!(brief(&up()), "BFD up");
    }

    #[test]
    fn a_fallen_or_pending_session_says_why() {
        let mut b = up();
        b.state = BfdState::Down;
        b.holding_bgp_down = true;
        b.last_down = Some(BfdDown {
            secs_ago: 12,
            from: BfdState::Up,
            diag: "control detection time expired".into(),
            remote_diag: "no diagnostic".into(),
            remote_admin_down: false,
        });
        assert_eq!(brief(&b), "BFD down: BGP held down");
        let d = detail(&b);
        assert!(
            d[0].1.ends_with("; holds the BGP session down until up"),
            "{d:?}"
        );
        assert_eq!(
            d[2],
            (
                "BFD last down",
                "12 s ago from up: control detection time expired (peer: no diagnostic)".into()
            )
        );
        let pending = BfdStatus {
            state: BfdState::Pending,
            reason: Some("no route to 10.0.9.1".into()),
            ..up()
        };
        assert_eq!(brief(&pending), "BFD pending: no route to 10.0.9.1");
        assert_eq!(detail(&pending)[0].1, "pending: no route to 10.0.9.1");
    }
}
