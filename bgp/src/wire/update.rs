//! UPDATE (RFC 4271 §4.3, §6.3) for IPv4 unicast.

use super::attribute::{attr_type, decode_attribute, encode_attribute, next_raw};
use super::error::update_subcode::{MALFORMED_ATTRIBUTE_LIST, MISSING_WELL_KNOWN_ATTRIBUTE};
use super::prefix::{decode_prefixes, encode_prefixes};
use super::reader::Reader;
use super::{CodecContext, DecodeError, ErrorCode, PathAttribute, UpdateMsg};

/// Attributes every UPDATE with IPv4 NLRI must carry, in the order we report them missing.
const MANDATORY: [u8; 3] = [attr_type::ORIGIN, attr_type::AS_PATH, attr_type::NEXT_HOP];

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
    let attributes = decode_attributes(attrs, ctx)?;
    let nlri = decode_prefixes(nlri)?;
    if !nlri.is_empty() {
        let present = |code: u8| attributes.iter().any(|a| a.type_code() == code);
        if let Some(&missing) = MANDATORY.iter().find(|&&code| !present(code)) {
            return Err(DecodeError::new(
                ErrorCode::UpdateMessage,
                MISSING_WELL_KNOWN_ATTRIBUTE,
                vec![missing],
                "well-known mandatory attribute missing",
            ));
        }
    }
    Ok(UpdateMsg {
        withdrawn,
        attributes,
        nlri,
    })
}

/// Decodes the Path Attributes field; an attribute type seen twice is 3/1 (§6.3).
fn decode_attributes(buf: &[u8], ctx: CodecContext) -> Result<Vec<PathAttribute>, DecodeError> {
    let mut r = Reader::new(buf);
    let mut seen: Vec<u8> = Vec::new();
    let mut attributes = Vec::new();
    while !r.is_empty() {
        let raw = next_raw(&mut r)?;
        if seen.contains(&raw.type_code) {
            return Err(malformed_list("path attribute appears twice"));
        }
        seen.push(raw.type_code);
        attributes.push(decode_attribute(&raw, ctx)?);
    }
    Ok(attributes)
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
