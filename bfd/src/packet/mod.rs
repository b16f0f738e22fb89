//! The BFD Control packet codec (RFC 5880 §4.1), owned by us.
//!
//! [`decode`] takes the UDP payload exactly as received and either returns a [`ControlPacket`] or
//! says which reception check of RFC 5880 §6.8.6 discards it ([`PacketError`]). Only the checks
//! that need nothing but the packet are here; the ones that need a session (Your Discriminator
//! lookup, TTL, source address) belong to the driver. [`encode`] writes the fixed 24 bytes.
//!
//! The lints below make the compiler hold us to "nothing from the network may panic": no
//! indexing, slicing or unchecked arithmetic in this module.
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

mod decode;
mod encode;
mod types;

pub use decode::{decode, PacketError};
pub use encode::encode;
pub use types::{ControlPacket, Diag, State};

/// The protocol version we speak and accept (RFC 5880 §4.1).
pub const VERSION: u8 = 1;
/// Length of a Control packet without the Authentication Section (RFC 5880 §6.8.6).
pub const LEN: usize = LEN_FIELD as usize;
/// [`LEN`] as the one-octet Length field carries it.
const LEN_FIELD: u8 = 24;
/// Smallest Length when the A bit is set: the section's type and length octets (§6.8.6).
pub const MIN_AUTH_LEN: usize = 26;

/// Flag bits of the second octet (RFC 5880 §4.1), below the two state bits.
pub(crate) mod flag {
    /// P: Poll.
    pub const POLL: u8 = 0x20;
    /// F: Final.
    pub const FINAL: u8 = 0x10;
    /// C: Control Plane Independent.
    pub const CONTROL_PLANE_INDEPENDENT: u8 = 0x08;
    /// A: Authentication Present.
    pub const AUTH: u8 = 0x04;
    /// D: Demand.
    pub const DEMAND: u8 = 0x02;
    /// M: Multipoint (reserved for RFC 8562's point-to-multipoint, always 0 here).
    pub const MULTIPOINT: u8 = 0x01;
}
