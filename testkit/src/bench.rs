//! What the benchmarks share: a sender and a receiver namespace one veth apart, BGP sender
//! sessions that write pre-built UPDATEs, one completion check for every receiver, and memory
//! figures.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::netns::Netns;

/// Two namespaces, `TAG-tx-PID-N` (the senders) and `TAG-rx-PID-N` (the receiver), joined by a
/// veth `tx0`/`rx0` on one /24; removed, with every process in them, when dropped.
#[derive(Debug)]
pub struct Link {
    /// The senders' namespace.
    pub tx: Netns,
    /// The receiver's namespace.
    pub rx: Netns,
}

impl Link {
    /// The namespaces with `receiver` on `rx0` and every address of `senders` on `tx0`.
    /// Namespaces of an earlier run of the same bench that was SIGKILLed are removed first.
    pub fn up(tag: &str, receiver: Ipv4Addr, senders: &[Ipv4Addr]) -> Link {
        let (tx_tag, rx_tag) = (format!("{tag}-tx"), format!("{tag}-rx"));
        crate::netns::remove_stale(&tx_tag);
        crate::netns::remove_stale(&rx_tag);
        let (tx, rx) = (Netns::new(&tx_tag), Netns::new(&rx_tag));
        tx.veth("tx0", &rx, "rx0");
        for s in senders {
            tx.addr("tx0", &format!("{s}/24"));
        }
        rx.addr("rx0", &format!("{receiver}/24"));
        tx.up("tx0");
        rx.up("rx0");
        Link { tx, rx }
    }
}

/// Opens a BGP session as a bench sender: connects from `from` to `to` (retrying for up to
/// `patience` while the receiver starts), sends an OPEN (AS `asn`, identifier `from`, hold time
/// `hold`), waits for the receiver's OPEN and KEEPALIVE and answers with a KEEPALIVE.
pub async fn open_session(
    from: Ipv4Addr,
    to: SocketAddr,
    asn: u32,
    hold: u16,
    patience: Duration,
) -> std::io::Result<TcpStream> {
    let deadline = Instant::now() + patience;
    let mut stream = loop {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(from.into(), 0))?;
        match socket.connect(to).await {
            Ok(s) => break s,
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    stream.set_nodelay(true)?;
    stream.write_all(&crate::bgp::open(asn, from, hold)).await?;
    let (mut buf, mut seen) = (Vec::new(), 0);
    while seen < 2 {
        let mut chunk = [0u8; 4096];
        let k = stream.read(&mut chunk).await?;
        if k == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the receiver closed the session during the handshake",
            ));
        }
        buf.extend_from_slice(&chunk[..k]);
        while let Some(len) = crate::bgp::frame_len(&buf) {
            buf.drain(..len);
            seen += 1;
        }
    }
    stream.write_all(&crate::bgp::keepalive()).await?;
    Ok(stream)
}

/// Reads and discards what the receiver sends (its KEEPALIVEs), so it never blocks on us.
pub fn discard(mut read: tokio::net::tcp::OwnedReadHalf) {
    tokio::spawn(async move {
        let mut sink = vec![0u8; 65536];
        while read.read(&mut sink).await.is_ok_and(|k| k > 0) {}
    });
}

/// When a receiver was seen complete.
#[derive(Debug, Clone, Copy)]
pub struct Completion {
    /// From the start to the end of the check that first saw completion.
    pub elapsed: Duration,
    /// Checks made.
    pub checks: usize,
    /// The longest span from the start of one check to the end of the next: completion
    /// happened at most this long before `elapsed` (the measurement's resolution).
    pub resolution: Duration,
}

/// Runs `check` every `period` from `start` (check k begins at `start` + k × `period`, or at
/// once when check k-1 ended later) until it returns true, for at most `limit`. Every receiver
/// of a comparison gets the same schedule, so none is measured more coarsely.
pub fn completion(
    start: Instant,
    period: Duration,
    limit: Duration,
    mut check: impl FnMut() -> bool,
) -> Option<Completion> {
    let mut checks = 0usize;
    let mut resolution = Duration::ZERO;
    let mut previous_start = start;
    loop {
        let began = Instant::now();
        let done = check();
        let ended = Instant::now();
        checks += 1;
        resolution = resolution.max(ended - previous_start);
        previous_start = began;
        if done {
            return Some(Completion {
                elapsed: ended - start,
                checks,
                resolution,
            });
        }
        if ended - start > limit {
            return None;
        }
        let next = start + period * u32::try_from(checks).unwrap_or(u32::MAX);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
}

/// Peak resident set size (VmHWM) of process `pid`, in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time (user and system, all threads) process `pid` has used so far, in seconds: on a
/// shared machine a steadier figure than wall time.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces), from field 3 (state) on: utime is
    // field 14, stime 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let per_second = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok()??;
    Some(ticks as f64 / per_second as f64)
}

/// This process's resident set size, from /proc/self/statm (pages of 4 KiB).
pub fn own_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Bytes in the files under `dir` (apparent size).
pub fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_keeps_the_schedule_and_reports_its_resolution() {
        let start = Instant::now();
        let mut n = 0;
        let c = completion(
            start,
            Duration::from_millis(5),
            Duration::from_secs(5),
            || {
                n += 1;
                n == 5
            },
        )
        .unwrap();
        assert_eq!(c.checks, 5);
        assert!(c.elapsed >= Duration::from_millis(20), "{c:?}");
        assert!(c.resolution >= Duration::from_millis(5), "{c:?}");
        assert!(completion(start, Duration::from_millis(1), Duration::ZERO, || false).is_none());
        let spent = cpu_seconds(std::process::id()).unwrap();
        assert!(spent >= 0.0, "{spent}");
    }
}
