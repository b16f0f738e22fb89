//! Decoding one whole message (RFC 4271 §4).

use super::error::header_subcode::BAD_MESSAGE_LENGTH;
use super::frame::{msg_type, parse_header};
use super::notification::decode_notification;
use super::open::decode_open;
use super::route_refresh::decode_route_refresh;
use super::update::decode_update;
use super::{CodecContext, DecodeError, ErrorCode, Message, HEADER_LEN};

/// Decodes exactly one message: `frame` must be the `total_len` bytes that [`super::check_frame`]
/// reported. The header is checked again (so `decode` is safe on any input), and a frame whose
/// length field disagrees with its size is 1/2 Bad Message Length.
pub fn decode(frame: &[u8], ctx: CodecContext) -> Result<Message, DecodeError> {
    let header = parse_header(frame, usize::from(u16::MAX))?.ok_or_else(|| {
        DecodeError::new(
            ErrorCode::MessageHeader,
            BAD_MESSAGE_LENGTH,
            Vec::new(),
            "frame shorter than a BGP header",
        )
    })?;
    if header.len != frame.len() {
        let field = u16::try_from(header.len).unwrap_or(u16::MAX);
        return Err(DecodeError::new(
            ErrorCode::MessageHeader,
            BAD_MESSAGE_LENGTH,
            field.to_be_bytes().to_vec(),
            "length field disagrees with the frame size",
        ));
    }
    let body = frame.get(HEADER_LEN..).unwrap_or_default();
    match header.msg_type {
        msg_type::OPEN => decode_open(body).map(Message::Open),
        msg_type::UPDATE => decode_update(body, ctx).map(Message::Update),
        msg_type::NOTIFICATION => decode_notification(body).map(Message::Notification),
        msg_type::ROUTE_REFRESH => decode_route_refresh(body, frame).map(Message::RouteRefresh),
        // parse_header admits only the five types, and KEEPALIVE only with no body.
        _ => Ok(Message::Keepalive),
    }
}
