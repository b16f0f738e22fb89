//! Encoding one path attribute (RFC 4271 §4.3), with AS4_PATH / AS4_AGGREGATOR towards a
//! 2-octet speaker (RFC 6793 §4.2.2).

use super::attr_flag::{EXTENDED_LENGTH, MEANINGFUL, OPTIONAL, PARTIAL, TRANSITIVE};
use super::{attr_type, OPTIONAL_NON_TRANSITIVE, WELL_KNOWN};
use crate::wire::as_path::{encode_as_path, needs_four_octets};
use crate::wire::mp::{encode_mp_reach, encode_mp_unreach};
use crate::wire::{CodecContext, Origin, PathAttribute, AS_TRANS};

/// Appends one attribute with canonical flags and the Extended Length bit only when the value
/// needs it. An [`PathAttribute::Unknown`] optional transitive attribute gets the Partial bit,
/// because we pass it on without understanding it (RFC 4271 §5). Dropping unknown
/// *non-transitive* attributes before re-advertising is the caller's job: see
/// [`crate::wire::UpdateMsg::drop_unknown_non_transitive`]. Towards a 2-octet speaker, AS_PATH and
/// AGGREGATOR with large ASNs are followed by AS4_PATH / AS4_AGGREGATOR (RFC 6793 §4.2.2).
pub(crate) fn encode_attribute(out: &mut Vec<u8>, attr: &PathAttribute, ctx: CodecContext) {
    let (flags, type_code, value) = match attr {
        PathAttribute::Origin(o) => (WELL_KNOWN, attr_type::ORIGIN, vec![origin_code(*o)]),
        PathAttribute::AsPath(segments) => {
            let mut v = Vec::new();
            encode_as_path(&mut v, segments, ctx.four_octet_as);
            (WELL_KNOWN, attr_type::AS_PATH, v)
        }
        PathAttribute::NextHop(nh) => (WELL_KNOWN, attr_type::NEXT_HOP, nh.octets().to_vec()),
        PathAttribute::MultiExitDisc(med) => (
            OPTIONAL_NON_TRANSITIVE,
            attr_type::MULTI_EXIT_DISC,
            med.to_be_bytes().to_vec(),
        ),
        PathAttribute::LocalPref(lp) => {
            (WELL_KNOWN, attr_type::LOCAL_PREF, lp.to_be_bytes().to_vec())
        }
        PathAttribute::AtomicAggregate => (WELL_KNOWN, attr_type::ATOMIC_AGGREGATE, Vec::new()),
        PathAttribute::Aggregator { asn, address } => {
            let mut v = if ctx.four_octet_as {
                asn.to_be_bytes().to_vec()
            } else {
                u16::try_from(*asn)
                    .unwrap_or(AS_TRANS)
                    .to_be_bytes()
                    .to_vec()
            };
            v.extend_from_slice(&address.octets());
            (OPTIONAL | TRANSITIVE, attr_type::AGGREGATOR, v)
        }
        PathAttribute::Communities(c) => (
            OPTIONAL | TRANSITIVE,
            attr_type::COMMUNITIES,
            c.iter().flat_map(|c| c.to_be_bytes()).collect(),
        ),
        PathAttribute::OriginatorId(id) => (
            OPTIONAL_NON_TRANSITIVE,
            attr_type::ORIGINATOR_ID,
            id.octets().to_vec(),
        ),
        PathAttribute::ClusterList(ids) => (
            OPTIONAL_NON_TRANSITIVE,
            attr_type::CLUSTER_LIST,
            ids.iter().flat_map(|id| id.octets()).collect(),
        ),
        PathAttribute::LargeCommunities(c) => (
            OPTIONAL | TRANSITIVE,
            attr_type::LARGE_COMMUNITY,
            c.iter()
                .flat_map(|c| [c.global, c.local1, c.local2])
                .flat_map(u32::to_be_bytes)
                .collect(),
        ),
        PathAttribute::MpReach(mp) => (
            OPTIONAL_NON_TRANSITIVE,
            attr_type::MP_REACH_NLRI,
            encode_mp_reach(mp),
        ),
        PathAttribute::MpUnreach(mp) => (
            OPTIONAL_NON_TRANSITIVE,
            attr_type::MP_UNREACH_NLRI,
            encode_mp_unreach(mp),
        ),
        PathAttribute::Unknown {
            flags,
            type_code,
            value,
        } => {
            let mut flags = flags & MEANINGFUL;
            if flags & (OPTIONAL | TRANSITIVE) == OPTIONAL | TRANSITIVE {
                flags |= PARTIAL;
            }
            (flags, *type_code, value.clone())
        }
    };
    put_attribute(out, flags, type_code, &value);
    if ctx.four_octet_as {
        return;
    }
    match attr {
        PathAttribute::AsPath(segments) if needs_four_octets(segments) => {
            let mut v = Vec::new();
            encode_as_path(&mut v, segments, true);
            put_attribute(out, OPTIONAL | TRANSITIVE, attr_type::AS4_PATH, &v);
        }
        PathAttribute::Aggregator { asn, address } if u16::try_from(*asn).is_err() => {
            let mut v = asn.to_be_bytes().to_vec();
            v.extend_from_slice(&address.octets());
            put_attribute(out, OPTIONAL | TRANSITIVE, attr_type::AS4_AGGREGATOR, &v);
        }
        _ => {}
    }
}

/// Flags, type, a 1- or 2-octet length, value (cut to 65535 octets so the length never lies).
fn put_attribute(out: &mut Vec<u8>, flags: u8, type_code: u8, value: &[u8]) {
    match u8::try_from(value.len()) {
        Ok(len) => out.extend_from_slice(&[flags, type_code, len]),
        Err(_) => {
            out.extend_from_slice(&[flags | EXTENDED_LENGTH, type_code]);
            let len = u16::try_from(value.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    let cut = value.get(..usize::from(u16::MAX)).unwrap_or(value);
    out.extend_from_slice(cut);
}

fn origin_code(origin: Origin) -> u8 {
    match origin {
        Origin::Igp => 0,
        Origin::Egp => 1,
        Origin::Incomplete => 2,
    }
}
