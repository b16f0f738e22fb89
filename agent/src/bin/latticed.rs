//! latticed: the per-host Lattice agent.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use tracing::error;

/// Command line of latticed.
#[derive(Debug, Parser)]
#[command(
    name = "latticed",
    version = env!("LATTICE_VERSION"),
    about = "Lattice per-host agent: IPAM, routed veth, embedded BGP"
)]
struct Args {
    /// YAML configuration file (see docs/configuration.md).
    #[arg(long, short = 'c')]
    config: PathBuf,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Log level or filter (overridden by RUST_LOG when set).
    #[arg(long, default_value = "info")]
    log_level: String,
    /// Check the configuration and exit.
    #[arg(long)]
    check: bool,
    /// Remove every route and host interface Lattice programmed in this namespace (containers
    /// lose their network), then exit. Without it, stopping latticed leaves them in place.
    #[arg(long, conflicts_with = "check")]
    cleanup: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn main() -> ExitCode {
    static_nss::builtin_hosts_lookup();
    let args = Args::parse();
    init_tracing(&args);
    // A bad config is the caller's mistake: exit 2, before anything on the host changes.
    let config = match agent::config::Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("latticed: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check {
        if let Err(e) = check_uplinks(&config) {
            eprintln!("latticed: {}: {e}", args.config.display());
            return ExitCode::from(2);
        }
        println!("latticed: {} is valid", args.config.display());
        return ExitCode::SUCCESS;
    }
    if args.cleanup {
        return match cleanup(&config) {
            Ok((routes, links)) => {
                println!("latticed: removed {routes} routes and {links} interfaces");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("latticed: cleanup: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    match run(config, args.config.clone()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e:#}");
            eprintln!("latticed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: agent::config::Config, path: PathBuf) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async {
        // First: from here on SIGHUP reloads instead of ending latticed.
        let hangups = hangups().context("watching SIGHUP")?;
        let reloads = agent::daemon::Reloads {
            path,
            hangups: Some(hangups),
        };
        let kernel = agent::daemon::netlink_kernel(&config)
            .await
            .context("latticed stopped")?;
        let listeners = agent::daemon::Listeners::bind(&config)
            .await
            .context("latticed stopped")?;
        let clock = std::sync::Arc::new(agent::daemon::SystemClock);
        agent::daemon::run_reloadable(
            config,
            Some(reloads),
            kernel,
            listeners,
            clock,
            shutdown_signal(),
        )
        .await
        .context("latticed stopped")
    })
}

/// `--check`'s look at the host: a peer at an address of an uplink present here is refused
/// (nothing is checked where netlink cannot be opened, or the uplinks are elsewhere).
fn check_uplinks(config: &agent::config::Config) -> Result<(), agent::daemon::DaemonError> {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Ok(());
    };
    runtime.block_on(async {
        match agent::daemon::netlink_kernel(config).await {
            Ok(kernel) => {
                agent::daemon::refuse_peers_at_uplink_addresses(config, kernel.as_ref()).await
            }
            Err(_) => Ok(()),
        }
    })
}

fn cleanup(config: &agent::config::Config) -> anyhow::Result<(usize, usize)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime
        .block_on(async {
            let kernel = agent::daemon::netlink_kernel(config).await?;
            agent::daemon::cleanup(config, kernel.as_ref()).await
        })
        .context("removing Lattice's routes and interfaces")
}

/// One message per SIGHUP, a burst coalesced: the channel holds one, and the reloader reads
/// the file after taking it, so the last reload sees what the last signal announced.
fn hangups() -> std::io::Result<tokio::sync::mpsc::Receiver<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup())?;
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            if let Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) = tx.try_send(()) {
                return;
            }
        }
    });
    Ok(rx)
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            error!("cannot watch SIGTERM: {e}");
            std::future::pending::<()>().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Name lookups (an etcd endpoint given by host name) in a statically linked latticed.
mod static_nss {
    /// Makes glibc resolve host names with its built-in `files` and `dns` sources only
    /// (/etc/hosts, then /etc/resolv.conf's servers). A static glibc would otherwise dlopen the
    /// host's NSS modules named in /etc/nsswitch.conf (`resolve`, `myhostname`, `mdns4`, ...),
    /// which load the host's shared libc: undefined when its version is not the build's.
    #[cfg(target_feature = "crt-static")]
    #[allow(unsafe_code)] // One call into glibc, before any thread exists; nothing else does it.
    pub fn builtin_hosts_lookup() {
        extern "C" {
            fn __nss_configure_lookup(
                db: *const std::ffi::c_char,
                service_line: *const std::ffi::c_char,
            ) -> std::ffi::c_int;
        }
        // SAFETY: both arguments are NUL-terminated static strings; glibc copies what it keeps.
        let rc = unsafe { __nss_configure_lookup(c"hosts".as_ptr(), c"files dns".as_ptr()) };
        if rc != 0 {
            eprintln!("latticed: cannot restrict host name lookups to files and dns");
        }
    }

    /// A dynamically linked latticed uses the host's libc and its NSS modules as they are.
    #[cfg(not(target_feature = "crt-static"))]
    pub fn builtin_hosts_lookup() {}
}

fn init_tracing(args: &Args) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&args.log_level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal: journald and log files get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
