//! Root-only: dockerd on a dual-stack lab host with latticed's driver. `docker network create
//! --ipv6 -d lattice --ipam-driver lattice` gets the IPv6 pool from the host's IPv6 block, a
//! container gets an address of each family, reaches a lab container in the other rack over
//! IPv6 through FRR, and `docker rm` leaves no veth, no /32 or /128 route and no reservation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::containers::{self, attachments, ip};
use common::dockerd::{docker_lab, Dockerd};
use common::eventually;

#[test]
fn dockerd_runs_a_dual_stack_container_on_the_lattice_driver() {
    let Some((lab, ddir, _socket)) = docker_lab("dual-stack", "dd") else {
        return;
    };
    let name = lab.name.clone();
    lab.ok("deploy", &[]);
    lab.ok("wait", &["--timeout", "90"]);

    let ns1 = format!("{name}-host1");
    let links_before = ip(&ns1, &["-o", "link"]);
    let routes_before = ip(&ns1, &["-6", "route", "show", "proto", "252"]);
    let dockerd = Dockerd::start(ddir, &ns1);
    let tar = containers::busybox_tar(dockerd.dir.path());
    dockerd.ok(&["import", tar.to_str().unwrap(), "bb:latest"]);
    dockerd.ok(&[
        "network",
        "create",
        "--ipv6",
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
        "d6",
        "--network",
        "latnet",
        "bb:latest",
        "sleep",
        "600",
    ]);
    let inspect = |field: &str| {
        dockerd.ok(&[
            "inspect",
            "d6",
            "--format",
            &format!("{{{{.NetworkSettings.Networks.latnet.{field}}}}}"),
        ])
    };
    let (v4, v6) = (inspect("IPAddress"), inspect("GlobalIPv6Address"));
    assert!(v4.starts_with("10.244.1."), "{v4}");
    assert!(
        v6.starts_with("fd00:10:244:1:"),
        "{v6} is not from host1's IPv6 block"
    );
    let att: Vec<_> = attachments(&lab, "host1")
        .into_iter()
        .filter(|a| a.container_id.starts_with("docker:"))
        .collect();
    assert_eq!(att.len(), 1, "{att:?}");
    assert_eq!(att[0].address.to_string(), v4);
    assert_eq!(att[0].address_v6.map(|a| a.to_string()), Some(v6.clone()));
    let routes = ip(&ns1, &["-6", "route", "show", "proto", "252"]);
    assert!(
        routes.contains(&format!("{v6} dev {}", att[0].host_ifname)),
        "{routes}"
    );

    // host2-c1, in the other rack, over IPv6, and back.
    let target = attachments(&lab, "host2")
        .into_iter()
        .find(|a| a.container_id == "host2-c1")
        .and_then(|a| a.address_v6)
        .unwrap()
        .to_string();
    let reached = eventually(Duration::from_secs(20), || {
        dockerd
            .docker(&["exec", "d6", "ping", "-6", "-c", "1", "-W", "2", &target])
            .status
            .success()
    });
    assert!(reached, "d6 cannot reach {target}");
    let back = Command::new("ip")
        .args([
            "netns",
            "exec",
            &format!("{name}-host2-c1"),
            "ping",
            "-c",
            "2",
            "-W",
            "2",
            &v6,
        ])
        .status()
        .unwrap();
    assert!(
        back.success(),
        "host2-c1 cannot reach the docker container {v6}"
    );

    dockerd.ok(&["rm", "-f", "d6"]);
    dockerd.ok(&["network", "rm", "latnet"]);
    assert!(
        attachments(&lab, "host1")
            .iter()
            .all(|a| !a.container_id.starts_with("docker:")),
        "docker rm released both addresses"
    );
    assert_eq!(
        ip(&ns1, &["-o", "link"]),
        links_before,
        "links left in host1"
    );
    assert_eq!(
        ip(&ns1, &["-6", "route", "show", "proto", "252"]),
        routes_before,
        "IPv6 routes left in host1"
    );
    let mut dockerd = dockerd;
    dockerd.stop();
    assert!(dockerd.leftovers().is_empty(), "dockerd left processes");
    drop(dockerd);
    lab.destroy_and_check();
}
