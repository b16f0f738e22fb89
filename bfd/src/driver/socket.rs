//! The sockets of RFC 5881 §4-§5 and RFC 5883 §2-§5: one receiving socket per address family
//! and hop kind, one sending socket per session.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;

use nix::sys::socket::{
    bind, recvmsg, setsockopt, socket, sockopt, AddressFamily, ControlMessageOwned, MsgFlags,
    SockFlag, SockType, SockaddrIn6, SockaddrStorage,
};

/// First port of the range RFC 5881 §4 requires for the source port.
const SOURCE_PORT_MIN: u16 = 49152;
/// Number of ports in it (49152..=65535).
const SOURCE_PORTS: u32 = 16384;
/// "All BFD Control packets ... MUST be sent with a TTL or Hop Limit value of 255" (RFC 5881
/// §5); multihop uses the same, so any number of hops fits under a minimum TTL check.
pub(crate) const SEND_TTL: u8 = 255;
/// DSCP CS6, network control (what FRR sets too): BFD must not queue behind data.
const TOS_CS6: u8 = 0xc0;
/// Larger than any Control packet with authentication (24 + 28 for SHA1).
pub(crate) const RECV_BUF: usize = 128;

/// A datagram as received, with what the ancillary data said about it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Datagram {
    /// Bytes in the payload (at most [`RECV_BUF`]).
    pub len: usize,
    /// It did not fit in [`RECV_BUF`].
    pub truncated: bool,
    /// Source address (scope id included for link-local IPv6).
    pub source: SocketAddr,
    /// TTL / Hop Limit (IP_RECVTTL / IPV6_RECVHOPLIMIT).
    pub ttl: Option<u8>,
    /// Destination address (IP_PKTINFO / IPV6_RECVPKTINFO).
    pub destination: Option<IpAddr>,
    /// Arrival interface (IP_PKTINFO / IPV6_RECVPKTINFO).
    pub ifindex: Option<u32>,
}

/// A socket bound to `port` on every address of one family, reporting TTL, destination and
/// interface of each datagram.
pub(crate) fn listen(v6: bool, port: u16) -> io::Result<UdpSocket> {
    let sock = if v6 {
        // IPV6_V6ONLY must be set before bind, or the socket would take the IPv4 port too.
        let fd = socket(
            AddressFamily::Inet6,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        setsockopt(&fd, sockopt::Ipv6V6Only, &true)?;
        setsockopt(&fd, sockopt::Ipv6RecvHopLimit, &true)?;
        setsockopt(&fd, sockopt::Ipv6RecvPacketInfo, &true)?;
        bind(
            fd.as_raw_fd(),
            &SockaddrIn6::from(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0)),
        )?;
        UdpSocket::from(fd)
    } else {
        let s = UdpSocket::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)))?;
        setsockopt(&s, sockopt::Ipv4RecvTtl, &true)?;
        setsockopt(&s, sockopt::Ipv4PacketInfo, &true)?;
        s
    };
    sock.set_nonblocking(true)?;
    Ok(sock)
}

/// A receive buffer for the ancillary data [`listen`] asks for.
pub(crate) fn control_buffer() -> Vec<u8> {
    nix::cmsg_space!(
        libc::in6_pktinfo,
        libc::c_int,
        libc::in_pktinfo,
        libc::c_int
    )
}

/// Reads one datagram into `buf` without blocking (`WouldBlock` when there is none).
pub(crate) fn receive(
    sock: &impl AsRawFd,
    buf: &mut [u8; RECV_BUF],
    cmsg: &mut [u8],
) -> io::Result<Datagram> {
    let mut iov = [io::IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrStorage>(
        sock.as_raw_fd(),
        &mut iov,
        Some(cmsg),
        MsgFlags::MSG_DONTWAIT,
    )?;
    let source = msg
        .address
        .and_then(|a| {
            a.as_sockaddr_in()
                .map(|v4| SocketAddr::V4(SocketAddrV4::from(*v4)))
                .or_else(|| {
                    a.as_sockaddr_in6()
                        .map(|v6| SocketAddr::V6(SocketAddrV6::from(*v6)))
                })
        })
        .ok_or_else(|| io::Error::other("datagram without an IP source address"))?;
    let mut d = Datagram {
        len: msg.bytes.min(RECV_BUF),
        truncated: msg.flags.contains(MsgFlags::MSG_TRUNC),
        source,
        ttl: None,
        destination: None,
        ifindex: None,
    };
    // A truncated control buffer means we cannot trust what is there: no TTL, dropped.
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            match c {
                ControlMessageOwned::Ipv4Ttl(t) | ControlMessageOwned::Ipv6HopLimit(t) => {
                    d.ttl = u8::try_from(t).ok();
                }
                ControlMessageOwned::Ipv4PacketInfo(info) => {
                    d.destination = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                        info.ipi_addr.s_addr,
                    ))));
                    d.ifindex = u32::try_from(info.ipi_ifindex).ok();
                }
                ControlMessageOwned::Ipv6PacketInfo(info) => {
                    d.destination = Some(IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr)));
                    d.ifindex = Some(info.ipi6_ifindex);
                }
                _ => {}
            }
        }
    }
    Ok(d)
}

/// Where a session's packets go from and to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Route<'a> {
    /// Our address (`None`: the kernel's choice).
    pub local: Option<IpAddr>,
    /// The peer's address and BFD port.
    pub remote: SocketAddr,
    /// Interface to bind to and its index (single hop).
    pub interface: Option<(&'a str, u32)>,
}

/// A connected socket sending with TTL 255 and DSCP CS6 from a source port in 49152-65535
/// that no other socket here holds (RFC 5881 §4), starting the search at `hint`.
pub(crate) fn sender(route: Route<'_>, hint: u16) -> io::Result<(UdpSocket, u16)> {
    let ifindex = route.interface.map_or(0, |(_, i)| i);
    let remote = match route.remote {
        // A link-local peer is reachable only through its interface: its scope.
        SocketAddr::V6(a) if is_link_local(a.ip()) => {
            SocketAddr::V6(SocketAddrV6::new(*a.ip(), a.port(), 0, ifindex))
        }
        other => other,
    };
    let mut last = io::Error::from(io::ErrorKind::AddrInUse);
    for i in 0..SOURCE_PORTS {
        let offset = (u32::from(hint) + i) % SOURCE_PORTS;
        let port = SOURCE_PORT_MIN + u16::try_from(offset).unwrap_or(0);
        let local = match (route.local, remote) {
            (Some(IpAddr::V6(a)), _) => {
                let scope = if is_link_local(&a) { ifindex } else { 0 };
                SocketAddr::V6(SocketAddrV6::new(a, port, 0, scope))
            }
            (Some(IpAddr::V4(a)), _) => SocketAddr::from((a, port)),
            (None, SocketAddr::V4(_)) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
            (None, SocketAddr::V6(_)) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)),
        };
        match UdpSocket::bind(local) {
            Ok(sock) => return configure(sock, route, remote).map(|s| (s, port)),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

fn configure(sock: UdpSocket, route: Route<'_>, remote: SocketAddr) -> io::Result<UdpSocket> {
    if let Some((name, _)) = route.interface {
        setsockopt(
            &sock,
            sockopt::BindToDevice,
            &std::ffi::OsString::from(name),
        )?;
    }
    if remote.is_ipv4() {
        setsockopt(&sock, sockopt::Ipv4Ttl, &libc::c_int::from(SEND_TTL))?;
        setsockopt(&sock, sockopt::Ipv4Tos, &libc::c_int::from(TOS_CS6))?;
    } else {
        setsockopt(&sock, sockopt::Ipv6Ttl, &libc::c_int::from(SEND_TTL))?;
        setsockopt(&sock, sockopt::Ipv6TClass, &libc::c_int::from(TOS_CS6))?;
    }
    sock.connect(remote)?;
    sock.set_nonblocking(true)?;
    Ok(sock)
}

/// fe80::/10.
pub(crate) fn is_link_local(a: &Ipv6Addr) -> bool {
    a.segments().first().is_some_and(|s| s & 0xffc0 == 0xfe80)
}
