//! One path attribute: its header, flags and value (RFC 4271 §4.3, §5, §6.3).

use std::net::Ipv4Addr;

use super::as_path::{decode_as_path, encode_as_path};
use super::error::update_subcode::{
    ATTRIBUTE_FLAGS_ERROR, ATTRIBUTE_LENGTH_ERROR, INVALID_NEXT_HOP_ATTRIBUTE,
    INVALID_ORIGIN_ATTRIBUTE, MALFORMED_ATTRIBUTE_LIST, UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
};
use super::reader::Reader;
use super::{CodecContext, DecodeError, ErrorCode, Origin, PathAttribute, UpdateMsg};

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

/// Attribute type codes we decode into their own variant.
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
}

use attr_flag::{EXTENDED_LENGTH, MEANINGFUL, OPTIONAL, PARTIAL, TRANSITIVE};

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

/// Interprets one attribute (RFC 4271 §6.3 checks, in the order the RFC lists them).
pub(crate) fn decode_attribute(
    raw: &RawAttribute<'_>,
    ctx: CodecContext,
) -> Result<PathAttribute, DecodeError> {
    let expected_flags = match raw.type_code {
        attr_type::MULTI_EXIT_DISC => OPTIONAL_NON_TRANSITIVE,
        attr_type::ORIGIN..=attr_type::ATOMIC_AGGREGATE => WELL_KNOWN,
        _ if raw.flags & OPTIONAL == 0 => {
            return Err(attr_err(
                UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
                raw,
                "unrecognised well-known attribute",
            ))
        }
        type_code => {
            let flags = raw.flags & MEANINGFUL;
            return Ok(PathAttribute::Unknown {
                flags,
                type_code,
                value: raw.value.to_vec(),
            });
        }
    };
    if raw.flags & MEANINGFUL != expected_flags {
        return Err(attr_err(
            ATTRIBUTE_FLAGS_ERROR,
            raw,
            "attribute flags conflict with type",
        ));
    }
    let bad_len = || {
        attr_err(
            ATTRIBUTE_LENGTH_ERROR,
            raw,
            "attribute length conflicts with type",
        )
    };
    let fixed_len = match raw.type_code {
        attr_type::ORIGIN => Some(1),
        attr_type::NEXT_HOP | attr_type::MULTI_EXIT_DISC | attr_type::LOCAL_PREF => Some(4),
        attr_type::ATOMIC_AGGREGATE => Some(0),
        _ => None,
    };
    if fixed_len.is_some_and(|n| n != raw.value.len()) {
        return Err(bad_len());
    }
    let mut r = Reader::new(raw.value);
    Ok(match raw.type_code {
        attr_type::ORIGIN => match r.u8().map_err(|_| bad_len())? {
            0 => PathAttribute::Origin(Origin::Igp),
            1 => PathAttribute::Origin(Origin::Egp),
            2 => PathAttribute::Origin(Origin::Incomplete),
            _ => {
                return Err(attr_err(
                    INVALID_ORIGIN_ATTRIBUTE,
                    raw,
                    "ORIGIN value above 2",
                ))
            }
        },
        attr_type::AS_PATH => PathAttribute::AsPath(decode_as_path(raw.value, ctx.four_octet_as)?),
        attr_type::NEXT_HOP => {
            let nh = r.ipv4().map_err(|_| bad_len())?;
            if !is_valid_next_hop(nh) {
                return Err(attr_err(
                    INVALID_NEXT_HOP_ATTRIBUTE,
                    raw,
                    "NEXT_HOP not unicast",
                ));
            }
            PathAttribute::NextHop(nh)
        }
        attr_type::MULTI_EXIT_DISC => PathAttribute::MultiExitDisc(r.u32().map_err(|_| bad_len())?),
        attr_type::LOCAL_PREF => PathAttribute::LocalPref(r.u32().map_err(|_| bad_len())?),
        _ => PathAttribute::AtomicAggregate,
    })
}

/// RFC 4271 §6.3: a NEXT_HOP must be a unicast address (syntactic check only; whether it is the
/// receiver's own address is the session's business).
fn is_valid_next_hop(nh: Ipv4Addr) -> bool {
    !(nh.is_unspecified() || nh.is_multicast() || nh.is_broadcast())
}

/// Appends one attribute with canonical flags and the Extended Length bit only when the value
/// needs it. An [`PathAttribute::Unknown`] optional transitive attribute gets the Partial bit,
/// because we pass it on without understanding it (RFC 4271 §5). Dropping unknown
/// *non-transitive* attributes before re-advertising is the caller's job: see
/// [`UpdateMsg::drop_unknown_non_transitive`].
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
    match u8::try_from(value.len()) {
        Ok(len) => out.extend_from_slice(&[flags, type_code, len]),
        Err(_) => {
            out.extend_from_slice(&[flags | EXTENDED_LENGTH, type_code]);
            // A value above 65535 octets cannot be encoded; it is cut to fit.
            let len = u16::try_from(value.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    let cut = value.get(..usize::from(u16::MAX)).unwrap_or(&value);
    out.extend_from_slice(cut);
}

fn origin_code(origin: Origin) -> u8 {
    match origin {
        Origin::Igp => 0,
        Origin::Egp => 1,
        Origin::Incomplete => 2,
    }
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
