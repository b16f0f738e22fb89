//! The well-behaved peer (10.98.0.3): established before the attack, announcing its prefix and
//! sending KEEPALIVEs all along; its session and route must survive everything, which latticed's
//! kernel routes and `lattice status` must show.

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use bgp::wire::Message;
use testkit::bgp::{as_path, concat, keepalive, next_hop, origin_igp, prefix, update};
use tokio::io::AsyncWriteExt;
use tokio::time::{sleep, Instant};

use crate::client::{Conn, Event, Task};
use crate::{GOOD, GOOD_AS, GOOD_PREFIX, ROUTE_WITHIN};

pub async fn route_installed(lat: &str, p: &str) -> bool {
    let out = tokio::process::Command::new("ip")
        .args(["-n", lat, "route", "show", p])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .any(|l| l.starts_with(p) && l.contains("proto bgp"))
}

pub async fn routes_text(lat: &str) -> String {
    let out = tokio::process::Command::new("ip")
        .args(["-n", lat, "route", "show"])
        .output()
        .await
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// latticed's view of `peer` from `lattice status --json`.
async fn peer_state(socket: &Path, peer: Ipv4Addr) -> Result<String, String> {
    let out = tokio::process::Command::new(crate::common::workspace_bin("lattice"))
        .arg("--socket")
        .arg(socket)
        .args(["status", "--json"])
        .output()
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "lattice status --json: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    let peers = json["peers"].as_array().cloned().unwrap_or_default();
    peers
        .iter()
        .find(|p| p["address"] == peer.to_string())
        .map(|p| p["state"].as_str().unwrap_or("?").to_string())
        .ok_or_else(|| format!("{peer} not in {json}"))
}

pub struct GoodPeer {
    problems: Arc<StdMutex<Vec<String>>>,
    _keepalive: Task,
    _monitor: Task,
}

impl GoodPeer {
    /// Established from 10.98.0.3, announcing 10.244.50.0/24, a KEEPALIVE every second, every
    /// NOTIFICATION, close or write failure recorded.
    pub async fn start(lat: &str) -> GoodPeer {
        let conn = Conn::establish(GOOD, GOOD_AS)
            .await
            .expect("the good peer's session");
        let announce = update(
            &[],
            &concat(&[&origin_igp(), &as_path(&[GOOD_AS]), &next_hop(GOOD)]),
            &prefix(GOOD_PREFIX),
        );
        conn.send(&announce).await.unwrap();
        let problems = Arc::new(StdMutex::new(Vec::new()));
        let Conn {
            writer,
            mut events,
            reader,
        } = conn;
        let sink = problems.clone();
        let keepalive = tokio::spawn(async move {
            loop {
                sleep(Duration::from_secs(1)).await;
                if let Err(e) = writer.lock().await.write_all(&keepalive()).await {
                    sink.lock()
                        .unwrap()
                        .push(format!("KEEPALIVE write failed: {e}"));
                    return;
                }
            }
        });
        let sink = problems.clone();
        let monitor = tokio::spawn(async move {
            let _reader = reader;
            while let Some(ev) = events.recv().await {
                match ev {
                    Event::Message(Message::Notification(n)) => sink
                        .lock()
                        .unwrap()
                        .push(format!("received NOTIFICATION {}/{}", n.code, n.subcode)),
                    Event::Message(_) => {}
                    Event::Garbage(g) => sink.lock().unwrap().push(format!("garbage: {g}")),
                    Event::Closed(why) => {
                        sink.lock()
                            .unwrap()
                            .push(format!("connection closed: {why}"));
                        return;
                    }
                }
            }
        });
        let peer = GoodPeer {
            problems,
            _keepalive: Task(keepalive),
            _monitor: Task(monitor),
        };
        let deadline = Instant::now() + ROUTE_WITHIN;
        while !route_installed(lat, GOOD_PREFIX).await {
            assert!(
                Instant::now() < deadline,
                "the good peer's {GOOD_PREFIX} was never installed: {}",
                routes_text(lat).await
            );
            sleep(Duration::from_millis(200)).await;
        }
        peer
    }

    /// Everything wrong with the good peer's session now.
    pub async fn check(&self, lat: &str, socket: &Path) -> Vec<String> {
        let mut failures: Vec<String> = self
            .problems
            .lock()
            .unwrap()
            .iter()
            .map(|p| format!("good peer 10.98.0.3: {p}"))
            .collect();
        if !route_installed(lat, GOOD_PREFIX).await {
            failures.push(format!(
                "good peer 10.98.0.3: {GOOD_PREFIX} no longer installed: {}",
                routes_text(lat).await
            ));
        }
        match peer_state(socket, GOOD).await {
            Ok(s) if s == "Established" => {}
            Ok(s) => failures.push(format!("good peer 10.98.0.3: lattice status says {s}")),
            Err(e) => failures.push(format!("good peer 10.98.0.3: {e}")),
        }
        failures
    }
}
