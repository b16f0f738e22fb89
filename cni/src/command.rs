//! Each CNI command as requests to latticed, and latticed's replies as CNI results or errors.
//!
//! No I/O here: the caller passes an [`Api`] (a socket client in the binary, a fake in tests).

use api::proto::{ApiError, AttachmentKey, Reply, Request, DOCKER_ID_PREFIX};

use super::conf::NetConf;
use super::env::{Command, Invocation};
use super::error::{code, CniError};
use super::result::{add_result, prev_addresses};
use super::version::Version;

/// latticed could not be reached or did not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unreachable(pub String);

/// One request/reply exchange with latticed.
pub trait Api {
    /// Send `req` and wait for the reply.
    fn call(&mut self, req: &Request) -> Result<Reply, Unreachable>;
}

/// Runs a per-network command (everything but VERSION); `Ok(Some(json))` is printed on stdout.
pub fn execute(
    inv: &Invocation,
    conf: &NetConf,
    api: &mut dyn Api,
) -> Result<Option<String>, CniError> {
    match inv.command {
        Command::Version => Ok(Some(super::version::version_json())),
        Command::Add => add(inv, conf, api).map(Some),
        Command::Del => del(inv, api).map(|()| None),
        Command::Check => check(inv, conf, api).map(|()| None),
        Command::Status => status(conf, api).map(|()| None),
        Command::Gc => gc(conf, api).map(|()| None),
    }
}

fn add(inv: &Invocation, conf: &NetConf, api: &mut dyn Api) -> Result<String, CniError> {
    let netns = inv.netns.clone().unwrap_or_default();
    let req = Request::Attach {
        container_id: inv.container_id.clone(),
        ifname: inv.ifname.clone(),
        netns,
        mtu: conf.mtu,
    };
    match call(api, conf, &req)? {
        Reply::Attached(a) => Ok(add_result(conf, &a).to_string()),
        other => Err(unexpected(other)),
    }
}

/// Idempotent, and needs neither the namespace nor the container: the host veth is found by
/// name and deleting it removes its peer and routes.
fn del(inv: &Invocation, api: &mut dyn Api) -> Result<(), CniError> {
    let req = Request::Detach {
        container_id: inv.container_id.clone(),
        ifname: inv.ifname.clone(),
    };
    match api.call(&req) {
        Ok(Reply::Detached { .. }) => Ok(()),
        Ok(other) => Err(unexpected(other)),
        Err(e) => Err(CniError::new(
            code::TRY_AGAIN,
            format!("cannot release {}/{}: latticed is not answering ({e}); start latticed, then the runtime's retry of DEL will release it", inv.container_id, inv.ifname),
        )),
    }
}

fn check(inv: &Invocation, conf: &NetConf, api: &mut dyn Api) -> Result<(), CniError> {
    if conf.version < Version::V04 {
        return Err(CniError::new(
            code::INCOMPATIBLE_VERSION,
            format!(
                "CHECK needs cniVersion 0.4.0 or later, the config says {}",
                conf.cni_version
            ),
        ));
    }
    let Some(prev) = &conf.prev_result else {
        return Err(CniError::new(
            code::BAD_CONFIG,
            "CHECK needs the ADD result as \"prevResult\" in the network config",
        ));
    };
    let req = Request::Check {
        container_id: inv.container_id.clone(),
        ifname: inv.ifname.clone(),
        netns: inv.netns.clone().unwrap_or_default(),
    };
    let a = match call(api, conf, &req)? {
        Reply::Attached(a) => a,
        other => return Err(unexpected(other)),
    };
    let listed = prev_addresses(prev);
    let mut wanted = vec![format!("{}/32", a.address)];
    wanted.extend(a.address_v6.map(|v6| format!("{v6}/128")));
    if let Some(want) = wanted.iter().find(|w| !listed.contains(w)) {
        return Err(CniError::new(
            code::MISMATCH,
            format!(
                "prevResult does not list {want}, an address latticed holds for {}/{}",
                a.container_id, a.ifname
            ),
        ));
    }
    Ok(())
}

fn status(conf: &NetConf, api: &mut dyn Api) -> Result<(), CniError> {
    match api.call(&Request::Ready) {
        Ok(Reply::Ready { ready: true, .. }) => Ok(()),
        Ok(Reply::Ready { ready: false, reason }) => Err(CniError::new(
            code::NOT_AVAILABLE,
            reason.unwrap_or_else(|| "latticed is not ready".into()),
        )),
        Ok(other) => Err(unexpected(other)),
        Err(e) => Err(CniError::new(
            code::NOT_AVAILABLE,
            format!("latticed is not answering at {} ({e}); start it, or set \"socket\" to its api.socket", conf.socket.display()),
        )),
    }
}

/// GC: every attachment not in `cni.dev/valid-attachments` goes, except the Docker driver's.
/// A GC without the list (missing or `null` under both names) is refused: read as "nothing is
/// valid" it would unwire every container on the host.
fn gc(conf: &NetConf, api: &mut dyn Api) -> Result<(), CniError> {
    let Some(valid) = &conf.valid_attachments else {
        return Err(CniError::new(
            code::BAD_CONFIG,
            "GC needs the runtime's list of attachments in use as \"cni.dev/valid-attachments\" (or \"cni.dev/attachments\"); without it nothing is released",
        ));
    };
    let attachments = match call(api, conf, &Request::List)? {
        Reply::List { attachments } => attachments,
        other => return Err(unexpected(other)),
    };
    let mut keep: Vec<AttachmentKey> = valid
        .iter()
        .map(|v| AttachmentKey {
            container_id: v.container_id.clone(),
            ifname: v.ifname.clone(),
        })
        .collect();
    keep.extend(
        attachments
            .into_iter()
            .filter(|a| a.container_id.starts_with(DOCKER_ID_PREFIX))
            .map(|a| AttachmentKey {
                container_id: a.container_id,
                ifname: a.ifname,
            }),
    );
    match call(api, conf, &Request::Gc { keep })? {
        Reply::Collected { .. } => Ok(()),
        other => Err(unexpected(other)),
    }
}

/// A call whose failures become CNI errors: unreachable is 11, latticed's errors by kind.
fn call(api: &mut dyn Api, conf: &NetConf, req: &Request) -> Result<Reply, CniError> {
    match api.call(req) {
        Ok(Reply::Error(e)) => Err(from_api_error(&e)),
        Ok(reply) => Ok(reply),
        Err(e) => Err(CniError::new(
            code::TRY_AGAIN,
            format!("latticed is not answering at {} ({e}); start latticed, or set \"socket\" in the network config to its api.socket", conf.socket.display()),
        )),
    }
}

/// latticed's error kinds onto CNI codes.
pub fn from_api_error(e: &ApiError) -> CniError {
    let code = match e.kind.as_str() {
        "bad_request" => code::BAD_ENV,
        "exhausted" => code::EXHAUSTED,
        "not_found" => code::UNKNOWN_CONTAINER,
        "mismatch" => code::MISMATCH,
        "ipam" => code::IPAM,
        "kernel" => code::KERNEL,
        _ => code::PROTOCOL,
    };
    CniError::new(code, format!("latticed: {}", e.message)).with_details(format!("kind {}", e.kind))
}

fn unexpected(reply: Reply) -> CniError {
    match reply {
        Reply::Error(e) => from_api_error(&e),
        other => CniError::new(
            code::PROTOCOL,
            "latticed answered with an unexpected reply; are lattice-cni and latticed the same version?",
        )
        .with_details(format!("{other:?}")),
    }
}
