//! Encoding one message (RFC 4271 §4), canonically.

use super::frame::msg_type;
use super::notification::encode_notification;
use super::open::encode_open;
use super::route_refresh::encode_route_refresh;
use super::update::encode_update;
use super::{CodecContext, Message, HEADER_LEN};

/// Encodes `msg` with its header. Encoding cannot fail: the caller keeps messages within the
/// negotiated size (4096 octets without Extended Message, RFC 8654); past 65535 octets the
/// length field saturates and the result is not a valid message.
pub fn encode(msg: &Message, ctx: CodecContext) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    out.extend_from_slice(&[0xff; 16]);
    out.extend_from_slice(&[0, 0]); // length, filled in below
    match msg {
        Message::Open(open) => {
            out.push(msg_type::OPEN);
            encode_open(&mut out, open);
        }
        Message::Update(update) => {
            out.push(msg_type::UPDATE);
            encode_update(&mut out, update, ctx);
        }
        Message::Notification(notification) => {
            out.push(msg_type::NOTIFICATION);
            encode_notification(&mut out, notification);
        }
        Message::Keepalive => out.push(msg_type::KEEPALIVE),
        Message::RouteRefresh(rr) => {
            out.push(msg_type::ROUTE_REFRESH);
            encode_route_refresh(&mut out, rr);
        }
    }
    let len = u16::try_from(out.len()).unwrap_or(u16::MAX).to_be_bytes();
    if let Some(field) = out.get_mut(16..18) {
        field.copy_from_slice(&len);
    }
    out
}
