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
# make release: strip (binutils); make image: podman and busybox-static (the image's /bin/sh);
# make release-test: file, systemd (systemd-analyze), etcd (a hostname endpoint), util-linux.
RELEASE_PKGS := $(BUILD_PKGS) binutils tar gzip file podman runc busybox-static systemd \
  etcd-server etcd-client util-linux iproute2
TEST_PKGS := $(DEMO_PKGS) nftables bird2 gobgpd exabgp etcd-server etcd-client podman runc \
  containernetworking-plugins docker.io busybox-static util-linux tar prometheus \
  qemu-system-x86 binutils $(RELEASE_PKGS)
# Debian's kernel (with ipvlan) and the VM's initramfs are cached here, never committed.
IPVLAN_VM := target/ipvlan-vm/cache

# make release: static binaries, tarball and sums here; make deb and make image package that tree.
DIST := target/dist
VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' Cargo.toml | head -n1)
RELEASE_NAME := lattice-$(VERSION)-x86_64-linux
PODMAN_DIR := target/podman

.PHONY: all build demo test test-ipvlan bench deps-demo deps-test deps-bench deps-release fmt lint \
  clean-lab help release deb image release-test

all: build

help:
	@echo "make demo   - build, bring up the two-racks fabric with FRR, show it working, tear down (root)"
	@echo "make test   - install test dependencies and run every test layer this machine can run (root)"
	@echo "make test-ipvlan - ipvlan-l3/l3s across two BGP-peered hosts, in a QEMU VM with Debian's kernel"
	@echo "make bench  - ingest against BIRD, FRR and GoBGP; IPAM against host-local; CNI against ptp; routes against ip -batch and zebra (root); see docs/benchmarks.md"
	@echo "make release - static, stripped binaries in $(DIST)/$(RELEASE_NAME).tar.gz with SHA-256 sums"
	@echo "make deb    - the Debian package of that release; make image - its OCI image (podman)"
	@echo "make release-test - the tarball, package and image work where operators install them (root)"
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

# Layer 1-3: unit, golden-vector, property and corpus-replay tests (no root needed).
# Layer 4-5: namespace and interop tests (root, real FRR); they skip themselves without root.
# The ipvlan layer boots a VM (this machine's kernel has no ipvlan): run when qemu is present.
test: deps-test build
	$(CARGO) test --workspace $(CARGO_PROFILE_FLAG) --no-fail-fast
	@if command -v qemu-system-x86_64 >/dev/null; then $(MAKE) --no-print-directory test-ipvlan; \
	else echo "test-ipvlan SKIPPED: qemu-system-x86_64 is not installed"; fi
	$(MAKE) --no-print-directory release-test

# ipvlan for real: Debian's kernel under QEMU (software emulation), two latticed hosts
# peering over BGP, containers in ipvlan-l3 then ipvlan-l3s; verdict from the serial console.
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

# Benchmarks compare Lattice with the real alternatives in the same run and print ratios
# (docs/benchmarks.md). Root: they run daemons in network namespaces.
# Scenarios: N prefixes from one peer, or PxN (P peers at once, the same N prefixes each).
BENCH_SIZES ?= 100000 1000000 10x100000
# IPAM: N allocations on Lattice's local and etcd datastores and with CNI host-local.
BENCH_ALLOCS ?= 2000
# CNI ADD/DEL latency: lattice-cni (with latticed) against ptp + host-local, BENCH_CNI_N containers.
BENCH_CNI_N ?= 100
deps-bench:
	@scripts/apt-install.sh $(BUILD_PKGS) frr bird2 gobgpd iproute2 etcd-server containernetworking-plugins

# Route programming: N single-path and M two-path ECMP learned routes installed and withdrawn by
# Lattice's executor, by `ip -batch` and by FRR zebra (learned over BGP), same run.
ROUTE_BENCH ?= 100000 10000
bench: deps-bench
	$(CARGO) build --release -p bgp --example bench_ingest
	target/release/examples/bench_ingest run $(BENCH_SIZES)
	$(CARGO) build --release -p ipam --example bench_alloc
	target/release/examples/bench_alloc $(BENCH_ALLOCS)
	$(CARGO) build --release -p agent -p cni --bins --example bench_cni
	target/release/examples/bench_cni run $(BENCH_CNI_N)
	$(CARGO) build --release -p agent --bins --example bench_routes
	target/release/examples/bench_routes $(ROUTE_BENCH)

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Remove a lab left behind by an interrupted demo.
clean-lab:
	-$(BIN)/lattice-lab destroy -t $(EXAMPLE)
