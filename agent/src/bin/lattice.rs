//! lattice: the operator's CLI, a client of latticed's local API.

use std::path::PathBuf;
use std::process::ExitCode;

use agent::api::{client, format, proto::Reply, proto::Request};
use clap::{Parser, Subcommand};

/// Command line of lattice.
#[derive(Debug, Parser)]
#[command(
    name = "lattice",
    version,
    about = "Observe and drive the local latticed"
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
    /// Print the raw JSON reply.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Node, blocks and BGP peers; exits 1 when a peer is not Established.
    Status,
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

fn main() -> ExitCode {
    let args = Args::parse();
    let request = match &args.command {
        Command::Status => Request::Status,
        Command::List => Request::List,
        Command::Attach {
            container_id,
            netns,
            ifname,
        } => Request::Attach {
            container_id: container_id.clone(),
            ifname: ifname.clone(),
            netns: netns.clone(),
        },
        Command::Detach {
            container_id,
            ifname,
        } => Request::Detach {
            container_id: container_id.clone(),
            ifname: ifname.clone(),
        },
    };
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
    let reply = match runtime.block_on(client::call(&args.socket, &request)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lattice: {e}");
            return ExitCode::from(2);
        }
    };
    if args.json {
        match serde_json::to_string_pretty(&reply) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("lattice: {e}"),
        }
    }
    render(&reply, args.json)
}

fn render(reply: &Reply, quiet: bool) -> ExitCode {
    match reply {
        Reply::Status(s) => {
            if !quiet {
                print!("{}", format::status(s));
            }
            if format::healthy(s) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Reply::Collected { released } => {
            if !quiet {
                for k in released {
                    println!("released {} {}", k.container_id, k.ifname);
                }
            }
            ExitCode::SUCCESS
        }
        Reply::List { attachments } => {
            if !quiet {
                print!("{}", format::attachments(attachments));
            }
            ExitCode::SUCCESS
        }
        Reply::Attached(a) => {
            if !quiet {
                println!(
                    "{} {} -> {} (host {})",
                    a.container_id, a.ifname, a.address, a.host_ifname
                );
            }
            ExitCode::SUCCESS
        }
        Reply::Detached { released } => {
            if !quiet {
                match released {
                    Some(a) => println!("released {a}"),
                    None => println!("nothing was attached"),
                }
            }
            ExitCode::SUCCESS
        }
        Reply::Error(e) => {
            eprintln!("lattice: {} ({})", e.message, e.kind);
            ExitCode::from(1)
        }
    }
}
