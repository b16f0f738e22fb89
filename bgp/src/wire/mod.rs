//! The BGP-4 wire codec (RFC 4271 §4), owned by us: see `../shared/notes/bgp-codec.md`.
//!
//! Decoding works on a bounded byte slice and never panics: every failure is a [`DecodeError`]
//! that carries the NOTIFICATION (code, subcode, data) the session must send back.

mod error;
mod codec_stub;
mod types;

pub use error::{DecodeError, ErrorCode};
pub use codec_stub::{check_frame, decode, encode};
pub use types::*;

/// Largest BGP message without the Extended Message capability (RFC 4271 §4.1).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// Size of the fixed header: marker (16), length (2), type (1).
pub const HEADER_LEN: usize = 19;
/// AS_TRANS, the 2-octet stand-in for a 4-octet ASN (RFC 6793 §9).
pub const AS_TRANS: u16 = 23456;
