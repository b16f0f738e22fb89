//! `pingmatrix`: every lattice container pings every other one; retried for a bounded time.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Child, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::error::LabError;
use crate::paths::LabDir;
use crate::state::{now_ms, LabState};
use crate::{sh, topology};

/// A container as a ping source and target.
#[derive(Debug, Clone)]
struct Member {
    name: String,
    namespace: String,
    address: Ipv4Addr,
}

/// Run the matrix; `Ok(true)` if every cell succeeded within `timeout`.
pub fn pingmatrix(topo: &Path, since_deploy: bool, timeout: Duration) -> Result<bool, LabError> {
    let lab = topology::load(topo)?;
    let dir = LabDir::for_lab(&lab.name);
    let state = LabState::require(&dir, &lab.name)?;
    let members: Vec<Member> = state
        .nodes
        .iter()
        .flat_map(|n| n.containers.iter())
        .map(|c| Member {
            name: c.name.clone(),
            namespace: c.namespace.clone(),
            address: c.address,
        })
        .collect();
    if members.len() < 2 {
        return Err(LabError::Failed(format!(
            "lab {} has {} lattice containers; pingmatrix needs at least 2",
            lab.name,
            members.len()
        )));
    }
    let n = members.len();
    let mut ok = vec![vec![false; n]; n];
    let start = Instant::now();
    let mut round = 0u32;
    let mut all_ok_at = None;
    loop {
        round = round.saturating_add(1);
        run_round(&members, &mut ok)?;
        let good = ok.iter().flatten().filter(|c| **c).count();
        let cells = n * (n - 1);
        println!("round {round}: {good}/{cells} ok");
        if good == cells {
            all_ok_at = Some(now_ms());
            break;
        }
        if start.elapsed() >= timeout {
            break;
        }
        sleep(Duration::from_millis(500));
    }
    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    print!("{}", render(&names, &ok));
    match (all_ok_at, since_deploy) {
        (Some(t), true) => match state.deployed_at_ms {
            Some(d) => println!(
                "full reachability {:.1}s after deploy finished ({:.1}s after it started)",
                ms_to_s(t.saturating_sub(d)),
                ms_to_s(t.saturating_sub(state.deploy_started_ms))
            ),
            None => println!("full reachability reached, but the deploy never finished"),
        },
        (None, _) => println!(
            "FAILED: not every container reached every other within {}s",
            timeout.as_secs()
        ),
        _ => println!("full reachability"),
    }
    Ok(all_ok_at.is_some())
}

fn ms_to_s(ms: u64) -> f64 {
    Duration::from_millis(ms).as_secs_f64()
}

/// Ping every cell not yet ok, all at once, and record successes.
fn run_round(members: &[Member], ok: &mut [Vec<bool>]) -> Result<(), LabError> {
    let mut running: Vec<(usize, usize, Child)> = Vec::new();
    for (i, src) in members.iter().enumerate() {
        for (j, dst) in members.iter().enumerate() {
            let done = ok.get(i).and_then(|r| r.get(j)).copied().unwrap_or(true);
            if i == j || done {
                continue;
            }
            let addr = dst.address.to_string();
            let mut c = sh::in_netns(&src.namespace, &["ping", "-c1", "-W2", &addr]);
            c.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let child = c.spawn().map_err(|error| LabError::Spawn {
                cmd: sh::show(&c),
                error,
            })?;
            running.push((i, j, child));
        }
    }
    for (i, j, mut child) in running {
        let success = child.wait().map(|s| s.success()).unwrap_or(false);
        if let Some(cell) = ok.get_mut(i).and_then(|r| r.get_mut(j)) {
            *cell = success;
        }
    }
    Ok(())
}

/// The NxN table: rows are sources, columns destinations.
fn render(names: &[&str], ok: &[Vec<bool>]) -> String {
    let w = names.iter().map(|n| n.len()).max().unwrap_or(0).max(4);
    let mut out = format!("{:<w$}", "from\\to");
    for n in names {
        out.push_str(&format!(" {n:>w$}"));
    }
    out.push('\n');
    for (i, src) in names.iter().enumerate() {
        out.push_str(&format!("{src:<w$}"));
        for j in 0..names.len() {
            let cell = match ok.get(i).and_then(|r| r.get(j)) {
                _ if i == j => "-",
                Some(true) => "ok",
                _ => "FAIL",
            };
            out.push_str(&format!(" {cell:>w$}"));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_matrix() {
        let t = render(&["a-c1", "b-c1"], &[vec![false, true], vec![false, false]]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].ends_with("-   ok"), "{t}");
        assert!(lines[2].ends_with("FAIL    -"), "{t}");
    }
}
