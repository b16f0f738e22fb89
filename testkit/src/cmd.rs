//! Running commands from a test: one that must succeed, one whose outcome is the test's business.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `args[0]` with the rest as arguments; its output whatever the status.
pub fn output(args: &[&str]) -> Output {
    let (program, rest) = args.split_first().expect("a command");
    Command::new(program)
        .args(rest)
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Runs a command that must succeed; its stdout.
pub fn run(args: &[&str]) -> String {
    let out = output(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Stdout of a command, success or not (for polling a daemon's CLI while it starts).
pub fn stdout(args: &[&str]) -> String {
    String::from_utf8_lossy(&output(args).stdout).into_owned()
}

/// One ping (IPv4 or IPv6 by the address) from namespace `ns`, waiting at most a second.
pub fn ping(ns: &str, to: &str) -> bool {
    output(&["ip", "netns", "exec", ns, "ping", "-c1", "-W1", to])
        .status
        .success()
}

/// Writes an executable script. A child process writes it: exec'ing a file this multi-threaded
/// test process had open for writing fails with ETXTBSY if another test forks meanwhile.
pub fn write_script(path: &Path, script: &str) {
    let ok = Command::new("sh")
        .args([
            "-c",
            "printf '%s' \"$1\" > \"$2\" && chmod 755 \"$2\"",
            "sh",
        ])
        .arg(script)
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "writing {}", path.display());
}

/// A directory for a test's files that FRR's daemons (user frr) can traverse; removed on drop.
pub fn shared_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    dir
}

/// The last `n` lines of the file at `path` (empty if it cannot be read).
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
