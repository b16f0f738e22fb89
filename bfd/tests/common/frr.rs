//! FRR's zebra and bfdd in the peer namespace, configured by a `bfd` block, and its view of
//! the sessions as JSON.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use super::Lab;

/// A running FRR.
pub struct Frr {
    ns: String,
    dir: PathBuf,
}

impl Frr {
    /// Starts zebra and bfdd (with its control socket, as FRR's own image does) in `lab`'s
    /// peer namespace, bfdd configured with `bfd_block`.
    pub fn start(lab: &Lab, bfd_block: &str) -> Frr {
        let dir = lab.dir.path().join("frr");
        std::fs::create_dir_all(dir.join("run")).unwrap();
        std::fs::write(dir.join("zebra.conf"), "hostname peer\n").unwrap();
        let log = dir.join("bfdd.log");
        std::fs::write(
            dir.join("bfdd.conf"),
            format!(
                "log file {} debugging\ndebug bfd peer\ndebug bfd network\n{bfd_block}",
                log.display()
            ),
        )
        .unwrap();
        let ok = Command::new("chown")
            .args(["-R", "frr:frr"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(ok.success(), "chown frr");
        let d = dir.display().to_string();
        for daemon in ["zebra", "bfdd"] {
            let conf = format!("{d}/{daemon}.conf");
            let pid = format!("{d}/run/{daemon}.pid");
            let zserv = format!("{d}/run/zserv.api");
            let vty = format!("{d}/run");
            let ctl = format!("{d}/run/bfdd.sock");
            let mut args = vec![
                format!("/usr/lib/frr/{daemon}"),
                "-d".into(),
                "-f".into(),
                conf,
                "-i".into(),
                pid,
                "-z".into(),
                zserv,
                "--vty_socket".into(),
                vty,
                "-P".into(),
                "0".into(),
            ];
            if daemon == "bfdd" {
                args.extend(["--bfdctl".into(), ctl]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            lab.exec(&lab.peer, &args);
            lab.track_pidfile(dir.join(format!("run/{daemon}.pid")));
        }
        Frr {
            ns: lab.peer.clone(),
            dir,
        }
    }

    /// Runs vtysh commands; their stdout.
    pub fn vtysh(&self, cmds: &[&str]) -> String {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns, "vtysh", "--vty_socket"])
            .arg(self.dir.join("run"));
        for cmd in cmds {
            c.args(["-c", cmd]);
        }
        String::from_utf8_lossy(&c.output().unwrap().stdout).into_owned()
    }

    /// Configures inside `bfd` / `peer_line`.
    pub fn configure_peer(&self, peer_line: &str, lines: &[&str]) {
        let mut cmds = vec!["configure terminal", "bfd", peer_line];
        cmds.extend_from_slice(lines);
        self.vtysh(&cmds);
    }

    /// `show bfd peers json`: one object per session.
    pub fn peers(&self) -> Vec<Value> {
        let out = self.vtysh(&["show bfd peers json"]);
        match serde_json::from_str(&out) {
            Ok(Value::Array(v)) => v,
            _ => vec![],
        }
    }

    /// The session with peer address `peer` (and multihop or not), if bfdd lists it.
    pub fn peer(&self, peer: &str, multihop: bool) -> Option<Value> {
        self.peers()
            .into_iter()
            .find(|p| p["peer"].as_str() == Some(peer) && p["multihop"].as_bool() == Some(multihop))
    }
}
