//! OpenBGPD (portable, Debian's `openbgpd`) in the foreground in a namespace: `bgpd -d -f`,
//! its control socket in the test's directory (`socket "PATH"` in bgpd.conf: bgpd has no `-s`)
//! and queried with `bgpctl -s`. bgpd chroots its session engine into `/run/openbgpd` (systemd
//! makes it for the packaged service); it is created here when missing and never removed (it
//! is empty and shared). Portable OpenBGPD does not program the Linux FIB.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::process::Daemon;

/// The chroot directory bgpd needs.
const CHROOT: &str = "/run/openbgpd";

/// A running bgpd; killed (with its child processes, which exit with it) when dropped.
#[derive(Debug)]
pub struct Openbgpd {
    ns: String,
    socket: PathBuf,
    daemon: Daemon,
}

impl Openbgpd {
    /// Writes `socket "DIR/bgpd.sock"` and `conf` to `dir/bgpd.conf` (mode 0600: bgpd refuses
    /// a configuration with a password that others can read) and runs `bgpd -d` in namespace
    /// `ns`, logging to `dir/LOG`. Waits until its control socket answers.
    pub fn start(ns: &str, dir: &Path, conf: &str, log: &str) -> Openbgpd {
        std::fs::create_dir_all(CHROOT).unwrap();
        let socket = dir.join("bgpd.sock");
        let path = dir.join("bgpd.conf");
        std::fs::write(&path, format!("socket \"{}\"\n{conf}", socket.display())).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let p = path.display().to_string();
        let daemon = Daemon::in_netns(ns, &["bgpd", "-d", "-v", "-f", &p], &dir.join(log));
        let mut me = Openbgpd {
            ns: ns.to_string(),
            socket,
            daemon,
        };
        let up = crate::eventually(std::time::Duration::from_secs(10), || {
            me.socket.exists() && me.bgpctl(&["show"]).contains("Neighbor")
        });
        if !up {
            let exited = me.daemon.exited();
            panic!(
                "bgpd did not answer on {} (exited: {exited:?}):\n{}",
                me.socket.display(),
                me.daemon.log_tail()
            );
        }
        me
    }

    /// `bgpctl ARGS...` on its control socket; stdout, success or not.
    pub fn bgpctl(&self, args: &[&str]) -> String {
        let socket = self.socket.display().to_string();
        let mut all = vec!["ip", "netns", "exec", &self.ns, "bgpctl", "-s", &socket];
        all.extend_from_slice(args);
        crate::cmd::stdout(&all)
    }

    /// The bgpd parent process.
    pub fn daemon(&mut self) -> &mut Daemon {
        &mut self.daemon
    }
}
