//! CNI errors: the spec's codes and the error JSON a runtime reads from stdout.

use serde::Serialize;

/// Well-known error codes, CNI spec 1.1.0 §"Error" (0-99 reserved by the spec).
pub mod code {
    /// Incompatible CNI version.
    pub const INCOMPATIBLE_VERSION: u32 = 1;
    /// Unsupported field in the network configuration.
    pub const UNSUPPORTED_FIELD: u32 = 2;
    /// Container unknown or does not exist (the runtime need not clean up).
    pub const UNKNOWN_CONTAINER: u32 = 3;
    /// Invalid necessary environment variables (CNI_COMMAND, CNI_CONTAINERID, ...).
    pub const BAD_ENV: u32 = 4;
    /// I/O failure (e.g. reading stdin).
    pub const IO: u32 = 5;
    /// Failed to decode content (stdin is not JSON of the expected shape).
    pub const DECODE: u32 = 6;
    /// Invalid network config.
    pub const BAD_CONFIG: u32 = 7;
    /// Try again later: a transient condition (latticed not answering).
    pub const TRY_AGAIN: u32 = 11;
    /// STATUS: the plugin cannot service ADD requests.
    pub const NOT_AVAILABLE: u32 = 50;
    /// Lattice: the host's address block is exhausted.
    pub const EXHAUSTED: u32 = 100;
    /// Lattice: latticed could not wire or unwire the container in the kernel.
    pub const KERNEL: u32 = 101;
    /// Lattice: latticed's IPAM state could not be read or written.
    pub const IPAM: u32 = 102;
    /// Lattice: CHECK found the attachment differs from what ADD made.
    pub const MISMATCH: u32 = 103;
    /// Lattice: latticed answered something this plugin does not expect (version skew).
    pub const PROTOCOL: u32 = 104;
}

/// A failed CNI operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CNI error {code}: {msg}")]
pub struct CniError {
    /// The spec's (or Lattice's, >= 100) error code.
    pub code: u32,
    /// A short message a person can act on.
    pub msg: String,
    /// Longer details, when there are any.
    pub details: String,
}

impl CniError {
    /// An error with a code and a message.
    pub fn new(code: u32, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
            details: String::new(),
        }
    }

    /// The same error with details.
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = details.into();
        self
    }

    /// The error JSON printed on stdout (`cniVersion` is the caller's, or the newest we speak).
    pub fn to_json(&self, cni_version: &str) -> String {
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(rename = "cniVersion")]
            cni_version: &'a str,
            code: u32,
            msg: &'a str,
            #[serde(skip_serializing_if = "str::is_empty")]
            details: &'a str,
        }
        let wire = Wire {
            cni_version,
            code: self.code,
            msg: &self.msg,
            details: &self.details,
        };
        serde_json::to_string(&wire).unwrap_or_else(|_| {
            format!(
                r#"{{"cniVersion":"1.1.0","code":{},"msg":"error"}}"#,
                self.code
            )
        })
    }
}
