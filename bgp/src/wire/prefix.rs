//! Prefixes as they appear in Withdrawn Routes and NLRI (RFC 4271 §4.3) and in
//! MP_REACH/MP_UNREACH (RFC 4760 §5).

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::error::update_subcode::INVALID_NETWORK_FIELD;
use super::reader::Reader;
use super::{DecodeError, ErrorCode};

fn invalid(reason: &'static str) -> DecodeError {
    DecodeError::new(
        ErrorCode::UpdateMessage,
        INVALID_NETWORK_FIELD,
        Vec::new(),
        reason,
    )
}

/// Decodes a run of `<length, prefix>` pairs filling `buf`. Host bits are masked off, since
/// RFC 4271 §4.3 lets trailing bits be anything. Errors are 3/10 Invalid Network Field (§6.3).
pub(crate) fn decode_prefixes(buf: &[u8]) -> Result<Vec<Ipv4Net>, DecodeError> {
    let mut r = Reader::new(buf);
    let mut out = Vec::new();
    while !r.is_empty() {
        let len = r.u8().map_err(|_| invalid("prefix length missing"))?;
        if len > 32 {
            return Err(invalid("prefix length above 32"));
        }
        let bytes = r
            .take(octets_for(len))
            .map_err(|_| invalid("prefix truncated"))?;
        let mut addr = [0u8; 4];
        for (dst, src) in addr.iter_mut().zip(bytes) {
            *dst = *src;
        }
        let net = Ipv4Net::new(Ipv4Addr::from(addr), len).map_err(|_| invalid("prefix length"))?;
        out.push(net.trunc());
    }
    Ok(out)
}

/// Decodes a run of IPv6 `<length, prefix>` pairs (RFC 4760 §5, RFC 2545), host bits masked.
pub(crate) fn decode_prefixes_v6(buf: &[u8]) -> Result<Vec<IpNet>, DecodeError> {
    let mut r = Reader::new(buf);
    let mut out = Vec::new();
    while !r.is_empty() {
        let len = r.u8().map_err(|_| invalid("prefix length missing"))?;
        if len > 128 {
            return Err(invalid("IPv6 prefix length above 128"));
        }
        let bytes = r
            .take(octets_for(len))
            .map_err(|_| invalid("prefix truncated"))?;
        let mut addr = [0u8; 16];
        for (dst, src) in addr.iter_mut().zip(bytes) {
            *dst = *src;
        }
        let net = Ipv6Net::new(Ipv6Addr::from(addr), len).map_err(|_| invalid("prefix length"))?;
        out.push(IpNet::V6(net.trunc()));
    }
    Ok(out)
}

/// Appends `<length, prefix>` pairs, with only as many address octets as the length needs.
pub(crate) fn encode_prefixes(out: &mut Vec<u8>, prefixes: &[Ipv4Net]) {
    for p in prefixes {
        let len = p.prefix_len();
        out.push(len);
        let octets = p.network().octets();
        out.extend(octets.iter().take(octets_for(len)));
    }
}

/// Appends `<length, prefix>` pairs of either family.
pub(crate) fn encode_ip_prefixes(out: &mut Vec<u8>, prefixes: &[IpNet]) {
    for p in prefixes {
        let len = p.prefix_len();
        out.push(len);
        match p.network() {
            std::net::IpAddr::V4(a) => out.extend(a.octets().iter().take(octets_for(len))),
            std::net::IpAddr::V6(a) => out.extend(a.octets().iter().take(octets_for(len))),
        }
    }
}

/// Address octets carried for a prefix of `len` bits: ceil(len / 8).
fn octets_for(len: u8) -> usize {
    usize::from(len.div_ceil(8))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn masks_host_bits_and_uses_minimal_octets() {
        // 10.1/16, then 0/0 with no octets, then 192.168.7/24.
        let got = decode_prefixes(&[16, 10, 1, 0, 24, 192, 168, 7]).unwrap();
        let want: Vec<Ipv4Net> = ["10.1.0.0/16", "0.0.0.0/0", "192.168.7.0/24"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(got, want);
        // Host bits (0xff in a /17) are masked off.
        let got = decode_prefixes(&[17, 10, 1, 0xff, 0]).unwrap();
        assert_eq!(
            got,
            vec![
                "10.1.128.0/17".parse::<Ipv4Net>().unwrap(),
                "0.0.0.0/0".parse().unwrap()
            ]
        );
        let mut out = Vec::new();
        encode_prefixes(&mut out, &got);
        assert_eq!(out, vec![17, 10, 1, 0x80, 0]);
    }

    #[test]
    fn refuses_long_or_truncated_prefixes() {
        assert_eq!(
            decode_prefixes(&[33, 1, 2, 3, 4, 5]).unwrap_err().subcode,
            10
        );
        assert_eq!(decode_prefixes(&[24, 10, 0]).unwrap_err().subcode, 10);
    }
}
