//! Restarting a lab host's latticed from a test: the lab's process stopped with SIGTERM (the
//! graceful stop), a new one started on the same config, owned by the test and stopped when
//! dropped (so `destroy_and_check` finds nothing left).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::containers::built;
use super::{eventually, Lab};

/// A latticed this test started in place of the lab's.
pub struct Restarted {
    child: Option<Child>,
    /// Its log file, in the lab's node directory.
    pub log: PathBuf,
}

impl Restarted {
    /// Stops `host`'s running latticed and starts it again; returns once its API answers.
    pub fn host(lab: &Lab, host: &str) -> Restarted {
        let node = lab.lab_dir().join(host);
        let config = node.join("latticed.yaml");
        let needle = config.display().to_string();
        let pids: Vec<i32> = lab
            .processes()
            .iter()
            .filter(|p| p.contains("latticed") && p.contains(&needle))
            .filter_map(|p| p.split(':').next()?.trim().parse().ok())
            .collect();
        assert_eq!(pids.len(), 1, "one latticed of {host}: {pids:?}");
        let pid = Pid::from_raw(pids[0]);
        kill(pid, Signal::SIGTERM).unwrap();
        // Not our child: gone once /proc no longer lists it (or lists a zombie).
        let gone = eventually(Duration::from_secs(60), || {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
            })
        });
        assert!(gone, "latticed of {host} did not stop on SIGTERM");
        let log = node.join("latticed-restarted.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &format!("{}-{host}", lab.name)])
            .arg(built("latticed"))
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let me = Restarted {
            child: Some(child),
            log,
        };
        let api = node.join("lattice.sock");
        let up = eventually(Duration::from_secs(40), || {
            std::os::unix::net::UnixStream::connect(&api).is_ok()
        });
        assert!(up, "restarted latticed of {host}:\n{}", me.log_text());
        me
    }

    /// What the restarted latticed logged.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM and wait.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            }
            if !eventually(Duration::from_secs(40), || {
                matches!(child.try_wait(), Ok(Some(_)))
            }) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

impl Drop for Restarted {
    fn drop(&mut self) {
        self.stop();
    }
}
