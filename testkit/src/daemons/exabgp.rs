//! ExaBGP in the foreground in a namespace; its API processes are scripts the test writes.

use std::path::Path;

use crate::process::Daemon;

/// A running ExaBGP; killed (with its helper processes, by the namespace's guard) when dropped.
#[derive(Debug)]
pub struct Exabgp {
    daemon: Daemon,
}

impl Exabgp {
    /// Runs ExaBGP in namespace `ns` with the configuration file `conf`, logging to `log`.
    pub fn start(ns: &str, conf: &Path, log: &Path) -> Exabgp {
        let conf = conf.display().to_string();
        let args = [
            "env",
            "exabgp.daemon.user=root",
            "exabgp.daemon.daemonize=false",
            "exabgp.api.cli=false",
            "exabgp.log.destination=stdout",
            "exabgp",
            &conf,
        ];
        Exabgp {
            daemon: Daemon::in_netns(ns, &args, log),
        }
    }

    /// The exabgp process.
    pub fn daemon(&mut self) -> &mut Daemon {
        &mut self.daemon
    }
}

/// Writes a recorder for ExaBGP's API to `path`: it appends what ExaBGP reports to `out`. `sh`
/// runs `cat` rather than exec'ing it, so the script's stdout (the pipe ExaBGP polls, and takes
/// a closed one for a dead helper) stays open.
pub fn exabgp_recorder(path: &Path, out: &Path) {
    crate::cmd::write_script(path, &format!("#!/bin/sh\ncat >> {}\n", out.display()));
}
