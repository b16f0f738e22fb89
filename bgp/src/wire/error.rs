//! Decode failures, each mapped onto the NOTIFICATION that RFC 4271 §6 prescribes.

use super::NotificationMsg;

/// NOTIFICATION error codes (RFC 4271 §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ErrorCode {
    /// 1.
    MessageHeader = 1,
    /// 2.
    OpenMessage = 2,
    /// 3.
    UpdateMessage = 3,
    /// 4.
    HoldTimerExpired = 4,
    /// 5.
    FsmError = 5,
    /// 6.
    Cease = 6,
}

/// A message that could not be decoded, with the NOTIFICATION to answer it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} (NOTIFICATION {code:?}/{subcode})")]
pub struct DecodeError {
    /// NOTIFICATION error code.
    pub code: ErrorCode,
    /// NOTIFICATION error subcode (RFC 4271 §6.1-§6.3).
    pub subcode: u8,
    /// NOTIFICATION data (e.g. the bad length field, or the offending attribute).
    pub data: Vec<u8>,
    /// Human-readable reason for the log.
    pub reason: &'static str,
}

impl From<&DecodeError> for NotificationMsg {
    fn from(e: &DecodeError) -> Self {
        NotificationMsg { code: e.code as u8, subcode: e.subcode, data: e.data.clone() }
    }
}
