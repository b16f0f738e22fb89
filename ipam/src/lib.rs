//! Lattice IPAM: the host block and container addresses.
