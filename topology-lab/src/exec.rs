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
    let args = if t.node.kind == Kind::Frr && t.container.is_none() {
        let run = LabDir::for_lab(&lab.name).frr_run_dir(&t.node.name);
        vtysh_args(cmd, &run.display().to_string())
    } else {
        cmd.to_vec()
    };
    let mut c = Command::new("ip");
    c.args(["netns", "exec", &t.namespace]).args(&args);
    let status = c.status().map_err(|source| LabError::Spawn {
        cmd: sh::show(&c),
        source,
    })?;
    // A signal-killed command has no code: report it as the shell would (128 + n is unknown here).
    Ok(status.code().unwrap_or(128))
}
