//! Root-only: dockerd in a lab host uses latticed's libnetwork remote network and IPAM driver.
//! `docker network create -d lattice --ipam-driver lattice`, `docker run --network` gets an
//! address from the host's block and reaches a lab container in the other rack through FRR;
//! latticed restarted under the running container keeps its address and endpoint, and
//! `docker rm` and `docker network rm` then leave nothing behind.
//!
//! dockerd finds plugins only in /run/docker/plugins, so it runs in a private mount namespace
//! where a test directory is bind-mounted over /run: nothing is created in the real /run
//! (`common::dockerd`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::containers::{self, assert_unwired, attachments, ip};
use common::dockerd::{docker_lab, raw_http, Dockerd};
use common::restart::Restarted;

#[test]
fn dockerd_runs_containers_on_the_lattice_driver_and_leaves_nothing() {
    let Some((lab, ddir, socket)) = docker_lab("two-racks", "dk") else {
        return;
    };
    let name = lab.name.clone();
    lab.ok("deploy", &[]);
    lab.ok("wait", &["--timeout", "90"]);

    // Malformed and unknown calls over real HTTP: an Err answer, never a dead socket.
    let bad = raw_http(
        &socket,
        "POST /NetworkDriver.CreateEndpoint HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{bad}",
    );
    assert!(
        bad.starts_with("HTTP/1.1 200") && bad.contains("\"Err\""),
        "{bad}"
    );
    let unknown = raw_http(
        &socket,
        "POST /Nope.Nope HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(
        unknown.starts_with("HTTP/1.1 404") && unknown.contains("\"Err\""),
        "{unknown}"
    );

    let ns1 = format!("{name}-host1");
    let links_before = ip(&ns1, &["-o", "link"]);
    let routes_before = ip(&ns1, &["route", "show", "proto", "252"]);
    let mut dockerd = Dockerd::start(ddir, &ns1);
    let tar = containers::busybox_tar(dockerd.dir.path());
    dockerd.ok(&["import", tar.to_str().unwrap(), "bb:latest"]);
    dockerd.ok(&[
        "network",
        "create",
        "-d",
        "lattice",
        "--ipam-driver",
        "lattice",
        "latnet",
    ]);
    dockerd.ok(&[
        "run",
        "-d",
        "--name",
        "d1",
        "--network",
        "latnet",
        "bb:latest",
        "sleep",
        "600",
    ]);
    let addr = dockerd.ok(&[
        "inspect",
        "d1",
        "--format",
        "{{.NetworkSettings.Networks.latnet.IPAddress}}",
    ]);
    assert!(
        addr.starts_with("10.244.1."),
        "{addr} is not from host1's block"
    );
    let docker_atts: Vec<_> = attachments(&lab, "host1")
        .into_iter()
        .filter(|a| a.container_id.starts_with("docker:"))
        .collect();
    assert_eq!(docker_atts.len(), 1, "{docker_atts:?}");
    assert_eq!(docker_atts[0].address.to_string(), addr);
    let host_if = docker_atts[0].host_ifname.clone();
    assert!(
        ip(&ns1, &["-o", "link"]).contains(&host_if),
        "host veth {host_if} is named by the IPAM key"
    );

    // host3-c1, in the other rack, through tor1 - spine1 - tor2 and back.
    let target = attachments(&lab, "host3")
        .into_iter()
        .find(|a| a.container_id == "host3-c1")
        .unwrap()
        .address
        .to_string();
    dockerd.ok(&["exec", "d1", "ping", "-c", "3", "-W", "2", &target]);
    let back = Command::new("ip")
        .args([
            "netns",
            "exec",
            &format!("{name}-host3-c1"),
            "ping",
            "-c",
            "2",
            "-W",
            "2",
            &addr,
        ])
        .status()
        .unwrap();
    assert!(
        back.success(),
        "host3-c1 cannot reach the docker container {addr}"
    );

    // Each libnetwork call so far was timed (the restart below starts the counters afresh).
    assert_timed(&ns1, &["create_endpoint", "join", "request_address"]);

    // latticed restarts under the running container: it keeps the address, the veth and the
    // route, remembers the endpoint (state dir), and `docker rm` still removes everything.
    let endpoints = lab.lab_dir().join("host1/state/docker-endpoints.json");
    let recorded = std::fs::read_to_string(&endpoints).unwrap();
    assert!(
        recorded.contains(&docker_atts[0].container_id),
        "{recorded}"
    );
    let mut restarted = Restarted::host(&lab, "host1");
    let kept: Vec<_> = attachments(&lab, "host1")
        .into_iter()
        .filter(|a| a.container_id.starts_with("docker:"))
        .collect();
    assert_eq!(kept.len(), 1, "the restart released the address: {kept:?}");
    assert_eq!(kept[0].address.to_string(), addr);
    dockerd.ok(&["exec", "d1", "ping", "-c", "2", "-W", "2", &target]);

    dockerd.ok(&["rm", "-f", "d1"]);
    assert!(
        attachments(&lab, "host1")
            .iter()
            .all(|a| !a.container_id.starts_with("docker:")),
        "docker rm released the address"
    );
    assert_unwired(&ns1, &host_if, &addr);
    dockerd.ok(&["network", "rm", "latnet"]);
    // The restarted latticed knew the endpoint: its DeleteEndpoint did the unwiring.
    assert_timed(&ns1, &["leave", "delete_endpoint", "release_address"]);
    let log = restarted.log_text();
    assert!(!log.contains("docker plugin call failed"), "{log}");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&endpoints).unwrap()).unwrap();
    assert_eq!(
        saved["endpoints"],
        serde_json::json!([]),
        "the endpoint is forgotten once deleted: {saved}"
    );
    assert_eq!(
        ip(&ns1, &["-o", "link"]),
        links_before,
        "links left in host1"
    );
    assert_eq!(
        ip(&ns1, &["route", "show", "proto", "252"]),
        routes_before,
        "routes left in host1"
    );
    assert_eq!(
        attachments(&lab, "host1").len(),
        2,
        "only the lab's own containers remain"
    );

    dockerd.stop();
    assert!(dockerd.leftovers().is_empty(), "dockerd left processes");
    drop(dockerd);
    restarted.stop();
    lab.destroy_and_check();
}

/// Each of `ops` was answered `ok` at least once, by host1's /metrics (its namespace's
/// loopback): `lattice_request_duration_seconds{interface="docker"}`.
fn assert_timed(ns: &str, ops: &[&str]) {
    let metrics = common::scrape_metrics(ns);
    for op in ops {
        let series = format!(
            "lattice_request_duration_seconds_count{{interface=\"docker\",operation=\"{op}\",result=\"ok\"}} "
        );
        let n: f64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix(&series))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0);
        assert!(n >= 1.0, "{series} is {n}:\n{metrics}");
    }
}
