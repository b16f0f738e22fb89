#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Every test file of the workspace (`CRATE/tests/*.rs`) is named in the docs: a row of
//! docs/testing.md, or the page of its area (docs/bfd.md for the BFD crate's).

use std::path::Path;

#[test]
fn every_test_file_is_named_in_the_docs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut docs = String::new();
    for page in std::fs::read_dir(root.join("docs")).unwrap() {
        let page = page.unwrap().path();
        if page.extension().is_some_and(|e| e == "md") {
            docs += &std::fs::read_to_string(&page).unwrap();
        }
    }
    let mut missing = Vec::new();
    let mut seen = 0;
    for krate in std::fs::read_dir(&root).unwrap() {
        let tests = krate.unwrap().path().join("tests");
        let Ok(files) = std::fs::read_dir(&tests) else {
            continue;
        };
        for file in files {
            let file = file.unwrap().path();
            if file.extension().is_some_and(|e| e == "rs") {
                seen += 1;
                // `NAME.rs`, or `--test NAME` / NAME alone as some pages write it.
                let name = file.file_stem().unwrap().to_string_lossy().into_owned();
                if !docs.contains(&name) {
                    missing.push(file.strip_prefix(&root).unwrap().display().to_string());
                }
            }
        }
    }
    assert!(seen > 40, "only {seen} test files found");
    assert!(
        missing.is_empty(),
        "test files the docs do not name: {missing:?}"
    );
}
