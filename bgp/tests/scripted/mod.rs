//! A scripted peer over loopback for driver tests: it connects to our speaker's listener,
//! completes the OPEN exchange with the capabilities it is given, and then sends and reads
//! whole messages, so a test says byte for byte what a misbehaving peer does. No root.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bgp::driver::{PeerConfig, PeerState, PeerStatus, Speaker, SpeakerConfig, SpeakerHandle};
use bgp::wire::{check_frame, decode, encode, Capability, CodecContext, Message, OpenMsg};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

pub const OUR_AS: u32 = 65010;
pub const THEIR_AS: u32 = 65020;

/// A port for this test process: `base` plus the pid, so parallel runs rarely meet (the
/// addresses differ per test too).
pub fn port(base: u16) -> u16 {
    base + (std::process::id() % 5000) as u16
}

/// Our speaker listening on `ours`:`port`, passive towards `them` (configured by `peer`).
pub async fn passive_speaker(
    ours: IpAddr,
    port: u16,
    them: IpAddr,
    peer: impl FnOnce(PeerConfig) -> PeerConfig,
) -> (SpeakerHandle, bgp::driver::RouteChanges) {
    let base = PeerConfig {
        passive: true,
        hold_time: 30,
        ..PeerConfig::new(them.into(), THEIR_AS)
    };
    let router_id = match ours {
        IpAddr::V4(a) => a,
        IpAddr::V6(_) => "10.0.0.20".parse().unwrap(),
    };
    Speaker::start(SpeakerConfig {
        listen: Some(SocketAddr::new(ours, port)),
        peers: vec![peer(base)],
        graceful_restart: None,
        ..SpeakerConfig::new(OUR_AS, router_id)
    })
    .await
    .unwrap()
}

/// The scripted peer's end of one connection.
pub struct Wire {
    pub stream: TcpStream,
    buf: Vec<u8>,
    ctx: CodecContext,
}

impl Wire {
    /// Connect from `from` to `to`, retrying while the listener is not up yet.
    pub async fn connect(from: IpAddr, to: SocketAddr) -> Wire {
        for _ in 0..100 {
            let sock = if from.is_ipv6() {
                TcpSocket::new_v6().unwrap()
            } else {
                TcpSocket::new_v4().unwrap()
            };
            sock.bind(SocketAddr::new(from, 0)).unwrap();
            if let Ok(stream) = sock.connect(to).await {
                return Wire {
                    stream,
                    buf: Vec::new(),
                    ctx: CodecContext {
                        four_octet_as: true,
                    },
                };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("could not connect to {to}");
    }

    /// Connect, read our OPEN, send the peer's (BGP identifier `id`, 4-octet AS and `caps`)
    /// and a KEEPALIVE, and read ours: Established.
    pub async fn establish(
        from: IpAddr,
        to: SocketAddr,
        id: std::net::Ipv4Addr,
        caps: Vec<Capability>,
    ) -> Wire {
        let mut w = Wire::connect(from, to).await;
        let first = w.next(Duration::from_secs(5)).await;
        assert!(matches!(first, Some(Message::Open(_))), "{first:?}");
        let mut capabilities = vec![Capability::FourOctetAs(THEIR_AS)];
        capabilities.extend(caps);
        w.send(&Message::Open(OpenMsg {
            version: 4,
            my_as: THEIR_AS as u16,
            hold_time: 30,
            router_id: id,
            capabilities,
        }))
        .await;
        w.send(&Message::Keepalive).await;
        let ka = w.next(Duration::from_secs(5)).await;
        assert_eq!(ka, Some(Message::Keepalive));
        w
    }

    /// The next message (`None` on EOF); panics if nothing comes within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<Message> {
        tokio::time::timeout(wait, async {
            loop {
                if let Ok(Some(len)) = check_frame(&self.buf, 65535) {
                    let frame: Vec<u8> = self.buf.drain(..len).collect();
                    return Some(decode(&frame, self.ctx).unwrap());
                }
                let mut chunk = [0u8; 4096];
                match self.stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                }
            }
        })
        .await
        .expect("nothing from our speaker")
    }

    /// Messages until a NOTIFICATION or EOF; the NOTIFICATION if one came.
    pub async fn notification(&mut self, wait: Duration) -> Option<bgp::wire::NotificationMsg> {
        loop {
            match self.next(wait).await? {
                Message::Notification(n) => return Some(n),
                _ => continue,
            }
        }
    }

    pub async fn send(&mut self, m: &Message) {
        self.send_raw(&encode(m, self.ctx)).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }
}

/// The status of our only peer once `f` holds (10 s at most).
pub async fn status_when(handle: &SpeakerHandle, f: impl Fn(&PeerStatus) -> bool) -> PeerStatus {
    for _ in 0..200 {
        let s = handle.status().await;
        if let Some(p) = s.into_iter().next().filter(|p| f(p)) {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never: {:?}", handle.status().await);
}

/// Whether the peer is Established.
pub fn established(p: &PeerStatus) -> bool {
    p.state == PeerState::Established
}
