//! Root-only: deploy/wait/exec/inspect/destroy of an FRR + linux fabric (no latticed needed).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::{can_run, eventually, Lab};

fn lab(suffix: &str) -> Option<Lab> {
    if !can_run(&[]) {
        return None;
    }
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let name = format!("fo{}{suffix}", std::process::id());
    Some(Lab::new(
        &here.join("frr-only.clab.yml"),
        &here.join("frr-only"),
        "frr-only",
        &name,
    ))
}

#[test]
fn frr_fabric_deploys_converges_and_leaves_nothing_behind() {
    let Some(lab) = lab("a") else { return };
    let out = lab.ok("deploy", &[]);
    assert!(
        out.contains("note: node spine: image"),
        "image note printed: {out}"
    );
    assert!(
        out.contains("/etc/hosts ignored"),
        "bind note printed: {out}"
    );
    assert_eq!(lab.namespaces().len(), 5);

    let again = lab.run("deploy", &[]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("destroy` first"));

    let table = lab.ok("inspect", &[]);
    assert!(table.starts_with("NODE"), "{table}");
    let spine = table.lines().find(|l| l.starts_with("spine ")).unwrap();
    assert!(
        spine.contains("running") && spine.contains("eth1=10.0.0.0/31"),
        "{spine}"
    );
    let rows: serde_json::Value = serde_json::from_str(&lab.ok("inspect", &["--json"])).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 5);
    assert!(
        rows.iter()
            .all(|r| r["state"] == "running" || r["state"] == "up"),
        "{rows:?}"
    );

    let waited = lab.ok("wait", &["--timeout", "60"]);
    assert!(
        waited.contains("all 4 BGP sessions established"),
        "{waited}"
    );

    // vtysh gets --vty_socket inserted; tor2's config came in through an /etc/frr bind.
    let summary = lab.ok(
        "exec",
        &["tor2", "--", "vtysh", "-c", "show bgp summary json"],
    );
    assert!(
        summary.contains("\"as\":65002") || summary.contains("\"as\": 65002"),
        "{summary}"
    );
    // linux1 reaches linux2 through tor1 -> spine -> tor2 once the /30s are advertised.
    assert!(
        eventually(Duration::from_secs(40), || lab
            .run("exec", &["linux1", "--", "ping", "-c1", "-W1", "10.0.2.2"])
            .status
            .success()),
        "linux1 never reached linux2"
    );
    let code = lab
        .run("exec", &["linux1", "--", "sh", "-c", "exit 7"])
        .status
        .code();
    assert_eq!(code, Some(7), "exec passes the exit code through");
    assert!(!lab.run("exec", &["nope", "--", "true"]).status.success());

    lab.destroy_and_check();
    lab.ok("destroy", &[]);
    assert!(
        !lab.run("inspect", &[]).status.success(),
        "inspect after destroy fails"
    );
}

#[test]
fn failed_deploy_cleans_up_after_itself() {
    let Some(lab) = lab("b") else { return };
    // Make linux2's last exec line fail: everything already created must be removed again.
    let text = std::fs::read_to_string(&lab.topo).unwrap();
    let text = text.replace("ip route add default via 10.0.2.1", "false");
    std::fs::write(&lab.topo, text).unwrap();
    let out = lab.run("deploy", &[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`ip netns exec"),
        "names the command"
    );
    assert_eq!(lab.namespaces(), Vec::<String>::new());
    assert_eq!(lab.processes(), Vec::<String>::new());
    assert!(!lab.lab_dir().exists());
}

#[test]
fn invalid_topology_creates_nothing() {
    let Some(lab) = lab("c") else { return };
    let text = std::fs::read_to_string(&lab.topo).unwrap();
    std::fs::write(
        &lab.topo,
        text.replace(
            "\"tor2:eth2\", \"linux2:eth1\"",
            "\"tor2:eth2\", \"linux3:eth1\"",
        ),
    )
    .unwrap();
    let out = lab.run("deploy", &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("topology.links[3].endpoints[1]") && err.contains("unknown node `linux3`"),
        "{err}"
    );
    assert_eq!(lab.namespaces(), Vec::<String>::new());
    assert!(!lab.lab_dir().exists());
}

#[test]
fn destroy_after_a_crash_uses_the_topology_alone() {
    let Some(lab) = lab("d") else { return };
    lab.ok("deploy", &[]);
    // Simulate a crash that lost the state directory: destroy must still find everything.
    std::fs::remove_file(lab.lab_dir().join("state.json")).unwrap();
    lab.destroy_and_check();
}
