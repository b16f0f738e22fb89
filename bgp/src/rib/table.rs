//! One address family's Adj-RIBs-In and Loc-RIB, in one map: a prefix's entry holds the path of
//! each peer, the best one first.
//!
//! Ingest speed is the point of the layout. Keys are prefixes packed into integers (ordered like
//! the prefixes, compared in one instruction); every mutation finds its entry once and says
//! whether the prefix's next-hop set moved; a path that joins or loses to the current best is
//! handled by comparing it with that best alone, so P peers sending the same prefix cost P
//! comparisons, not P². The next hops are not stored: they follow from the paths when asked.

use std::cmp::Ordering;
use std::collections::btree_map::{BTreeMap, Entry as Slot};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::{Ipv4Net, Ipv6Net};

use super::decision::in_multipath_set;
use super::{compare, Multipath, NextHop, Path};

/// A prefix as a table key: ordered exactly like the prefix, cheaper to compare.
pub(crate) trait Key: Copy + Ord {
    /// The prefix type the key packs.
    type Prefix: Copy;
    /// The key of `prefix`.
    fn of(prefix: Self::Prefix) -> Self;
    /// The prefix back.
    fn prefix(self) -> Self::Prefix;
}

/// An IPv4 prefix as `address << 8 | length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct V4Key(u64);

impl Key for V4Key {
    type Prefix = Ipv4Net;
    fn of(p: Ipv4Net) -> Self {
        V4Key((u64::from(u32::from(p.addr())) << 8) | u64::from(p.prefix_len()))
    }
    fn prefix(self) -> Ipv4Net {
        let addr = Ipv4Addr::from(((self.0 >> 8) & 0xffff_ffff) as u32);
        // Keys are only made from valid prefixes, so the length is at most 32.
        Ipv4Net::new(addr, (self.0 & 0xff) as u8).unwrap_or_default()
    }
}

/// An IPv6 prefix as (address, length).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct V6Key(u128, u8);

impl Key for V6Key {
    type Prefix = Ipv6Net;
    fn of(p: Ipv6Net) -> Self {
        V6Key(u128::from(p.addr()), p.prefix_len())
    }
    fn prefix(self) -> Ipv6Net {
        Ipv6Net::new(Ipv6Addr::from(self.0), self.1).unwrap_or_default()
    }
}

/// prefix -> its paths.
#[derive(Debug, Clone)]
pub(crate) struct Table<K> {
    entries: BTreeMap<K, Entry>,
    /// Which paths form a prefix's ECMP set.
    multipath: Multipath,
}

/// One prefix. Paths are shared: every prefix of one UPDATE points at the same `Arc`, so a full
/// table costs a pointer per prefix, not a copy of its attributes.
#[derive(Debug, Clone)]
struct Entry {
    paths: Paths,
    /// Its next hops changed since the consumer last took it (it is in the pending list).
    dirty: bool,
}

/// The paths of one prefix; in `Many`, the best (by [`compare`]) is first. No paths at all is
/// an empty `Many` (which does not allocate): the entry waits for the consumer to take it.
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

/// What a mutation did to one prefix.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// The peer had no path for the prefix before (insert) / had one and lost it (remove).
    pub counted: bool,
    /// The prefix's next-hop set changed.
    pub moved: bool,
    /// It moved and was not pending yet: the caller queues it.
    pub queue: bool,
    /// The best path is another one (or there is none any more): a reflector passes it on.
    pub best_moved: bool,
}

impl<K> Default for Table<K> {
    fn default() -> Self {
        Self::new(Multipath::default())
    }
}

impl<K> Table<K> {
    /// An empty table whose ECMP sets follow `multipath`.
    pub(crate) fn new(multipath: Multipath) -> Self {
        Self {
            entries: BTreeMap::new(),
            multipath,
        }
    }
}

impl<K: Key> Table<K> {
    /// Store `path` (replacing the same peer's) for `prefix`.
    pub(crate) fn insert(&mut self, prefix: K::Prefix, path: Arc<Path>) -> Outcome {
        let mp = self.multipath;
        let entry = match self.entries.entry(K::of(prefix)) {
            Slot::Vacant(v) => {
                v.insert(Entry {
                    paths: Paths::One(path),
                    dirty: true,
                });
                return Outcome {
                    counted: true,
                    moved: true,
                    queue: true,
                    best_moved: true,
                };
            }
            Slot::Occupied(o) => o.into_mut(),
        };
        let before = best_ptr(&entry.paths);
        let (counted, moved) = match &mut entry.paths {
            Paths::One(p) if p.peer_id == path.peer_id => {
                let moved = p.rank.forwarding != path.rank.forwarding;
                *p = path;
                (false, moved)
            }
            Paths::One(p) => {
                let first = p.clone();
                let mut v = Vec::with_capacity(4);
                v.push(first);
                let moved = join(&mut v, path, mp);
                entry.paths = Paths::Many(v);
                (true, moved)
            }
            Paths::Many(v) => match v.iter().position(|p| p.peer_id == path.peer_id) {
                None => (true, join(v, path, mp)),
                Some(i) => {
                    let before = multipath_hops(v, mp);
                    if let Some(slot) = v.get_mut(i) {
                        *slot = path;
                    }
                    best_first(v);
                    (false, multipath_hops(v, mp) != before)
                }
            },
        };
        let best_moved = best_ptr(&entry.paths) != before;
        Outcome {
            best_moved,
            ..(counted, moved).into_outcome(entry)
        }
    }

    /// Drop the paths for `prefix` that `pred` selects. The entry stays, if it has no paths
    /// left, until the change has been taken ([`Table::take_dirty`]).
    pub(crate) fn remove_if(&mut self, prefix: K::Prefix, pred: impl Fn(&Path) -> bool) -> Outcome {
        let mp = self.multipath;
        let Some(entry) = self.entries.get_mut(&K::of(prefix)) else {
            return Outcome::default();
        };
        let before = best_ptr(&entry.paths);
        let moved = match &mut entry.paths {
            Paths::One(p) if pred(p) => {
                entry.paths = Paths::Many(Vec::new());
                true
            }
            Paths::One(_) => return Outcome::default(),
            Paths::Many(v) => {
                let before_len = v.len();
                let before = multipath_hops(v, mp);
                v.retain(|p| !pred(p));
                if v.len() == before_len {
                    return Outcome::default();
                }
                best_first(v);
                let moved = multipath_hops(v, mp) != before;
                if v.len() == 1 {
                    if let Some(p) = v.pop() {
                        entry.paths = Paths::One(p);
                    }
                }
                moved
            }
        };
        let best_moved = best_ptr(&entry.paths) != before;
        Outcome {
            best_moved,
            ..(true, moved).into_outcome(entry)
        }
    }

    /// The best path for `prefix`, if any.
    pub(crate) fn best(&self, prefix: K::Prefix) -> Option<&Arc<Path>> {
        self.entries
            .get(&K::of(prefix))
            .and_then(|e| e.paths.as_slice().first())
    }

    /// Prefixes for which some path satisfies `pred`.
    pub(crate) fn prefixes_where(&self, pred: impl Fn(&Path) -> bool) -> Vec<K::Prefix> {
        self.entries
            .iter()
            .filter(|(_, e)| e.paths.as_slice().iter().any(|p| pred(p)))
            .map(|(k, _)| k.prefix())
            .collect()
    }

    /// Paths held for `prefix`, best first.
    pub(crate) fn paths(&self, prefix: K::Prefix) -> Vec<&Path> {
        self.entries
            .get(&K::of(prefix))
            .map(|e| e.paths.as_slice().iter().map(|p| p.as_ref()).collect())
            .unwrap_or_default()
    }

    /// Every prefix with its paths (the Adj-RIBs-In).
    pub(crate) fn entries(&self) -> impl Iterator<Item = (K::Prefix, &[Arc<Path>])> {
        self.entries
            .iter()
            .map(|(k, e)| (k.prefix(), e.paths.as_slice()))
            .filter(|(_, paths)| !paths.is_empty())
    }

    /// The next hops in use for `prefix` (empty: no route).
    pub(crate) fn next_hops(&self, prefix: K::Prefix) -> Vec<NextHop> {
        self.entries
            .get(&K::of(prefix))
            .map(|e| hops(&e.paths, self.multipath))
            .unwrap_or_default()
    }

    /// The whole Loc-RIB.
    pub(crate) fn loc(&self) -> impl Iterator<Item = (K::Prefix, Vec<NextHop>)> + '_ {
        self.entries
            .iter()
            .filter(|(_, e)| !e.paths.as_slice().is_empty())
            .map(|(k, e)| (k.prefix(), hops(&e.paths, self.multipath)))
    }

    /// Which paths form a prefix's ECMP set.
    pub(crate) fn multipath(&self) -> Multipath {
        self.multipath
    }

    /// Take `prefix` off the pending list: its current next hops (empty: gone, and the entry
    /// that was kept to remember it was pending goes too).
    pub(crate) fn take_dirty(&mut self, prefix: K::Prefix) -> Vec<NextHop> {
        let key = K::of(prefix);
        let Some(e) = self.entries.get_mut(&key) else {
            return Vec::new();
        };
        e.dirty = false;
        if e.paths.as_slice().is_empty() {
            self.entries.remove(&key);
            return Vec::new();
        }
        hops(&e.paths, self.multipath)
    }
}

/// Turns (counted, moved) into an [`Outcome`], marking the entry pending when it moved.
trait IntoOutcome {
    fn into_outcome(self, entry: &mut Entry) -> Outcome;
}

impl IntoOutcome for (bool, bool) {
    fn into_outcome(self, entry: &mut Entry) -> Outcome {
        let (counted, moved) = self;
        let queue = moved && !entry.dirty;
        if moved {
            entry.dirty = true;
        }
        Outcome {
            counted,
            moved,
            queue,
            best_moved: false,
        }
    }
}

/// The address of a prefix's best path (null: none), to tell whether an operation changed it.
fn best_ptr(paths: &Paths) -> *const Path {
    paths
        .as_slice()
        .first()
        .map_or(std::ptr::null(), Arc::as_ptr)
}

/// Add a path from a new peer to `paths` (best first, not empty); whether the next-hop set
/// moved. Only the current best is compared with, unless the newcomer beats it from another
/// multipath class or the set is at its size limit.
fn join(paths: &mut Vec<Arc<Path>>, path: Arc<Path>, mp: Multipath) -> bool {
    let Some(best) = paths.first().cloned() else {
        paths.push(path);
        return true;
    };
    let hop = path.rank.forwarding;
    let better = compare(&path, &best) == Ordering::Less;
    if in_multipath_set(&path, &best, mp.relax) {
        // It joins the set; the set moves only if its next hop is new there (and, at the
        // limit, only if it ranks among the kept ones: computed whole then).
        let in_set = |p: &&Arc<Path>| in_multipath_set(p, &best, mp.relax);
        // The cheap comparison first: the decision steps only for a path with the same hop.
        let known = paths.iter().any(|p| p.rank.forwarding == hop && in_set(&p));
        // (The set can be no larger than `paths`: most of the time nothing needs counting.)
        let full = !known
            && paths.len() >= mp.maximum_paths
            && paths.iter().filter(in_set).count() >= mp.maximum_paths;
        if full {
            let before = multipath_hops(paths, mp);
            push_best_first(paths, path, better);
            return multipath_hops(paths, mp) != before;
        }
        push_best_first(paths, path, better);
        return !known;
    }
    if !better {
        paths.push(path);
        return false;
    }
    // A new best of another class: its set may take in paths the old best's excluded (equal
    // up to the router id, from its neighbour AS), so compute it whole. Rare.
    let before = multipath_hops(paths, mp);
    push_best_first(paths, path, true);
    multipath_hops(paths, mp) != before
}

fn push_best_first(paths: &mut Vec<Arc<Path>>, path: Arc<Path>, best: bool) {
    paths.push(path);
    if best {
        let last = paths.len().saturating_sub(1);
        paths.swap(0, last);
    }
}

/// Restore "best first" after a path was replaced or removed.
fn best_first(paths: &mut [Arc<Path>]) {
    let best = paths
        .iter()
        .enumerate()
        .min_by(|(_, a), (_, b)| compare(a, b))
        .map(|(i, _)| i);
    if let Some(i) = best {
        paths.swap(0, i);
    }
}

fn hops(paths: &Paths, mp: Multipath) -> Vec<NextHop> {
    match paths {
        Paths::One(p) => vec![p.rank.forwarding],
        Paths::Many(v) => multipath_hops(v, mp),
    }
}

/// The sorted next hops of the best path (first) and every path in its multipath set; over
/// `mp.maximum_paths` of them, those of the best paths by the full decision order.
pub(crate) fn multipath_hops(paths: &[Arc<Path>], mp: Multipath) -> Vec<NextHop> {
    let Some(best) = paths.first() else {
        return Vec::new();
    };
    let mut hops: Vec<NextHop> = Vec::with_capacity(paths.len());
    hops.extend(
        paths
            .iter()
            .filter(|p| in_multipath_set(p, best, mp.relax))
            .map(|p| p.rank.forwarding),
    );
    if hops.len() > mp.maximum_paths {
        // Over the limit (rare): the best paths by the full order, distinct hops.
        let mut set: Vec<&Path> = paths
            .iter()
            .map(|p| p.as_ref())
            .filter(|p| in_multipath_set(p, best, mp.relax))
            .collect();
        set.sort_by(|a, b| compare(a, b));
        hops.clear();
        for p in set {
            if hops.len() >= mp.maximum_paths.max(1) {
                break;
            }
            if !hops.contains(&p.rank.forwarding) {
                hops.push(p.rank.forwarding);
            }
        }
    }
    hops.sort_unstable();
    hops.dedup();
    hops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_keys_order_like_prefixes() {
        let mut v4: Vec<Ipv4Net> = ["10.0.0.0/8", "10.0.0.0/24", "9.255.0.0/16", "0.0.0.0/0"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let mut keys: Vec<V4Key> = v4.iter().map(|p| V4Key::of(*p)).collect();
        v4.sort();
        keys.sort();
        assert_eq!(keys.iter().map(|k| k.prefix()).collect::<Vec<_>>(), v4);
        let mut v6: Vec<Ipv6Net> = ["fd00::/8", "fd00::/64", "::/0", "2001:db8::/32"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let mut keys: Vec<V6Key> = v6.iter().map(|p| V6Key::of(*p)).collect();
        v6.sort();
        keys.sort();
        assert_eq!(keys.iter().map(|k| k.prefix()).collect::<Vec<_>>(), v6);
    }
}
