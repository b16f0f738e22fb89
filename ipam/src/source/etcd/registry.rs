//! The cluster's hosts: each latticed registers itself under `PREFIX/hosts/NODE` on its host
//! lease, so its record goes a TTL after it stops keeping the lease alive (like its blocks), and
//! watches everyone's. What a record says is the agent's business: here it is a string.
//!
//! The watch lists the records, then follows changes from the listing's revision; when the
//! stream breaks (etcd restarted, compaction), it lists again. While etcd is unreachable the
//! last known set stays: hosts are not forgotten because the datastore is.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, EventType, GetOptions, PutOptions, WatchOptions};
use tokio::sync::watch;
use tracing::{debug, warn};

use super::{renew_token, Shared};
use crate::IpamError;

/// Every registered host: node name -> its record.
pub type Hosts = BTreeMap<String, String>;

/// This host's handle on the registry.
#[derive(Clone)]
pub struct Registry {
    client: Client,
    shared: Arc<Shared>,
    prefix: String,
    node: String,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("prefix", &self.prefix)
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

/// `PREFIX/hosts/`.
fn dir(prefix: &str) -> String {
    format!("{prefix}/hosts/")
}

impl Registry {
    pub(crate) fn new(client: Client, shared: Arc<Shared>, prefix: &str, node: &str) -> Self {
        Self {
            client,
            shared,
            prefix: prefix.to_string(),
            node: node.to_string(),
        }
    }

    /// Register this host (or change its record) on its lease. The record is kept: it is put
    /// back on a new lease after the old one was lost, and after its key was deleted.
    pub async fn register(&self, record: String) -> Result<(), IpamError> {
        if let Ok(mut r) = self.shared.registration.lock() {
            *r = Some(record);
        }
        let mut client = self.client.clone();
        let mut result =
            put_registration(&mut client, &self.shared, &self.prefix, &self.node).await;
        if let Err(e) = &result {
            if renew_token(&self.client, &self.shared, e).await {
                result =
                    put_registration(&mut client, &self.shared, &self.prefix, &self.node).await;
            }
        }
        result.map_err(|e| IpamError::Etcd(format!("registering this host: {e}")))
    }

    /// Every registered host, kept current by a task that ends when the last receiver is
    /// dropped. `None` until the first listing succeeded.
    pub fn watch(&self) -> watch::Receiver<Option<Hosts>> {
        let (tx, rx) = watch::channel(None);
        tokio::spawn(follow(self.clone(), tx));
        rx
    }
}

/// Put this host's record, if it has one, on its current lease.
pub(crate) async fn put_registration(
    client: &mut Client,
    shared: &Shared,
    prefix: &str,
    node: &str,
) -> Result<(), etcd_client::Error> {
    let record = shared.registration.lock().ok().and_then(|r| r.clone());
    let Some(record) = record else {
        return Ok(());
    };
    let options = PutOptions::new().with_lease(shared.lease());
    client
        .put(format!("{}{node}", dir(prefix)), record, Some(options))
        .await
        .map(|_| ())
}

/// List, then follow changes; list again whenever the stream breaks.
async fn follow(registry: Registry, tx: watch::Sender<Option<Hosts>>) {
    let Registry {
        mut client,
        shared,
        prefix,
        node,
    } = registry;
    let dir = dir(&prefix);
    let own = format!("{dir}{node}");
    let retry = Duration::from_millis(500);
    while !tx.is_closed() {
        let listed = client
            .get(dir.clone(), Some(GetOptions::new().with_prefix()))
            .await;
        let resp = match listed {
            Ok(resp) => resp,
            Err(e) => {
                debug!(error = %e, "listing the cluster's hosts");
                renew_token(&client, &shared, &e).await;
                tokio::time::sleep(retry).await;
                continue;
            }
        };
        let revision = resp.header().map_or(0, |h| h.revision());
        let mut hosts: Hosts = resp
            .kvs()
            .iter()
            .filter_map(|kv| Some((name(kv.key_str().ok()?, &dir)?, kv.value_str().ok()?.into())))
            .collect();
        tx.send_replace(Some(hosts.clone()));
        let options = WatchOptions::new()
            .with_prefix()
            .with_start_revision(revision.saturating_add(1));
        let (_watcher, mut stream) = match client.watch(dir.clone(), Some(options)).await {
            Ok(w) => w,
            Err(e) => {
                renew_token(&client, &shared, &e).await;
                tokio::time::sleep(retry).await;
                continue;
            }
        };
        loop {
            let message = tokio::select! {
                m = stream.message() => m,
                () = tx.closed() => return,
            };
            let Ok(Some(resp)) = message else {
                break;
            };
            if resp.canceled() {
                break;
            }
            let mut own_deleted = false;
            for ev in resp.events() {
                let Some(kv) = ev.kv() else { continue };
                let Some(host) = kv.key_str().ok().and_then(|k| name(k, &dir)) else {
                    continue;
                };
                match ev.event_type() {
                    EventType::Put => {
                        if let Ok(v) = kv.value_str() {
                            hosts.insert(host, v.to_string());
                        }
                    }
                    EventType::Delete => {
                        own_deleted |= kv.key_str().is_ok_and(|k| k == own);
                        hosts.remove(&host);
                    }
                }
            }
            tx.send_replace(Some(hosts.clone()));
            if own_deleted {
                // Deleted by hand, or our lease revoked from outside: register again (the
                // keeper handles an expired lease).
                if let Err(e) = put_registration(&mut client, &shared, &prefix, &node).await {
                    warn!(error = %e, "registering this host again after its key was deleted");
                }
            }
        }
        tokio::time::sleep(retry).await;
    }
}

/// The node name of a key under `dir`.
fn name(key: &str, dir: &str) -> Option<String> {
    let n = key.strip_prefix(dir)?;
    (!n.is_empty() && !n.contains('/')).then(|| n.to_string())
}
