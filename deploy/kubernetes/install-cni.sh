#!/bin/sh
# install-cni.sh: what the lattice DaemonSet does on each node (the way Calico's install-cni does).
#
#   install-cni.sh install    render latticed's config from the environment, then install
#                             lattice-cni, `loopback` (only if the node has none) and the conflist
#   install-cni.sh uninstall  remove the conflist first, then the files `install` put there
#
# Idempotent: a file already equal to ours is left untouched; a changed one is replaced
# atomically (copy to a temporary name in the same directory, then rename), so a runtime never
# runs a half-written plugin nor reads a half-written conflist. Binaries go in before the
# conflist: a runtime that sees the network config finds its plugins. What `install` created is
# listed in $INSTALL_RECORD, so `uninstall` never removes a `loopback` the node had before.
#
# Paths default to the DaemonSet's mounts; tests point them elsewhere.
set -eu

CNI_BIN_DIR=${CNI_BIN_DIR:-/host/opt/cni/bin}
CNI_NET_DIR=${CNI_NET_DIR:-/host/etc/cni/net.d}
CONFLIST_NAME=${CONFLIST_NAME:-10-lattice.conflist}
CONFLIST_SRC=${CONFLIST_SRC:-/etc/lattice/$CONFLIST_NAME}
LATTICE_CNI_SRC=${LATTICE_CNI_SRC:-/usr/local/bin/lattice-cni}
LOOPBACK_SRC=${LOOPBACK_SRC:-/usr/lib/cni/loopback}
LATTICED=${LATTICED:-/usr/local/bin/latticed}
NODE_CONFIG=${NODE_CONFIG:-/etc/lattice-node/latticed.yaml}
INSTALL_RECORD=${INSTALL_RECORD:-/var/lib/lattice/cni-installed}

say() { echo "install-cni: $*"; }
die() { echo "install-cni: $*" >&2; exit 1; }

# install_file SRC DST MODE: replace DST by SRC unless equal; prints what it did.
install_file() {
	[ -f "$1" ] || die "$1 is missing from the image"
	if [ -f "$2" ] && cmp -s "$1" "$2"; then
		say "unchanged $2"
		return 0
	fi
	tmp="$2.lattice-tmp.$$"
	cp "$1" "$tmp" && chmod "$3" "$tmp" && mv -f "$tmp" "$2" || { rm -f "$tmp"; die "cannot write $2"; }
	say "installed $2"
}

record() {
	grep -qxF "$1" "$INSTALL_RECORD" 2>/dev/null || echo "$1" >>"$INSTALL_RECORD"
}

recorded() {
	grep -qxF "$1" "$INSTALL_RECORD" 2>/dev/null
}

# A value that goes into the YAML as a plain scalar: no quotes, spaces or YAML punctuation.
check_value() {
	case "$2" in
	'' | *[!A-Za-z0-9._:/-]*) die "$1=\"$2\" must be non-empty letters, digits and . _ : / -" ;;
	esac
}

# The node's IPv4 default gateway, from the kernel's table (no iproute2 needed).
default_gateway() {
	while read -r _ dst gw _ _ _ _ mask _; do
		if [ "$dst" = 00000000 ] && [ "$mask" = 00000000 ] && [ "$gw" != 00000000 ]; then
			# Little-endian hex: 0101000A is 10.0.1.1.
			o=$gw
			printf '%d.%d.%d.%d\n' "0x${o#??????}" "0x$(echo "$o" | cut -c5-6)" \
				"0x$(echo "$o" | cut -c3-4)" "0x$(echo "$o" | cut -c1-2)"
			return 0
		fi
	done </proc/net/route
	return 1
}

# latticed's config from the DaemonSet's environment (docs/cni.md#kubernetes lists the keys).
render_config() {
	check_value NODE_NAME "${NODE_NAME:-}"
	check_value NODE_IP "${NODE_IP:-}"
	asn=${LATTICE_ASN:-64512}
	check_value LATTICE_ASN "$asn"
	cidr=${LATTICE_CLUSTER_CIDR:-10.244.0.0/16}
	check_value LATTICE_CLUSTER_CIDR "$cidr"
	len=${LATTICE_BLOCK_PREFIX_LEN:-24}
	check_value LATTICE_BLOCK_PREFIX_LEN "$len"
	store=${LATTICE_DATASTORE:-fan}
	state=${LATTICE_STATE_DIR:-/var/lib/lattice}
	socket=${LATTICE_API_SOCKET:-/run/lattice/lattice.sock}
	leak=${LATTICE_LEAK_GRACE_PERIOD:-300}
	check_value LATTICE_LEAK_GRACE_PERIOD "$leak"
	case "$store" in
	fan)
		check_value LATTICE_FAN_UNDERLAY "${LATTICE_FAN_UNDERLAY:-}"
		store_yaml="  fan: {underlay: $LATTICE_FAN_UNDERLAY}"
		;;
	local)
		# LATTICE_BLOCKS: node=block,node=block (each node its own block).
		block=$(echo "${LATTICE_BLOCKS:-}" | tr ',' '\n' | sed -n "s|^$NODE_NAME=||p" | head -n 1)
		check_value "LATTICE_BLOCKS entry for $NODE_NAME" "$block"
		store_yaml="  block: $block"
		;;
	etcd)
		store_yaml="  etcd: {endpoints: [$(echo "${LATTICE_ETCD_ENDPOINTS:-}" | sed 's/,/, /g')]}"
		check_value LATTICE_ETCD_ENDPOINTS "$(echo "${LATTICE_ETCD_ENDPOINTS:-}" | tr -d ',')"
		;;
	*) die "LATTICE_DATASTORE=\"$store\" must be fan, local or etcd" ;;
	esac
	peers=""
	for p in $(echo "${LATTICE_PEERS:-}" | tr ',' ' '); do
		addr=${p%:*}
		peer_asn=${p##*:}
		if [ "$addr" = gateway ]; then
			addr=$(default_gateway) || die "LATTICE_PEERS names \"gateway\" but the node has no IPv4 default route"
		fi
		check_value "LATTICE_PEERS address" "$addr"
		check_value "LATTICE_PEERS asn" "$peer_asn"
		extra=""
		if [ -n "${LATTICE_PEER_ALLOW_AS_IN:-}" ]; then
			check_value LATTICE_PEER_ALLOW_AS_IN "$LATTICE_PEER_ALLOW_AS_IN"
			extra=", allow_as_in: $LATTICE_PEER_ALLOW_AS_IN"
		fi
		peers="$peers
    - {address: $addr, asn: $peer_asn$extra}"
	done
	[ -n "$peers" ] || die "LATTICE_PEERS must list the node's BGP peers as ADDRESS:ASN (or gateway:ASN)"
	uplinks=""
	if [ -n "${LATTICE_UPLINKS:-}" ]; then
		check_value LATTICE_UPLINKS "$(echo "$LATTICE_UPLINKS" | tr -d ',')"
		uplinks=", uplinks: [$(echo "$LATTICE_UPLINKS" | sed 's/,/, /g')]"
	fi
	mkdir -p "$(dirname "$NODE_CONFIG")"
	tmp="$NODE_CONFIG.tmp.$$"
	cat >"$tmp" <<EOF
# Rendered by install-cni.sh from the DaemonSet's environment; edit the DaemonSet, not this file.
node: {name: $NODE_NAME, asn: $asn, router_id: $NODE_IP}
cluster: {cidr: $cidr, block_prefix_len: $len}
ipam:
  datastore: $store
  state_dir: $state
  leak_grace_period: $leak
$store_yaml
dataplane: {mode: routed-veth$uplinks}
bgp:
  listen: {address: 0.0.0.0, port: 179}
  peers:$peers
api: {socket: $socket}
docker: {enabled: false}
EOF
	mv -f "$tmp" "$NODE_CONFIG"
	if [ -x "$LATTICED" ]; then
		"$LATTICED" --config "$NODE_CONFIG" --check || die "the rendered $NODE_CONFIG is not valid (above: the key and why)"
	fi
	say "rendered $NODE_CONFIG for node $NODE_NAME"
}

install() {
	render_config
	mkdir -p "$CNI_BIN_DIR" "$CNI_NET_DIR" "$(dirname "$INSTALL_RECORD")"
	install_file "$LATTICE_CNI_SRC" "$CNI_BIN_DIR/lattice-cni" 0755
	record "$CNI_BIN_DIR/lattice-cni"
	# CRI (containerd) sets up the pod's lo with `loopback` from its bin_dir; many nodes lack it.
	if [ ! -e "$CNI_BIN_DIR/loopback" ] || recorded "$CNI_BIN_DIR/loopback"; then
		install_file "$LOOPBACK_SRC" "$CNI_BIN_DIR/loopback" 0755
		record "$CNI_BIN_DIR/loopback"
	else
		say "kept the node's own $CNI_BIN_DIR/loopback"
	fi
	install_file "$CONFLIST_SRC" "$CNI_NET_DIR/$CONFLIST_NAME" 0644
	record "$CNI_NET_DIR/$CONFLIST_NAME"
}

uninstall() {
	# The conflist first: the runtime stops offering the network before its plugin goes.
	rm -f "$CNI_NET_DIR/$CONFLIST_NAME"
	say "removed $CNI_NET_DIR/$CONFLIST_NAME"
	if [ -f "$INSTALL_RECORD" ]; then
		while read -r f; do
			case "$f" in
			"$CNI_NET_DIR/$CONFLIST_NAME") ;;
			"$CNI_BIN_DIR"/*)
				rm -f "$f"
				say "removed $f"
				;;
			*) say "not removing $f: outside $CNI_BIN_DIR" ;;
			esac
		done <"$INSTALL_RECORD"
		rm -f "$INSTALL_RECORD"
	fi
}

case "${1:-}" in
install) install ;;
uninstall) uninstall ;;
*) die "usage: $0 install|uninstall" ;;
esac
