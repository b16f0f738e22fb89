//! latticed's wiring: config -> IPAM, kernel, BGP speaker and API, connected by channels.
//!
//! Nothing here decides anything on its own; the decisions live in the sans-IO cores
//! ([`ipam`], [`bgp::fsm`], [`bgp::rib`], [`crate::dataplane`]).

mod attachments;
mod blocks;
pub mod conflicts;
mod container_watch;
mod docker;
mod fan;
mod handler;
mod learned;
mod queries;
pub mod reconciler;

use std::future::Future;
use std::sync::Arc;

use tokio::sync::Mutex;
use tracing::{info, warn};

use crate::api;
use crate::config::Config;
use crate::dataplane;
use crate::kernel::{Kernel, NetlinkKernel};
use crate::metrics::{self, Metrics};

pub use handler::AgentHandler;
pub use reconciler::{Reconciler, Timing};

/// Why latticed could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The IPAM state could not be opened.
    #[error("ipam: {0}")]
    Ipam(#[from] ipam::IpamError),
    /// Talking to the kernel failed at start-up.
    #[error("kernel: {0}")]
    Kernel(#[from] crate::kernel::KernelError),
    /// Preparing the host's dataplane failed.
    #[error("dataplane: {0}")]
    Dataplane(#[from] dataplane::DataplaneError),
    /// The configured dataplane mode cannot work on this host (e.g. no ipvlan in the kernel).
    #[error("{0}")]
    Refused(String),
    /// A socket could not be bound.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Underlying error.
        source: std::io::Error,
    },
}

/// Run latticed until `shutdown` resolves.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), DaemonError> {
    let buffer = usize::try_from(config.dataplane.netlink_receive_buffer).unwrap_or(usize::MAX);
    let kernel: Arc<dyn Kernel> =
        Arc::new(NetlinkKernel::current().await?.with_event_buffer(buffer));
    let settings = fan::ipam_settings(&config, kernel.as_ref()).await;
    let ipam = ipam::Allocator::open(&settings, handler::now()).await?;
    let held = ipam.ipam().blocks();
    let Some(ipnet::IpNet::V4(block)) = held.first().copied() else {
        return Err(DaemonError::Ipam(ipam::IpamError::BadConfig {
            field: "ipam",
            message: "no IPv4 block is held".into(),
        }));
    };
    let block_v6 = held.iter().find_map(|b| match b {
        ipnet::IpNet::V6(b) => Some(*b),
        ipnet::IpNet::V4(_) => None,
    });
    info!(node = %config.node.name, blocks = ?held, "starting");

    dataplane::prepare_host(kernel.as_ref()).await?;
    // Our routes still in the kernel mean a restart (an upgrade, a crash): forwarding went on,
    // so peers may keep our routes until we are back (RFC 4724 restarting speaker).
    let restarted = kernel
        .routes(dataplane::RTPROT_LATTICE)
        .await
        .map(|r| !r.is_empty())
        .unwrap_or(false);
    if restarted {
        info!("routes of a previous run found: announcing a graceful restart");
    }

    // Adoption: the first resync keeps whatever is already right (no flush), adds what is
    // missing, and leaves learned routes of the previous run until the sessions re-learned them.
    let store = config.ipam.state_dir.join(attachments::FILE);
    let wiring = wiring(&config);
    if let Err(e) = wiring.prepare(kernel.as_ref()).await {
        let mode = &config.dataplane.mode;
        return Err(if dataplane::ipvlan::is_unsupported(&e) {
            DaemonError::Refused(format!(
                "dataplane.mode {mode} needs ipvlan, and this kernel has none ({e}); \
                 use dataplane.mode routed-veth here, or load the ipvlan module"
            ))
        } else {
            DaemonError::Refused(format!("dataplane.mode {mode}: {e}"))
        });
    }
    let reconciler = Arc::new(Reconciler::with_wiring(
        kernel.clone(),
        held.clone(),
        Some(store),
        wiring,
    ));
    reconciler.resync().await?;

    let listener = api::server::bind(&config.api.socket).map_err(|source| DaemonError::Io {
        what: format!("api.socket {}", config.api.socket.display()),
        source,
    })?;

    let metrics_listener = match &config.metrics {
        m if m.enabled => Some(tokio::net::TcpListener::bind(m.listen).await.map_err(
            |source| DaemonError::Io {
                what: format!("metrics.listen {}", m.listen),
                source,
            },
        )?),
        _ => None,
    };

    let (speaker, changes) = bgp::driver::Speaker::start(speaker_config(&config, restarted))
        .await
        .map_err(|source| DaemonError::Io {
            what: format!("bgp.listen {}", config.bgp.listen_addr()),
            source,
        })?;
    let conflicts = Arc::new(conflicts::Conflicts::default());
    let metrics =
        Arc::new(
            Metrics::new(Some(Box::new(speaker.clone()))).map_err(|e| DaemonError::Io {
                what: "registering metrics".into(),
                source: std::io::Error::other(e),
            })?,
        );
    queries::publish_usage(&metrics, ipam.ipam());
    let watched = conflicts.clone();
    metrics
        .watch_block_conflicts(move || watched.count())
        .map_err(|e| DaemonError::Io {
            what: "registering metrics".into(),
            source: std::io::Error::other(e),
        })?;
    let (metrics_stop, metrics_stopped) = tokio::sync::oneshot::channel::<()>();
    if let Some(listener) = metrics_listener {
        info!(listen = %config.metrics.listen, "serving Prometheus metrics at /metrics");
        tokio::spawn(metrics::server::serve(listener, metrics.clone(), async {
            let _ = metrics_stopped.await;
        }));
    }
    reconciler.set_metrics(metrics.clone());
    // Before the first block sync: sessions may already have brought in a conflicting prefix.
    conflicts.set_metrics(metrics.clone());

    let announcer = Arc::new(blocks::BlockAnnouncer::new(
        reconciler.clone(),
        speaker.clone(),
        conflicts.clone(),
    ));
    // A blackhole per held block and every held block announced (IPv4 and IPv6).
    announcer.sync(held).await?;

    let (learned_tx, learned_rx) = tokio::sync::mpsc::channel(64);
    learned::spawn(clusters(&config), conflicts.clone(), changes, learned_tx);
    let timing = Timing {
        resync: std::time::Duration::from_secs(u64::from(config.dataplane.resync_interval)),
        ..Timing::default()
    };
    let driver = tokio::spawn(reconciler.clone().run(learned_rx, timing));
    let handler = Arc::new(AgentHandler::new(
        config.clone(),
        Mutex::new(ipam),
        kernel.clone(),
        speaker.clone(),
        reconciler.clone(),
        metrics.clone(),
        announcer,
        conflicts,
    ));
    let reaper = tokio::spawn(reap_blocks(handler.clone(), config.ipam.block_grace_period));
    let leaked = metrics
        .leaked_attachments_released()
        .map_err(|e| DaemonError::Io {
            what: "registering metrics".into(),
            source: std::io::Error::other(e),
        })?;
    // Attachments whose namespace is gone and whose DEL never came (0: never released).
    let leak_grace = config.ipam.leak_grace_period;
    let leaks = (leak_grace > 0).then(|| {
        tokio::spawn(handler::leaks::reap_forever(
            handler.clone(),
            leak_grace,
            leaked,
        ))
    });

    let (stop_docker, docker_stopped) = tokio::sync::watch::channel(false);
    let docker_task = if config.docker.enabled {
        let mtu = handler.mtu().await;
        docker::spawn(
            &config,
            handler.clone(),
            kernel.clone(),
            block,
            block_v6,
            mtu,
            docker_stopped,
        )
    } else {
        None
    };

    api::server::serve(listener, handler, shutdown).await;
    reaper.abort();
    if let Some(leaks) = leaks {
        leaks.abort();
    }
    let _ = stop_docker.send(true);
    if let Some(task) = docker_task {
        let _ = task.await;
        if let Err(e) = std::fs::remove_file(&config.docker.socket) {
            warn!(error = %e, "removing docker plugin socket");
        }
    }
    driver.abort();
    info!("shutting down: BGP sessions closed, kernel routes left in place");
    let _ = metrics_stop.send(());
    speaker.shutdown().await;
    if let Err(e) = std::fs::remove_file(&config.api.socket) {
        warn!(error = %e, "removing api socket");
    }
    Ok(())
}

/// Every tenth of the grace period (at least every second, at most every minute), give back
/// the borrowed blocks that stayed empty for the grace period.
async fn reap_blocks(handler: Arc<AgentHandler>, grace_secs: u64) {
    let period = std::time::Duration::from_secs((grace_secs / 10).clamp(1, 60));
    loop {
        tokio::time::sleep(period).await;
        handler.reap_blocks().await;
    }
}

/// The cluster ranges learned routes may fall in: `cluster.cidr` and `cluster.cidr_v6`.
fn clusters(config: &Config) -> Vec<ipnet::IpNet> {
    let v6 = config.cluster.cidr_v6.map(ipnet::IpNet::V6);
    std::iter::once(ipnet::IpNet::V4(config.cluster.cidr))
        .chain(v6)
        .collect()
}

/// The wiring `dataplane.mode` asks for (validated config: ipvlan modes have a parent).
fn wiring(config: &Config) -> dataplane::Wiring {
    let mode = match config.dataplane.mode.as_str() {
        "ipvlan-l3" => crate::kernel::IpvlanMode::L3,
        "ipvlan-l3s" => crate::kernel::IpvlanMode::L3s,
        _ => return dataplane::Wiring::RoutedVeth,
    };
    dataplane::Wiring::Ipvlan(dataplane::IpvlanWiring {
        parent: config.dataplane.parent.clone().unwrap_or_default(),
        mode,
        // Not the router id: that is usually the parent's own address, and ipvlan would then
        // steal the parent's ARP and BGP traffic for the slave.
        host_address: dataplane::GATEWAY,
    })
}

/// `latticed --cleanup`: removes every route and host interface Lattice programmed in this
/// namespace, and the attachment records; IPAM state is kept. Returns (routes, links) removed.
pub async fn cleanup(config: &Config) -> Result<(usize, usize), DaemonError> {
    let kernel = NetlinkKernel::current().await?;
    let removed = reconciler::cleanup(&kernel).await?;
    let store = config.ipam.state_dir.join(attachments::FILE);
    match std::fs::remove_file(&store) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            warn!(error = %e, "removing {}", store.display())
        }
        _ => {}
    }
    Ok(removed)
}

/// The speaker's configuration; `restarted` when routes of a previous run are still in the
/// kernel, so the OPEN says so (RFC 4724 Restart State and Forwarding State).
fn speaker_config(config: &Config, restarted: bool) -> bgp::driver::SpeakerConfig {
    let gr = &config.bgp.graceful_restart;
    bgp::driver::SpeakerConfig {
        local_as: config.node.asn,
        router_id: config.node.router_id,
        listen: Some(config.bgp.listen_addr()),
        graceful_restart: gr.enabled.then_some(bgp::fsm::GrOptions {
            restart_time: gr.restart_time,
            restarting: restarted,
            forwarding: restarted,
        }),
        hostname: Some(config.node.name.clone()),
        multipath: bgp::driver::Multipath {
            relax: config.bgp.multipath.relax,
            maximum_paths: usize::from(config.bgp.multipath.maximum_paths),
        },
        peers: config
            .bgp
            .peers
            .iter()
            .map(|p| bgp::driver::PeerConfig {
                peer: p.key(),
                port: p.port,
                remote_as: p.asn.into(),
                hold_time: p.hold_time,
                connect_retry: std::time::Duration::from_secs(u64::from(p.connect_retry)),
                passive: p.passive,
                local_address: p.local_address,
                keepalive: p.keepalive,
                // No import list: the safe default (RFC 8212's aim) of cluster range + default.
                import: match &p.import {
                    Some(rules) => bgp::policy::ImportPolicy {
                        rules: rules.clone(),
                    },
                    None => bgp::policy::ImportPolicy::cluster_default(&clusters(config)),
                },
                export: p.export.clone(),
                max_prefixes: p.max_prefixes,
                allow_as_in: p.allow_as_in,
                password: p.password.clone(),
                communities: p
                    .parsed_communities()
                    .into_iter()
                    .filter_map(|c| match c {
                        crate::config::Community::Standard(v) => Some(v),
                        crate::config::Community::Large(_) => None,
                    })
                    .collect(),
                large_communities: p
                    .parsed_communities()
                    .into_iter()
                    .filter_map(|c| match c {
                        crate::config::Community::Large(v) => Some(v),
                        crate::config::Community::Standard(_) => None,
                    })
                    .collect(),
                families: bgp::driver::Families {
                    ipv4: p.has_family("ipv4"),
                    ipv6: p.has_family("ipv6"),
                },
                ipv4_next_hop: p.ipv4_next_hop,
                ipv6_next_hop: p.ipv6_next_hop,
            })
            .collect(),
    }
}
