//! Golden vectors: `(bytes, ControlPacket)` pairs, the bytes commented field by field.
//!
//! Every vector is what FRR 8.4.4's bfdd really sent: two bfdd in lab namespaces peering over
//! a veth (single hop IPv4 and IPv6, and multihop IPv4), captured with tcpdump while the
//! sessions came up, a parameter change ran a Poll Sequence, one side was shut down and
//! re-enabled, and the link was silently dropped with nftables (see docs/bfd.md). Every vector
//! is also a seed in `fuzz/corpus/packet/` (checked below; set `LATTICE_WRITE_CORPUS=1` to
//! rewrite the seeds after changing a vector).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use bfd::packet::{decode, encode, ControlPacket, Diag, State};

/// Hex bytes, with `#` comments and whitespace ignored.
fn hex(s: &str) -> Vec<u8> {
    let digits: String = s
        .lines()
        .map(|l| l.split('#').next().unwrap())
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
        .collect()
}

/// FRR's discriminators in the captures.
const FRR_A: u32 = 0xe357_7294;
const FRR_MH_A: u32 = 0x266e_bb1e;
const FRR_MH_B: u32 = 0x71ac_9e8c;
const FRR_V6: u32 = 0xd3f3_707c;

/// The packet every vector starts from: FRR's steady Up at 300 ms x 3.
fn up() -> ControlPacket {
    ControlPacket {
        diag: Diag::None,
        state: State::Up,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_mult: 3,
        my_discriminator: FRR_A,
        your_discriminator: FRR_A,
        desired_min_tx_us: 300_000,
        required_min_rx_us: 300_000,
        // FRR advertises 50 ms even with echo mode off.
        required_min_echo_rx_us: 50_000,
    }
}

fn vectors() -> Vec<(&'static str, Vec<u8>, ControlPacket)> {
    let slow = ControlPacket {
        desired_min_tx_us: 1_000_000,
        required_min_rx_us: 1_000_000,
        ..up()
    };
    let changed = ControlPacket {
        detect_mult: 5,
        desired_min_tx_us: 250_000,
        required_min_rx_us: 200_000,
        ..up()
    };
    vec![
        (
            "golden-frr-down-first",
            hex("20          # version 1, diag 0
                 40          # state Down (01), no flags
                 03 18       # detect mult 3, length 24
                 e3577294    # my discriminator
                 00000000    # your discriminator: not known yet
                 000f4240    # desired min tx 1 s: the slow rate while not Up (RFC 5880 6.8.3)
                 000f4240    # required min rx 1 s (FRR slows its rx too)
                 0000c350    # required min echo rx 50 ms"),
            ControlPacket {
                state: State::Down,
                your_discriminator: 0,
                ..slow
            },
        ),
        (
            "golden-frr-init",
            hex("20 80 03 18  # state Init
                 e3577294 e3577294 000f4240 000f4240 0000c350"),
            ControlPacket {
                state: State::Init,
                ..slow
            },
        ),
        (
            "golden-frr-up-poll",
            hex(
                "20 e0 03 18  # state Up, P: the poll that applies 300 ms once Up
                 e3577294 e3577294 000493e0 000493e0 0000c350",
            ),
            ControlPacket { poll: true, ..up() },
        ),
        (
            "golden-frr-up-final",
            hex("20 d0 03 18  # state Up, F
                 e3577294 e3577294 000493e0 000493e0 0000c350"),
            ControlPacket {
                final_: true,
                ..up()
            },
        ),
        (
            "golden-frr-up",
            hex("20 c0 03 18 e3577294 e3577294
                 000493e0     # 300 ms
                 000493e0 0000c350"),
            up(),
        ),
        (
            "golden-frr-poll-new-params",
            hex("20 e0 05 18  # P, detect mult 5
                 e3577294 e3577294
                 0003d090     # desired min tx 250 ms
                 00030d40     # required min rx 200 ms
                 0000c350"),
            ControlPacket {
                poll: true,
                ..changed
            },
        ),
        (
            "golden-frr-admin-down",
            hex(
                "20          # diag 0: FRR's `shutdown` does not say Administratively Down (7)
                 00 05 18    # state AdminDown
                 e3577294 e3577294 0003d090 00030d40 0000c350",
            ),
            ControlPacket {
                state: State::AdminDown,
                ..changed
            },
        ),
        (
            "golden-frr-down-neighbor-signaled",
            hex(
                "23          # diag 3 Neighbor Signaled Session Down (the other side's AdminDown)
                 40 03 18 e3577294
                 00000000    # FRR forgets the remote discriminator at once
                 000493e0 000493e0 0000c350",
            ),
            ControlPacket {
                diag: Diag::NeighborSignaledSessionDown,
                state: State::Down,
                your_discriminator: 0,
                ..up()
            },
        ),
        (
            "golden-frr-multihop-down-expired",
            hex(
                "21          # diag 1 Control Detection Time Expired (link dropped by nftables)
                 40 03 18 266ebb1e 00000000 000493e0 000493e0 0000c350",
            ),
            ControlPacket {
                diag: Diag::ControlDetectionTimeExpired,
                state: State::Down,
                my_discriminator: FRR_MH_A,
                your_discriminator: 0,
                ..up()
            },
        ),
        (
            "golden-frr-multihop-init-keeps-diag",
            hex(
                "21 80 03 18  # Init still carries diag 1; FRR clears it only once Up
                 266ebb1e 71ac9e8c 000f4240 000f4240 0000c350",
            ),
            ControlPacket {
                diag: Diag::ControlDetectionTimeExpired,
                state: State::Init,
                my_discriminator: FRR_MH_A,
                your_discriminator: FRR_MH_B,
                ..slow
            },
        ),
        (
            "golden-frr-v6-down-first",
            hex("20 40 03 18 d3f3707c 00000000 000f4240 000f4240 0000c350"),
            ControlPacket {
                state: State::Down,
                my_discriminator: FRR_V6,
                your_discriminator: 0,
                ..slow
            },
        ),
    ]
}

#[test]
fn frr_vectors_decode_and_encode_to_the_same_bytes() {
    for (name, bytes, packet) in vectors() {
        assert_eq!(decode(&bytes), Ok(packet), "{name}");
        // FRR writes exactly what we write: every vector is canonical.
        assert_eq!(encode(&packet).to_vec(), bytes, "{name}");
    }
}

#[test]
fn every_vector_is_a_fuzz_seed() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/packet");
    let write = std::env::var_os("LATTICE_WRITE_CORPUS").is_some();
    for (name, bytes, _) in vectors() {
        let path = dir.join(name);
        if write {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        }
        let seed = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(seed, bytes, "{name} differs from its seed");
    }
}
