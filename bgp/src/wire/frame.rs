//! Framing: is a whole, plausible BGP message at the front of the buffer? (RFC 4271 §4.1, §6.1)
//!
//! Like mini-redis's `check` before `parse`: the driver calls [`check_frame`] on its read buffer
//! and only hands a complete frame to [`super::decode`].

use super::error::header_subcode::{
    BAD_MESSAGE_LENGTH, BAD_MESSAGE_TYPE, CONNECTION_NOT_SYNCHRONIZED,
};
use super::reader::Reader;
use super::{DecodeError, ErrorCode, HEADER_LEN};

/// Message type codes (RFC 4271 §4.1).
pub(crate) mod msg_type {
    /// OPEN.
    pub const OPEN: u8 = 1;
    /// UPDATE.
    pub const UPDATE: u8 = 2;
    /// NOTIFICATION.
    pub const NOTIFICATION: u8 = 3;
    /// KEEPALIVE.
    pub const KEEPALIVE: u8 = 4;
    /// ROUTE-REFRESH (RFC 2918).
    pub const ROUTE_REFRESH: u8 = 5;
}

/// Smallest OPEN: header + version, AS, hold time, identifier, opt-param length (RFC 4271 §4.2).
const MIN_OPEN_LEN: usize = 29;
/// Smallest UPDATE: header + the two 2-octet length fields (RFC 4271 §4.3).
const MIN_UPDATE_LEN: usize = 23;
/// Smallest NOTIFICATION: header + code + subcode (RFC 4271 §4.5).
const MIN_NOTIFICATION_LEN: usize = 21;

/// A validated message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// Total message length, header included.
    pub len: usize,
    /// Message type (1..=5).
    pub msg_type: u8,
}

/// RFC 4271 §4.1: `Ok(None)` until a whole message is buffered, then `Ok(Some(total_len))`.
///
/// The header is validated as soon as its 19 bytes are present, so garbage is refused without
/// waiting for the length it claims. `max_len` is 4096 ([`super::MAX_MESSAGE_LEN`]) unless the
/// Extended Message capability was negotiated.
pub fn check_frame(buf: &[u8], max_len: usize) -> Result<Option<usize>, DecodeError> {
    let Some(header) = parse_header(buf, max_len)? else {
        return Ok(None);
    };
    if buf.len() < header.len {
        return Ok(None);
    }
    Ok(Some(header.len))
}

/// Validates the 19-byte header at the front of `buf`, if it is all there (RFC 4271 §6.1).
pub(crate) fn parse_header(buf: &[u8], max_len: usize) -> Result<Option<Header>, DecodeError> {
    let mut r = Reader::new(buf);
    let (Ok(marker), Ok(len_field), Ok(msg_type)) = (r.take(16), r.u16(), r.u8()) else {
        return Ok(None);
    };
    if marker.iter().any(|&b| b != 0xff) {
        return Err(DecodeError::new(
            ErrorCode::MessageHeader,
            CONNECTION_NOT_SYNCHRONIZED,
            Vec::new(),
            "marker is not all ones",
        ));
    }
    let len = usize::from(len_field);
    let bad_length = |reason| {
        DecodeError::new(
            ErrorCode::MessageHeader,
            BAD_MESSAGE_LENGTH,
            len_field.to_be_bytes().to_vec(),
            reason,
        )
    };
    if len < HEADER_LEN || len > max_len {
        return Err(bad_length("message length out of range"));
    }
    let fits = match msg_type {
        msg_type::OPEN => len >= MIN_OPEN_LEN,
        msg_type::UPDATE => len >= MIN_UPDATE_LEN,
        msg_type::NOTIFICATION => len >= MIN_NOTIFICATION_LEN,
        msg_type::KEEPALIVE => len == HEADER_LEN,
        // A wrong length is a ROUTE-REFRESH error (7/1) with the whole message as data
        // (RFC 7313 §5), which only `decode` can report.
        msg_type::ROUTE_REFRESH => true,
        other => {
            return Err(DecodeError::new(
                ErrorCode::MessageHeader,
                BAD_MESSAGE_TYPE,
                vec![other],
                "unknown message type",
            ))
        }
    };
    if !fits {
        return Err(bad_length("message length wrong for its type"));
    }
    Ok(Some(Header { len, msg_type }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn header(len: u16, msg_type: u8) -> Vec<u8> {
        let mut v = vec![0xff; 16];
        v.extend_from_slice(&len.to_be_bytes());
        v.push(msg_type);
        v
    }

    #[test]
    fn waits_for_header_then_for_body() {
        let ka = header(19, 4);
        for n in 0..19 {
            assert_eq!(check_frame(&ka[..n], 4096), Ok(None), "prefix of {n} bytes");
        }
        assert_eq!(check_frame(&ka, 4096), Ok(Some(19)));
        let mut update = header(23, 2);
        assert_eq!(check_frame(&update, 4096), Ok(None));
        update.extend_from_slice(&[0, 0, 0, 0, 0xff]);
        // Bytes of the next message after the frame are left alone.
        assert_eq!(check_frame(&update, 4096), Ok(Some(23)));
    }

    #[test]
    fn header_is_checked_before_the_body_arrives() {
        let e = check_frame(&header(5000, 2), 4096).unwrap_err();
        assert_eq!(
            (e.code, e.subcode, e.data),
            (ErrorCode::MessageHeader, 2, vec![0x13, 0x88])
        );
        assert_eq!(check_frame(&header(5000, 2), 65535), Ok(None));
    }
}
