//! Configuration errors, each naming the file, line and key.

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The YAML does not parse or does not fit the schema (unknown key, wrong type, ...).
    #[error("{origin}:{line}: {key}: {message}")]
    Syntax {
        /// File name.
        origin: String,
        /// 1-based line.
        line: usize,
        /// Key path such as `bgp.peers[0].hold_time` (`.` for the document).
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A value parses but is not acceptable.
    #[error("{origin}:{line}: {key}: {message}")]
    Invalid {
        /// File name.
        origin: String,
        /// 1-based line (of the key, or of its nearest parent that is present).
        line: usize,
        /// Key path.
        key: String,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    /// The key path the error is about.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::Syntax { key, .. } | ConfigError::Invalid { key, .. } => Some(key),
        }
    }

    /// The line the error is about.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::Syntax { line, .. } | ConfigError::Invalid { line, .. } => Some(*line),
        }
    }
}

impl ConfigError {
    /// A parse or schema error, with the key path serde was at and YAML's own line.
    pub(super) fn from_yaml(
        origin: &str,
        text: &str,
        err: &serde_path_to_error::Error<serde_yaml_ng::Error>,
    ) -> ConfigError {
        let key = err.path().to_string();
        let inner = err.inner();
        let line = inner
            .location()
            .map(|l| l.line())
            .unwrap_or_else(|| super::locate::line_of(text, &key));
        // serde_yaml_ng appends " at line L column C"; the line is already in front.
        let message = inner.to_string();
        let message = match message.rfind(" at line ") {
            Some(i) => message.get(..i).unwrap_or(&message).to_string(),
            None => message,
        };
        // serde_yaml_ng may also prefix its own view of the path: keep one.
        let message = match message.split_once(": ") {
            Some((prefix, rest)) if key.starts_with(prefix) => rest.to_string(),
            _ => message,
        };
        ConfigError::Syntax {
            origin: origin.to_string(),
            line,
            key,
            message,
        }
    }
}

/// A value that parses but cannot be used: the key and what is wrong, before the file and line
/// are known ([`Config::from_yaml_str`](super::Config::from_yaml_str) adds them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct Problem {
    /// Key path such as `ipam.fan.address`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl Problem {
    /// A problem with `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            key: key.into(),
            message: message.into(),
        }
    }
}
