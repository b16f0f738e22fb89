//! [`DaemonError`]: why latticed could not start or had to stop.

use crate::dataplane;

/// Why latticed could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The IPAM state could not be opened.
    #[error("ipam: {0}")]
    Ipam(#[from] ipam::IpamError),
    /// Talking to the kernel failed at start-up.
    #[error("kernel: {0}")]
    Kernel(#[from] crate::kernel::KernelError),
    /// Preparing the host's dataplane failed.
    #[error("dataplane: {0}")]
    Dataplane(#[from] dataplane::DataplaneError),
    /// The configuration cannot be used (a file that passed `--check` always can).
    #[error("{0}")]
    Config(#[from] crate::config::Problem),
    /// The configured dataplane mode cannot work on this host (e.g. no ipvlan in the kernel).
    #[error("{0}")]
    Refused(String),
    /// A socket could not be bound.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Underlying error.
        source: std::io::Error,
    },
}
