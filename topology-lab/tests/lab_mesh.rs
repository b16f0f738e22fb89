//! Root-only end-to-end: a cluster without top-of-rack switches. `lattice-lab generate` writes
//! twelve latticed hosts on one L2 segment (a bridge in a namespace) with an etcd node and one
//! spare host; no host names a peer. The hosts find each other in etcd and form an iBGP full
//! mesh; then two of them are restarted as route reflectors and the other ten drop to two
//! sessions each; a client killed with SIGKILL has its block withdrawn everywhere once its
//! lease expires; the spare host, started later, is meshed without any other host's config
//! changing. Every container pings every other one, in the full mesh and with reflectors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use api::proto::{PeerSource, PeerState, Reply, Request};
use common::containers::{api, built, ip};
use common::restart::Restarted;
use common::{eventually, Lab, BIN};

const HOSTS: u32 = 12;
/// The etcd lease (`ipam.block_grace_period`): a dead host is forgotten after it.
const LEASE: u32 = 6;
const LIMIT: Duration = Duration::from_secs(60);

/// `lattice-lab generate` into a tempdir: HOSTS hosts, one container each, one spare.
fn generated(name: &str) -> Lab {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new(BIN)
        .args(["generate", "--name", name, "--hosts", &HOSTS.to_string()])
        .args([
            "--spare",
            "1",
            "--containers",
            "1",
            "--lease",
            &LEASE.to_string(),
        ])
        .args(["--hold-time", "9", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let topo = dir.path().join(format!("{name}.clab.yml"));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        topo.display().to_string()
    );
    let state_root = dir.path().join("state");
    Lab {
        dir,
        topo,
        name: name.to_string(),
        state_root,
    }
}

/// The peers `host`'s latticed reports.
fn peers(lab: &Lab, host: &str) -> Vec<api::proto::PeerStatus> {
    match api(lab, host, &Request::Peers { peer: None }) {
        Reply::Peers { peers } => peers,
        other => panic!("peers of {host}: {other:?}"),
    }
}

/// Whether `host` has exactly the discovered peers `want` (host names), all Established.
fn meshed_with(lab: &Lab, host: &str, want: &[String]) -> bool {
    let got: Vec<(String, PeerState)> = peers(lab, host)
        .into_iter()
        .map(|p| match p.config.source {
            PeerSource::Discovered { host } => (host, p.state),
            PeerSource::Configured => ("configured".into(), p.state),
        })
        .collect();
    got.len() == want.len()
        && got
            .iter()
            .all(|(h, s)| want.contains(h) && *s == PeerState::Established)
}

fn hosts(range: impl Iterator<Item = u32>) -> Vec<String> {
    range.map(|i| format!("host{i}")).collect()
}

/// Every host of `live` has every other's block (from the lab state) as a `proto bgp` route.
fn blocks_everywhere(lab: &Lab, live: &[String], blocks: &BTreeMap<String, String>) -> bool {
    live.iter().all(|h| {
        let routes = ip(
            &format!("{}-{h}", lab.name),
            &["route", "show", "proto", "bgp"],
        );
        live.iter()
            .filter(|o| *o != h)
            .all(|o| routes.contains(&blocks[o]))
    })
}

/// Each started host's block, from its status.
fn blocks_of(lab: &Lab, live: &[String]) -> BTreeMap<String, String> {
    live.iter()
        .map(|h| match api(lab, h, &Request::Status) {
            Reply::Status(s) => (h.clone(), s.blocks[0].to_string()),
            other => panic!("status of {h}: {other:?}"),
        })
        .collect()
}

fn pingmatrix(lab: &Lab) {
    let out = lab.ok("pingmatrix", &["--timeout", "60"]);
    assert!(out.contains("full reachability"), "{out}");
}

/// The configs of the lab's hosts as the lab wrote them.
fn configs(lab: &Lab) -> BTreeMap<String, String> {
    (1..=HOSTS)
        .map(|i| {
            let p = lab.lab_dir().join(format!("host{i}/latticed.yaml"));
            (
                format!("host{i}"),
                std::fs::read_to_string(p).unwrap_or_default(),
            )
        })
        .collect()
}

/// latticed started by hand on the spare host (its config was generated with the rest).
struct Spare(Child);

impl Spare {
    fn start(lab: &Lab, i: u32) -> Spare {
        let config = lab.dir.path().join(&lab.name).join(format!("host{i}.yaml"));
        let node = lab.dir.path().join(&lab.name).join(format!("host{i}"));
        std::fs::create_dir_all(node.join("state")).unwrap();
        let log = std::fs::File::create(node.join("latticed.log")).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &format!("{}-host{i}", lab.name)])
            .arg(built("latticed"))
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Spare(child)
    }
}

impl Drop for Spare {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn reflector_config(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    doc["bgp"]["route_reflector"] = serde_yaml_ng::from_str("{enabled: true}").unwrap();
    std::fs::write(path, serde_yaml_ng::to_string(&doc).unwrap()).unwrap();
}

#[test]
fn a_cluster_without_tor_meshes_through_etcd_then_uses_two_reflectors() {
    let latticed = built("latticed");
    if !common::can_run(&[&latticed.display().to_string(), "/usr/bin/etcd"]) {
        return;
    }
    std::env::set_var("LATTICED_BIN", &latticed);
    let lab = generated(&format!("mesh{}", std::process::id()));
    lab.ok("deploy", &[]);
    let all = hosts(1..=HOSTS);

    // 1. A full mesh: every host discovered the eleven others; every container reaches every
    //    other.
    for h in &all {
        let others: Vec<String> = all.iter().filter(|o| *o != h).cloned().collect();
        assert!(
            eventually(LIMIT, || meshed_with(&lab, h, &others)),
            "{h}: {:?}",
            peers(&lab, h)
        );
    }
    lab.ok("wait", &["--timeout", "60"]);
    pingmatrix(&lab);
    let blocks = blocks_of(&lab, &all);
    let before = configs(&lab);

    // 2. Two reflectors: host1 and host2 restarted with `route_reflector: {enabled: true}`.
    //    The ten others drop to a session with each reflector, nothing else.
    let mut restarted = Vec::new();
    for h in ["host1", "host2"] {
        reflector_config(&lab.lab_dir().join(h).join("latticed.yaml"));
        restarted.push(Restarted::host(&lab, h));
    }
    let reflectors = hosts(1..=2);
    for h in &all[2..] {
        assert!(
            eventually(LIMIT, || meshed_with(&lab, h, &reflectors)),
            "{h}: {:?}",
            peers(&lab, h)
        );
    }
    for h in &reflectors {
        let others: Vec<String> = all.iter().filter(|o| *o != h).cloned().collect();
        assert!(eventually(LIMIT, || meshed_with(&lab, h, &others)));
    }
    assert!(
        eventually(LIMIT, || blocks_everywhere(&lab, &all, &blocks)),
        "not every block everywhere"
    );
    pingmatrix(&lab);
    // A client learns another client's block from both reflectors, next hop the owner.
    let routes = match api(&lab, "host3", &Request::Routes) {
        Reply::Routes { routes, .. } => routes,
        other => panic!("{other:?}"),
    };
    let of4 = routes
        .iter()
        .find(|r| r.prefix.to_string() == blocks["host4"])
        .unwrap();
    assert_eq!(of4.paths.len(), 2, "{of4:?}");
    for p in &of4.paths {
        assert_eq!(p.next_hop.to_string(), "10.99.0.4");
        assert_eq!(
            p.originator_id.map(|o| o.to_string()).as_deref(),
            Some("10.99.0.4")
        );
        assert_eq!(p.cluster_list.len(), 1);
    }

    // 3. A client killed outright: its block goes from every host once its lease expires.
    let ns12 = format!("{}-host12", lab.name);
    let pids = String::from_utf8(
        Command::new("ip")
            .args(["netns", "pids", &ns12])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    for pid in pids.split_whitespace() {
        let _ = Command::new("kill").args(["-9", pid]).status();
    }
    let killed = Instant::now();
    let live = hosts(1..=11);
    let gone = eventually(LIMIT, || {
        live.iter()
            .all(|h| !ip(&format!("{}-{h}", lab.name), &["route"]).contains(&blocks["host12"]))
    });
    assert!(gone, "host12's block {} still routed", blocks["host12"]);
    eprintln!(
        "host12's block withdrawn everywhere {:.1} s after SIGKILL (lease {LEASE} s)",
        killed.elapsed().as_secs_f64()
    );
    for h in &reflectors {
        let others: Vec<String> = live.iter().filter(|o| *o != h).cloned().collect();
        assert!(eventually(LIMIT, || meshed_with(&lab, h, &others)), "{h}");
    }

    // 4. The spare host starts: the reflectors take it as a client, its block reaches every
    //    host and every block reaches it; no other host's config changed.
    let _spare = Spare::start(&lab, HOSTS + 1);
    let spare = format!("host{}", HOSTS + 1);
    let spare_ns = format!("{}-{spare}", lab.name);
    let all_blocks = || {
        let routes = ip(&spare_ns, &["route", "show", "proto", "bgp"]);
        live.iter().all(|h| routes.contains(&blocks[h]))
    };
    assert!(
        eventually(LIMIT, all_blocks),
        "{}",
        ip(&spare_ns, &["route"])
    );
    let spare_block = ip(
        &spare_ns,
        &["route", "show", "proto", "252", "type", "blackhole"],
    );
    let spare_block = spare_block.split_whitespace().nth(1).unwrap().to_string();
    assert!(eventually(LIMIT, || live.iter().all(|h| {
        ip(
            &format!("{}-{h}", lab.name),
            &["route", "show", "proto", "bgp"],
        )
        .contains(&spare_block)
    })));
    assert_eq!(configs(&lab).len(), before.len());
    for (h, text) in configs(&lab) {
        if !reflectors.contains(&h) {
            assert_eq!(text, before[&h], "{h}'s config changed");
        }
    }

    drop(restarted);
    drop(_spare);
    lab.destroy_and_check();
}
