//! Processes of a lab: liveness, and stopping them (SIGTERM, then SIGKILL).

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// How long daemons get to exit after SIGTERM.
const TERM_GRACE: Duration = Duration::from_secs(3);

fn pid(p: u32) -> Option<Pid> {
    i32::try_from(p).ok().filter(|p| *p > 0).map(Pid::from_raw)
}

/// The process exists and is not a zombie.
pub fn alive(p: u32) -> bool {
    let Some(id) = pid(p) else { return false };
    if kill(id, None).is_err() {
        return false;
    }
    // A zombie still answers kill(0); its state letter in /proc/PID/stat is Z.
    match std::fs::read_to_string(format!("/proc/{p}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
            .unwrap_or(true),
        Err(_) => false,
    }
}

/// Whether the process's command line mentions `needle` (e.g. the lab directory).
pub fn cmdline_contains(p: u32, needle: &str) -> bool {
    std::fs::read(format!("/proc/{p}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .replace('\0', " ")
                .contains(needle)
        })
        .unwrap_or(false)
}

/// Whether the process lives in the named network namespace.
pub fn in_netns(p: u32, ns: &str) -> bool {
    let mine = std::fs::metadata(format!("/proc/{p}/ns/net"));
    let theirs = std::fs::metadata(Path::new("/run/netns").join(ns));
    match (mine, theirs) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}

/// Every lab daemon (latticed or one of FRR's) whose command line mentions `needle`.
pub fn find_daemons(needle: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            let comm = std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
            let comm = comm.trim();
            let ours = comm == "latticed" || crate::kinds::frr::daemons::DAEMONS.contains(&comm);
            ours && cmdline_contains(*p, needle)
        })
        .collect()
}

/// SIGTERM, wait up to [`TERM_GRACE`], then SIGKILL what is left. Returns pids still alive.
pub fn stop(pids: &[u32]) -> Vec<u32> {
    let me = std::process::id();
    let targets: Vec<u32> = pids
        .iter()
        .copied()
        .filter(|p| *p != me && alive(*p))
        .collect();
    for p in &targets {
        if let Some(id) = pid(*p) {
            let _ = kill(id, Signal::SIGTERM);
        }
    }
    if wait_gone(&targets, TERM_GRACE) {
        return Vec::new();
    }
    for p in targets.iter().filter(|p| alive(**p)) {
        if let Some(id) = pid(*p) {
            let _ = kill(id, Signal::SIGKILL);
        }
    }
    wait_gone(&targets, Duration::from_secs(2));
    targets.into_iter().filter(|p| alive(*p)).collect()
}

fn wait_gone(pids: &[u32], limit: Duration) -> bool {
    let start = Instant::now();
    loop {
        if pids.iter().all(|p| !alive(*p)) {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
        sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness_of_self_and_nonsense() {
        assert!(alive(std::process::id()));
        assert!(!alive(0));
        assert!(!alive(u32::MAX));
    }

    #[test]
    fn stop_kills_a_child() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let id = child.id();
        assert!(alive(id));
        // The child becomes a zombie (we are its parent): alive() must say no.
        assert!(stop(&[id]).is_empty());
        assert!(!child.try_wait().unwrap().unwrap().success());
    }
}
