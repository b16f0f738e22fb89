//! Our driver against BIRD 2's `bfd` protocol (sessions requested with `neighbor`), single hop
//! over IPv4 and IPv6: up both ways, a parameter change BIRD adopts (its interval and timeout
//! follow ours), detection of a silent link. Root only: without root or BIRD it prints
//! SKIPPED, or fails under `make`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::IpAddr;
use std::process::Command;
use std::time::Duration;

use bfd::driver::{Bfd, DriverConfig, SessionSpec};
use bfd::packet::{Diag, State};
use bfd::session::Params;
use common::*;

const BIRD: [&str; 3] = ["/usr/sbin/bird", "/usr/sbin/birdc", "/usr/sbin/nft"];

/// `birdc show bfd sessions` rows for `peer`: (state, interval, timeout) as BIRD prints them.
fn bird_session(lab: &Lab, peer: &str) -> Option<(String, String, String)> {
    let sock = lab.dir.path().join("bird.ctl");
    let out = Command::new("birdc")
        .arg("-s")
        .arg(&sock)
        .args(["show", "bfd", "sessions"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        // IP address, interface, state, since (one or two fields), interval, timeout
        (f.first() == Some(&peer) && f.len() >= 6).then(|| {
            let n = f.len();
            (f[2].to_string(), f[n - 2].to_string(), f[n - 1].to_string())
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bird_single_hop_v4_and_v6() {
    if cannot_run(&BIRD) {
        return;
    }
    let lab = Lab::direct("b");
    let d = lab.dir.path();
    std::fs::write(
        d.join("bird.conf"),
        format!(
            "router id {PEER4};\nprotocol device {{ }}\n\
             protocol bfd {{\n  interface \"p0\" {{ interval 300 ms; multiplier 3; }};\n  \
             neighbor {OURS4} dev \"p0\" local {PEER4};\n  neighbor {OURS6} dev \"p0\" local {PEER6};\n}}\n"
        ),
    )
    .unwrap();
    let (conf, ctl) = (d.join("bird.conf"), d.join("bird.ctl"));
    lab.spawn_peer(
        &[
            "/usr/sbin/bird",
            "-f",
            "-c",
            conf.to_str().unwrap(),
            "-s",
            ctl.to_str().unwrap(),
        ],
        "bird.log",
    );
    let (bfd, mut events) = lab.in_ours(|| Bfd::start(DriverConfig::default()).unwrap());
    for (key, remote, local) in [("v4", PEER4, OURS4), ("v6", PEER6, OURS6)] {
        let mut spec =
            SessionSpec::single_hop(key, remote.parse::<IpAddr>().unwrap(), Params::default());
        spec.local = Some(local.parse().unwrap());
        spec.interface = Some("o0".into());
        bfd.add_session(spec).await.unwrap();
    }
    all_reach(
        &mut events,
        &["v4", "v6"],
        State::Up,
        Duration::from_secs(20),
    )
    .await;
    for (key, ours) in [("v4", OURS4), ("v6", OURS6)] {
        let up = eventually(Duration::from_secs(10), || {
            bird_session(&lab, ours).is_some_and(|s| s.0 == "Up")
        });
        assert!(up, "BIRD: {:?}", bird_session(&lab, ours));
        let s = bfd.session(&key).await.unwrap().unwrap();
        assert_eq!(
            s.status.detection_time,
            Some(Duration::from_millis(900)),
            "{key}"
        );
    }
    // We ask BIRD to send no faster than 500 ms, and send at 400 ms x 5 ourselves: BIRD's
    // interval becomes 0.500 and its timeout 5 x max(300, 400) = 2.000 once the poll is done.
    bfd.set_params("v4", Params::from_millis(400, 500, 5).unwrap())
        .await
        .unwrap();
    let adopted = eventually(Duration::from_secs(10), || {
        bird_session(&lab, OURS4).is_some_and(|(st, interval, timeout)| {
            st == "Up" && interval == "0.500" && timeout == "2.000"
        })
    });
    assert!(adopted, "BIRD: {:?}", bird_session(&lab, OURS4));
    assert!(!bfd.session(&"v4").await.unwrap().unwrap().status.polling);
    // BIRD's side goes silent.
    lab.silence(&lab.peer, "p0");
    for (key, c, _) in all_reach(
        &mut events,
        &["v4", "v6"],
        State::Down,
        Duration::from_secs(5),
    )
    .await
    {
        assert_eq!(c.diag, Diag::ControlDetectionTimeExpired, "{key}");
    }
    bfd.shutdown().await;
}
