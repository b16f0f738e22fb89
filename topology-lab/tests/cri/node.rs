//! A Kubernetes node in a lab host's network namespace: a private mount namespace (tmpfs `/run`,
//! `/opt`, `/etc/cni` and `/usr/local/bin`, overlays on `/etc` and `/var/lib`) so containerd, the CNI files
//! and latticed use their usual paths without touching the machine's, containerd with the CRI
//! plugin, and latticed as the DaemonSet runs it. Everything is stopped and removed on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use api::proto::{Attachment, Reply, Request};

use super::client::Cri;
use super::image::PAUSE;
use super::install::{repo, Manifests};

/// The workspace's built binary `name`: next to the test's lattice-lab, or for an example
/// (`target/PROFILE/examples/x`) in `target/PROFILE/`.
pub fn built(name: &str) -> PathBuf {
    if let Some(lab) = option_env!("CARGO_BIN_EXE_lattice-lab") {
        return Path::new(lab).with_file_name(name);
    }
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap();
    let dir = if dir.ends_with("examples") {
        dir.parent().unwrap()
    } else {
        dir
    };
    dir.join(name)
}

/// One node.
pub struct Node {
    pub name: String,
    /// The lab namespace the node lives in.
    pub netns: String,
    pub dir: PathBuf,
    /// Pods' cgroup parent: unique to this node and test run.
    pub cgroup_parent: String,
    holder: Child,
    containerd: Option<Child>,
    latticed: Option<Child>,
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: not within {secs} s");
}

impl Node {
    /// Makes the node's mount namespace inside lab namespace `netns`; `dir` is its own.
    pub fn new(name: &str, netns: &str, dir: &Path) -> Node {
        std::fs::create_dir_all(dir).unwrap();
        let d = dir.display();
        let mut script = format!(
            "set -e\n\
             mount -t tmpfs tmpfs /run\n\
             mount -t tmpfs tmpfs /opt\n\
             mount -t tmpfs tmpfs /usr/local/bin\n\
             mkdir -p {d}/etc-up {d}/etc-work {d}/lib-up {d}/lib-work\n\
             mount -t overlay overlay -o lowerdir=/etc,upperdir={d}/etc-up,workdir={d}/etc-work /etc\n\
             mount -t overlay overlay -o lowerdir=/var/lib,upperdir={d}/lib-up,workdir={d}/lib-work /var/lib\n\
             mkdir -p /etc/cni && mount -t tmpfs tmpfs /etc/cni\n"
        );
        // The image's files at the image's paths (deploy/kubernetes/Containerfile).
        let files = [
            ("latticed", built("latticed")),
            ("lattice", built("lattice")),
            ("lattice-cni", built("lattice-cni")),
            (
                "install-cni.sh",
                repo().join("deploy/kubernetes/install-cni.sh"),
            ),
        ];
        for (dest, src) in files {
            assert!(
                src.is_file(),
                "{} is not built (the node binds it as /usr/local/bin/{dest})",
                src.display()
            );
            script.push_str(&format!(
                "touch /usr/local/bin/{dest}\nmount --bind {} /usr/local/bin/{dest}\n",
                src.display()
            ));
        }
        script.push_str(&format!("touch {d}/ready\nexec sleep 100000\n"));
        let holder = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{netns}"))
            .args(["unshare", "--mount", "--propagation", "private", "sh", "-c"])
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("holder.log")).unwrap())
            .spawn()
            .unwrap();
        let node = Node {
            name: name.into(),
            netns: netns.into(),
            dir: dir.to_path_buf(),
            cgroup_parent: format!("/lattice-cri-{}-{name}", std::process::id()),
            holder,
            containerd: None,
            latticed: None,
        };
        let log = dir.join("holder.log");
        wait_for(
            &format!("node mount namespace (see {})", log.display()),
            10,
            || dir.join("ready").exists(),
        );
        node
    }

    /// A path as the node's processes see it.
    pub fn path(&self, p: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root{p}", self.holder.id()))
    }

    /// `cmd` inside the node (its mount and network namespaces).
    pub fn command(&self, cmd: &[String]) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.holder.id().to_string(), "-m", "-n", "--"])
            .args(cmd)
            .stdin(Stdio::null());
        c
    }

    /// Runs `cmd` inside the node and returns its output (printed for the test log).
    pub fn run(&self, cmd: &[&str], env: &[(String, String)]) -> Output {
        let cmd: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
        let out = self
            .command(&cmd)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        eprintln!(
            "[{}] $ {} -> {}\n{}{}",
            self.name,
            cmd.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// containerd's socket (on the shared filesystem).
    pub fn socket(&self) -> PathBuf {
        self.dir.join("containerd.sock")
    }

    /// Starts containerd with the CRI plugin's defaults for CNI (`/etc/cni/net.d`,
    /// `/opt/cni/bin`) and imports the pause image; returns a CRI connection.
    pub fn start_containerd(&mut self, pause_tar: &Path) -> Cri {
        let d = self.dir.display();
        let config = format!(
            r#"version = 2
root = "{d}/containerd-root"
state = "/run/containerd"
[grpc]
  address = "{d}/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE}"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/opt/cni/bin"
    conf_dir = "/etc/cni/net.d"
"#
        );
        std::fs::write(self.dir.join("containerd.toml"), config).unwrap();
        let cmd = vec![
            "containerd".to_string(),
            "--config".into(),
            format!("{d}/containerd.toml"),
        ];
        let log = std::fs::File::create(self.dir.join("containerd.log")).unwrap();
        self.containerd = Some(
            self.command(&cmd)
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
        let mut cri = None;
        wait_for("containerd's CRI", 30, || {
            cri = Cri::connect(&self.socket()).ok();
            cri.is_some()
        });
        let out = Command::new("ctr")
            .arg("-a")
            .arg(self.socket())
            .args(["-n", "k8s.io", "image", "import"])
            .arg(pause_tar)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ctr image import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        cri.unwrap()
    }

    /// The DaemonSet's init container on this node.
    pub fn install(&self, m: &Manifests, env: &[(String, String)]) -> String {
        for (file, text) in &m.config_files {
            let at = self.path(&m.config_dir.join(file).display().to_string());
            std::fs::create_dir_all(at.parent().unwrap()).unwrap();
            std::fs::write(at, text).unwrap();
        }
        let cmd: Vec<&str> = m.install.iter().map(String::as_str).collect();
        let out = self.run(&cmd, env);
        assert!(out.status.success(), "the DaemonSet's install step failed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// latticed as the DaemonSet runs it; waits for its API.
    pub fn start_latticed(&mut self, m: &Manifests) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("latticed.log"))
            .unwrap();
        self.latticed = Some(
            self.command(&m.latticed)
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
        wait_for("latticed's API", 20, || {
            matches!(self.api(&Request::Status), Some(Reply::Status(_)))
        });
    }

    /// SIGKILL latticed (it leaves its routes and veths, as a crash does).
    pub fn kill_latticed(&mut self) {
        if let Some(mut c) = self.latticed.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// One call to latticed's API socket (`/run/lattice/lattice.sock` inside the node).
    pub fn api(&self, req: &Request) -> Option<Reply> {
        let socket = self.path("/run/lattice/lattice.sock");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(api::client::call(&socket, req)).ok()
    }

    pub fn attachments(&self) -> Vec<Attachment> {
        match self.api(&Request::List) {
            Some(Reply::List { attachments }) => attachments,
            other => panic!("list on {}: {other:?}", self.name),
        }
    }

    /// latticed's log so far.
    pub fn latticed_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("latticed.log")).unwrap_or_default()
    }

    /// Processes of this node's pods (by cgroup) and containerd's shims for its socket.
    fn leftovers(&self) -> Vec<i32> {
        let sock = self.socket().display().to_string();
        let mut pids = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cgroup.contains(&self.cgroup_parent)
                || (cmd.contains("containerd-shim") && cmd.contains(&sock))
            {
                pids.push(pid);
            }
        }
        pids
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Ok(mut cri) = Cri::connect(&self.socket()) {
            for id in cri.pods().unwrap_or_default() {
                let _ = cri.stop_pod(&id);
                let _ = cri.remove_pod(&id);
            }
        }
        for child in [self.latticed.take(), self.containerd.take()]
            .into_iter()
            .flatten()
        {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
        for _ in 0..20 {
            let pids = self.leftovers();
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        // runc leaves the pods' parent cgroups (cgroupfs driver): remove ours, deepest first.
        if let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") {
            for h in hierarchies.flatten() {
                let top = h.path().join(self.cgroup_parent.trim_start_matches('/'));
                remove_cgroup(&top);
            }
        }
    }
}

fn remove_cgroup(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup(&e.path());
            }
        }
        let _ = std::fs::remove_dir(dir);
    }
}
