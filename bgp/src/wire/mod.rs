//! The BGP-4 wire codec (RFC 4271 §4), owned by us: see `../shared/notes/bgp-codec.md`.
//!
//! Decoding works on a bounded byte slice and never panics: every failure is a [`DecodeError`]
//! that carries the NOTIFICATION (code, subcode, data) the session must send back. The lints
//! below make the compiler hold us to that: no indexing, slicing or unchecked arithmetic.
//!
//! Use: [`check_frame`] on the read buffer until it returns the length of a whole message, then
//! [`decode`] on exactly those bytes; [`encode`] for the way out.
#![deny(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::panic
)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::unreachable,
    clippy::cast_possible_truncation
)]

mod as_path;
mod attribute;
mod decode;
mod encode;
mod error;
mod frame;
mod mp;
mod notification;
mod open;
mod prefix;
mod reader;
mod route_refresh;
mod types;
mod update;

pub use attribute::{attr_flag, attr_type};
pub use decode::decode;
pub use encode::encode;
pub use error::{
    cease_subcode, header_subcode, open_subcode, route_refresh_subcode, update_subcode,
    DecodeError, ErrorCode,
};
pub use frame::check_frame;
pub use notification::{ShutdownCommunication, MAX_SHUTDOWN_COMMUNICATION};
pub use types::*;

/// Largest BGP message without the Extended Message capability (RFC 4271 §4.1).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// Largest BGP message once both sides announced Extended Message (RFC 8654 §3).
pub const MAX_EXTENDED_MESSAGE_LEN: usize = 65535;
/// Size of the fixed header: marker (16), length (2), type (1).
pub const HEADER_LEN: usize = 19;
/// AS_TRANS, the 2-octet stand-in for a 4-octet ASN (RFC 6793 §9).
pub const AS_TRANS: u16 = 23456;
