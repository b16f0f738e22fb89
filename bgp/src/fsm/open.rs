//! Building our OPEN and checking the peer's (RFC 4271 §4.2, §6.2; RFC 6793; RFC 5492).

use std::net::Ipv4Addr;

use crate::wire::{
    afi, open_subcode, safi, Capability, ErrorCode, ExtendedNextHopEntry, GracefulRestartCap,
    GracefulRestartFamily, NotificationMsg, OpenMsg, AS_TRANS,
};

/// What we announce in our OPEN beyond the fixed 4-octet AS and route-refresh capabilities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOptions {
    /// Multiprotocol IPv4 unicast.
    pub ipv4: bool,
    /// Multiprotocol IPv6 unicast.
    pub ipv6: bool,
    /// Graceful Restart (RFC 4724); `None` leaves the capability out.
    pub graceful_restart: Option<GrOptions>,
    /// Hostname for the FQDN capability (FRR shows it in `show bgp neighbors`).
    pub hostname: Option<String>,
    /// Extended Message (RFC 8654).
    pub extended_message: bool,
    /// Extended Next Hop (RFC 8950): IPv4 unicast routes may carry an IPv6 next hop.
    pub extended_next_hop: bool,
}

/// The AS a peer must open with (RFC 4271 §6.2: otherwise Bad Peer AS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RemoteAs {
    /// Exactly this AS.
    Number(u32),
    /// Any AS but ours (FRR's `remote-as external`): eBGP with whoever is there.
    External,
    /// Our own AS (FRR's `remote-as internal`).
    Internal,
}

impl RemoteAs {
    /// Whether a peer opening with `asn` is acceptable when we are `local_as`.
    pub fn accepts(self, asn: u32, local_as: u32) -> bool {
        match self {
            RemoteAs::Number(n) => asn == n,
            RemoteAs::External => asn != local_as,
            RemoteAs::Internal => asn == local_as,
        }
    }

    /// The configured number, if there is one.
    pub fn number(self) -> Option<u32> {
        match self {
            RemoteAs::Number(n) => Some(n),
            RemoteAs::External | RemoteAs::Internal => None,
        }
    }
}

impl From<u32> for RemoteAs {
    fn from(n: u32) -> Self {
        RemoteAs::Number(n)
    }
}

impl std::fmt::Display for RemoteAs {
    /// `65001`, `external` or `internal`, as configured.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RemoteAs::Number(n) => n.fmt(f),
            RemoteAs::External => f.write_str("external"),
            RemoteAs::Internal => f.write_str("internal"),
        }
    }
}

/// The one Extended Next Hop pairing we use: IPv4 unicast NLRI over an IPv6 next hop.
const ENHE_IPV4_OVER_IPV6: ExtendedNextHopEntry = ExtendedNextHopEntry {
    afi: afi::IPV4,
    safi: 1,
    next_hop_afi: afi::IPV6,
};

impl Default for OpenOptions {
    /// IPv4 unicast, graceful-restart helper with a 120 s restart time, extended messages.
    fn default() -> Self {
        Self {
            ipv4: true,
            ipv6: false,
            graceful_restart: Some(GrOptions::default()),
            hostname: None,
            extended_message: true,
            extended_next_hop: false,
        }
    }
}

/// Our side of graceful restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrOptions {
    /// Restart Time we announce: how long peers keep our routes while we restart.
    pub restart_time: u16,
    /// Restart State bit: this speaker has just restarted (RFC 4724 §3).
    pub restarting: bool,
    /// Forwarding State bit for our families: the kernel routes survived the restart.
    pub forwarding: bool,
}

impl Default for GrOptions {
    fn default() -> Self {
        Self {
            restart_time: 120,
            restarting: false,
            forwarding: false,
        }
    }
}

/// The peer's graceful-restart capability, as far as the session needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerGr {
    /// How long to keep its routes after the session drops (RFC 4724 §4.2).
    pub restart_time: u16,
    /// It says it has just restarted.
    pub restarting: bool,
    /// IPv4 unicast listed; `Some(true)` when its forwarding state was preserved.
    pub ipv4: Option<bool>,
    /// IPv6 unicast listed, likewise.
    pub ipv6: Option<bool>,
}

impl PeerGr {
    fn from_cap(cap: &GracefulRestartCap) -> Self {
        let family = |a: u16| {
            cap.families
                .iter()
                .find(|f| f.afi == a && f.safi == safi::UNICAST)
                .map(|f| f.forwarding)
        };
        Self {
            restart_time: cap.restart_time,
            restarting: cap.restarting(),
            ipv4: family(afi::IPV4),
            ipv6: family(afi::IPV6),
        }
    }
}

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
    /// Both sides announced Enhanced Route Refresh (RFC 7313).
    pub enhanced_route_refresh: bool,
    /// Both sides announced Extended Message (RFC 8654): messages up to 65535 octets.
    pub extended_message: bool,
    /// IPv4 unicast is exchanged (both announced it, or the peer announced no family at all,
    /// RFC 4760 §8).
    pub ipv4: bool,
    /// IPv6 unicast is exchanged.
    pub ipv6: bool,
    /// The peer's graceful-restart capability, when both sides announced one.
    pub peer_gr: Option<PeerGr>,
    /// Both sides announced IPv4 unicast over IPv6 next hops (RFC 8950).
    pub extended_next_hop: bool,
}

/// Our OPEN with the default options: 4-octet AS, IPv4 unicast, route refresh.
pub fn build_open(local_as: u32, router_id: Ipv4Addr, hold_time: u16) -> OpenMsg {
    let opts = OpenOptions {
        graceful_restart: None,
        extended_message: false,
        ..OpenOptions::default()
    };
    build_open_with(local_as, router_id, hold_time, &opts)
}

/// Our OPEN with the capabilities `opts` asks for.
pub fn build_open_with(
    local_as: u32,
    router_id: Ipv4Addr,
    hold_time: u16,
    opts: &OpenOptions,
) -> OpenMsg {
    let mut capabilities = Vec::new();
    for (on, a) in [(opts.ipv4, afi::IPV4), (opts.ipv6, afi::IPV6)] {
        if on {
            capabilities.push(Capability::Multiprotocol {
                afi: a,
                safi: safi::UNICAST,
            });
        }
    }
    capabilities.push(Capability::RouteRefresh);
    capabilities.push(Capability::EnhancedRouteRefresh);
    capabilities.push(Capability::FourOctetAs(local_as));
    if opts.extended_message {
        capabilities.push(Capability::ExtendedMessage);
    }
    if opts.extended_next_hop && opts.ipv4 {
        capabilities.push(Capability::ExtendedNextHop(vec![ENHE_IPV4_OVER_IPV6]));
    }
    if let Some(gr) = opts.graceful_restart {
        let families = [(opts.ipv4, afi::IPV4), (opts.ipv6, afi::IPV6)]
            .into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, a)| GracefulRestartFamily {
                afi: a,
                safi: safi::UNICAST,
                forwarding: gr.forwarding,
            })
            .collect();
        // No N bit (RFC 8538): a NOTIFICATION ends graceful restart, as in RFC 4724.
        let flags = if gr.restarting {
            GracefulRestartCap::RESTART_STATE
        } else {
            0
        };
        capabilities.push(Capability::GracefulRestart(GracefulRestartCap {
            flags,
            restart_time: gr.restart_time.min(0x0fff),
            families,
        }));
    }
    if let Some(host) = &opts.hostname {
        capabilities.push(Capability::Fqdn {
            hostname: host.as_bytes().to_vec(),
            domain: Vec::new(),
        });
    }
    OpenMsg {
        version: 4,
        my_as: u16::try_from(local_as).unwrap_or(AS_TRANS),
        hold_time,
        router_id,
        capabilities,
    }
}

/// Check the peer's OPEN against the configuration; the NOTIFICATION to send if it is refused.
pub fn check_open(
    open: &OpenMsg,
    expected_as: impl Into<RemoteAs>,
    local_router_id: Ipv4Addr,
    local_hold: u16,
    local_as: u32,
    opts: &OpenOptions,
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
    let as_trans_alone = four_octet.is_none() && open.my_as == AS_TRANS;
    if as_trans_alone || !expected_as.into().accepts(remote_as, local_as) {
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
    let caps = &open.capabilities;
    let announced = |a: u16| {
        caps.contains(&Capability::Multiprotocol {
            afi: a,
            safi: safi::UNICAST,
        })
    };
    let no_families = !caps
        .iter()
        .any(|c| matches!(c, Capability::Multiprotocol { .. }));
    let peer_gr = caps.iter().find_map(|c| match c {
        Capability::GracefulRestart(gr) => Some(PeerGr::from_cap(gr)),
        _ => None,
    });
    Ok(Negotiated {
        remote_router_id: open.router_id,
        remote_as,
        hold_time: local_hold.min(open.hold_time),
        four_octet_as: four_octet.is_some(),
        route_refresh: caps.contains(&Capability::RouteRefresh),
        enhanced_route_refresh: caps.contains(&Capability::EnhancedRouteRefresh),
        extended_message: opts.extended_message && caps.contains(&Capability::ExtendedMessage),
        ipv4: opts.ipv4 && (announced(afi::IPV4) || no_families),
        ipv6: opts.ipv6 && announced(afi::IPV6),
        peer_gr: peer_gr.filter(|_| opts.graceful_restart.is_some()),
        extended_next_hop: opts.extended_next_hop
            && caps.iter().any(
                |c| matches!(c, Capability::ExtendedNextHop(e) if e.contains(&ENHE_IPV4_OVER_IPV6)),
            ),
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
        let n = check_open(
            &o,
            65001,
            Ipv4Addr::new(10, 0, 0, 2),
            90,
            65101,
            &OpenOptions::default(),
        )
        .unwrap();
        assert_eq!(n.hold_time, 9);
        assert!(n.four_octet_as && n.route_refresh);
        assert_eq!(n.remote_as, 65001);
    }

    #[test]
    fn two_octet_peer_is_accepted_without_four_octet_as() {
        let o = peer_open(65001, 180, [10, 0, 0, 1], vec![]);
        let n = check_open(
            &o,
            65001,
            Ipv4Addr::new(10, 0, 0, 2),
            90,
            65101,
            &OpenOptions::default(),
        )
        .unwrap();
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
            let n = check_open(&open, 65001, id, 90, 65101, &OpenOptions::default()).unwrap_err();
            assert_eq!((n.code, n.subcode), (2, subcode), "{open:?}");
        }
        let mut bad_version = peer_open(65001, 9, [10, 0, 0, 1], vec![]);
        bad_version.version = 3;
        assert_eq!(
            check_open(&bad_version, 65001, id, 90, 65101, &OpenOptions::default())
                .unwrap_err()
                .data,
            vec![0, 4]
        );
        // `external` takes any AS but ours; `internal` only ours.
        let from = |asn: u16| peer_open(asn, 9, [10, 0, 0, 1], vec![]);
        let ok = |o: &OpenMsg, r: RemoteAs| {
            check_open(o, r, id, 90, 65101, &OpenOptions::default()).map(|n| n.remote_as)
        };
        assert_eq!(ok(&from(65002), RemoteAs::External), Ok(65002));
        assert_eq!(ok(&from(65101), RemoteAs::External).unwrap_err().subcode, 2);
        assert_eq!(ok(&from(65101), RemoteAs::Internal), Ok(65101));
        assert_eq!(ok(&from(65002), RemoteAs::Internal).unwrap_err().subcode, 2);
        assert_eq!(
            ok(&from(AS_TRANS), RemoteAs::External).unwrap_err().subcode,
            2
        );
        let ibgp_same_id = peer_open(65101, 9, [10, 0, 0, 2], vec![]);
        assert_eq!(
            check_open(&ibgp_same_id, 65101, id, 90, 65101, &OpenOptions::default())
                .unwrap_err()
                .subcode,
            3
        );
    }
}
