//! The network configuration on stdin: the fields lattice-cni reads, validated.

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

use super::error::{code, CniError};
use super::version::Version;

/// latticed's API socket when the network config has no `socket`.
pub const DEFAULT_SOCKET: &str = "/run/lattice/lattice.sock";

/// Longest stdin accepted: network configs are small, a larger one is a mistake.
pub const MAX_STDIN: usize = 1024 * 1024;

/// The network configuration, as far as lattice-cni uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct NetConf {
    /// `cniVersion`, as given (results are written in it).
    pub cni_version: String,
    /// The parsed `cniVersion`.
    pub version: Version,
    /// `name`: the network's name.
    pub name: String,
    /// `socket`: latticed's API socket.
    pub socket: PathBuf,
    /// `mtu`: overrides latticed's `dataplane.mtu` for this network.
    pub mtu: Option<u32>,
    /// `dns`: copied into ADD results as given.
    pub dns: Option<Value>,
    /// `prevResult` (DEL, CHECK, chained ADD).
    pub prev_result: Option<Value>,
    /// `cni.dev/valid-attachments`, or the older `cni.dev/attachments` (GC): attachments the
    /// runtime still uses. `None` when neither is given (or both are `null`): a GC without
    /// the list must release nothing, not everything.
    pub valid_attachments: Option<Vec<ValidAttachment>>,
}

/// One entry of `cni.dev/valid-attachments`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ValidAttachment {
    /// The container's id.
    #[serde(rename = "containerID")]
    pub container_id: String,
    /// The interface inside it.
    pub ifname: String,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "cniVersion")]
    cni_version: Option<String>,
    name: Option<String>,
    #[serde(rename = "type")]
    plugin_type: Option<String>,
    socket: Option<PathBuf>,
    mtu: Option<u64>,
    ipam: Option<Value>,
    dns: Option<Value>,
    #[serde(rename = "prevResult")]
    prev_result: Option<Value>,
    #[serde(rename = "cni.dev/valid-attachments")]
    valid_attachments: Option<Vec<ValidAttachment>>,
    /// The name in the published 1.1.0 text; libcni sends both.
    #[serde(rename = "cni.dev/attachments")]
    attachments: Option<Vec<ValidAttachment>>,
}

/// The `cniVersion` of stdin, if it is JSON with one (for the error JSON of a failed parse).
pub fn peek_version(stdin: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(stdin).ok()?;
    v.get("cniVersion")?.as_str().map(String::from)
}

/// Parses and validates stdin: 6 when it is not JSON of the right shape, 7 when a field is
/// missing or out of range, 1 for an unsupported `cniVersion`.
pub fn parse(stdin: &[u8]) -> Result<NetConf, CniError> {
    if stdin.len() > MAX_STDIN {
        return Err(CniError::new(
            code::DECODE,
            format!("network config on stdin is larger than {MAX_STDIN} bytes"),
        ));
    }
    let raw: Raw = serde_json::from_slice(stdin).map_err(|e| {
        CniError::new(
            code::DECODE,
            format!("network config on stdin is not valid JSON of the expected shape: {e}"),
        )
    })?;
    let cni_version = raw
        .cni_version
        .ok_or_else(|| bad_config("network config has no \"cniVersion\""))?;
    let version = Version::parse(&cni_version)?;
    let name = raw.name.unwrap_or_default();
    if name.is_empty() {
        return Err(bad_config("network config has no \"name\""));
    }
    if raw.plugin_type.as_deref().unwrap_or_default().is_empty() {
        return Err(bad_config("network config has no \"type\""));
    }
    let socket = raw.socket.unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET));
    if !socket.is_absolute() {
        return Err(bad_config(format!(
            "\"socket\" {:?} must be an absolute path to latticed's api.socket",
            socket.display().to_string()
        )));
    }
    let mtu = match raw.mtu {
        None => None,
        Some(m @ 68..=65535) => u32::try_from(m).ok(),
        Some(m) => {
            return Err(bad_config(format!(
                "\"mtu\" {m} is out of range (68-65535); omit it to use latticed's dataplane.mtu"
            )))
        }
    };
    if raw.ipam.as_ref().is_some_and(|v| !is_empty(v)) {
        return Err(CniError::new(
            code::UNSUPPORTED_FIELD,
            "lattice-cni takes addresses from the host's Lattice block: remove the \"ipam\" section",
        ));
    }
    Ok(NetConf {
        cni_version,
        version,
        name,
        socket,
        mtu,
        dns: raw.dns.filter(|v| !is_empty(v)),
        prev_result: raw.prev_result.filter(|v| !v.is_null()),
        valid_attachments: raw.valid_attachments.or(raw.attachments),
    })
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

fn bad_config(msg: impl Into<String>) -> CniError {
    CniError::new(code::BAD_CONFIG, msg)
}
