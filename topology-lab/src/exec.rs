//! `exec`: run a command inside a node's or a container's namespace.

use std::path::Path;
use std::process::Command;

use crate::error::LabError;
use crate::kinds::frr::vtysh_args;
use crate::paths::LabDir;
use crate::topology::{self, Kind};
use crate::{netns, sh};

/// Run `cmd` in `target`'s namespace with inherited stdio; returns its exit code.
pub fn exec(topo: &Path, target: &str, cmd: &[String]) -> Result<i32, LabError> {
    let lab = topology::load(topo)?;
    let t = lab.target(target).ok_or_else(|| {
        LabError::Failed(format!(
            "lab {} has no node or container `{target}`",
            lab.name
        ))
    })?;
    if !netns::exists(&t.namespace) {
        return Err(LabError::Failed(format!(
            "namespace {} does not exist: is lab {} deployed?",
            t.namespace, lab.name
        )));
    }
    let dir = LabDir::for_lab(&lab.name);
    let mut c = Command::new("ip");
    c.args(["netns", "exec", &t.namespace]);
    if t.container.is_none() {
        // The node's environment, as `docker exec` gives a container's.
        c.envs(crate::env::environment(t.node)?);
    }
    match (t.node.kind, t.container) {
        (Kind::Frr, None) => {
            c.args(vtysh_args(
                cmd,
                &dir.frr_run_dir(&t.node.name).display().to_string(),
                &dir.frr_etc_dir(&t.node.name).display().to_string(),
            ));
        }
        (Kind::Lattice, None) => {
            // `lattice status` on a host talks to that host's latticed, found beside latticed.
            c.args(cmd)
                .env("LATTICE_SOCKET", dir.latticed_socket(&t.node.name));
            if let Some(path) = path_with_latticed_dir() {
                c.env("PATH", path);
            }
        }
        _ => {
            c.args(cmd);
        }
    }
    let status = c.status().map_err(|error| LabError::Spawn {
        cmd: sh::show(&c),
        error,
    })?;
    // A signal-killed command has no code: report it as the shell would (128 + n is unknown here).
    Ok(status.code().unwrap_or(128))
}

/// PATH with latticed's directory first, so the `lattice` CLI next to it is found.
fn path_with_latticed_dir() -> Option<std::ffi::OsString> {
    let bin = crate::kinds::lattice::find_latticed().ok()?;
    let dir = bin.parent()?.to_path_buf();
    let old = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(dir).chain(std::env::split_paths(&old))).ok()
}
