//! The `etcd` datastore: block affinities claimed with etcd v3 transactions.
//!
//! A block is claimed by creating `PREFIX/ipam/blocks/NET-LEN` (value: the node name) in a
//! transaction that succeeds only if the key does not exist (compare `create_revision == 0`):
//! of racing hosts exactly one wins, the others pick the next free block. Every claim is put
//! on the host's lease, whose TTL is `ipam.block_grace_period`; a live agent keeps the lease
//! alive, so a dead host's blocks vanish a grace period after its last keep-alive, and other
//! hosts may claim them. Allocations stay in the host's own journal (see [`crate::store`]): an
//! address belongs to the host holding its block, so only blocks need cluster-wide agreement.
//!
//! A watch on the block keys puts back at once a held block whose key disappears (deleted by
//! hand, or its lease revoked from outside).
//!
//! If the lease is lost anyway (etcd unreachable for longer than the TTL), the keeper grants a
//! new one and puts the held blocks back on it; a block another host claimed meanwhile is
//! logged as a conflict (two hosts announcing one block, which BGP conflict tracking shows too).

use std::collections::{BTreeSet, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};

use etcd_client::{Client, Compare, CompareOp, GetOptions, PutOptions, Txn, TxnOp};
use ipnet::IpNet;
use tokio::task::JoinHandle;

use crate::addr::{nth_subnet, subnet_count};
use crate::IpamError;

mod access;
mod background;
mod cert;
mod registry;
mod source;
use access::Credentials;
pub use access::{EtcdPassword, EtcdSecurity};
use background::{keep_alive, watch_blocks};
pub use registry::{Hosts, Registry};
pub use source::EtcdSource;

/// The host's view of the cluster's block claims in etcd.
pub struct EtcdBlocks {
    client: Client,
    prefix: String,
    node: String,
    shared: Arc<Shared>,
    keeper: JoinHandle<()>,
    watcher: JoinHandle<()>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) lease: Mutex<i64>,
    pub(crate) held: Mutex<BTreeSet<IpNet>>,
    /// This host's registration (`PREFIX/hosts/NODE`), put back with the blocks on a new lease.
    pub(crate) registration: Mutex<Option<String>>,
    /// Who we authenticate as, to do it again when etcd forgot our token.
    pub(crate) credentials: Option<Credentials>,
}

impl Shared {
    pub(crate) fn lease(&self) -> i64 {
        self.lease.lock().map(|l| *l).unwrap_or_default()
    }
}

/// Authenticate again if `e` says etcd lost our token (it restarted, the token expired);
/// true if that worked and the operation is worth retrying.
pub(crate) async fn renew_token(client: &Client, shared: &Shared, e: &etcd_client::Error) -> bool {
    let Some(c) = &shared.credentials else {
        return false;
    };
    if !access::token_lost(e) {
        return false;
    }
    // The stale token must not travel with the request for a new one.
    let mut auth = client.auth_client();
    auth.remove_client_auth();
    auth.set_client_auth(c.user.clone(), c.password.clone())
        .await
        .is_ok()
}

impl std::fmt::Debug for EtcdBlocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdBlocks")
            .field("prefix", &self.prefix)
            .field("node", &self.node)
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl Drop for EtcdBlocks {
    fn drop(&mut self) {
        // No more keep-alives: the lease runs out after its TTL, as for a dead host.
        self.keeper.abort();
        self.watcher.abort();
    }
}

impl EtcdBlocks {
    /// Connect (with TLS and authentication as `security` asks), grant the host's lease (TTL
    /// `ttl_secs`) and start keeping it alive. A failure names the `ipam.etcd` key to look at.
    pub async fn connect(
        endpoints: &[String],
        security: &EtcdSecurity,
        prefix: &str,
        node: &str,
        ttl_secs: u64,
    ) -> Result<EtcdBlocks, IpamError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let (options, credentials) = security.connect_options(endpoints, now)?;
        let mut client = Client::connect(endpoints, Some(options))
            .await
            .map_err(|e| security.explain(endpoints, "connect", &e))?;
        let ttl = i64::try_from(ttl_secs.max(2)).unwrap_or(i64::MAX);
        let lease = client
            .lease_grant(ttl, None)
            .await
            .map_err(|e| security.explain(endpoints, "grant the host lease", &e))?
            .id();
        // Reading the claims checks the user may use the prefix now rather than at the first
        // container.
        client
            .get(
                format!("{}/ipam/blocks/", prefix.trim_end_matches('/')),
                Some(GetOptions::new().with_prefix().with_count_only()),
            )
            .await
            .map_err(|e| {
                security.explain(endpoints, &format!("read the keys under {prefix}"), &e)
            })?;
        let shared = Arc::new(Shared {
            lease: Mutex::new(lease),
            held: Mutex::new(BTreeSet::new()),
            registration: Mutex::new(None),
            credentials,
        });
        let prefix = prefix.trim_end_matches('/').to_string();
        let keeper = tokio::spawn(keep_alive(
            client.clone(),
            shared.clone(),
            prefix.clone(),
            node.to_string(),
            ttl,
        ));
        let watcher = tokio::spawn(watch_blocks(
            client.clone(),
            shared.clone(),
            prefix.clone(),
            node.to_string(),
        ));
        Ok(EtcdBlocks {
            client,
            prefix,
            node: node.to_string(),
            shared,
            keeper,
            watcher,
        })
    }

    /// The host's current lease id.
    pub fn lease(&self) -> i64 {
        self.shared.lease()
    }

    /// The cluster's host registry, on this host's lease.
    pub fn registry(&self) -> Registry {
        Registry::new(
            self.client.clone(),
            self.shared.clone(),
            &self.prefix,
            &self.node,
        )
    }

    /// Run `op` on the client, once more after authenticating again if etcd lost our token.
    async fn with_token<T, F, Fut>(&self, op: F) -> Result<T, etcd_client::Error>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        match op(self.client.clone()).await {
            Err(e) if renew_token(&self.client, &self.shared, &e).await => {
                op(self.client.clone()).await
            }
            other => other,
        }
    }

    /// Claim the first free `/len` block of `range` that is not in `held`; `None` if every block
    /// is claimed.
    pub async fn claim(
        &self,
        range: IpNet,
        len: u8,
        held: &[IpNet],
    ) -> Result<Option<IpNet>, IpamError> {
        let count = subnet_count(range, len);
        // A lost race means another host took that block: look again, a bounded number of times.
        for _ in 0..64 {
            let taken: HashSet<IpNet> = self.claims().await?.into_iter().map(|(b, _)| b).collect();
            let mut index: u128 = 0;
            let candidate = loop {
                if index >= count {
                    break None;
                }
                match nth_subnet(range, len, index) {
                    Some(b) if taken.contains(&b) || held.contains(&b) => index += 1,
                    other => break other,
                }
            };
            let Some(block) = candidate else {
                return Ok(None);
            };
            let key = block_key(&self.prefix, block);
            let txn = Txn::new()
                .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
                .and_then([TxnOp::put(
                    key,
                    self.node.clone(),
                    Some(PutOptions::new().with_lease(self.lease())),
                )]);
            if self
                .with_token(|mut c| {
                    let txn = txn.clone();
                    async move { c.txn(txn).await }
                })
                .await
                .map_err(etcd("claiming a block"))?
                .succeeded()
            {
                self.hold(block);
                return Ok(Some(block));
            }
        }
        Err(IpamError::Etcd("lost 64 races for a block in a row".into()))
    }

    /// Claim `block` again on the current lease (after a restart): it must be free or ours.
    pub async fn reclaim(&self, block: IpNet) -> Result<(), IpamError> {
        let mut client = self.client.clone();
        let mut result = put_back(&mut client, &self.prefix, &self.node, self.lease(), block).await;
        if let Err(e) = &result {
            if renew_token(&self.client, &self.shared, e).await {
                result = put_back(&mut client, &self.prefix, &self.node, self.lease(), block).await;
            }
        }
        match result.map_err(etcd("re-claiming a block"))? {
            None => {
                self.hold(block);
                Ok(())
            }
            Some(owner) => Err(IpamError::Etcd(format!(
                "block {block} of this host's state is claimed by {owner} in etcd: two hosts \
                 would use the same addresses (was this host down longer than \
                 ipam.block_grace_period?)"
            ))),
        }
    }

    /// Give `block` back, if it is still ours.
    pub async fn release(&self, block: IpNet) -> Result<(), IpamError> {
        // Forget it first, so the watcher does not take the deletion for a loss to repair.
        if let Ok(mut held) = self.shared.held.lock() {
            held.remove(&block);
        }
        let key = block_key(&self.prefix, block);
        let txn = Txn::new()
            .when([Compare::value(
                key.clone(),
                CompareOp::Equal,
                self.node.clone(),
            )])
            .and_then([TxnOp::delete(key, None)]);
        self.with_token(|mut c| {
            let txn = txn.clone();
            async move { c.txn(txn).await }
        })
        .await
        .map_err(etcd("releasing a block"))?;
        Ok(())
    }

    /// Every claimed block of the cluster and its owner.
    pub async fn claims(&self) -> Result<Vec<(IpNet, String)>, IpamError> {
        let dir = format!("{}/ipam/blocks/", self.prefix);
        let resp = self
            .with_token(|mut c| {
                let dir = dir.clone();
                async move { c.get(dir, Some(GetOptions::new().with_prefix())).await }
            })
            .await
            .map_err(etcd("listing blocks"))?;
        Ok(resp
            .kvs()
            .iter()
            .filter_map(|kv| {
                let net = block_of(kv.key_str().ok()?)?;
                Some((net, kv.value_str().ok()?.to_string()))
            })
            .collect())
    }

    fn hold(&self, block: IpNet) {
        if let Ok(mut held) = self.shared.held.lock() {
            held.insert(block);
        }
    }
}

/// `PREFIX/ipam/blocks/10.244.1.0-24`: one key per block, listed with one prefix get.
fn block_key(prefix: &str, block: IpNet) -> String {
    format!(
        "{prefix}/ipam/blocks/{}",
        block.to_string().replacen('/', "-", 1)
    )
}

/// Put `block` on `lease` if it is free or already ours; `Some(owner)` if another host has it.
pub(crate) async fn put_back(
    client: &mut Client,
    prefix: &str,
    node: &str,
    lease: i64,
    block: IpNet,
) -> Result<Option<String>, etcd_client::Error> {
    let key = block_key(prefix, block);
    let put = || {
        TxnOp::put(
            key.clone(),
            node.to_string(),
            Some(PutOptions::new().with_lease(lease)),
        )
    };
    let ours = Txn::new()
        .when([Compare::value(
            key.clone(),
            CompareOp::Equal,
            node.to_string(),
        )])
        .and_then([put()]);
    if client.txn(ours).await?.succeeded() {
        return Ok(None);
    }
    let free = Txn::new()
        .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
        .and_then([put()])
        .or_else([TxnOp::get(key.clone(), None)]);
    let resp = client.txn(free).await?;
    if resp.succeeded() {
        return Ok(None);
    }
    let owner = resp
        .op_responses()
        .into_iter()
        .find_map(|r| match r {
            etcd_client::TxnOpResponse::Get(g) => g
                .kvs()
                .first()
                .and_then(|kv| kv.value_str().ok().map(str::to_string)),
            _ => None,
        })
        .unwrap_or_else(|| "another host".into());
    Ok(Some(owner))
}

/// The block named by a key under `PREFIX/ipam/blocks/`.
pub(crate) fn block_of(key: &str) -> Option<IpNet> {
    key.rsplit('/').next()?.replacen('-', "/", 1).parse().ok()
}

fn etcd(what: &'static str) -> impl FnOnce(etcd_client::Error) -> IpamError {
    move |e| IpamError::Etcd(format!("{what}: {e}"))
}
