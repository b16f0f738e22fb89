//! The real `/metrics` server on loopback, with more slow and idle clients than it has
//! connection slots (issue 19 item 11: 33 of them used to deny Prometheus for the 10 s header
//! timeout, again and again): a scrape still gets its answer at once, because the connection
//! that has been quiet the longest gives its slot to the newcomer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use agent::metrics::Metrics;

/// More than the server's 32 slots.
const SLOW: usize = 24;
const IDLE: usize = 12;
const KEEP_ALIVE: usize = 8;

/// GET /metrics with `Connection: close`; the whole answer, or the error (a read that waited
/// longer than the scrape may wait: well under the server's 10 s header timeout).
fn scrape(addr: SocketAddr) -> std::io::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: prometheus\r\nConnection: close\r\n\r\n")?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    Ok(text)
}

/// Whether the server closed `s` (end of file or reset); waits a little for it.
fn closed(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn a_scrape_gets_through_while_slow_and_idle_clients_hold_every_slot() {
    let metrics = Arc::new(Metrics::new(None).unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(agent::metrics::server::serve(listener, metrics, async {
        let _ = stopped.await;
    }));

    let mut held = Vec::new();
    // Keep-alive clients that asked once and stay connected.
    for _ in 0..KEEP_ALIVE {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while !String::from_utf8_lossy(&got).ends_with("at /metrics\n") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "closed before its answer");
            got.extend_from_slice(buf.get(..n).unwrap());
        }
        held.push(s);
    }
    // Slowloris: a request head that never ends.
    for _ in 0..SLOW {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: slow\r\n")
            .unwrap();
        held.push(s);
    }
    // Connected, silent.
    for _ in 0..IDLE {
        held.push(TcpStream::connect(addr).unwrap());
    }

    // Prometheus, several times over: each scrape answered in full, none waits for a slot.
    for round in 0..3 {
        let text = scrape(addr).unwrap_or_else(|e| panic!("scrape {round}: {e}"));
        assert!(text.starts_with("HTTP/1.1 200"), "scrape {round}: {text}");
        assert!(text.contains("lattice_build_info"), "scrape {round}");
        // More slow clients arrive between scrapes.
        for _ in 0..4 {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET /").unwrap();
            held.push(s);
        }
    }

    // The server holds no more than its slots: the quietest clients were closed.
    let total = held.len();
    let gone = held.iter_mut().map(closed).filter(|c| *c).count();
    assert!(
        total.saturating_sub(gone) <= 32,
        "{total} clients, {gone} closed: more connections held than slots"
    );

    stop.send(()).unwrap();
    rt.block_on(server).unwrap();
}
