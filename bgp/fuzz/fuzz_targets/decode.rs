//! Any bytes through framing then decoding, in both AS widths: must never panic, hang or
//! allocate without bound. Seeds: `corpus/decode/` (golden vectors and malformed cases).
#![no_main]

use bgp::wire::{check_frame, decode, encode, CodecContext};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for four_octet_as in [false, true] {
        let ctx = CodecContext { four_octet_as };
        let Ok(Some(len)) = check_frame(data, usize::from(u16::MAX)) else {
            continue;
        };
        let Some(frame) = data.get(..len) else {
            continue;
        };
        if let Ok(msg) = decode(frame, ctx) {
            // Whatever decodes must re-encode to a fixed point (the first encode may only add
            // Partial bits to unknown optional transitive attributes).
            let ours = encode(&msg, ctx);
            let again = decode(&ours, ctx).map(|m| encode(&m, ctx));
            assert_eq!(again, Ok(ours));
        }
    }
});
