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
TEST_PKGS := $(DEMO_PKGS) nftables bird2 gobgpd exabgp etcd-server etcd-client podman runc containerd \
  containernetworking-plugins docker.io busybox-static util-linux tar prometheus \
  qemu-system-x86 binutils
# Debian's kernel (with ipvlan) and the VM's initramfs are cached here, never committed.
IPVLAN_VM := target/ipvlan-vm/cache

.PHONY: all build demo test test-ipvlan bench deps-demo deps-test deps-bench fmt lint clean-lab help

all: build

help:
	@echo "make demo   - build, bring up the two-racks fabric with FRR, show it working, tear down (root)"
	@echo "make test   - install test dependencies and run every test layer this machine can run (root)"
	@echo "make test-ipvlan - ipvlan-l3/l3s across two BGP-peered hosts, in a QEMU VM with Debian's kernel"
	@echo "make bench  - ingest against BIRD, FRR and GoBGP; IPAM against host-local; CNI against ptp; routes against ip -batch and zebra; pod sandboxes through containerd CRI; unnumbered failover against FRR on the host (root); see docs/benchmarks.md"
	@echo "make fmt | lint | build"

build:
	$(CARGO) build --workspace --bins $(CARGO_PROFILE_FLAG)

deps-demo:
	@scripts/apt-install.sh $(DEMO_PKGS)

deps-test:
	@scripts/apt-install.sh $(TEST_PKGS)

demo: deps-demo build
	LATTICED_BIN=$(abspath $(BIN))/latticed scripts/demo.sh $(BIN) $(EXAMPLE)

# Layer 1-3: unit, golden-vector, property and corpus-replay tests (no root needed).
# Layer 4-5: namespace and interop tests (root, real FRR); they skip themselves without root.
# The ipvlan layer boots a VM (this machine's kernel has no ipvlan): run when qemu is present.
test: deps-test build
	$(CARGO) test --workspace $(CARGO_PROFILE_FLAG) --no-fail-fast
	@if command -v qemu-system-x86_64 >/dev/null; then $(MAKE) --no-print-directory test-ipvlan; \
	else echo "test-ipvlan SKIPPED: qemu-system-x86_64 is not installed"; fi

# ipvlan for real: Debian's kernel under QEMU (software emulation), two latticed hosts
# peering over BGP, containers in ipvlan-l3 then ipvlan-l3s; verdict from the serial console.
test-ipvlan: deps-test build
	scripts/ipvlan-vm/run.sh $(IPVLAN_VM) $(BIN)/latticed $(BIN)/lattice

# Benchmarks compare Lattice with the real alternatives in the same run and print ratios
# (docs/benchmarks.md). Root: they run daemons in network namespaces.
# Scenarios: N prefixes from one peer, or PxN (P peers at once, the same N prefixes each).
BENCH_SIZES ?= 100000 1000000 10x100000
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
deps-bench:
	@scripts/apt-install.sh $(BUILD_PKGS) frr bird2 gobgpd iproute2 etcd-server containernetworking-plugins \
	  containerd runc busybox-static util-linux tar nftables tcpdump iputils-ping

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
	$(CARGO) build --release -p topology-lab --example bench_cri
	target/release/examples/bench_cri $(BENCH_CRI_N) $(BENCH_CRI_ROUNDS)
	$(CARGO) build --release -p agent -p topology-lab --bins --example bench_failover
	target/release/examples/bench_failover $(BENCH_FAILOVER_SECS)

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Remove a lab left behind by an interrupted demo.
clean-lab:
	-$(BIN)/lattice-lab destroy -t $(EXAMPLE)
