//! What runs beside the agent for the etcd datastore: the lease keeper and the block-key watcher.

use std::sync::Arc;
use std::time::Duration;

use etcd_client::Client;
use ipnet::IpNet;
use tracing::{error, info, warn};

use super::registry::put_registration;
use super::{block_of, put_back, renew_token, Shared};

/// Keep the lease alive every third of its TTL; across etcd restarts reconnect, and if the
/// lease expired, grant a new one and put the held blocks back on it.
pub(super) async fn keep_alive(
    mut client: Client,
    shared: Arc<Shared>,
    prefix: String,
    node: String,
    ttl: i64,
) {
    let period = Duration::from_millis(u64::try_from(ttl).unwrap_or(3).saturating_mul(1000) / 3);
    loop {
        let lease = shared.lease.lock().map(|l| *l).unwrap_or_default();
        let alive = match client.lease_keep_alive(lease).await {
            Ok((mut keeper, mut stream)) => loop {
                if keeper.keep_alive().await.is_err() {
                    break true;
                }
                match stream.message().await {
                    Ok(Some(resp)) if resp.ttl() > 0 => tokio::time::sleep(period).await,
                    Ok(Some(_)) => break false,
                    _ => break true,
                }
            },
            Err(e) => {
                renew_token(&client, &shared, &e).await;
                true
            }
        };
        if alive {
            // etcd unreachable or restarting: try again soon; the lease may still be valid.
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        warn!(
            lease,
            "the host lease expired: granting a new one and re-claiming our blocks"
        );
        let resp = match client.lease_grant(ttl, None).await {
            Ok(resp) => resp,
            Err(e) => {
                renew_token(&client, &shared, &e).await;
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        if let Ok(mut l) = shared.lease.lock() {
            *l = resp.id();
        }
        let held: Vec<IpNet> = shared
            .held
            .lock()
            .map(|h| h.iter().copied().collect())
            .unwrap_or_default();
        for block in held {
            match put_back(&mut client, &prefix, &node, resp.id(), block).await {
                Ok(None) => info!(%block, "block re-claimed on the new lease"),
                Ok(Some(owner)) => {
                    error!(%block, %owner, "block claimed by another host while our lease was lost")
                }
                Err(e) => warn!(%block, error = %e, "re-claiming a block"),
            }
        }
        if let Err(e) = put_registration(&mut client, &shared, &prefix, &node).await {
            warn!(error = %e, "registering this host again on the new lease");
        }
    }
}

/// Watch the cluster's block keys: a held block whose key is deleted (by hand, by a lease
/// revoked from outside) is put back at once rather than left for another host to take.
pub(super) async fn watch_blocks(
    mut client: Client,
    shared: Arc<Shared>,
    prefix: String,
    node: String,
) {
    let dir = format!("{prefix}/ipam/blocks/");
    loop {
        let opts = etcd_client::WatchOptions::new().with_prefix();
        let watched = client.watch(dir.clone(), Some(opts)).await;
        if let Err(e) = &watched {
            renew_token(&client, &shared, e).await;
        }
        if let Ok((_watcher, mut stream)) = watched {
            while let Ok(Some(resp)) = stream.message().await {
                for ev in resp.events() {
                    if ev.event_type() != etcd_client::EventType::Delete {
                        continue;
                    }
                    let Some(block) = ev.kv().and_then(|kv| block_of(kv.key_str().ok()?)) else {
                        continue;
                    };
                    let held = shared
                        .held
                        .lock()
                        .map(|h| h.contains(&block))
                        .unwrap_or(false);
                    if !held {
                        continue;
                    }
                    let lease = shared.lease.lock().map(|l| *l).unwrap_or_default();
                    match put_back(&mut client, &prefix, &node, lease, block).await {
                        Ok(None) => {
                            warn!(%block, "our block's key was deleted in etcd: claimed again")
                        }
                        Ok(Some(owner)) => {
                            error!(%block, %owner, "our block's key was deleted and another host claimed it")
                        }
                        // An expired lease: the keeper grants a new one and puts it back.
                        Err(e) => warn!(%block, error = %e, "re-claiming a deleted block key"),
                    }
                }
            }
        }
        // etcd unreachable or restarting: watch again soon.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
