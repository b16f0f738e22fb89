//! Harness of the containerd CRI test and bench: nodes with containerd and latticed in lab
//! namespaces, a CRI client, the pause image, and the shipped manifests' steps.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

pub mod client;
pub mod image;
pub mod install;
pub mod node;
