//! The fixed label values of latticed's metrics.

/// Which interface a request came in on (the `interface` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    /// The local unix-socket API (`lattice`, the lab).
    Api,
    /// The CNI plugin.
    Cni,
    /// The Docker (libnetwork remote) plugin.
    Docker,
}

impl Interface {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Api => "api",
            Interface::Cni => "cni",
            Interface::Docker => "docker",
        }
    }
}

/// The kinds of route latticed installs (the `kind` label of `lattice_routes_installed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    /// A container's /32 to its veth.
    Local,
    /// The blackhole covering a block.
    Blackhole,
    /// A learned route with one next hop.
    Learned,
    /// A learned route with several next hops (ECMP).
    Ecmp,
}

impl RouteKind {
    /// Every kind, for presetting the series.
    pub const ALL: [RouteKind; 4] = [
        RouteKind::Local,
        RouteKind::Blackhole,
        RouteKind::Learned,
        RouteKind::Ecmp,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            RouteKind::Local => "local",
            RouteKind::Blackhole => "blackhole",
            RouteKind::Learned => "learned",
            RouteKind::Ecmp => "ecmp",
        }
    }
}

/// Operations whose duration series exist from the start (reading 0) on each interface: the
/// CNI commands, and libnetwork's remote-driver methods in snake case (`NetworkDriver.Join` is
/// `join`, `IpamDriver.RequestAddress` is `request_address`).
pub(super) const KNOWN_OPERATIONS: [(Interface, &[&str]); 3] = [
    (Interface::Api, &["attach", "detach"]),
    (Interface::Cni, &["add", "del", "check", "status", "gc"]),
    (
        Interface::Docker,
        &[
            "create_endpoint",
            "join",
            "leave",
            "delete_endpoint",
            "request_address",
            "release_address",
        ],
    ),
];
