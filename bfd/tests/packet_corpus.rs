//! Replays every file of the `packet` fuzz corpus through the decoder, as the fuzz target does,
//! so the corpus is exercised on every `cargo test` without cargo-fuzz.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use bfd::packet::{decode, encode};

#[test]
fn packet_corpus_replays_without_panicking() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/packet");
    let (mut files, mut decoded) = (0, 0);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        files += 1;
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        match decode(&bytes) {
            Ok(p) => {
                let ours = encode(&p);
                assert_eq!(decode(&ours), Ok(p), "{name}");
                let mut theirs = bytes[..24].to_vec();
                theirs[3] = 24;
                assert_eq!(ours.to_vec(), theirs, "{name}");
                decoded += 1;
            }
            // Golden seeds must decode; malformed ones must not.
            Err(e) => assert!(!name.starts_with("golden-"), "{name}: {e}"),
        }
        if name.starts_with("malformed-") {
            assert!(decode(&bytes).is_err(), "{name} decodes");
        }
    }
    assert!(files >= 20, "corpus has only {files} files");
    assert!(decoded >= 11, "only {decoded} files decoded");
}
