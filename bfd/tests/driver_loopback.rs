//! Two of our drivers on loopback, on moved ports so they can share a namespace (no root
//! needed): sessions come Up over IPv4 and IPv6, negotiate, run a Poll Sequence, detect a
//! silent peer, see an AdminDown; and a stranger's datagrams (wrong TTL, malformed, unknown
//! discriminator or source) are dropped, counted, and disturb nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

use bfd::driver::{Bfd, BfdError, BfdEvent, DriverConfig, DropReason, Hop, SessionSpec};
use bfd::packet::{encode, ControlPacket, Diag, State};
use bfd::session::Params;
use tokio::sync::mpsc::UnboundedReceiver;

type Events = UnboundedReceiver<BfdEvent<&'static str>>;

/// Ports for the pair `n` (tests run in parallel): A listens on one, B on the other.
fn ports(n: u16) -> (DriverConfig, DriverConfig) {
    let (a, b) = (31000 + 10 * n, 31005 + 10 * n);
    let config = |me: u16, peer: u16| DriverConfig {
        listen_single_hop: me,
        listen_multihop: me + 1,
        peer_single_hop: peer,
        peer_multihop: peer + 1,
        realtime_priority: None,
    };
    (config(a, b), config(b, a))
}

fn fast() -> Params {
    Params::from_millis(100, 100, 3).unwrap()
}

fn start(config: DriverConfig) -> (Bfd<&'static str>, Events) {
    Bfd::start(config).unwrap()
}

/// Waits for `key` to reach `to`; the change.
async fn reach(events: &mut Events, key: &str, to: State) -> bfd::session::StateChange {
    let wait = async {
        loop {
            let e = events.recv().await.expect("driver gone");
            if e.key == key && e.change.to == to {
                return e.change;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .unwrap_or_else(|_| panic!("{key} never reached {to}"))
}

/// A pair of drivers with one session each between `a` and `b`, both Up.
async fn pair(n: u16, a: IpAddr, b: IpAddr, hop: Hop) -> [(Bfd<&'static str>, Events); 2] {
    let (ca, cb) = ports(n);
    let (mut da, mut db) = (start(ca), start(cb));
    for ((bfd, _), (local, remote)) in [(&da, (a, b)), (&db, (b, a))] {
        let mut spec = SessionSpec::single_hop("peer", remote, fast());
        spec.local = Some(local);
        spec.hop = hop;
        bfd.add_session(spec).await.unwrap();
    }
    reach(&mut da.1, "peer", State::Up).await;
    reach(&mut db.1, "peer", State::Up).await;
    [da, db]
}

#[tokio::test]
async fn ipv4_up_negotiated_then_a_silent_peer_is_detected() {
    let [(a, mut ea), (b, _eb)] = pair(
        0,
        "127.0.0.1".parse().unwrap(),
        "127.0.0.1".parse().unwrap(),
        Hop::Single,
    )
    .await;
    // B wants to hear A no faster than every 250 ms: A's TX interval is B's RX.
    b.set_params("peer", Params::from_millis(100, 250, 4).unwrap())
        .await
        .unwrap();
    let settled = |s: &bfd::driver::SessionSnapshot<&str>| {
        s.status.tx_interval == Some(Duration::from_millis(250)) && !s.status.polling
    };
    let mut ok = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (sa, sb) = (
            a.session(&"peer").await.unwrap().unwrap(),
            b.session(&"peer").await.unwrap().unwrap(),
        );
        // A detects B with B's multiplier 4 x max(A's RX 100, B's TX 100).
        if settled(&sa)
            && sa.status.detection_time == Some(Duration::from_millis(400))
            && !sb.status.polling
        {
            ok = true;
            break;
        }
    }
    let sa = a.session(&"peer").await.unwrap().unwrap();
    assert!(ok, "A: {:?}", sa.status);
    assert_eq!(sa.status.remote_detect_mult, 4);
    assert!(sa.counters.tx > 0 && sa.counters.rx > 0 && sa.counters.tx_errors == 0);
    assert_eq!(
        sa.source_port >> 14,
        3,
        "source port {} not in 49152-65535",
        sa.source_port
    );
    // B goes silent without a word: A's detection time expires.
    b.shutdown().await;
    let c = reach(&mut ea, "peer", State::Down).await;
    assert_eq!(c.diag, Diag::ControlDetectionTimeExpired);
    assert!(c.is_path_failure());
    let sa = a.session(&"peer").await.unwrap().unwrap();
    assert_eq!(
        sa.last_down.unwrap().diag,
        Diag::ControlDetectionTimeExpired
    );
    assert_eq!(sa.counters.down_transitions, 1);
}

#[tokio::test]
async fn ipv6_up_then_admin_down_is_not_a_failure() {
    let [(a, _ea), (_b, mut eb)] = pair(
        1,
        "::1".parse().unwrap(),
        "::1".parse().unwrap(),
        Hop::Single,
    )
    .await;
    assert_eq!(a.admin_down_all().await.unwrap(), 1);
    let c = reach(&mut eb, "peer", State::Down).await;
    assert_eq!(
        (c.diag, c.remote_diag),
        (
            Diag::NeighborSignaledSessionDown,
            Diag::AdministrativelyDown
        )
    );
    assert!(c.remote_admin_down && !c.is_path_failure());
}

#[tokio::test]
async fn multihop_up_and_removing_a_session_tells_the_peer() {
    let [(a, _ea), (b, mut eb)] = pair(
        2,
        "127.0.0.1".parse().unwrap(),
        "127.0.0.1".parse().unwrap(),
        Hop::Multi { min_ttl: 255 },
    )
    .await;
    assert!(matches!(
        a.session(&"peer").await.unwrap().unwrap().hop,
        Hop::Multi { .. }
    ));
    a.remove_session("peer").await.unwrap();
    assert!(a.sessions().await.unwrap().is_empty());
    let c = reach(&mut eb, "peer", State::Down).await;
    assert!(c.remote_admin_down);
    assert!(matches!(
        a.remove_session("peer").await,
        Err(BfdError::NoSuchSession)
    ));
    drop(b);
}

/// A stranger on loopback: sends `bytes` to `to` with `ttl`, from 127.0.0.2.
fn stranger(to: u16, ttl: u32, bytes: &[u8]) {
    let s = UdpSocket::bind("127.0.0.2:0").unwrap();
    s.set_ttl(ttl).unwrap();
    s.send_to(bytes, SocketAddr::from(([127, 0, 0, 1], to)))
        .unwrap();
}

#[tokio::test]
async fn strangers_are_dropped_counted_and_change_nothing() {
    let (ca, _) = ports(3);
    let [(a, mut ea), (_b, _eb)] = pair(
        3,
        "127.0.0.1".parse().unwrap(),
        "127.0.0.1".parse().unwrap(),
        Hop::Single,
    )
    .await;
    let sa = a.session(&"peer").await.unwrap().unwrap();
    let ours = sa.status.local_discriminator;
    let valid = |your: u32, state: State| {
        encode(&ControlPacket {
            diag: Diag::None,
            state,
            poll: true,
            final_: false,
            control_plane_independent: false,
            demand: false,
            detect_mult: 3,
            my_discriminator: 7,
            your_discriminator: your,
            desired_min_tx_us: 100_000,
            required_min_rx_us: 100_000,
            required_min_echo_rx_us: 0,
        })
    };
    let port = ca.listen_single_hop;
    // A Down packet to our discriminator would take the session down; with TTL 64 it must not.
    stranger(port, 64, &valid(ours, State::Down));
    stranger(port, 255, &valid(ours, State::Down)); // right TTL, wrong source address
    stranger(port, 255, &valid(ours ^ 1, State::Down));
    stranger(port, 255, &valid(0, State::Down)); // no session for 127.0.0.2
    stranger(port, 255, &[0x20, 0xc0]);
    stranger(port, 255, &[0xff; 24]);
    stranger(port, 255, &[0u8; 300]);
    let want = [
        (DropReason::BadTtl, 1),
        (DropReason::WrongSource, 1),
        (DropReason::UnknownDiscriminator, 1),
        (DropReason::UnknownPeer, 1),
        (DropReason::Truncated, 1),
        (DropReason::BadVersion, 1),
        (DropReason::Oversized, 1),
    ];
    let mut drops = a.drops();
    for _ in 0..50 {
        if want.iter().all(|(r, n)| drops.get(*r) == *n) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        drops = a.drops();
    }
    for (reason, n) in want {
        assert_eq!(drops.get(reason), n, "{} in {drops:?}", reason.as_str());
    }
    assert_eq!(drops.total(), 7);
    assert!(drops.accepted > 0);
    // Still Up, no change was reported.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        a.session(&"peer").await.unwrap().unwrap().status.state,
        State::Up
    );
    assert!(ea.try_recv().is_err());
}

#[tokio::test]
async fn specs_that_cannot_work_are_refused_with_a_reason() {
    let (ca, _) = ports(4);
    let (a, _ea) = start(ca);
    let ll: IpAddr = "fe80::1".parse().unwrap();
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    let err = a
        .add_session(SessionSpec::single_hop("ll", ll, fast()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("link-local"), "{err}");
    let mut mh = SessionSpec::multihop("mh", lo, lo, fast());
    mh.local = None;
    assert!(matches!(a.add_session(mh).await, Err(BfdError::Invalid(_))));
    let mut nic = SessionSpec::single_hop("nic", lo, fast());
    nic.interface = Some("lattice-none0".into());
    assert!(matches!(
        a.add_session(nic).await,
        Err(BfdError::Interface(..))
    ));
    let mut mixed = SessionSpec::single_hop("mixed", lo, fast());
    mixed.local = Some("::1".parse().unwrap());
    assert!(matches!(
        a.add_session(mixed).await,
        Err(BfdError::Invalid(_))
    ));
    a.add_session(SessionSpec::single_hop("one", lo, fast()))
        .await
        .unwrap();
    // The same peer under another key, or the same key again.
    let again = a
        .add_session(SessionSpec::single_hop("two", lo, fast()))
        .await;
    assert!(matches!(again, Err(BfdError::Duplicate)));
    let again = a
        .add_session(SessionSpec::single_hop(
            "one",
            "127.0.0.3".parse().unwrap(),
            fast(),
        ))
        .await;
    assert!(matches!(again, Err(BfdError::Duplicate)));
    assert!(matches!(
        a.set_params("nope", fast()).await,
        Err(BfdError::NoSuchSession)
    ));
    // A local address this host does not have.
    let mut foreign = SessionSpec::single_hop("foreign", "127.0.0.4".parse().unwrap(), fast());
    foreign.local = Some("192.0.2.1".parse().unwrap());
    let err = a.add_session(foreign).await.unwrap_err();
    assert!(err.to_string().contains("source socket"), "{err}");
    // Another driver (another BFD daemon) holding the port.
    let (other, _eo) = start(ca);
    let held = other
        .add_session(SessionSpec::single_hop("x", lo, fast()))
        .await;
    assert!(matches!(held, Err(BfdError::Socket(..))), "{held:?}");
    a.shutdown().await;
}

#[tokio::test]
async fn a_blocked_caller_runtime_does_not_delay_bfd() {
    let [(a, mut ea), (b, mut eb)] = pair(
        5,
        "127.0.0.1".parse().unwrap(),
        "127.0.0.1".parse().unwrap(),
        Hop::Single,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = a.session(&"peer").await.unwrap().unwrap().counters;
    // The agent's runtime (this test's, current-thread) is stuck for 2 s, e.g. in a RIB walk:
    // both drivers keep sending on their own threads and nobody's 300 ms detection expires.
    std::thread::sleep(Duration::from_secs(2));
    let after = a.session(&"peer").await.unwrap().unwrap();
    assert_eq!(after.status.state, State::Up);
    assert!(
        after.counters.tx - before.tx >= 10,
        "{before:?} -> {:?}",
        after.counters
    );
    assert!(
        ea.try_recv().is_err() && eb.try_recv().is_err(),
        "a state change happened"
    );
    drop(b);
}
