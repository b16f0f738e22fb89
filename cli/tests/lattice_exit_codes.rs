//! The `lattice` binary's exit codes and output against a canned API server on a real unix
//! socket (no root): 0 healthy, 1 unhealthy or a failed request, 2 latticed unreachable; the
//! same code with `--json`. The live counterpart is `topology-lab/tests/lab_observability.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use agent::api::server::{bind, serve, Handler};
use api::proto::{
    Allocation, Announcement, ApiError, BlockUsage, IpamStatus, NodeStatus, PeerState, PeerStatus,
    Reply, Request, RouteStatus,
};
use futures::future::BoxFuture;
use futures::FutureExt;

/// Answers like latticed would, healthy or not depending on `healthy`.
struct Canned {
    healthy: Arc<AtomicBool>,
}

impl Canned {
    fn peer(&self) -> PeerStatus {
        let mut p = PeerStatus::new("10.0.1.1".parse().unwrap(), 65001);
        if self.healthy.load(Ordering::SeqCst) {
            p.state = PeerState::Established;
            p.uptime_secs = Some(5);
        } else {
            p.state = PeerState::Active;
            p.last_error = Some("hold timer expired".into());
        }
        p
    }
}

impl Handler for Canned {
    fn handle(&self, req: Request) -> BoxFuture<'_, Reply> {
        async move {
            let ok = self.healthy.load(Ordering::SeqCst);
            let block: ipnet::Ipv4Net = "10.244.1.0/24".parse().unwrap();
            match req {
                Request::Status => Reply::Status(NodeStatus {
                    node: "host1".into(),
                    asn: 65101,
                    router_id: "10.0.1.2".parse().unwrap(),
                    blocks: vec![block],
                    blocks_v6: vec![],
                    conflicts: vec![],
                    attachments: 1,
                    peers: vec![self.peer()],
                    learned_routes: 1,
                    block_usage: vec![],
                    routes_not_installed: 0,
                }),
                Request::Peers { peer: Some(p) } if *p != self.peer().address.to_string() => {
                    Reply::Error(ApiError {
                        kind: "not_found".into(),
                        message: format!("{p} is not a configured BGP peer"),
                    })
                }
                Request::Peers { .. } => Reply::Peers {
                    peers: vec![self.peer()],
                },
                Request::Routes => Reply::Routes {
                    routes: vec![RouteStatus {
                        prefix: "10.244.2.0/24".parse().unwrap(),
                        paths: vec![],
                        in_kernel: ok,
                        kernel_next_hops: vec![],
                        kernel_next_hop_interfaces: vec![],
                        not_installed_because: None,
                        problem: None,
                    }],
                    announced: vec![],
                },
                Request::Ipam => Reply::Ipam(IpamStatus {
                    blocks: vec![BlockUsage {
                        block: block.into(),
                        in_use: if ok { 1 } else { 256 },
                        capacity: 256,
                    }],
                    allocations: vec![Allocation {
                        address: "10.244.1.0".parse().unwrap(),
                        address_v6: None,
                        container_id: "c1".into(),
                        ifname: "eth0".into(),
                    }],
                }),
                // A reload or an announcement succeeds while healthy, is refused when not.
                Request::Reload if ok => Reply::Reloaded {
                    changes: vec!["peer 10.0.1.4: added".into()],
                },
                Request::Announce { prefixes, .. } if ok => Reply::Announced {
                    announcements: prefixes
                        .into_iter()
                        .map(|prefix| Announcement {
                            prefix,
                            communities: vec![],
                            peers: vec!["10.0.1.1".into()],
                            not_exported: vec![],
                        })
                        .collect(),
                },
                Request::Withdraw { prefixes } if ok => Reply::Withdrawn { prefixes },
                Request::Reload | Request::Announce { .. } | Request::Withdraw { .. } => {
                    Reply::Error(ApiError {
                        kind: "restart_required".into(),
                        message: "node.asn: restart required".into(),
                    })
                }
                _ => Reply::List {
                    attachments: vec![],
                },
            }
        }
        .boxed()
    }
}

fn lattice(socket: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lattice"))
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn exit_codes_follow_health_with_and_without_json() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("lattice.sock");
    let healthy = Arc::new(AtomicBool::new(true));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt.block_on(async { bind(&socket) }).unwrap();
    let handler = Arc::new(Canned {
        healthy: healthy.clone(),
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(serve(listener, handler, async {
        let _ = stopped.await;
    }));

    for command in [
        &["status"][..],
        &["peers"],
        &["routes"],
        &["ipam"],
        &["list"],
        &["reload"],
        &[
            "announce",
            "192.0.2.10/32",
            "--communities",
            "65000:1,65000:1:2",
        ],
        &["withdraw", "192.0.2.10/32"],
    ] {
        for json in [false, true] {
            let mut args = command.to_vec();
            if json {
                args.push("--json");
            }
            let (code, out, err) = lattice(&socket, &args);
            assert_eq!(code, 0, "{args:?} healthy: {out}{err}");
            if json {
                serde_json::from_str::<serde_json::Value>(&out)
                    .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}"));
            }
        }
    }
    let (_, out, _) = lattice(&socket, &["status"]);
    assert!(
        out.contains("Health:      ok (1/1 peers established)"),
        "{out}"
    );

    let (_, out, _) = lattice(&socket, &["reload"]);
    assert_eq!(out, "peer 10.0.1.4: added\n");
    // A prefix that does not parse is the CLI's own usage error.
    let (code, _, _) = lattice(&socket, &["announce", "not-a-prefix"]);
    assert_eq!(code, 2);

    healthy.store(false, Ordering::SeqCst);
    for command in [
        &["status"][..],
        &["peers"],
        &["routes"],
        &["ipam"],
        &["reload"],
        &["announce", "192.0.2.10/32"],
    ] {
        for json in [false, true] {
            let mut args = command.to_vec();
            if json {
                args.push("--json");
            }
            let (code, out, err) = lattice(&socket, &args);
            assert_eq!(code, 1, "{args:?} unhealthy: {out}{err}");
        }
    }
    let (_, out, _) = lattice(&socket, &["status"]);
    assert!(out.contains("DEGRADED (0/1 peers established)"), "{out}");
    assert!(out.contains("hold timer expired"), "{out}");
    let (code, _, err) = lattice(&socket, &["peers", "10.9.9.9"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("not a configured BGP peer (not_found)"),
        "{err}"
    );

    stop.send(()).unwrap();
    rt.block_on(server).unwrap();

    // Nobody answers any more: exit 2 and say so, with or without --json.
    for args in [&["status"][..], &["status", "--json"], &["routes"]] {
        let (code, out, err) = lattice(&socket, args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains("latticed is not running"), "{err}");
        assert!(out.is_empty(), "{out}");
    }
    let (code, _, err) = lattice(&dir.path().join("missing.sock"), &["ipam"]);
    assert_eq!(code, 2);
    assert!(err.contains("no socket at"), "{err}");
}
