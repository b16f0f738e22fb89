//! MP_REACH_NLRI and MP_UNREACH_NLRI (RFC 4760 §3-§4, §7) for IPv4 and IPv6 unicast.
//!
//! Errors here reset the session (RFC 7606 §7.11 allows nothing milder when the NLRI cannot be
//! trusted): 3/9 Optional Attribute Error for the attribute's own layout, 3/10 Invalid Network
//! Field for a bad prefix.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use super::error::update_subcode::OPTIONAL_ATTRIBUTE_ERROR;
use super::prefix::{decode_prefixes, decode_prefixes_v6, encode_ip_prefixes};
use super::reader::Reader;
use super::{afi, safi, DecodeError, ErrorCode, MpNextHop, MpReach, MpUnreach};

fn optional_err(whole: &[u8], reason: &'static str) -> DecodeError {
    DecodeError::new(
        ErrorCode::UpdateMessage,
        OPTIONAL_ATTRIBUTE_ERROR,
        whole.to_vec(),
        reason,
    )
}

/// Whether we decode this family (others stay raw and are ignored).
pub(crate) fn is_unicast_family(afi_value: u16, safi_value: u8) -> bool {
    safi_value == safi::UNICAST && (afi_value == afi::IPV4 || afi_value == afi::IPV6)
}

/// The AFI/SAFI at the front of an MP attribute value, if there are three octets.
pub(crate) fn family_of(value: &[u8]) -> Option<(u16, u8)> {
    let mut r = Reader::new(value);
    Some((r.u16().ok()?, r.u8().ok()?))
}

fn decode_nlri(afi_value: u16, buf: &[u8]) -> Result<Vec<IpNet>, DecodeError> {
    if afi_value == afi::IPV6 {
        decode_prefixes_v6(buf)
    } else {
        Ok(decode_prefixes(buf)?.into_iter().map(IpNet::V4).collect())
    }
}

/// Decodes MP_REACH_NLRI of a unicast family (checked by the caller with [`family_of`]).
pub(crate) fn decode_mp_reach(value: &[u8], whole: &[u8]) -> Result<MpReach, DecodeError> {
    let mut r = Reader::new(value);
    let short = |_| optional_err(whole, "MP_REACH_NLRI truncated");
    let afi_value = r.u16().map_err(short)?;
    let safi_value = r.u8().map_err(short)?;
    let nh_len = r.u8().map_err(short)?;
    let nh = r.take(usize::from(nh_len)).map_err(short)?;
    let _reserved = r.u8().map_err(short)?;
    let next_hop = decode_next_hop(afi_value, nh)
        .ok_or_else(|| optional_err(whole, "MP_REACH_NLRI next hop length invalid"))?;
    Ok(MpReach {
        afi: afi_value,
        safi: safi_value,
        next_hop,
        nlri: decode_nlri(afi_value, r.rest())?,
    })
}

/// 4 octets (IPv4 NLRI only), 16 or 32 (IPv6: global then link-local; RFC 8950 for IPv4 NLRI).
fn decode_next_hop(afi_value: u16, nh: &[u8]) -> Option<MpNextHop> {
    let v6 = |b: &[u8]| <[u8; 16]>::try_from(b).ok().map(Ipv6Addr::from);
    match nh.len() {
        4 if afi_value == afi::IPV4 => Some(MpNextHop {
            global: IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(nh).ok()?)),
            link_local: None,
        }),
        16 => Some(MpNextHop {
            global: IpAddr::V6(v6(nh)?),
            link_local: None,
        }),
        32 => Some(MpNextHop {
            global: IpAddr::V6(v6(nh.get(..16)?)?),
            link_local: Some(v6(nh.get(16..)?)?),
        }),
        _ => None,
    }
}

/// Decodes MP_UNREACH_NLRI of a unicast family.
pub(crate) fn decode_mp_unreach(value: &[u8], whole: &[u8]) -> Result<MpUnreach, DecodeError> {
    let mut r = Reader::new(value);
    let short = |_| optional_err(whole, "MP_UNREACH_NLRI truncated");
    let afi_value = r.u16().map_err(short)?;
    let safi_value = r.u8().map_err(short)?;
    Ok(MpUnreach {
        afi: afi_value,
        safi: safi_value,
        withdrawn: decode_nlri(afi_value, r.rest())?,
    })
}

/// The MP_REACH_NLRI value.
pub(crate) fn encode_mp_reach(mp: &MpReach) -> Vec<u8> {
    let mut v = mp.afi.to_be_bytes().to_vec();
    v.push(mp.safi);
    let mut nh = match mp.next_hop.global {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    if let Some(ll) = mp.next_hop.link_local {
        nh.extend_from_slice(&ll.octets());
    }
    v.push(u8::try_from(nh.len()).unwrap_or(u8::MAX));
    v.extend_from_slice(&nh);
    v.push(0); // Reserved
    encode_ip_prefixes(&mut v, &mp.nlri);
    v
}

/// The MP_UNREACH_NLRI value.
pub(crate) fn encode_mp_unreach(mp: &MpUnreach) -> Vec<u8> {
    let mut v = mp.afi.to_be_bytes().to_vec();
    v.push(mp.safi);
    encode_ip_prefixes(&mut v, &mp.withdrawn);
    v
}
