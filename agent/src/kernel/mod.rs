//! The one boundary to the kernel.
