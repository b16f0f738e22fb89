//! Any bytes through the Control packet decoder: it must never panic, and whatever decodes
//! must encode back to the bytes it came from (Length normalised to 24, trailing bytes
//! dropped). Seeds: `corpus/packet/` (FRR golden vectors and malformed cases).
#![no_main]

use bfd::packet::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = decode(data) {
        let ours = encode(&p);
        assert_eq!(decode(&ours), Ok(p));
        let mut theirs = [0u8; 24];
        theirs.copy_from_slice(&data[..24]);
        theirs[3] = 24;
        assert_eq!(ours, theirs);
    }
});
