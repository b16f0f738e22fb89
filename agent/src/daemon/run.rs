//! [`run`]: latticed from its parts to its shutdown. The caller makes the parts (the kernel,
//! the listeners, the clock): `latticed` from the configuration, a test from a
//! [`FakeKernel`](crate::kernel::FakeKernel) and sockets in a temporary directory.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::info;

use super::announce::Announcements;
use super::bfd::BfdSupervisor;
use super::blocks::BlockAnnouncer;
use super::clock::Clock;
use super::conflicts::Conflicts;
use super::docker_driver::{self, DockerNetwork};
use super::error::DaemonError;
use super::handler::{AgentHandler, HandlerParts};
use super::listeners::{remove_socket, socket_path, Listeners};
use super::reconciler::{Reconciler, Timing};
use super::reload::{self, Reloader};
use super::speaker::{clusters, speaker_config};
use super::{attachments, learned, startup, usage};
use crate::api;
use crate::config::Config;
use crate::kernel::{Kernel, NetlinkKernel};
use crate::metrics::{self, Metrics};

/// The kernel of latticed's own network namespace, over netlink, with the notification
/// buffer `dataplane.netlink_receive_buffer` asks for.
pub async fn netlink_kernel(config: &Config) -> Result<Arc<dyn Kernel>, DaemonError> {
    let buffer = usize::try_from(config.dataplane.netlink_receive_buffer).unwrap_or(usize::MAX);
    Ok(Arc::new(
        NetlinkKernel::current().await?.with_event_buffer(buffer),
    ))
}

/// Where a reload reads the configuration again, and the SIGHUPs that ask for one.
#[derive(Debug)]
pub struct Reloads {
    /// The configuration file latticed was started with.
    pub path: PathBuf,
    /// One message per SIGHUP (a burst may be coalesced into one).
    pub hangups: Option<mpsc::Receiver<()>>,
}

/// Run latticed on `kernel`, serving `listeners`, until `shutdown` resolves. Time for IPAM's
/// grace periods and conflict ages comes from `clock`. The socket files of `listeners` are
/// removed when it returns, whether it stopped or failed to start. Without a file to read
/// again, `lattice reload` is refused: see [`run_reloadable`].
pub async fn run(
    config: Config,
    kernel: Arc<dyn Kernel>,
    listeners: Listeners,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    run_reloadable(config, None, kernel, listeners, clock, shutdown).await
}

/// [`run`], with `config` read from `reloads.path`: SIGHUP (through `reloads.hangups`) and
/// `lattice reload` read it again and apply what changed (`daemon::reload`).
pub async fn run_reloadable(
    config: Config,
    reloads: Option<Reloads>,
    kernel: Arc<dyn Kernel>,
    listeners: Listeners,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    let docker_socket = listeners.docker.as_ref().and_then(socket_path);
    let api_socket = socket_path(&listeners.api);
    let result = serve(config, reloads, kernel, listeners, clock, shutdown).await;
    // Only the sockets we were given: another latticed's socket at the configured path stays.
    for (path, what) in [(docker_socket, "docker plugin"), (api_socket, "api")] {
        if let Some(path) = path {
            remove_socket(&path, what);
        }
    }
    result
}

/// The dataplane as start-up left it: IPAM open, the host prepared, the kernel resynced.
struct Dataplane {
    ipam: ipam::Allocator,
    /// The primary blocks, Docker's pools.
    block: Ipv4Net,
    block_v6: Option<Ipv6Net>,
    reconciler: Arc<Reconciler>,
    /// Routes of a previous run were in the kernel (RFC 4724 restarting speaker).
    restarted: bool,
}

/// What the metrics watch, and how to stop their server.
struct Observed {
    metrics: Arc<Metrics>,
    conflicts: Arc<Conflicts>,
    stop: oneshot::Sender<()>,
}

async fn serve(
    config: Config,
    reloads: Option<Reloads>,
    kernel: Arc<dyn Kernel>,
    listeners: Listeners,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    let dataplane = start_dataplane(&config, &kernel, clock.now()).await?;
    let held = dataplane.ipam.ipam().blocks();
    let (file, _, kept) =
        Announcements::read(&config.ipam.state_dir).map_err(|source| DaemonError::Io {
            what: "reading the announced prefixes".into(),
            source,
        })?;
    // The held blocks are blackholed by now (the dataplane's first resync), so the speaker
    // starts with them known: a session that comes up at once gets them before End-of-RIB.
    let (speaker, changes) =
        start_speaker(&config, dataplane.restarted, listeners.bgp, held.clone()).await?;
    // At once: the first UPDATEs after a restart carry them.
    let announcements = Arc::new(Announcements::start(
        file,
        kept,
        speaker.clone(),
        config.node.asn,
    ));
    // One BFD session per peer with `bfd.enabled`, telling the speaker of each fall.
    let after_restart = dataplane.restarted && config.bgp.graceful_restart.enabled;
    let bfd = BfdSupervisor::new(kernel.clone(), speaker.clone(), after_restart);
    bfd.sync(super::bfd::wanted(&config)).await;
    let bfd_maintenance = bfd.spawn_maintenance();
    let observed = start_metrics(&speaker, &dataplane, listeners.metrics)?;
    observed
        .metrics
        .watch_bfd(Box::new(bfd.clone()))
        .map_err(registering_metrics)?;
    announcements.set_metrics(observed.metrics.clone()).await;
    let (path, hangups) = match reloads {
        Some(r) => (Some(r.path), r.hangups),
        None => (None, None),
    };
    let reloader = Arc::new(Reloader::new(
        path,
        config.clone(),
        speaker.clone(),
        bfd.clone(),
        observed.metrics.clone(),
    ));
    if let Some(hangups) = hangups {
        reload::spawn_hangups(reloader.clone(), hangups);
    }
    let reconciler = dataplane.reconciler;
    let announcer = Arc::new(BlockAnnouncer::new(
        reconciler.clone(),
        speaker.clone(),
        observed.conflicts.clone(),
        clock.clone(),
    ));
    // The announcer's own record of the held blocks, and the conflict tracker's (the speaker
    // and the blackholes have them already).
    announcer.sync(held).await?;
    // Registered in etcd with those blocks; peers found there (bgp.mesh).
    let mesh = super::mesh::start(&config, kernel.as_ref(), &dataplane.ipam, &speaker).await?;

    let (learned_tx, learned_rx) = mpsc::channel(64);
    learned::spawn(
        clusters(&config),
        observed.conflicts.clone(),
        clock.clone(),
        changes,
        learned_tx,
    );
    let timing = Timing {
        resync: std::time::Duration::from_secs(u64::from(config.dataplane.resync_interval)),
        ..Timing::default()
    };
    let driver = tokio::spawn(reconciler.clone().run(learned_rx, timing));
    let grace = config.ipam.block_grace_period;
    let leaked = observed
        .metrics
        .leaked_attachments_released()
        .map_err(|e| DaemonError::Io {
            what: "registering metrics".into(),
            source: std::io::Error::other(e),
        })?;
    let handler = Arc::new(AgentHandler::new(HandlerParts {
        config: config.clone(),
        ipam: dataplane.ipam,
        kernel: kernel.clone(),
        speaker: speaker.clone(),
        reconciler,
        metrics: observed.metrics,
        announcer,
        conflicts: observed.conflicts,
        clock,
        bfd: bfd.clone(),
        reloader: reloader.clone(),
        announcements,
    }));
    let reaper = tokio::spawn(reap_blocks(handler.clone(), grace));
    // Attachments whose namespace is gone and whose DEL never came (0: never released).
    let leak_grace = config.ipam.leak_grace_period;
    let leaks = (leak_grace > 0).then(|| {
        tokio::spawn(super::handler::leaks::reap_forever(
            handler.clone(),
            leak_grace,
            leaked,
        ))
    });

    let (stop_docker, docker_stopped) = watch::channel(false);
    let docker_task = match listeners.docker {
        Some(listener) => {
            let network = DockerNetwork {
                block: dataplane.block,
                block_v6: dataplane.block_v6,
                mtu: handler.mtu().await,
            };
            let (h, k) = (handler.clone(), kernel);
            Some(docker_driver::spawn(
                listener,
                &config,
                h,
                k,
                network,
                docker_stopped,
            ))
        }
        None => None,
    };

    api::server::serve(listeners.api, handler, shutdown).await;
    if let Some(mesh) = mesh {
        mesh.abort();
    }
    reaper.abort();
    if let Some(leaks) = leaks {
        leaks.abort();
    }
    let _ = stop_docker.send(true);
    if let Some(task) = docker_task {
        let _ = task.await;
    }
    driver.abort();
    info!("shutting down: BGP sessions closed, kernel routes left in place");
    let _ = observed.stop.send(());
    bfd_maintenance.abort();
    // BGP and BFD stop together, in the order graceful restart needs (daemon::bfd); the
    // Shutdown Communication as the last reload left it.
    let message = reloader.current().await.bgp.shutdown_message;
    bfd.stop_with(&speaker, config.bgp.graceful_restart.enabled, message)
        .await;
    Ok(())
}

/// IPAM opened, the host prepared, the wiring mode checked and the kernel resynced. Adoption:
/// that first resync keeps whatever is already right (no flush), adds what is missing, and
/// leaves learned routes of the previous run until the sessions re-learned them.
async fn start_dataplane(
    config: &Config,
    kernel: &Arc<dyn Kernel>,
    now: u64,
) -> Result<Dataplane, DaemonError> {
    startup::refuse_peers_at_uplink_addresses(config, kernel.as_ref()).await?;
    let (ipam, block, block_v6) = startup::open_ipam(config, kernel.as_ref(), now).await?;
    let held = ipam.ipam().blocks();
    info!(node = %config.node.name, blocks = ?held, "starting");
    let restarted = startup::prepare_host(kernel.as_ref()).await?;
    let store: PathBuf = config.ipam.state_dir.join(attachments::FILE);
    let wiring = startup::wiring(config, kernel.as_ref()).await?;
    let reconciler = Arc::new(Reconciler::with_wiring(
        kernel.clone(),
        held,
        Some(store),
        wiring,
    ));
    reconciler.resync().await?;
    Ok(Dataplane {
        ipam,
        block,
        block_v6,
        reconciler,
        restarted,
    })
}

/// The BGP speaker, accepting sessions on `listen`, announcing `blocks` from the start (RFC
/// 4724 §4.1: routes, then End-of-RIB, also to a session that comes up at once).
async fn start_speaker(
    config: &Config,
    restarted: bool,
    listen: Option<SocketAddr>,
    blocks: Vec<IpNet>,
) -> Result<(bgp::driver::SpeakerHandle, bgp::driver::RouteChanges), DaemonError> {
    bgp::driver::Speaker::start_announcing(speaker_config(config, restarted, listen), blocks)
        .await
        .map_err(|source| DaemonError::Io {
            what: match listen {
                Some(addr) => format!("bgp.listen {addr}"),
                None => "bgp".into(),
            },
            source,
        })
}

/// The metrics (BGP read from the speaker at scrape time), served on `listener` if any, and
/// the conflict tracker they count.
fn start_metrics(
    speaker: &bgp::driver::SpeakerHandle,
    dataplane: &Dataplane,
    listener: Option<TcpListener>,
) -> Result<Observed, DaemonError> {
    let conflicts = Arc::new(Conflicts::default());
    let metrics =
        Arc::new(Metrics::new(Some(Box::new(speaker.clone()))).map_err(registering_metrics)?);
    usage::publish(&metrics, dataplane.ipam.ipam());
    let watched = conflicts.clone();
    metrics
        .watch_block_conflicts(move || watched.count())
        .map_err(registering_metrics)?;
    let (stop, stopped) = oneshot::channel::<()>();
    if let Some(listener) = listener {
        if let Ok(listen) = listener.local_addr() {
            info!(%listen, "serving Prometheus metrics at /metrics");
        }
        tokio::spawn(metrics::server::serve(listener, metrics.clone(), async {
            let _ = stopped.await;
        }));
    }
    dataplane.reconciler.set_metrics(metrics.clone());
    // Before the first block sync: sessions may already have brought in a conflicting prefix.
    conflicts.set_metrics(metrics.clone());
    Ok(Observed {
        metrics,
        conflicts,
        stop,
    })
}

fn registering_metrics(e: prometheus::Error) -> DaemonError {
    DaemonError::Io {
        what: "registering metrics".into(),
        source: std::io::Error::other(e),
    }
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
