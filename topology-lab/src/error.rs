//! The one error type of the lab's operations (main wraps it in anyhow).

use crate::topology::TopologyError;

/// Why a lab operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The topology file was rejected.
    #[error(transparent)]
    Topology(#[from] TopologyError),
    /// An external command ran and failed.
    #[error("`{cmd}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        cmd: String,
        /// Exit status.
        status: String,
        /// Its stderr (trimmed).
        stderr: String,
    },
    /// An external command could not be started.
    // The underlying error is part of the message and deliberately not a `source`: `{:#}`
    // (anyhow's chain) would print it a second time.
    #[error("cannot run `{cmd}`: {error}")]
    Spawn {
        /// The command line.
        cmd: String,
        /// Underlying error.
        error: std::io::Error,
    },
    /// A file operation failed.
    #[error("{what}: {error}")]
    Io {
        /// What was being done.
        what: String,
        /// Underlying error.
        error: std::io::Error,
    },
    /// Anything else, with a message a person can act on.
    #[error("{0}")]
    Failed(String),
}

impl LabError {
    /// Wrap an I/O error with what was being done.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LabError {
        let what = what.into();
        move |error| LabError::Io { what, error }
    }
}
