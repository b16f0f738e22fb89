//! [`EtcdSource`]: the `etcd` datastore as a [`BlockSource`]. Built from the settings without
//! I/O; [`BlockSource::start`] connects.

use std::any::Any;

use async_trait::async_trait;
use ipnet::IpNet;

use super::{EtcdBlocks, EtcdSecurity};
use crate::source::checks::check_len;
use crate::source::{family, BlockSource, FixedBlocks};
use crate::{IpamError, IpamSettings};

/// Blocks claimed in etcd, one at a time, on this host's lease.
#[derive(Debug)]
pub struct EtcdSource {
    endpoints: Vec<String>,
    security: EtcdSecurity,
    prefix: String,
    node: String,
    ttl_secs: u64,
    /// The connection, once started.
    blocks: Option<EtcdBlocks>,
}

impl EtcdSource {
    /// The source for `node` under `prefix` at `endpoints`; checks the block sizes (there is
    /// nothing else to check before connecting).
    pub(crate) fn new(
        s: &IpamSettings,
        endpoints: &[String],
        security: &EtcdSecurity,
        prefix: &str,
        node: &str,
    ) -> Result<Self, IpamError> {
        check_len(
            IpNet::V4(s.cluster),
            s.block_prefix_len,
            "cluster.block_prefix_len",
        )?;
        if let Some(c6) = s.cluster_v6 {
            check_len(
                IpNet::V6(c6),
                s.block_prefix_len_v6,
                "cluster.block_prefix_len_v6",
            )?;
        }
        Ok(EtcdSource {
            endpoints: endpoints.to_vec(),
            security: security.clone(),
            prefix: prefix.to_string(),
            node: node.to_string(),
            ttl_secs: s.grace_period_secs,
            blocks: None,
        })
    }

    /// The connection to etcd, once [`BlockSource::start`] made it.
    pub fn blocks(&self) -> Option<&EtcdBlocks> {
        self.blocks.as_ref()
    }

    fn connected(&self) -> Result<&EtcdBlocks, IpamError> {
        self.blocks
            .as_ref()
            .ok_or_else(|| IpamError::Etcd("not connected yet".into()))
    }
}

#[async_trait]
impl BlockSource for EtcdSource {
    fn fixed(&self) -> Option<&FixedBlocks> {
        None
    }

    /// Connect, grant the host lease, and claim the blocks we held before a restart again:
    /// they are still ours while our old lease lives, and free (or ours again) after.
    async fn start(&mut self, held: &[IpNet]) -> Result<(), IpamError> {
        let etcd = EtcdBlocks::connect(
            &self.endpoints,
            &self.security,
            &self.prefix,
            &self.node,
            self.ttl_secs,
        )
        .await?;
        for block in held {
            etcd.reclaim(*block).await?;
        }
        self.blocks = Some(etcd);
        Ok(())
    }

    async fn claim(&self, range: IpNet, len: u8, held: &[IpNet]) -> Result<IpNet, IpamError> {
        match self.connected()?.claim(range, len, held).await? {
            Some(block) => Ok(block),
            None => Err(IpamError::Exhausted {
                family: family(range),
                reason: format!("every /{len} block of the cluster range {range} is claimed"),
            }),
        }
    }

    async fn release(&self, block: IpNet) -> Result<(), IpamError> {
        self.connected()?.release(block).await
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
