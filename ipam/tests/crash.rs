//! Crash test: a child process allocates and releases in a tight loop and is killed with SIGKILL
//! at random points, 60 times. After each kill the store must open cleanly, hold every
//! acknowledged allocation at its address, hold nothing released with acknowledgement, and
//! give no address two owners.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use ipam::{AllocationKey, Ipam, IpamSettings};

const CHILD_ENV: &str = "LATTICE_IPAM_CRASH_CHILD";
const KILLS: usize = 60;

fn settings(dir: &std::path::Path) -> IpamSettings {
    let mut s = IpamSettings::new("10.244.0.0/16".parse().unwrap(), dir.to_path_buf());
    s.block_prefix_len = 27;
    s.block = Some("10.244.1.0/27".parse().unwrap());
    s.cluster_v6 = Some("fd00:10:244::/56".parse().unwrap());
    s.block_prefix_len_v6 = 123;
    s.block_v6 = Some("fd00:10:244::100/123".parse().unwrap());
    s.blocks = vec![
        "10.244.1.32/27".parse().unwrap(),
        "fd00:10:244::120/123".parse().unwrap(),
    ];
    s.max_blocks_per_host = 2;
    s
}

/// The child: allocate and release pseudo-random keys forever, printing `T key` before each
/// operation, and `A key v4 v6` after an allocation returned, `R key` after a release returned
/// or `F key` after a refusal (the acknowledgements).
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let seed: u64 = std::env::var("LATTICE_IPAM_CRASH_SEED")
        .unwrap()
        .parse()
        .unwrap();
    let mut ipam = Ipam::open(&settings(dir.as_ref()), 0).unwrap();
    let mut x = seed | 1;
    let mut out = std::io::stdout().lock();
    use std::io::Write;
    loop {
        // xorshift: a fixed, seedable sequence without a dependency.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let key = AllocationKey::new(&format!("c{}", x % 80), "eth0");
        writeln!(out, "@@T {}", key.container_id).unwrap();
        out.flush().unwrap();
        if x % 3 == 0 {
            ipam.release(&key, 0).unwrap();
            writeln!(out, "@@R {}", key.container_id).unwrap();
        } else {
            match ipam.allocate(&key, 0) {
                Ok(a) => {
                    writeln!(out, "@@A {} {} {}", key.container_id, a.v4, a.v6.unwrap()).unwrap()
                }
                Err(ipam::IpamError::Exhausted { .. }) => {
                    writeln!(out, "@@F {}", key.container_id).unwrap()
                }
                Err(e) => panic!("{e}"),
            }
        }
        out.flush().unwrap();
    }
}

#[test]
fn acknowledged_allocations_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    // Acknowledged state: key -> (v4, v6) as text.
    let mut model: HashMap<String, (String, String)> = HashMap::new();
    let mut acknowledged_ops = 0usize;
    for round in 0..KILLS {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .env(
                "LATTICE_IPAM_CRASH_SEED",
                (round as u64 * 7919 + 17).to_string(),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        // Kill after a varying number of acknowledgements (0..40): the child keeps running
        // while the signal is sent, so it dies at an arbitrary point of its loop (opening the
        // store, mid-append, between an append and its acknowledgement...).
        let kill_after = (round * 37 + 11) % 41;
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let kill = || nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
        if kill_after == 0 {
            kill();
        }
        let mut lines = Vec::new();
        let mut acks = 0;
        loop {
            let mut buf = Vec::new();
            if stdout.read_until(b'\n', &mut buf).unwrap() == 0 {
                break;
            }
            // A line cut by the kill is no acknowledgement.
            if buf.last() != Some(&b'\n') {
                break;
            }
            let line = String::from_utf8(buf).unwrap();
            // libtest prints around the child's lines ("test crash_child ... @@T c5"): only
            // what follows the marker is the child's.
            let Some((_, line)) = line.trim_end().split_once("@@") else {
                continue;
            };
            let line = line.to_string();
            if !line.starts_with('T') {
                acks += 1;
                if acks == kill_after {
                    kill();
                }
            }
            lines.push(line);
        }
        let status = child.wait().unwrap();
        assert!(!status.success(), "the child was killed");
        // A line may be cut by the kill: only whole, known lines count as acknowledgements.
        for line in &lines {
            let parts: Vec<&str> = line.split(' ').collect();
            match parts.as_slice() {
                ["A", k, v4, v6] => {
                    if let Some(prev) = model.get(*k) {
                        assert_eq!(prev, &(v4.to_string(), v6.to_string()), "{k} moved");
                    }
                    model.insert(k.to_string(), (v4.to_string(), v6.to_string()));
                    acknowledged_ops += 1;
                }
                ["R", k] => {
                    model.remove(*k);
                    acknowledged_ops += 1;
                }
                ["F", _] => acknowledged_ops += 1,
                _ => {}
            }
        }
        // The store opens cleanly and holds exactly the acknowledged allocations, except for the
        // one operation in flight at the kill, which may or may not have happened.
        let ipam =
            Ipam::open(&settings(dir.path()), 0).unwrap_or_else(|e| panic!("round {round}: {e}"));
        let all = ipam.allocations();
        let mut owners = HashSet::new();
        for a in &all {
            assert!(
                owners.insert(a.v4.to_string()),
                "round {round}: {} twice",
                a.v4
            );
            assert!(
                owners.insert(a.v6.unwrap().to_string()),
                "round {round}: v6 twice"
            );
        }
        let held: HashMap<String, (String, String)> = all
            .iter()
            .map(|a| {
                (
                    a.key.container_id.clone(),
                    (a.v4.to_string(), a.v6.unwrap().to_string()),
                )
            })
            .collect();
        let in_flight = in_flight_key(&lines);
        for (k, addrs) in &model {
            if Some(k) == in_flight.as_ref() {
                continue;
            }
            assert_eq!(
                held.get(k),
                Some(addrs),
                "round {round}: acknowledged {k} lost or moved"
            );
        }
        for k in held.keys() {
            if Some(k) != in_flight.as_ref() {
                assert!(
                    model.contains_key(k),
                    "round {round}: released {k} came back; last lines {:?}",
                    lines.iter().rev().take(4).collect::<Vec<_>>()
                );
            }
        }
        // Continue from what the store holds (it is the truth for unacknowledged operations).
        model = held;
    }
    println!("{KILLS} SIGKILLs, {acknowledged_ops} acknowledged operations checked");
    assert!(
        acknowledged_ops > KILLS,
        "the child did work between the kills"
    );
}

/// The key of the operation in flight at the kill: the last `T` line not followed by its
/// acknowledgement. It may or may not have reached the journal.
fn in_flight_key(lines: &[String]) -> Option<String> {
    let last = lines.last()?;
    last.strip_prefix("T ").map(str::to_string)
}
