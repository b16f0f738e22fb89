//! The RFC 4271 §9.1.2.2 decision process and the multipath (ECMP) set.

use std::cmp::Ordering;

use super::Path;

/// LOCAL_PREF assumed when absent (RFC 4271 §9.1.1, the common default).
const DEFAULT_LOCAL_PREF: u32 = 100;

/// Order two paths: `Less` means `a` is better. The last steps break ties deterministically.
pub fn compare(a: &Path, b: &Path) -> Ordering {
    multipath_key(a, b).then_with(|| {
        // f) lowest BGP identifier, the ORIGINATOR_ID standing in for it (RFC 4456 §9);
        // then the shorter CLUSTER_LIST (RFC 4456 §9); g) lowest peer address.
        let id = |p: &Path| p.originator_id.unwrap_or(p.peer_router_id);
        id(a)
            .cmp(&id(b))
            .then_with(|| a.cluster_list.len().cmp(&b.cluster_list.len()))
            .then_with(|| a.peer.cmp(&b.peer))
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

/// The best path and every path equal to it up to the router-id step, from the same
/// neighbouring AS (like FRR's default without `as-path multipath-relax`). Sorted, best first.
pub fn best_paths<'a>(paths: &[&'a Path]) -> Vec<&'a Path> {
    let mut sorted: Vec<&Path> = paths.to_vec();
    sorted.sort_by(|a, b| compare(a, b));
    let Some(best) = sorted.first().copied() else {
        return vec![];
    };
    sorted
        .into_iter()
        .filter(|p| in_multipath_set(p, best))
        .collect()
}

/// Whether `p` joins `best` in the multipath set: equal up to the router-id step and from the
/// same neighbouring AS.
pub(crate) fn in_multipath_set(p: &Path, best: &Path) -> bool {
    p.rank.neighbour_as == best.rank.neighbour_as && multipath_key(p, best) == Ordering::Equal
}
