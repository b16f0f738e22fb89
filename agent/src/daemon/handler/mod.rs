//! The API handler: each request turned into IPAM and dataplane calls, by family.
//!
//! [`shared`] holds the daemon's parts and what every family shares; [`cni`] the container
//! lifecycle (attach, detach, gc), [`check`] CNI CHECK and STATUS, [`addresses`] IPAM's own
//! requests, [`queries`] the read-only ones (list, status, peers, routes), [`routing`] the
//! configuration reload and the API's announcements. This module only dispatches and counts.

mod addresses;
mod check;
mod cni;
pub(super) mod leaks;
mod netns_target;
mod queries;
mod routing;
mod shared;

use futures::future::BoxFuture;
use futures::FutureExt;

use crate::api::server::Handler;
use crate::metrics::Interface;
use api::proto::{Reply, Request};

use self::shared::error;
pub use self::shared::{AgentHandler, HandlerParts};

impl Handler for AgentHandler {
    fn handle(&self, req: Request) -> BoxFuture<'_, Reply> {
        async move {
            let started = std::time::Instant::now();
            let (interface, operation, reply) = match req {
                Request::Cni { command, request } => {
                    let reply = match *request {
                        Request::Cni { .. } => error(
                            "bad_request",
                            "a cni request cannot carry another cni request",
                        ),
                        inner => self.dispatch(inner).await.1,
                    };
                    (Interface::Cni, command.as_str(), reply)
                }
                other => {
                    let (operation, reply) = self.dispatch(other).await;
                    (Interface::Api, operation, reply)
                }
            };
            let result = match &reply {
                Reply::Error(e) => e.kind.as_str(),
                _ => "ok",
            };
            self.metrics
                .observe_request(interface, operation, result, started.elapsed());
            reply
        }
        .boxed()
    }
}

impl AgentHandler {
    /// Answers one request (not a `cni` wrapper); the operation name for the metrics. Each
    /// family's calls live in a module of their own.
    async fn dispatch(&self, req: Request) -> (&'static str, Reply) {
        {
            let (operation, reply) = match req {
                Request::Attach {
                    container_id,
                    ifname,
                    netns,
                    mtu,
                } => {
                    let reply = self.attach(container_id, ifname, netns, mtu).await;
                    self.publish_usage(self.ipam.lock().await.ipam());
                    ("attach", reply)
                }
                Request::Check {
                    container_id,
                    ifname,
                    netns,
                } => ("check", self.check(container_id, ifname, netns).await),
                Request::Allocate {
                    container_id,
                    ifname,
                } => {
                    let reply = self.allocate(container_id, ifname).await;
                    self.publish_usage(self.ipam.lock().await.ipam());
                    ("allocate", reply)
                }
                Request::Ready => ("ready", self.ready().await),
                Request::Detach {
                    container_id,
                    ifname,
                } => {
                    let reply = self.detach(container_id, ifname).await;
                    self.publish_usage(self.ipam.lock().await.ipam());
                    ("detach", reply)
                }
                Request::Gc { keep } => {
                    let reply = self.gc(keep).await;
                    self.publish_usage(self.ipam.lock().await.ipam());
                    ("gc", reply)
                }
                Request::List => ("list", self.list().await),
                Request::Status => ("status", self.status().await),
                Request::Peers { peer } => ("peers", self.peers(peer).await),
                Request::Routes => ("routes", self.routes().await),
                Request::Ipam => ("ipam", self.ipam_status().await),
                Request::Reload => ("reload", self.reload().await),
                Request::Announce {
                    prefixes,
                    communities,
                } => ("announce", self.announce(prefixes, communities).await),
                Request::Withdraw { prefixes } => ("withdraw", self.withdraw(prefixes).await),
                Request::Cni { .. } => (
                    "cni",
                    error(
                        "bad_request",
                        "a cni request cannot carry another cni request",
                    ),
                ),
            };
            (operation, reply)
        }
    }
}
