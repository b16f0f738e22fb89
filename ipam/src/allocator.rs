//! [`Allocator`]: [`Ipam`] driven with its datastore ([`BlockSource`]). Sources with fixed
//! blocks (`local`, `fan`) have nothing to say after start; a claiming source (`etcd`) is where
//! blocks are claimed and given back.

use std::collections::HashSet;

use ipnet::IpNet;
use tracing::{info, warn};

use crate::etcd::{EtcdBlocks, EtcdSource};
use crate::{source, AllocationKey, Assigned, BlockSource, Ipam, IpamError, IpamSettings};

/// The host's IPAM with its datastore.
#[derive(Debug)]
pub struct Allocator {
    ipam: Ipam,
    source: Box<dyn BlockSource>,
    settings: IpamSettings,
}

impl Allocator {
    /// Open the local state, start the datastore (for `etcd`: connect and re-claim the blocks
    /// the state holds) and claim a primary block per family if there is none.
    pub async fn open(settings: &IpamSettings, now: u64) -> Result<Allocator, IpamError> {
        let mut source = source::configure(settings)?;
        let mut ipam = Ipam::open_with(settings, source.fixed(), now)?;
        source.start(&ipam.blocks()).await?;
        for (range, len) in settings.families() {
            if ipam.primary(range.addr().is_ipv6()).is_none() {
                let block = source.claim(range, len, &ipam.blocks()).await?;
                ipam.ensure_primary(block, now)?;
            }
        }
        Ok(Allocator {
            ipam,
            source,
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
            let (range, len) = self.settings.range(family == "IPv6");
            let block = self.source.claim(range, len, &self.ipam.blocks()).await?;
            if let Err(e) = self.ipam.add_block(block, now) {
                // Not recorded locally: do not keep it claimed either.
                let _ = self.source.release(block).await;
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
                if let Err(e) = self.source.release(block).await {
                    // Our lease still covers it; the next start or lease expiry frees it.
                    warn!(%block, error = %e, "giving a block back to the datastore");
                }
                info!(%block, "gave back a drained block");
                gone.push(block);
            }
        }
        Ok(gone)
    }

    /// Whether the datastore supplies another block when the held ones are full (`etcd`), so
    /// a host whose blocks are full may still take containers.
    pub fn claims_on_demand(&self) -> bool {
        self.source.fixed().is_none()
    }

    /// The allocator itself, for reads.
    pub fn ipam(&self) -> &Ipam {
        &self.ipam
    }

    /// The etcd datastore, if that is the one configured.
    pub fn etcd(&self) -> Option<&EtcdBlocks> {
        self.source
            .as_any()
            .downcast_ref::<EtcdSource>()
            .and_then(EtcdSource::blocks)
    }
}
