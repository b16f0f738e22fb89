//! Where a peer's BFD session runs: RFC 5881 single hop when the peer is on a connected prefix
//! (bound to that interface, from our address on it), RFC 5883 multihop otherwise (from the
//! source address the kernel's route to the peer gives), unless `bgp.peers[].bfd.multihop`
//! says which. A peer the kernel has no route to gets a reason instead, shown by `lattice
//! peers` while latticed keeps trying.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};

use ipnet::IpNet;

/// An address of ours and the interface it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Connected {
    /// The interface.
    pub ifname: String,
    /// Our address with its prefix length: the connected prefix.
    pub net: IpNet,
}

/// Where the session runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Path {
    /// RFC 5881: bound to `interface` when the peer is on one of its prefixes.
    Single {
        /// The interface of the connected prefix.
        interface: Option<String>,
        /// Our address (`None`: the kernel's choice).
        local: Option<IpAddr>,
    },
    /// RFC 5883 from `local`.
    Multi {
        /// Our address.
        local: IpAddr,
    },
}

/// Chooses the path to `peer`. `local`: `bgp.peers[].local_address`; `multihop`: the override;
/// `connected`: our addresses; `route_source`: the source the kernel's route to the peer
/// would use (asked only when needed).
pub(super) fn choose(
    peer: IpAddr,
    local: Option<IpAddr>,
    multihop: Option<bool>,
    connected: &[Connected],
    route_source: impl FnOnce() -> io::Result<IpAddr>,
) -> Result<Path, String> {
    let mut on_link: Vec<&Connected> = connected
        .iter()
        .filter(|c| c.net.contains(&peer) && c.net.addr() != peer)
        .collect();
    // The most specific prefix wins, as in the kernel's routing.
    on_link.sort_by_key(|c| std::cmp::Reverse(c.net.prefix_len()));
    let link_local = is_link_local(peer);
    if link_local && on_link.len() > 1 {
        return Err(format!(
            "{peer} is link-local and on several interfaces ({}): BFD cannot tell which",
            on_link
                .iter()
                .map(|c| c.ifname.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let on_link = on_link.first();
    let routed = |route_source: Box<dyn FnOnce() -> io::Result<IpAddr>>| match local {
        Some(l) => Ok(l),
        None => route_source().map_err(|e| format!("no route to {peer} ({e})")),
    };
    match (multihop, on_link) {
        (None | Some(false), Some(c)) => Ok(Path::Single {
            interface: Some(c.ifname.clone()),
            local: Some(local.unwrap_or(c.net.addr())),
        }),
        (Some(false), None) => Ok(Path::Single {
            interface: None,
            local: Some(routed(Box::new(route_source))?),
        }),
        (Some(true), Some(c)) => Ok(Path::Multi {
            local: local.unwrap_or(c.net.addr()),
        }),
        (None | Some(true), None) => Ok(Path::Multi {
            local: routed(Box::new(route_source))?,
        }),
    }
}

/// An interface peer's path: RFC 5881 single hop on `ifname`, from our link-local address on
/// it (the BGP session's own, RFC 5881 §5: IPv6 link-local sessions run between link-local
/// addresses). Not yet there: a reason (the link is down, or still in DAD).
pub(super) fn interface(ifname: &str, connected: &[Connected]) -> Result<Path, String> {
    let ours = connected
        .iter()
        .find(|c| c.ifname == ifname && is_link_local(c.net.addr()))
        .ok_or_else(|| format!("{ifname} has no IPv6 link-local address of ours yet"))?;
    Ok(Path::Single {
        interface: Some(ifname.to_string()),
        local: Some(ours.net.addr()),
    })
}

fn is_link_local(a: IpAddr) -> bool {
    matches!(a, IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80)
}

/// The source address of the kernel's route to `peer`: a UDP socket connected to it (which
/// sends nothing) says; "network unreachable" when there is no route.
pub(super) fn route_source(peer: IpAddr) -> io::Result<IpAddr> {
    let any: SocketAddr = match peer {
        IpAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock = UdpSocket::bind(any)?;
    sock.connect((peer, bfd::driver::MULTIHOP_PORT))?;
    let source = sock.local_addr()?.ip();
    if source.is_unspecified() {
        return Err(io::Error::other("the kernel chose no source address"));
    }
    Ok(source)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn on(ifname: &str, net: &str) -> Connected {
        Connected {
            ifname: ifname.into(),
            net: net.parse().unwrap(),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn no_route() -> io::Result<IpAddr> {
        Err(io::Error::other("Network is unreachable"))
    }

    fn via(s: &'static str) -> impl FnOnce() -> io::Result<IpAddr> {
        move || Ok(ip(s))
    }

    #[test]
    fn an_interface_peer_runs_single_hop_from_our_link_local_address_on_it() {
        let host = [
            on("eth1", "10.0.11.2/30"),
            on("eth1", "fe80::1/64"),
            on("eth2", "fe80::2/64"),
        ];
        assert_eq!(
            interface("eth2", &host),
            Ok(Path::Single {
                interface: Some("eth2".into()),
                local: Some(ip("fe80::2")),
            })
        );
        let why = interface("eth3", &host).unwrap_err();
        assert_eq!(why, "eth3 has no IPv6 link-local address of ours yet");
    }

    const HOST: [(&str, &str); 3] = [
        ("eth1", "10.0.11.2/30"),
        ("eth2", "10.0.12.2/30"),
        ("eth2", "fd00:12::2/64"),
    ];

    fn host() -> Vec<Connected> {
        HOST.iter().map(|(i, n)| on(i, n)).collect()
    }

    #[test]
    fn a_peer_on_a_connected_prefix_is_single_hop_on_that_interface_from_our_address() {
        let path = choose(ip("10.0.12.1"), None, None, &host(), no_route).unwrap();
        assert_eq!(
            path,
            Path::Single {
                interface: Some("eth2".into()),
                local: Some(ip("10.0.12.2"))
            }
        );
        let path = choose(ip("fd00:12::1"), None, None, &host(), no_route).unwrap();
        assert!(matches!(path, Path::Single { interface: Some(i), .. } if i == "eth2"));
        // A configured local address wins.
        let path = choose(
            ip("10.0.11.1"),
            Some(ip("10.9.9.9")),
            None,
            &host(),
            no_route,
        );
        assert_eq!(
            path.unwrap(),
            Path::Single {
                interface: Some("eth1".into()),
                local: Some(ip("10.9.9.9"))
            }
        );
    }

    #[test]
    fn a_peer_elsewhere_is_multihop_from_the_routes_source_or_a_reason() {
        let path = choose(ip("192.0.2.7"), None, None, &host(), via("10.0.11.2")).unwrap();
        assert_eq!(
            path,
            Path::Multi {
                local: ip("10.0.11.2")
            }
        );
        let why = choose(ip("192.0.2.7"), None, None, &host(), no_route).unwrap_err();
        assert!(why.starts_with("no route to 192.0.2.7 ("), "{why}");
        // A configured local address needs no route lookup.
        let path = choose(ip("192.0.2.7"), Some(ip("10.0.12.2")), None, &[], no_route);
        assert_eq!(
            path.unwrap(),
            Path::Multi {
                local: ip("10.0.12.2")
            }
        );
    }

    #[test]
    fn the_override_forces_either_kind() {
        let path = choose(ip("10.0.11.1"), None, Some(true), &host(), no_route).unwrap();
        assert_eq!(
            path,
            Path::Multi {
                local: ip("10.0.11.2")
            }
        );
        let path = choose(
            ip("192.0.2.7"),
            None,
            Some(false),
            &host(),
            via("10.0.12.2"),
        )
        .unwrap();
        assert_eq!(
            path,
            Path::Single {
                interface: None,
                local: Some(ip("10.0.12.2"))
            }
        );
    }

    #[test]
    fn our_own_address_and_an_ambiguous_link_local_peer_are_not_guessed() {
        // The peer address is ours: not on-link (the kernel would loop it back).
        let why = choose(ip("10.0.11.2"), None, None, &host(), no_route).unwrap_err();
        assert!(why.starts_with("no route"), "{why}");
        let ll = [on("eth1", "fe80::2/64"), on("eth2", "fe80::3/64")];
        let why = choose(ip("fe80::1"), None, None, &ll, no_route).unwrap_err();
        assert!(why.contains("eth1, eth2"), "{why}");
    }

    #[test]
    fn the_kernels_route_gives_a_source_or_says_unreachable() {
        // Loopback always routes, from itself.
        assert_eq!(route_source(ip("127.0.0.1")).unwrap(), ip("127.0.0.1"));
    }
}
