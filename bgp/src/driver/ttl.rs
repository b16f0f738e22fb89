//! The IP TTL (IPv6 hop limit) of a peer's connections: 1 for a directly connected eBGP peer,
//! as single-hop eBGP sends it (more with `ebgp_multihop`), and GTSM (RFC 5082): send 255 and
//! let the kernel drop whatever arrives with less than 254 (`IP_MINTTL`/`IPV6_MINHOPCOUNT`),
//! so a spoofed segment from further away never reaches the session.
//!
//! The workspace denies `unsafe_code`; this module is an exception, like `md5.rs`, because
//! neither std nor tokio sets `IP_MINTTL` or `IPV6_MINHOPCOUNT` (and tokio's `TcpSocket` no
//! TTL before `connect`): one `setsockopt` of an `int` on a borrowed descriptor.
#![allow(unsafe_code)]

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd};

/// What a peer's connections send and accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttl {
    /// TTL (hop limit) of what we send.
    pub send: u8,
    /// The least TTL accepted from the peer (GTSM), if checked.
    pub min_received: Option<u8>,
}

/// GTSM sends the largest TTL there is (RFC 5082 §3)...
const GTSM_SEND: u8 = 255;
/// ...and accepts one router in between at most.
const GTSM_MIN_RECEIVED: u8 = 254;

/// The TTL for a peer: GTSM if `security`; else for eBGP `multihop` (default 1, a directly
/// connected neighbour); for iBGP the kernel's default (`None`).
pub fn for_peer(ebgp: bool, multihop: Option<u8>, security: bool) -> Option<Ttl> {
    if security {
        return Some(Ttl {
            send: GTSM_SEND,
            min_received: Some(GTSM_MIN_RECEIVED),
        });
    }
    ebgp.then(|| Ttl {
        send: multihop.unwrap_or(1).max(1),
        min_received: None,
    })
}

/// Set `ttl` on `socket`, a connection (or connecting socket) to `peer`. An IPv4 peer on an
/// IPv6 socket (v4-mapped) takes the IPv4 options, which Linux applies to mapped traffic.
pub fn apply<S: AsFd>(socket: &S, peer: IpAddr, ttl: Ttl) -> io::Result<()> {
    let fd = socket.as_fd();
    let (level, send, min) = match peer.to_canonical() {
        IpAddr::V4(_) => (libc::IPPROTO_IP, libc::IP_TTL, libc::IP_MINTTL),
        IpAddr::V6(_) => (
            libc::IPPROTO_IPV6,
            libc::IPV6_UNICAST_HOPS,
            libc::IPV6_MINHOPCOUNT,
        ),
    };
    set_int(fd.as_raw_fd(), level, send, ttl.send)?;
    if let Some(m) = ttl.min_received {
        set_int(fd.as_raw_fd(), level, min, m)?;
    }
    Ok(())
}

/// Read back the TTL a socket sends.
#[cfg(test)]
fn sent<S: AsFd>(socket: &S, peer: IpAddr) -> io::Result<u8> {
    let (level, name) = match peer.to_canonical() {
        IpAddr::V4(_) => (libc::IPPROTO_IP, libc::IP_TTL),
        IpAddr::V6(_) => (libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS),
    };
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` live on this stack frame for the call; the kernel writes at
    // most `len` bytes into `value`.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_fd().as_raw_fd(),
            level,
            name,
            std::ptr::addr_of_mut!(value).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    u8::try_from(value).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))
}

fn set_int(fd: libc::c_int, level: libc::c_int, name: libc::c_int, value: u8) -> io::Result<()> {
    let value = libc::c_int::from(value);
    // SAFETY: `value` is an int on this stack frame and its size is passed with it; the
    // descriptor is borrowed from a live socket for the duration of the call.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            std::ptr::addr_of!(value).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ebgp_is_single_hop_unless_told_and_gtsm_wins() {
        let one = Ttl {
            send: 1,
            min_received: None,
        };
        assert_eq!(for_peer(true, None, false), Some(one));
        assert_eq!(for_peer(true, Some(3), false).map(|t| t.send), Some(3));
        assert_eq!(for_peer(false, None, false), None);
        let gtsm = for_peer(false, None, true).unwrap();
        assert_eq!((gtsm.send, gtsm.min_received), (255, Some(254)));
        assert_eq!(for_peer(true, Some(3), true), Some(gtsm));
    }

    #[test]
    fn the_options_reach_the_socket_for_both_families() {
        for (socket, peer) in [
            (tokio_socket(false), "192.0.2.1".parse::<IpAddr>().unwrap()),
            (tokio_socket(true), "2001:db8::1".parse().unwrap()),
            (tokio_socket(true), "::ffff:192.0.2.1".parse().unwrap()),
        ] {
            let gtsm = for_peer(true, None, true).unwrap();
            apply(&socket, peer, gtsm).unwrap();
            assert_eq!(sent(&socket, peer).unwrap(), 255, "{peer}");
        }
    }

    fn tokio_socket(v6: bool) -> std::net::TcpListener {
        let addr = if v6 { "[::1]:0" } else { "127.0.0.1:0" };
        std::net::TcpListener::bind(addr).unwrap()
    }
}
