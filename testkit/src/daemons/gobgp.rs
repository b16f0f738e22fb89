//! GoBGP in a namespace, its gRPC API on the namespace's loopback.

use std::path::Path;

use crate::process::Daemon;

/// A running gobgpd; killed when dropped.
#[derive(Debug)]
pub struct Gobgp {
    ns: String,
    api_port: u16,
    daemon: Daemon,
}

impl Gobgp {
    /// Writes `toml` to `dir/gobgpd.toml` and runs gobgpd in namespace `ns` with its API on
    /// 127.0.0.1:`api_port` and `extra` flags (`-r`: a graceful restart), logging to `dir/LOG`.
    pub fn start(
        ns: &str,
        dir: &Path,
        toml: &str,
        api_port: u16,
        extra: &[&str],
        log: &str,
    ) -> Gobgp {
        let conf = dir.join("gobgpd.toml");
        std::fs::write(&conf, toml).unwrap();
        let conf = conf.display().to_string();
        let api = format!("127.0.0.1:{api_port}");
        let mut args = vec![
            "gobgpd",
            "-f",
            &conf,
            "-p",
            "--api-hosts",
            &api,
            "--pprof-disable",
        ];
        args.extend_from_slice(extra);
        let daemon = Daemon::in_netns(ns, &args, &dir.join(log));
        Gobgp {
            ns: ns.to_string(),
            api_port,
            daemon,
        }
    }

    /// `gobgp ARGS...` against it; stdout, success or not.
    pub fn cli(&self, args: &[&str]) -> String {
        let port = self.api_port.to_string();
        let mut all = vec![
            "ip",
            "netns",
            "exec",
            &self.ns,
            "gobgp",
            "-u",
            "127.0.0.1",
            "-p",
            &port,
        ];
        all.extend_from_slice(args);
        crate::cmd::stdout(&all)
    }

    /// The gobgpd process.
    pub fn daemon(&mut self) -> &mut Daemon {
        &mut self.daemon
    }
}
