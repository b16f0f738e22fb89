//! One address family's Adj-RIBs-In and Loc-RIB.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::{best_paths, Path};

/// prefix -> one path per peer, and prefix -> the multipath next hops in use.
#[derive(Debug, Clone)]
pub(crate) struct Table<P> {
    /// Paths are shared: every prefix of one UPDATE points at the same `Arc`, so a full table
    /// costs a pointer per prefix, not a copy of its attributes.
    pub(crate) adj_in: BTreeMap<P, Vec<Arc<Path>>>,
    loc: BTreeMap<P, Hops>,
}

impl<P> Default for Table<P> {
    fn default() -> Self {
        Self {
            adj_in: BTreeMap::new(),
            loc: BTreeMap::new(),
        }
    }
}

impl<P: Ord + Copy> Table<P> {
    /// Store `path` for `prefix`; true if the peer had no path for it before.
    pub(crate) fn insert(&mut self, prefix: P, path: Arc<Path>) -> bool {
        let paths = self.adj_in.entry(prefix).or_default();
        match paths.iter_mut().find(|p| p.peer == path.peer) {
            Some(slot) => {
                *slot = path;
                false
            }
            None => {
                paths.push(path);
                true
            }
        }
    }

    /// Drop the paths for `prefix` that `pred` selects; true if any went.
    pub(crate) fn remove_if(&mut self, prefix: P, pred: impl Fn(&Path) -> bool) -> bool {
        let Some(paths) = self.adj_in.get_mut(&prefix) else {
            return false;
        };
        let before = paths.len();
        paths.retain(|p| !pred(p));
        let removed = paths.len() < before;
        if paths.is_empty() {
            self.adj_in.remove(&prefix);
        }
        removed
    }

    /// Prefixes for which some path satisfies `pred`.
    pub(crate) fn prefixes_where(&self, pred: impl Fn(&Path) -> bool) -> Vec<P> {
        self.adj_in
            .iter()
            .filter(|(_, paths)| paths.iter().any(|p| pred(p)))
            .map(|(p, _)| *p)
            .collect()
    }

    /// Paths held for `prefix`.
    pub(crate) fn paths(&self, prefix: &P) -> Vec<&Path> {
        self.adj_in
            .get(prefix)
            .map(|v| v.iter().map(|p| p.as_ref()).collect())
            .unwrap_or_default()
    }

    /// The next hops in use for `prefix`.
    pub(crate) fn next_hops(&self, prefix: &P) -> Option<&[IpAddr]> {
        self.loc.get(prefix).map(Hops::as_slice)
    }

    /// The whole Loc-RIB.
    pub(crate) fn loc(&self) -> impl Iterator<Item = (&P, &[IpAddr])> {
        self.loc.iter().map(|(p, h)| (p, h.as_slice()))
    }

    /// Re-run the decision for `prefix`; the new next hops if the set moved.
    pub(crate) fn recompute(&mut self, prefix: P) -> Option<Vec<IpAddr>> {
        let paths: Vec<&Path> = self.paths(&prefix);
        let mut hops: Vec<IpAddr> = best_paths(&paths)
            .iter()
            .map(|p| p.forwarding_next_hop())
            .collect();
        hops.sort();
        hops.dedup();
        let old: &[IpAddr] = self.next_hops(&prefix).unwrap_or_default();
        if old == hops {
            return None;
        }
        if hops.is_empty() {
            self.loc.remove(&prefix);
        } else {
            self.loc.insert(prefix, Hops::from(hops.as_slice()));
        }
        Some(hops)
    }
}

/// A Loc-RIB entry's next hops, without a heap allocation in the common single-path case.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Hops {
    One([IpAddr; 1]),
    Many(Box<[IpAddr]>),
}

impl Hops {
    fn as_slice(&self) -> &[IpAddr] {
        match self {
            Hops::One(h) => h,
            Hops::Many(h) => h,
        }
    }
}

impl From<&[IpAddr]> for Hops {
    fn from(hops: &[IpAddr]) -> Self {
        match hops {
            [one] => Hops::One([*one]),
            many => Hops::Many(many.into()),
        }
    }
}
