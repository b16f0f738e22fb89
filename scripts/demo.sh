#!/usr/bin/env bash
# `make demo`: bring up the two-racks fabric, show it working, tear it down.
# Exits non-zero if any BGP session stays down or any cell of the ping matrix fails.
set -euo pipefail
BIN=${1:?usage: demo.sh BIN_DIR TOPOLOGY}
TOPO=${2:?usage: demo.sh BIN_DIR TOPOLOGY}
LAB="$BIN/lattice-lab"

if [ "$(id -u)" != 0 ]; then
  echo "make demo needs root (network namespaces, FRR)" >&2
  exit 1
fi

section() { printf '\n\033[1m== %s ==\033[0m\n' "$*"; }

# A lab left over from an interrupted run would make deploy refuse: clear it first.
"$LAB" destroy -t "$TOPO" >/dev/null 2>&1 || true
trap 'section "destroy"; "$LAB" destroy -t "$TOPO"' EXIT

section "deploy $TOPO"
"$LAB" deploy -t "$TOPO"
"$LAB" inspect -t "$TOPO"

section "wait for every BGP session (bounded)"
"$LAB" wait -t "$TOPO" --timeout 90

section "lattice status on host1"
"$LAB" exec -t "$TOPO" host1 -- lattice status || true

section "show bgp summary on tor1"
"$LAB" exec -t "$TOPO" tor1 -- vtysh -c 'show bgp ipv4 unicast summary'

section "routes learned over BGP in host1's kernel"
"$LAB" exec -t "$TOPO" host1 -- ip route show

section "container ping matrix"
"$LAB" pingmatrix -t "$TOPO" --since-deploy

# After the matrix: by now every block is learned (the sessions were up, not yet the routes).
section "IPv6 routes learned over BGP in host1's kernel (the fabric is dual stack)"
"$LAB" exec -t "$TOPO" host1 -- ip -6 route show proto bgp
