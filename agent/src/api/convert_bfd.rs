//! latticed's BFD sessions as the API shows them: the driver's snapshot of each peer's
//! session (or why it is pending), with whether it holds the BGP session down.

use std::time::Instant;

use api::proto;
use bfd::packet::State;

use crate::daemon::bfd::{BfdView, PeerBfdView};

/// Each peer's status, with its BFD session when it has one.
pub fn peers_with_bfd(
    list: Vec<bgp::driver::PeerStatus>,
    view: &BfdView,
) -> Vec<proto::PeerStatus> {
    let now = Instant::now();
    list.into_iter()
        .map(|p| {
            let b = view
                .peers
                .get(&p.peer)
                .map(|b| bfd(b, p.held_down_by_bfd, now));
            proto::PeerStatus {
                bfd: b,
                ..super::convert::peer(p)
            }
        })
        .collect()
}

/// One peer's BFD session at `now`.
pub fn bfd(v: &PeerBfdView, holding_bgp_down: bool, now: Instant) -> proto::BfdStatus {
    let ms = |d: Option<std::time::Duration>| {
        d.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    };
    let s = v.session.as_ref();
    let status = s.map(|s| s.status);
    proto::BfdStatus {
        state: match &status {
            Some(st) => state(st.state),
            None => proto::BfdState::Pending,
        },
        reason: match (&v.pending, s) {
            (Some(why), _) => Some(why.clone()),
            (None, None) => Some("starting".into()),
            (None, Some(_)) => None,
        },
        multihop: s.is_some_and(|s| matches!(s.hop, bfd::driver::Hop::Multi { .. })),
        local: s.and_then(|s| s.local),
        interface: s.and_then(|s| s.interface.clone()),
        min_rx_ms: v.timers.min_rx_ms,
        min_tx_ms: v.timers.min_tx_ms,
        multiplier: v.timers.multiplier,
        tx_interval_ms: ms(status.and_then(|st| st.tx_interval)),
        rx_interval_ms: ms(status.and_then(|st| st.rx_interval)),
        detection_time_ms: ms(status.and_then(|st| st.detection_time)),
        remote_multiplier: status.map_or(0, |st| st.remote_detect_mult),
        control_plane_independent: status.is_some_and(|st| st.control_plane_independent),
        remote_control_plane_independent: status
            .is_some_and(|st| st.remote_control_plane_independent),
        last_down: s.and_then(|s| s.last_down).map(|d| proto::BfdDown {
            secs_ago: now.saturating_duration_since(d.at).as_secs(),
            from: state(d.from),
            diag: d.diag.as_str().into(),
            remote_diag: d.remote_diag.as_str().into(),
            remote_admin_down: d.remote_admin_down,
        }),
        holding_bgp_down,
        up_transitions: s.map_or(0, |s| s.counters.up_transitions),
        down_transitions: s.map_or(0, |s| s.counters.down_transitions),
        packets_sent: s.map_or(0, |s| s.counters.tx),
        packets_received: s.map_or(0, |s| s.counters.rx),
    }
}

fn state(s: State) -> proto::BfdState {
    match s {
        State::AdminDown => proto::BfdState::AdminDown,
        State::Down => proto::BfdState::Down,
        State::Init => proto::BfdState::Init,
        State::Up => proto::BfdState::Up,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::BfdTimers;

    #[test]
    fn a_pending_session_says_why_and_a_peer_without_bfd_has_none() {
        let key: bgp::driver::PeerKey = "10.0.9.1".parse().unwrap();
        let mut view = BfdView::default();
        view.peers.insert(
            key.clone(),
            PeerBfdView {
                timers: BfdTimers {
                    min_rx_ms: 100,
                    min_tx_ms: 100,
                    multiplier: 3,
                },
                pending: Some("no route to 10.0.9.1".into()),
                session: None,
            },
        );
        let with = bgp::driver::PeerStatus::new(key, 65009);
        let without = bgp::driver::PeerStatus::new("10.0.9.2".parse().unwrap(), 65009);
        let out = peers_with_bfd(vec![with, without], &view);
        let b = out[0].bfd.as_ref().unwrap();
        assert_eq!(b.state, proto::BfdState::Pending);
        assert_eq!(b.reason.as_deref(), Some("no route to 10.0.9.1"));
        assert_eq!((b.min_rx_ms, b.multiplier), (100, 3));
        assert!(out[1].bfd.is_none());
    }
}
