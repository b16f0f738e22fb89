//! The CNI_* environment variables: which command, for which container and interface.

use std::path::PathBuf;

use super::error::{code, CniError};

/// A CNI command (`CNI_COMMAND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Attach a container.
    Add,
    /// Detach a container; idempotent.
    Del,
    /// Verify an attachment.
    Check,
    /// Report supported versions.
    Version,
    /// Whether ADD would work now (1.1.0).
    Status,
    /// Release attachments the runtime no longer knows (1.1.0).
    Gc,
}

/// The environment of one invocation, validated for its command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// `CNI_COMMAND`.
    pub command: Command,
    /// `CNI_CONTAINERID` (ADD, DEL, CHECK).
    pub container_id: String,
    /// `CNI_NETNS` (ADD, CHECK; optional for DEL).
    pub netns: Option<PathBuf>,
    /// `CNI_IFNAME` (ADD, DEL, CHECK).
    pub ifname: String,
}

/// Reads the invocation through `get` (the process environment in the binary, a map in tests).
pub fn parse(get: impl Fn(&str) -> Option<String>) -> Result<Invocation, CniError> {
    let raw = get("CNI_COMMAND").unwrap_or_default();
    let command = match raw.as_str() {
        "ADD" => Command::Add,
        "DEL" => Command::Del,
        "CHECK" => Command::Check,
        "VERSION" => Command::Version,
        "STATUS" => Command::Status,
        "GC" => Command::Gc,
        "" => return Err(bad_env("CNI_COMMAND is not set; lattice-cni is run by a container runtime (podman, containerd, CRI-O), not by hand")),
        other => {
            return Err(bad_env(format!(
                "CNI_COMMAND {other:?} is not one of ADD, DEL, CHECK, VERSION, STATUS, GC"
            )))
        }
    };
    let per_container = matches!(command, Command::Add | Command::Del | Command::Check);
    if !per_container {
        return Ok(Invocation {
            command,
            container_id: String::new(),
            netns: None,
            ifname: String::new(),
        });
    }
    let container_id = get("CNI_CONTAINERID").unwrap_or_default();
    validate_container_id(&container_id)?;
    let ifname = get("CNI_IFNAME").unwrap_or_default();
    validate_ifname(&ifname)?;
    let netns = get("CNI_NETNS")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from);
    match &netns {
        None if command != Command::Del => {
            return Err(bad_env(format!(
                "CNI_NETNS must name the container's network namespace for {raw}"
            )))
        }
        Some(p) if !p.is_absolute() => {
            return Err(bad_env(format!(
                "CNI_NETNS {:?} must be an absolute path",
                p.display().to_string()
            )))
        }
        _ => {}
    }
    Ok(Invocation {
        command,
        container_id,
        netns,
        ifname,
    })
}

/// CNI spec 1.1.0 §"Parameters": the container id starts with an alphanumeric character,
/// followed by alphanumerics, `_`, `.` and `-` (so `.`, `..`, `-rf` and `_x` are refused).
fn validate_container_id(id: &str) -> Result<(), CniError> {
    let ok = id.len() <= 256
        && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(bad_env(format!(
            "CNI_CONTAINERID {id:?} must be 1 to 256 characters of letters, digits, '_', '.' and '-', starting with a letter or digit"
        )))
    }
}

/// CNI spec: a Linux interface name, at most 15 bytes, not `.`/`..`, no `/`, `:` or space.
fn validate_ifname(name: &str) -> Result<(), CniError> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b':');
    if ok {
        Ok(())
    } else {
        Err(bad_env(format!(
            "CNI_IFNAME {name:?} is not a valid interface name (1-15 characters, no '/', ':' or spaces)"
        )))
    }
}

fn bad_env(msg: impl Into<String>) -> CniError {
    CniError::new(code::BAD_ENV, msg)
}
