//! Replays the `session` fuzz target's corpus through the same script as the fuzzer, so every
//! input it found interesting stays a regression test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "../fuzz/shared/session_script.rs"]
mod session_script;

#[test]
fn session_corpus_replays_without_panicking() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/session");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        session_script::run(&bytes);
        n += 1;
    }
    assert!(n > 0, "empty corpus in {}", dir.display());
}
