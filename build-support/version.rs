//! Build script shared by the crates that build a binary (latticed, lattice, lattice-cni,
//! lattice-lab): sets `LATTICE_VERSION` to "VERSION (commit COMMIT)" for their `--version`.
//!
//! The commit is, in order: `LATTICE_COMMIT` from the environment (`make release` sets it, with
//! `-dirty` for uncommitted changes; packagers building from a source tarball may), the commit
//! HEAD is at in release builds of a git checkout, or "unknown". Debug builds do not ask git:
//! watching `.git` would rebuild the agent after every commit in the edit-compile loop. A source
//! tree without `.git` (an unpacked tarball, even inside some other repository) builds and says
//! "unknown".

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=LATTICE_COMMIT");
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let commit = match std::env::var("LATTICE_COMMIT") {
        Ok(c) if !c.is_empty() => c,
        _ if std::env::var("PROFILE").as_deref() == Ok("release") => {
            git_commit().unwrap_or_else(|| "unknown".into())
        }
        _ => "unknown".into(),
    };
    println!("cargo:rustc-env=LATTICE_VERSION={version} (commit {commit})");
}

/// The checkout's commit, if the workspace root is the top of a git work tree.
fn git_commit() -> Option<String> {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    let root = manifest.parent()?;
    let top = git(root, &["rev-parse", "--show-toplevel"])?;
    if Path::new(&top).canonicalize().ok()? != root.canonicalize().ok()? {
        return None;
    }
    // Rerun when HEAD moves: HEAD itself (checkout), the branch's ref, or packed refs. Only
    // files that exist: cargo takes a missing one as changed and would rebuild every time.
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    watched.extend(git(root, &["symbolic-ref", "-q", "HEAD"]));
    for path in watched {
        if let Some(p) = git(root, &["rev-parse", "--git-path", &path]) {
            let p = root.join(p);
            if p.exists() {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
    }
    git(root, &["rev-parse", "--short=12", "HEAD"])
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}
