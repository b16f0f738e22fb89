//! FRR (zebra + bgpd) in the peer namespace, with a bgpd that can be killed and restarted.

use std::path::PathBuf;
use std::process::Command;

use super::Pair;

/// A running FRR.
pub struct Frr {
    ns: String,
    dir: PathBuf,
}

impl Frr {
    /// Start zebra and bgpd in `pair`'s peer namespace with `bgpd_conf`.
    pub fn start(pair: &Pair, bgpd_conf: &str) -> Frr {
        let dir = pair.dir.path().join("frr");
        std::fs::create_dir_all(dir.join("run")).unwrap();
        std::fs::write(dir.join("zebra.conf"), "hostname peer\n").unwrap();
        std::fs::write(dir.join("bgpd.conf"), with_log(&dir, bgpd_conf)).unwrap();
        chown(&dir);
        let frr = Frr {
            ns: pair.peer.clone(),
            dir,
        };
        for daemon in ["zebra", "bgpd"] {
            frr.run_daemon(pair, daemon);
        }
        frr
    }

    fn run_daemon(&self, pair: &Pair, daemon: &str) {
        let d = self.dir.display().to_string();
        pair.peer_cmd(&[
            &format!("/usr/lib/frr/{daemon}"),
            "-d",
            "-f",
            &format!("{d}/{daemon}.conf"),
            "-i",
            &format!("{d}/run/{daemon}.pid"),
            "-z",
            &format!("{d}/run/zserv.api"),
            "--vty_socket",
            &format!("{d}/run"),
            "-P",
            "0",
        ]);
        pair.track_pidfile(self.dir.join(format!("run/{daemon}.pid")));
    }

    /// Kill bgpd the hard way: no NOTIFICATION, as in a crash or a restart for an upgrade.
    pub fn kill_bgpd(&self) {
        let pid = std::fs::read_to_string(self.dir.join("run/bgpd.pid")).unwrap();
        let pid = nix::unistd::Pid::from_raw(pid.trim().parse().unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
        let gone = super::eventually(10, || nix::sys::signal::kill(pid, None).is_err());
        assert!(gone, "bgpd did not die");
    }

    /// Start bgpd again, with `bgpd_conf` if given.
    pub fn start_bgpd(&self, pair: &Pair, bgpd_conf: Option<&str>) {
        if let Some(conf) = bgpd_conf {
            std::fs::write(self.dir.join("bgpd.conf"), with_log(&self.dir, conf)).unwrap();
            chown(&self.dir);
        }
        self.run_daemon(pair, "bgpd");
    }

    /// Run vtysh commands; their stdout.
    pub fn vtysh(&self, cmds: &[&str]) -> String {
        let vty = self.dir.join("run");
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns, "vtysh", "--vty_socket"]);
        c.arg(vty);
        for cmd in cmds {
            c.args(["-c", cmd]);
        }
        String::from_utf8_lossy(&c.output().unwrap().stdout).into_owned()
    }
}

/// `conf` logging session events to `bgpd.log` next to it, kept with a failed test's files.
fn with_log(dir: &std::path::Path, conf: &str) -> String {
    let log = dir.join("bgpd.log");
    format!(
        "log file {} debugging\ndebug bgp neighbor-events\n{conf}",
        log.display()
    )
}

fn chown(dir: &std::path::Path) {
    let ok = Command::new("chown")
        .args(["-R", "frr:frr"])
        .arg(dir)
        .status()
        .unwrap()
        .success();
    assert!(ok, "chown frr");
}
