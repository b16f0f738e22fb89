//! The notifications the fake kernel sends: what the real one would report for a change of a
//! namespace's links, addresses and routes.

use std::collections::BTreeSet;

use crate::kernel::{KernelEvent, Route};

use super::state::Namespace;

/// The notifications the kernel would send for the change from `before` to `after`.
pub(super) fn diff_events(before: &Namespace, after: &Namespace) -> Vec<KernelEvent> {
    let mut out = Vec::new();
    for (index, link) in &before.links {
        if after.links.get(index) != Some(link) {
            let deleted = !after.links.contains_key(index);
            out.push(KernelEvent::Link {
                index: *index,
                name: link.info.name.clone(),
                deleted,
            });
        }
    }
    for (index, link) in after.links.iter() {
        if !before.links.contains_key(index) {
            out.push(KernelEvent::Link {
                index: *index,
                name: link.info.name.clone(),
                deleted: false,
            });
        }
    }
    let indices: BTreeSet<u32> = before
        .addresses
        .keys()
        .chain(after.addresses.keys())
        .copied()
        .collect();
    for index in indices {
        if before.addresses.get(&index) != after.addresses.get(&index) {
            out.push(KernelEvent::Address { index });
        }
    }
    for (dst, route) in &before.routes {
        match after.routes.get(dst) {
            Some(r) if r == route => {}
            Some(r) => out.push(route_event(r, false)),
            None => out.push(route_event(route, true)),
        }
    }
    for (dst, route) in &after.routes {
        if !before.routes.contains_key(dst) {
            out.push(route_event(route, false));
        }
    }
    out
}

fn route_event(route: &Route, deleted: bool) -> KernelEvent {
    KernelEvent::Route {
        destination: route.destination,
        protocol: route.protocol,
        deleted,
    }
}
