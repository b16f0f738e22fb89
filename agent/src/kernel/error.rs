//! The one error type every [`Kernel`](super::Kernel) operation returns.

use std::io;

/// Why a kernel operation failed. Kernel replies are mapped onto these, never panicked on.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// The object (link, route, namespace, sysctl) does not exist (ENODEV, ESRCH, ENOENT).
    #[error("{what}: not found")]
    NotFound {
        /// What was looked for, e.g. `link lat0123456789a`.
        what: String,
    },
    /// The object already exists (EEXIST).
    #[error("{what}: already exists")]
    Exists {
        /// What was being created.
        what: String,
    },
    /// Any other netlink failure: the kernel's errno text or a malformed reply.
    #[error("netlink {op} failed: {message}")]
    Netlink {
        /// The request kind, e.g. `RTM_NEWROUTE`.
        op: &'static str,
        /// The kernel's reason.
        message: String,
    },
    /// A file or thread operation (netns open, setns, sysctl write) failed.
    #[error("{op}: {source}")]
    Io {
        /// What was being done.
        op: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The running kernel lacks a feature (e.g. ipvlan: "Unknown device type").
    #[error("{0}")]
    Unsupported(String),
    /// The caller passed something the kernel would reject or that is unsafe (bad sysctl key).
    #[error("invalid argument: {0}")]
    Invalid(String),
}

impl KernelError {
    /// True for [`KernelError::NotFound`]; lets idempotent callers ignore "already gone".
    pub fn is_not_found(&self) -> bool {
        matches!(self, KernelError::NotFound { .. })
    }

    /// Maps an I/O error, keeping "no such file" as [`KernelError::NotFound`].
    pub fn from_io(op: impl Into<String>, source: io::Error) -> Self {
        let op = op.into();
        match source.kind() {
            io::ErrorKind::NotFound => KernelError::NotFound { what: op },
            _ => KernelError::Io { op, source },
        }
    }
}

/// Shorthand for results of kernel operations.
pub type KernelResult<T> = Result<T, KernelError>;
