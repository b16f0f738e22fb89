//! A throwaway certificate authority for TLS tests, made with the openssl command (Debian's
//! openssl): P-256 keys, certificates for loopback servers and for clients, valid or expired.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A CA's certificate and key in a directory of the test's.
#[derive(Debug, Clone)]
pub struct TestCa {
    dir: PathBuf,
    name: String,
    /// The CA certificate (PEM), what clients and servers trust.
    pub cert: PathBuf,
    key: PathBuf,
}

/// A certificate and its key (PEM files).
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certificate.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
}

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running openssl (Debian package openssl)");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl TestCa {
    /// A new self-signed CA `name` in `dir`, valid for 30 days.
    pub fn new(dir: &Path, name: &str) -> TestCa {
        let (cert, key) = (format!("{name}.pem"), format!("{name}.key"));
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &cert,
                "-days",
                "30",
                "-subj",
                &format!("/CN={name}"),
            ],
            dir,
        );
        TestCa {
            dir: dir.to_path_buf(),
            name: name.to_string(),
            cert: dir.join(cert),
            key: dir.join(key),
        }
    }

    /// A certificate for `name` signed by this CA, valid for `days` from now (negative: it
    /// expired), with `127.0.0.1` as subject alternative name (so it serves on loopback too).
    pub fn issue(&self, name: &str, days: i32) -> Issued {
        let stem = format!("{}-{name}", self.name);
        let (cert, key, csr, ext) = (
            format!("{stem}.pem"),
            format!("{stem}.key"),
            format!("{stem}.csr"),
            format!("{stem}.ext"),
        );
        std::fs::write(
            self.dir.join(&ext),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n",
        )
        .unwrap();
        openssl(
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &format!("/CN={name}"),
            ],
            &self.dir,
        );
        let ca_cert = self.cert.display().to_string();
        let ca_key = self.key.display().to_string();
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca_cert,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-out",
                &cert,
                "-days",
                &days.to_string(),
                "-extfile",
                &ext,
            ],
            &self.dir,
        );
        Issued {
            cert: self.dir.join(cert),
            key: self.dir.join(key),
        }
    }
}
