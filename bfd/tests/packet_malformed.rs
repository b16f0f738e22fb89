//! Every reception check of RFC 5880 §6.8.6 that needs only the packet, one malformed packet
//! each, plus properties: any bytes decode without panicking, and every valid packet survives
//! `decode(encode(p))`. The malformed packets are fuzz seeds too (`LATTICE_WRITE_CORPUS=1`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use bfd::packet::{decode, encode, ControlPacket, Diag, PacketError, State};
use proptest::prelude::*;

/// FRR's Up packet (tests/packet_golden.rs), the base every case breaks in one place.
const UP: [u8; 24] = [
    0x20, 0xc0, 0x03, 0x18, 0xe3, 0x57, 0x72, 0x94, 0xe3, 0x57, 0x72, 0x94, 0x00, 0x04, 0x93, 0xe0,
    0x00, 0x04, 0x93, 0xe0, 0x00, 0x00, 0xc3, 0x50,
];

fn with(edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut v = UP.to_vec();
    edit(&mut v);
    v
}

fn cases() -> Vec<(&'static str, Vec<u8>, PacketError)> {
    vec![
        (
            "malformed-empty",
            vec![],
            PacketError::Truncated { received: 0 },
        ),
        (
            "malformed-three-bytes",
            UP[..3].to_vec(),
            PacketError::Truncated { received: 3 },
        ),
        (
            "malformed-version-0",
            with(|v| v[0] = 0x00),
            PacketError::Version(0),
        ),
        (
            "malformed-version-2",
            with(|v| v[0] = 0x40),
            PacketError::Version(2),
        ),
        (
            "malformed-length-23",
            with(|v| v[3] = 23),
            PacketError::LengthTooSmall(23),
        ),
        (
            "malformed-length-beyond-payload",
            with(|v| v[3] = 30),
            PacketError::LengthBeyondPayload {
                length: 30,
                received: 24,
            },
        ),
        (
            "malformed-short-payload",
            UP[..20].to_vec(),
            PacketError::LengthBeyondPayload {
                length: 24,
                received: 20,
            },
        ),
        (
            "malformed-detect-mult-0",
            with(|v| v[2] = 0),
            PacketError::ZeroDetectMult,
        ),
        (
            "malformed-multipoint",
            with(|v| v[1] |= 0x01),
            PacketError::Multipoint,
        ),
        (
            "malformed-my-discriminator-0",
            with(|v| v[4..8].fill(0)),
            PacketError::ZeroMyDiscriminator,
        ),
        (
            "malformed-your-discriminator-0-up",
            with(|v| v[8..12].fill(0)),
            PacketError::ZeroYourDiscriminator(State::Up),
        ),
        (
            "malformed-your-discriminator-0-init",
            with(|v| {
                v[1] = 0x80;
                v[8..12].fill(0)
            }),
            PacketError::ZeroYourDiscriminator(State::Init),
        ),
        (
            "malformed-auth-too-short",
            with(|v| v[1] |= 0x04),
            PacketError::LengthTooSmall(24),
        ),
        (
            "malformed-auth-simple-password",
            with(|v| {
                v[1] |= 0x04;
                v[3] = 28;
                // Auth Type 1 (Simple Password), Auth Len 4, Key ID 1, password "x"
                v.extend_from_slice(&[1, 4, 1, b'x']);
            }),
            PacketError::Authenticated,
        ),
    ]
}

#[test]
fn each_check_discards_its_packet() {
    for (name, bytes, error) in cases() {
        assert_eq!(decode(&bytes), Err(error), "{name}");
    }
}

#[test]
fn down_and_admin_down_may_carry_your_discriminator_0() {
    for state_bits in [0x00, 0x40] {
        let p = decode(&with(|v| {
            v[1] = state_bits;
            v[8..12].fill(0)
        }))
        .unwrap();
        assert_eq!(p.your_discriminator, 0);
    }
}

#[test]
fn unassigned_diagnostics_survive() {
    let p = decode(&with(|v| v[0] = 0x20 | 31)).unwrap();
    assert_eq!(p.diag, Diag::Other(31));
    assert_eq!(encode(&p)[0], 0x20 | 31);
}

#[test]
fn malformed_cases_are_fuzz_seeds() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/packet");
    let write = std::env::var_os("LATTICE_WRITE_CORPUS").is_some();
    for (name, bytes, _) in cases() {
        let path = dir.join(name);
        if write {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        }
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "{name} differs from its seed"
        );
    }
}

fn valid_packet() -> impl Strategy<Value = ControlPacket> {
    (
        (0u8..32, 0u8..4, any::<[bool; 4]>(), 1u8..=255),
        (1u32.., any::<u32>(), any::<[u32; 3]>()),
    )
        .prop_map(
            |((diag, state, [p, f, c, d], mult), (my, your, [tx, rx, echo]))| {
                let state = State::from_bits(state);
                let your = if your == 0 && matches!(state, State::Init | State::Up) {
                    1
                } else {
                    your
                };
                ControlPacket {
                    diag: Diag::from_bits(diag),
                    state,
                    poll: p,
                    final_: f,
                    control_plane_independent: c,
                    demand: d,
                    detect_mult: mult,
                    my_discriminator: my,
                    your_discriminator: your,
                    desired_min_tx_us: tx,
                    required_min_rx_us: rx,
                    required_min_echo_rx_us: echo,
                }
            },
        )
}

proptest! {
    #[test]
    fn valid_packets_round_trip(p in valid_packet()) {
        prop_assert_eq!(decode(&encode(&p)), Ok(p));
    }

    #[test]
    fn any_bytes_decode_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(p) = decode(&bytes) {
            // Whatever decodes re-encodes to the first 24 bytes it came from, with Length 24.
            let mut expected = bytes[..24].to_vec();
            expected[3] = 24;
            prop_assert_eq!(&encode(&p)[..], &expected[..]);
        }
    }
}
