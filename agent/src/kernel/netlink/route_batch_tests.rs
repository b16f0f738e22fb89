#![allow(clippy::unwrap_used)]
//! The batch framing without a kernel: chunk boundaries, the one ack per chunk, and replies
//! read back out of a datagram holding several of them.

use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroI32;

use ipnet::{IpNet, Ipv4Net};
use rtnetlink::packet_core::{ErrorMessage, NetlinkHeader, NetlinkMessage, NetlinkPayload};

use super::*;

fn ops(n: u32) -> Vec<RouteOp> {
    let hop = [crate::kernel::NextHop::via(IpAddr::V4(Ipv4Addr::new(
        10, 0, 0, 2,
    )))];
    (0..n)
        .map(|i| {
            let [_, _, a, b] = i.to_be_bytes();
            let dst = IpNet::V4(Ipv4Net::new(Ipv4Addr::new(16, a, b, 0), 24).unwrap());
            RouteOp::learned(dst, &hop)
        })
        .collect()
}

/// Splits a datagram back into messages.
fn messages(mut data: &[u8]) -> Vec<NetlinkMessage<RouteNetlinkMessage>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(data).unwrap();
        data = &data[m.header.length as usize..];
        out.push(m);
    }
    out
}

#[test]
fn chunks_stay_under_the_limit_keep_the_order_and_ack_only_their_last_message() {
    let ops = ops(2000);
    let mut requests: Vec<_> = ops
        .iter()
        .enumerate()
        .map(|(i, o)| (i, request(o).unwrap()))
        .collect();
    let chunks = serialize(&mut requests, 100);
    assert!(chunks.len() > 1, "2000 routes span several chunks");
    let mut seqs = Vec::new();
    for (bytes, last) in &chunks {
        assert!(bytes.len() <= CHUNK);
        let msgs = messages(bytes);
        let (tail, rest) = msgs.split_last().unwrap();
        assert_eq!(tail.header.sequence_number, *last);
        assert_ne!(tail.header.flags & NLM_F_ACK, 0);
        assert!(rest.iter().all(|m| m.header.flags & NLM_F_ACK == 0));
        assert!(msgs.iter().all(|m| m.header.flags & NLM_F_REPLACE != 0));
        seqs.extend(msgs.iter().map(|m| m.header.sequence_number));
    }
    let want: Vec<u32> = (100..2100).collect();
    assert_eq!(seqs, want);
}

fn reply(seq: u32, errno: i32) -> Vec<u8> {
    let mut e = ErrorMessage::default();
    e.code = NonZeroI32::new(-errno);
    let mut header = NetlinkHeader::default();
    header.sequence_number = seq;
    let mut m = NetlinkMessage::<RouteNetlinkMessage>::new(header, NetlinkPayload::Error(e));
    m.finalize();
    let mut buf = vec![0; m.buffer_len()];
    m.serialize(&mut buf);
    buf
}

#[test]
fn failures_are_collected_until_the_last_messages_reply() {
    let mut datagram = reply(7, 101); // ENETUNREACH on a message without NLM_F_ACK
    datagram.extend(reply(8, 2)); // ENOENT
    let mut errors = Vec::new();
    assert!(
        !read_replies(&datagram, 9, &mut errors),
        "9 not answered yet"
    );
    assert_eq!(errors, [(7, 101), (8, 2)]);
    assert!(
        read_replies(&reply(9, 0), 9, &mut errors),
        "the ack ends the chunk"
    );
    assert_eq!(errors.len(), 2, "an ack is no failure");
    // A failing last message ends the chunk too (no separate ack follows it).
    let mut errors = Vec::new();
    assert!(read_replies(&reply(9, 17), 9, &mut errors));
    assert_eq!(errors, [(9, 17)]);
    // Garbage is not a reply and never a panic.
    assert!(!read_replies(&[0xff; 7], 9, &mut errors));
}

#[test]
fn errnos_map_onto_kernel_errors() {
    let ops = ops(1);
    let del = RouteOp::Delete {
        destination: ops[0].destination(),
        protocol: 186,
    };
    assert!(error(&del, 3).is_not_found()); // ESRCH
    assert!(matches!(error(&ops[0], 17), KernelError::Exists { .. }));
    let other = error(&ops[0], 101).to_string();
    assert!(
        other.contains("RTM_NEWROUTE") && other.contains("16.0.0.0/24"),
        "{other}"
    );
}
