//! The test kit builds BGP messages byte by byte for raw peers and the benchmarks' senders:
//! what it builds decodes to what it says, and its OPEN and UPDATEs are byte for byte what our
//! encoder makes of the same messages (so a bench sender of the kit sends what ours would).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;

use bgp::fsm::build_open;
use bgp::wire::{
    decode, encode, AsSegment, CodecContext, Message, Origin, PathAttribute, UpdateMsg,
};
use ipnet::Ipv4Net;
use testkit::bgp as kit;

const FOUR: CodecContext = CodecContext {
    four_octet_as: true,
};

#[test]
fn the_kits_open_is_our_encoders() {
    for asn in [65001, 4_200_000_001] {
        let id = Ipv4Addr::new(10, 98, 0, 11);
        let ours = encode(
            &Message::Open(build_open(asn, id, 240)),
            CodecContext::default(),
        );
        assert_eq!(kit::open(asn, id, 240), ours, "AS {asn}");
    }
}

#[test]
fn the_kits_updates_are_our_encoders() {
    let base = Ipv4Addr::new(16, 0, 0, 0);
    let hop = Ipv4Addr::new(10, 98, 0, 11);
    let prefixes: Vec<Ipv4Net> = (0..2500)
        .map(|i| Ipv4Net::new(kit::nth_slash24(base, i), 24).unwrap())
        .collect();
    let attributes = vec![
        PathAttribute::Origin(Origin::Igp),
        PathAttribute::AsPath(vec![AsSegment::Sequence(vec![65001, 64999])]),
        PathAttribute::NextHop(hop),
    ];
    let (mut announce, mut withdraw) = (Vec::new(), Vec::new());
    for chunk in prefixes.chunks(1000) {
        let a = UpdateMsg {
            withdrawn: vec![],
            attributes: attributes.clone(),
            nlri: chunk.to_vec(),
            recovered: vec![],
        };
        announce.extend(encode(&Message::Update(a), FOUR));
        let w = UpdateMsg {
            withdrawn: chunk.to_vec(),
            attributes: vec![],
            nlri: vec![],
            recovered: vec![],
        };
        withdraw.extend(encode(&Message::Update(w), FOUR));
    }
    let addresses = prefixes.iter().map(Ipv4Net::network);
    let kit_announce = kit::announce_slash24s(addresses.clone(), 1000, &[65001, 64999], hop);
    assert_eq!(kit_announce, announce);
    assert_eq!(kit::withdraw_slash24s(addresses, 1000), withdraw);
}

#[test]
fn the_kits_messages_decode_to_what_they_say() {
    let a = Ipv4Addr::new(10, 98, 0, 2);
    let bytes = kit::update(
        &[],
        &[kit::origin_igp(), kit::as_path(&[65002]), kit::next_hop(a)].concat(),
        &kit::prefix("10.244.77.0/24"),
    );
    let Ok(Message::Update(u)) = decode(&bytes, FOUR) else {
        panic!("not an UPDATE: {bytes:02x?}")
    };
    assert_eq!(u.nlri, vec!["10.244.77.0/24".parse::<Ipv4Net>().unwrap()]);
    assert!(u.attributes.contains(&PathAttribute::NextHop(a)));
    assert!(u.recovered.is_empty());
    assert_eq!(decode(&kit::keepalive(), FOUR).unwrap(), Message::Keepalive);
    assert_eq!(kit::frame_len(&bytes), Some(bytes.len()));
}
