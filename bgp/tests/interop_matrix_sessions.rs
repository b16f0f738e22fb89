//! The failure-scenario matrix, session family, against BIRD 2, GoBGP, ExaBGP and OpenBGPD: hold-timer
//! expiry when the peer goes silent, a 2-octet-only peer, TCP MD5 with the same and another key.
//! Root only; each test names the peer and scenario (the restart family is in
//! `interop_matrix_restarts.rs`, the peers in `common/matrix.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use bgp::driver::PeerState;
use common::matrix::{
    blocking, can_run, expect, start_ours, start_ours_signed, Kind, Opts, Peer, THEIRS,
};
use common::Pair;
use testkit::eventually;

fn hold_timer(kind: Kind) {
    if !can_run(kind) {
        return;
    }
    let pair = Pair::new(&format!("h{}", kind as u8));
    let _peer = Peer::start(kind, &pair, Opts::default());
    let ns = pair.peer.clone();
    pair.in_ours(move || async move {
        let (handle, mut rx) = start_ours().await;
        expect(&mut rx, THEIRS, true).await;
        // The peer goes silent: its namespace drops every BGP packet.
        for rule in [
            "add table inet silence",
            "add chain inet silence out { type filter hook output priority 0 ; }",
            "add chain inet silence in { type filter hook input priority 0 ; }",
            "add rule inet silence out tcp dport 179 drop",
            "add rule inet silence out tcp sport 179 drop",
            "add rule inet silence in tcp dport 179 drop",
            "add rule inet silence in tcp sport 179 drop",
        ] {
            let ok = Command::new("ip")
                .args(["netns", "exec", &ns, "nft"])
                .args(rule.split(' '))
                .status()
                .unwrap()
                .success();
            assert!(ok, "nft {rule}");
        }
        expect(&mut rx, THEIRS, false).await;
        let s = handle.status().await;
        assert_ne!(s[0].state, PeerState::Established);
        let err = s[0].last_error.clone().unwrap_or_default();
        assert!(err.contains("hold timer expired"), "{s:?}");
        handle.shutdown().await;
    });
}

fn two_octet(kind: Kind) {
    if !can_run(kind) {
        return;
    }
    let pair = Pair::new(&format!("t{}", kind as u8));
    let opts = Opts {
        two_octet: true,
        ..Opts::default()
    };
    let peer = Arc::new(Peer::start(kind, &pair, opts));
    let p = peer.clone();
    pair.in_ours(move || async move {
        let (handle, mut rx) = start_ours().await;
        expect(&mut rx, THEIRS, true).await;
        // The peer decoded our 2-octet AS_PATH: it shows 65101.
        let ok =
            blocking(|| eventually(Duration::from_secs(30), || p.our_route().contains("65101")));
        assert!(ok, "{}", p.our_route());
        handle.shutdown().await;
    });
}

/// TCP MD5: the same key brings the session up with routes both ways; another key never does.
fn md5(kind: Kind, ours: &'static str) {
    if !can_run(kind) {
        return;
    }
    let same = ours == "lattice-md5";
    let pair = Pair::new(&format!("m{}{}", kind as u8, u8::from(same)));
    let opts = Opts {
        password: Some("lattice-md5"),
        ..Opts::default()
    };
    let peer = Arc::new(Peer::start(kind, &pair, opts));
    let p = peer.clone();
    pair.in_ours(move || async move {
        let (handle, mut rx) = start_ours_signed(Some(ours)).await;
        if same {
            expect(&mut rx, THEIRS, true).await;
            assert!(blocking(
                || eventually(Duration::from_secs(30), || p.has_ours())
            ));
        } else {
            // 15 s: the peer and we retry every second or so; no attempt may get through.
            for _ in 0..150 {
                let s = handle.status().await;
                assert_ne!(s[0].state, PeerState::Established, "{s:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(rx.try_recv().is_err());
        }
        handle.shutdown().await;
    });
}

#[test]
fn bird_md5_session_up() {
    md5(Kind::Bird, "lattice-md5");
}

#[test]
fn bird_md5_wrong_password_never_up() {
    md5(Kind::Bird, "wrong");
}

#[test]
fn gobgp_md5_session_up() {
    md5(Kind::Gobgp, "lattice-md5");
}

#[test]
fn gobgp_md5_wrong_password_never_up() {
    md5(Kind::Gobgp, "wrong");
}

#[test]
fn exabgp_md5_session_up() {
    md5(Kind::Exabgp, "lattice-md5");
}

#[test]
fn exabgp_md5_wrong_password_never_up() {
    md5(Kind::Exabgp, "wrong");
}

#[test]
fn bird_gone_silent_hold_timer_expires_and_routes_are_removed() {
    hold_timer(Kind::Bird);
}

#[test]
fn gobgp_gone_silent_hold_timer_expires_and_routes_are_removed() {
    hold_timer(Kind::Gobgp);
}

#[test]
fn exabgp_gone_silent_hold_timer_expires_and_routes_are_removed() {
    hold_timer(Kind::Exabgp);
}

#[test]
fn bird_two_octet_only_peer_exchanges_routes() {
    two_octet(Kind::Bird);
}

#[test]
fn exabgp_two_octet_only_peer_exchanges_routes() {
    two_octet(Kind::Exabgp);
}

#[test]
fn openbgpd_md5_session_up() {
    md5(Kind::Openbgpd, "lattice-md5");
}

#[test]
fn openbgpd_md5_wrong_password_never_up() {
    md5(Kind::Openbgpd, "wrong");
}

#[test]
fn openbgpd_gone_silent_hold_timer_expires_and_routes_are_removed() {
    hold_timer(Kind::Openbgpd);
}

#[test]
fn openbgpd_two_octet_only_peer_exchanges_routes() {
    two_octet(Kind::Openbgpd);
}
