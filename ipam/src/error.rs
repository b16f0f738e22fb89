//! IPAM errors.

use std::path::PathBuf;

use ipnet::IpNet;

/// Why an IPAM operation failed.
#[derive(Debug, thiserror::Error)]
pub enum IpamError {
    /// No address is left: every held block is full and no further block can be had.
    #[error("no free {family} address: {reason}")]
    Exhausted {
        /// `IPv4` or `IPv6`.
        family: &'static str,
        /// Which blocks are full and why no other can be borrowed.
        reason: String,
    },
    /// Every held block of a family is full and the datastore must supply another (the
    /// caller claims one and calls `Ipam::add_block`); local and fan never return this.
    #[error("every held {family} block is full: a new block is needed")]
    NeedBlock {
        /// `IPv4` or `IPv6`.
        family: &'static str,
    },
    /// A configuration value is unusable; `field` is its config key.
    #[error("{field}: {message}")]
    BadConfig {
        /// Config key, e.g. `ipam.block`.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The state directory records another primary block than the configured one.
    #[error(
        "ipam.block: the state records block {stored} but the configuration gives {configured}; \
             containers would be renumbered (move the state away to start over)"
    )]
    BlockChanged {
        /// Block found in the state.
        stored: IpNet,
        /// Block from the configuration (or the datastore).
        configured: IpNet,
    },
    /// The state cannot be understood.
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
    /// The etcd datastore failed or refused.
    #[error("etcd: {0}")]
    Etcd(String),
}
