//! Routing a remote-driver call: the request path (`/NetworkDriver.Join`) to its method,
//! the body parsed, the call timed for the metrics. Docker gets `{"Err": ...}` for a failed
//! network driver call and `{"Error": ...}` for a failed IPAM driver call: libnetwork reads
//! the two from different fields (`drivers/remote/api`, `ipams/remote/api`), and a message in
//! the other one reads as success.

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::driver::Driver;
use super::ipam_calls::ADDRESS_SPACE;
use super::proto;

/// A failed call: Docker gets the message in [`failure`]'s field.
type Answer = Result<Value, String>;

impl Driver {
    /// Answers the call at `path` (e.g. `/NetworkDriver.Join`) with `body`; `None` when the
    /// path is not part of the protocol (HTTP 404).
    pub async fn dispatch(&self, path: &str, body: &[u8]) -> Option<Value> {
        let started = std::time::Instant::now();
        let method = path.trim_start_matches('/');
        let answer = self.answer(method, body).await?;
        if let Some(m) = &self.metrics {
            // Only protocol methods get here (others are None above): a fixed label set.
            let operation = snake_case(method.rsplit('.').next().unwrap_or(method));
            let result = if answer.is_ok() { "ok" } else { "error" };
            m.observe_request(
                crate::metrics::Interface::Docker,
                &operation,
                result,
                started.elapsed(),
            );
        }
        Some(answer.unwrap_or_else(|e| failure(method, e)))
    }

    /// The answer to one protocol method; `None` for a path outside the protocol.
    async fn answer(&self, method: &str, body: &[u8]) -> Option<Answer> {
        let answer = match method {
            "Plugin.Activate" => Ok(json!({"Implements": ["NetworkDriver", "IpamDriver"]})),
            "NetworkDriver.GetCapabilities" => {
                Ok(json!({"Scope": "local", "ConnectivityScope": "local"}))
            }
            "NetworkDriver.CreateNetwork" => match parse(body) {
                Ok(r) => self.create_network(r).await,
                Err(e) => Err(e),
            },
            "NetworkDriver.DeleteNetwork" => match parse(body) {
                Ok(r) => self.delete_network(r).await,
                Err(e) => Err(e),
            },
            "NetworkDriver.CreateEndpoint" => match parse(body) {
                Ok(r) => self.create_endpoint(r).await,
                Err(e) => Err(e),
            },
            "NetworkDriver.DeleteEndpoint" => match parse(body) {
                Ok(r) => self.delete_endpoint(r).await,
                Err(e) => Err(e),
            },
            "NetworkDriver.EndpointOperInfo" => match parse(body) {
                Ok(r) => self.oper_info(r).await,
                Err(e) => Err(e),
            },
            "NetworkDriver.Join" => match parse(body) {
                Ok(r) => self.join(r).await,
                Err(e) => Err(e),
            },
            "NetworkDriver.Leave"
            | "NetworkDriver.ProgramExternalConnectivity"
            | "NetworkDriver.RevokeExternalConnectivity" => {
                parse::<proto::EndpointRef>(body).map(|_| json!({}))
            }
            // Local scope: no cluster discovery to act on.
            "NetworkDriver.DiscoverNew" | "NetworkDriver.DiscoverDelete" => Ok(json!({})),
            "IpamDriver.GetCapabilities" => Ok(json!({"RequiresMACAddress": false})),
            "IpamDriver.GetDefaultAddressSpaces" => Ok(json!({
                "LocalDefaultAddressSpace": ADDRESS_SPACE,
                "GlobalDefaultAddressSpace": ADDRESS_SPACE,
            })),
            "IpamDriver.RequestPool" => match parse(body) {
                Ok(r) => self.request_pool(r).await,
                Err(e) => Err(e),
            },
            "IpamDriver.ReleasePool" => match parse(body) {
                Ok(r) => self.release_pool(r).await,
                Err(e) => Err(e),
            },
            "IpamDriver.RequestAddress" => match parse(body) {
                Ok(r) => self.request_address(r).await,
                Err(e) => Err(e),
            },
            "IpamDriver.ReleaseAddress" => match parse(body) {
                Ok(r) => self.release_address(r).await,
                Err(e) => Err(e),
            },
            _ => return None,
        };
        Some(answer)
    }
}

/// A failed call's answer: `{"Error": message}` for the IpamDriver, `{"Err": message}` for the
/// rest (the NetworkDriver, and plugin errors libnetwork reads before either).
pub fn failure(method: &str, message: String) -> Value {
    if method.starts_with("IpamDriver.") {
        json!({ "Error": message })
    } else {
        json!({ "Err": message })
    }
}

/// Docker sends `null`, an empty body or JSON; anything else is refused with a message.
fn parse<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, String> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() || trimmed == b"null" {
        return Ok(T::default());
    }
    serde_json::from_slice(trimmed).map_err(|e| format!("lattice: malformed request body: {e}"))
}

/// `CreateEndpoint` -> `create_endpoint`: libnetwork's method names as metric labels.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod metric_names {
    #[test]
    fn methods_become_snake_case_labels() {
        assert_eq!(super::snake_case("CreateEndpoint"), "create_endpoint");
        assert_eq!(super::snake_case("Join"), "join");
        assert_eq!(super::snake_case("RequestAddress"), "request_address");
    }
}
