//! Network namespaces a test creates: uniquely named, deleted on drop with every process left in
//! them (also while a panicking test unwinds), and code run inside them.
//!
//! Names are `TAG-PID-N`: the pid keeps concurrent test runs (other worktrees, other engineers)
//! apart, N the namespaces of one process. Nothing here touches the root namespace: veths are
//! created inside a namespace and their peer moved straight to the other.

use std::fs::File;
use std::future::Future;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::cmd;

static SEQUENCE: AtomicUsize = AtomicUsize::new(0);

/// Namespaces alive in this process, for [`remove_all_on_signal`].
static LIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// A network namespace this process created; deleted on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates namespace `TAG-PID-N` with its loopback up.
    pub fn new(tag: &str) -> Netns {
        let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        Netns::named(format!("{tag}-{}-{n}", std::process::id()))
    }

    /// Creates namespace `name` (the caller makes it unique) with its loopback up. A namespace
    /// of that name left by an earlier process with our pid is removed first.
    pub fn named(name: impl Into<String>) -> Netns {
        let name = name.into();
        remove(&name);
        cmd::run(&["ip", "netns", "add", &name]);
        LIVE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(name.clone());
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/run/netns/NAME`.
    pub fn path(&self) -> PathBuf {
        path(&self.name)
    }

    /// `ip -n NAME ARGS...`, which must succeed; its stdout.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["ip", "-n", &self.name];
        all.extend_from_slice(args);
        cmd::run(&all)
    }

    /// `ip netns exec NAME ARGS...`; its output whatever the status.
    pub fn exec(&self, args: &[&str]) -> Output {
        exec(&self.name, args)
    }

    /// `ip netns exec NAME ARGS...`, which must succeed; its stdout.
    pub fn run(&self, args: &[&str]) -> String {
        let mut all = vec!["ip", "netns", "exec", &self.name];
        all.extend_from_slice(args);
        cmd::run(&all)
    }

    /// A command that runs `program` inside the namespace (`ip netns exec` execs it, so the
    /// child's pid is the program's).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        command(&self.name, program)
    }

    /// A veth pair: `ifname` here, `peer_ifname` in `peer`.
    pub fn veth(&self, ifname: &str, peer: &Netns, peer_ifname: &str) {
        self.ip(&[
            "link",
            "add",
            ifname,
            "type",
            "veth",
            "peer",
            "name",
            peer_ifname,
            "netns",
            &peer.name,
        ]);
    }

    /// `ip addr add CIDR dev DEV` (IPv6 without duplicate address detection).
    pub fn addr(&self, dev: &str, cidr: &str) {
        if cidr.contains(':') {
            self.ip(&["addr", "add", cidr, "dev", dev, "nodad"]);
        } else {
            self.ip(&["addr", "add", cidr, "dev", dev]);
        }
    }

    /// `ip link set DEV up`.
    pub fn up(&self, dev: &str) {
        self.ip(&["link", "set", dev, "up"]);
    }

    /// Pids of the processes in the namespace.
    pub fn pids(&self) -> Vec<i32> {
        pids(&self.name)
    }

    /// SIGKILL every process in the namespace (never this test process itself).
    pub fn kill_all(&self) {
        kill_all(&self.name);
    }

    /// Runs `f` on a thread inside the namespace with a runtime of its own; see [`in_netns`].
    pub fn block_on<F, Fut, T>(&self, f: F) -> T
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T>,
        T: Send + 'static,
    {
        in_netns(&self.name, f)
    }
}

impl std::ops::Deref for Netns {
    type Target = str;
    fn deref(&self) -> &str {
        &self.name
    }
}

impl std::fmt::Display for Netns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        remove(&self.name);
        LIVE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|n| *n != self.name);
    }
}

/// `/run/netns/NAME`.
pub fn path(name: &str) -> PathBuf {
    PathBuf::from(format!("/run/netns/{name}"))
}

/// `ip netns exec NAME ARGS...`; its output whatever the status.
pub fn exec(name: &str, args: &[&str]) -> Output {
    let mut all = vec!["ip", "netns", "exec", name];
    all.extend_from_slice(args);
    cmd::output(&all)
}

/// A command that runs `program` inside namespace `name`.
pub fn command(name: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", name]).arg(program);
    c
}

/// Pids of the processes in namespace `name` (none if it does not exist).
pub fn pids(name: &str) -> Vec<i32> {
    let Ok(out) = Command::new("ip").args(["netns", "pids", name]).output() else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// SIGKILL every process in namespace `name` but this one.
pub fn kill_all(name: &str) {
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    for pid in pids(name).into_iter().filter(|p| *p != me) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Kills what runs in namespace `name` and deletes it (nothing if it does not exist).
fn remove(name: &str) {
    if !path(name).exists() {
        return;
    }
    kill_all(name);
    let _ = Command::new("ip")
        .args(["netns", "del", name])
        .stderr(Stdio::null())
        .status();
}

/// Removes namespaces `TAG-PID-N` whose process PID is gone (a run killed with SIGKILL, which no
/// drop guard survives). Live processes' namespaces are never touched.
pub fn remove_stale(tag: &str) {
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix(tag)
            .and_then(|r| r.strip_prefix('-'))
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| !std::path::Path::new(&format!("/proc/{p}")).exists()) {
            remove(&name);
        }
    }
}

/// On SIGINT, SIGTERM or SIGHUP (Ctrl-C, a CI timeout) remove every namespace this process
/// still holds, with its processes, and exit 130: drop guards do not run when a signal ends the
/// process. For benchmarks and other long runs; call once.
pub fn remove_all_on_signal() {
    std::thread::spawn(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            use tokio::signal::unix::{signal, SignalKind};
            let mut term = signal(SignalKind::terminate()).unwrap();
            let mut hup = signal(SignalKind::hangup()).unwrap();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
        });
        // Held until exit: no namespace can be created or dropped meanwhile.
        let live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        for name in live.iter() {
            remove(name);
        }
        eprintln!("interrupted: namespaces {live:?} removed");
        std::process::exit(130);
    });
}

/// Moves the calling thread into namespace `name`. Threads it spawns afterwards start there too;
/// sockets belong to the namespace of the thread that creates them.
pub fn enter(name: &str) {
    let file = File::open(path(name)).unwrap_or_else(|e| panic!("namespace {name}: {e}"));
    nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET)
        .unwrap_or_else(|e| panic!("setns {name}: {e}"));
}

/// Runs `f` on a new thread inside namespace `name`; a panic in `f` is the caller's.
pub fn on_thread_in<T, F>(name: &str, f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let name = name.to_string();
    match std::thread::spawn(move || {
        enter(&name);
        f()
    })
    .join()
    {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Runs `f` inside namespace `name` on a thread of its own with a multi-threaded tokio runtime
/// (two workers, spawned after entering the namespace, so they are in it too); a panic in `f`
/// is the caller's.
pub fn in_netns<F, Fut, T>(name: &str, f: F) -> T
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    on_thread_in(name, move || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(f())
    })
}
