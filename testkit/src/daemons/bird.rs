//! BIRD 2 in the foreground in a namespace, with its control socket in the test's directory.

use std::path::{Path, PathBuf};

use crate::process::Daemon;

/// A running BIRD; killed when dropped.
#[derive(Debug)]
pub struct Bird {
    ns: String,
    ctl: PathBuf,
    daemon: Daemon,
}

impl Bird {
    /// Writes `conf` to `dir/bird.conf` and runs `bird -f` in namespace `ns` with `extra` flags
    /// (`-R`: a graceful restart), logging to `dir/LOG`.
    pub fn start(ns: &str, dir: &Path, conf: &str, extra: &[&str], log: &str) -> Bird {
        let conf_path = dir.join("bird.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let ctl = dir.join("bird.ctl");
        let (c, s) = (conf_path.display().to_string(), ctl.display().to_string());
        let mut args = vec!["bird", "-f", "-c", &c, "-s", &s];
        args.extend_from_slice(extra);
        let daemon = Daemon::in_netns(ns, &args, &dir.join(log));
        Bird {
            ns: ns.to_string(),
            ctl,
            daemon,
        }
    }

    /// `birdc ARGS...` on its control socket; stdout, success or not.
    pub fn birdc(&self, args: &[&str]) -> String {
        let ctl = self.ctl.display().to_string();
        let mut all = vec!["ip", "netns", "exec", &self.ns, "birdc", "-s", &ctl];
        all.extend_from_slice(args);
        crate::cmd::stdout(&all)
    }

    /// Its control socket (for a client that speaks the protocol itself).
    pub fn control_socket(&self) -> &Path {
        &self.ctl
    }

    /// The BIRD process.
    pub fn daemon(&mut self) -> &mut Daemon {
        &mut self.daemon
    }
}
