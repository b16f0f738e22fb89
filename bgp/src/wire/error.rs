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
    /// 7 (RFC 7313 §5).
    RouteRefreshMessage = 7,
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
        NotificationMsg {
            code: e.code as u8,
            subcode: e.subcode,
            data: e.data.clone(),
        }
    }
}

impl DecodeError {
    /// A decode error answered by NOTIFICATION `code`/`subcode` carrying `data`.
    pub fn new(code: ErrorCode, subcode: u8, data: Vec<u8>, reason: &'static str) -> Self {
        Self {
            code,
            subcode,
            data,
            reason,
        }
    }

    /// The NOTIFICATION to send back for this error.
    pub fn to_notification(&self) -> NotificationMsg {
        NotificationMsg::from(self)
    }
}

/// Message Header Error subcodes (RFC 4271 §6.1).
pub mod header_subcode {
    /// Marker not all ones.
    pub const CONNECTION_NOT_SYNCHRONIZED: u8 = 1;
    /// Length field out of range for the message type.
    pub const BAD_MESSAGE_LENGTH: u8 = 2;
    /// Type field not one we know.
    pub const BAD_MESSAGE_TYPE: u8 = 3;
}

/// OPEN Message Error subcodes (RFC 4271 §6.2, RFC 5492 §5).
pub mod open_subcode {
    /// No specific subcode applies (RFC 4271 §6.2: malformed optional parameters).
    pub const UNSPECIFIC: u8 = 0;
    /// Version other than 4.
    pub const UNSUPPORTED_VERSION_NUMBER: u8 = 1;
    /// My Autonomous System not what we expected (checked by the FSM, not the codec).
    pub const BAD_PEER_AS: u8 = 2;
    /// BGP Identifier not a valid unicast address.
    pub const BAD_BGP_IDENTIFIER: u8 = 3;
    /// Optional parameter type we do not support.
    pub const UNSUPPORTED_OPTIONAL_PARAMETER: u8 = 4;
    /// Hold time 1 or 2 (or refused by policy).
    pub const UNACCEPTABLE_HOLD_TIME: u8 = 6;
    /// A capability we require is missing (RFC 5492 §5).
    pub const UNSUPPORTED_CAPABILITY: u8 = 7;
}

/// Cease subcodes (RFC 4486 §4).
pub mod cease_subcode {
    /// Maximum Number of Prefixes Reached (data: AFI, SAFI, the limit).
    pub const MAX_PREFIXES: u8 = 1;
    /// Administrative Shutdown.
    pub const ADMINISTRATIVE_SHUTDOWN: u8 = 2;
    /// Peer De-configured.
    pub const PEER_DECONFIGURED: u8 = 3;
    /// Administrative Reset.
    pub const ADMINISTRATIVE_RESET: u8 = 4;
    /// Other Configuration Change.
    pub const OTHER_CONFIGURATION_CHANGE: u8 = 6;
    /// Connection Collision Resolution.
    pub const CONNECTION_COLLISION_RESOLUTION: u8 = 7;
}

/// ROUTE-REFRESH Message Error subcodes (RFC 7313 §5).
pub mod route_refresh_subcode {
    /// Length other than 23 octets; the data is the whole message.
    pub const INVALID_MESSAGE_LENGTH: u8 = 1;
}

/// UPDATE Message Error subcodes (RFC 4271 §6.3).
pub mod update_subcode {
    /// Lengths inconsistent, or an attribute appears twice.
    pub const MALFORMED_ATTRIBUTE_LIST: u8 = 1;
    /// Well-known attribute we do not recognise.
    pub const UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE: u8 = 2;
    /// ORIGIN, AS_PATH or NEXT_HOP missing while NLRI is present.
    pub const MISSING_WELL_KNOWN_ATTRIBUTE: u8 = 3;
    /// Flags that conflict with the type code.
    pub const ATTRIBUTE_FLAGS_ERROR: u8 = 4;
    /// Length that conflicts with the type code.
    pub const ATTRIBUTE_LENGTH_ERROR: u8 = 5;
    /// ORIGIN value not 0, 1 or 2.
    pub const INVALID_ORIGIN_ATTRIBUTE: u8 = 6;
    /// NEXT_HOP syntactically wrong.
    pub const INVALID_NEXT_HOP_ATTRIBUTE: u8 = 8;
    /// Optional attribute whose value does not parse.
    pub const OPTIONAL_ATTRIBUTE_ERROR: u8 = 9;
    /// Prefix length > 32 or prefix bytes missing.
    pub const INVALID_NETWORK_FIELD: u8 = 10;
    /// AS_PATH segments malformed.
    pub const MALFORMED_AS_PATH: u8 = 11;
}
