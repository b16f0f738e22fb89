//! A raw ICMPv6 socket on one interface (needs `CAP_NET_RAW`): bound to the device, sending
//! with hop limit 255 (RFC 4861 requires it of ND messages, and receivers check it), reporting
//! each message's hop limit. The kernel fills in and checks the checksums.

use std::ffi::OsString;
use std::io;
use std::net::{Ipv6Addr, SocketAddrV6};
use std::os::fd::AsRawFd;

use nix::sys::socket::{
    recvmsg, sendto, setsockopt, socket, sockopt, AddressFamily, ControlMessageOwned, MsgFlags,
    SockFlag, SockProtocol, SockType, SockaddrIn6, SockaddrStorage,
};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Larger than any ND message we read (RAs with many options fit; longer ones are cut short
/// and dropped).
const RECV_BUF: usize = 1280;

/// One message as received.
#[derive(Debug, Clone)]
pub(super) struct Received {
    /// Its source address.
    pub source: Ipv6Addr,
    /// The hop limit it arrived with (IPV6_RECVHOPLIMIT).
    pub hop_limit: Option<u8>,
    /// The ICMPv6 message, from its type octet.
    pub bytes: Vec<u8>,
}

/// The socket of one interface. Held as a tokio `UdpSocket` for its readiness and `try_io`
/// (a socket is a socket to epoll; only `recvmsg`/`sendto` are used on it, through nix).
#[derive(Debug)]
pub(super) struct IcmpSocket {
    fd: UdpSocket,
    ifindex: u32,
}

impl IcmpSocket {
    /// Open it on interface `name` (index `ifindex`).
    pub fn open(name: &str, ifindex: u32) -> io::Result<IcmpSocket> {
        let fd = socket(
            AddressFamily::Inet6,
            SockType::Raw,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            SockProtocol::IcmpV6,
        )?;
        setsockopt(&fd, sockopt::BindToDevice, &OsString::from(name))?;
        setsockopt(&fd, sockopt::Ipv6MulticastHops, &255)?;
        setsockopt(&fd, sockopt::Ipv6Ttl, &255)?;
        setsockopt(&fd, sockopt::Ipv6RecvHopLimit, &true)?;
        Ok(IcmpSocket {
            fd: UdpSocket::from_std(std::net::UdpSocket::from(fd))?,
            ifindex,
        })
    }

    /// The interface index it was opened for.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Wait for the next message.
    pub async fn receive(&self) -> io::Result<Received> {
        loop {
            self.fd.readable().await?;
            match self.fd.try_io(Interest::READABLE, || {
                receive_now(self.fd.as_raw_fd()).map_err(|e| match e.raw_os_error() {
                    Some(libc::EAGAIN) => std::io::ErrorKind::WouldBlock.into(),
                    _ => e,
                })
            }) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => return other,
            }
        }
    }

    /// Send `message` to `to` on this interface; a full socket buffer drops it (the next
    /// periodic one follows).
    pub fn send(&self, to: Ipv6Addr, message: &[u8]) -> io::Result<()> {
        let dest = SockaddrIn6::from(SocketAddrV6::new(to, 0, 0, self.ifindex));
        match sendto(self.fd.as_raw_fd(), message, &dest, MsgFlags::MSG_DONTWAIT) {
            Ok(_) | Err(nix::errno::Errno::EAGAIN) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

fn receive_now(fd: i32) -> io::Result<Received> {
    let mut buf = [0u8; RECV_BUF];
    let mut cmsg = nix::cmsg_space!(libc::c_int);
    let mut iov = [io::IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<SockaddrStorage>(fd, &mut iov, Some(&mut cmsg), MsgFlags::MSG_DONTWAIT)?;
    let source = msg
        .address
        .and_then(|a| a.as_sockaddr_in6().map(|s| s.ip()))
        .ok_or_else(|| io::Error::other("ICMPv6 message without an IPv6 source"))?;
    let truncated = msg.flags.contains(MsgFlags::MSG_TRUNC);
    let mut hop_limit = None;
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            if let ControlMessageOwned::Ipv6HopLimit(h) = c {
                hop_limit = u8::try_from(h).ok();
            }
        }
    }
    let len = msg.bytes;
    let bytes = if truncated {
        // A cut message cannot be checked: the parser sees an empty one and drops it.
        Vec::new()
    } else {
        buf.get(..len).unwrap_or_default().to_vec()
    };
    Ok(Received {
        source,
        hop_limit,
        bytes,
    })
}
