//! lattice-lab: containerlab-style labs built from network namespaces, FRR and latticed.

mod converge;
mod deploy;
mod destroy;
mod env;
mod error;
mod exec;
mod generate;
mod inspect;
mod kinds;
mod latticed;
mod netns;
mod paths;
mod pingmatrix;
mod plan;
mod procs;
mod sh;
mod state;
mod topology;
mod wait;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

/// Build and run labs described by containerlab-style topology files.
#[derive(Debug, Parser)]
#[command(name = "lattice-lab", version = env!("LATTICE_VERSION"))]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Create namespaces, links and nodes.
    Deploy {
        /// Topology file.
        #[arg(short = 't', long = "topo")]
        topo: PathBuf,
    },
    /// Stop every process and delete every namespace of the lab.
    Destroy {
        /// Topology file.
        #[arg(short = 't', long = "topo")]
        topo: PathBuf,
    },
    /// Run a command inside a node (or `<node>-c<i>` container) namespace.
    Exec {
        /// Topology file.
        #[arg(short = 't', long = "topo")]
        topo: PathBuf,
        /// Node or container name.
        node: String,
        /// The command (after `--`).
        #[arg(last = true, required = true)]
        cmd: Vec<String>,
    },
    /// Show nodes, namespaces, pids, states and addresses.
    Inspect {
        /// Topology file.
        #[arg(short = 't', long = "topo")]
        topo: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Wait until every BGP session in the lab is Established.
    Wait {
        /// Topology file.
        #[arg(short = 't', long = "topo")]
        topo: PathBuf,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// Write a cluster without ToR: hosts on one L2 segment with etcd (bgp.mesh), as a
    /// topology file and host configs.
    Generate {
        /// Lab name.
        #[arg(long)]
        name: String,
        /// Hosts the lab starts.
        #[arg(long)]
        hosts: u32,
        /// How many of them (the first) are route reflectors.
        #[arg(long, default_value_t = 0)]
        reflectors: u32,
        /// Containers each started host attaches.
        #[arg(long, default_value_t = 1)]
        containers: u32,
        /// Further hosts on the segment, not started (their configs written).
        #[arg(long, default_value_t = 0)]
        spare: u32,
        /// Start no host: every host is a namespace on the segment with its config.
        #[arg(long)]
        no_start: bool,
        /// The hosts' ASN.
        #[arg(long, default_value_t = 64512)]
        asn: u32,
        /// etcd lease TTL (ipam.block_grace_period): a dead host is forgotten after it.
        #[arg(long, default_value_t = 10)]
        lease: u32,
        /// BGP hold time of mesh sessions.
        #[arg(long, default_value_t = 9)]
        hold_time: u16,
        /// Also write BIRD 2 configs of the same cluster (Calico's full mesh).
        #[arg(long)]
        bird: bool,
        /// Directory to write into (the topology file is DIR/NAME.clab.yml).
        #[arg(long)]
        dir: PathBuf,
    },
    /// Ping between every pair of lattice containers.
    Pingmatrix {
        /// Topology file.
        #[arg(short = 't', long = "topo")]
        topo: PathBuf,
        /// Also print the time from deploy to full reachability.
        #[arg(long)]
        since_deploy: bool,
        /// Retry failed cells for at most this many seconds.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.cmd) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    if let Cmd::Generate {
        name,
        hosts,
        reflectors,
        containers,
        spare,
        no_start,
        asn,
        lease,
        hold_time,
        bird,
        dir,
    } = cmd
    {
        let spec = generate::ClusterSpec {
            name,
            hosts,
            reflectors,
            containers,
            spare,
            no_start,
            asn,
            lease_secs: lease,
            hold_time,
            bird,
            dir: std::path::absolute(&dir).unwrap_or(dir),
        };
        let topo = generate::generate(&spec).context("generate")?;
        println!("{}", topo.display());
        return Ok(ExitCode::SUCCESS);
    }
    if !nix::unistd::geteuid().is_root() {
        bail!("lattice-lab needs root (network namespaces, veths, FRR)");
    }
    match cmd {
        // No file name in the context: every error names the file (or node) it is about.
        Cmd::Deploy { topo } => deploy::deploy(&topo).context("deploy")?,
        Cmd::Destroy { topo } => destroy::destroy(&topo).context("destroy")?,
        Cmd::Exec { topo, node, cmd } => {
            let code = exec::exec(&topo, &node, &cmd).with_context(|| format!("exec on {node}"))?;
            return Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)));
        }
        Cmd::Inspect { topo, json } => inspect::inspect(&topo, json).context("inspect")?,
        Cmd::Wait { topo, timeout } => {
            wait::wait(&topo, Duration::from_secs(timeout)).context("wait")?
        }
        Cmd::Generate { .. } => {}
        Cmd::Pingmatrix {
            topo,
            since_deploy,
            timeout,
        } => {
            let all_ok = pingmatrix::pingmatrix(&topo, since_deploy, Duration::from_secs(timeout))
                .context("pingmatrix")?;
            if !all_ok {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
