//! Root, real FRR: bad input to a containerlab lab (the frr-bgp example, one file spoiled per
//! test). A line FRR's parser rejects stops the deploy before anything exists; a line a daemon
//! refuses stops it before any host starts; a daemon dying at start is reported with its log;
//! an unknown key is an error said once. Every failure leaves nothing behind, and `destroy`
//! still succeeds afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod clab_kit;
mod common;

use clab_kit::{edit, file, nothing_left};

/// Deploy must fail; its stdout and stderr.
fn failed_deploy(lab: &common::Lab) -> (String, String) {
    let out = lab.run("deploy", &[]);
    assert!(!out.status.success(), "deploy should have failed");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// After a failed deploy nothing is left, and destroy still works.
fn clean_after(lab: &common::Lab) {
    nothing_left(lab);
    lab.destroy_and_check();
}

#[test]
fn a_line_frr_cannot_parse_stops_the_deploy_before_anything_exists() {
    let lab = clab_kit::example("frr-bgp", "bs");
    let line = edit(
        &lab,
        "leaf1/frr.conf",
        "  redistribute connected\n",
        "  redistribute connectd\n",
    );
    let (stdout, stderr) = failed_deploy(&lab);
    let path = file(&lab, "leaf1/frr.conf");
    let want = format!("{}:{line}: % Unknown command", path.display());
    assert!(
        stderr.contains("node leaf1: FRR rejects") && stderr.contains(&want),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("Unknown command").count(),
        1,
        "said once: {stderr}"
    );
    assert!(
        !stdout.contains("namespaces and"),
        "nothing was created: {stdout}"
    );
    clean_after(&lab);
}

#[test]
fn a_line_a_daemon_refuses_fails_the_deploy_before_hosts_start() {
    let lab = clab_kit::example("frr-bgp", "br");
    // Valid syntax, but bgpd wants the neighbour's remote-as first.
    let line = edit(
        &lab,
        "leaf2/frr.conf",
        "router bgp 65102\n",
        "router bgp 65102\n neighbor 10.2.2.9 timers 3 9\n",
    ) + 1;
    let (stdout, stderr) = failed_deploy(&lab);
    let path = file(&lab, "leaf2/frr.conf");
    assert!(stderr.contains("node leaf2: FRR rejected"), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:{line}: ", path.display())),
        "names file and line {line}: {stderr}"
    );
    assert!(
        stderr.contains("Specify remote-as"),
        "FRR's reason: {stderr}"
    );
    assert!(stdout.contains("starting leaf2"), "{stdout}");
    for host in ["h1", "h2"] {
        assert!(
            !stdout.contains(&format!("starting {host}")),
            "{host} started: {stdout}"
        );
    }
    assert!(stderr.contains("destroying what was created"), "{stderr}");
    clean_after(&lab);
}

#[test]
fn a_daemon_dying_at_start_is_reported_with_its_log() {
    let lab = clab_kit::example("frr-bgp", "bd");
    edit(
        &lab,
        "spine/daemons",
        "bgpd_options=\"   -A 127.0.0.1\"",
        "bgpd_options=\"   -A 127.0.0.1 -M nosuchmodule\"",
    );
    let (_, stderr) = failed_deploy(&lab);
    assert!(
        stderr.contains("node spine: bgpd exited at start") && stderr.contains("bgpd.log"),
        "{stderr}"
    );
    assert!(
        stderr.contains("nosuchmodule"),
        "the log's tail says why: {stderr}"
    );
    clean_after(&lab);
}

#[test]
fn an_unknown_key_is_an_error_said_once() {
    let lab = clab_kit::example("frr-bgp", "bk");
    let line = edit(
        &lab,
        "frr-bgp.clab.yml",
        "    h2:\n",
        "    h2:\n      colour: red\n",
    ) + 1;
    let (stdout, stderr) = failed_deploy(&lab);
    assert!(
        stderr.contains(&format!(
            "line {line} column 7: topology.nodes.h2: unknown key `colour`"
        )),
        "{stderr}"
    );
    assert_eq!(stderr.matches("colour").count(), 1, "said once: {stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    nothing_left(&lab);
}

#[test]
fn a_daemons_file_the_lab_cannot_read_names_file_and_line() {
    let lab = clab_kit::example("frr-bgp", "bf");
    let line = edit(
        &lab,
        "leaf1/daemons",
        "bfdd_options=\"   -A 127.0.0.1\"",
        "bfdd_options=\"$BFDD_OPTS\"",
    );
    let (_, stderr) = failed_deploy(&lab);
    let path = file(&lab, "leaf1/daemons");
    assert!(
        stderr.contains(&format!("node leaf1: {}:{line}: ", path.display())),
        "{stderr}"
    );
    clean_after(&lab);
}
