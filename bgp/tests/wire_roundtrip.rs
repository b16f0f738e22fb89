//! Property: `decode(encode(m)) == m` for every valid message of every type, in both AS widths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use bgp::wire::{
    check_frame, decode, encode, AsSegment, Capability, CodecContext, Message, NotificationMsg,
    OpenMsg, Origin, PathAttribute, UpdateMsg,
};
use ipnet::Ipv4Net;
use proptest::prelude::*;

fn capability() -> impl Strategy<Value = Capability> {
    prop_oneof![
        (any::<u16>(), any::<u8>()).prop_map(|(afi, safi)| Capability::Multiprotocol { afi, safi }),
        Just(Capability::RouteRefresh),
        any::<u32>().prop_map(Capability::FourOctetAs),
        (
            any::<u8>().prop_filter("known code", |c| ![1, 2, 65].contains(c)),
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

fn as_path(max_asn: u32) -> impl Strategy<Value = Vec<AsSegment>> {
    let asns = prop::collection::vec(0..=max_asn, 1..=255);
    let segment = prop_oneof![
        asns.clone().prop_map(AsSegment::Sequence),
        asns.prop_map(AsSegment::Set)
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

/// Unknown optional attributes, keyed by type code (7..=255); flags as decode reports them:
/// optional transitive always carries Partial because encode sets it.
fn unknowns() -> impl Strategy<Value = BTreeMap<u8, PathAttribute>> {
    let attr = (any::<bool>(), prop::collection::vec(any::<u8>(), 0..300));
    prop::collection::btree_map(7u8.., attr, 0..4).prop_map(|m| {
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
    let prefixes = || prop::collection::vec(prefix(), 0..30);
    (known, unknowns(), prefixes(), prefixes()).prop_map(
        |((origin, path, nh, med, lp, atomic), unknowns, withdrawn, nlri)| {
            let mut attributes = Vec::new();
            let have_nlri = !nlri.is_empty();
            // NLRI needs the three mandatory attributes (RFC 4271 §6.3).
            if let Some(o) = origin.or(have_nlri.then_some(Origin::Igp)) {
                attributes.push(PathAttribute::Origin(o));
            }
            if let Some(p) = path.or(have_nlri.then(Vec::new)) {
                attributes.push(PathAttribute::AsPath(p));
            }
            if let Some(n) = nh.or(have_nlri.then_some(Ipv4Addr::new(10, 0, 0, 1))) {
                attributes.push(PathAttribute::NextHop(n));
            }
            attributes.extend(med.map(PathAttribute::MultiExitDisc));
            attributes.extend(lp.map(PathAttribute::LocalPref));
            attributes.extend(atomic.then_some(PathAttribute::AtomicAggregate));
            attributes.extend(unknowns.into_values());
            UpdateMsg {
                withdrawn,
                attributes,
                nlri,
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
