//! Root-only: the kit's namespace guard removes its namespaces and every process in them when
//! dropped, also while a panicking test unwinds, and code run "in" a namespace really is there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use testkit::netns::{in_netns, Netns};
use testkit::process::Daemon;

fn exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

#[test]
fn namespaces_and_their_processes_go_on_drop_and_on_panic() {
    if !testkit::require_root() {
        return;
    }
    let (a, b) = (Netns::new("tk-a"), Netns::new("tk-b"));
    assert_ne!(a.name(), b.name());
    a.veth("v0", &b, "v1");
    a.addr("v0", "10.211.0.1/30");
    b.addr("v1", "10.211.0.2/30");
    a.up("v0");
    b.up("v1");
    assert!(testkit::cmd::ping(&a, "10.211.0.2"));
    // A process left running in the namespace goes with it.
    let dir = tempfile::tempdir().unwrap();
    let sleeper = Daemon::in_netns(&a, &["sleep", "600"], &dir.path().join("sleep.log"));
    let raw = sleeper.pid().unwrap() as i32;
    let pid = nix::unistd::Pid::from_raw(raw);
    std::mem::forget(sleeper);
    // `ip netns exec` enters the namespace, then execs: wait until it is in.
    assert!(testkit::eventually(Duration::from_secs(10), || {
        a.pids().contains(&raw)
    }));
    let name = a.name().to_string();
    drop(a);
    assert!(!exists(&name));
    assert!(testkit::eventually(Duration::from_secs(5), || {
        !testkit::process::alive(pid)
    }));

    // A test that panics with namespaces alive: the guard still removes them.
    let name = b.name().to_string();
    let unwound = std::panic::catch_unwind(move || {
        let _b = b;
        let _c = Netns::new("tk-c");
        panic!("the test failed");
    });
    assert!(unwound.is_err());
    assert!(!exists(&name));
}

#[test]
fn code_runs_inside_the_namespace() {
    if !testkit::require_root() {
        return;
    }
    let ns = Netns::new("tk-in");
    ns.ip(&["addr", "add", "10.212.0.1/32", "dev", "lo"]);
    // Binding that address only works where it is configured.
    let bound = in_netns(&ns, || async {
        tokio::net::TcpListener::bind("10.212.0.1:0").await.is_ok()
    });
    assert!(bound);
    assert!(std::net::TcpListener::bind("10.212.0.1:0").is_err());
}
