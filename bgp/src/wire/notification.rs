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

/// The longest Shutdown Communication (RFC 9003 §2: a one-octet length).
pub const MAX_SHUTDOWN_COMMUNICATION: usize = 255;

/// What a Cease/2 or Cease/4 NOTIFICATION says about why (RFC 9003).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShutdownCommunication {
    /// A message, UTF-8 as the RFC requires.
    Message(String),
    /// A length past the data, or bytes that are not UTF-8 (§4: log that it was invalid).
    Invalid(&'static str),
}

impl NotificationMsg {
    /// Cease/2 (Administrative Shutdown) with `message` as its Shutdown Communication (RFC
    /// 9003), cut at a character boundary to 255 octets.
    pub fn administrative_shutdown(message: &str) -> NotificationMsg {
        let mut end = message.len().min(MAX_SHUTDOWN_COMMUNICATION);
        while !message.is_char_boundary(end) {
            end = end.saturating_sub(1);
        }
        let text = message.get(..end).unwrap_or_default().as_bytes();
        let mut data = Vec::with_capacity(text.len().saturating_add(1));
        data.push(u8::try_from(text.len()).unwrap_or(u8::MAX));
        data.extend_from_slice(text);
        NotificationMsg {
            code: ErrorCode::Cease as u8,
            subcode: super::cease_subcode::ADMINISTRATIVE_SHUTDOWN,
            data,
        }
    }

    /// The Shutdown Communication of a Cease/2 or Cease/4 (RFC 9003 §2), if it carries one
    /// (none: not such a Cease, or no data, or a zero length).
    pub fn shutdown_communication(&self) -> Option<ShutdownCommunication> {
        use super::cease_subcode::{ADMINISTRATIVE_RESET, ADMINISTRATIVE_SHUTDOWN};
        let cease = self.code == ErrorCode::Cease as u8
            && matches!(self.subcode, ADMINISTRATIVE_SHUTDOWN | ADMINISTRATIVE_RESET);
        if !cease {
            return None;
        }
        let (len, rest) = self.data.split_first()?;
        if *len == 0 {
            return None;
        }
        let Some(text) = rest.get(..usize::from(*len)) else {
            return Some(ShutdownCommunication::Invalid(
                "its length runs past the NOTIFICATION",
            ));
        };
        Some(match std::str::from_utf8(text) {
            Ok(s) => ShutdownCommunication::Message(s.to_string()),
            Err(_) => ShutdownCommunication::Invalid("it is not UTF-8"),
        })
    }
}

impl std::fmt::Display for ShutdownCommunication {
    /// Quoted, with control characters escaped: safe in one log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShutdownCommunication::Message(m) => write!(f, "\"{}\"", m.escape_debug()),
            ShutdownCommunication::Invalid(why) => write!(f, "(invalid: {why})"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn a_shutdown_communication_round_trips_and_bad_ones_are_named() {
        let n = NotificationMsg::administrative_shutdown("maintenance: rack 3 ✓");
        assert_eq!((n.code, n.subcode), (6, 2));
        assert_eq!(usize::from(n.data[0]), n.data.len() - 1);
        assert_eq!(
            n.shutdown_communication(),
            Some(ShutdownCommunication::Message(
                "maintenance: rack 3 ✓".into()
            ))
        );
        // 255 octets at most, cut between characters.
        let long = "é".repeat(200);
        let n = NotificationMsg::administrative_shutdown(&long);
        assert_eq!(n.data[0], 254);
        assert!(matches!(
            n.shutdown_communication(),
            Some(ShutdownCommunication::Message(_))
        ));
        let cease = |subcode, data: &[u8]| NotificationMsg {
            code: 6,
            subcode,
            data: data.to_vec(),
        };
        assert_eq!(
            cease(4, &[3, b'a', b'b', b'c']).shutdown_communication(),
            Some(ShutdownCommunication::Message("abc".into()))
        );
        assert_eq!(cease(2, &[]).shutdown_communication(), None);
        assert_eq!(cease(2, &[0]).shutdown_communication(), None);
        assert_eq!(cease(3, &[1, b'a']).shutdown_communication(), None);
        assert!(matches!(
            cease(2, &[9, b'a']).shutdown_communication(),
            Some(ShutdownCommunication::Invalid(_))
        ));
        assert!(matches!(
            cease(2, &[2, 0xff, 0xfe]).shutdown_communication(),
            Some(ShutdownCommunication::Invalid(_))
        ));
        let shown = ShutdownCommunication::Message("a\nb".into()).to_string();
        assert_eq!(shown, "\"a\\nb\"");
    }
}
