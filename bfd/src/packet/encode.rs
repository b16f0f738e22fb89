//! Writing a Control packet (RFC 5880 §4.1, with the contents of §6.8.7).

use super::{flag, ControlPacket, LEN, LEN_FIELD, VERSION};

/// The 24 bytes of `p`, Length 24, A and M bits clear. Fixed size: no allocation per packet.
pub fn encode(p: &ControlPacket) -> [u8; LEN] {
    let mut flags = p.state.bits() << 6;
    for (set, bit) in [
        (p.poll, flag::POLL),
        (p.final_, flag::FINAL),
        (p.control_plane_independent, flag::CONTROL_PLANE_INDEPENDENT),
        (p.demand, flag::DEMAND),
    ] {
        if set {
            flags |= bit;
        }
    }
    let mut out = [0u8; LEN];
    let words = [
        u32::from_be_bytes([
            VERSION << 5 | p.diag.bits(),
            flags,
            p.detect_mult,
            LEN_FIELD,
        ]),
        p.my_discriminator,
        p.your_discriminator,
        p.desired_min_tx_us,
        p.required_min_rx_us,
        p.required_min_echo_rx_us,
    ];
    for (chunk, word) in out.chunks_exact_mut(4).zip(words) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}
