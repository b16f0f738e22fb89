//! The failure-scenario matrix's peers (BIRD 2, GoBGP, ExaBGP, configured per scenario and
//! restartable) and our side of it; the scenarios are in `interop_matrix_*.rs`.

use std::sync::Mutex;
use std::time::Duration;

use bgp::driver::{PeerConfig, PeerState, Speaker, SpeakerConfig, SpeakerHandle};
use bgp::rib::RouteChange;
use ipnet::IpNet;
use testkit::daemons::{Bird, Exabgp, Gobgp, BIRD_BINARIES, EXABGP_BINARIES, GOBGP_BINARIES};
use testkit::eventually;

use super::{Pair, OUR_ADDR, PEER_ADDR};

pub const OUR_AS: u32 = 65101;
pub const PEER_AS: u32 = 65001;
pub const OURS: &str = "10.244.9.0/24";
pub const THEIRS: &str = "10.244.200.0/24";
pub const THEIRS_B: &str = "10.244.201.0/24";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Bird,
    Gobgp,
    Exabgp,
}

/// How the peer daemon is configured.
#[derive(Clone, Copy, Default)]
pub struct Opts {
    /// No 4-octet AS capability: AS_PATHs are 2 octets wide.
    pub two_octet: bool,
    /// Graceful restart on (and, for `restarted`, start as a restarting speaker).
    pub graceful_restart: bool,
    pub restarted: bool,
    /// Also originate THEIRS_B.
    pub second_route: bool,
    /// TCP MD5 key (RFC 2385).
    pub password: Option<&'static str>,
}

/// The daemon of a [`Peer`] while it runs.
enum Running {
    Bird(Bird),
    Gobgp(Gobgp),
    Exabgp(Exabgp),
}

/// A peer daemon in the pair's peer namespace.
pub struct Peer {
    kind: Kind,
    ns: String,
    dir: std::path::PathBuf,
    starts: std::sync::atomic::AtomicUsize,
    running: Mutex<Option<Running>>,
}

/// True when the scenario can run against `kind` here (root, the daemon, nft); see
/// [`testkit::require`].
pub fn can_run(kind: Kind) -> bool {
    let daemon = match kind {
        Kind::Bird => BIRD_BINARIES,
        Kind::Gobgp => GOBGP_BINARIES,
        Kind::Exabgp => EXABGP_BINARIES,
    };
    let mut files = daemon.to_vec();
    files.push("/usr/sbin/nft");
    testkit::require(true, &files)
}

impl Peer {
    pub fn start(kind: Kind, pair: &Pair, opts: Opts) -> Peer {
        let peer = Peer {
            kind,
            ns: pair.peer.clone(),
            dir: pair.dir.path().to_path_buf(),
            starts: Default::default(),
            running: Mutex::new(None),
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
    pub fn launch(&self, pair: &Pair, opts: Opts) {
        let n = self
            .starts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let d = &self.dir;
        let running = match self.kind {
            Kind::Bird => {
                let statics: String = Self::routes(opts)
                    .iter()
                    .map(|r| format!(" route {r} unreachable;"))
                    .collect();
                let conf = format!(
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
                );
                let extra: &[&str] = if opts.restarted { &["-R"] } else { &[] };
                Running::Bird(pair.bird(&conf, extra, &format!("bird{n}.log")))
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
                let toml = format!(
                    "[global.config]\n  as = {PEER_AS}\n  router-id = \"{PEER_ADDR}\"\n  port = 179\n\n\
                     [[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{OUR_ADDR}\"\n    peer-as = {OUR_AS}\n{down}{auth}\
                     \x20 [neighbors.timers.config]\n    hold-time = 9\n    connect-retry = 1\n{gr}"
                );
                let extra: &[&str] = if opts.restarted { &["-r"] } else { &[] };
                let gobgp = pair.gobgp(&toml, extra, &format!("gobgpd{n}.log"));
                for r in Self::routes(opts) {
                    let add = [
                        "global", "rib", "-a", "ipv4", "add", r, "nexthop", PEER_ADDR,
                    ];
                    assert!(eventually(Duration::from_secs(20), || {
                        gobgp.cli(&add);
                        gobgp.cli(&["global", "rib", "-a", "ipv4"]).contains(r)
                    }));
                }
                if opts.restarted {
                    gobgp.cli(&["neighbor", OUR_ADDR, "enable"]);
                }
                Running::Gobgp(gobgp)
            }
            Kind::Exabgp => {
                let received = d.join("received.json");
                let recorder = d.join("record.sh");
                if n == 0 {
                    testkit::daemons::exabgp_recorder(&recorder, &received);
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
                Running::Exabgp(pair.exabgp(&d.join("exabgp.conf"), &format!("exabgp{n}.log")))
            }
        };
        *self.running.lock().unwrap() = Some(running);
    }

    fn gobgp(&self, args: &[&str]) -> String {
        match &*self.running.lock().unwrap() {
            Some(Running::Gobgp(g)) => g.cli(args),
            _ => String::new(),
        }
    }

    fn birdc(&self, args: &[&str]) -> String {
        match &*self.running.lock().unwrap() {
            Some(Running::Bird(b)) => b.birdc(args),
            _ => String::new(),
        }
    }

    /// The peer's view of our route, as text (empty when it has none).
    pub fn our_route(&self) -> String {
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

    pub fn has_ours(&self) -> bool {
        self.our_route().contains(OURS)
    }

    /// Kill the daemon without a NOTIFICATION (every process of the peer namespace).
    pub fn kill(&self) {
        let running = self.running.lock().unwrap().take();
        testkit::netns::kill_all(&self.ns);
        drop(running);
        assert!(eventually(Duration::from_secs(10), || {
            testkit::netns::pids(&self.ns).is_empty()
        }));
    }

    /// Reset the session from the peer's side (it reconnects at once, as we do).
    pub fn reset_session(&self, pair: &Pair) {
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

pub async fn start_ours() -> (SpeakerHandle, bgp::driver::RouteChanges) {
    start_ours_signed(None).await
}

pub async fn start_ours_signed(
    password: Option<&str>,
) -> (SpeakerHandle, bgp::driver::RouteChanges) {
    start_ours_with(password, false).await
}

pub async fn start_ours_with(
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
pub async fn expect(
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
pub async fn state_is(handle: &SpeakerHandle, established: bool) -> bool {
    for _ in 0..900 {
        if (handle.status().await[0].state == PeerState::Established) == established {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}
