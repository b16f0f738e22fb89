//! Topology files: containerlab's format ([`file`]), merged and validated into a [`model::Lab`].
//!
//! Every check happens here, before anything is created on the machine.

pub mod file;
pub mod model;
mod resolve;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use model::{Kind, Lab, Node};

/// Why a topology file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    /// The file could not be read.
    #[error("cannot read topology file {path}: {source}")]
    Read {
        /// File path.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The YAML is malformed or has an unknown key (serde names the line and column).
    #[error("{path}: {source}")]
    Yaml {
        /// File path.
        path: PathBuf,
        /// Parser error, with its location.
        source: serde_yaml_ng::Error,
    },
    /// A semantic error at a given place in the file.
    #[error("{path}: {at}: {message}")]
    Invalid {
        /// File path.
        path: PathBuf,
        /// Key path, e.g. `topology.links[2].endpoints[0]`.
        at: String,
        /// What is wrong.
        message: String,
    },
}

/// Read, parse, merge and validate a topology file.
pub fn load(path: &Path) -> Result<Lab, TopologyError> {
    let text = std::fs::read_to_string(path).map_err(|source| TopologyError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let base = if base.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        base
    };
    let base = std::path::absolute(&base).unwrap_or(base);
    parse(&text, &base).map_err(|e| e.with_path(path))
}

/// Parse topology text; relative paths resolve against `base`.
pub fn parse(text: &str, base: &Path) -> Result<Lab, TopologyError> {
    let file: file::TopologyFile =
        serde_yaml_ng::from_str(text).map_err(|source| TopologyError::Yaml {
            path: PathBuf::new(),
            source,
        })?;
    resolve::resolve(&file, base).map_err(|(at, message)| TopologyError::Invalid {
        path: PathBuf::new(),
        at,
        message,
    })
}

impl TopologyError {
    fn with_path(self, p: &Path) -> Self {
        match self {
            TopologyError::Yaml { source, .. } => TopologyError::Yaml {
                path: p.to_path_buf(),
                source,
            },
            TopologyError::Invalid { at, message, .. } => TopologyError::Invalid {
                path: p.to_path_buf(),
                at,
                message,
            },
            other => other,
        }
    }
}
