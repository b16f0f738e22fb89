//! The receive path without sockets or threads, for `valgrind --tool=callgrind` (instruction
//! counts are repeatable on a busy machine, unlike seconds): decode N /24s in UPDATEs of 1000
//! and apply them to a [`Rib`] from P peers, as `bench_ingest` sends them.
//!
//! `profile_ingest [N] [P]` (defaults 1000000 1).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr};

use bgp::rib::{PeerId, PeerInfo, Rib};
use bgp::wire::{
    check_frame, decode, encode, AsSegment, CodecContext, Message, Origin, PathAttribute, UpdateMsg,
};
use ipnet::Ipv4Net;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let peers: u8 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let ctx = CodecContext {
        four_octet_as: true,
    };
    let all: Vec<Ipv4Net> = (0..n)
        .map(|i| {
            let base = u32::from(Ipv4Addr::new(16, 0, 0, 0)) + ((i as u32) << 8);
            Ipv4Net::new(Ipv4Addr::from(base), 24).unwrap()
        })
        .collect();
    // Each peer's UPDATEs, pre-encoded; applied round-robin, one UPDATE per peer in turn, as
    // concurrent sessions deliver them, with the consumer taking changes as the agent does.
    let mut feeds = Vec::new();
    for p in 0..peers {
        let hop = Ipv4Addr::new(10, 98, 0, 11 + p);
        let attrs = vec![
            PathAttribute::Origin(Origin::Igp),
            PathAttribute::AsPath(vec![AsSegment::Sequence(vec![65001, 64999])]),
            PathAttribute::NextHop(hop),
        ];
        let mut wire = Vec::new();
        for chunk in all.chunks(1000) {
            let u = UpdateMsg {
                withdrawn: vec![],
                attributes: attrs.clone(),
                nlri: chunk.to_vec(),
                recovered: vec![],
            };
            wire.extend(encode(&Message::Update(u), ctx));
        }
        let peer = PeerInfo {
            id: PeerId(u64::from(p)),
            address: IpAddr::V4(hop),
            interface: None,
            router_id: hop,
            asn: 65001,
            local_as: 65002,
            allow_as_in: 0,
        };
        feeds.push((peer, wire, 0usize));
    }
    let mut rib = Rib::default();
    let mut taken = 0usize;
    loop {
        let mut any = false;
        for (peer, wire, at) in feeds.iter_mut() {
            let Ok(Some(len)) = check_frame(&wire[*at..], 4096) else {
                continue;
            };
            let Ok(Message::Update(u)) = decode(&wire[*at..*at + len], ctx) else {
                panic!("bad frame")
            };
            rib.update_quietly(*peer, &u, |_| true);
            *at += len;
            any = true;
            taken += rib.take_changes(4096).len();
        }
        if !any {
            break;
        }
    }
    println!("{taken} changes taken on the way");
    let changes = rib.take_changes(usize::MAX);
    println!(
        "{} prefixes, {} changes",
        rib.loc_rib().len(),
        changes.len()
    );
}
