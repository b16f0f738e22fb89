//! bgpd's hold after `vtysh -b`: while it loads a configuration, FRR's bgpd keeps its peers
//! from starting ("config-pending") and rejects every incoming session, until a second after
//! the configuration ended. A speaker that connects in that second is refused and must retry
//! (FRR does; latticed, as of this writing, stays stuck after that refusal). So before the lab
//! starts nodes that peer with its routers, it waits for each router that got its BGP
//! configuration through `vtysh -b` to leave the hold: at least [`MIN_HOLD`] after the config,
//! then until none of its sessions is plain `Idle` (a released peer with a reachable address
//! goes to Connect or Active at once), at most [`MAX_HOLD`] after the config.

use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::paths::LabDir;
use crate::sh;
use crate::topology::Lab;

/// FRR 8.4's delay between the end of a configuration and the release of its peers
/// (`BGP_POST_CONFIG_DELAY_SECONDS`).
const MIN_HOLD: Duration = Duration::from_secs(1);
/// Past this, the lab goes on (a peer may stay Idle for reasons of its own).
const MAX_HOLD: Duration = Duration::from_secs(5);

/// A router whose bgpd got its configuration through `vtysh -b`, and when.
#[derive(Debug, Clone)]
pub struct Held {
    /// The node.
    pub node: String,
    /// When `vtysh -b` returned.
    pub applied: Instant,
}

/// Wait until every held router has released its peers (or [`MAX_HOLD`] has passed).
pub fn wait_released(lab: &Lab, dir: &LabDir, held: &[Held]) {
    for h in held {
        let ns = lab.namespace(&h.node);
        let run = dir.frr_run_dir(&h.node).display().to_string();
        let etc = dir.frr_etc_dir(&h.node).display().to_string();
        let args = [
            "vtysh",
            "--vty_socket",
            &run,
            "--config_dir",
            &etc,
            "-c",
            "show bgp summary json",
        ];
        if let Some(left) = MIN_HOLD.checked_sub(h.applied.elapsed()) {
            sleep(left);
        }
        while h.applied.elapsed() < MAX_HOLD {
            let idle = sh::run(&mut sh::in_netns(&ns, &args))
                .ok()
                .and_then(|out| crate::wait::parse_frr_summary(&h.node, &out).ok())
                .is_none_or(|sessions| sessions.iter().any(|s| s.state == "Idle"));
            if !idle {
                break;
            }
            sleep(Duration::from_millis(100));
        }
    }
}
