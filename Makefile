# Lattice: every entry point a person or CI uses. Targets that touch the kernel need root.
SHELL := /bin/bash
CARGO ?= cargo
PROFILE ?= debug
BIN := target/$(PROFILE)
CARGO_PROFILE_FLAG := $(if $(filter release,$(PROFILE)),--release,)
EXAMPLE := topology-lab/examples/two-racks.clab.yml

# Debian packages: what building needs (protoc for the etcd client), what the demo needs, and
# what the test layers add (etcd for the IPAM etcd datastore tests).
BUILD_PKGS := protobuf-compiler
DEMO_PKGS := $(BUILD_PKGS) frr iproute2 iputils-ping procps
# qemu-system-x86, busybox-static, binutils (strip): the ipvlan VM test (make test-ipvlan).
# containerd (+ runc): the CRI test, nodes driven through containerd's CRI API.
# make release: strip (binutils); make image: podman and busybox-static (the image's /bin/sh);
# make release-test: file, systemd (systemd-analyze), etcd (a hostname endpoint), util-linux.
RELEASE_PKGS := $(BUILD_PKGS) binutils tar gzip file podman runc busybox-static systemd \
  etcd-server etcd-client util-linux iproute2
TEST_PKGS := $(DEMO_PKGS) nftables bird2 gobgpd exabgp openbgpd etcd-server etcd-client openssl podman runc containerd \
  containernetworking-plugins docker.io busybox-static util-linux tar prometheus \
  qemu-system-x86 binutils $(RELEASE_PKGS)
# Debian's kernel (with ipvlan) and the VM's initramfs are cached here, never committed.
IPVLAN_VM := target/ipvlan-vm/cache

# make release: static binaries, tarball and sums here; make deb and make image package that tree.
DIST := target/dist
VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' Cargo.toml | head -n1)
RELEASE_NAME := lattice-$(VERSION)-x86_64-linux
PODMAN_DIR := target/podman

.PHONY: all build demo test test-unit test-netns test-interop test-lab test-ipvlan bench deps-demo \
  deps-test deps-bench deps-release fmt lint clean-lab help release deb image release-test test-release

all: build

help:
	@echo "make demo   - build, bring up the two-racks fabric with FRR, show it working, tear down (root)"
	@echo "make test   - install test dependencies and run every test layer (root); see docs/testing.md"
	@echo "make test-unit    - unit, golden, property, corpus and loopback tests: no root, no daemons"
	@echo "make test-netns   - root: our code against the real kernel in network namespaces"
	@echo "make test-interop - root: our speaker and IPAM against FRR, BIRD, GoBGP, ExaBGP, etcd"
	@echo "make test-lab     - root: whole fabrics through lattice-lab (FRR, podman, dockerd, Prometheus)"
	@echo "make test-ipvlan  - ipvlan-l3/l3s and Docker ipvlan networks across two BGP-peered hosts, in a QEMU VM with Debian's kernel"
	@echo "make release-test - the tarball, package and image work where operators install them (root)"
	@echo "make bench  - ingest against BIRD, FRR and GoBGP; IPAM against host-local; CNI against ptp; routes against ip -batch and zebra; pod sandboxes through containerd CRI; unnumbered failover against FRR on the host; BFD failover and the CPU of 100 BFD sessions against FRR bgpd+bfdd; live reconfiguration against FRR; clusters without ToR against a BIRD mesh (root); see docs/benchmarks.md"
	@echo "make release - static, stripped binaries in $(DIST)/$(RELEASE_NAME).tar.gz with SHA-256 sums"
	@echo "make deb    - the Debian package of that release; make image - its OCI image (podman)"
	@echo "make fmt | lint | build"

build:
	$(CARGO) build --workspace --bins $(CARGO_PROFILE_FLAG)

deps-demo:
	@scripts/apt-install.sh $(DEMO_PKGS)

deps-test:
	@scripts/apt-install.sh $(TEST_PKGS)

deps-release:
	@scripts/apt-install.sh $(RELEASE_PKGS)

demo: deps-demo build
	LATTICED_BIN=$(abspath $(BIN))/latticed scripts/demo.sh $(BIN) $(EXAMPLE)

# Test layers (docs/testing.md). A test file's name says its layer: netns_* (root, namespaces,
# our own binaries), interop_* (real FRR, BIRD, GoBGP, ExaBGP, etcd), lab_* (whole fabrics
# through lattice-lab); every other integration test, and every unit test beside the code, is a
# unit test (no root, no daemons). Under these targets a test that cannot run (no root, a
# package missing, a binary not built) fails with the reason: LATTICE_TEST_STRICT=1, read by the
# test kit's require checks. A plain `cargo test` skips such a test with a SKIPPED line instead.
TEST_NAMES := $(sort $(basename $(notdir $(wildcard */tests/*.rs))) \
  $(notdir $(patsubst %/main.rs,%,$(wildcard */tests/*/main.rs))))
UNIT_TESTS := $(filter-out netns_% interop_% lab_%,$(TEST_NAMES))
CARGO_TEST := LATTICE_TEST_STRICT=1 $(CARGO) test --workspace $(CARGO_PROFILE_FLAG) --no-fail-fast

test-unit:
	$(CARGO_TEST) --lib --bins --examples $(addprefix --test ,$(UNIT_TESTS))
	$(CARGO_TEST) --doc

test-netns:
	$(CARGO_TEST) --test 'netns_*'

test-interop:
	$(CARGO_TEST) --test 'interop_*'

# The lab tests run the latticed, lattice and lattice-cni built next to lattice-lab.
test-lab: build
	$(CARGO_TEST) --test 'lab_*'

# Every layer, each run even when an earlier one failed; fails if any did.
test: deps-test build
	@failed=""; for layer in unit netns interop lab ipvlan release; do \
	  echo "== make test-$$layer"; \
	  $(MAKE) --no-print-directory test-$$layer || failed="$$failed test-$$layer"; \
	done; \
	if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed"; exit 1; fi; \
	echo "make test: every layer passed"

# ipvlan for real: Debian's kernel under QEMU (software emulation), two latticed hosts
# peering over BGP, containers in ipvlan-l3 then ipvlan-l3s; then a real dockerd per host on the
# lattice driver and on Docker's ipvlan driver with Lattice's IPAM (scripts/ipvlan-vm/docker.sh).
# Verdict from the serial console; MODES="ipvlan-l3" runs one boot.
test-ipvlan: deps-test build
	scripts/ipvlan-vm/run.sh $(IPVLAN_VM) $(BIN)/latticed $(BIN)/lattice

# One static release build (target/x86_64-unknown-linux-gnu/release) feeds the tarball, the
# package and the image (docs/install.md).
release: deps-release
	DIST=$(DIST) CARGO=$(CARGO) packaging/release.sh

deb: release
	packaging/deb/build.sh $(DIST)/$(RELEASE_NAME) $(DIST)

image: release
	DIST=$(DIST) PODMAN_DIR=$(PODMAN_DIR) packaging/image.sh $(DIST)/$(RELEASE_NAME)

# Root: the binaries in an empty root and network namespace with only the unit's capabilities,
# the package in a throwaway root with systemd-analyze verify, the image under podman.
release-test: deb image
	DIST=$(DIST) PODMAN_DIR=$(PODMAN_DIR) packaging/release-test.sh

# The release layer of make test.
test-release: release-test

# Benchmarks compare Lattice with the real alternatives in the same run and print ratios
# (docs/benchmarks.md). Root: they run daemons in network namespaces.
# Scenarios: N prefixes from one peer, or PxN (P peers at once, the same N prefixes each);
# `:r1,r2` limits a scenario to some receivers. 10x1000000 is bgperf2's headline (10M paths);
# GoBGP is left out of it (at 1M from one peer it needs 1.2 GiB and minutes already).
BENCH_SIZES ?= 100000 1000000 10x100000 10x1000000:lattice,bird,frr
# IPAM: N allocations on Lattice's local and etcd datastores and with CNI host-local.
BENCH_ALLOCS ?= 2000
# CNI ADD/DEL latency: lattice-cni (with latticed) against ptp + host-local, BENCH_CNI_N containers.
BENCH_CNI_N ?= 100
# Pod sandbox start-to-ready through containerd's CRI: lattice-cni against ptp + host-local,
# BENCH_CRI_N sandboxes one by one, then BENCH_CRI_ROUNDS rounds of 10 at once.
BENCH_CRI_N ?= 100
BENCH_CRI_ROUNDS ?= 10
# Failover on the unnumbered lab: seconds of 10 ms ping streams per failure (3 per row).
BENCH_FAILOVER_SECS ?= 15
# BFD: CPU of BENCH_BFD_SESSIONS sessions at 100 ms x 3 (ours and FRR bfdd), over BENCH_BFD_SECS.
BENCH_BFD_SESSIONS ?= 100
BENCH_BFD_SECS ?= 30
# Clusters without ToR: BIRD 2 iBGP full mesh (Calico) against Lattice's mesh and reflectors,
# at each of these host counts.
BENCH_MESH_HOSTS ?= 50 100
deps-bench:
	@scripts/apt-install.sh $(BUILD_PKGS) frr bird2 gobgpd iproute2 etcd-server containernetworking-plugins \
	  containerd runc busybox-static util-linux tar nftables tcpdump iputils-ping

# Live reconfiguration: P peers, N exported prefixes, one peer's export changed R times, against
# FRR's route-map change + clear soft out, same run.
BENCH_RELOAD ?= 100 10000 5
# Route programming: N single-path and M two-path ECMP learned routes installed and withdrawn by
# Lattice's executor, by `ip -batch` and by FRR zebra (learned over BGP), same run.
ROUTE_BENCH ?= 100000 10000
# A comparison that cannot run (a daemon or plugin missing) fails, as in the test layers.
# Everything is built in one cargo run first: per-bench builds of different package sets
# relinked latticed (fat LTO, minutes each) several times.
bench: export LATTICE_TEST_STRICT := 1
bench: deps-bench
	$(CARGO) build --release --workspace --bins --examples
	target/release/examples/bench_ingest run $(BENCH_SIZES)
	target/release/examples/bench_alloc $(BENCH_ALLOCS)
	target/release/examples/bench_cni run $(BENCH_CNI_N)
	target/release/examples/bench_routes $(ROUTE_BENCH)
	target/release/examples/bench_cri $(BENCH_CRI_N) $(BENCH_CRI_ROUNDS)
	target/release/examples/bench_failover $(BENCH_FAILOVER_SECS)
	target/release/examples/bench_bfd_failover $(BENCH_FAILOVER_SECS)
	target/release/examples/bench_bfd_sessions $(BENCH_BFD_SESSIONS) $(BENCH_BFD_SECS)
	target/release/examples/bench_reload $(BENCH_RELOAD)
	target/release/examples/bench_mesh $(BENCH_MESH_HOSTS)

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Remove a lab left behind by an interrupted demo.
clean-lab:
	-$(BIN)/lattice-lab destroy -t $(EXAMPLE)
