//! The failure-scenario matrix, restart family: collisions with both sides active (BIRD 2,
//! GoBGP, ExaBGP, OpenBGPD) and graceful restart as helper (BIRD, GoBGP, ExaBGP; OpenBGPD
//! announces graceful restart as a receiving speaker only, with no family to preserve, so its
//! restart is tested in `interop_openbgpd.rs`). Root only; each test names the peer and
//! scenario (the session family is in `interop_matrix_sessions.rs`, the peers in
//! `common/matrix.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::matrix::{
    blocking, can_run, expect, start_ours, start_ours_with, state_is, Kind, Opts, Peer, THEIRS,
    THEIRS_B,
};
use common::Pair;
use ipnet::IpNet;
use testkit::eventually;

fn collision(kind: Kind) {
    if !can_run(kind) {
        return;
    }
    let pair = Arc::new(Pair::new(&format!("c{}", kind as u8)));
    let peer = Arc::new(Peer::start(kind, &pair, Opts::default()));
    let (p, pr) = (peer.clone(), pair.clone());
    let ns = pair.peer.clone();
    pair.in_ours(move || async move {
        let (handle, mut rx) = start_ours().await;
        expect(&mut rx, THEIRS, true).await;
        for round in 0..3 {
            blocking(|| p.reset_session(&pr));
            // Let the reset reach us before waiting for the new session.
            tokio::time::sleep(Duration::from_millis(500)).await;
            assert!(
                state_is(&handle, true).await,
                "round {round}: not re-established"
            );
            let settled = blocking(|| {
                eventually(Duration::from_secs(40), || {
                    let conns = testkit::cmd::stdout(&[
                        "ip",
                        "netns",
                        "exec",
                        &ns,
                        "ss",
                        "-Htn",
                        "state",
                        "established",
                        "( sport = :179 or dport = :179 )",
                    ]);
                    conns.lines().count() == 1 && p.has_ours()
                })
            });
            assert!(settled, "round {round}: not one session with our route");
        }
        handle.shutdown().await;
    });
}

fn graceful_restart(kind: Kind) {
    if !can_run(kind) {
        return;
    }
    let pair = Arc::new(Pair::new(&format!("g{}", kind as u8)));
    let first = Opts {
        graceful_restart: true,
        second_route: true,
        ..Opts::default()
    };
    let peer = Arc::new(Peer::start(kind, &pair, first));
    let (p, pr) = (peer.clone(), pair.clone());
    // GoBGP takes a second connection from a peer with an Established session for that peer's
    // graceful restart (RFC 4724 §4.2) and drops the first, so after its own restart a
    // both-sides-active collision would reset the session under test: only GoBGP connects.
    let passive = kind == Kind::Gobgp;
    pair.in_ours(move || async move {
        let (handle, mut rx) = start_ours_with(None, passive).await;
        expect(&mut rx, THEIRS, true).await;
        expect(&mut rx, THEIRS_B, true).await;
        // Killed without a NOTIFICATION: routes stay, stale.
        blocking(|| p.kill());
        assert!(state_is(&handle, false).await);
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(
            rx.try_recv().is_err(),
            "routes changed while the peer restarts"
        );
        assert!(handle.status().await[0].graceful_restart_stale);
        // Back without THEIRS_B: that one goes at End-of-RIB, THEIRS never moves.
        let again = Opts {
            graceful_restart: true,
            restarted: true,
            ..Opts::default()
        };
        blocking(|| p.launch(&pr, again));
        let seen = expect(&mut rx, THEIRS_B, false).await;
        let theirs: IpNet = THEIRS.parse().unwrap();
        assert!(seen.iter().all(|c| c.prefix != theirs), "{seen:?}");
        assert!(state_is(&handle, true).await);
        handle.shutdown().await;
    });
}

#[test]
fn bird_collision_with_both_sides_active_settles_on_one_session() {
    collision(Kind::Bird);
}

#[test]
fn gobgp_collision_with_both_sides_active_settles_on_one_session() {
    collision(Kind::Gobgp);
}

#[test]
fn exabgp_collision_with_both_sides_active_settles_on_one_session() {
    collision(Kind::Exabgp);
}

#[test]
fn bird_graceful_restart_helper_keeps_routes_until_end_of_rib() {
    graceful_restart(Kind::Bird);
}

#[test]
fn exabgp_graceful_restart_helper_keeps_routes_until_end_of_rib() {
    graceful_restart(Kind::Exabgp);
}

#[test]
fn gobgp_graceful_restart_helper_keeps_routes_until_end_of_rib() {
    graceful_restart(Kind::Gobgp);
}

#[test]
fn openbgpd_collision_with_both_sides_active_settles_on_one_session() {
    collision(Kind::Openbgpd);
}
