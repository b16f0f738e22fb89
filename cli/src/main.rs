//! lattice: the operator's CLI, a client of latticed's local API.
//!
//! Exit status: 0 healthy, 1 unhealthy (or the request failed), 2 latticed unreachable.

use std::path::PathBuf;

use ipnet::IpNet;
use std::process::ExitCode;
use std::time::Duration;

use api::{client, format, proto::Reply, proto::Request};
use clap::{Parser, Subcommand};

/// How long latticed gets to answer: a stuck daemon must not hang a probe.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Command line of lattice.
#[derive(Debug, Parser)]
#[command(
    name = "lattice",
    version = env!("LATTICE_VERSION"),
    about = "Observe and drive the local latticed",
    after_help = "Exit status: 0 healthy, 1 unhealthy or the request failed, 2 latticed unreachable."
)]
struct Args {
    /// latticed's API socket.
    #[arg(
        long,
        env = "LATTICE_SOCKET",
        default_value = "/run/lattice/lattice.sock",
        global = true
    )]
    socket: PathBuf,
    /// Print the reply as JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Node, blocks and BGP peers with a health summary; exits 1 when a peer is not Established
    /// or a block is full.
    Status,
    /// BGP peers in detail (capabilities, timers, last error, counters); exits 1 when one shown
    /// is not Established.
    Peers {
        /// Only this neighbour: its address, or an interface peer's interface (`eth1`).
        peer: Option<String>,
    },
    /// The Loc-RIB with best (*) and multipath (=) marks and whether each prefix is in the
    /// kernel, then the prefixes announced through the API; exits 1 when a learned prefix that
    /// should be in the kernel is not.
    Routes,
    /// Read latticed's configuration file again and apply what changed (as SIGHUP and
    /// `systemctl reload` do): prints what was done, or why nothing was (exit 1).
    Reload,
    /// Announce prefixes over BGP (service or load-balancer addresses) to the peers whose export
    /// policy accepts them; kept across restarts. Refused, with the reason, when no peer's export
    /// accepts one.
    Announce {
        /// Prefixes, e.g. 192.0.2.10/32.
        #[arg(required = true)]
        prefixes: Vec<IpNet>,
        /// Communities they carry, comma-separated: ASN:VALUE or ASN:DATA1:DATA2.
        #[arg(long, value_delimiter = ',')]
        communities: Vec<String>,
    },
    /// Stop announcing prefixes announced with `lattice announce`.
    Withdraw {
        /// Prefixes.
        #[arg(required = true)]
        prefixes: Vec<IpNet>,
    },
    /// Blocks, their usage and every allocation; exits 1 when no block has a free address.
    Ipam,
    /// Container attachments.
    List,
    /// Attach a network namespace as a container.
    Attach {
        /// Container id.
        #[arg(long)]
        container_id: String,
        /// Path of its network namespace.
        #[arg(long)]
        netns: PathBuf,
        /// Interface name inside it.
        #[arg(long, default_value = "eth0")]
        ifname: String,
    },
    /// Detach a container and release its address.
    Detach {
        /// Container id.
        #[arg(long)]
        container_id: String,
        /// Interface name inside it.
        #[arg(long, default_value = "eth0")]
        ifname: String,
    },
}

fn request(command: &Command) -> Request {
    match command {
        Command::Status => Request::Status,
        Command::Peers { peer } => Request::Peers { peer: peer.clone() },
        Command::Routes => Request::Routes,
        Command::Reload => Request::Reload,
        Command::Announce {
            prefixes,
            communities,
        } => Request::Announce {
            prefixes: prefixes.clone(),
            communities: communities.clone(),
        },
        Command::Withdraw { prefixes } => Request::Withdraw {
            prefixes: prefixes.clone(),
        },
        Command::Ipam => Request::Ipam,
        Command::List => Request::List,
        Command::Attach {
            container_id,
            netns,
            ifname,
        } => Request::Attach {
            container_id: container_id.clone(),
            ifname: ifname.clone(),
            netns: netns.clone(),
            mtu: None,
        },
        Command::Detach {
            container_id,
            ifname,
        } => Request::Detach {
            container_id: container_id.clone(),
            ifname: ifname.clone(),
        },
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let request = request(&args.command);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lattice: {e}");
            return ExitCode::from(2);
        }
    };
    let call =
        async { tokio::time::timeout(REPLY_TIMEOUT, client::call(&args.socket, &request)).await };
    let reply = match runtime.block_on(call) {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            eprintln!("lattice: {e}");
            return ExitCode::from(2);
        }
        Err(_) => {
            eprintln!(
                "lattice: latticed at {} did not answer within {} s",
                args.socket.display(),
                REPLY_TIMEOUT.as_secs()
            );
            return ExitCode::from(2);
        }
    };
    if args.json {
        match serde_json::to_string_pretty(&reply) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("lattice: {e}"),
        }
    } else if let Some(text) = text(&reply) {
        print!("{text}");
    }
    if let Reply::Error(e) = &reply {
        eprintln!("lattice: {} ({})", e.message, e.kind);
    }
    if healthy(&reply) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The human rendering of a reply (errors go to stderr instead).
fn text(reply: &Reply) -> Option<String> {
    Some(match reply {
        Reply::Status(s) => format::status(s),
        Reply::Peers { peers } => format::peers(peers),
        Reply::Routes { routes, announced } => {
            format::routes(routes) + &format::announced(announced)
        }
        Reply::Reloaded { changes } if changes.is_empty() => {
            "configuration reloaded: nothing changed\n".into()
        }
        Reply::Reloaded { changes } => changes.iter().map(|c| format!("{c}\n")).collect(),
        Reply::Announced { announcements } => format::announced(announcements),
        Reply::Withdrawn { prefixes } => prefixes
            .iter()
            .map(|p| format!("withdrawn {p}\n"))
            .collect(),
        Reply::Ipam(s) => format::ipam(s),
        Reply::List { attachments } => format::attachments(attachments),
        Reply::Attached(a) => format!(
            "{} {} -> {} (host {})\n",
            a.container_id, a.ifname, a.address, a.host_ifname
        ),
        Reply::Detached { released } => match released {
            Some(a) => format!("released {a}\n"),
            None => "nothing was attached\n".into(),
        },
        Reply::Allocated {
            address,
            address_v6: None,
        } => format!("allocated {address}\n"),
        Reply::Allocated {
            address,
            address_v6: Some(v6),
        } => format!("allocated {address} {v6}\n"),
        Reply::Ready { ready: true, .. } => "ready\n".into(),
        Reply::Ready { reason, .. } => format!(
            "not ready: {}\n",
            reason.as_deref().unwrap_or("no reason given")
        ),
        Reply::Collected { released } => released
            .iter()
            .map(|k| format!("released {} {}\n", k.container_id, k.ifname))
            .collect(),
        Reply::Error(_) => return None,
    })
}

/// Exit 0 or 1: the same verdict with and without `--json`.
fn healthy(reply: &Reply) -> bool {
    match reply {
        Reply::Status(s) => format::healthy(s),
        Reply::Peers { peers } => peers
            .iter()
            .all(|p| p.state == api::proto::PeerState::Established),
        Reply::Routes { routes, .. } => format::routes_healthy(routes),
        Reply::Ipam(s) => format::ipam_healthy(s),
        Reply::Error(_) => false,
        Reply::Ready { ready, .. } => *ready,
        Reply::List { .. }
        | Reply::Reloaded { .. }
        | Reply::Announced { .. }
        | Reply::Withdrawn { .. }
        | Reply::Allocated { .. }
        | Reply::Attached(_)
        | Reply::Detached { .. }
        | Reply::Collected { .. } => true,
    }
}
