//! Property: `decode(encode(m)) == m` for every valid message of every type, in both AS widths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bgp::wire::{
    check_frame, decode, encode, AsSegment, Capability, CodecContext, ExtendedNextHopEntry,
    GracefulRestartCap, GracefulRestartFamily, LargeCommunity, Message, MpNextHop, MpReach,
    MpUnreach, NotificationMsg, OpenMsg, Origin, PathAttribute, RouteRefreshMsg, UpdateMsg,
};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;

fn capability() -> impl Strategy<Value = Capability> {
    prop_oneof![
        (any::<u16>(), any::<u8>()).prop_map(|(afi, safi)| Capability::Multiprotocol { afi, safi }),
        Just(Capability::RouteRefresh),
        Just(Capability::EnhancedRouteRefresh),
        Just(Capability::ExtendedMessage),
        any::<u32>().prop_map(Capability::FourOctetAs),
        prop::collection::vec((any::<u16>(), any::<u16>(), any::<u16>()), 0..4).prop_map(|v| {
            Capability::ExtendedNextHop(
                v.into_iter()
                    .map(|(afi, safi, next_hop_afi)| ExtendedNextHopEntry {
                        afi,
                        safi,
                        next_hop_afi,
                    })
                    .collect(),
            )
        }),
        (
            0u8..16,
            0u16..4096,
            prop::collection::vec((any::<u16>(), any::<u8>(), any::<bool>()), 0..4)
        )
            .prop_map(|(flags, restart_time, fams)| {
                Capability::GracefulRestart(GracefulRestartCap {
                    flags,
                    restart_time,
                    families: fams
                        .into_iter()
                        .map(|(afi, safi, forwarding)| GracefulRestartFamily {
                            afi,
                            safi,
                            forwarding,
                        })
                        .collect(),
                })
            }),
        (
            prop::collection::vec(any::<u8>(), 0..40),
            prop::collection::vec(any::<u8>(), 0..40)
        )
            .prop_map(|(hostname, domain)| Capability::Fqdn { hostname, domain }),
        (
            any::<u8>().prop_filter("known code", |c| ![1, 2, 5, 6, 64, 65, 70, 73].contains(c)),
            prop::collection::vec(any::<u8>(), 0..24)
        )
            .prop_map(|(code, value)| Capability::Unknown { code, value }),
    ]
}

fn open() -> impl Strategy<Value = OpenMsg> {
    // Up to 40 capabilities: enough to need RFC 9072 extended parameters now and then.
    (
        any::<u16>(),
        prop_oneof![Just(0u16), 3u16..],
        1u32..,
        prop::collection::vec(capability(), 0..40),
    )
        .prop_map(|(my_as, hold_time, id, capabilities)| OpenMsg {
            version: 4,
            my_as,
            hold_time,
            router_id: Ipv4Addr::from(id),
            capabilities,
        })
}

fn prefix() -> impl Strategy<Value = Ipv4Net> {
    (any::<u32>(), 0u8..=32)
        .prop_map(|(a, len)| Ipv4Net::new(Ipv4Addr::from(a), len).unwrap().trunc())
}

fn prefix6() -> impl Strategy<Value = IpNet> {
    (any::<u128>(), 0u8..=128)
        .prop_map(|(a, len)| IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), len).unwrap().trunc()))
}

fn as_path(max_asn: u32) -> impl Strategy<Value = Vec<AsSegment>> {
    let asns = prop::collection::vec(0..=max_asn, 1..=255);
    let segment = prop_oneof![
        asns.clone().prop_map(AsSegment::Sequence),
        asns.clone().prop_map(AsSegment::Set),
        asns.clone().prop_map(AsSegment::ConfedSequence),
        asns.prop_map(AsSegment::ConfedSet),
    ];
    prop::collection::vec(segment, 0..4)
}

fn next_hop() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>()
        .prop_map(Ipv4Addr::from)
        .prop_filter("not unicast", |a| {
            !(a.is_unspecified() || a.is_multicast() || a.is_broadcast())
        })
}

/// Unknown optional attributes, keyed by type code (those we do not decode); flags as decode
/// reports them: optional transitive always carries Partial because encode sets it.
fn unknowns() -> impl Strategy<Value = BTreeMap<u8, PathAttribute>> {
    let attr = (any::<bool>(), prop::collection::vec(any::<u8>(), 0..300));
    let code = (9u8..).prop_filter("decoded", |c| ![9, 10, 14, 15, 17, 18, 32].contains(c));
    prop::collection::btree_map(code, attr, 0..4).prop_map(|m| {
        m.into_iter()
            .map(|(type_code, (transitive, value))| {
                let flags = if transitive { 0xe0 } else { 0x80 };
                (
                    type_code,
                    PathAttribute::Unknown {
                        flags,
                        type_code,
                        value,
                    },
                )
            })
            .collect()
    })
}

fn update(max_asn: u32) -> impl Strategy<Value = UpdateMsg> {
    let origin = prop_oneof![
        Just(Origin::Igp),
        Just(Origin::Egp),
        Just(Origin::Incomplete)
    ];
    let known = (
        prop::option::of(origin),
        prop::option::of(as_path(max_asn)),
        prop::option::of(next_hop()),
        prop::option::of(any::<u32>()),
        prop::option::of(any::<u32>()),
        any::<bool>(),
    );
    // Aggregator ASNs that need AS4_AGGREGATOR towards a 2-octet speaker: a small real ASN
    // there would (rightly, RFC 6793 §4.2.3) make the decoder ignore AS4_PATH.
    let aggregator = (
        if max_asn > u32::from(u16::MAX) {
            65536u32..=u32::MAX
        } else {
            0u32..=65535
        },
        any::<u32>(),
    );
    let extra = (
        prop::option::of(aggregator),
        prop::option::of(prop::collection::vec(any::<u32>(), 1..20)),
        prop::option::of(prop::collection::vec(
            (any::<u32>(), any::<u32>(), any::<u32>()),
            1..10,
        )),
        prop::option::of((
            prop::collection::vec(prefix6(), 0..20),
            any::<u128>(),
            prop::option::of(any::<u128>()),
        )),
        prop::option::of(prop::collection::vec(prefix6(), 0..20)),
        // ORIGINATOR_ID and CLUSTER_LIST (RFC 4456), an empty list included.
        prop::option::of(any::<u32>()),
        prop::option::of(prop::collection::vec(any::<u32>(), 0..8)),
    );
    let prefixes = || prop::collection::vec(prefix(), 0..30);
    (known, extra, unknowns(), prefixes(), prefixes()).prop_map(
        |((origin, path, nh, med, lp, atomic), extra, unknowns, withdrawn, nlri)| {
            let (aggregator, communities, large, reach, unreach, originator, clusters) = extra;
            let mut attributes = Vec::new();
            let mp_nlri = reach.as_ref().is_some_and(|(n, _, _)| !n.is_empty());
            let have_nlri = !nlri.is_empty() || mp_nlri;
            // NLRI needs the three mandatory attributes (RFC 4271 §6.3).
            if let Some(o) = origin.or(have_nlri.then_some(Origin::Igp)) {
                attributes.push(PathAttribute::Origin(o));
            }
            if let Some(p) = path.or(have_nlri.then(Vec::new)) {
                attributes.push(PathAttribute::AsPath(p));
            }
            let classic_nlri = !nlri.is_empty();
            if let Some(n) = nh.or(classic_nlri.then_some(Ipv4Addr::new(10, 0, 0, 1))) {
                attributes.push(PathAttribute::NextHop(n));
            }
            attributes.extend(med.map(PathAttribute::MultiExitDisc));
            attributes.extend(lp.map(PathAttribute::LocalPref));
            attributes.extend(atomic.then_some(PathAttribute::AtomicAggregate));
            attributes.extend(aggregator.map(|(asn, a)| PathAttribute::Aggregator {
                asn,
                address: Ipv4Addr::from(a),
            }));
            attributes.extend(communities.map(PathAttribute::Communities));
            attributes.extend(originator.map(|id| PathAttribute::OriginatorId(Ipv4Addr::from(id))));
            attributes.extend(clusters.map(|ids| {
                PathAttribute::ClusterList(ids.into_iter().map(Ipv4Addr::from).collect())
            }));
            attributes.extend(reach.map(|(nlri, global, ll)| {
                PathAttribute::MpReach(MpReach {
                    afi: 2,
                    safi: 1,
                    next_hop: MpNextHop {
                        global: IpAddr::V6(Ipv6Addr::from(global)),
                        link_local: ll.map(Ipv6Addr::from),
                    },
                    nlri,
                })
            }));
            attributes.extend(unreach.map(|withdrawn| {
                PathAttribute::MpUnreach(MpUnreach {
                    afi: 2,
                    safi: 1,
                    withdrawn,
                })
            }));
            attributes.extend(large.map(|v| {
                PathAttribute::LargeCommunities(
                    v.into_iter()
                        .map(|(global, local1, local2)| LargeCommunity {
                            global,
                            local1,
                            local2,
                        })
                        .collect(),
                )
            }));
            attributes.extend(unknowns.into_values());
            UpdateMsg {
                withdrawn,
                attributes,
                nlri,
                recovered: vec![],
            }
        },
    )
}

fn message(max_asn: u32) -> impl Strategy<Value = Message> {
    prop_oneof![
        open().prop_map(Message::Open),
        update(max_asn).prop_map(Message::Update),
        (
            any::<u8>(),
            any::<u8>(),
            prop::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(
                |(code, subcode, data)| Message::Notification(NotificationMsg {
                    code,
                    subcode,
                    data
                })
            ),
        Just(Message::Keepalive),
        (any::<u16>(), any::<u8>(), any::<u8>()).prop_map(|(afi, subtype, safi)| {
            Message::RouteRefresh(RouteRefreshMsg { afi, subtype, safi })
        }),
    ]
}

fn round_trip(m: &Message, ctx: CodecContext) -> Result<(), TestCaseError> {
    let bytes = encode(m, ctx);
    prop_assert_eq!(
        check_frame(&bytes, usize::from(u16::MAX)),
        Ok(Some(bytes.len()))
    );
    prop_assert_eq!(decode(&bytes, ctx), Ok(m.clone()));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn round_trips_with_4_octet_asns(m in message(u32::MAX)) {
        round_trip(&m, CodecContext { four_octet_as: true })?;
    }

    #[test]
    fn round_trips_with_2_octet_asns(m in message(u32::from(u16::MAX))) {
        round_trip(&m, CodecContext { four_octet_as: false })?;
    }

    /// Towards a 2-octet speaker, large ASNs travel as AS_TRANS plus AS4_PATH/AS4_AGGREGATOR
    /// and come back whole (RFC 6793 §4.2).
    #[test]
    fn round_trips_large_asns_through_as4_attributes(m in message(u32::MAX)) {
        round_trip(&m, CodecContext { four_octet_as: false })?;
    }

    #[test]
    fn any_bytes_decode_or_fail_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..200), four in any::<bool>()) {
        let ctx = CodecContext { four_octet_as: four };
        let _ = check_frame(&bytes, 4096);
        let _ = decode(&bytes, ctx);
    }

    #[test]
    fn mutated_valid_messages_never_panic(m in message(u32::MAX), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        let mut bytes = encode(&m, CodecContext { four_octet_as: true });
        for (i, b) in flips {
            // Keep the header sane so the mutation reaches the body decoders.
            let body = i.index(bytes.len().saturating_sub(19).max(1)) + 19;
            if let Some(x) = bytes.get_mut(body) { *x = b; }
        }
        for four in [false, true] {
            if let Ok(Some(n)) = check_frame(&bytes, usize::from(u16::MAX)) {
                let _ = decode(&bytes[..n], CodecContext { four_octet_as: four });
            }
        }
    }
}
