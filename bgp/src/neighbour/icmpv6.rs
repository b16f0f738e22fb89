//! The few ICMPv6 messages an interface peer reads and writes: Router Solicitation and
//! Advertisement, Neighbor Solicitation and Advertisement (RFC 4861 §4), Echo (RFC 4443 §4).
//! Checksums are the kernel's business on a raw ICMPv6 socket (RFC 3542 §3.1), both ways.
#![deny(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::panic
)]

use std::net::Ipv6Addr;

/// ICMPv6 types (RFC 4443 §2.1, RFC 4861 §4).
pub mod kind {
    /// Echo Request.
    pub const ECHO_REQUEST: u8 = 128;
    /// Echo Reply.
    pub const ECHO_REPLY: u8 = 129;
    /// Router Solicitation.
    pub const ROUTER_SOLICITATION: u8 = 133;
    /// Router Advertisement.
    pub const ROUTER_ADVERTISEMENT: u8 = 134;
    /// Neighbor Solicitation.
    pub const NEIGHBOR_SOLICITATION: u8 = 135;
    /// Neighbor Advertisement.
    pub const NEIGHBOR_ADVERTISEMENT: u8 = 136;
}

/// ND option types (RFC 4861 §4.6).
const OPT_SOURCE_LINK_LAYER: u8 = 1;
const OPT_TARGET_LINK_LAYER: u8 = 2;

/// A 48-bit link-layer (MAC) address.
pub type Mac = [u8; 6];

/// A message as far as neighbour discovery cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv6 {
    /// Router Solicitation, with its Source Link-Layer Address option if any.
    RouterSolicitation {
        /// The sender's MAC.
        source_mac: Option<Mac>,
    },
    /// Router Advertisement.
    RouterAdvertisement {
        /// Router Lifetime (s); 0: not a default router.
        lifetime: u16,
        /// The sender's MAC.
        source_mac: Option<Mac>,
    },
    /// Neighbor Solicitation.
    NeighborSolicitation {
        /// The address being resolved.
        target: Ipv6Addr,
        /// The sender's MAC.
        source_mac: Option<Mac>,
    },
    /// Neighbor Advertisement.
    NeighborAdvertisement {
        /// The address advertised.
        target: Ipv6Addr,
        /// The MAC it has (Target Link-Layer Address option).
        target_mac: Option<Mac>,
    },
    /// Echo Reply.
    EchoReply {
        /// Identifier.
        id: u16,
        /// Sequence number.
        seq: u16,
    },
    /// Any other type, or an Echo Request: nothing to learn from.
    Other(u8),
}

/// Why a message was dropped (RFC 4861 §6.1.1, §6.1.2, §7.1.1, §7.1.2: silently).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    /// Shorter than its type's fixed part.
    #[error("ICMPv6 type {0} shorter than its fixed part")]
    Short(u8),
    /// Code other than 0 for an ND message.
    #[error("ICMPv6 type {0} with code {1}")]
    Code(u8, u8),
    /// An option of length 0, or running past the end.
    #[error("ICMPv6 type {0} with a bad option")]
    Option(u8),
}

/// Decode `bytes` (the ICMPv6 message, from its type octet on).
pub fn parse(bytes: &[u8]) -> Result<Icmpv6, Malformed> {
    let (&kind, rest) = bytes.split_first().ok_or(Malformed::Short(0))?;
    let code = rest.first().copied().unwrap_or(0);
    let nd = |fixed: usize| -> Result<&[u8], Malformed> {
        if bytes.len() < fixed {
            return Err(Malformed::Short(kind));
        }
        if code != 0 {
            return Err(Malformed::Code(kind, code));
        }
        Ok(bytes.get(fixed..).unwrap_or_default())
    };
    Ok(match kind {
        kind::ROUTER_SOLICITATION => Icmpv6::RouterSolicitation {
            source_mac: option_mac(kind, nd(8)?, OPT_SOURCE_LINK_LAYER)?,
        },
        kind::ROUTER_ADVERTISEMENT => {
            let options = nd(16)?;
            Icmpv6::RouterAdvertisement {
                lifetime: u16_at(bytes, 6).ok_or(Malformed::Short(kind))?,
                source_mac: option_mac(kind, options, OPT_SOURCE_LINK_LAYER)?,
            }
        }
        kind::NEIGHBOR_SOLICITATION => {
            let options = nd(24)?;
            Icmpv6::NeighborSolicitation {
                target: addr_at(bytes, 8).ok_or(Malformed::Short(kind))?,
                source_mac: option_mac(kind, options, OPT_SOURCE_LINK_LAYER)?,
            }
        }
        kind::NEIGHBOR_ADVERTISEMENT => {
            let options = nd(24)?;
            Icmpv6::NeighborAdvertisement {
                target: addr_at(bytes, 8).ok_or(Malformed::Short(kind))?,
                target_mac: option_mac(kind, options, OPT_TARGET_LINK_LAYER)?,
            }
        }
        kind::ECHO_REPLY => Icmpv6::EchoReply {
            id: u16_at(bytes, 4).ok_or(Malformed::Short(kind))?,
            seq: u16_at(bytes, 6).ok_or(Malformed::Short(kind))?,
        },
        other => Icmpv6::Other(other),
    })
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
}

fn addr_at(bytes: &[u8], at: usize) -> Option<Ipv6Addr> {
    let b: [u8; 16] = bytes.get(at..at.checked_add(16)?)?.try_into().ok()?;
    Some(Ipv6Addr::from(b))
}

/// The MAC in the first option of type `want`; every option must be well formed (length in
/// units of 8 octets, not 0, within the message).
fn option_mac(kind: u8, mut options: &[u8], want: u8) -> Result<Option<Mac>, Malformed> {
    let mut found = None;
    while !options.is_empty() {
        let (&ty, rest) = options.split_first().ok_or(Malformed::Option(kind))?;
        let units = usize::from(*rest.first().ok_or(Malformed::Option(kind))?);
        let len = units.checked_mul(8).ok_or(Malformed::Option(kind))?;
        if len == 0 || len > options.len() {
            return Err(Malformed::Option(kind));
        }
        let (option, tail) = options.split_at(len);
        if ty == want && found.is_none() {
            found = option.get(2..8).and_then(|m| Mac::try_from(m).ok());
        }
        options = tail;
    }
    Ok(found)
}

/// A link-layer address option of type `ty` (8 octets for a 6-octet MAC).
fn mac_option(ty: u8, mac: Mac) -> [u8; 8] {
    let [a, b, c, d, e, f] = mac;
    [ty, 1, a, b, c, d, e, f]
}

/// A Router Advertisement from a host that is nobody's default router: Router Lifetime 0
/// (RFC 4861 §4.2), no prefixes, no flags; only our MAC, so the neighbour need not ask.
pub fn router_advertisement(mac: Option<Mac>) -> Vec<u8> {
    let mut m = vec![kind::ROUTER_ADVERTISEMENT, 0, 0, 0];
    // Cur Hop Limit 0 (unspecified), flags 0, Router Lifetime 0, Reachable and Retrans 0.
    m.extend_from_slice(&[0; 12]);
    if let Some(mac) = mac {
        m.extend_from_slice(&mac_option(OPT_SOURCE_LINK_LAYER, mac));
    }
    m
}

/// A Router Solicitation (RFC 4861 §4.1): routers on the link answer with an advertisement.
pub fn router_solicitation(mac: Option<Mac>) -> Vec<u8> {
    let mut m = vec![kind::ROUTER_SOLICITATION, 0, 0, 0, 0, 0, 0, 0];
    if let Some(mac) = mac {
        m.extend_from_slice(&mac_option(OPT_SOURCE_LINK_LAYER, mac));
    }
    m
}

/// An Echo Request (RFC 4443 §4.1): every node on the link answers one sent to all-nodes, and
/// resolving our address to answer makes it send a Neighbor Solicitation too.
pub fn echo_request(id: u16, seq: u16) -> Vec<u8> {
    let [i0, i1] = id.to_be_bytes();
    let [s0, s1] = seq.to_be_bytes();
    vec![kind::ECHO_REQUEST, 0, 0, 0, i0, i1, s0, s1]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    const MAC: Mac = [0x02, 0x42, 0xac, 0x11, 0x00, 0x02];

    #[test]
    fn what_we_send_decodes_as_what_it_is() {
        assert_eq!(
            parse(&router_advertisement(Some(MAC))),
            Ok(Icmpv6::RouterAdvertisement {
                lifetime: 0,
                source_mac: Some(MAC)
            })
        );
        assert_eq!(
            parse(&router_solicitation(None)),
            Ok(Icmpv6::RouterSolicitation { source_mac: None })
        );
        let mut reply = echo_request(7, 9);
        reply[0] = kind::ECHO_REPLY;
        assert_eq!(parse(&reply), Ok(Icmpv6::EchoReply { id: 7, seq: 9 }));
    }

    /// An RA as FRR 8.4.4 sends it on an interface with a `neighbor IF interface` (captured
    /// with tcpdump in a lab namespace): hop limit 64, no flags, Router Lifetime 30 s, reachable
    /// and retrans 0, its MAC.
    #[test]
    fn an_frr_router_advertisement() {
        let bytes = [
            0x86, 0x00, 0xf6, 0xb6, 0x40, 0x00, 0x00, 0x1e, 0, 0, 0, 0, 0, 0, 0,
            0, // fixed part
            0x01, 0x01, 0x96, 0x25, 0x69, 0x36, 0x24, 0x4d, // source link-layer address
        ];
        assert_eq!(
            parse(&bytes),
            Ok(Icmpv6::RouterAdvertisement {
                lifetime: 30,
                source_mac: Some([0x96, 0x25, 0x69, 0x36, 0x24, 0x4d]),
            })
        );
    }

    #[test]
    fn neighbor_messages_give_target_and_mac() {
        let target: Ipv6Addr = "fe80::1".parse().unwrap();
        let mut ns = vec![kind::NEIGHBOR_SOLICITATION, 0, 0, 0, 0, 0, 0, 0];
        ns.extend_from_slice(&target.octets());
        ns.extend_from_slice(&mac_option(OPT_SOURCE_LINK_LAYER, MAC));
        assert_eq!(
            parse(&ns),
            Ok(Icmpv6::NeighborSolicitation {
                target,
                source_mac: Some(MAC)
            })
        );
        let mut na = vec![kind::NEIGHBOR_ADVERTISEMENT, 0, 0, 0, 0x60, 0, 0, 0];
        na.extend_from_slice(&target.octets());
        na.extend_from_slice(&mac_option(OPT_TARGET_LINK_LAYER, MAC));
        assert_eq!(
            parse(&na),
            Ok(Icmpv6::NeighborAdvertisement {
                target,
                target_mac: Some(MAC)
            })
        );
    }

    proptest::proptest! {
        /// Whatever arrives on the link, parsing returns (it never panics).
        #[test]
        fn any_bytes_parse_or_are_refused(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)) {
            let _ = parse(&bytes);
        }
    }

    #[test]
    fn malformed_messages_are_refused_never_panic() {
        let ra = router_advertisement(Some(MAC));
        for cut in 0..ra.len() {
            let r = parse(&ra[..cut]);
            assert!(r.is_err() || cut == 16, "{cut}: {r:?}");
        }
        let mut zero_option = ra.clone();
        zero_option[17] = 0;
        assert_eq!(
            parse(&zero_option),
            Err(Malformed::Option(kind::ROUTER_ADVERTISEMENT))
        );
        let mut long_option = ra.clone();
        long_option[17] = 2;
        assert!(parse(&long_option).is_err());
        let mut code = ra;
        code[1] = 1;
        assert_eq!(
            parse(&code),
            Err(Malformed::Code(kind::ROUTER_ADVERTISEMENT, 1))
        );
        assert_eq!(parse(&[1, 0, 0, 0]), Ok(Icmpv6::Other(1)));
        assert!(parse(&[]).is_err());
    }
}
