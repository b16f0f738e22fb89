//! UPDATE (RFC 4271 §4.3, §6.3) with RFC 7606 error handling.
//!
//! What resets the session: withdrawn or total attribute lengths that overrun the message (3/1),
//! MP_REACH/MP_UNREACH twice or malformed (3/1, 3/9), a bad prefix (3/10) and an unrecognised
//! well-known attribute (3/2). Other attribute errors are recovered from as RFC 7606
//! §7 says ("treat-as-withdraw" or "attribute discard") and listed in [`UpdateMsg::recovered`].

use ipnet::{IpNet, Ipv4Net};

use super::as_path::merge_as4_path;
use super::attribute::encode::encode_attribute;
use super::attribute::{attr_type, decode_attribute, next_raw, Decoded};
use super::error::update_subcode::{MALFORMED_ATTRIBUTE_LIST, MISSING_WELL_KNOWN_ATTRIBUTE};
use super::prefix::{decode_prefixes, encode_prefixes};
use super::reader::Reader;
use super::{
    afi, safi, CodecContext, DecodeError, ErrorCode, MpUnreach, PathAttribute, RecoveredError,
    Recovery, UpdateMsg, AS_TRANS,
};

fn malformed_list(reason: &'static str) -> DecodeError {
    DecodeError::new(
        ErrorCode::UpdateMessage,
        MALFORMED_ATTRIBUTE_LIST,
        Vec::new(),
        reason,
    )
}

/// Decodes an UPDATE body (the bytes after the 19-byte header).
pub(crate) fn decode_update(body: &[u8], ctx: CodecContext) -> Result<UpdateMsg, DecodeError> {
    let mut r = Reader::new(body);
    // §6.3: lengths that do not fit the message make the attribute list malformed.
    let overrun = |_| malformed_list("withdrawn routes or attribute length overruns the UPDATE");
    let withdrawn_len = r.u16().map_err(overrun)?;
    let withdrawn = r.take(usize::from(withdrawn_len)).map_err(overrun)?;
    let attrs_len = r.u16().map_err(overrun)?;
    let attrs = r.take(usize::from(attrs_len)).map_err(overrun)?;
    let nlri = r.rest();

    let withdrawn = decode_prefixes(withdrawn)?;
    let (attributes, recovered) = decode_attributes(attrs, ctx)?;
    let nlri = decode_prefixes(nlri)?;
    let mut update = UpdateMsg {
        withdrawn,
        attributes,
        nlri,
        recovered,
    };
    if let Some(missing) = missing_mandatory(&update) {
        update.recovered.push(RecoveredError {
            action: Recovery::TreatAsWithdraw,
            error: DecodeError::new(
                ErrorCode::UpdateMessage,
                MISSING_WELL_KNOWN_ATTRIBUTE,
                vec![missing],
                "well-known mandatory attribute missing",
            ),
        });
    }
    if update
        .recovered
        .iter()
        .any(|e| e.action == Recovery::TreatAsWithdraw)
    {
        treat_as_withdraw(&mut update);
    }
    Ok(update)
}

/// RFC 4271 §5 / RFC 4760 §3: ORIGIN and AS_PATH with any NLRI, NEXT_HOP with IPv4 NLRI in
/// the classic field. The first missing type code, if any.
fn missing_mandatory(update: &UpdateMsg) -> Option<u8> {
    let mp_nlri = update
        .attributes
        .iter()
        .any(|a| matches!(a, PathAttribute::MpReach(mp) if !mp.nlri.is_empty()));
    if update.nlri.is_empty() && !mp_nlri {
        return None;
    }
    let present = |code: u8| update.attributes.iter().any(|a| a.type_code() == code);
    let mut needed = vec![attr_type::ORIGIN, attr_type::AS_PATH];
    if !update.nlri.is_empty() {
        needed.push(attr_type::NEXT_HOP);
    }
    needed.into_iter().find(|&code| !present(code))
}

/// RFC 7606 §2: every prefix the UPDATE announces is withdrawn instead. IPv4 unicast goes to
/// the classic Withdrawn Routes; IPv6 stays in the one MP_UNREACH_NLRI.
fn treat_as_withdraw(update: &mut UpdateMsg) {
    let mut v6: Vec<IpNet> = Vec::new();
    let mut v4: Vec<Ipv4Net> = std::mem::take(&mut update.nlri);
    for attr in std::mem::take(&mut update.attributes) {
        let prefixes = match attr {
            PathAttribute::MpReach(mp) => mp.nlri,
            PathAttribute::MpUnreach(mp) => mp.withdrawn,
            _ => continue,
        };
        for p in prefixes {
            match p {
                IpNet::V4(p) => v4.push(p),
                IpNet::V6(_) => v6.push(p),
            }
        }
    }
    update.withdrawn.extend(v4);
    if !v6.is_empty() {
        update.attributes.push(PathAttribute::MpUnreach(MpUnreach {
            afi: afi::IPV6,
            safi: safi::UNICAST,
            withdrawn: v6,
        }));
    }
}

/// Decodes the Path Attributes field. A repeated attribute is discarded (RFC 7606 §3 g), except
/// MP_REACH/MP_UNREACH, whose repetition resets the session.
fn decode_attributes(
    buf: &[u8],
    ctx: CodecContext,
) -> Result<(Vec<PathAttribute>, Vec<RecoveredError>), DecodeError> {
    let mut r = Reader::new(buf);
    let mut seen: Vec<u8> = Vec::new();
    let mut attributes = Vec::new();
    let mut recovered = Vec::new();
    let (mut as4_path, mut as4_aggregator) = (None, None);
    while !r.is_empty() {
        // RFC 7606 §4: an attribute running past the list (or a list ending in a partial
        // header) is treat-as-withdraw; the Total Attribute Length still locates the NLRI.
        let raw = match next_raw(&mut r) {
            Ok(raw) => raw,
            Err(error) => {
                recovered.push(RecoveredError {
                    action: Recovery::TreatAsWithdraw,
                    error,
                });
                break;
            }
        };
        if seen.contains(&raw.type_code) {
            let error = malformed_list("path attribute appears twice");
            if matches!(
                raw.type_code,
                attr_type::MP_REACH_NLRI | attr_type::MP_UNREACH_NLRI
            ) {
                return Err(error);
            }
            recovered.push(RecoveredError {
                action: Recovery::AttributeDiscard,
                error,
            });
            continue;
        }
        seen.push(raw.type_code);
        match decode_attribute(&raw, ctx) {
            Ok(Decoded::Attr(a)) => attributes.push(a),
            Ok(Decoded::As4Path(p)) => as4_path = Some(p),
            Ok(Decoded::As4Aggregator { asn, address }) => as4_aggregator = Some((asn, address)),
            Ok(Decoded::Nothing) => {}
            Err(f) => match f.recovery {
                Some(action) => recovered.push(RecoveredError {
                    action,
                    error: f.error,
                }),
                None => return Err(f.error),
            },
        }
    }
    fold_as4(&mut attributes, as4_path, as4_aggregator);
    Ok((attributes, recovered))
}

/// RFC 6793 §4.2.3, for a 2-octet speaker's UPDATE: AS4_PATH and AS4_AGGREGATOR are used unless
/// AGGREGATOR names a real 2-octet ASN (then an old speaker aggregated and they are stale).
fn fold_as4(
    attributes: &mut [PathAttribute],
    as4_path: Option<Vec<super::AsSegment>>,
    as4_aggregator: Option<(u32, std::net::Ipv4Addr)>,
) {
    let aggregator_asn = attributes.iter().find_map(|a| match a {
        PathAttribute::Aggregator { asn, .. } => Some(*asn),
        _ => None,
    });
    if aggregator_asn.is_some_and(|asn| asn != u32::from(AS_TRANS)) {
        return;
    }
    for attr in attributes.iter_mut() {
        match attr {
            PathAttribute::AsPath(path) => {
                if let Some(as4) = &as4_path {
                    *path = merge_as4_path(path, as4);
                }
            }
            PathAttribute::Aggregator { asn, address } => {
                if let Some((real, addr)) = as4_aggregator {
                    (*asn, *address) = (real, addr);
                }
            }
            _ => {}
        }
    }
}

/// Appends an UPDATE body. Attributes are written in the order given (callers keep them in
/// type-code order, which is what RFC 4271 §5 recommends). A body longer than 65535 octets
/// cannot be encoded: callers must split UPDATEs to fit the negotiated maximum message size.
pub(crate) fn encode_update(out: &mut Vec<u8>, msg: &UpdateMsg, ctx: CodecContext) {
    let mut withdrawn = Vec::new();
    encode_prefixes(&mut withdrawn, &msg.withdrawn);
    put_block(out, &withdrawn);
    let mut attrs = Vec::new();
    for attr in &msg.attributes {
        encode_attribute(&mut attrs, attr, ctx);
    }
    put_block(out, &attrs);
    encode_prefixes(out, &msg.nlri);
}

/// A 2-octet length then the bytes (cut to 65535 so the length never lies).
fn put_block(out: &mut Vec<u8>, block: &[u8]) {
    let len = u16::try_from(block.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(block.get(..usize::from(len)).unwrap_or(block));
}

impl UpdateMsg {
    /// The family this UPDATE is the End-of-RIB marker of (RFC 4724 §2): an empty UPDATE for
    /// IPv4 unicast, an UPDATE holding only an empty MP_UNREACH_NLRI for another family.
    pub fn end_of_rib(&self) -> Option<(u16, u8)> {
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() {
            return None;
        }
        match self.attributes.as_slice() {
            [] => Some((afi::IPV4, safi::UNICAST)),
            [PathAttribute::MpUnreach(mp)] if mp.withdrawn.is_empty() => Some((mp.afi, mp.safi)),
            _ => None,
        }
    }

    /// The End-of-RIB marker for a family.
    pub fn end_of_rib_for(afi_value: u16, safi_value: u8) -> UpdateMsg {
        if afi_value == afi::IPV4 && safi_value == safi::UNICAST {
            return UpdateMsg::default();
        }
        UpdateMsg {
            attributes: vec![PathAttribute::MpUnreach(MpUnreach {
                afi: afi_value,
                safi: safi_value,
                withdrawn: Vec::new(),
            })],
            ..UpdateMsg::default()
        }
    }
}
