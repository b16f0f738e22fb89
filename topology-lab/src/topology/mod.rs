//! Topology files: containerlab's format ([`file`]), merged and validated into a [`model::Lab`].
//!
//! Every check happens here, before anything is created on the machine.

pub mod file;
mod links;
pub mod model;
pub mod node_settings;
mod notes;
mod resolve;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_clab;

use std::path::{Path, PathBuf};

pub use model::{Kind, Lab, Node};
#[cfg(test)]
pub use resolve::is_frr_image;

/// Why a topology file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    /// The file could not be read.
    // Causes are part of the messages, not `source`s: anyhow's `{:#}` would repeat them.
    #[error("cannot read topology file {path}: {error}")]
    Read {
        /// File path.
        path: PathBuf,
        /// Underlying error.
        error: std::io::Error,
    },
    /// The YAML is malformed or has an unknown key.
    #[error("{path}: {}{message}", at_line(*line, *column))]
    Yaml {
        /// File path.
        path: PathBuf,
        /// 1-based line of the error, if known.
        line: Option<usize>,
        /// 1-based column of the error, if known.
        column: Option<usize>,
        /// What is wrong (with serde's key path, e.g. `topology.nodes.a: unknown key ...`).
        message: String,
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
    let text = std::fs::read_to_string(path).map_err(|error| TopologyError::Read {
        path: path.to_path_buf(),
        error,
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
        serde_yaml_ng::from_str(text).map_err(|e| TopologyError::Yaml {
            path: PathBuf::new(),
            line: e.location().map(|l| l.line()),
            column: e.location().map(|l| l.column()),
            message: file::yaml_message(&e),
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
            TopologyError::Yaml {
                line,
                column,
                message,
                ..
            } => TopologyError::Yaml {
                path: p.to_path_buf(),
                line,
                column,
                message,
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

/// `line L column C: ` when the parser knows where.
fn at_line(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("line {l} column {c}: "),
        (Some(l), None) => format!("line {l}: "),
        _ => String::new(),
    }
}
