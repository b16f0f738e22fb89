//! Root-only: two Kubernetes-style nodes in different racks of an FRR fabric, each with Debian's
//! containerd (CRI plugin) and latticed, set up by the shipped DaemonSet's own steps
//! (deploy/kubernetes: the init container's install-cni.sh with the DaemonSet's environment, the
//! ConfigMap's conflist, latticed's command line, the preStop uninstall). A CRI client does what
//! a kubelet does: RunPodSandbox on both nodes, the pods ping each other across the fabric,
//! StopPodSandbox/RemovePodSandbox release everything, also when latticed was down at the first
//! StopPodSandbox; a sandbox whose DEL never reached latticed is reclaimed after
//! `ipam.leak_grace_period`; then bad input through the real plugin against real namespaces
//! (issue 19 items 7-9, issue 20's bad input), and the uninstall.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;
mod cri;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{eventually, Lab};
use cri::client::{Cri, Pod};
use cri::install::Manifests;
use cri::node::{built, Node};
use serde_json::{json, Value};

/// What this site changes in the DaemonSet's environment (an operator edits the same values):
/// the nodes' subnet for `fan`, a cluster range holding a /24 per address of it, the uplink,
/// and a grace period short enough to wait for.
const SITE: [(&str, &str); 4] = [
    ("LATTICE_FAN_UNDERLAY", "10.0.0.0/20"),
    ("LATTICE_CLUSTER_CIDR", "10.240.0.0/12"),
    ("LATTICE_UPLINKS", "eth1"),
    ("LATTICE_LEAK_GRACE_PERIOD", "3"),
];

/// Why this test cannot run here; under `make test` that is a failure, not a skip.
fn cannot_run() -> Option<String> {
    if !common::can_run(&[]) {
        return Some("root and FRR are needed (see above)".into());
    }
    for tool in [
        "/usr/bin/containerd",
        "/usr/bin/ctr",
        "/usr/sbin/runc",
        "/usr/bin/containerd-shim-runc-v2",
        "/usr/lib/cni/loopback",
        "/bin/busybox",
        "/usr/bin/nsenter",
        "/usr/bin/unshare",
        "/bin/ping",
    ] {
        if !Path::new(tool).exists() {
            return Some(format!("{tool} is missing (make deps-test installs it)"));
        }
    }
    ["latticed", "lattice", "lattice-cni"]
        .iter()
        .find(|b| !built(b).is_file())
        .map(|b| format!("{} is missing: run `make build`", built(b).display()))
}

/// Runs the node's installed lattice-cni as a runtime would; (success, stdout JSON).
fn cni(node: &Node, env: &[(&str, &str)], stdin: &Value) -> (bool, Value) {
    let cmd = vec!["/opt/cni/bin/lattice-cni".to_string()];
    let mut child = node
        .command(&cmd)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    eprintln!(
        "[{}] lattice-cni {env:?} -> {} {text}",
        node.name, out.status
    );
    let v = serde_json::from_str(&text).unwrap_or(Value::Null);
    (out.status.success(), v)
}

/// `ip -n NS ARGS`.
fn ip(ns: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .arg("-n")
        .arg(ns)
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Ping from inside a pod's network namespace.
fn ping(from: &Pod, to: &str) -> bool {
    Command::new("nsenter")
        .arg(format!("--net=/proc/{}/ns/net", from.pid))
        .args(["ping", "-c", "2", "-W", "2", to])
        .status()
        .is_ok_and(|s| s.success())
}

/// Nothing of `pod` is left on `node`: no attachment, no host veth, no route to its address.
fn assert_released(node: &Node, pod: &Pod, host_if: &str) {
    let held: Vec<String> = node
        .attachments()
        .into_iter()
        .map(|a| a.container_id)
        .collect();
    assert!(
        !held.contains(&pod.id),
        "{} still holds {}: {held:?}",
        node.name,
        pod.id
    );
    let links = ip(&node.netns, &["-o", "link"]);
    assert!(
        !links.contains(host_if),
        "{host_if} left on {}:\n{links}",
        node.name
    );
    let routes = ip(&node.netns, &["route"]);
    assert!(
        !routes
            .lines()
            .any(|l| l.starts_with(&format!("{} ", pod.ip))),
        "route to {} left on {}:\n{routes}",
        pod.ip,
        node.name
    );
}

fn host_if(node: &Node, pod: &Pod) -> String {
    let a = node.attachments();
    let a = a.iter().find(|a| a.container_id == pod.id);
    let a = a.unwrap_or_else(|| panic!("{} has no attachment for {}", node.name, pod.id));
    assert_eq!(a.address.to_string(), pod.ip, "CRI's pod IP is latticed's");
    a.host_ifname.clone()
}

fn run_pod(cri: &mut Cri, node: &Node, name: &str) -> Pod {
    let id = cri
        .run_pod(name, &node.cgroup_parent, &node.dir.join("logs"))
        .unwrap_or_else(|e| {
            panic!(
                "RunPodSandbox {name} on {}: {e}\n{}",
                node.name,
                node.latticed_log()
            )
        });
    cri.pod(&id).unwrap()
}

#[test]
fn containerd_pods_on_two_nodes_ping_across_racks_and_leave_nothing() {
    if let Some(why) = cannot_run() {
        panic!("containerd CRI test cannot run: {why}");
    }
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let name = format!("cc{}", std::process::id());
    let lab = Lab::new(
        &here.join("containerd-cri.clab.yml"),
        &here.join("containerd-cri"),
        "containerd-cri",
        &name,
    );
    lab.ok("deploy", &[]);
    let m: Manifests = cri::install::load();
    let work = tempfile::tempdir().unwrap();
    let pause = cri::image::pause_image(work.path());

    let mut nodes = Vec::new();
    let mut cris = Vec::new();
    for (n, addr) in [("node1", "10.0.1.2"), ("node2", "10.0.2.2")] {
        let mut node = Node::new(n, &format!("{name}-{n}"), &work.path().join(n));
        let mut cri = node.start_containerd(&pause);
        eprintln!("{n}: {}", cri.version().unwrap());
        let (ready, why) = cri.network_ready().unwrap();
        assert!(!ready, "NetworkReady before any CNI config: {why}");
        if n == "node2" {
            // node2 has a loopback plugin of its own: install keeps it, uninstall leaves it.
            std::fs::create_dir_all(node.path("/opt/cni/bin")).unwrap();
            std::fs::copy("/usr/lib/cni/loopback", node.path("/opt/cni/bin/loopback")).unwrap();
        }
        let env = m.node_env(n, addr, &SITE);
        let out = node.install(&m, &env);
        assert!(out.contains("installed /opt/cni/bin/lattice-cni"), "{out}");
        assert!(
            out.contains("installed /etc/cni/net.d/10-lattice.conflist"),
            "{out}"
        );
        if n == "node1" {
            assert!(out.contains("installed /opt/cni/bin/loopback"), "{out}");
            // Idempotent: a second run changes nothing.
            let again = node.install(&m, &env);
            assert_eq!(again.matches("unchanged").count(), 3, "{again}");
            assert!(!again.contains("installed"), "{again}");
        } else {
            assert!(
                out.contains("kept the node's own /opt/cni/bin/loopback"),
                "{out}"
            );
        }
        node.start_latticed(&m);
        assert!(
            eventually(Duration::from_secs(40), || cri
                .network_ready()
                .is_ok_and(|(r, _)| r)),
            "{n}: containerd never reported NetworkReady after the conflist was installed"
        );
        nodes.push(node);
        cris.push(cri);
    }
    let (n2, mut n1) = (nodes.pop().unwrap(), nodes.pop().unwrap());
    let (mut cri2, mut cri1) = (cris.pop().unwrap(), cris.pop().unwrap());
    // Each node's block follows from its address (fan), and each learns the other's over BGP.
    for (node, other) in [(&n1, "10.242.2.0/24"), (&n2, "10.241.2.0/24")] {
        assert!(
            eventually(Duration::from_secs(120), || ip(&node.netns, &["route"])
                .contains(other)),
            "{} never learned {other}:\n{}\n{}",
            node.name,
            ip(&node.netns, &["route"]),
            node.latticed_log()
        );
    }
    let p1 = run_pod(&mut cri1, &n1, "web-1");
    let p2 = run_pod(&mut cri2, &n2, "web-2");
    assert!(p1.ip.starts_with("10.241.2."), "{p1:?}");
    assert!(p2.ip.starts_with("10.242.2."), "{p2:?}");
    let (if1, if2) = (host_if(&n1, &p1), host_if(&n2, &p2));
    assert!(
        ping(&p1, &p2.ip),
        "{} cannot reach {} across the fabric",
        p1.ip,
        p2.ip
    );
    assert!(
        ping(&p2, &p1.ip),
        "{} cannot reach {} across the fabric",
        p2.ip,
        p1.ip
    );

    // A kubelet's teardown.
    cri2.stop_pod(&p2.id).unwrap();
    cri2.remove_pod(&p2.id).unwrap();
    assert_released(&n2, &p2, &if2);

    // latticed down at StopPodSandbox: the DEL fails with "try again", the kubelet's retry
    // after latticed is back releases everything.
    n1.kill_latticed();
    let err = cri1
        .stop_pod(&p1.id)
        .expect_err("DEL without latticed cannot succeed");
    assert!(err.contains("latticed is not answering"), "{err}");
    n1.start_latticed(&m);
    cri1.stop_pod(&p1.id).unwrap();
    cri1.remove_pod(&p1.id).unwrap();
    assert_released(&n1, &p1, &if1);

    leaked_sandbox_is_reclaimed(&n1, &mut cri1, &m);
    bad_input_is_refused(&n1, &mut cri1);
    uninstall(&n1, &mut cri1, &m, false);
    uninstall(&n2, &mut cri2, &m, true);
    drop((cri1, cri2));
    drop((n1, n2));
    lab.destroy_and_check();
}

/// A sandbox whose DEL never reached latticed (the plugin on the node was replaced by one that
/// does nothing, as when another CNI is installed over a running one): containerd removes the
/// namespace, latticed keeps the address until `ipam.leak_grace_period` (3 s here) has passed.
fn leaked_sandbox_is_reclaimed(n1: &Node, cri1: &mut Cri, m: &Manifests) {
    let p3 = run_pod(cri1, n1, "leaky");
    let if3 = host_if(n1, &p3);
    let plugin = n1.path("/opt/cni/bin/lattice-cni");
    let stand_in = n1.path("/opt/cni/bin/lattice-cni.stand-in");
    std::fs::write(&stand_in, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(
        &stand_in,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::rename(&stand_in, &plugin).unwrap();
    cri1.stop_pod(&p3.id).unwrap();
    cri1.remove_pod(&p3.id).unwrap();
    assert!(
        n1.attachments().iter().any(|a| a.container_id == p3.id),
        "latticed got no DEL, so it must still hold {}",
        p3.id
    );
    assert!(
        eventually(Duration::from_secs(40), || !n1
            .attachments()
            .iter()
            .any(|a| a.container_id == p3.id)),
        "the leaked attachment of {} was never released:\n{}",
        p3.id,
        n1.latticed_log()
    );
    assert_released(n1, &p3, &if3);
    let log = n1.latticed_log();
    assert_eq!(
        log.matches("released a leaked attachment").count(),
        1,
        "logged once:\n{log}"
    );
    let metrics = common::scrape_metrics(&n1.netns);
    let series = "lattice_ipam_leaked_attachments_released_total";
    assert_eq!(common::series_value(&metrics, series), 1.0, "{metrics}");
    // The DaemonSet's install step repairs the node: the changed plugin is replaced.
    let env = m.node_env(&n1.name, "10.0.1.2", &SITE);
    let out = n1.install(m, &env);
    assert!(out.contains("installed /opt/cni/bin/lattice-cni"), "{out}");
}

/// Bad input through the node's real plugin and latticed, against real namespaces.
fn bad_input_is_refused(n1: &Node, cri1: &mut Cri) {
    let net = json!({"cniVersion": "1.0.0", "name": "lattice", "type": "lattice-cni",
        "socket": "/run/lattice/lattice.sock"});
    let before = (
        ip(&n1.netns, &["-o", "link"]),
        ip(&n1.netns, &["route"]),
        n1.attachments(),
    );
    // The node's own namespace, a file that is no namespace, a namespace of another kind.
    for netns in ["/proc/self/ns/net", "/etc/hostname", "/proc/self/ns/uts"] {
        let env = [
            ("CNI_COMMAND", "ADD"),
            ("CNI_CONTAINERID", "badnetns"),
            ("CNI_NETNS", netns),
            ("CNI_IFNAME", "eth0"),
        ];
        let (ok, v) = cni(n1, &env, &net);
        assert!(!ok && v["code"] == 4, "ADD into {netns}: {v}");
    }
    let after = (
        ip(&n1.netns, &["-o", "link"]),
        ip(&n1.netns, &["route"]),
        n1.attachments(),
    );
    assert_eq!(before, after, "a refused ADD changed the node");
    assert!(
        !after.0.contains(" eth0:"),
        "an eth0 appeared in the node's own namespace"
    );

    // Two runtimes, one container id: the second cannot take the first one's address.
    let p4 = run_pod(cri1, n1, "owner");
    let mut other = n1
        .command(&[
            "unshare".into(),
            "--net".into(),
            "sleep".into(),
            "60".into(),
        ])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let other_ns = format!("/proc/{}/ns/net", other.id());
    let env = [
        ("CNI_COMMAND", "ADD"),
        ("CNI_CONTAINERID", p4.id.as_str()),
        ("CNI_NETNS", other_ns.as_str()),
        ("CNI_IFNAME", "eth0"),
    ];
    let (ok, v) = cni(n1, &env, &net);
    let _ = other.kill();
    let _ = other.wait();
    assert!(
        !ok && v["code"] == 4,
        "second runtime's ADD of {}: {v}",
        p4.id
    );
    // The first runtime's pod keeps its address and its namespace.
    host_if(n1, &p4);
    assert!(ping(&p4, &p4.ip), "{} lost its address", p4.id);

    // GC without the runtime's list releases nothing (and says why); forbidden ids are refused.
    for gc in [json!({}), json!({"cni.dev/valid-attachments": null})] {
        let mut conf = net.clone();
        conf["cniVersion"] = json!("1.1.0");
        for (k, v) in gc.as_object().unwrap() {
            conf[k] = v.clone();
        }
        let (ok, v) = cni(n1, &[("CNI_COMMAND", "GC")], &conf);
        assert!(!ok && v["code"] == 7, "{conf}: {v}");
    }
    assert!(
        n1.attachments().iter().any(|a| a.container_id == p4.id),
        "GC released {}",
        p4.id
    );
    for id in [".", "..", "-rf", "_x"] {
        let del = [
            ("CNI_COMMAND", "DEL"),
            ("CNI_CONTAINERID", id),
            ("CNI_IFNAME", "eth0"),
        ];
        let (ok, v) = cni(n1, &del, &net);
        assert!(!ok && v["code"] == 4, "DEL {id:?}: {v}");
    }
    // A conflist version the plugin cannot answer in names the ones it can.
    let mut future = net.clone();
    future["cniVersion"] = json!("2.0.0");
    let env = [
        ("CNI_COMMAND", "ADD"),
        ("CNI_CONTAINERID", "future"),
        ("CNI_NETNS", "/proc/self/ns/net"),
        ("CNI_IFNAME", "eth0"),
    ];
    let (ok, v) = cni(n1, &env, &future);
    assert!(
        !ok && v["code"] == 1 && v["msg"].as_str().unwrap().contains("1.0.0"),
        "{v}"
    );

    let if4 = host_if(n1, &p4);
    cri1.stop_pod(&p4.id).unwrap();
    cri1.remove_pod(&p4.id).unwrap();
    assert_released(n1, &p4, &if4);
}

/// The DaemonSet's preStop: the conflist and what install put on the node go (containerd then
/// reports the network not ready); a loopback the node had before stays.
fn uninstall(node: &Node, cri: &mut Cri, m: &Manifests, own_loopback: bool) {
    let cmd: Vec<&str> = m.pre_stop.iter().map(String::as_str).collect();
    let env = m.node_env(&node.name, "0.0.0.0", &SITE);
    let out = node.run(&cmd, &env);
    assert!(out.status.success(), "uninstall on {}", node.name);
    assert!(!node.path("/etc/cni/net.d/10-lattice.conflist").exists());
    assert!(!node.path("/opt/cni/bin/lattice-cni").exists());
    assert_eq!(
        node.path("/opt/cni/bin/loopback").exists(),
        own_loopback,
        "{}",
        node.name
    );
    assert!(
        eventually(Duration::from_secs(40), || cri
            .network_ready()
            .is_ok_and(|(r, _)| !r)),
        "{}: containerd still reports NetworkReady without the conflist",
        node.name
    );
}
