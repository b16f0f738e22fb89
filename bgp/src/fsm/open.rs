//! Building our OPEN and checking the peer's (RFC 4271 §4.2, §6.2; RFC 6793; RFC 5492).

use std::net::Ipv4Addr;

use crate::wire::{open_subcode, Capability, ErrorCode, NotificationMsg, OpenMsg, AS_TRANS};

/// AFI 1 (IPv4), SAFI 1 (unicast).
const IPV4_UNICAST: Capability = Capability::Multiprotocol { afi: 1, safi: 1 };

/// What both sides agreed in their OPENs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The peer's BGP identifier.
    pub remote_router_id: Ipv4Addr,
    /// The peer's ASN (from the 4-octet capability when present).
    pub remote_as: u32,
    /// Hold time in use: the smaller of both proposals (0 = no keepalives, no hold timer).
    pub hold_time: u16,
    /// Both sides announced 4-octet AS support (RFC 6793 §4): AS_PATH uses 4-octet ASNs.
    pub four_octet_as: bool,
    /// The peer supports ROUTE-REFRESH (RFC 2918).
    pub route_refresh: bool,
}

/// Our OPEN: 4-octet AS, IPv4 unicast, route refresh.
pub fn build_open(local_as: u32, router_id: Ipv4Addr, hold_time: u16) -> OpenMsg {
    OpenMsg {
        version: 4,
        my_as: u16::try_from(local_as).unwrap_or(AS_TRANS),
        hold_time,
        router_id,
        capabilities: vec![
            IPV4_UNICAST,
            Capability::RouteRefresh,
            Capability::FourOctetAs(local_as),
        ],
    }
}

/// Check the peer's OPEN against the configuration; the NOTIFICATION to send if it is refused.
pub fn check_open(
    open: &OpenMsg,
    expected_as: u32,
    local_router_id: Ipv4Addr,
    local_hold: u16,
    local_as: u32,
) -> Result<Negotiated, NotificationMsg> {
    let refuse = |subcode: u8, data: Vec<u8>| NotificationMsg {
        code: ErrorCode::OpenMessage as u8,
        subcode,
        data,
    };
    if open.version != 4 {
        return Err(refuse(
            open_subcode::UNSUPPORTED_VERSION_NUMBER,
            4u16.to_be_bytes().to_vec(),
        ));
    }
    let four_octet = open.capabilities.iter().find_map(|c| match c {
        Capability::FourOctetAs(asn) => Some(*asn),
        _ => None,
    });
    let remote_as = four_octet.unwrap_or(u32::from(open.my_as));
    // RFC 6793 §4.2: a 2-octet field of AS_TRANS with no capability cannot be checked: refuse.
    if remote_as != expected_as {
        return Err(refuse(
            open_subcode::BAD_PEER_AS,
            open.my_as.to_be_bytes().to_vec(),
        ));
    }
    if matches!(open.hold_time, 1 | 2) {
        return Err(refuse(open_subcode::UNACCEPTABLE_HOLD_TIME, vec![]));
    }
    // RFC 6286 §2.2: the identifier must be non-zero, and differ from ours on iBGP.
    let same_id_ibgp = open.router_id == local_router_id && remote_as == local_as;
    if open.router_id.is_unspecified() || same_id_ibgp {
        return Err(refuse(
            open_subcode::BAD_BGP_IDENTIFIER,
            open.router_id.octets().to_vec(),
        ));
    }
    Ok(Negotiated {
        remote_router_id: open.router_id,
        remote_as,
        hold_time: local_hold.min(open.hold_time),
        four_octet_as: four_octet.is_some(),
        route_refresh: open.capabilities.contains(&Capability::RouteRefresh),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer_open(my_as: u16, hold: u16, id: [u8; 4], caps: Vec<Capability>) -> OpenMsg {
        OpenMsg {
            version: 4,
            my_as,
            hold_time: hold,
            router_id: Ipv4Addr::from(id),
            capabilities: caps,
        }
    }

    #[test]
    fn big_asn_goes_in_the_capability_with_as_trans_outside() {
        let o = build_open(4_200_000_000, Ipv4Addr::new(1, 1, 1, 1), 90);
        assert_eq!(o.my_as, AS_TRANS);
        assert!(o
            .capabilities
            .contains(&Capability::FourOctetAs(4_200_000_000)));
        assert_eq!(
            build_open(65101, Ipv4Addr::new(1, 1, 1, 1), 90).my_as,
            65101
        );
    }

    #[test]
    fn negotiates_smaller_hold_and_four_octet_as() {
        let o = peer_open(
            65001,
            9,
            [10, 0, 0, 1],
            vec![Capability::FourOctetAs(65001), Capability::RouteRefresh],
        );
        let n = check_open(&o, 65001, Ipv4Addr::new(10, 0, 0, 2), 90, 65101).unwrap();
        assert_eq!(n.hold_time, 9);
        assert!(n.four_octet_as && n.route_refresh);
        assert_eq!(n.remote_as, 65001);
    }

    #[test]
    fn two_octet_peer_is_accepted_without_four_octet_as() {
        let o = peer_open(65001, 180, [10, 0, 0, 1], vec![]);
        let n = check_open(&o, 65001, Ipv4Addr::new(10, 0, 0, 2), 90, 65101).unwrap();
        assert!(!n.four_octet_as);
        assert_eq!(n.hold_time, 90);
    }

    #[test]
    fn refusals_carry_the_rfc_subcode() {
        let id = Ipv4Addr::new(10, 0, 0, 2);
        let cases = [
            (peer_open(65002, 9, [10, 0, 0, 1], vec![]), 2u8),
            (peer_open(65001, 2, [10, 0, 0, 1], vec![]), 6),
            (peer_open(65001, 9, [0, 0, 0, 0], vec![]), 3),
            (
                peer_open(
                    AS_TRANS,
                    9,
                    [10, 0, 0, 1],
                    vec![Capability::FourOctetAs(70000)],
                ),
                2,
            ),
        ];
        for (open, subcode) in cases {
            let n = check_open(&open, 65001, id, 90, 65101).unwrap_err();
            assert_eq!((n.code, n.subcode), (2, subcode), "{open:?}");
        }
        let mut bad_version = peer_open(65001, 9, [10, 0, 0, 1], vec![]);
        bad_version.version = 3;
        assert_eq!(
            check_open(&bad_version, 65001, id, 90, 65101)
                .unwrap_err()
                .data,
            vec![0, 4]
        );
        let ibgp_same_id = peer_open(65101, 9, [10, 0, 0, 2], vec![]);
        assert_eq!(
            check_open(&ibgp_same_id, 65101, id, 90, 65101)
                .unwrap_err()
                .subcode,
            3
        );
    }
}
