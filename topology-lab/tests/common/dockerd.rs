//! A dockerd of a test, in a lab host's network namespace and a private mount namespace where
//! a test directory is bind-mounted over /run (dockerd finds plugins only in
//! /run/docker/plugins): nothing is created in the real /run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{eventually, example_lab, Lab};

/// `example` as a lab (see [`example_lab`]) whose host1 serves the Docker driver on a socket in
/// a fresh dockerd directory: (lab, that directory, the socket); `None` (after saying why) when
/// the test cannot run here. Not deployed yet.
pub fn docker_lab(example: &str, tag: &str) -> Option<(Lab, tempfile::TempDir, PathBuf)> {
    let tools = [
        "/usr/sbin/dockerd",
        "/usr/bin/docker",
        "/usr/bin/unshare",
        "/usr/bin/nsenter",
        "/bin/busybox",
    ];
    if !super::can_run(&tools) {
        return None;
    }
    let lab = example_lab(example, tag)?;
    let ddir = tempfile::tempdir().unwrap();
    let plugins = Dockerd::fake_run(ddir.path()).join("docker/plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let socket = plugins.join("lattice.sock");
    let host1 = lab.dir.path().join(example).join("host1.yaml");
    let mut conf = std::fs::read_to_string(&host1).unwrap();
    conf.push_str(&format!(
        "docker: {{enabled: true, socket: {}}}\n",
        socket.display()
    ));
    std::fs::write(&host1, conf).unwrap();
    Some((lab, ddir, socket))
}

/// A dockerd of this test, in a lab host's network namespace and a private mount namespace.
pub struct Dockerd {
    /// The test's directory (dockerd's /run, data root and logs).
    pub dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Dockerd {
    /// The directory that is /run for dockerd; latticed's plugin socket goes in it.
    pub fn fake_run(dir: &Path) -> PathBuf {
        dir.join("run")
    }

    pub fn start(dir: tempfile::TempDir, netns: &str) -> Dockerd {
        let d = dir.path();
        let script = format!(
            "set -e; mount --bind {run} /run; ulimit -n 4096; exec dockerd --data-root {d}/root \
             --exec-root {d}/exec --pidfile {d}/docker.pid -H unix://{d}/docker.sock \
             --iptables=false --ip6tables=false --bridge=none --storage-driver=overlay2 \
             --containerd-namespace lattice-test --containerd-plugins-namespace lattice-test-p",
            run = Self::fake_run(d).display(),
            d = d.display()
        );
        let log = std::fs::File::create(d.join("dockerd.log")).unwrap();
        let child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{netns}"))
            .args([
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                &script,
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let me = Dockerd {
            dir,
            child: Some(child),
        };
        let up = eventually(Duration::from_secs(60), || {
            me.docker(&["version"]).status.success()
        });
        assert!(up, "dockerd did not come up:\n{}", me.log());
        me
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .args(args)
            .env(
                "DOCKER_HOST",
                format!("unix://{}/docker.sock", self.dir.path().display()),
            )
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        eprintln!(
            "$ docker {args:?} -> {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "docker {args:?} failed");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Processes other than dockerd itself whose command line names this test's directory
    /// (containerd, shims): ours, so they may be killed by pid.
    pub fn leftovers(&self) -> Vec<i32> {
        let needle = self.dir.path().display().to_string();
        let mut pids = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmd).contains(&needle) {
                pids.push(pid);
            }
        }
        pids
    }

    /// Remove containers, stop dockerd and everything it started.
    pub fn stop(&mut self) {
        if self.child.is_none() {
            return;
        }
        let ids = self.docker(&["ps", "-aq"]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = self.docker(&["rm", "-f", id]);
        }
        let _ = self.docker(&["network", "rm", "latnet"]);
        if let Some(mut child) = self.child.take() {
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            }
            let stopped = eventually(Duration::from_secs(30), || {
                matches!(child.try_wait(), Ok(Some(_)))
            });
            if !stopped {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        for pid in self.leftovers() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One raw HTTP/1.1 exchange with the plugin socket.
pub fn raw_http(socket: &Path, request: &str) -> String {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    // Read the head and body; latticed keeps the connection open, so stop at the body's end.
    while let Ok(n) = s.read(&mut chunk) {
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.ends_with(b"}") {
            break;
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}
