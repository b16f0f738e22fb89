//! RFC 4271 §6.8 against a scripted peer over loopback: both sides connect at once, and our
//! speaker (the higher BGP identifier) keeps its own connection. The losing one is left for the
//! peer to close, and our KEEPALIVE on the winner waits until it is gone (FRR 8.4 drops the
//! session it has just established when its losing connection goes away after that); if the
//! peer never closes it, we do, with Cease/7, and the winner goes on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use bgp::driver::{PeerConfig, PeerState, Speaker, SpeakerConfig, SpeakerHandle};
use bgp::fsm::build_open;
use bgp::wire::{check_frame, decode, encode, CodecContext, Message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

const OUR_AS: u32 = 65010;
const THEIR_AS: u32 = 65020;

/// Ports unique to this process so parallel test runs do not collide.
fn port(offset: u16) -> u16 {
    40000 + (std::process::id() % 10000) as u16 + offset
}

/// A scripted peer's end of one connection, framing what our speaker sends.
struct Wire {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Wire {
    /// The next message, `None` on EOF, `Err` if nothing came within `wait`.
    async fn next(&mut self, wait: Duration) -> Result<Option<Message>, ()> {
        tokio::time::timeout(wait, async {
            loop {
                if let Ok(Some(len)) = check_frame(&self.buf, 4096) {
                    let frame: Vec<u8> = self.buf.drain(..len).collect();
                    return Some(decode(&frame, CodecContext::default()).unwrap());
                }
                let mut chunk = [0u8; 4096];
                match self.stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                }
            }
        })
        .await
        .map_err(|_| ())
    }

    async fn send(&mut self, m: &Message) {
        let bytes = encode(m, CodecContext::default());
        self.stream.write_all(&bytes).await.unwrap();
    }
}

/// Our speaker (router id 10.0.0.20) active towards `them` (router id 10.0.0.5, lower), and
/// both connections of a collision: (ours to them, theirs to us), each with our OPEN read and
/// their OPEN sent, theirs first.
async fn collide(ours: Ipv4Addr, them: Ipv4Addr, base: u16) -> (SpeakerHandle, Wire, Wire) {
    let (our_port, their_port) = (port(base), port(base + 1));
    let listener = TcpListener::bind(SocketAddr::new(them.into(), their_port))
        .await
        .unwrap();
    let (handle, _rx) = Speaker::start(SpeakerConfig {
        listen: Some(SocketAddr::new(ours.into(), our_port)),
        peers: vec![PeerConfig {
            port: their_port,
            hold_time: 9,
            connect_retry: Duration::from_millis(500),
            local_address: Some(ours.into()),
            ..PeerConfig::new(them.into(), THEIR_AS)
        }],
        ..SpeakerConfig::new(OUR_AS, Ipv4Addr::new(10, 0, 0, 20))
    })
    .await
    .unwrap();
    let (stream, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .expect("our speaker never connected")
        .unwrap();
    let mut outbound = Wire {
        stream,
        buf: Vec::new(),
    };
    let first = outbound.next(Duration::from_secs(5)).await.unwrap();
    assert!(matches!(first, Some(Message::Open(_))), "{first:?}");

    let sock = TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::new(them.into(), 0)).unwrap();
    let stream = sock
        .connect(SocketAddr::new(ours.into(), our_port))
        .await
        .unwrap();
    let mut inbound = Wire {
        stream,
        buf: Vec::new(),
    };
    let first = inbound.next(Duration::from_secs(5)).await.unwrap();
    assert!(matches!(first, Some(Message::Open(_))), "{first:?}");

    let open = Message::Open(build_open(THEIR_AS, Ipv4Addr::new(10, 0, 0, 5), 9));
    inbound.send(&open).await;
    outbound.send(&open).await;
    outbound.send(&Message::Keepalive).await;
    (handle, outbound, inbound)
}

async fn established_once(handle: &SpeakerHandle) {
    for _ in 0..100 {
        let s = handle.status().await;
        if s[0].state == PeerState::Established {
            assert_eq!(s[0].established_transitions, 1, "{s:?}");
            assert_eq!(s[0].session.as_ref().map(|i| i.outbound), Some(true));
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never established: {:?}", handle.status().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_winner_is_confirmed_once_the_peer_closed_the_loser() {
    let (ours, them) = (Ipv4Addr::new(127, 0, 0, 20), Ipv4Addr::new(127, 0, 0, 21));
    let (handle, mut winner, mut loser) = collide(ours, them, 0).await;
    // Nothing on either connection while the loser is open: no KEEPALIVE yet on the winner.
    assert_eq!(winner.next(Duration::from_millis(300)).await, Err(()));
    assert_eq!(loser.next(Duration::from_millis(10)).await, Err(()));
    // The peer resolves the collision the same way and closes the loser: we confirm.
    drop(loser);
    let answer = winner.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(answer, Some(Message::Keepalive));
    established_once(&handle).await;
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loser_the_peer_leaves_open_is_closed_with_cease_7() {
    let (ours, them) = (Ipv4Addr::new(127, 0, 0, 22), Ipv4Addr::new(127, 0, 0, 23));
    let (handle, mut winner, mut loser) = collide(ours, them, 2).await;
    match loser.next(Duration::from_secs(5)).await.unwrap() {
        Some(Message::Notification(n)) => assert_eq!((n.code, n.subcode), (6, 7)),
        other => panic!("expected Cease/7 on the losing connection, got {other:?}"),
    }
    assert_eq!(
        loser.next(Duration::from_secs(5)).await,
        Ok(None),
        "then closed"
    );
    let answer = winner.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(answer, Some(Message::Keepalive));
    established_once(&handle).await;
    handle.shutdown().await;
}
