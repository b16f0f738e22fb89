//! Placeholder signatures, replaced by the real codec on the `codec` branch.

use super::{CodecContext, DecodeError, ErrorCode, Message};

/// Check a buffer for one complete frame; `Ok(Some(len))` once `len` bytes make a message.
pub fn check_frame(_buf: &[u8], _max_len: usize) -> Result<Option<usize>, DecodeError> {
    Ok(None)
}

/// Decode one complete frame (header included).
pub fn decode(_frame: &[u8], _ctx: CodecContext) -> Result<Message, DecodeError> {
    Err(DecodeError { code: ErrorCode::MessageHeader, subcode: 0, data: vec![], reason: "stub" })
}

/// Encode one message, header included.
pub fn encode(_msg: &Message, _ctx: CodecContext) -> Vec<u8> {
    Vec::new()
}
