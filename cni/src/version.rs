//! The CNI versions this plugin speaks and how their results differ.

use super::error::{code, CniError};

/// The newest version; VERSION answers with it.
pub const CURRENT: &str = "1.1.0";

/// Every version whose network config and result this plugin understands.
pub const SUPPORTED: [&str; 5] = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

/// A supported result format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// 0.3.0 and 0.3.1: `ips[].version`, no CHECK.
    V03,
    /// 0.4.0: adds CHECK; `ips[].version` still present.
    V04,
    /// 1.0.0: `ips[].version` dropped.
    V10,
    /// 1.1.0: adds STATUS and GC.
    V11,
}

impl Version {
    /// The version named by a `cniVersion` string, or error 1 naming what we support.
    pub fn parse(s: &str) -> Result<Version, CniError> {
        match s {
            "0.3.0" | "0.3.1" => Ok(Version::V03),
            "0.4.0" => Ok(Version::V04),
            "1.0.0" => Ok(Version::V10),
            "1.1.0" => Ok(Version::V11),
            other => Err(CniError::new(
                code::INCOMPATIBLE_VERSION,
                format!(
                    "cniVersion {other:?} is not supported; use one of {}",
                    SUPPORTED.join(", ")
                ),
            )),
        }
    }

    /// Whether `ips[]` entries carry `"version": "4"` (dropped in 1.0.0).
    pub fn ips_carry_version(self) -> bool {
        self < Version::V10
    }
}

/// The VERSION command's answer.
pub fn version_json() -> String {
    serde_json::json!({ "cniVersion": CURRENT, "supportedVersions": SUPPORTED }).to_string()
}
