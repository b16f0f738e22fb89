//! Root-only: podman (CNI backend) runs busybox containers through `lattice-cni` on two lab
//! hosts in different racks; they ping each other across the FRR fabric, and `podman rm`
//! releases the address and removes the host veth and route. Then lattice-cni is driven
//! directly against the same real latticed for what podman does not exercise: CHECK, GC,
//! STATUS, DEL of something already gone, and a failed ADD that leaves the host unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::containers::{self, assert_unwired, attachments, built, ip};
use common::{can_run, Lab};
use serde_json::{json, Value};
use testkit::netns::Netns;

/// podman with its storage, config and CNI config under one test directory.
struct Podman {
    dir: tempfile::TempDir,
    lab_name: String,
    hosts: Vec<String>,
}

impl Podman {
    fn new(lab: &Lab, hosts: &[&str]) -> Podman {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let bin = d.join("cni-bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(built("lattice-cni"), bin.join("lattice-cni")).unwrap();
        std::fs::write(
            d.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"overlay\"\nrunroot = \"{0}/run\"\ngraphroot = \"{0}/store\"\n",
                d.display()
            ),
        )
        .unwrap();
        for host in hosts {
            let net = d.join(format!("net-{host}"));
            std::fs::create_dir_all(&net).unwrap();
            // Two result formats through a real client: 1.0.0 (no ips[].version) on host1,
            // 0.3.1 (with it) on host3.
            let version = if *host == "host1" { "1.0.0" } else { "0.3.1" };
            let conflist = json!({"cniVersion": version, "name": "lattice", "plugins": [
                {"type": "lattice-cni", "socket": lab.lab_dir().join(host).join("lattice.sock")}]});
            std::fs::write(net.join("10-lattice.conflist"), conflist.to_string()).unwrap();
            std::fs::write(
                d.join(format!("containers-{host}.conf")),
                format!(
                    r#"[containers]
default_ulimits = ["nofile=1024:4096", "nproc=4096:4096"]
[network]
network_backend = "cni"
cni_plugin_dirs = ["{bin}"]
network_config_dir = "{net}"
default_network = "lattice"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "{d}/tmp"
"#,
                    bin = bin.display(),
                    net = net.display(),
                    d = d.display()
                ),
            )
            .unwrap();
        }
        Podman {
            dir,
            lab_name: lab.name.clone(),
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
        }
    }

    /// `nsenter --net=/run/netns/<lab>-<host> podman ARGS`: the host side lands in the lab host.
    fn run(&self, host: &str, args: &[&str]) -> Output {
        let d = self.dir.path();
        let out = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}-{host}", self.lab_name))
            .arg("podman")
            .args(args)
            .env("CONTAINERS_CONF", d.join(format!("containers-{host}.conf")))
            .env("CONTAINERS_STORAGE_CONF", d.join("storage.conf"))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        eprintln!(
            "$ podman {args:?} on {host} -> {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn ok(&self, host: &str, args: &[&str]) -> String {
        let out = self.run(host, args);
        assert!(out.status.success(), "podman {args:?} failed");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        for host in self.hosts.clone() {
            let _ = self.run(&host, &["rm", "-f", "-a", "-t", "0"]);
        }
        if let Some(host) = self.hosts.first().cloned() {
            let _ = self.run(&host, &["rmi", "-a", "-f"]);
        }
        // Overlay mounts podman may leave under the test directory after a failure.
        let root = self.dir.path().display().to_string();
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let mut points: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| m.starts_with(&root))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = Command::new("umount").args(["-l", p]).status();
        }
    }
}

/// Runs lattice-cni as a runtime would, from inside the lab host's namespace.
fn cni(host_ns: &str, env: &[(&str, &str)], stdin: &Value) -> (bool, Value) {
    let mut child = Command::new("ip")
        .args(["netns", "exec", host_ns])
        .arg(built("lattice-cni"))
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
    eprintln!("lattice-cni {env:?} -> {} {text}", out.status);
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (out.status.success(), v)
}

/// Ping `to` from container `from.1` on host `from.0`; on failure, panic with the routes and
/// neighbours of every node on the way, so a one-off failure can be understood afterwards.
fn ping_or_explain(podman: &Podman, lab: &str, from: (&str, &str), to: &str) {
    let (host, c) = from;
    let out = podman.run(host, &["exec", c, "ping", "-c", "3", "-W", "2", to]);
    if out.status.success() {
        return;
    }
    let mut why = format!("{c} on {host} cannot ping {to}\n");
    let inside = podman.run(
        host,
        &["exec", c, "sh", "-c", "ip addr; ip route; ip neigh"],
    );
    why.push_str(&format!(
        "--- {c}:\n{}",
        String::from_utf8_lossy(&inside.stdout)
    ));
    for node in ["host1", "tor1", "spine1", "tor2", "host3"] {
        let ns = format!("{lab}-{node}");
        why.push_str(&format!(
            "--- {node}:\n{}{}",
            ip(&ns, &["route"]),
            ip(&ns, &["neigh"])
        ));
    }
    panic!("{why}");
}

#[test]
fn podman_containers_in_two_racks_ping_and_rm_leaves_nothing() {
    let (latticed, plugin) = (built("latticed"), built("lattice-cni"));
    if !can_run(&[
        "/usr/bin/podman",
        "/usr/sbin/runc",
        "/bin/busybox",
        "/usr/bin/nsenter",
        &latticed.display().to_string(),
        &plugin.display().to_string(),
    ]) {
        return;
    }
    std::env::set_var("LATTICED_BIN", built("latticed"));
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let name = format!("pc{}", std::process::id());
    let lab = Lab::new(
        &examples.join("two-racks.clab.yml"),
        &examples.join("two-racks"),
        "two-racks",
        &name,
    );
    // Containers come from podman here, not from the lab.
    let topo = std::fs::read_to_string(&lab.topo).unwrap();
    std::fs::write(&lab.topo, topo.replace("containers: 2", "containers: 0")).unwrap();
    lab.ok("deploy", &[]);
    lab.ok("wait", &["--timeout", "90"]);

    // host1 is in rack 1 (tor1), host3 in rack 2 (tor2).
    let podman = Podman::new(&lab, &["host1", "host3"]);
    let tar = containers::busybox_tar(podman.dir.path());
    podman.ok("host1", &["import", tar.to_str().unwrap(), "localhost/bb"]);
    let c1 = podman.ok(
        "host1",
        &["run", "-d", "--name", "c1", "localhost/bb", "sleep", "600"],
    );
    let c3 = podman.ok(
        "host3",
        &["run", "-d", "--name", "c3", "localhost/bb", "sleep", "600"],
    );
    let addr = |host: &str, c: &str| {
        podman.ok(
            host,
            &[
                "inspect",
                c,
                "--format",
                "{{.NetworkSettings.Networks.lattice.IPAddress}}",
            ],
        )
    };
    let (a1, a3) = (addr("host1", "c1"), addr("host3", "c3"));
    assert!(
        a1.starts_with("10.244.1."),
        "c1 {a1} is not from host1's block"
    );
    assert!(
        a3.starts_with("10.244.3."),
        "c3 {a3} is not from host3's block"
    );
    let on1 = attachments(&lab, "host1");
    assert_eq!(on1.len(), 1, "{on1:?}");
    assert_eq!(
        on1[0].container_id, c1,
        "latticed keys the attachment by podman's id"
    );
    let host_if = on1[0].host_ifname.clone();
    let on3: Vec<String> = attachments(&lab, "host3")
        .into_iter()
        .map(|a| a.container_id)
        .collect();
    assert_eq!(on3, vec![c3]);

    ping_or_explain(&podman, &name, ("host1", "c1"), &a3);
    ping_or_explain(&podman, &name, ("host3", "c3"), &a1);

    podman.ok("host1", &["rm", "-f", "-t", "0", "c1"]);
    assert!(
        attachments(&lab, "host1").is_empty(),
        "podman rm released the address"
    );
    let ns1 = format!("{name}-host1");
    assert_unwired(&ns1, &host_if, &a1);
    // lattice-cni says which CNI command it serves: host1's /metrics times them as such.
    let metrics = common::scrape_metrics(&ns1);
    for op in ["add", "del"] {
        let series = format!(
            "lattice_request_duration_seconds_count{{interface=\"cni\",operation=\"{op}\",result=\"ok\"}}"
        );
        let n = common::series_value(&metrics, &series);
        assert!(n >= 1.0, "{series} is {n}:\n{metrics}");
    }
    // DEL again, after the container and its namespace are gone: still success, no output.
    let netns_gone = format!("/run/netns/netns-gone-{name}");
    let del_env = [
        ("CNI_COMMAND", "DEL"),
        ("CNI_CONTAINERID", c1.as_str()),
        ("CNI_NETNS", netns_gone.as_str()),
        ("CNI_IFNAME", "eth0"),
        ("CNI_PATH", "/usr/lib/cni"),
    ];
    let sock1 = lab.lab_dir().join("host1").join("lattice.sock");
    let net =
        json!({"cniVersion": "1.1.0", "name": "lattice", "type": "lattice-cni", "socket": sock1});
    assert_eq!(cni(&ns1, &del_env, &net), (true, Value::Null));

    direct_cni_commands(&lab, &name, &net);

    podman.ok("host3", &["rm", "-f", "-t", "0", "c3"]);
    assert!(attachments(&lab, "host3").is_empty());
    drop(podman);
    lab.destroy_and_check();
}

/// CHECK, GC, STATUS and a failed ADD against host1's real latticed.
fn direct_cni_commands(lab: &Lab, name: &str, net: &Value) {
    let ns1 = format!("{name}-host1");
    let (ca, cb) = (
        Netns::named(format!("{name}-ca")),
        Netns::named(format!("{name}-cb")),
    );
    let pa = ca.path().display().to_string();
    let pb = cb.path().display().to_string();
    let env = |cmd: &'static str, id: &'static str, netns: &str| -> Vec<(&'static str, String)> {
        vec![
            ("CNI_COMMAND", cmd.to_string()),
            ("CNI_CONTAINERID", id.to_string()),
            ("CNI_NETNS", netns.to_string()),
            ("CNI_IFNAME", "eth0".to_string()),
        ]
    };
    let call = |e: Vec<(&'static str, String)>, stdin: &Value| {
        let e: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
        cni(&ns1, &e, stdin)
    };

    let (ok, added) = call(env("ADD", "direct-a", &pa), net);
    assert!(ok, "{added}");
    let (ok, _) = call(env("ADD", "direct-b", &pb), net);
    assert!(ok);
    let mut with_prev = net.clone();
    with_prev["prevResult"] = added.clone();
    assert_eq!(
        call(env("CHECK", "direct-a", &pa), &with_prev),
        (true, Value::Null)
    );
    // CHECK notices a container interface that lost its address. (Not a deleted interface:
    // the reconciler rewires a container whose veth went, from the netlink event, and may win
    // the race with the CHECK.)
    let a_cidr = added["ips"][0]["address"].as_str().unwrap().to_string();
    ip(ca.name(), &["addr", "del", &a_cidr, "dev", "eth0"]);
    let (ok, v) = call(env("CHECK", "direct-a", &pa), &with_prev);
    assert!(!ok && v["code"] == 103, "{v}");

    // GC keeps only direct-b.
    let mut gc = net.clone();
    gc["cni.dev/valid-attachments"] = json!([{"containerID": "direct-b", "ifname": "eth0"}]);
    assert_eq!(
        call(vec![("CNI_COMMAND", "GC".into())], &gc),
        (true, Value::Null)
    );
    let left: Vec<String> = attachments(lab, "host1")
        .into_iter()
        .map(|a| a.container_id)
        .collect();
    assert_eq!(left, vec!["direct-b".to_string()]);
    let a_addr = added["ips"][0]["address"]
        .as_str()
        .unwrap()
        .trim_end_matches("/32")
        .to_string();
    assert_unwired(
        &ns1,
        added["interfaces"][0]["name"].as_str().unwrap(),
        &a_addr,
    );

    // STATUS: ready against latticed, 50 against a socket nobody serves.
    assert_eq!(
        call(vec![("CNI_COMMAND", "STATUS".into())], net),
        (true, Value::Null)
    );
    let mut dead = net.clone();
    dead["socket"] = json!(format!("/run/lattice-nobody-{name}.sock"));
    let (ok, v) = call(vec![("CNI_COMMAND", "STATUS".into())], &dead);
    assert!(!ok && v["code"] == 50, "{v}");

    // A failed ADD (eth0 already exists in the container) leaves the host as it was.
    ip(
        ca.name(),
        &[
            "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p",
        ],
    );
    let before = (
        ip(&ns1, &["-o", "link"]),
        ip(&ns1, &["route", "show", "proto", "252"]),
        attachments(lab, "host1"),
    );
    let (ok, v) = call(env("ADD", "direct-c", &pa), net);
    assert!(!ok && v["code"] == 101, "{v}");
    let after = (
        ip(&ns1, &["-o", "link"]),
        ip(&ns1, &["route", "show", "proto", "252"]),
        attachments(lab, "host1"),
    );
    assert_eq!(before.0, after.0, "links changed by a failed ADD");
    assert_eq!(before.1, after.1, "routes changed by a failed ADD");
    assert_eq!(before.2, after.2, "attachments changed by a failed ADD");

    let (ok, _) = call(env("DEL", "direct-b", &pb), net);
    assert!(ok);
    assert!(attachments(lab, "host1").is_empty());
}
