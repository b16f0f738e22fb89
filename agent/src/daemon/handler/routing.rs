//! `lattice reload`, `lattice announce` and `lattice withdraw`: the configuration read again,
//! and prefixes announced through the API.

use api::proto::Reply;
use ipnet::IpNet;

use super::shared::{error, AgentHandler};

impl AgentHandler {
    /// Read the configuration file again and apply what changed.
    pub(super) async fn reload(&self) -> Reply {
        match self.reloader.reload().await {
            Ok(changes) => Reply::Reloaded { changes },
            Err(e) => error(e.kind(), e.to_string()),
        }
    }

    /// Announce prefixes, if some peer's export accepts each.
    pub(super) async fn announce(&self, prefixes: Vec<IpNet>, communities: Vec<String>) -> Reply {
        match self.announcements.announce(&prefixes, &communities).await {
            Ok(announcements) => Reply::Announced { announcements },
            Err(r) => error(r.kind, r.message),
        }
    }

    /// Stop announcing prefixes.
    pub(super) async fn withdraw(&self, prefixes: Vec<IpNet>) -> Reply {
        match self.announcements.withdraw(&prefixes).await {
            Ok(prefixes) => Reply::Withdrawn { prefixes },
            Err(r) => error(r.kind, r.message),
        }
    }
}
