//! Whether a test can run here, and what happens when it cannot.
//!
//! A developer's plain `cargo test` (without root, without the daemons) skips such a test with a
//! `SKIPPED:` line. Under `LATTICE_TEST_STRICT=1` (every `make test-*` target sets it, and so
//! CI, whose entry point is `make test`) it fails with the reason instead: a skip that passes
//! would hide a missing install step.

use std::path::Path;

/// The environment variable that turns a skip into a failure.
pub const STRICT_ENV: &str = "LATTICE_TEST_STRICT";

/// True when tests that cannot run must fail (`LATTICE_TEST_STRICT` set, and not to `0`).
pub fn strict() -> bool {
    std::env::var_os(STRICT_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

/// True when running as root (network namespaces, veths, port 179).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Why a test that needs root (when `root`) and the files `files` (installed daemons and tools,
/// built binaries) cannot run here, if it cannot.
pub fn unmet(root: bool, files: &[&str]) -> Option<String> {
    if root && !is_root() {
        return Some("needs root (network namespaces)".into());
    }
    // A regular file: a binary hidden behind /dev/null (a test of this check) counts as missing.
    files.iter().find(|f| !Path::new(f).is_file()).map(|f| {
        format!("{f} is missing (`make deps-test` installs the test packages, `make build` our binaries)")
    })
}

/// The one way a test gives up: under strict mode a panic naming `why`; otherwise a `SKIPPED:`
/// line, and `false` for the caller to return on.
pub fn cannot_run(why: &str) -> bool {
    assert!(
        !strict(),
        "cannot run: {why} ({STRICT_ENV} is set, as under `make test`: a test that cannot run fails)"
    );
    eprintln!("SKIPPED: {why} (under `make test` this is a failure)");
    false
}

/// True when this test can run: root if `root`, and every file of `files` present. Otherwise
/// see [`cannot_run`].
pub fn require(root: bool, files: &[&str]) -> bool {
    match unmet(root, files) {
        None => true,
        Some(why) => cannot_run(&why),
    }
}

/// [`require`] root and nothing else.
pub fn require_root() -> bool {
    require(true, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_named() {
        let why = unmet(false, &["/bin/sh", "/nonexistent/lattice-daemon"]).unwrap();
        assert!(
            why.starts_with("/nonexistent/lattice-daemon is missing"),
            "{why}"
        );
        assert_eq!(unmet(false, &["/bin/sh"]), None);
    }
}
