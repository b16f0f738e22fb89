//! A TCP MD5 key that never shows itself in `Debug` output.
//!
//! Peer configs are logged and printed with `{:?}` (start-up traces, test failures, panics in
//! tests); a shared secret must not travel with them.

use serde::Deserialize;

/// A TCP MD5 signature key (RFC 2385). `Debug` prints `Password(<redacted>)`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    /// Wraps a key (its length is checked where it is used: config validation and the socket).
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key itself, for the kernel and for validation only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl From<&str> for Password {
    fn from(key: &str) -> Self {
        Self::new(key)
    }
}

#[cfg(test)]
mod tests {
    use super::Password;

    #[test]
    fn debug_hides_the_key() {
        let p = Password::new("s3cret-key");
        let shown = format!("{p:?} {:?}", Some(p.clone()));
        assert!(!shown.contains("s3cret"), "{shown}");
        assert_eq!(p.expose(), "s3cret-key");
    }
}
