//! Guards for the processes a test starts: stopped when dropped, also when the test panics.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::cmd;

/// How long a process gets to stop on SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A child process (a daemon in the foreground, often through `ip netns exec`, which execs it,
/// so the pid is the daemon's). Dropping it kills it; [`Daemon::stop`] stops it gracefully.
#[derive(Debug)]
pub struct Daemon {
    name: String,
    child: Option<Child>,
    log: Option<PathBuf>,
}

impl Daemon {
    /// Spawns `command` with stdin from /dev/null and stdout and stderr appended to `log` (or
    /// discarded); `name` is for messages.
    pub fn spawn(name: &str, mut command: Command, log: Option<&Path>) -> Daemon {
        command.stdin(Stdio::null());
        match log {
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                command.stdout(file.try_clone().unwrap()).stderr(file);
            }
            None => {
                command.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Daemon {
            name: name.to_string(),
            child: Some(child),
            log: log.map(Path::to_path_buf),
        }
    }

    /// `args` run inside namespace `ns`, logging to `log`.
    pub fn in_netns(ns: &str, args: &[&str], log: &Path) -> Daemon {
        let (program, rest) = args.split_first().expect("a command");
        let mut c = crate::netns::command(ns, program);
        c.args(rest);
        Daemon::spawn(program, c, Some(log))
    }

    /// The process id (None once stopped).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Its exit status if it has exited (a daemon that died at start).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Takes its stdout, if it was piped (see [`Daemon::spawn_piped`]).
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.as_mut().and_then(|c| c.stdout.take())
    }

    /// Takes its stdin, if it was piped.
    pub fn take_stdin(&mut self) -> Option<std::process::ChildStdin> {
        self.child.as_mut().and_then(|c| c.stdin.take())
    }

    /// Spawns `command` as it is set up (pipes included); stopped on drop like any daemon.
    pub fn spawn_piped(name: &str, mut command: Command) -> Daemon {
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Daemon {
            name: name.to_string(),
            child: Some(child),
            log: None,
        }
    }

    /// What it logged so far (its log file's last 300 lines).
    pub fn log_tail(&self) -> String {
        self.log
            .as_deref()
            .map(|p| cmd::tail(p, 300))
            .unwrap_or_default()
    }

    /// SIGTERM, and wait up to 10 s before SIGKILL: the graceful stop.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            }
            let gone = crate::eventually(STOP_GRACE, || matches!(child.try_wait(), Ok(Some(_))));
            if !gone {
                eprintln!("{} ignored SIGTERM for {STOP_GRACE:?}: killed", self.name);
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }

    /// SIGKILL and wait: a crash, no goodbye on the wire.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if std::thread::panicking() && self.child.is_some() {
            let tail = self.log_tail();
            if !tail.is_empty() {
                eprintln!("---- {} (last 300 lines) ----\n{tail}\n----", self.name);
            }
        }
        self.kill();
    }
}

/// A daemon that forks into the background (FRR with `-d`), known by its pid file; SIGKILLed by
/// that pid when dropped.
#[derive(Debug)]
pub struct PidFile(pub PathBuf);

impl PidFile {
    /// The pid written in the file, once there is one.
    pub fn pid(&self) -> Option<Pid> {
        let text = std::fs::read_to_string(&self.0).ok()?;
        text.trim().parse().ok().map(Pid::from_raw)
    }

    /// Sends `signal` and waits up to 10 s for the process to be gone; true if it went.
    pub fn signal_and_wait(&self, signal: Signal) -> bool {
        let Some(pid) = self.pid() else {
            return true;
        };
        let _ = kill(pid, signal);
        crate::eventually(STOP_GRACE, || !alive(pid))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            let _ = kill(pid, Signal::SIGKILL);
        }
    }
}

/// Whether `pid` is a live process (a zombie counts as gone).
pub fn alive(pid: Pid) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}
