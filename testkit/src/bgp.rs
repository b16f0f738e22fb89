//! BGP messages built byte by byte (RFC 4271 §4), independent of the codec under test: for raw
//! peers that send what no well-behaved speaker would, and for the benchmarks' senders.
//!
//! Lengths that do not fit their field panic: these are test inputs, written on purpose.

use std::net::Ipv4Addr;

/// Message types (RFC 4271 §4.1, RFC 2918).
pub const OPEN: u8 = 1;
/// UPDATE.
pub const UPDATE: u8 = 2;
/// NOTIFICATION.
pub const NOTIFICATION: u8 = 3;
/// KEEPALIVE.
pub const KEEPALIVE: u8 = 4;
/// ROUTE-REFRESH.
pub const ROUTE_REFRESH: u8 = 5;

/// Attribute flags (RFC 4271 §4.3): well-known (transitive).
pub const WELL_KNOWN: u8 = 0x40;
/// Optional non-transitive.
pub const OPTIONAL: u8 = 0x80;
/// Optional transitive.
pub const OPTIONAL_TRANSITIVE: u8 = 0xc0;
/// The Extended Length bit: a two-octet attribute length.
pub const EXTENDED_LENGTH: u8 = 0x10;

/// AS_TRANS (RFC 6793): the OPEN's My AS for a 4-octet ASN.
pub const AS_TRANS: u16 = 23456;

fn len16(n: usize) -> [u8; 2] {
    u16::try_from(n).expect("fits 16 bits").to_be_bytes()
}

fn len8(n: usize) -> u8 {
    u8::try_from(n).expect("fits 8 bits")
}

/// A whole message: marker, length, type, body.
pub fn message(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut m = header_bytes(len16(19 + body.len()), msg_type);
    m.extend_from_slice(body);
    m
}

/// A 19-octet header whose length field says `len`, whatever follows.
pub fn header(len: u16, msg_type: u8) -> Vec<u8> {
    header_bytes(len.to_be_bytes(), msg_type)
}

fn header_bytes(len: [u8; 2], msg_type: u8) -> Vec<u8> {
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&len);
    m.push(msg_type);
    m
}

/// KEEPALIVE.
pub fn keepalive() -> Vec<u8> {
    message(KEEPALIVE, &[])
}

/// An OPEN: `version`, My AS `my_as`, `hold`, BGP identifier `id`, then `params` (optional
/// parameters, already encoded) with their length.
pub fn open_with(version: u8, my_as: u16, hold: u16, id: [u8; 4], params: &[u8]) -> Vec<u8> {
    let mut b = vec![version];
    b.extend_from_slice(&my_as.to_be_bytes());
    b.extend_from_slice(&hold.to_be_bytes());
    b.extend_from_slice(&id);
    b.push(len8(params.len()));
    b.extend_from_slice(params);
    message(OPEN, &b)
}

/// An OPEN as a plain IPv4 speaker sends it: one Capabilities parameter with Multiprotocol
/// IPv4 unicast, Route Refresh, Enhanced Route Refresh and 4-octet AS `asn` (My AS is AS_TRANS
/// above 65535).
pub fn open(asn: u32, router_id: Ipv4Addr, hold: u16) -> Vec<u8> {
    let mut caps = vec![1, 4, 0, 1, 0, 1, 2, 0, 70, 0, 65, 4];
    caps.extend_from_slice(&asn.to_be_bytes());
    let mut params = vec![2, len8(caps.len())];
    params.extend_from_slice(&caps);
    let my_as = u16::try_from(asn).unwrap_or(AS_TRANS);
    open_with(4, my_as, hold, router_id.octets(), &params)
}

/// An UPDATE with the given withdrawn routes, path attributes and NLRI, and correct lengths.
pub fn update(withdrawn: &[u8], attributes: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut body = len16(withdrawn.len()).to_vec();
    body.extend_from_slice(withdrawn);
    body.extend_from_slice(&len16(attributes.len()));
    body.extend_from_slice(attributes);
    body.extend_from_slice(nlri);
    message(UPDATE, &body)
}

/// Byte strings one after another (attributes into a list, NLRI entries into a field).
pub fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// One path attribute with a one-octet length.
pub fn attr(flags: u8, type_code: u8, value: &[u8]) -> Vec<u8> {
    let mut a = vec![flags, type_code, len8(value.len())];
    a.extend_from_slice(value);
    a
}

/// ORIGIN IGP.
pub fn origin_igp() -> Vec<u8> {
    attr(WELL_KNOWN, 1, &[0])
}

/// AS_PATH of one AS_SEQUENCE of 4-octet ASNs (both sides announced RFC 6793).
pub fn as_path(asns: &[u32]) -> Vec<u8> {
    let mut v = vec![2, len8(asns.len())];
    for a in asns {
        v.extend_from_slice(&a.to_be_bytes());
    }
    attr(WELL_KNOWN, 2, &v)
}

/// NEXT_HOP.
pub fn next_hop(a: Ipv4Addr) -> Vec<u8> {
    attr(WELL_KNOWN, 3, &a.octets())
}

/// One NLRI entry: the length, then just enough octets of `address`.
pub fn nlri(address: Ipv4Addr, len: u8) -> Vec<u8> {
    let octets = usize::from(len).div_ceil(8).min(4);
    let mut v = vec![len];
    v.extend_from_slice(&address.octets()[..octets]);
    v
}

/// One NLRI entry from text, `A.B.C.D/LEN`.
pub fn prefix(p: &str) -> Vec<u8> {
    let (a, l) = p.split_once('/').expect("A.B.C.D/LEN");
    nlri(
        a.parse().expect("an IPv4 address"),
        l.parse().expect("a length"),
    )
}

/// MP_REACH_NLRI for IPv4 unicast (RFC 4760 §3): next hop `nh`, one prefix `p`.
pub fn mp_reach_v4(nh: Ipv4Addr, p: &str) -> Vec<u8> {
    let mut v = vec![0, 1, 1, 4];
    v.extend_from_slice(&nh.octets());
    v.push(0);
    v.extend_from_slice(&prefix(p));
    attr(OPTIONAL, 14, &v)
}

/// MP_REACH_NLRI for IPv6 unicast with the next-hop field `nh` (its length octet first) and
/// `nlri` as they are.
pub fn mp_reach_v6(nh: &[u8], nlri: &[u8]) -> Vec<u8> {
    let value = [&[0, 2, 1][..], nh, &[0], nlri].concat();
    attr(OPTIONAL, 14, &value)
}

/// The i-th /24 from `base` upwards (`base` + i × 256).
pub fn nth_slash24(base: Ipv4Addr, i: usize) -> Ipv4Addr {
    let i = u32::try_from(i).expect("fits 32 bits");
    Ipv4Addr::from(u32::from(base) + (i << 8))
}

/// UPDATEs announcing `prefixes` /24s, `per_update` to a message, all with ORIGIN IGP, AS_PATH
/// `path` (4-octet) and NEXT_HOP `hop`, back to back.
pub fn announce_slash24s(
    prefixes: impl IntoIterator<Item = Ipv4Addr>,
    per_update: usize,
    path: &[u32],
    hop: Ipv4Addr,
) -> Vec<u8> {
    let attrs = [origin_igp(), as_path(path), next_hop(hop)].concat();
    let all: Vec<Ipv4Addr> = prefixes.into_iter().collect();
    let mut out = Vec::new();
    for chunk in all.chunks(per_update) {
        let nlri: Vec<u8> = chunk.iter().flat_map(|p| nlri(*p, 24)).collect();
        out.extend(update(&[], &attrs, &nlri));
    }
    out
}

/// UPDATEs withdrawing `prefixes` /24s, `per_update` to a message.
pub fn withdraw_slash24s(
    prefixes: impl IntoIterator<Item = Ipv4Addr>,
    per_update: usize,
) -> Vec<u8> {
    let all: Vec<Ipv4Addr> = prefixes.into_iter().collect();
    let mut out = Vec::new();
    for chunk in all.chunks(per_update) {
        let withdrawn: Vec<u8> = chunk.iter().flat_map(|p| nlri(*p, 24)).collect();
        out.extend(update(&withdrawn, &[], &[]));
    }
    out
}

/// The length of the first whole message in `buf`, if one is there (the header's length field,
/// read without checking anything else).
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    let len = usize::from(u16::from_be_bytes([*buf.get(16)?, *buf.get(17)?]));
    (len >= 19 && buf.len() >= len).then_some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_prefix_octets() {
        assert_eq!(keepalive().len(), 19);
        assert_eq!(prefix("10.244.0.0/16"), vec![16, 10, 244]);
        assert_eq!(prefix("10.244.1.0/24"), vec![24, 10, 244, 1]);
        assert_eq!(prefix("0.0.0.0/0"), vec![0]);
        let u = update(&[], &origin_igp(), &prefix("10.1.0.0/16"));
        assert_eq!(frame_len(&u), Some(u.len()));
        assert_eq!(u.len(), 19 + 2 + 2 + 4 + 3);
        assert_eq!(
            nth_slash24(Ipv4Addr::new(16, 0, 0, 0), 257),
            Ipv4Addr::new(16, 1, 1, 0)
        );
    }
}
