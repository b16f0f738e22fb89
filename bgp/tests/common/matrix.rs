//! The failure-scenario matrix's peers (BIRD 2, GoBGP, ExaBGP, OpenBGPD, and FRR for the
//! 4-octet-ASN scenario; configured per scenario and restartable) and our side of it; the
//! scenarios are in `interop_matrix_*.rs` and `interop_wide_asn.rs`.

use std::sync::Mutex;
use std::time::Duration;

use bgp::driver::{PeerConfig, PeerState, Speaker, SpeakerConfig, SpeakerHandle};
use bgp::rib::RouteChange;
use ipnet::IpNet;
use testkit::daemons::{
    Bird, Exabgp, Frr, Gobgp, Openbgpd, BIRD_BINARIES, EXABGP_BINARIES, FRR_BINARIES,
    GOBGP_BINARIES, OPENBGPD_BINARIES,
};
use testkit::eventually;

use super::{Pair, OUR_ADDR, PEER_ADDR};

pub const OUR_AS: u32 = 65101;
pub const PEER_AS: u32 = 65001;
pub const OURS: &str = "10.244.9.0/24";
pub const THEIRS: &str = "10.244.200.0/24";
pub const THEIRS_B: &str = "10.244.201.0/24";
/// 4-octet ASNs above 65535 (RFC 6793), for [`Opts::wide_asn`]: no 2-octet field holds them.
pub const WIDE_OUR_AS: u32 = 4_200_000_101;
pub const WIDE_PEER_AS: u32 = 4_200_000_001;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Bird,
    Gobgp,
    Exabgp,
    Openbgpd,
    Frr,
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
    /// Both sides in ASNs above 65535 ([`WIDE_PEER_AS`], [`WIDE_OUR_AS`]).
    pub wide_asn: bool,
}

impl Opts {
    /// (the peer's AS, ours).
    pub fn asns(&self) -> (u32, u32) {
        if self.wide_asn {
            (WIDE_PEER_AS, WIDE_OUR_AS)
        } else {
            (PEER_AS, OUR_AS)
        }
    }
}

/// The daemon of a [`Peer`] while it runs.
enum Running {
    Bird(Bird),
    Gobgp(Gobgp),
    Exabgp(Exabgp),
    Openbgpd(Openbgpd),
    Frr(Frr),
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
        Kind::Openbgpd => OPENBGPD_BINARIES,
        Kind::Frr => FRR_BINARIES,
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
        let (peer_as, our_as) = opts.asns();
        let running = match self.kind {
            Kind::Bird => {
                let statics: String = Self::routes(opts)
                    .iter()
                    .map(|r| format!(" route {r} unreachable;"))
                    .collect();
                let conf = format!(
                    "router id {PEER_ADDR};\nprotocol device {{ }}\n\
                     protocol static s4 {{ ipv4;{statics} }}\n\
                     protocol bgp lat {{\n local {PEER_ADDR} as {peer_as};\n neighbor {OUR_ADDR} as {our_as};\n \
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
                    "[global.config]\n  as = {peer_as}\n  router-id = \"{PEER_ADDR}\"\n  port = 179\n\n\
                     [[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{OUR_ADDR}\"\n    peer-as = {our_as}\n{down}{auth}\
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
                         local-as {peer_as};\n  peer-as {our_as};\n  hold-time 9;\n  {md5}\
                         capability {{ {caps}}}\n  \
                         api {{ processes [ record ]; receive {{ parsed; update; }} }}\n  \
                         static {{ {statics}}}\n}}\n",
                        recorder.display()
                    ),
                )
                .unwrap();
                Running::Exabgp(pair.exabgp(&d.join("exabgp.conf"), &format!("exabgp{n}.log")))
            }
            Kind::Openbgpd => {
                // No FIB on Linux: `network` prefixes are announced as configured. There is no
                // 2-octet mode for the session as a whole, but `announce as-4byte no` drops
                // the capability (RFC 6793 §4.2.2 AS_TRANS and AS4_PATH then).
                let networks: String = Self::routes(opts)
                    .iter()
                    .map(|r| format!("network {r}\n"))
                    .collect();
                let mut neighbor = String::new();
                if opts.two_octet {
                    neighbor.push_str("  announce as-4byte no\n");
                }
                if opts.graceful_restart {
                    neighbor.push_str("  announce restart yes\n");
                }
                if let Some(p) = opts.password {
                    neighbor.push_str(&format!("  tcp md5sig password {p}\n"));
                }
                let conf = format!(
                    "AS {peer_as}\nrouter-id {PEER_ADDR}\nlisten on {PEER_ADDR}\n{networks}\
                     neighbor {OUR_ADDR} {{\n  remote-as {our_as}\n  holdtime 9\n{neighbor}}}\n\
                     allow from any\nallow to any\n"
                );
                Running::Openbgpd(pair.openbgpd(&conf, &format!("bgpd{n}.log")))
            }
            Kind::Frr => {
                let networks: String = Self::routes(opts)
                    .iter()
                    .map(|r| format!("  network {r}\n"))
                    .collect();
                let mut neighbor = String::new();
                if let Some(p) = opts.password {
                    neighbor.push_str(&format!(" neighbor {OUR_ADDR} password {p}\n"));
                }
                if opts.two_octet {
                    neighbor.push_str(&format!(" neighbor {OUR_ADDR} dont-capability-negotiate\n"));
                }
                let conf = format!(
                    "router bgp {peer_as}\n bgp router-id {PEER_ADDR}\n no bgp ebgp-requires-policy\n \
                     no bgp network import-check\n no bgp default ipv4-unicast\n \
                     neighbor {OUR_ADDR} remote-as {our_as}\n neighbor {OUR_ADDR} timers 3 9\n \
                     neighbor {OUR_ADDR} timers connect 1\n{neighbor} address-family ipv4 unicast\n\
                     {networks}  neighbor {OUR_ADDR} activate\n exit-address-family\n"
                );
                Running::Frr(pair.frr(&conf))
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

    /// `bgpctl ARGS...` against a running OpenBGPD (empty otherwise).
    pub fn bgpctl(&self, args: &[&str]) -> String {
        match &*self.running.lock().unwrap() {
            Some(Running::Openbgpd(o)) => o.bgpctl(args),
            _ => String::new(),
        }
    }

    /// vtysh commands against a running FRR (empty otherwise).
    pub fn vtysh(&self, cmds: &[&str]) -> String {
        match &*self.running.lock().unwrap() {
            Some(Running::Frr(f)) => f.vtysh(cmds),
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
            Kind::Openbgpd => {
                let rib = self.bgpctl(&["show", "rib", OURS]);
                rib.lines()
                    .filter(|l| l.contains(OURS))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
            Kind::Frr => {
                let out = self.vtysh(&[&format!("show bgp ipv4 unicast {OURS} json")]);
                if out.contains("\"paths\"") {
                    out
                } else {
                    String::new()
                }
            }
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
            // Cease/4 (Administrative Reset), then it connects again at once.
            Kind::Openbgpd => {
                self.bgpctl(&["neighbor", OUR_ADDR, "clear"]);
            }
            Kind::Frr => {
                self.vtysh(&["clear bgp *"]);
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
    start_ours_as(password, passive, Opts::default()).await
}

/// Our speaker with the ASNs of `opts` ([`Opts::asns`]).
pub async fn start_ours_as(
    password: Option<&str>,
    passive: bool,
    opts: Opts,
) -> (SpeakerHandle, bgp::driver::RouteChanges) {
    let (peer_as, our_as) = opts.asns();
    let (handle, rx) = Speaker::start(SpeakerConfig {
        listen: Some(format!("{OUR_ADDR}:179").parse().unwrap()),
        peers: vec![PeerConfig {
            hold_time: 9,
            connect_retry: Duration::from_secs(1),
            password: password.map(bgp::driver::Password::from),
            passive,
            ..PeerConfig::new(PEER_ADDR.parse().unwrap(), peer_as)
        }],
        ..SpeakerConfig::new(our_as, OUR_ADDR.parse().unwrap())
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
