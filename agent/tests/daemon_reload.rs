#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! The whole daemon, no root: `daemon::run_reloadable` on a `FakeKernel`, its BGP speaker on
//! loopback (127.0.0.70) peering with in-process speakers (127.0.0.71-74), driven through the
//! API socket. Reloads add, change and remove peers touching only those (a removed peer is told
//! Cease/3; one whose address changed in place is reset alone, Cease/6); an invalid file or a
//! key that needs a restart changes nothing; a storm of SIGHUPs ends on the last file; prefixes
//! announced through the API go where the export policy lets them and come back after a
//! restart.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use agent::config::Config;
use agent::daemon::{self, Listeners, ManualClock, Reloads};
use agent::kernel::FakeKernel;
use api::client::call;
use api::proto::{PeerState, PeerStatus, Reply, Request};
use bgp::driver::{PeerConfig, PeerKey, Speaker, SpeakerConfig, SpeakerHandle};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

const ME: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 70);

fn port(offset: u16) -> u16 {
    42000 + (std::process::id() % 8000) as u16 + offset
}

fn peer_ip(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, 70 + n)
}

/// A remote speaker `n` (AS 65000 + n) peering with latticed.
async fn remote(n: u8) -> SpeakerHandle {
    remote_as(n, 65000 + u32::from(n)).await
}

/// A remote speaker `n` of AS `asn` peering with latticed.
async fn remote_as(n: u8, asn: u32) -> SpeakerHandle {
    let me = peer_ip(n);
    let (handle, mut changes) = Speaker::start(SpeakerConfig {
        graceful_restart: None,
        listen: Some(SocketAddr::new(me.into(), port(n.into()))),
        peers: vec![PeerConfig {
            port: port(0),
            hold_time: 9,
            connect_retry: Duration::from_millis(300),
            local_address: Some(me.into()),
            passive: true,
            ..PeerConfig::new(ME.into(), 65100)
        }],
        ..SpeakerConfig::new(asn, me)
    })
    .await
    .unwrap();
    tokio::spawn(async move { while changes.recv().await.is_some() {} });
    handle.set_local_prefixes(vec![format!("10.244.{}.0/24", 70 + n).parse().unwrap()]);
    handle
}

/// The configuration with `peers` (`bgp.peers` entries, as flow maps without the braces) and
/// `policies` (the `bgp.policies` block, already indented).
fn text(dir: &Path, peers: &[String], policies: &str) -> String {
    let mut t = format!(
        "node: {{ name: fake1, asn: 65100, router_id: {ME} }}\n\
         cluster: {{ cidr: 10.244.0.0/16 }}\n\
         ipam: {{ state_dir: {}, block: 10.244.1.0/24 }}\n\
         api: {{ socket: {} }}\n\
         metrics: {{ enabled: false }}\n\
         docker: {{ enabled: false }}\n\
         bgp:\n  peers:\n",
        dir.join("state").display(),
        dir.join("api.sock").display(),
    );
    for p in peers {
        t += &format!("    - {{ {p} }}\n");
    }
    if !policies.is_empty() {
        t += "  policies:\n";
        t += policies;
    }
    t
}

/// `bgp.peers` entry for remote `n`, with `extra` keys.
fn peer(n: u8, extra: &str) -> String {
    let sep = if extra.is_empty() { "" } else { ", " };
    format!(
        "address: {}, asn: {}, port: {}, local_address: {ME}, hold_time: 9, connect_retry: 1{sep}{extra}",
        peer_ip(n),
        65000 + u32::from(n),
        port(n.into())
    )
}

const POLICIES: &str = "    lb-out:
      default: accept
      rules:
        - match: { source: [announced], prefix: [{prefix: 192.0.2.0/24, le: 32}] }
          set: { add_communities: ['65100:80'] }
          action: accept
        - match: { source: [announced] }
          action: reject
    only-70s:
      rules:
        - match: { prefix: [{prefix: 10.244.64.0/18, le: 24}] }
          action: accept
";

struct Daemon {
    dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), daemon::DaemonError>>>,
    hangups: mpsc::Sender<()>,
    /// Where /metrics is served (a free port: a fixed one may be an outgoing session's).
    metrics: SocketAddr,
}

impl Daemon {
    fn socket(&self) -> PathBuf {
        self.dir.path().join("api.sock")
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("latticed.yaml")
    }

    fn write(&self, text: &str) {
        std::fs::write(self.path(), text).unwrap();
    }

    /// Start on the file as it is. Right after a stop, the previous run's aborted tasks may
    /// not have let go of the IPAM state's lock yet (a process's exit would): try again then.
    async fn start(mut dir: tempfile::TempDir) -> Daemon {
        for _ in 0..50 {
            match Daemon::try_start(dir).await {
                Ok(d) => return d,
                Err(back) => dir = back,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the IPAM state stayed locked");
    }

    /// One start: the directory back if the state was still locked.
    async fn try_start(dir: tempfile::TempDir) -> Result<Daemon, tempfile::TempDir> {
        let path = dir.path().join("latticed.yaml");
        let config = Config::load(&path).unwrap();
        let socket = dir.path().join("api.sock");
        let metrics = tokio::net::TcpListener::bind(SocketAddr::new(ME.into(), 0))
            .await
            .unwrap();
        let metrics_addr = metrics.local_addr().unwrap();
        let listeners = Listeners {
            api: agent::api::server::bind(&socket).unwrap(),
            metrics: Some(metrics),
            docker: None,
            bgp: Some(SocketAddr::new(ME.into(), port(0))),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let (hangups, rx) = mpsc::channel(1);
        let task = tokio::spawn(daemon::run_reloadable(
            config,
            Some(Reloads {
                path,
                hangups: Some(rx),
            }),
            Arc::new(FakeKernel::new()),
            listeners,
            Arc::new(ManualClock::new(1_000_000)),
            async {
                let _ = stopped.await;
            },
        ));
        let d = Daemon {
            dir,
            stop: Some(stop),
            task: Some(task),
            hangups,
            metrics: metrics_addr,
        };
        // Generous: other work may keep this machine's cores busy.
        let mut last = None;
        for _ in 0..400 {
            match call(&d.socket(), &Request::Status).await {
                Ok(Reply::Status(_)) => return Ok(d),
                other => last = Some(format!("{other:?}")),
            }
            if d.task.as_ref().is_some_and(|t| t.is_finished()) {
                let mut d = d;
                let ended = d.task.take().unwrap().await;
                if let Ok(Err(daemon::DaemonError::Ipam(ipam::IpamError::Locked(_)))) = ended {
                    let Daemon { dir, .. } = d;
                    return Err(dir);
                }
                panic!("latticed ended at start: {ended:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("latticed did not answer: {last:?}");
    }

    /// Stop and give back the directory.
    async fn stop(mut self) -> tempfile::TempDir {
        let _ = self.stop.take().unwrap().send(());
        let task = self.task.take().unwrap();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("run returns")
            .unwrap()
            .unwrap();
        let Daemon { dir, .. } = self;
        dir
    }

    /// The value of `series` on latticed's /metrics (0 if absent).
    async fn metric(&self, series: &str) -> f64 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(self.metrics).await.unwrap();
        s.write_all(b"GET /metrics HTTP/1.0\r\nHost: t\r\n\r\n")
            .await
            .unwrap();
        let mut body = String::new();
        s.read_to_string(&mut body).await.unwrap();
        body.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    }

    async fn ask(&self, req: Request) -> Reply {
        call(&self.socket(), &req).await.unwrap()
    }

    async fn peers(&self) -> Vec<PeerStatus> {
        match self.ask(Request::Peers { peer: None }).await {
            Reply::Peers { peers } => peers,
            other => panic!("{other:?}"),
        }
    }

    async fn until(&self, what: &str, check: impl Fn(&[PeerStatus]) -> bool) {
        for _ in 0..300 {
            if check(&self.peers().await) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("never {what}: {:?}", self.peers().await);
    }
}

fn up(peers: &[PeerStatus], n: &[u8]) -> bool {
    n.iter().all(|n| {
        peers
            .iter()
            .any(|p| p.address == IpAddr::V4(peer_ip(*n)) && p.state == PeerState::Established)
    }) && peers.len() == n.len()
}

fn of(peers: &[PeerStatus], n: u8) -> PeerStatus {
    peers
        .iter()
        .find(|p| p.address == IpAddr::V4(peer_ip(n)))
        .unwrap()
        .clone()
}

/// Communities remote `r` holds on `prefix` from latticed, if it holds it.
fn seen_at(r: &SpeakerHandle, prefix: &str) -> Option<Vec<String>> {
    let prefix: ipnet::IpNet = prefix.parse().unwrap();
    r.routes()
        .into_iter()
        .find(|x| x.prefix == prefix)
        .map(|x| x.paths[0].communities.clone())
}

async fn until_remote(r: &SpeakerHandle, what: &str, check: impl Fn(&SpeakerHandle) -> bool) {
    for _ in 0..200 {
        if check(r) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("remote: never {what}: {:?}", r.routes());
}

/// NOTIFICATIONs `code/subcode` remote `r` received from latticed, waiting for the first.
async fn notifications(r: &SpeakerHandle, code: &str) -> u64 {
    let count = |r: &[bgp::driver::PeerStatus]| {
        r.iter()
            .filter_map(|p| p.notifications_received.get(code))
            .sum::<u64>()
    };
    for _ in 0..100 {
        let n = count(&r.status().await);
        if n > 0 {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    0
}

fn error_of(reply: Reply) -> (String, String) {
    match reply {
        Reply::Error(e) => (e.kind, e.message),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_touch_only_what_changed_and_announcements_survive_a_restart() {
    let (r1, r2, r3) = (remote(1).await, remote(2).await, remote(3).await);
    let dir = tempfile::tempdir().unwrap();
    let first = text(dir.path(), &[peer(1, ""), peer(2, "")], POLICIES);
    std::fs::write(dir.path().join("latticed.yaml"), &first).unwrap();
    let d = Daemon::start(dir).await;
    d.until("peers 1 and 2 up", |p| up(p, &[1, 2])).await;
    until_remote(&r1, "our block", |r| seen_at(r, "10.244.1.0/24").is_some()).await;

    // Without an export policy no peer takes an announcement: refused, with the reason.
    let announce = Request::Announce {
        prefixes: vec!["192.0.2.10/32".parse().unwrap()],
        communities: vec!["65000:7".into()],
    };
    let (kind, why) = error_of(d.ask(announce.clone()).await);
    assert_eq!(kind, "not_exported");
    assert!(why.contains("192.0.2.10/32 would reach no peer"), "{why}");
    assert!(why.contains("has no export policy"), "{why}");

    // Reload: peer 1 gets an export policy, peer 2 an import policy, peer 3 arrives.
    let before = d.peers().await;
    d.write(&text(
        d.dir.path(),
        &[
            peer(1, "export: lb-out, communities: ['65100:1']"),
            peer(2, "import: only-70s"),
            peer(3, ""),
        ],
        POLICIES,
    ));
    let changes = match d.ask(Request::Reload).await {
        Reply::Reloaded { changes } => changes,
        other => panic!("{other:?}"),
    };
    assert_eq!(changes.len(), 3, "{changes:?}");
    assert!(
        changes[0].starts_with(
            "peer 127.0.0.71: export, communities applied live (export by 1 UPDATE(s))"
        ),
        "{changes:?}"
    );
    assert_eq!(
        changes[1],
        "peer 127.0.0.72: import applied live (import by ROUTE-REFRESH)"
    );
    assert_eq!(changes[2], "peer 127.0.0.73: added");
    d.until("peer 3 up", |p| up(p, &[1, 2, 3])).await;
    until_remote(&r1, "the new community", |r| {
        seen_at(r, "10.244.1.0/24") == Some(vec!["65100:1".into()])
    })
    .await;
    let after = d.peers().await;
    for n in [1, 2] {
        assert_eq!(
            of(&after, n).established_transitions,
            of(&before, n).established_transitions,
            "peer {n} kept its session"
        );
    }
    assert_eq!(of(&after, 1).sent.route_refresh, 0);
    assert_eq!(of(&after, 2).sent.route_refresh, 1);
    assert_eq!(
        of(&after, 2).sent.update,
        of(&before, 2).sent.update,
        "no UPDATE to 2"
    );

    // Announced: peer 1's policy takes it (with its community), the others have none.
    match d.ask(announce.clone()).await {
        Reply::Announced { announcements } => {
            assert_eq!(announcements[0].peers, vec![peer_ip(1).to_string()]);
            assert_eq!(announcements[0].not_exported.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    until_remote(&r1, "the announcement", |r| {
        seen_at(r, "192.0.2.10/32")
            == Some(vec!["65100:1".into(), "65000:7".into(), "65100:80".into()])
    })
    .await;
    assert!(seen_at(&r3, "192.0.2.10/32").is_none());
    // Outside what the policy accepts: refused, naming the rule.
    let (kind, why) = error_of(
        d.ask(Request::Announce {
            prefixes: vec!["198.51.100.0/24".parse().unwrap()],
            communities: vec![],
        })
        .await,
    );
    assert_eq!(kind, "not_exported");
    assert!(
        why.contains("rule 1 of policy \"lb-out\" rejects it"),
        "{why}"
    );

    // An invalid file and a key that needs a restart: refused whole, nothing changes.
    let settled = d.peers().await;
    d.write(&text(d.dir.path(), &[peer(1, "allow_as_in: 11")], POLICIES));
    let (kind, why) = error_of(d.ask(Request::Reload).await);
    assert_eq!(kind, "bad_config");
    assert!(
        why.contains("latticed.yaml:9: bgp.peers[0].allow_as_in: must be between 0 and 10"),
        "{why}"
    );
    d.write(&first.replace("  peers:\n", "  peers: [\n"));
    let (kind, why) = error_of(d.ask(Request::Reload).await);
    assert_eq!(kind, "bad_config");
    assert!(why.contains("latticed.yaml:9:"), "{why}");
    d.write(&text(d.dir.path(), &[peer(1, "export: nope")], POLICIES));
    let (_, why) = error_of(d.ask(Request::Reload).await);
    assert!(
        why.contains(":9: bgp.peers[0].export: no policy named \"nope\""),
        "{why}"
    );
    d.write(&first.replace("asn: 65100", "asn: 65101"));
    let (kind, why) = error_of(d.ask(Request::Reload).await);
    assert_eq!(kind, "restart_required");
    assert!(why.starts_with("node.asn: restart required"), "{why}");
    // Counted: the one accepted announcement, two reloads applied, four refused.
    assert_eq!(d.metric("lattice_bgp_announced_prefixes").await, 1.0);
    assert_eq!(
        d.metric("lattice_config_reloads_total{result=\"applied\"}")
            .await,
        1.0
    );
    assert_eq!(
        d.metric("lattice_config_reloads_total{result=\"refused\"}")
            .await,
        4.0
    );
    let now = d.peers().await;
    assert_eq!(now.len(), 3);
    for n in [1, 2, 3] {
        assert_eq!(of(&now, n).sent.update, of(&settled, n).sent.update);
        assert_eq!(
            of(&now, n).established_transitions,
            of(&settled, n).established_transitions
        );
    }

    // Peer 2 removed: Cease/3 (Peer De-configured) to it, the others untouched.
    d.write(&text(
        d.dir.path(),
        &[
            peer(1, "export: lb-out, communities: ['65100:1']"),
            peer(3, ""),
        ],
        POLICIES,
    ));
    match d.ask(Request::Reload).await {
        Reply::Reloaded { changes } => {
            assert_eq!(changes, vec!["peer 127.0.0.72: removed (Cease/3)"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(notifications(&r2, "6/3").await, 1);
    // Peer 3's neighbour moves to another address (the same AS, the entry edited in place):
    // that peer alone is reset, Cease/6 to the old address, a session with the new one.
    let r4 = remote_as(4, 65003).await;
    let moved = peer(4, "").replace("asn: 65004", "asn: 65003");
    d.write(&text(
        d.dir.path(),
        &[peer(1, "export: lb-out, communities: ['65100:1']"), moved],
        POLICIES,
    ));
    match d.ask(Request::Reload).await {
        Reply::Reloaded { changes } => assert_eq!(
            changes,
            vec!["peer 127.0.0.73: reset (Cease/6) for address, port, now peer 127.0.0.74"]
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(notifications(&r3, "6/6").await, 1);
    d.until("peers 1 and 4 up", |p| up(p, &[1, 4])).await;
    until_remote(&r4, "our block", |r| seen_at(r, "10.244.1.0/24").is_some()).await;
    let now = d.peers().await;
    assert_eq!(
        of(&now, 1).established_transitions,
        of(&settled, 1).established_transitions,
        "peer 1 kept its session"
    );
    assert_eq!(of(&now, 1).sent.update, of(&settled, 1).sent.update);

    // A storm of SIGHUPs while the file flips between two versions: the last one wins.
    let with_3 = text(
        d.dir.path(),
        &[peer(1, "export: lb-out"), peer(3, "")],
        POLICIES,
    );
    let without_3 = text(
        d.dir.path(),
        &[peer(1, "export: lb-out"), peer(2, "")],
        POLICIES,
    );
    for i in 0..100 {
        d.write(if i % 2 == 0 { &with_3 } else { &without_3 });
        let _ = d.hangups.try_send(());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    d.write(&with_3);
    d.hangups.send(()).await.unwrap();
    d.until("peers 1 and 3 only", |p| up(p, &[1, 3])).await;
    // Settled: one more reload finds nothing to do.
    tokio::time::sleep(Duration::from_millis(300)).await;
    match d.ask(Request::Reload).await {
        Reply::Reloaded { changes } => assert!(changes.is_empty(), "{changes:?}"),
        other => panic!("{other:?}"),
    }

    // A restart: the announcement comes back from the state directory.
    let dir = d.stop().await;
    let kept = std::fs::read_to_string(dir.path().join("state/announcements.json")).unwrap();
    assert!(kept.contains("192.0.2.10/32"), "{kept}");
    let d = Daemon::start(dir).await;
    match d.ask(Request::Routes).await {
        Reply::Routes { announced, .. } => {
            assert_eq!(announced.len(), 1);
            assert_eq!(announced[0].prefix, "192.0.2.10/32".parse().unwrap());
            assert_eq!(announced[0].communities, vec!["65000:7".to_string()]);
        }
        other => panic!("{other:?}"),
    }
    d.until("peers 1 and 3 up", |p| up(p, &[1, 3])).await;
    until_remote(&r1, "the announcement again", |r| {
        seen_at(r, "192.0.2.10/32").is_some()
    })
    .await;
    // Withdrawn: gone from the peer and from the file.
    match d
        .ask(Request::Withdraw {
            prefixes: vec!["192.0.2.10/32".parse().unwrap()],
        })
        .await
    {
        Reply::Withdrawn { prefixes } => assert_eq!(prefixes.len(), 1),
        other => panic!("{other:?}"),
    }
    until_remote(&r1, "the withdrawal", |r| {
        seen_at(r, "192.0.2.10/32").is_none()
    })
    .await;
    let (kind, _) = error_of(
        d.ask(Request::Withdraw {
            prefixes: vec!["192.0.2.10/32".parse().unwrap()],
        })
        .await,
    );
    assert_eq!(kind, "not_found");
    let dir = d.stop().await;
    let kept = std::fs::read_to_string(dir.path().join("state/announcements.json")).unwrap();
    assert!(!kept.contains("192.0.2.10/32"), "{kept}");
    let _ = (r2, PeerKey::from(ME));
}
