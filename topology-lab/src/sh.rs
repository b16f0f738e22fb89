//! Running external commands (`ip`, FRR's daemons, `sh -c` exec lines) with useful errors.

use std::process::{Command, Stdio};

use crate::error::LabError;

/// The command line as a person would type it.
pub fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Run to completion; stdout on success, [`LabError::Command`] with stderr otherwise.
pub fn run(cmd: &mut Command) -> Result<String, LabError> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|error| LabError::Spawn {
            cmd: show(cmd),
            error,
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let mut stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if stderr.is_empty() {
            stderr = String::from_utf8_lossy(&out.stdout).trim().to_string();
        }
        Err(LabError::Command {
            cmd: show(cmd),
            status: out.status.to_string(),
            stderr,
        })
    }
}

/// `ip ARGS...`.
pub fn ip(args: &[&str]) -> Result<String, LabError> {
    run(Command::new("ip").args(args))
}

/// A command that runs `args` inside namespace `ns`.
pub fn in_netns(ns: &str, args: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]).args(args);
    c
}

/// Run one exec line with `sh -c` inside `ns` with the node's environment, echoing it.
pub fn exec_line(
    node: &str,
    ns: &str,
    line: &str,
    env: &[(String, String)],
) -> Result<(), LabError> {
    println!("  {node}: exec `{line}`");
    let out = run(in_netns(ns, &["sh", "-c", line]).envs(env.iter().map(|(k, v)| (k, v))))?;
    for l in out.lines() {
        println!("  {node}|{l}");
    }
    Ok(())
}

/// The last `n` lines of a log file ("" if it cannot be read).
pub fn tail(path: &std::path::Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines
        .iter()
        .skip(lines.len().saturating_sub(n))
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
}
