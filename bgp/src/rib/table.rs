//! One address family's Adj-RIBs-In and Loc-RIB, in one map: a prefix's entry holds the path of
//! each peer and the multipath next hops in use.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::decision::in_multipath_set;
use super::{compare, Path};

/// prefix -> its paths and next hops.
#[derive(Debug, Clone)]
pub(crate) struct Table<P> {
    entries: BTreeMap<P, Entry>,
}

/// One prefix. Paths are shared: every prefix of one UPDATE points at the same `Arc`, so a full
/// table costs a pointer per prefix, not a copy of its attributes; the common single-peer,
/// single-next-hop case needs no allocation of its own.
#[derive(Debug, Clone)]
struct Entry {
    paths: Paths,
    hops: Hops,
    /// Its next hops changed since the consumer last took it (it is in the pending list).
    dirty: bool,
}

#[derive(Debug, Clone)]
enum Paths {
    One(Arc<Path>),
    Many(Vec<Arc<Path>>),
}

impl Paths {
    fn as_slice(&self) -> &[Arc<Path>] {
        match self {
            Paths::One(p) => std::slice::from_ref(p),
            Paths::Many(v) => v,
        }
    }
}

impl<P> Default for Table<P> {
    fn default() -> Self {
        Self {
            entries: BTreeMap::new(),
        }
    }
}

impl<P: Ord + Copy> Table<P> {
    /// Store `path` for `prefix`; true if the peer had no path for it before.
    pub(crate) fn insert(&mut self, prefix: P, path: Arc<Path>) -> bool {
        let Some(entry) = self.entries.get_mut(&prefix) else {
            self.entries.insert(
                prefix,
                Entry {
                    paths: Paths::One(path),
                    hops: Hops::None,
                    dirty: false,
                },
            );
            return true;
        };
        match &mut entry.paths {
            Paths::One(p) if p.peer == path.peer => {
                *p = path;
                false
            }
            Paths::Many(v) => match v.iter_mut().find(|p| p.peer == path.peer) {
                Some(slot) => {
                    *slot = path;
                    false
                }
                None => {
                    v.push(path);
                    true
                }
            },
            Paths::One(p) => {
                let first = p.clone();
                entry.paths = Paths::Many(vec![first, path]);
                true
            }
        }
    }

    /// Drop the paths for `prefix` that `pred` selects; true if any went. The entry stays
    /// until the change has been taken ([`Table::take_dirty`]).
    pub(crate) fn remove_if(&mut self, prefix: P, pred: impl Fn(&Path) -> bool) -> bool {
        let Some(entry) = self.entries.get_mut(&prefix) else {
            return false;
        };
        let all = match std::mem::replace(&mut entry.paths, Paths::Many(Vec::new())) {
            Paths::One(p) => vec![p],
            Paths::Many(v) => v,
        };
        let before = all.len();
        let kept: Vec<Arc<Path>> = all.into_iter().filter(|p| !pred(p)).collect();
        let removed = kept.len() < before;
        entry.paths = pack(kept);
        removed
    }

    /// Prefixes for which some path satisfies `pred`.
    pub(crate) fn prefixes_where(&self, pred: impl Fn(&Path) -> bool) -> Vec<P> {
        self.entries
            .iter()
            .filter(|(_, e)| e.paths.as_slice().iter().any(|p| pred(p)))
            .map(|(p, _)| *p)
            .collect()
    }

    /// Paths held for `prefix`.
    pub(crate) fn paths(&self, prefix: &P) -> Vec<&Path> {
        self.entries
            .get(prefix)
            .map(|e| e.paths.as_slice().iter().map(|p| p.as_ref()).collect())
            .unwrap_or_default()
    }

    /// Every prefix with its paths (the Adj-RIBs-In).
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&P, &[Arc<Path>])> {
        self.entries
            .iter()
            .map(|(p, e)| (p, e.paths.as_slice()))
            .filter(|(_, paths)| !paths.is_empty())
    }

    /// The next hops in use for `prefix`.
    pub(crate) fn next_hops(&self, prefix: &P) -> Option<&[IpAddr]> {
        self.entries
            .get(prefix)
            .map(|e| e.hops.as_slice())
            .filter(|h| !h.is_empty())
    }

    /// The whole Loc-RIB.
    pub(crate) fn loc(&self) -> impl Iterator<Item = (&P, &[IpAddr])> {
        self.entries
            .iter()
            .map(|(p, e)| (p, e.hops.as_slice()))
            .filter(|(_, h)| !h.is_empty())
    }

    /// Take `prefix` off the pending list: its current next hops (empty: gone, and the entry
    /// that was kept to remember it was pending goes too).
    pub(crate) fn take_dirty(&mut self, prefix: &P) -> Vec<IpAddr> {
        let Some(e) = self.entries.get_mut(prefix) else {
            return Vec::new();
        };
        e.dirty = false;
        if e.paths.as_slice().is_empty() {
            self.entries.remove(prefix);
            return Vec::new();
        }
        e.hops.as_slice().to_vec()
    }

    /// Re-run the decision for `prefix`; the new next hops if the set moved, and whether the
    /// prefix must join the pending list (it was not on it yet).
    pub(crate) fn recompute(&mut self, prefix: P) -> Option<(Vec<IpAddr>, bool)> {
        let entry = self.entries.get_mut(&prefix)?;
        // One path (the common case): its next hop, no sorting or collecting.
        if let Paths::One(p) = &entry.paths {
            let hop = p.forwarding_next_hop();
            if entry.hops.as_slice() == [hop] {
                return None;
            }
            let newly_dirty = !entry.dirty;
            entry.hops = Hops::One([hop]);
            entry.dirty = true;
            return Some((vec![hop], newly_dirty));
        }
        let hops = multipath_hops(entry.paths.as_slice());
        if entry.hops.as_slice() == hops {
            return None;
        }
        // A prefix left without paths keeps its (empty) entry until the consumer has taken the
        // change, so that a re-announcement meanwhile does not queue it twice.
        let newly_dirty = !entry.dirty;
        entry.hops = Hops::from(hops.as_slice());
        entry.dirty = true;
        Some((hops, newly_dirty))
    }
}

/// The sorted next hops of the best path and every path in its multipath set: the same set as
/// [`best_paths`], found in one pass for the best and one for its equals, without sorting paths.
fn multipath_hops(paths: &[Arc<Path>]) -> Vec<IpAddr> {
    let Some(best) = paths.iter().min_by(|a, b| compare(a, b)) else {
        return Vec::new();
    };
    let mut hops: Vec<IpAddr> = paths
        .iter()
        .filter(|p| in_multipath_set(p, best))
        .map(|p| p.forwarding_next_hop())
        .collect();
    hops.sort();
    hops.dedup();
    hops
}

/// One path inline, several in a vector, none as an empty vector (which does not allocate).
fn pack(mut all: Vec<Arc<Path>>) -> Paths {
    match all.len() {
        1 => match all.pop() {
            Some(p) => Paths::One(p),
            None => Paths::Many(all),
        },
        _ => Paths::Many(all),
    }
}

/// A Loc-RIB entry's next hops, without a heap allocation in the common single-path case.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Hops {
    None,
    One([IpAddr; 1]),
    Many(Box<[IpAddr]>),
}

impl Hops {
    fn as_slice(&self) -> &[IpAddr] {
        match self {
            Hops::None => &[],
            Hops::One(h) => h,
            Hops::Many(h) => h,
        }
    }
}

impl From<&[IpAddr]> for Hops {
    fn from(hops: &[IpAddr]) -> Self {
        match hops {
            [] => Hops::None,
            [one] => Hops::One([*one]),
            many => Hops::Many(many.into()),
        }
    }
}
