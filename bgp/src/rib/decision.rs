//! The RFC 4271 §9.1.2.2 decision process and the multipath (ECMP) set.

use std::cmp::Ordering;

use super::Path;

/// LOCAL_PREF assumed when absent (RFC 4271 §9.1.1, the common default).
const DEFAULT_LOCAL_PREF: u32 = 100;

/// Which paths equal to the best one join it in the ECMP set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Multipath {
    /// Paths from different neighbouring ASes join too, when equal up to the router-id step
    /// (FRR's `bgp bestpath as-path multipath-relax`): a host dual-homed to two leaves of their
    /// own ASes (RFC 7938) then uses both. Without it, only paths from the best path's
    /// neighbouring AS join (RFC 4271 leaves multipath open; this is FRR's default).
    pub relax: bool,
    /// At most this many next hops (at least 1): the best paths by the full decision order.
    pub maximum_paths: usize,
}

impl Default for Multipath {
    /// FRR's defaults: no relax, and no limit below the kernel's.
    fn default() -> Self {
        Multipath {
            relax: false,
            maximum_paths: usize::MAX,
        }
    }
}

/// Order two paths: `Less` means `a` is better. The last steps break ties deterministically.
pub fn compare(a: &Path, b: &Path) -> Ordering {
    multipath_key(a, b).then_with(|| {
        // f) lowest BGP identifier, the ORIGINATOR_ID standing in for it (RFC 4456 §9);
        // then the shorter CLUSTER_LIST (RFC 4456 §9); g) lowest peer address (then the peer,
        // for two sessions over link-local addresses that happen to be the same on two links).
        let id = |p: &Path| p.originator_id.unwrap_or(p.peer_router_id);
        id(a)
            .cmp(&id(b))
            .then_with(|| a.cluster_list.len().cmp(&b.cluster_list.len()))
            .then_with(|| a.peer.cmp(&b.peer))
            .then_with(|| a.peer_id.cmp(&b.peer_id))
    })
}

/// The steps before the router-id tie-break: paths equal here form the multipath set.
fn multipath_key(a: &Path, b: &Path) -> Ordering {
    let lp = |p: &Path| p.local_pref.unwrap_or(DEFAULT_LOCAL_PREF);
    // a) highest LOCAL_PREF
    lp(b)
        .cmp(&lp(a))
        // b) shortest AS_PATH
        .then_with(|| a.rank.as_path_len.cmp(&b.rank.as_path_len))
        // c) lowest ORIGIN
        .then_with(|| a.origin.cmp(&b.origin))
        // d) lowest MED, only between paths from the same neighbouring AS (missing MED = 0)
        .then_with(|| {
            if a.rank.neighbour_as == b.rank.neighbour_as {
                a.med.unwrap_or(0).cmp(&b.med.unwrap_or(0))
            } else {
                Ordering::Equal
            }
        })
        // e) eBGP over iBGP
        .then_with(|| b.ebgp.cmp(&a.ebgp))
}

/// The best path and every path equal to it up to the router-id step (from the same
/// neighbouring AS unless `multipath.relax`), at most `multipath.maximum_paths` next hops of
/// them. Sorted, best first.
pub fn best_paths<'a>(paths: &[&'a Path], multipath: Multipath) -> Vec<&'a Path> {
    let mut sorted: Vec<&Path> = paths.to_vec();
    sorted.sort_by(|a, b| compare(a, b));
    let Some(best) = sorted.first().copied() else {
        return vec![];
    };
    let mut hops = Vec::new();
    sorted
        .into_iter()
        .filter(|p| in_multipath_set(p, best, multipath.relax))
        .filter(|p| {
            let hop = p.rank.forwarding;
            if hops.contains(&hop) {
                return true;
            }
            if hops.len() >= multipath.maximum_paths.max(1) {
                return false;
            }
            hops.push(hop);
            true
        })
        .collect()
}

/// Whether `p` joins `best` in the multipath set: equal up to the router-id step and, unless
/// `relax`, from the same neighbouring AS.
pub(crate) fn in_multipath_set(p: &Path, best: &Path, relax: bool) -> bool {
    (relax || p.rank.neighbour_as == best.rank.neighbour_as)
        && multipath_key(p, best) == Ordering::Equal
}
