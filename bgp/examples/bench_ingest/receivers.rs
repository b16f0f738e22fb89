//! The receivers of the ingest bench, each started in the receiver namespace with the sender
//! sessions as passive neighbours, and each asked the same question the same way: over its own
//! control channel, from this process, how many prefixes it holds from each sender.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{ChildStdin, ChildStdout, Stdio};

use testkit::daemons::{Bird, BirdControl, Frr, FrrVty, Gobgp};
use testkit::netns::Netns;
use testkit::process::Daemon;

use crate::{sender, RECEIVER, RECEIVER_AS, SENDER_AS};

/// GoBGP's API port on the receiver namespace's loopback.
const GOBGP_API: u16 = 50052;

/// Every receiver, in table order.
pub const ALL: [&str; 4] = ["lattice", "bird", "frr", "gobgp"];

/// A running receiver and its control channel.
pub enum Receiver {
    /// Lattice's speaker (this program's `sink` mode): a status request on its stdin is
    /// answered with the counts on one line of its stdout.
    Lattice {
        daemon: Daemon,
        ask: ChildStdin,
        answers: BufReader<ChildStdout>,
    },
    /// BIRD 2: `show protocols all` on its control socket.
    Bird {
        bird: Bird,
        control: Option<BirdControl>,
    },
    /// FRR bgpd (`-Z`): `show bgp ipv4 unicast summary json` on its vty socket.
    Frr { frr: Frr, vty: Option<FrrVty> },
    /// GoBGP: `gobgp neighbor` (its API is gRPC; the CLI is its client).
    Gobgp { gobgp: Gobgp },
}

/// Numbers in a line of text.
fn numbers(line: &str) -> Vec<usize> {
    line.split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect()
}

impl Receiver {
    /// Starts receiver `name` in namespace `rx` with `peers` passive neighbours, its files in
    /// `dir`.
    pub fn start(name: &str, rx: &Netns, dir: &Path, peers: usize) -> Receiver {
        match name {
            "lattice" => {
                let mut c = rx.command(std::env::current_exe().unwrap());
                c.args(["sink", &peers.to_string()])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped());
                let mut daemon = Daemon::spawn_piped("lattice sink", c);
                let ask = daemon.take_stdin().unwrap();
                let answers = BufReader::new(daemon.take_stdout().unwrap());
                Receiver::Lattice {
                    daemon,
                    ask,
                    answers,
                }
            }
            "bird" => {
                let mut conf = format!("router id {RECEIVER};\nprotocol device {{ }}\n");
                for i in 0..peers {
                    let s = sender(i);
                    conf += &format!(
                        "protocol bgp feed{i} {{\n local {RECEIVER} as {RECEIVER_AS};\n neighbor {s} as {SENDER_AS};\n \
                         passive;\n hold time 240;\n ipv4 {{ import all; export none; }};\n}}\n"
                    );
                }
                let bird = Bird::start(rx, dir, &conf, &[], "bird.log");
                Receiver::Bird {
                    bird,
                    control: None,
                }
            }
            "frr" => {
                let mut conf = format!(
                    "router bgp {RECEIVER_AS}\n bgp router-id {RECEIVER}\n no bgp ebgp-requires-policy\n no bgp default ipv4-unicast\n"
                );
                for i in 0..peers {
                    let s = sender(i);
                    conf += &format!(
                        " neighbor {s} remote-as {SENDER_AS}\n neighbor {s} passive\n neighbor {s} timers 80 240\n"
                    );
                }
                conf += " address-family ipv4 unicast\n";
                for i in 0..peers {
                    // Like the others, FRR does not pass what it learns on to the other senders.
                    let s = sender(i);
                    conf += &format!(
                        "  neighbor {s} activate\n  neighbor {s} route-map lbench-none out\n"
                    );
                }
                conf += " exit-address-family\n!\nroute-map lbench-none deny 10\n";
                let frr = Frr::start_bgpd_only(rx, dir, &conf);
                Receiver::Frr { frr, vty: None }
            }
            "gobgp" => {
                // Like the others, GoBGP does not pass what it learns on to the other senders.
                let mut conf = format!(
                    "[global.config]\n  as = {RECEIVER_AS}\n  router-id = \"{RECEIVER}\"\n  port = 179\n\
                     [global.apply-policy.config]\n  default-export-policy = \"reject-route\"\n"
                );
                for i in 0..peers {
                    conf += &format!(
                        "\n[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{}\"\n    peer-as = {SENDER_AS}\n  \
                         [neighbors.transport.config]\n    passive-mode = true\n",
                        sender(i)
                    );
                }
                let gobgp = Gobgp::start(rx, dir, &conf, GOBGP_API, &["-l", "error"], "gobgpd.log");
                Receiver::Gobgp { gobgp }
            }
            other => panic!("unknown receiver {other}"),
        }
    }

    /// The pid whose memory counts (`ip netns exec` execs the daemon, so it is the child's;
    /// FRR's bgpd forks, so its pid file's).
    pub fn pid(&mut self) -> Option<u32> {
        match self {
            Receiver::Lattice { daemon, .. } => daemon.pid(),
            Receiver::Bird { bird, .. } => bird.daemon().pid(),
            Receiver::Frr { frr, .. } => {
                let text = std::fs::read_to_string(frr.dir().join("run/bgpd.pid")).ok()?;
                text.trim().parse().ok()
            }
            Receiver::Gobgp { gobgp } => gobgp.daemon().pid(),
        }
    }

    /// Prefixes in the receiver's RIB from each sender session, as far as it can tell now
    /// (`None` while its control channel is not up yet). Called from a thread in the receiver
    /// namespace (GoBGP's CLI reaches the API on that namespace's loopback).
    pub fn counts(&mut self) -> Option<Vec<usize>> {
        match self {
            Receiver::Lattice { ask, answers, .. } => {
                ask.write_all(b"?\n").ok()?;
                ask.flush().ok()?;
                let mut line = String::new();
                if answers.read_line(&mut line).ok()? == 0 {
                    return None;
                }
                Some(numbers(&line))
            }
            Receiver::Bird { bird, control } => {
                if control.is_none() {
                    *control = BirdControl::connect(bird.control_socket()).ok();
                }
                let text = control.as_mut()?.query("show protocols all").ok()?;
                // Per protocol (one per sender): "Routes: N imported, ..." in its ipv4 channel.
                Some(
                    text.lines()
                        .filter_map(|l| l.trim().strip_prefix("Routes:"))
                        .filter_map(|l| numbers(l).first().copied())
                        .collect(),
                )
            }
            Receiver::Frr { frr, vty } => {
                if vty.is_none() {
                    *vty = FrrVty::connect(&frr.vty_socket("bgpd")).ok();
                }
                let out = vty
                    .as_mut()?
                    .query("show bgp ipv4 unicast summary json")
                    .ok()?;
                // Per neighbour: peers.<address>.pfxRcd (absent before the session is up).
                let json: serde_json::Value = serde_json::from_str(&out).ok()?;
                let peers = json
                    .get("peers")
                    .or_else(|| json.get("ipv4Unicast")?.get("peers"))?
                    .as_object()?;
                Some(
                    peers
                        .values()
                        .map(|p| p.get("pfxRcd").and_then(|v| v.as_u64()).unwrap_or(0) as usize)
                        .collect(),
                )
            }
            Receiver::Gobgp { .. } => {
                // Per neighbour, the last column of `gobgp neighbor`: prefixes accepted into
                // the RIB ("Peer AS Up/Down State |#Received Accepted").
                let port = GOBGP_API.to_string();
                let out = std::process::Command::new("gobgp")
                    .args(["-u", "127.0.0.1", "-p", &port, "neighbor"])
                    .output()
                    .ok()?;
                let text = String::from_utf8_lossy(&out.stdout);
                Some(
                    text.lines()
                        .filter(|l| {
                            l.split_whitespace()
                                .next()
                                .is_some_and(|a| a.parse::<std::net::IpAddr>().is_ok())
                        })
                        .filter_map(|l| l.split_whitespace().last()?.parse().ok())
                        .collect(),
                )
            }
        }
    }
}
