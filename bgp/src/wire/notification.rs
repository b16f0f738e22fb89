//! NOTIFICATION (RFC 4271 §4.5).

use super::reader::Reader;
use super::{DecodeError, ErrorCode, NotificationMsg};

/// Decodes a NOTIFICATION body: code, subcode, then diagnostic data to the end.
pub(crate) fn decode_notification(body: &[u8]) -> Result<NotificationMsg, DecodeError> {
    let mut r = Reader::new(body);
    let short = |_| {
        // Unreachable after `check_frame` (NOTIFICATION is at least 21 octets); kept total.
        DecodeError::new(
            ErrorCode::MessageHeader,
            2,
            Vec::new(),
            "NOTIFICATION too short",
        )
    };
    let code = r.u8().map_err(short)?;
    let subcode = r.u8().map_err(short)?;
    Ok(NotificationMsg {
        code,
        subcode,
        data: r.rest().to_vec(),
    })
}

/// Appends a NOTIFICATION body.
pub(crate) fn encode_notification(out: &mut Vec<u8>, msg: &NotificationMsg) {
    out.extend_from_slice(&[msg.code, msg.subcode]);
    out.extend_from_slice(&msg.data);
}
