//! lattice-cni: the CNI plugin. A thin client of latticed's local API; see the `cni` library.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use api::client;
use api::proto::{CniCommand, Reply, Request};
use cni::{conf, Api, Unreachable};

/// How long one call to latticed may take (an attach is a few netlink round trips).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// latticed over its unix socket, on a single-threaded runtime.
struct SocketApi {
    socket: PathBuf,
    runtime: Option<tokio::runtime::Runtime>,
    /// The command being served: requests say so, for latticed's per-interface metrics.
    command: Option<CniCommand>,
}

impl Api for SocketApi {
    fn call(&mut self, req: &Request) -> Result<Reply, Unreachable> {
        let Some(rt) = &self.runtime else {
            return Err(Unreachable("cannot start an async runtime".into()));
        };
        rt.block_on(async {
            let wrapped = self.command.map(|command| Request::Cni {
                command,
                request: Box::new(req.clone()),
            });
            let req = wrapped.as_ref().unwrap_or(req);
            match tokio::time::timeout(CALL_TIMEOUT, client::call(&self.socket, req)).await {
                Ok(Ok(reply)) => Ok(reply),
                Ok(Err(e)) => Err(Unreachable(e.to_string())),
                Err(_) => Err(Unreachable(format!(
                    "no reply within {}s",
                    CALL_TIMEOUT.as_secs()
                ))),
            }
        })
    }
}

fn main() -> ExitCode {
    // Runtimes pass no arguments; a person asking which build this is does (before stdin is read,
    // which would wait on a terminal).
    if matches!(std::env::args().nth(1).as_deref(), Some("--version" | "-V")) {
        println!("lattice-cni {}", env!("LATTICE_VERSION"));
        return ExitCode::SUCCESS;
    }
    let mut stdin = Vec::new();
    let read = std::io::stdin()
        .take(conf::MAX_STDIN as u64 + 1)
        .read_to_end(&mut stdin);
    if let Err(e) = read {
        let err = cni::CniError::new(cni::error::code::IO, format!("reading stdin: {e}"));
        println!("{}", err.to_json(cni::version::CURRENT));
        return ExitCode::FAILURE;
    }
    // The socket is only known after parsing; a bad config fails before any call.
    let socket = conf::parse(&stdin)
        .map(|c| c.socket)
        .unwrap_or_else(|_| PathBuf::from(conf::DEFAULT_SOCKET));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok();
    let command = std::env::var("CNI_COMMAND")
        .ok()
        .and_then(|c| CniCommand::from_env(&c));
    let mut api = SocketApi {
        socket,
        runtime,
        command,
    };
    let (out, ok) = cni::run(|k| std::env::var(k).ok(), &stdin, &mut api);
    if !out.is_empty() {
        println!("{out}");
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
