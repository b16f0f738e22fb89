//! Root-only: latticed starts while its uplink has no address, keeps retrying, and brings the
//! session up as soon as the address appears (hosts get addresses from `exec` lines, which may
//! run before or after the agent starts).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{can_run, eventually, Lab, BIN};

#[test]
fn latticed_peers_once_its_uplink_gets_an_address() {
    let latticed = Path::new(BIN).with_file_name("latticed");
    if !can_run(&[&latticed.display().to_string()]) {
        return;
    }
    std::env::set_var("LATTICED_BIN", &latticed);
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let name = format!("lu{}", std::process::id());
    let lab = Lab::new(
        &here.join("late-uplink.clab.yml"),
        &here.join("late-uplink"),
        "late-uplink",
        &name,
    );
    lab.ok("deploy", &[]);

    // No address on eth1 yet: the agent runs, its container is attached, the session is down.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let status = lab.run("exec", &["host", "--", "lattice", "status", "--json"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("\"state\"") && !text.contains("Established"),
        "{text}"
    );
    assert_eq!(
        status.status.code(),
        Some(1),
        "status reports the peer down"
    );

    lab.ok(
        "exec",
        &[
            "host",
            "--",
            "ip",
            "addr",
            "add",
            "10.0.1.2/30",
            "dev",
            "eth1",
        ],
    );
    let waited = lab.ok("wait", &["--timeout", "60"]);
    assert!(waited.contains("established"), "{waited}");

    let tor_has_block = || {
        let out = Command::new("ip")
            .args([
                "-n",
                &format!("{name}-tor"),
                "route",
                "show",
                "proto",
                "bgp",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("10.244.1.0/24")
    };
    assert!(
        eventually(Duration::from_secs(20), tor_has_block),
        "the ToR never learned the host block"
    );
    lab.destroy_and_check();
}
