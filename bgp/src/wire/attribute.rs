//! One path attribute: its header, flags and value (RFC 4271 §4.3, §5, §6.3), and decoding
//! it; encoding is in `attribute/encode.rs`.

pub(crate) mod encode;

use std::net::Ipv4Addr;

use super::as_path::decode_as_path;
use super::error::update_subcode::{
    ATTRIBUTE_FLAGS_ERROR, ATTRIBUTE_LENGTH_ERROR, INVALID_NEXT_HOP_ATTRIBUTE,
    INVALID_ORIGIN_ATTRIBUTE, MALFORMED_ATTRIBUTE_LIST, OPTIONAL_ATTRIBUTE_ERROR,
    UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
};
use super::mp::{decode_mp_reach, decode_mp_unreach, family_of, is_unicast_family};
use super::reader::Reader;
use super::{
    AsSegment, CodecContext, DecodeError, ErrorCode, LargeCommunity, Origin, PathAttribute,
    Recovery, UpdateMsg,
};

/// Attribute flag bits (RFC 4271 §4.3).
pub mod attr_flag {
    /// Optional (1) or well-known (0).
    pub const OPTIONAL: u8 = 0x80;
    /// Transitive (1) or non-transitive (0).
    pub const TRANSITIVE: u8 = 0x40;
    /// Partial: some speaker on the path passed on an optional transitive attribute it did not
    /// recognise.
    pub const PARTIAL: u8 = 0x20;
    /// The length field is 2 octets.
    pub const EXTENDED_LENGTH: u8 = 0x10;
    /// The bits that carry meaning; the low four are unused and ignored on receipt.
    pub(crate) const MEANINGFUL: u8 = OPTIONAL | TRANSITIVE | PARTIAL;
}

/// Attribute type codes we decode into their own variant (IANA "BGP Path Attributes").
pub mod attr_type {
    /// ORIGIN.
    pub const ORIGIN: u8 = 1;
    /// AS_PATH.
    pub const AS_PATH: u8 = 2;
    /// NEXT_HOP.
    pub const NEXT_HOP: u8 = 3;
    /// MULTI_EXIT_DISC.
    pub const MULTI_EXIT_DISC: u8 = 4;
    /// LOCAL_PREF.
    pub const LOCAL_PREF: u8 = 5;
    /// ATOMIC_AGGREGATE.
    pub const ATOMIC_AGGREGATE: u8 = 6;
    /// AGGREGATOR.
    pub const AGGREGATOR: u8 = 7;
    /// COMMUNITIES (RFC 1997).
    pub const COMMUNITIES: u8 = 8;
    /// ORIGINATOR_ID (RFC 4456).
    pub const ORIGINATOR_ID: u8 = 9;
    /// CLUSTER_LIST (RFC 4456).
    pub const CLUSTER_LIST: u8 = 10;
    /// MP_REACH_NLRI (RFC 4760).
    pub const MP_REACH_NLRI: u8 = 14;
    /// MP_UNREACH_NLRI (RFC 4760).
    pub const MP_UNREACH_NLRI: u8 = 15;
    /// AS4_PATH (RFC 6793).
    pub const AS4_PATH: u8 = 17;
    /// AS4_AGGREGATOR (RFC 6793).
    pub const AS4_AGGREGATOR: u8 = 18;
    /// LARGE_COMMUNITY (RFC 8092).
    pub const LARGE_COMMUNITY: u8 = 32;
}

use attr_flag::{EXTENDED_LENGTH, MEANINGFUL, OPTIONAL, TRANSITIVE};

/// Flags a well-known attribute must carry (and an optional non-transitive one, for MED).
const WELL_KNOWN: u8 = TRANSITIVE;
const OPTIONAL_NON_TRANSITIVE: u8 = OPTIONAL;

/// An attribute split out of the attribute list, not yet interpreted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawAttribute<'a> {
    /// Flags octet as received.
    pub flags: u8,
    /// Type code.
    pub type_code: u8,
    /// Value bytes.
    pub value: &'a [u8],
    /// The whole attribute (flags, type, length, value): NOTIFICATION data for most errors.
    pub whole: &'a [u8],
}

/// Splits the next attribute off the attribute list. An attribute that overruns the list makes
/// the list malformed (3/1, RFC 4271 §6.3).
pub(crate) fn next_raw<'a>(r: &mut Reader<'a>) -> Result<RawAttribute<'a>, DecodeError> {
    let start = r.rest();
    let overrun = |_| {
        DecodeError::new(
            ErrorCode::UpdateMessage,
            MALFORMED_ATTRIBUTE_LIST,
            Vec::new(),
            "path attribute overruns the attribute list",
        )
    };
    let flags = r.u8().map_err(overrun)?;
    let type_code = r.u8().map_err(overrun)?;
    let len = if flags & EXTENDED_LENGTH != 0 {
        r.u16()
    } else {
        r.u8().map(u16::from)
    };
    let value = r
        .take(usize::from(len.map_err(overrun)?))
        .map_err(overrun)?;
    let used = start.len().saturating_sub(r.remaining());
    let whole = start.get(..used).unwrap_or(start);
    Ok(RawAttribute {
        flags,
        type_code,
        value,
        whole,
    })
}

fn attr_err(subcode: u8, raw: &RawAttribute<'_>, reason: &'static str) -> DecodeError {
    DecodeError::new(
        ErrorCode::UpdateMessage,
        subcode,
        raw.whole.to_vec(),
        reason,
    )
}

/// What decoding one attribute produced.
#[derive(Debug)]
pub(crate) enum Decoded {
    /// An attribute of the UPDATE.
    Attr(PathAttribute),
    /// AS4_PATH, folded into AS_PATH by the caller (RFC 6793 §4.2.3).
    As4Path(Vec<AsSegment>),
    /// AS4_AGGREGATOR, folded into AGGREGATOR by the caller.
    As4Aggregator { asn: u32, address: Ipv4Addr },
    /// Nothing to keep (AS4_* from a 4-octet speaker, RFC 6793 §4.1).
    Nothing,
}

/// A malformed attribute and what RFC 7606 says to do about it (`None`: session reset).
#[derive(Debug)]
pub(crate) struct AttrFailure {
    /// The error, as RFC 4271 would have answered it.
    pub error: DecodeError,
    /// The milder handling RFC 7606 prescribes, if any.
    pub recovery: Option<Recovery>,
}

/// RFC 7606 §7: how errors in each attribute we know are handled.
fn recovery_for(type_code: u8) -> Option<Recovery> {
    match type_code {
        attr_type::ORIGIN
        | attr_type::AS_PATH
        | attr_type::NEXT_HOP
        | attr_type::MULTI_EXIT_DISC
        | attr_type::LOCAL_PREF
        | attr_type::COMMUNITIES
        | attr_type::LARGE_COMMUNITY
        // RFC 7606 §7.9 and §7.10.
        | attr_type::ORIGINATOR_ID
        | attr_type::CLUSTER_LIST => Some(Recovery::TreatAsWithdraw),
        attr_type::ATOMIC_AGGREGATE
        | attr_type::AGGREGATOR
        | attr_type::AS4_PATH
        | attr_type::AS4_AGGREGATOR => Some(Recovery::AttributeDiscard),
        // MP_REACH/MP_UNREACH (§7.11) and anything else we recognise: session reset.
        _ => None,
    }
}

/// The Optional and Transitive bits each attribute we know must carry (None: not ours).
fn expected_flags(type_code: u8) -> Option<u8> {
    match type_code {
        attr_type::ORIGIN..=attr_type::NEXT_HOP
        | attr_type::LOCAL_PREF
        | attr_type::ATOMIC_AGGREGATE => Some(WELL_KNOWN),
        attr_type::MULTI_EXIT_DISC
        | attr_type::ORIGINATOR_ID
        | attr_type::CLUSTER_LIST
        | attr_type::MP_REACH_NLRI
        | attr_type::MP_UNREACH_NLRI => Some(OPTIONAL_NON_TRANSITIVE),
        attr_type::AGGREGATOR
        | attr_type::COMMUNITIES
        | attr_type::AS4_PATH
        | attr_type::AS4_AGGREGATOR
        | attr_type::LARGE_COMMUNITY => Some(OPTIONAL | TRANSITIVE),
        _ => None,
    }
}

/// Interprets one attribute (RFC 4271 §6.3 checks in the order the RFC lists them, with the
/// RFC 7606 handling attached to each failure).
pub(crate) fn decode_attribute(
    raw: &RawAttribute<'_>,
    ctx: CodecContext,
) -> Result<Decoded, AttrFailure> {
    let fail = |subcode, reason| AttrFailure {
        error: attr_err(subcode, raw, reason),
        recovery: recovery_for(raw.type_code),
    };
    let Some(expected) = expected_flags(raw.type_code) else {
        if raw.flags & OPTIONAL == 0 {
            return Err(AttrFailure {
                error: attr_err(
                    UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
                    raw,
                    "unrecognised well-known attribute",
                ),
                recovery: None,
            });
        }
        return Ok(Decoded::Attr(unknown(raw)));
    };
    // The Partial bit may only be set on optional transitive attributes (RFC 4271 §4.3).
    let checked_bits = if expected == OPTIONAL | TRANSITIVE {
        OPTIONAL | TRANSITIVE
    } else {
        MEANINGFUL
    };
    if raw.flags & checked_bits != expected {
        return Err(fail(
            ATTRIBUTE_FLAGS_ERROR,
            "attribute flags conflict with type",
        ));
    }
    let len = raw.value.len();
    let len_ok = match raw.type_code {
        attr_type::ORIGIN => len == 1,
        attr_type::NEXT_HOP
        | attr_type::MULTI_EXIT_DISC
        | attr_type::LOCAL_PREF
        | attr_type::ORIGINATOR_ID => len == 4,
        attr_type::ATOMIC_AGGREGATE => len == 0,
        attr_type::AGGREGATOR => len == if ctx.four_octet_as { 8 } else { 6 },
        attr_type::AS4_AGGREGATOR => len == 8,
        attr_type::COMMUNITIES => len > 0 && len % 4 == 0,
        attr_type::LARGE_COMMUNITY => len > 0 && len % 12 == 0,
        // RFC 7606 §7.10: a non-zero length that is not a multiple of 4.
        attr_type::CLUSTER_LIST => len % 4 == 0,
        // An MP attribute too short for its AFI/SAFI is 3/9 (RFC 4760 §7), checked below.
        _ => true,
    };
    if !len_ok {
        return Err(fail(
            ATTRIBUTE_LENGTH_ERROR,
            "attribute length conflicts with type",
        ));
    }
    let bad_len = |_| {
        fail(
            ATTRIBUTE_LENGTH_ERROR,
            "attribute length conflicts with type",
        )
    };
    let mut r = Reader::new(raw.value);
    let attr = match raw.type_code {
        attr_type::ORIGIN => match r.u8().map_err(bad_len)? {
            0 => PathAttribute::Origin(Origin::Igp),
            1 => PathAttribute::Origin(Origin::Egp),
            2 => PathAttribute::Origin(Origin::Incomplete),
            _ => return Err(fail(INVALID_ORIGIN_ATTRIBUTE, "ORIGIN value above 2")),
        },
        attr_type::AS_PATH => PathAttribute::AsPath(
            decode_as_path(raw.value, ctx.four_octet_as).map_err(|error| AttrFailure {
                error,
                recovery: Some(Recovery::TreatAsWithdraw),
            })?,
        ),
        attr_type::NEXT_HOP => {
            let nh = r.ipv4().map_err(bad_len)?;
            if !is_valid_next_hop(nh) {
                return Err(fail(INVALID_NEXT_HOP_ATTRIBUTE, "NEXT_HOP not unicast"));
            }
            PathAttribute::NextHop(nh)
        }
        attr_type::MULTI_EXIT_DISC => PathAttribute::MultiExitDisc(r.u32().map_err(bad_len)?),
        attr_type::LOCAL_PREF => PathAttribute::LocalPref(r.u32().map_err(bad_len)?),
        attr_type::ATOMIC_AGGREGATE => PathAttribute::AtomicAggregate,
        attr_type::AGGREGATOR => {
            let asn = if ctx.four_octet_as {
                r.u32()
            } else {
                r.u16().map(u32::from)
            };
            PathAttribute::Aggregator {
                asn: asn.map_err(bad_len)?,
                address: r.ipv4().map_err(bad_len)?,
            }
        }
        attr_type::COMMUNITIES => {
            let mut v = Vec::with_capacity(len / 4);
            while !r.is_empty() {
                v.push(r.u32().map_err(bad_len)?);
            }
            PathAttribute::Communities(v)
        }
        attr_type::ORIGINATOR_ID => PathAttribute::OriginatorId(r.ipv4().map_err(bad_len)?),
        attr_type::CLUSTER_LIST => {
            let mut v = Vec::with_capacity(len / 4);
            while !r.is_empty() {
                v.push(r.ipv4().map_err(bad_len)?);
            }
            PathAttribute::ClusterList(v)
        }
        attr_type::LARGE_COMMUNITY => {
            let mut v = Vec::with_capacity(len / 12);
            while !r.is_empty() {
                v.push(LargeCommunity {
                    global: r.u32().map_err(bad_len)?,
                    local1: r.u32().map_err(bad_len)?,
                    local2: r.u32().map_err(bad_len)?,
                });
            }
            PathAttribute::LargeCommunities(v)
        }
        attr_type::MP_REACH_NLRI | attr_type::MP_UNREACH_NLRI => {
            let reset = |error| AttrFailure {
                error,
                recovery: None,
            };
            let Some((afi_value, safi_value)) = family_of(raw.value) else {
                return Err(fail(OPTIONAL_ATTRIBUTE_ERROR, "MP attribute too short"));
            };
            if !is_unicast_family(afi_value, safi_value) {
                return Ok(Decoded::Attr(unknown(raw)));
            }
            if raw.type_code == attr_type::MP_REACH_NLRI {
                PathAttribute::MpReach(decode_mp_reach(raw.value, raw.whole).map_err(reset)?)
            } else {
                PathAttribute::MpUnreach(decode_mp_unreach(raw.value, raw.whole).map_err(reset)?)
            }
        }
        // RFC 6793 §4.1: a 4-octet speaker ignores AS4_* from a 4-octet speaker.
        attr_type::AS4_PATH | attr_type::AS4_AGGREGATOR if ctx.four_octet_as => {
            return Ok(Decoded::Nothing)
        }
        attr_type::AS4_PATH => {
            let discard = |error| AttrFailure {
                error,
                recovery: Some(Recovery::AttributeDiscard),
            };
            return decode_as_path(raw.value, true)
                .map(Decoded::As4Path)
                .map_err(discard);
        }
        _ => {
            return Ok(Decoded::As4Aggregator {
                asn: r.u32().map_err(bad_len)?,
                address: r.ipv4().map_err(bad_len)?,
            })
        }
    };
    Ok(Decoded::Attr(attr))
}

/// An optional attribute we do not interpret, kept raw.
fn unknown(raw: &RawAttribute<'_>) -> PathAttribute {
    PathAttribute::Unknown {
        flags: raw.flags & MEANINGFUL,
        type_code: raw.type_code,
        value: raw.value.to_vec(),
    }
}

/// RFC 4271 §6.3: a NEXT_HOP must be a unicast address (syntactic check only; whether it is the
/// receiver's own address is the session's business).
fn is_valid_next_hop(nh: Ipv4Addr) -> bool {
    !(nh.is_unspecified() || nh.is_multicast() || nh.is_broadcast())
}

impl PathAttribute {
    /// The attribute's type code (RFC 4271 §5, IANA "BGP Path Attributes").
    pub fn type_code(&self) -> u8 {
        match self {
            PathAttribute::Origin(_) => attr_type::ORIGIN,
            PathAttribute::AsPath(_) => attr_type::AS_PATH,
            PathAttribute::NextHop(_) => attr_type::NEXT_HOP,
            PathAttribute::MultiExitDisc(_) => attr_type::MULTI_EXIT_DISC,
            PathAttribute::LocalPref(_) => attr_type::LOCAL_PREF,
            PathAttribute::AtomicAggregate => attr_type::ATOMIC_AGGREGATE,
            PathAttribute::Aggregator { .. } => attr_type::AGGREGATOR,
            PathAttribute::Communities(_) => attr_type::COMMUNITIES,
            PathAttribute::OriginatorId(_) => attr_type::ORIGINATOR_ID,
            PathAttribute::ClusterList(_) => attr_type::CLUSTER_LIST,
            PathAttribute::MpReach(_) => attr_type::MP_REACH_NLRI,
            PathAttribute::MpUnreach(_) => attr_type::MP_UNREACH_NLRI,
            PathAttribute::LargeCommunities(_) => attr_type::LARGE_COMMUNITY,
            PathAttribute::Unknown { type_code, .. } => *type_code,
        }
    }

    /// True for an attribute we did not recognise that is optional and non-transitive: RFC 4271
    /// §5 says it must be quietly ignored and not passed on.
    pub fn is_unknown_non_transitive(&self) -> bool {
        matches!(self, PathAttribute::Unknown { flags, .. }
            if flags & (OPTIONAL | TRANSITIVE) == OPTIONAL)
    }
}

impl UpdateMsg {
    /// Removes unrecognised optional non-transitive attributes, as RFC 4271 §5 requires before a
    /// route learned from one peer is advertised to another. [`super::encode`] does not do this.
    pub fn drop_unknown_non_transitive(&mut self) {
        self.attributes.retain(|a| !a.is_unknown_non_transitive());
    }
}
