//! [`Ipam`]: the host's blocks and allocations, journaled in its state directory.
//!
//! No clock is read here: every call that can start or end a grace period takes `now`
//! (seconds on the caller's clock, e.g. Unix time).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::family::Full;
use crate::pool::AllocationKey;
use crate::state::{IpamState, Record};
use crate::store::Store;
use crate::{source, FixedBlocks, IpamError, IpamSettings};

/// The addresses of one key: one IPv4 address, and one IPv6 address when dual stack.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Assigned {
    /// The holder.
    pub key: AllocationKey,
    /// Its IPv4 address.
    pub v4: Ipv4Addr,
    /// Its IPv6 address, when `cluster.cidr_v6` is configured.
    pub v6: Option<Ipv6Addr>,
}

/// The host's allocator, backed by its state directory.
#[derive(Debug)]
pub struct Ipam {
    state: IpamState,
    store: Store,
    /// Blocks a `local`/`fan` host may borrow; `None` when the datastore supplies them (etcd).
    borrowable: Option<Vec<IpNet>>,
    grace: u64,
    max_blocks: usize,
}

impl Ipam {
    /// Take the state directory's lock, load what was allocated before and, for `local` and
    /// `fan`, make sure the configured primary blocks are held (a different stored primary is
    /// refused instead of renumbering containers).
    pub fn open(settings: &IpamSettings, now: u64) -> Result<Ipam, IpamError> {
        let source = source::configure(settings)?;
        Ipam::open_with(settings, source.fixed(), now)
    }

    /// [`Ipam::open`] with the blocks a source reported (`None`: it claims them one by one).
    pub(crate) fn open_with(
        settings: &IpamSettings,
        fixed: Option<&FixedBlocks>,
        now: u64,
    ) -> Result<Ipam, IpamError> {
        let mut state = IpamState::new(settings.max_blocks_per_host, settings.cluster_v6.is_some());
        let (store, _) = Store::open(&settings.state_dir, &mut state, now)?;
        let mut ipam = Ipam {
            state,
            store,
            borrowable: fixed.map(|f| f.borrowable.clone()),
            grace: settings.grace_period_secs,
            max_blocks: settings.max_blocks_per_host.max(1),
        };
        if let Some(f) = fixed {
            ipam.ensure_primary(f.v4, now)?;
            if let Some(v6) = f.v6 {
                ipam.ensure_primary(v6, now)?;
            }
        }
        Ok(ipam)
    }

    /// Hold `block` as its family's primary block; refused if another primary is recorded.
    pub fn ensure_primary(&mut self, block: IpNet, now: u64) -> Result<(), IpamError> {
        match self.state.family(&block).and_then(|f| f.primary()) {
            Some(stored) if stored == block => Ok(()),
            Some(stored) => Err(IpamError::BlockChanged {
                stored,
                configured: block,
            }),
            None => self.commit(
                vec![Record::AddBlock {
                    block,
                    primary: true,
                }],
                now,
            ),
        }
    }

    /// The primary block of `block`'s family, if held.
    pub fn primary(&self, v6: bool) -> Option<IpNet> {
        if v6 {
            self.state.v6.as_ref().and_then(|f| f.primary())
        } else {
            self.state.v4.primary()
        }
    }

    /// Hold a borrowed `block` (claimed by the caller from its datastore).
    pub fn add_block(&mut self, block: IpNet, now: u64) -> Result<(), IpamError> {
        self.commit(
            vec![Record::AddBlock {
                block,
                primary: false,
            }],
            now,
        )
    }

    /// Give back a drained borrowed block; false if it is not held, primary or in use.
    pub fn remove_block(&mut self, block: IpNet, now: u64) -> Result<bool, IpamError> {
        let held = self
            .state
            .family(&block)
            .is_some_and(|f| f.blocks().contains(&block));
        let removable = held && self.expired_blocks(u64::MAX).contains(&block);
        if !removable {
            return Ok(false);
        }
        self.commit(vec![Record::RemoveBlock { block }], now)?;
        Ok(true)
    }

    /// Every held block, IPv4 first, each family's primary first.
    pub fn blocks(&self) -> Vec<IpNet> {
        let mut all = self.state.v4.blocks();
        if let Some(f) = &self.state.v6 {
            all.extend(f.blocks());
        }
        all
    }

    /// Borrowed blocks that stayed empty for the grace period at `now`: give them back with
    /// [`Ipam::remove_block`] (and release them in the datastore).
    pub fn expired_blocks(&self, now: u64) -> Vec<IpNet> {
        let mut all = self.state.v4.expired(now, self.grace);
        if let Some(f) = &self.state.v6 {
            all.extend(f.expired(now, self.grace));
        }
        all
    }

    /// The addresses of `key`, allocating and journaling them if it has none. Borrows a block
    /// when the held ones are full (`local`/`fan`), or returns [`IpamError::NeedBlock`] for the
    /// caller to claim one (`etcd`).
    pub fn allocate(&mut self, key: &AllocationKey, now: u64) -> Result<Assigned, IpamError> {
        if let Some(a) = self.get(key) {
            return Ok(a);
        }
        let mut records = Vec::new();
        let had_v4 = self.state.v4.get(key).is_some();
        let result = self.take(false, key, now, &mut records).and_then(|v4| {
            let v6 = match self.state.v6.is_some() {
                true => Some(self.take(true, key, now, &mut records)?),
                false => None,
            };
            Ok((v4, v6))
        });
        let (v4, v6) = match result {
            Ok(pair) => pair,
            Err(e) => {
                self.undo(key, had_v4, &records, now);
                return Err(e);
            }
        };
        let mut addresses = vec![v4];
        addresses.extend(v6);
        records.push(Record::Assign {
            key: key.clone(),
            addresses,
        });
        if let Err(e) = self.store.append(&records, &self.state) {
            // Not acknowledged, so not kept: memory and disk stay equal.
            self.undo(key, had_v4, &records, now);
            return Err(e);
        }
        // `take(false, ..)` allocates from IPv4 blocks only: the other arm cannot happen, and
        // answers with an error rather than a wrong address.
        let IpAddr::V4(v4) = v4 else {
            return Err(IpamError::BadConfig {
                field: "cluster.cidr",
                message: format!("an IPv4 block gave {v4}"),
            });
        };
        Ok(Assigned {
            key: key.clone(),
            v4,
            v6: match v6 {
                Some(IpAddr::V6(a)) => Some(a),
                _ => None,
            },
        })
    }

    /// Release `key`'s addresses; `None` if it had none (releasing twice is fine).
    pub fn release(
        &mut self,
        key: &AllocationKey,
        now: u64,
    ) -> Result<Option<Assigned>, IpamError> {
        let Some(held) = self.get_partial(key) else {
            return Ok(None);
        };
        self.commit(vec![Record::Release { key: key.clone() }], now)?;
        Ok(Some(held))
    }

    /// Release every key not in `keep` (one journal write); returns the released keys.
    pub fn gc(
        &mut self,
        keep: &HashSet<AllocationKey>,
        now: u64,
    ) -> Result<Vec<Assigned>, IpamError> {
        let mut keys: Vec<AllocationKey> = self
            .state
            .v4
            .keys()
            .chain(self.state.v6.iter().flat_map(|f| f.keys()))
            .filter(|k| !keep.contains(*k))
            .cloned()
            .collect();
        keys.sort();
        keys.dedup();
        let released: Vec<Assigned> = keys.iter().filter_map(|k| self.get_partial(k)).collect();
        let records = keys
            .into_iter()
            .map(|key| Record::Release { key })
            .collect();
        self.commit(records, now)?;
        Ok(released)
    }

    /// The addresses of `key`, if it holds all it should.
    pub fn get(&self, key: &AllocationKey) -> Option<Assigned> {
        let a = self.get_partial(key)?;
        (self.state.v6.is_none() || a.v6.is_some()).then_some(a)
    }

    /// Every key's addresses, in IPv4 address order.
    pub fn allocations(&self) -> Vec<Assigned> {
        self.state
            .v4
            .allocations()
            .filter_map(|a| self.get_partial(&a.key()))
            .collect()
    }

    /// IPv4 addresses in the held blocks.
    pub fn capacity(&self) -> u128 {
        self.state.v4.capacity()
    }

    /// Keys holding addresses.
    pub fn in_use(&self) -> usize {
        self.state.v4.in_use()
    }

    /// The blocks-per-family limit.
    pub fn max_blocks(&self) -> usize {
        self.max_blocks
    }

    fn get_partial(&self, key: &AllocationKey) -> Option<Assigned> {
        let v4 = match self.state.v4.get(key)? {
            IpAddr::V4(a) => a,
            IpAddr::V6(_) => return None,
        };
        let v6 = self.state.v6.as_ref().and_then(|f| match f.get(key) {
            Some(IpAddr::V6(a)) => Some(a),
            _ => None,
        });
        Some(Assigned {
            key: key.clone(),
            v4,
            v6,
        })
    }

    /// An address of one family for `key`, borrowing configured blocks as needed; the blocks
    /// it adds are pushed onto `records`.
    fn take(
        &mut self,
        v6: bool,
        key: &AllocationKey,
        now: u64,
        records: &mut Vec<Record>,
    ) -> Result<IpAddr, IpamError> {
        let family = if v6 { "IPv6" } else { "IPv4" };
        loop {
            let f = match (v6, self.state.v6.as_mut()) {
                (false, _) => &mut self.state.v4,
                (true, Some(f)) => f,
                (true, None) => return Err(IpamError::NeedBlock { family }),
            };
            let full = match f.allocate(key) {
                Ok(a) => return Ok(a),
                Err(full) => full,
            };
            let held = f.blocks();
            let list = held
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            if full == Full::AtLimit {
                return Err(IpamError::Exhausted {
                    family,
                    reason: format!(
                        "blocks {list} are full and ipam.max_blocks_per_host ({}) are held",
                        self.max_blocks
                    ),
                });
            }
            let Some(borrowable) = &self.borrowable else {
                return Err(IpamError::NeedBlock { family });
            };
            let next = borrowable
                .iter()
                .find(|b| b.addr().is_ipv6() == v6 && !held.contains(b))
                .copied();
            let Some(block) = next else {
                return Err(IpamError::Exhausted {
                    family,
                    reason: format!(
                        "blocks {list} are full and no other block may be borrowed (ipam.blocks)"
                    ),
                });
            };
            f.add_block(block, false, now);
            records.push(Record::AddBlock {
                block,
                primary: false,
            });
        }
    }

    /// Forget an allocation that was not acknowledged, and the blocks borrowed for it.
    fn undo(&mut self, key: &AllocationKey, had_v4: bool, records: &[Record], now: u64) {
        if !had_v4 {
            self.state.v4.release(key, now);
        }
        if let Some(f) = self.state.v6.as_mut() {
            f.release(key, now);
        }
        for r in records {
            if let Record::AddBlock { block, .. } = r {
                let _ = self
                    .state
                    .apply(&Record::RemoveBlock { block: *block }, now);
            }
        }
    }

    /// Apply `records` in memory and journal them; on a journal failure memory is restored.
    fn commit(&mut self, records: Vec<Record>, now: u64) -> Result<(), IpamError> {
        if records.is_empty() {
            return Ok(());
        }
        let before = self.state.clone();
        for r in &records {
            if let Err(m) = self.state.apply(r, now) {
                self.state = before;
                return Err(IpamError::BadConfig {
                    field: "ipam",
                    message: m,
                });
            }
        }
        if let Err(e) = self.store.append(&records, &self.state) {
            self.state = before;
            return Err(e);
        }
        Ok(())
    }
}
