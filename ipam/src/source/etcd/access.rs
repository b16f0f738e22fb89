//! How latticed reaches a secured etcd: TLS with a CA bundle and a client certificate
//! (rustls), user and password authentication, and every failure turned into a message that
//! names the `ipam.etcd.*` key to look at.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::Duration;

use etcd_client::{Certificate, ConnectOptions, Identity, TlsOptions};

use super::cert;
use crate::IpamError;

/// `ipam.etcd.*` beyond the endpoints and the prefix: TLS files and credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EtcdSecurity {
    /// `ipam.etcd.ca_file`: the CA bundle etcd's certificate must chain to (PEM).
    pub ca_file: Option<PathBuf>,
    /// `ipam.etcd.cert_file`: our client certificate (PEM), for etcd's `--client-cert-auth`.
    pub cert_file: Option<PathBuf>,
    /// `ipam.etcd.key_file`: its private key (PEM).
    pub key_file: Option<PathBuf>,
    /// `ipam.etcd.username`: the etcd user, when etcd has authentication enabled.
    pub username: Option<String>,
    /// `ipam.etcd.password`: that user's password.
    pub password: Option<EtcdPassword>,
    /// `ipam.etcd.password_file`: a file holding it instead (its first line).
    pub password_file: Option<PathBuf>,
}

/// A password that never shows up in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct EtcdPassword(String);

impl EtcdPassword {
    /// Wrap a password.
    pub fn new(password: impl Into<String>) -> Self {
        Self(password.into())
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for EtcdPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EtcdPassword(****)")
    }
}

/// A user and password to authenticate with (again, when the token is lost).
#[derive(Clone)]
pub(crate) struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

fn bad(key: &str, message: impl std::fmt::Display) -> IpamError {
    IpamError::Etcd(format!("{key}: {message}"))
}

fn read(key: &str, path: &Path) -> Result<Vec<u8>, IpamError> {
    std::fs::read(path).map_err(|e| bad(key, format!("reading {}: {e}", path.display())))
}

impl EtcdSecurity {
    /// Whether TLS files are configured.
    fn tls(&self) -> bool {
        self.ca_file.is_some() || self.cert_file.is_some()
    }

    /// The connection options these settings ask for, with every file read and checked now
    /// (at `now`, Unix seconds), and the credentials to authenticate with.
    pub(crate) fn connect_options(
        &self,
        endpoints: &[String],
        now: i64,
    ) -> Result<(ConnectOptions, Option<Credentials>), IpamError> {
        let https = endpoints.iter().any(|e| e.starts_with("https://"));
        if https && self.ca_file.is_none() {
            return Err(bad(
                "ipam.etcd.ca_file",
                "https:// endpoints need the CA bundle etcd's certificate is signed by",
            ));
        }
        if self.tls() && endpoints.iter().any(|e| !e.starts_with("https://")) {
            return Err(bad(
                "ipam.etcd.endpoints",
                "TLS is configured (ipam.etcd.ca_file, cert_file): every endpoint must be https://",
            ));
        }
        let credentials = self.credentials()?;
        let mut options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(Duration::from_secs(5));
        if https {
            options = options.with_tls(self.tls_options(now)?);
        }
        if let Some(c) = &credentials {
            options = options.with_user(c.user.clone(), c.password.clone());
        }
        Ok((options, credentials))
    }

    fn tls_options(&self, now: i64) -> Result<TlsOptions, IpamError> {
        let mut tls = TlsOptions::new();
        if let Some(ca) = &self.ca_file {
            let pem = read("ipam.etcd.ca_file", ca)?;
            let certs = pem_certificates(&pem);
            if certs.is_empty() {
                return Err(bad(
                    "ipam.etcd.ca_file",
                    format!("{} holds no PEM certificate", ca.display()),
                ));
            }
            tls = tls.ca_certificate(Certificate::from_pem(pem));
        }
        match (&self.cert_file, &self.key_file) {
            (Some(cert_path), Some(key_path)) => {
                let pem = read("ipam.etcd.cert_file", cert_path)?;
                let certs = pem_certificates(&pem);
                let Some(first) = certs.first() else {
                    return Err(bad(
                        "ipam.etcd.cert_file",
                        format!("{} holds no PEM certificate", cert_path.display()),
                    ));
                };
                check_dates(first, cert_path, now)?;
                let key = read("ipam.etcd.key_file", key_path)?;
                let has_key = matches!(
                    rustls_pemfile::private_key(&mut BufReader::new(key.as_slice())),
                    Ok(Some(_))
                );
                if !has_key {
                    return Err(bad(
                        "ipam.etcd.key_file",
                        format!("{} holds no PEM private key", key_path.display()),
                    ));
                }
                tls = tls.identity(Identity::from_pem(pem, key));
            }
            (Some(_), None) => {
                return Err(bad(
                    "ipam.etcd.key_file",
                    "ipam.etcd.cert_file needs its private key",
                ))
            }
            (None, Some(_)) => {
                return Err(bad(
                    "ipam.etcd.cert_file",
                    "ipam.etcd.key_file is set without its certificate",
                ))
            }
            (None, None) => {}
        }
        Ok(tls)
    }

    fn credentials(&self) -> Result<Option<Credentials>, IpamError> {
        let password = match (&self.password, &self.password_file) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "ipam.etcd.password_file",
                    "set ipam.etcd.password or password_file, not both",
                ))
            }
            (Some(p), None) => Some(p.expose().to_string()),
            (None, Some(path)) => {
                let text = read("ipam.etcd.password_file", path)?;
                let text = String::from_utf8(text).map_err(|_| {
                    bad(
                        "ipam.etcd.password_file",
                        format!("{} is not UTF-8 text", path.display()),
                    )
                })?;
                Some(text.lines().next().unwrap_or_default().to_string())
            }
            (None, None) => None,
        };
        match (&self.username, password) {
            (Some(user), Some(password)) => Ok(Some(Credentials {
                user: user.clone(),
                password,
            })),
            (Some(_), None) => Err(bad(
                "ipam.etcd.password",
                "ipam.etcd.username needs a password (password or password_file)",
            )),
            (None, Some(_)) => Err(bad(
                "ipam.etcd.username",
                "a password is set without a user name",
            )),
            (None, None) => Ok(None),
        }
    }

    /// What a failure to reach or use etcd means, naming the key to look at.
    pub(crate) fn explain(
        &self,
        endpoints: &[String],
        what: &str,
        e: &etcd_client::Error,
    ) -> IpamError {
        let text = describe(e);
        let lower = text.to_ascii_lowercase();
        let at = endpoints.join(",");
        let file = |p: &Option<PathBuf>| {
            p.as_ref()
                .map_or_else(|| "-".to_string(), |p| p.display().to_string())
        };
        let user = self.username.as_deref().unwrap_or("-");
        let message = if lower.contains("unknownissuer") || lower.contains("unknown issuer") {
            format!(
                "ipam.etcd.ca_file: the server certificate of {at} is not signed by a CA in {} \
                 ({text})",
                file(&self.ca_file)
            )
        } else if lower.contains("notvalidforname") || lower.contains("not valid for name") {
            format!(
                "ipam.etcd.endpoints: the server certificate is not valid for the host name of \
                 {at} ({text})"
            )
        } else if lower.contains("invalid peer certificate: expired") {
            format!("ipam.etcd.endpoints: {at} presents an expired certificate ({text})")
        } else if self.cert_file.is_none()
            && ["certificaterequired", "handshakefailure", "badcertificate"]
                .iter()
                .any(|a| lower.contains(a))
        {
            format!(
                "ipam.etcd.cert_file: {at} asks for a client certificate and none is configured \
                 ({text})"
            )
        } else if [
            "badcertificate",
            "unknownca",
            "certificateexpired",
            "certificateunknown",
        ]
        .iter()
        .any(|a| lower.contains(a))
        {
            format!(
                "ipam.etcd.cert_file: {at} refused the client certificate in {} (is it signed by \
                 a CA etcd trusts, --trusted-ca-file, and still valid?) ({text})",
                file(&self.cert_file)
            )
        } else if self.ca_file.is_some()
            && self.cert_file.is_none()
            && closed_after_handshake(&lower)
        {
            format!(
                "ipam.etcd.cert_file: {at} closed the connection after the TLS handshake: it \
                 most likely asks for a client certificate, and none is configured ({text})"
            )
        } else if self.cert_file.is_some() && closed_after_handshake(&lower) {
            // Without its alert (which may lose the race with the close), a connection closed
            // right after a handshake that accepted etcd's certificate is etcd refusing ours.
            format!(
                "ipam.etcd.cert_file: {at} closed the connection after the TLS handshake: it \
                 most likely refused the client certificate in {} (is it signed by a CA etcd \
                 trusts, --trusted-ca-file, and still valid?) ({text})",
                file(&self.cert_file)
            )
        } else if lower.contains("invalid user id or password") {
            format!("ipam.etcd.password: user {user:?} refused ({text})")
        } else if lower.contains("user name is empty") {
            format!(
                "ipam.etcd.username: {at} has authentication enabled and no user is configured \
                 ({text})"
            )
        } else if lower.contains("permission denied") {
            format!("ipam.etcd.username: user {user:?} may not {what} ({text})")
        } else {
            format!("cannot {what} at {at} (ipam.etcd.endpoints): {text}")
        };
        IpamError::Etcd(message)
    }
}

/// A TLS connection that etcd closed once the handshake was done (not one that never opened).
fn closed_after_handshake(lower: &str) -> bool {
    !lower.contains("tcp connect error")
        && [
            "connection closed",
            "connection reset",
            "broken pipe",
            "operation was canceled",
        ]
        .iter()
        .any(|a| lower.contains(a))
}

/// Whether an error means our authentication token is gone (etcd restarted, the token
/// expired): authenticate again and retry.
pub(crate) fn token_lost(e: &etcd_client::Error) -> bool {
    let text = describe(e);
    text.contains("invalid auth token")
        || text.contains("user name is empty")
        || text.contains("revision of auth store is old")
}

/// An etcd client error with what its gRPC status hides: the transport error behind it
/// ("transport error" alone does not say that etcd refused our certificate).
pub(crate) fn describe(e: &etcd_client::Error) -> String {
    let etcd_client::Error::GRpcStatus(status) = e else {
        return e.to_string();
    };
    let mut text = status.message().to_string();
    let inner = std::error::Error::source(status).map(chain);
    if let Some(inner) = inner.filter(|i| !text.contains(i.as_str())) {
        text.push_str(": ");
        text.push_str(&inner);
    }
    text
}

/// The error and all its sources, `: `-separated (tonic's own message says little).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

fn pem_certificates(pem: &[u8]) -> Vec<Vec<u8>> {
    rustls_pemfile::certs(&mut BufReader::new(pem))
        .filter_map(Result::ok)
        .map(|c| c.as_ref().to_vec())
        .collect()
}

/// A client certificate out of its validity period is refused here, with its dates, rather
/// than by etcd with a bare "bad certificate".
fn check_dates(der: &[u8], path: &Path, now: i64) -> Result<(), IpamError> {
    let Some(v) = cert::validity(der) else {
        return Err(bad(
            "ipam.etcd.cert_file",
            format!("{}: the certificate cannot be read", path.display()),
        ));
    };
    if now > v.not_after {
        return Err(bad(
            "ipam.etcd.cert_file",
            format!(
                "the certificate in {} expired on {}",
                path.display(),
                cert::show(v.not_after)
            ),
        ));
    }
    if now < v.not_before {
        return Err(bad(
            "ipam.etcd.cert_file",
            format!(
                "the certificate in {} is not valid before {}",
                path.display(),
                cert::show(v.not_before)
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn secured() -> EtcdSecurity {
        EtcdSecurity {
            ca_file: Some("/etc/lattice/ca.pem".into()),
            cert_file: Some("/etc/lattice/host.pem".into()),
            key_file: Some("/etc/lattice/host.key".into()),
            username: Some("lattice".into()),
            password: Some(EtcdPassword::new("s3cret")),
            password_file: None,
        }
    }

    fn named(sec: &EtcdSecurity, message: &str) -> String {
        let e = etcd_client::Error::InvalidArgs(message.into());
        sec.explain(&["https://10.0.0.9:2379".into()], "connect", &e)
            .to_string()
    }

    #[test]
    fn each_failure_names_its_key() {
        let s = secured();
        for (message, key) in [
            (
                "invalid peer certificate: UnknownIssuer",
                "ipam.etcd.ca_file",
            ),
            (
                "received fatal alert: BadCertificate",
                "ipam.etcd.cert_file",
            ),
            ("connection closed", "ipam.etcd.cert_file"),
            (
                "etcdserver: authentication failed, invalid user ID or password",
                "ipam.etcd.password",
            ),
            ("etcdserver: permission denied", "ipam.etcd.username"),
            (
                "invalid peer certificate: NotValidForName",
                "ipam.etcd.endpoints",
            ),
            ("tcp connect error", "ipam.etcd.endpoints"),
        ] {
            let text = named(&s, message);
            assert!(text.contains(key), "{message}: {text}");
        }
        let no_cert = EtcdSecurity {
            cert_file: None,
            key_file: None,
            ..secured()
        };
        assert!(named(&no_cert, "received fatal alert: CertificateRequired")
            .contains("none is configured"));
        // The password is never shown.
        assert!(!format!("{:?}", secured()).contains("s3cret"));
        assert!(!named(
            &s,
            "etcdserver: authentication failed, invalid user ID or password"
        )
        .contains("s3cret"));
    }

    #[test]
    fn settings_that_cannot_work_are_refused_before_connecting() {
        let https = ["https://10.0.0.9:2379".to_string()];
        let http = ["http://10.0.0.9:2379".to_string()];
        let err = |s: &EtcdSecurity, e: &[String]| s.connect_options(e, 0).unwrap_err().to_string();
        assert!(err(&EtcdSecurity::default(), &https).contains("ipam.etcd.ca_file"));
        assert!(err(&secured(), &http).contains("ipam.etcd.endpoints"));
        let no_password = EtcdSecurity {
            username: Some("u".into()),
            ..EtcdSecurity::default()
        };
        assert!(err(&no_password, &http).contains("ipam.etcd.password"));
        let both = EtcdSecurity {
            password_file: Some("/p".into()),
            ..secured()
        };
        assert!(err(&both, &https).contains("ipam.etcd.password_file"));
        // Plain http with nothing set is fine.
        assert!(EtcdSecurity::default().connect_options(&http, 0).is_ok());
    }
}
