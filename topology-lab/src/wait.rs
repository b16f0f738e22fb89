//! `wait`: poll every BGP speaker of the lab until all its sessions are Established, then
//! until every host has installed every other host's blocks (`converge`).

use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use api::proto::{Reply, Request};

use crate::error::LabError;
use crate::kinds::frr::vtysh_args;
use crate::paths::LabDir;
use crate::state::LabState;
use crate::topology::{self, Kind, Lab, Node};
use crate::{converge, latticed, sh};

/// State FRR and latticed report for an up session (RFC 4271 §8.2.2).
const ESTABLISHED: &str = "Established";
/// How often `wait` repeats an unchanged progress line.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// One BGP session as seen from one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The node reporting it.
    pub node: String,
    /// Peer address (or `-` if the speaker did not answer).
    pub peer: String,
    /// FSM state, or why it is unknown.
    pub state: String,
}

impl Session {
    fn up(&self) -> bool {
        self.state == ESTABLISHED
    }
}

/// Sessions in `show bgp summary json` output, across address families.
pub fn parse_frr_summary(node: &str, json: &str) -> Result<Vec<Session>, String> {
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for af in v.as_object().into_iter().flat_map(|m| m.values()) {
        for (peer, p) in af
            .get("peers")
            .and_then(|p| p.as_object())
            .into_iter()
            .flatten()
        {
            let state = p
                .get("state")
                .and_then(|s| s.as_str())
                .unwrap_or("unknown")
                .to_string();
            let s = Session {
                node: node.into(),
                peer: peer.clone(),
                state,
            };
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    Ok(out)
}

fn down(node: &str, why: String) -> Vec<Session> {
    vec![Session {
        node: node.into(),
        peer: "-".into(),
        state: why,
    }]
}

fn frr_sessions(lab: &Lab, dir: &LabDir, node: &Node) -> Vec<Session> {
    let run = dir.frr_run_dir(&node.name).display().to_string();
    let etc = dir.frr_etc_dir(&node.name).display().to_string();
    let cmd: Vec<String> = ["vtysh", "-c", "show bgp summary json"]
        .map(String::from)
        .to_vec();
    let args = vtysh_args(&cmd, &run, &etc);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match sh::run(&mut sh::in_netns(&lab.namespace(&node.name), &args)) {
        Ok(out) => parse_frr_summary(&node.name, &out)
            .unwrap_or_else(|e| down(&node.name, format!("bad vtysh output: {e}"))),
        Err(e) => down(&node.name, format!("bgpd not answering: {e}")),
    }
}

fn lattice_sessions(dir: &LabDir, node: &Node) -> Vec<Session> {
    match latticed::call(&dir.latticed_socket(&node.name), &Request::Status) {
        Ok(Reply::Status(st)) => st
            .peers
            .iter()
            .map(|p| Session {
                node: node.name.clone(),
                peer: p.address.to_string(),
                state: format!("{:?}", p.state),
            })
            .collect(),
        Ok(other) => down(&node.name, format!("unexpected reply {other:?}")),
        Err(e) => down(&node.name, format!("latticed not answering: {e}")),
    }
}

/// Whether the deploy started bgpd on an FRR node (a state file of an older lab does not
/// name its daemons: then ask).
fn runs_bgpd(state: &LabState, node: &str) -> bool {
    state
        .nodes
        .iter()
        .find(|n| n.name == node)
        .is_none_or(|n| n.daemons.is_empty() || n.daemons.iter().any(|d| d == "bgpd"))
}

/// Every session of every speaker in the lab (FRR routers without bgpd have none).
pub fn sessions(lab: &Lab, dir: &LabDir, state: &LabState) -> Vec<Session> {
    lab.nodes
        .iter()
        .flat_map(|n| match n.kind {
            Kind::Frr if !runs_bgpd(state, &n.name) => Vec::new(),
            Kind::Frr => frr_sessions(lab, dir, n),
            Kind::Lattice => lattice_sessions(dir, n),
            Kind::Linux | Kind::Etcd => Vec::new(),
        })
        .collect()
}

/// Wait up to `timeout` for every session to be Established.
pub fn wait(topo: &Path, timeout: Duration) -> Result<(), LabError> {
    let lab = topology::load(topo)?;
    let dir = LabDir::for_lab(&lab.name);
    let state = LabState::require(&dir, &lab.name)?;
    let start = Instant::now();
    let mut last = None;
    let mut last_print = start;
    loop {
        let all = sessions(&lab, &dir, &state);
        let up = all.iter().filter(|s| s.up()).count();
        // Print on change, and every few seconds so a slow fabric does not look hung.
        if last != Some(up) || last_print.elapsed() >= PROGRESS_EVERY {
            last_print = Instant::now();
            println!(
                "[{:>5.1}s] {up}/{} BGP sessions established",
                start.elapsed().as_secs_f64(),
                all.len()
            );
            last = Some(up);
        }
        if up == all.len() {
            println!("all {} BGP sessions established", all.len());
            return wait_routes(&lab, &dir, start, timeout);
        }
        if start.elapsed() >= timeout {
            let bad: Vec<String> = all
                .iter()
                .filter(|s| !s.up())
                .map(|s| format!("  {} -> {}: {}", s.node, s.peer, s.state))
                .collect();
            return Err(LabError::Failed(format!(
                "timed out after {}s; sessions not established:\n{}",
                timeout.as_secs(),
                bad.join("\n")
            )));
        }
        sleep(Duration::from_millis(500));
    }
}

/// Second phase: until `converge::missing` is empty, within what is left of `timeout`.
fn wait_routes(lab: &Lab, dir: &LabDir, start: Instant, timeout: Duration) -> Result<(), LabError> {
    let mut last: Option<usize> = None;
    loop {
        let missing = match converge::host_routes(lab, dir) {
            Ok(hosts) => converge::missing(&hosts),
            Err(e) => vec![e],
        };
        if missing.is_empty() {
            println!(
                "[{:>5.1}s] every host has every other host's blocks in its kernel",
                start.elapsed().as_secs_f64()
            );
            return Ok(());
        }
        if last != Some(missing.len()) {
            println!(
                "[{:>5.1}s] {} host routes still missing",
                start.elapsed().as_secs_f64(),
                missing.len()
            );
            last = Some(missing.len());
        }
        if start.elapsed() >= timeout {
            return Err(LabError::Failed(format!(
                "timed out after {}s; sessions are up but routes are missing:\n  {}",
                timeout.as_secs(),
                missing.join("\n  ")
            )));
        }
        sleep(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_frr_summary() {
        let j = r#"{"ipv4Unicast":{"routerId":"10.0.0.1","as":65001,"peers":{
            "10.0.0.0":{"remoteAs":65000,"state":"Established","pfxRcd":3},
            "10.0.1.2":{"remoteAs":65101,"state":"Active"}}},
            "ipv6Unicast":{"peers":{"10.0.0.0":{"state":"Established"}}}}"#;
        let s = parse_frr_summary("tor1", j).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s.iter().filter(|s| s.up()).count(), 1);
        assert_eq!(s[1].state, "Active");
        assert!(parse_frr_summary("x", "{}").unwrap().is_empty());
        assert!(parse_frr_summary("x", "% Unknown command").is_err());
    }
}
