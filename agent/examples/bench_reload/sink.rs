//! The bench's receiving peers: one passive BGP session per address, in this process. Each
//! answers the OPEN (hold time 0: no keepalives either way), then reads and counts: UPDATEs,
//! and the prefixes announced with the community the round waits for. The same sinks receive
//! from latticed and from FRR, so both are counted the same way.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use bgp::wire::{check_frame, decode, CodecContext, Message, PathAttribute};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What one sink has seen since its counters were last reset.
#[derive(Debug, Default)]
pub struct Seen {
    /// UPDATE messages.
    pub updates: AtomicU64,
    /// Prefixes announced (NLRI), any attributes.
    pub announced: AtomicU64,
    /// Prefixes announced carrying the community the round waits for.
    pub tagged: AtomicU64,
}

impl Seen {
    /// Zero the counters.
    pub fn reset(&self) {
        for c in [&self.updates, &self.announced, &self.tagged] {
            c.store(0, Ordering::SeqCst);
        }
    }
}

/// Listen on `addrs` at `port` as AS `asn`; `want` is the community counted as tagged.
pub async fn start(
    addrs: &[Ipv4Addr],
    port: u16,
    asn: u32,
    want: Arc<AtomicU32>,
) -> Vec<Arc<Seen>> {
    let mut all = Vec::new();
    for a in addrs {
        let seen = Arc::new(Seen::default());
        let listener = TcpListener::bind(SocketAddr::new((*a).into(), port))
            .await
            .unwrap_or_else(|e| panic!("sink {a}: {e}"));
        let (me, s, w) = (*a, seen.clone(), want.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, me, asn, s.clone(), w.clone()));
            }
        });
        all.push(seen);
    }
    all
}

async fn session(
    mut stream: TcpStream,
    me: Ipv4Addr,
    asn: u32,
    seen: Arc<Seen>,
    want: Arc<AtomicU32>,
) {
    let _ = stream.set_nodelay(true);
    if stream
        .write_all(&testkit::bgp::open(asn, me, 0))
        .await
        .is_err()
        || stream.write_all(&testkit::bgp::keepalive()).await.is_err()
    {
        return;
    }
    let ctx = CodecContext {
        four_octet_as: true,
    };
    let mut buf = Vec::with_capacity(1 << 16);
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        while let Ok(Some(len)) = check_frame(&buf, 65535) {
            let frame: Vec<u8> = buf.drain(..len).collect();
            if let Ok(Message::Update(u)) = decode(&frame, ctx) {
                seen.updates.fetch_add(1, Ordering::SeqCst);
                let nlri = u.nlri.len() as u64;
                seen.announced.fetch_add(nlri, Ordering::SeqCst);
                let w = want.load(Ordering::SeqCst);
                let tagged = u
                    .attributes
                    .iter()
                    .any(|a| matches!(a, PathAttribute::Communities(c) if c.contains(&w)));
                if tagged {
                    seen.tagged.fetch_add(nlri, Ordering::SeqCst);
                }
            }
        }
    }
}
