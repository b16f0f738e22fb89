//! Docker's libnetwork remote driver protocol (plugin API v1.2): the request bodies we read.
//!
//! Field names are Docker's (PascalCase). Unknown fields are ignored: Docker adds fields
//! between versions and an older plugin must keep working.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

/// `IpamDriver.RequestPool`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RequestPool {
    /// The address space (ours: `lattice`).
    pub address_space: String,
    /// A pool the user asked for (`--subnet`), empty when none.
    pub pool: String,
    /// A sub-pool (`--ip-range`), empty when none.
    pub sub_pool: String,
    /// Whether this is the IPv6 pool.
    #[serde(rename = "V6")]
    pub v6: bool,
}

/// `IpamDriver.ReleasePool`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ReleasePool {
    /// The pool id RequestPool returned.
    #[serde(rename = "PoolID")]
    pub pool_id: String,
}

/// `IpamDriver.RequestAddress`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RequestAddress {
    /// The pool id RequestPool returned.
    #[serde(rename = "PoolID")]
    pub pool_id: String,
    /// A specific address (`--ip`), empty when any will do.
    pub address: String,
    /// Options; `RequestAddressType: com.docker.network.gateway` asks for the gateway.
    pub options: Option<HashMap<String, String>>,
}

/// `IpamDriver.ReleaseAddress`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ReleaseAddress {
    /// The pool id RequestPool returned.
    #[serde(rename = "PoolID")]
    pub pool_id: String,
    /// The address to release (no prefix length).
    pub address: String,
}

/// One entry of `CreateNetwork.IPv4Data`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpamData {
    /// The pool (CIDR).
    pub pool: String,
    /// The gateway (CIDR).
    pub gateway: String,
}

/// `NetworkDriver.CreateNetwork`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CreateNetwork {
    /// Docker's network id.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// The IPv4 pools Docker's IPAM gave the network.
    #[serde(rename = "IPv4Data")]
    pub ipv4_data: Option<Vec<IpamData>>,
    /// The IPv6 pools, if the network is dual stack.
    #[serde(rename = "IPv6Data")]
    pub ipv6_data: Option<Vec<IpamData>>,
    /// Driver options (`-o`), generic labels.
    #[serde(rename = "Options")]
    pub options: Option<Value>,
}

/// Requests that name only a network (`DeleteNetwork`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NetworkRef {
    /// Docker's network id.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
}

/// The interface in `CreateEndpoint`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointInterface {
    /// The address the IPAM driver gave (CIDR).
    pub address: String,
    /// The IPv6 address (CIDR), if any.
    #[serde(rename = "AddressIPv6")]
    pub address_ipv6: String,
    /// A MAC the user asked for, if any.
    pub mac_address: String,
}

/// `NetworkDriver.CreateEndpoint`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CreateEndpoint {
    /// Docker's network id.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// Docker's endpoint id.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// The interface Docker wants, with its address.
    #[serde(rename = "Interface")]
    pub interface: Option<EndpointInterface>,
}

/// Requests that name an endpoint (`DeleteEndpoint`, `EndpointOperInfo`, `Leave`,
/// `ProgramExternalConnectivity`, `RevokeExternalConnectivity`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EndpointRef {
    /// Docker's network id.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// Docker's endpoint id.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
}

/// `NetworkDriver.Join`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Join {
    /// Docker's network id.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// Docker's endpoint id.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// The sandbox (network namespace) path; Docker moves the interface there itself.
    #[serde(rename = "SandboxKey")]
    pub sandbox_key: String,
}
