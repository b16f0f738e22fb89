//! Reading a Control packet and the reception checks of RFC 5880 §6.8.6 that need only the
//! packet, in the RFC's order.

use super::{flag, ControlPacket, Diag, State, LEN, MIN_AUTH_LEN, VERSION};

/// Why a received packet MUST be discarded (RFC 5880 §6.8.6). Each is counted, never answered:
/// BFD has no error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum PacketError {
    /// Fewer than the 4 octets that hold version, flags and Length.
    #[error("{received} bytes: too short for a BFD header")]
    Truncated {
        /// Bytes received.
        received: usize,
    },
    /// "If the version number is not correct (1), the packet MUST be discarded."
    #[error("version {0}, not 1")]
    Version(u8),
    /// "If the Length field is less than the minimum correct value (24 if the A bit is clear,
    /// or 26 if the A bit is set), the packet MUST be discarded."
    #[error("Length field {0} below the minimum")]
    LengthTooSmall(u8),
    /// "If the Length field is greater than the payload of the encapsulating protocol, the
    /// packet MUST be discarded."
    #[error("Length field {length} but only {received} bytes received")]
    LengthBeyondPayload {
        /// The Length field.
        length: u8,
        /// Bytes received.
        received: usize,
    },
    /// "If the Detect Mult field is zero, the packet MUST be discarded."
    #[error("Detect Mult 0")]
    ZeroDetectMult,
    /// "If the Multipoint (M) bit is nonzero, the packet MUST be discarded."
    #[error("Multipoint bit set")]
    Multipoint,
    /// "If the My Discriminator field is zero, the packet MUST be discarded."
    #[error("My Discriminator 0")]
    ZeroMyDiscriminator,
    /// "If the Your Discriminator field is zero and the State field is not Down or AdminDown,
    /// the packet MUST be discarded."
    #[error("Your Discriminator 0 in state {0}")]
    ZeroYourDiscriminator(State),
    /// "If the A bit is set and no authentication is in use (bfd.AuthType is zero), the packet
    /// MUST be discarded." We implement no authentication.
    #[error("authentication section present (not supported)")]
    Authenticated,
}

impl PacketError {
    /// A short stable name, for counters and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            PacketError::Truncated { .. } => "truncated",
            PacketError::Version(_) => "bad_version",
            PacketError::LengthTooSmall(_) => "length_too_small",
            PacketError::LengthBeyondPayload { .. } => "length_beyond_payload",
            PacketError::ZeroDetectMult => "zero_detect_mult",
            PacketError::Multipoint => "multipoint",
            PacketError::ZeroMyDiscriminator => "zero_my_discriminator",
            PacketError::ZeroYourDiscriminator(_) => "zero_your_discriminator",
            PacketError::Authenticated => "authentication",
        }
    }
}

/// Decodes the UDP payload `buf` (RFC 5880 §4.1) and applies the packet-only checks of §6.8.6.
/// Bytes after Length are ignored; nothing here can panic.
pub fn decode(buf: &[u8]) -> Result<ControlPacket, PacketError> {
    let truncated = PacketError::Truncated {
        received: buf.len(),
    };
    let (&[vers_diag, flags, detect_mult, length], body) =
        buf.split_first_chunk::<4>().ok_or(truncated)?;
    let version = vers_diag >> 5;
    if version != VERSION {
        return Err(PacketError::Version(version));
    }
    let auth = flags & flag::AUTH != 0;
    let min = if auth { MIN_AUTH_LEN } else { LEN };
    if usize::from(length) < min {
        return Err(PacketError::LengthTooSmall(length));
    }
    if usize::from(length) > buf.len() {
        return Err(PacketError::LengthBeyondPayload {
            length,
            received: buf.len(),
        });
    }
    if detect_mult == 0 {
        return Err(PacketError::ZeroDetectMult);
    }
    if flags & flag::MULTIPOINT != 0 {
        return Err(PacketError::Multipoint);
    }
    // Length >= 24 and Length <= received, so the five words are there; read them checked anyway.
    let mut words = body.chunks_exact(4).map(|w| {
        <[u8; 4]>::try_from(w)
            .map(u32::from_be_bytes)
            .map_err(|_| truncated)
    });
    let mut word = || words.next().unwrap_or(Err(truncated));
    let my_discriminator = word()?;
    let your_discriminator = word()?;
    let desired_min_tx_us = word()?;
    let required_min_rx_us = word()?;
    let required_min_echo_rx_us = word()?;
    let state = State::from_bits(flags >> 6);
    if my_discriminator == 0 {
        return Err(PacketError::ZeroMyDiscriminator);
    }
    if your_discriminator == 0 && !matches!(state, State::Down | State::AdminDown) {
        return Err(PacketError::ZeroYourDiscriminator(state));
    }
    if auth {
        return Err(PacketError::Authenticated);
    }
    Ok(ControlPacket {
        diag: Diag::from_bits(vers_diag),
        state,
        poll: flags & flag::POLL != 0,
        final_: flags & flag::FINAL != 0,
        control_plane_independent: flags & flag::CONTROL_PLANE_INDEPENDENT != 0,
        demand: flags & flag::DEMAND != 0,
        detect_mult,
        my_discriminator,
        your_discriminator,
        desired_min_tx_us,
        required_min_rx_us,
        required_min_echo_rx_us,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::packet::encode;

    /// An Up packet from FRR 8.4 (see tests/packet_golden.rs for where it came from).
    const UP: [u8; 24] = [
        0x20, 0xc0, 0x03, 0x18, 0xe3, 0x57, 0x72, 0x94, 0xe3, 0x57, 0x72, 0x94, 0x00, 0x04, 0x93,
        0xe0, 0x00, 0x04, 0x93, 0xe0, 0x00, 0x00, 0xc3, 0x50,
    ];

    #[test]
    fn every_prefix_shorter_than_length_is_refused_without_panic() {
        for n in 0..LEN {
            assert!(decode(&UP[..n]).is_err(), "{n} bytes");
        }
        assert!(decode(&UP).is_ok());
    }

    #[test]
    fn checks_run_in_the_rfc_order() {
        // Version 2 and Detect Mult 0: the version is reported.
        let mut p = UP;
        p[0] = 0x40;
        p[2] = 0;
        assert_eq!(decode(&p), Err(PacketError::Version(2)));
        // A bit with Length 24: too small for an authenticated packet, before the A bit check.
        let mut p = UP;
        p[1] |= flag::AUTH;
        assert_eq!(decode(&p), Err(PacketError::LengthTooSmall(24)));
        let mut long = UP.to_vec();
        long[1] |= flag::AUTH;
        long[3] = 26;
        long.extend_from_slice(&[1, 2]);
        assert_eq!(decode(&long), Err(PacketError::Authenticated));
    }

    #[test]
    fn trailing_bytes_after_length_are_ignored() {
        let mut long = UP.to_vec();
        long.extend_from_slice(&[0xde, 0xad]);
        assert_eq!(decode(&long), decode(&UP));
        assert_eq!(encode(&decode(&long).unwrap()), UP);
    }
}
