//! TCP MD5 signatures (RFC 2385) on a socket: `setsockopt(IPPROTO_TCP, TCP_MD5SIG)`.
//!
//! The workspace denies `unsafe_code`; this module is the one exception because neither std,
//! tokio nor socket2 offers TCP_MD5SIG, so the option has to be set through libc with a
//! hand-built `struct tcp_md5sig`. The unsafe surface is two FFI calls on a borrowed descriptor
//! with buffers owned by the caller's stack frame.
#![allow(unsafe_code)]

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd};

/// Longest key the kernel takes (`TCP_MD5SIG_MAXKEYLEN` in linux/tcp.h).
pub const MAX_KEY_LEN: usize = 80;

/// Refuse a key the kernel cannot use: empty (that would delete the key) or over 80 bytes.
pub fn check_key(key: &str) -> io::Result<()> {
    if key.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "TCP MD5 password must not be empty",
        ));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "TCP MD5 password is {} bytes long; at most {MAX_KEY_LEN} are allowed",
                key.len()
            ),
        ));
    }
    Ok(())
}

/// `struct tcp_md5sig` from linux/tcp.h (libc does not define it).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[repr(C)]
struct TcpMd5Sig {
    addr: libc::sockaddr_storage,
    flags: u8,
    prefixlen: u8,
    keylen: u16,
    ifindex: u32,
    key: [u8; MAX_KEY_LEN],
}

/// Sign every segment exchanged with `peer` on `socket` with `key`. On a listening socket the
/// kernel then also drops unsigned (or wrongly signed) SYNs from `peer`; connections it accepts
/// inherit the key. An IPv4 peer on an IPv6 socket is keyed by its v4-mapped address, which the
/// kernel stores as the IPv4 address it is.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn set_key<S: AsFd>(socket: &S, peer: IpAddr, key: &str) -> io::Result<()> {
    check_key(key)?;
    install(socket, peer, key.as_bytes())
}

/// Remove the key for `peer` from `socket` (a peer removed from a listener's configuration).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn del_key<S: AsFd>(socket: &S, peer: IpAddr) -> io::Result<()> {
    // A zero key length deletes the key (tcp_md5_do_del in the kernel).
    install(socket, peer, &[])
}

/// `setsockopt(TCP_MD5SIG)` for `peer` with `key` (at most 80 bytes; empty deletes).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn install<S: AsFd>(socket: &S, peer: IpAddr, key: &[u8]) -> io::Result<()> {
    let fd = socket.as_fd();
    let family = socket_family(fd.as_raw_fd())?;

    let mut sig = TcpMd5Sig {
        // SAFETY: sockaddr_storage is plain old data; all-zero is a valid (AF_UNSPEC) value.
        addr: unsafe { std::mem::zeroed() },
        flags: 0,
        prefixlen: 0,
        keylen: u16::try_from(key.len())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
        ifindex: 0,
        key: [0; MAX_KEY_LEN],
    };
    sig.key
        .get_mut(..key.len())
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?
        .copy_from_slice(key);
    match (family, peer) {
        (libc::AF_INET, IpAddr::V4(a)) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_in is smaller than sockaddr_storage, which is designed to hold
            // any socket address; both are plain old data.
            unsafe {
                std::ptr::write_unaligned(
                    std::ptr::addr_of_mut!(sig.addr).cast::<libc::sockaddr_in>(),
                    sin,
                );
            }
        }
        (libc::AF_INET6, _) => {
            let v6 = match peer {
                IpAddr::V4(a) => a.to_ipv6_mapped(),
                IpAddr::V6(a) => a,
            };
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: 0,
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: as above, for sockaddr_in6 (28 bytes) in sockaddr_storage (128).
            unsafe {
                std::ptr::write_unaligned(
                    std::ptr::addr_of_mut!(sig.addr).cast::<libc::sockaddr_in6>(),
                    sin6,
                );
            }
        }
        (libc::AF_INET, IpAddr::V6(a)) => {
            return match a.to_ipv4_mapped() {
                Some(v4) => install(socket, IpAddr::V4(v4), key),
                None => Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("cannot key IPv6 peer {a} on an IPv4 socket"),
                )),
            };
        }
        (other, _) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("TCP MD5 on a socket of address family {other}"),
            ))
        }
    }
    // SAFETY: `fd` is a live descriptor borrowed for this call; `sig` is a fully initialised
    // struct tcp_md5sig and the length passed is its size, so the kernel reads only within it.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_MD5SIG,
            std::ptr::addr_of!(sig).cast::<libc::c_void>(),
            std::mem::size_of::<TcpMd5Sig>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Without TCP_MD5SIG the option cannot be honoured: refuse rather than run unsigned.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn set_key<S: AsFd>(_socket: &S, _peer: IpAddr, key: &str) -> io::Result<()> {
    check_key(key)?;
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "TCP MD5 signatures are only supported on Linux",
    ))
}

/// Without TCP_MD5SIG no key was ever set.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn del_key<S: AsFd>(_socket: &S, _peer: IpAddr) -> io::Result<()> {
    Ok(())
}

/// The address family a socket was created with (AF_INET or AF_INET6).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn socket_family(fd: std::os::fd::RawFd) -> io::Result<libc::c_int> {
    // SAFETY: plain old data, zero is valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `fd` is live for the caller's borrow; `storage` and `len` are valid for writes
    // and `len` holds the buffer's size, so the kernel writes no further.
    let rc = unsafe {
        libc::getsockname(
            fd,
            std::ptr::addr_of_mut!(storage).cast::<libc::sockaddr>(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(libc::c_int::from(storage.ss_family))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn the_struct_has_the_kernels_layout() {
        // 128 (sockaddr_storage) + 1 + 1 + 2 + 4 + 80.
        assert_eq!(std::mem::size_of::<TcpMd5Sig>(), 216);
    }

    #[test]
    fn keys_over_80_bytes_and_empty_keys_are_refused() {
        assert!(check_key(&"k".repeat(80)).is_ok());
        let e = check_key(&"k".repeat(81)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("81 bytes"), "{e}");
        assert!(check_key("").is_err());
        // Bytes, not characters: 27 three-byte characters are 81 bytes.
        assert!(check_key(&"€".repeat(27)).is_err());
        // Refused before the socket is touched.
        let s = tokio::net::TcpSocket::new_v4().unwrap();
        let e = set_key(&s, Ipv4Addr::LOCALHOST.into(), &"k".repeat(81)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }

    #[tokio::test]
    async fn a_key_can_be_deleted_again() {
        let s = tokio::net::TcpSocket::new_v4().unwrap();
        let peer = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        set_key(&s, peer, "secret").unwrap();
        del_key(&s, peer).unwrap();
        // Gone: the kernel finds nothing to delete a second time.
        assert!(del_key(&s, peer).is_err());
    }

    #[tokio::test]
    async fn keys_are_set_on_v4_and_v6_sockets() {
        let v4 = tokio::net::TcpSocket::new_v4().unwrap();
        set_key(&v4, Ipv4Addr::new(192, 0, 2, 1).into(), "secret").unwrap();
        // A v4-mapped v6 address is the v4 address; a real v6 one cannot key a v4 socket.
        set_key(&v4, "::ffff:192.0.2.2".parse::<IpAddr>().unwrap(), "secret").unwrap();
        assert!(set_key(&v4, IpAddr::V6(Ipv6Addr::LOCALHOST), "secret").is_err());
        // IPv6 may be disabled on the machine: only then is this part skipped.
        if let Ok(v6) = tokio::net::TcpSocket::new_v6() {
            set_key(&v6, "2001:db8::1".parse::<IpAddr>().unwrap(), "secret").unwrap();
            set_key(&v6, Ipv4Addr::new(192, 0, 2, 1).into(), "secret").unwrap();
        }
    }
}
