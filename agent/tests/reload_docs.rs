//! docs/operations.md's table of what a change to each `bgp.peers[]` key takes is the code's
//! (`daemon::reload::keys::PEER_KEYS`): a key classified differently, or not in the table,
//! fails here until the docs follow.

use std::path::Path;

use agent::daemon::reload::keys::{Effect, PEER_KEYS};

#[test]
fn the_reload_table_in_the_docs_is_the_code() {
    let page = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("docs")
            .join("operations.md"),
    )
    .unwrap_or_default();
    let rows: Vec<&str> = page
        .lines()
        .filter(|l| l.starts_with("| `bgp.peers[]."))
        .collect();
    assert_eq!(rows.len(), PEER_KEYS.len(), "one row per key: {rows:?}");
    for (key, effect) in PEER_KEYS {
        let row = rows
            .iter()
            .find(|r| r.starts_with(&format!("| `bgp.peers[].{key}` |")))
            .unwrap_or_else(|| panic!("bgp.peers[].{key} is not in docs/operations.md"));
        let takes = row.split('|').nth(2).unwrap_or("").trim();
        let expected = match (key, effect) {
            (&"address" | &"interface", _) => "the peer's identity",
            (_, Effect::Reset) => "reset",
            (_, Effect::Import) => "import",
            (_, Effect::Export) => "export",
            (_, Effect::Bfd) => "bfd only",
        };
        assert!(
            takes.starts_with(expected),
            "{key}: docs say {takes:?}, code {effect:?}"
        );
    }
}
