//! IPAM errors.

use std::path::PathBuf;

use ipnet::Ipv4Net;

/// Why an IPAM operation failed.
#[derive(Debug, thiserror::Error)]
pub enum IpamError {
    /// Every address of the block is taken.
    #[error("block {block} is exhausted: all {capacity} addresses are allocated")]
    Exhausted {
        /// The full block.
        block: Ipv4Net,
        /// Its size.
        capacity: usize,
    },
    /// A configuration value is unusable; `field` is its config key.
    #[error("{field}: {message}")]
    BadConfig {
        /// Config key, e.g. `ipam.block`.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The state directory records another block than the configured one.
    #[error(
        "ipam.block: the state records block {stored} but the configuration gives {configured}; \
             containers would be renumbered (move the state away to start over)"
    )]
    BlockChanged {
        /// Block found in the state file.
        stored: Ipv4Net,
        /// Block from the configuration.
        configured: Ipv4Net,
    },
    /// The state file cannot be understood.
    #[error("state file {path} is corrupt: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Another process holds the state directory.
    #[error("state directory {0} is locked by another latticed")]
    Locked(PathBuf),
    /// The file system failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
}
