//! Root-only: the lattice kind's plumbing (config rewrite, start, API wait, container attach,
//! inspect, wait/pingmatrix failure reports, destroy) against a fake latticed that never peers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{can_run, Lab};

#[test]
fn lattice_nodes_start_attach_report_and_clean_up() {
    if !can_run(&[]) {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::set_var("LATTICED_BIN", root.join("tests/fake-latticed.py"));
    let examples = root.join("examples");
    let name = format!("lf{}", std::process::id());
    let lab = Lab::new(
        &examples.join("two-racks.clab.yml"),
        &examples.join("two-racks"),
        "two-racks",
        &name,
    );

    lab.ok("deploy", &[]);
    assert_eq!(lab.namespaces().len(), 7 + 8);
    let cfg = std::fs::read_to_string(lab.lab_dir().join("host2/latticed.yaml")).unwrap();
    assert!(
        cfg.contains(&format!("{}/host2/lattice.sock", lab.lab_dir().display())),
        "{cfg}"
    );
    assert!(
        cfg.contains(&format!("{}/host2/state", lab.lab_dir().display())),
        "{cfg}"
    );
    assert!(cfg.contains("10.244.2.0/24"), "the rest is kept: {cfg}");

    let table = lab.ok("inspect", &[]);
    let row = table.lines().find(|l| l.starts_with("host3-c2 ")).unwrap();
    assert!(
        row.contains("container") && row.contains(&format!("{name}-host3-c2")),
        "{row}"
    );
    let host = table.lines().find(|l| l.starts_with("host3 ")).unwrap();
    assert!(
        host.contains("running") && host.contains("eth1=10.0.3.2/30"),
        "{host}"
    );
    let state = std::fs::read_to_string(lab.lab_dir().join("state.json")).unwrap();
    assert!(
        state.contains("\"10.244.3.3\""),
        "addresses recorded: {state}"
    );
    lab.ok("exec", &["host3-c2", "--", "ip", "link", "show", "lo"]);
    let env = lab.ok("exec", &["host1", "--", "sh", "-c", "echo $LATTICE_SOCKET"]);
    assert_eq!(
        env.trim(),
        format!("{}/host1/lattice.sock", lab.lab_dir().display())
    );

    let waited = lab.run("wait", &["--timeout", "2"]);
    assert!(!waited.status.success(), "the fake never peers");
    let err = String::from_utf8_lossy(&waited.stderr);
    assert!(
        err.contains("host1 -> 10.0.1.1: Active"),
        "names the sessions that are down: {err}"
    );
    assert!(
        !err.contains("spine -> 10.0.0.1"),
        "spine-tor sessions come up: {err}"
    );

    let matrix = lab.run("pingmatrix", &["--timeout", "1"]);
    assert!(
        !matrix.status.success(),
        "nothing is wired, so nothing answers"
    );
    let out = String::from_utf8_lossy(&matrix.stdout);
    assert!(out.contains("FAIL") && out.contains("host4-c2"), "{out}");

    lab.destroy_and_check();
}
