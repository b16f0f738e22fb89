//! The failure scenarios against BIRD 2, GoBGP and ExaBGP: hold-timer expiry when the peer goes
//! silent, a 2-octet-only peer, collisions with both sides active, and graceful restart as
//! helper. Root only; each test names the peer and scenario.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use bgp::driver::{PeerConfig, PeerState, Speaker, SpeakerConfig, SpeakerHandle};
use bgp::rib::RouteChange;
use common::{eventually, skip_reason, Pair, OUR_ADDR, PEER_ADDR};
use ipnet::IpNet;

const OUR_AS: u32 = 65101;
const PEER_AS: u32 = 65001;
const OURS: &str = "10.244.9.0/24";
const THEIRS: &str = "10.244.200.0/24";
const THEIRS_B: &str = "10.244.201.0/24";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bird,
    Gobgp,
    Exabgp,
}

/// How the peer daemon is configured.
#[derive(Clone, Copy, Default)]
struct Opts {
    /// No 4-octet AS capability: AS_PATHs are 2 octets wide.
    two_octet: bool,
    /// Graceful restart on (and, for `restarted`, start as a restarting speaker).
    graceful_restart: bool,
    restarted: bool,
    /// Also originate THEIRS_B.
    second_route: bool,
    /// TCP MD5 key (RFC 2385).
    password: Option<&'static str>,
}

/// A peer daemon in the pair's peer namespace.
struct Peer {
    kind: Kind,
    ns: String,
    dir: std::path::PathBuf,
    starts: std::sync::atomic::AtomicUsize,
}

fn binaries(kind: Kind) -> Option<String> {
    match kind {
        Kind::Bird => skip_reason(&["/usr/sbin/bird", "/usr/sbin/birdc", "/usr/sbin/nft"]),
        Kind::Gobgp => skip_reason(&["/usr/bin/gobgpd", "/usr/bin/gobgp", "/usr/sbin/nft"]),
        Kind::Exabgp => skip_reason(&["/usr/sbin/exabgp", "/usr/sbin/nft"]),
    }
}

fn in_ns(ns: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Peer {
    fn start(kind: Kind, pair: &Pair, opts: Opts) -> Peer {
        let peer = Peer {
            kind,
            ns: pair.peer.clone(),
            dir: pair.dir.path().to_path_buf(),
            starts: Default::default(),
        };
        peer.launch(pair, opts);
        peer
    }

    fn routes(opts: Opts) -> Vec<&'static str> {
        let mut r = vec![THEIRS];
        if opts.second_route {
            r.push(THEIRS_B);
        }
        r
    }

    /// Write the configuration for `opts` and start the daemon (again).
    fn launch(&self, pair: &Pair, opts: Opts) {
        let n = self
            .starts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let d = &self.dir;
        match self.kind {
            Kind::Bird => {
                let statics: String = Self::routes(opts)
                    .iter()
                    .map(|r| format!(" route {r} unreachable;"))
                    .collect();
                std::fs::write(
                    d.join("bird.conf"),
                    format!(
                        "router id {PEER_ADDR};\nprotocol device {{ }}\n\
                         protocol static s4 {{ ipv4;{statics} }}\n\
                         protocol bgp lat {{\n local {PEER_ADDR} as {PEER_AS};\n neighbor {OUR_ADDR} as {OUR_AS};\n \
                         hold time 9;\n connect retry time 1;\n error wait time 1,5;\n {}{}{}\
                         ipv4 {{ import all; export where proto = \"s4\"; }};\n}}\n",
                        if opts.two_octet { "enable as4 off;\n " } else { "" },
                        if opts.graceful_restart { "graceful restart on;\n " } else { "" },
                        opts.password
                            .map(|p| format!("password \"{p}\";\n "))
                            .unwrap_or_default(),
                    ),
                )
                .unwrap();
                let conf = d.join("bird.conf").display().to_string();
                let sock = d.join("bird.ctl").display().to_string();
                let mut args = vec!["bird", "-f", "-c", &conf, "-s", &sock];
                if opts.restarted {
                    args.push("-R");
                }
                pair.spawn_peer(&args, &format!("bird{n}.log"));
            }
            Kind::Gobgp => {
                let auth = opts
                    .password
                    .map(|p| format!("    auth-password = \"{p}\"\n"))
                    .unwrap_or_default();
                // The per-family part says IPv4 is preserved across a restart (the Forwarding
                // State bit); without it a helper must drop the routes at once.
                let gr = if opts.graceful_restart {
                    "  [neighbors.graceful-restart.config]\n    enabled = true\n    restart-time = 120\n\
                     \x20 [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"ipv4-unicast\"\n\
                     \x20   [neighbors.afi-safis.mp-graceful-restart.config]\n      enabled = true\n"
                } else {
                    ""
                };
                // A restarted GoBGP takes its routes over the API, after it has started: keep
                // the session down until they are in, or its End-of-RIB would come first.
                let down = if opts.restarted {
                    "    admin-down = true\n"
                } else {
                    ""
                };
                std::fs::write(
                    d.join("gobgpd.toml"),
                    format!(
                        "[global.config]\n  as = {PEER_AS}\n  router-id = \"{PEER_ADDR}\"\n  port = 179\n\n\
                         [[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{OUR_ADDR}\"\n    peer-as = {OUR_AS}\n{down}{auth}\
                         \x20 [neighbors.timers.config]\n    hold-time = 9\n    connect-retry = 1\n{gr}"
                    ),
                )
                .unwrap();
                let conf = d.join("gobgpd.toml").display().to_string();
                let mut args = vec![
                    "gobgpd",
                    "-f",
                    &conf,
                    "-p",
                    "--api-hosts",
                    "127.0.0.1:50051",
                    "--pprof-disable",
                ];
                if opts.restarted {
                    args.push("-r");
                }
                pair.spawn_peer(&args, &format!("gobgpd{n}.log"));
                for r in Self::routes(opts) {
                    let add = [
                        "global", "rib", "-a", "ipv4", "add", r, "nexthop", PEER_ADDR,
                    ];
                    assert!(eventually(20, || {
                        self.gobgp(&add);
                        self.gobgp(&["global", "rib", "-a", "ipv4"]).contains(r)
                    }));
                }
                if opts.restarted {
                    self.gobgp(&["neighbor", OUR_ADDR, "enable"]);
                }
            }
            Kind::Exabgp => {
                let received = d.join("received.json");
                let recorder = d.join("record.sh");
                if n == 0 {
                    common::exabgp_recorder(&recorder, &received);
                }
                let statics: String = Self::routes(opts)
                    .iter()
                    .map(|r| format!("route {r} next-hop {PEER_ADDR}; "))
                    .collect();
                let mut caps = String::new();
                if opts.two_octet {
                    caps.push_str("asn4 disable; ");
                }
                if opts.graceful_restart {
                    caps.push_str("graceful-restart 120; ");
                }
                let md5 = opts
                    .password
                    .map(|p| format!("md5-password {p};\n  "))
                    .unwrap_or_default();
                std::fs::write(
                    d.join("exabgp.conf"),
                    format!(
                        "process record {{\n  run {};\n  encoder json;\n}}\n\
                         neighbor {OUR_ADDR} {{\n  router-id {PEER_ADDR};\n  local-address {PEER_ADDR};\n  \
                         local-as {PEER_AS};\n  peer-as {OUR_AS};\n  hold-time 9;\n  {md5}\
                         capability {{ {caps}}}\n  \
                         api {{ processes [ record ]; receive {{ parsed; update; }} }}\n  \
                         static {{ {statics}}}\n}}\n",
                        recorder.display()
                    ),
                )
                .unwrap();
                pair.spawn_exabgp(&d.join("exabgp.conf"), &format!("exabgp{n}.log"));
            }
        }
    }

    fn gobgp(&self, args: &[&str]) -> String {
        let mut all = vec!["gobgp", "-u", "127.0.0.1", "-p", "50051"];
        all.extend_from_slice(args);
        in_ns(&self.ns, &all)
    }

    fn birdc(&self, args: &[&str]) -> String {
        let sock = self.dir.join("bird.ctl").display().to_string();
        let mut all = vec!["birdc", "-s", &sock];
        all.extend_from_slice(args);
        in_ns(&self.ns, &all)
    }

    /// The peer's view of our route, as text (empty when it has none).
    fn our_route(&self) -> String {
        match self.kind {
            Kind::Bird => self.birdc(&["show", "route", "all", OURS]),
            Kind::Gobgp => self.gobgp(&["global", "rib", "-a", "ipv4", OURS]),
            Kind::Exabgp => std::fs::read_to_string(self.dir.join("received.json"))
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains(OURS))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    fn has_ours(&self) -> bool {
        self.our_route().contains(OURS)
    }

    /// Kill the daemon without a NOTIFICATION (every process of the peer namespace).
    fn kill(&self) {
        let out = Command::new("ip")
            .args(["netns", "pids", &self.ns])
            .output()
            .unwrap();
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if let Ok(pid) = pid.parse::<i32>() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        assert!(eventually(10, || {
            let out = Command::new("ip")
                .args(["netns", "pids", &self.ns])
                .output()
                .unwrap();
            out.stdout.is_empty()
        }));
    }

    /// Reset the session from the peer's side (it reconnects at once, as we do).
    fn reset_session(&self, pair: &Pair) {
        match self.kind {
            Kind::Bird => {
                self.birdc(&["restart", "lat"]);
            }
            // After `neighbor reset` (or disable/enable) GoBGP 3.x stays Idle and refuses
            // connections for longer than we wait; a restarted gobgpd connects at once.
            Kind::Gobgp | Kind::Exabgp => {
                self.kill();
                self.launch(pair, Opts::default());
            }
        }
    }
}

async fn start_ours() -> (SpeakerHandle, bgp::driver::RouteChanges) {
    start_ours_signed(None).await
}

async fn start_ours_signed(password: Option<&str>) -> (SpeakerHandle, bgp::driver::RouteChanges) {
    start_ours_with(password, false).await
}

async fn start_ours_with(
    password: Option<&str>,
    passive: bool,
) -> (SpeakerHandle, bgp::driver::RouteChanges) {
    let (handle, rx) = Speaker::start(SpeakerConfig {
        listen: Some(format!("{OUR_ADDR}:179").parse().unwrap()),
        peers: vec![PeerConfig {
            hold_time: 9,
            connect_retry: Duration::from_secs(1),
            password: password.map(bgp::driver::Password::from),
            passive,
            ..PeerConfig::new(PEER_ADDR.parse().unwrap(), PEER_AS)
        }],
        ..SpeakerConfig::new(OUR_AS, OUR_ADDR.parse().unwrap())
    })
    .await
    .unwrap();
    handle.set_local_prefixes(vec![OURS.parse().unwrap()]);
    (handle, rx)
}

/// The next change of `prefix`, and every other change seen on the way.
async fn expect(
    rx: &mut bgp::driver::RouteChanges,
    prefix: &str,
    present: bool,
) -> Vec<RouteChange> {
    let prefix: IpNet = prefix.parse().unwrap();
    let mut seen = Vec::new();
    let wait = async {
        loop {
            let c = rx.recv().await.expect("speaker stopped");
            if c.prefix == prefix && c.next_hops.is_empty() != present {
                return;
            }
            seen.push(c);
        }
    };
    tokio::time::timeout(Duration::from_secs(60), wait)
        .await
        .unwrap_or_else(|_| panic!("no change for {prefix} (present: {present})"));
    seen
}

/// Polls for up to 90 s: GoBGP stays idle 30 s after a reset, and our connect-retry backs off
/// meanwhile.
async fn state_is(handle: &SpeakerHandle, established: bool) -> bool {
    for _ in 0..900 {
        if (handle.status().await[0].state == PeerState::Established) == established {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

fn hold_timer(kind: Kind) {
    if let Some(why) = binaries(kind) {
        return eprintln!("SKIPPED: {why}");
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
    if let Some(why) = binaries(kind) {
        return eprintln!("SKIPPED: {why}");
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
        let ok = blocking(|| eventually(30, || p.our_route().contains("65101")));
        assert!(ok, "{}", p.our_route());
        handle.shutdown().await;
    });
}

fn collision(kind: Kind) {
    if let Some(why) = binaries(kind) {
        return eprintln!("SKIPPED: {why}");
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
                eventually(40, || {
                    let conns = in_ns(
                        &ns,
                        &[
                            "ss",
                            "-Htn",
                            "state",
                            "established",
                            "( sport = :179 or dport = :179 )",
                        ],
                    );
                    conns.lines().count() == 1 && p.has_ours()
                })
            });
            assert!(settled, "round {round}: not one session with our route");
        }
        handle.shutdown().await;
    });
}

fn graceful_restart(kind: Kind) {
    if let Some(why) = binaries(kind) {
        return eprintln!("SKIPPED: {why}");
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

/// TCP MD5: the same key brings the session up with routes both ways; another key never does.
fn md5(kind: Kind, ours: &'static str) {
    if let Some(why) = binaries(kind) {
        return eprintln!("SKIPPED: {why}");
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
            assert!(blocking(|| eventually(30, || p.has_ours())));
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
