//! [`Allocator`]: [`Ipam`] driven with its datastore. For `local` and `fan` the datastore has
//! nothing to say after start; for `etcd` this is where blocks are claimed and given back.

use std::collections::HashSet;

use ipnet::IpNet;
use tracing::{info, warn};

use crate::etcd::EtcdBlocks;
use crate::{AllocationKey, Assigned, Datastore, Ipam, IpamError, IpamSettings};

/// The host's IPAM with its datastore.
#[derive(Debug)]
pub struct Allocator {
    ipam: Ipam,
    etcd: Option<EtcdBlocks>,
    settings: IpamSettings,
}

impl Allocator {
    /// Open the local state and, for `etcd`, connect, re-claim the blocks the state holds and
    /// claim a primary block per family if there is none.
    pub async fn open(settings: &IpamSettings, now: u64) -> Result<Allocator, IpamError> {
        let mut ipam = Ipam::open(settings, now)?;
        let etcd = match &settings.datastore {
            Datastore::Etcd {
                endpoints,
                prefix,
                node,
            } => {
                let etcd = EtcdBlocks::connect(endpoints, prefix, node, settings.grace_period_secs)
                    .await?;
                // Blocks we held before a restart are still ours while our old lease lives, and
                // free (or ours again) after: claim them on the new lease, or fail loudly.
                for block in ipam.blocks() {
                    etcd.reclaim(block).await?;
                }
                let mut families = vec![(IpNet::V4(settings.cluster), settings.block_prefix_len)];
                if let Some(c6) = settings.cluster_v6 {
                    families.push((IpNet::V6(c6), settings.block_prefix_len_v6));
                }
                for (range, len) in families {
                    if ipam.primary(range.addr().is_ipv6()).is_none() {
                        let block = claim(&etcd, range, len, &ipam.blocks()).await?;
                        ipam.ensure_primary(block, now)?;
                    }
                }
                Some(etcd)
            }
            _ => None,
        };
        Ok(Allocator {
            ipam,
            etcd,
            settings: settings.clone(),
        })
    }

    /// The addresses of `key`, allocating them (and claiming blocks) as needed.
    pub async fn allocate(&mut self, key: &AllocationKey, now: u64) -> Result<Assigned, IpamError> {
        // Each round either succeeds or adds a block; blocks are bounded per family.
        for _ in 0..=2 * self.ipam.max_blocks() {
            let family = match self.ipam.allocate(key, now) {
                Err(IpamError::NeedBlock { family }) => family,
                other => return other,
            };
            let (Some(etcd), v6) = (&self.etcd, family == "IPv6") else {
                return Err(IpamError::NeedBlock { family });
            };
            let (range, len) = match (v6, self.settings.cluster_v6) {
                (true, Some(c6)) => (IpNet::V6(c6), self.settings.block_prefix_len_v6),
                _ => (
                    IpNet::V4(self.settings.cluster),
                    self.settings.block_prefix_len,
                ),
            };
            let block = claim(etcd, range, len, &self.ipam.blocks()).await?;
            if let Err(e) = self.ipam.add_block(block, now) {
                // Not recorded locally: do not keep it claimed either.
                let _ = etcd.release(block).await;
                return Err(e);
            }
            info!(%block, "borrowed a block");
        }
        Err(IpamError::Etcd("no block could be claimed".into()))
    }

    /// Release `key`'s addresses (idempotent).
    pub fn release(
        &mut self,
        key: &AllocationKey,
        now: u64,
    ) -> Result<Option<Assigned>, IpamError> {
        self.ipam.release(key, now)
    }

    /// Release every key not in `keep`.
    pub fn gc(
        &mut self,
        keep: &HashSet<AllocationKey>,
        now: u64,
    ) -> Result<Vec<Assigned>, IpamError> {
        self.ipam.gc(keep, now)
    }

    /// Give back the borrowed blocks that stayed empty for the grace period; returns them.
    pub async fn reap(&mut self, now: u64) -> Result<Vec<IpNet>, IpamError> {
        let mut gone = Vec::new();
        for block in self.ipam.expired_blocks(now) {
            if self.ipam.remove_block(block, now)? {
                if let Some(etcd) = &self.etcd {
                    if let Err(e) = etcd.release(block).await {
                        // Our lease still covers it; the next start or lease expiry frees it.
                        warn!(%block, error = %e, "giving a block back to etcd");
                    }
                }
                info!(%block, "gave back a drained block");
                gone.push(block);
            }
        }
        Ok(gone)
    }

    /// The allocator itself, for reads.
    pub fn ipam(&self) -> &Ipam {
        &self.ipam
    }

    /// The etcd datastore, if configured.
    pub fn etcd(&self) -> Option<&EtcdBlocks> {
        self.etcd.as_ref()
    }
}

async fn claim(
    etcd: &EtcdBlocks,
    range: IpNet,
    len: u8,
    held: &[IpNet],
) -> Result<IpNet, IpamError> {
    match etcd.claim(range, len, held).await? {
        Some(block) => Ok(block),
        None => Err(IpamError::Exhausted {
            family: if range.addr().is_ipv6() {
                "IPv6"
            } else {
                "IPv4"
            },
            reason: format!("every /{len} block of the cluster range {range} is claimed"),
        }),
    }
}
