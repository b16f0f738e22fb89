//! Replays every file of the fuzz corpus through `check_frame` and `decode`, as the fuzz target
//! does, so the corpus is exercised on every `cargo test` without cargo-fuzz.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use bgp::wire::{check_frame, decode, encode, CodecContext, MAX_MESSAGE_LEN};

#[test]
fn corpus_replays_without_panicking() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/decode");
    let mut files = 0;
    let mut decoded = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        files += 1;
        for four_octet_as in [false, true] {
            let ctx = CodecContext { four_octet_as };
            for max_len in [MAX_MESSAGE_LEN, usize::from(u16::MAX)] {
                let Ok(Some(len)) = check_frame(&bytes, max_len) else {
                    continue;
                };
                if let Ok(msg) = decode(&bytes[..len], ctx) {
                    // Our encoding is a fixed point (the first pass may only add Partial bits).
                    let ours = encode(&msg, ctx);
                    let again = decode(&ours, ctx).map(|m| encode(&m, ctx));
                    assert_eq!(again, Ok(ours), "{}", path.display());
                    decoded += 1;
                }
            }
        }
        // Golden seeds must decode; that is what makes them golden.
        let name = path.file_name().unwrap().to_string_lossy();
        if name.starts_with("golden-") {
            let ok = [false, true]
                .into_iter()
                .any(|four_octet_as| decode(&bytes, CodecContext { four_octet_as }).is_ok());
            assert!(ok, "{name} does not decode");
        }
    }
    assert!(files >= 8, "corpus has only {files} files");
    assert!(decoded > 0, "nothing in the corpus decoded");
}
