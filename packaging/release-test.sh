#!/usr/bin/env bash
# make release-test (root): what `make release`, `make deb` and `make image` produced works where
# operators install it, with nothing from the build tree.
#  1. tarball: sums verify; every binary is static (`file`) and stripped; --version names the
#     release's commit; in an empty root (chroot) and an empty network namespace latticed --check,
#     lattice/lattice-lab --version and a CNI VERSION call to lattice-cni answer.
#  2. latticed from the tarball runs in an empty network namespace with exactly the capabilities
#     of the systemd unit (and fails without each one), resolves its etcd endpoint's host name
#     through /etc/hosts with a host nsswitch.conf whose first source cannot load, attaches a
#     container namespace and serves BGP on port 179.
#  3. the .deb installs into a throwaway root (an overlay of this machine's / in a private mount
#     namespace: the host is never written), its unit passes `systemd-analyze verify`, it is
#     enabled, latticed runs from it, and purge leaves nothing.
#  4. the image: under 25 MB, nothing in it but the binaries and /bin/sh, `latticed --check` on a
#     mounted config under podman, the install-cni shell step works, the DaemonSet names it.
# Every namespace is an unshare'd one that dies with its process; the temp dir is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
DIST=${DIST:-target/dist}
PODMAN_DIR=${PODMAN_DIR:-target/podman}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
name=lattice-$version-x86_64-linux
bins="latticed lattice lattice-cni lattice-lab"
[ "$(id -u)" = 0 ] || { echo "release-test: FAIL: needs root (namespaces, chroot, dpkg --root, podman)" >&2; exit 1; }

t=$(mktemp -d /tmp/lattice-release-test.XXXXXX)
trap 'rm -rf "$t"' EXIT
fail() { echo "release-test: FAIL: $*" >&2; exit 1; }
ok() { echo "release-test: ok: $*"; }
start=$(date +%s)

# 1. The tarball.
(cd "$DIST" && sha256sum --quiet -c "$name.tar.gz.sha256") || fail "$name.tar.gz.sha256 does not match"
tar -C "$t" -xzf "$DIST/$name.tar.gz"
rel=$t/$name
(cd "$rel" && sha256sum --quiet -c SHA256SUMS) || fail "SHA256SUMS in the tarball do not match"
for b in $bins; do
  f=$(file -b "$rel/bin/$b")
  [[ $f == *"static-pie linked"* || $f == *"statically linked"* ]] || fail "$b is not static: $f"
  [[ $f == *", stripped"* ]] || fail "$b is not stripped: $f"
done
ok "tarball sums; $bins static and stripped"
commit=$(cat "$rel/COMMIT")
if head=$(git rev-parse --short=12 HEAD 2>/dev/null); then
  [[ $commit == "$head" || $commit == "$head-dirty" ]] || fail "the tarball is of $commit, HEAD is $head"
fi
[ "$commit" != unknown ] || fail "the release does not know its commit"

empty=$t/empty
mkdir -p "$empty/bin" "$empty/etc/lattice"
cp "$rel"/bin/* "$empty/bin/"
cp "$rel/examples/latticed.yaml" "$empty/etc/lattice/latticed.yaml"
in_empty() { unshare --net chroot "$empty" "$@"; }
for b in $bins; do
  out=$(in_empty "/bin/$b" --version) || fail "$b --version failed in an empty root"
  [ "$out" = "$b $version (commit $commit)" ] || fail "$b --version says: $out"
done
out=$(in_empty /bin/latticed --config /etc/lattice/latticed.yaml --check) ||
  fail "latticed --check in an empty root: $out"
out=$(env -i PATH="$PATH" CNI_COMMAND=VERSION unshare --net chroot "$empty" /bin/lattice-cni </dev/null) ||
  fail "lattice-cni VERSION in an empty root: $out"
[[ $out == *'"supportedVersions"'*'"1.0.0"'* ]] || fail "lattice-cni VERSION answered: $out"
ok "in an empty root and network namespace: --version ($commit), latticed --check, CNI VERSION"

# 2. latticed running with the unit's capabilities only.
unit=$rel/systemd/latticed.service
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
[ -n "$caps" ] || fail "the unit has no CapabilityBoundingSet"
setpriv_caps() { # CAP_A CAP_B ... -> +a,+b,...
  local out=""
  for c in "$@"; do c=${c#CAP_}; out="$out,+${c,,}"; done
  echo "${out#,}"
}
run=$t/run
mkdir -p "$run"
printf '127.0.0.1 localhost\n127.0.0.1 etcd.lattice.test\n' >"$run/hosts"
# A source that cannot load, with [UNAVAIL=return]: only a latticed that ignores nsswitch.conf's
# modules (docs/install.md) gets past it to /etc/hosts.
printf 'hosts: lattice-no-such-module [UNAVAIL=return] files dns\n' >"$run/nsswitch.conf"
# One run in a fresh pid, mount and network namespace: etcd on loopback, latticed from the
# tarball under setpriv. Prints what it saw; everything dies with the namespace.
run_latticed() { # RUN_DIR SETPRIV_CAPS runs|fails
  unshare --pid --fork --mount-proc --net --mount --propagation private \
    bash -s "$1" "$2" "$3" "$rel/bin" <<'EOF'
set -u
d=$1 caps=$2 mode=$3 bin=$4
mount --bind "$d/../hosts" /etc/hosts
mount --bind "$d/../nsswitch.conf" /etc/nsswitch.conf
ip link set lo up
cat >"$d/latticed.yaml" <<CONF
node: {name: release-test, asn: 65101, router_id: 10.0.1.2}
cluster: {cidr: 10.244.0.0/16, block_prefix_len: 24}
ipam: {datastore: etcd, etcd: {endpoints: ["http://etcd.lattice.test:2379"]}, state_dir: $d/state}
dataplane: {mode: routed-veth}
bgp: {listen: {address: 0.0.0.0, port: 179}, peers: []}
api: {socket: $d/lattice.sock}
docker: {enabled: false}
metrics: {enabled: false}
CONF
etcd --name rt --data-dir "$d/etcd" --listen-client-urls http://127.0.0.1:2379 \
  --advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380 \
  --initial-advertise-peer-urls http://127.0.0.1:2380 --initial-cluster rt=http://127.0.0.1:2380 \
  >"$d/etcd.log" 2>&1 &
for _ in $(seq 100); do
  etcdctl --endpoints http://127.0.0.1:2379 endpoint health >/dev/null 2>&1 && break
  sleep 0.1
done
touch "$d/ctr"
unshare --net="$d/ctr" true
if [ "$mode" = fails ]; then
  setpriv --bounding-set=-all,"$caps" --inh-caps=-all --no-new-privs \
    timeout 20 "$bin/latticed" --config "$d/latticed.yaml" >"$d/latticed.log" 2>&1
  echo "latticed exited: $?"
  exit 0
fi
setpriv --bounding-set=-all,"$caps" --inh-caps=-all --no-new-privs \
  "$bin/latticed" --config "$d/latticed.yaml" >"$d/latticed.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  [ -S "$d/lattice.sock" ] && break
  kill -0 $pid 2>/dev/null || { echo "latticed exited"; exit 0; }
  sleep 0.1
done
echo "bounding set: $(grep CapBnd /proc/$pid/status)"
"$bin/lattice" --socket "$d/lattice.sock" attach --container-id rt1 --netns "$d/ctr"
echo "container: $(nsenter --net="$d/ctr" ip -4 -o addr show dev eth0)"
echo "route: $(ip -4 route show proto 252 | grep -v blackhole)"
echo "listening: $(ss -Hltn 'sport = :179')"
"$bin/lattice" --socket "$d/lattice.sock" status >/dev/null && echo "status: healthy"
kill -TERM $pid
wait $pid && echo "stopped: 0"
EOF
}
mkdir -p "$run/all"
out=$(run_latticed "$run/all" "$(setpriv_caps $caps)" runs)
for want in "container: .*inet 10\.244\.0\.0/32" "route: 10\.244\.0\.0 dev lat" "listening: .*:179" \
  "status: healthy" "stopped: 0"; do
  grep -q "$want" <<<"$out" || fail "latticed with $caps: no '$want' in:
$out
$(cat "$run/all/latticed.log")"
done
ok "latticed with only $caps: etcd by host name, a container attached, BGP on :179"
# CAP_NET_RAW and CAP_SYS_NICE serve interface peers and BFD only: without them latticed runs
# (this configuration has neither) and says why when a feature needs them.
for drop in $caps; do
  case $drop in CAP_NET_RAW | CAP_SYS_NICE) continue ;; esac
  rest=$(for c in $caps; do [ "$c" = "$drop" ] || echo "$c"; done)
  mkdir -p "$run/no-$drop"
  out=$(run_latticed "$run/no-$drop" "$(setpriv_caps $rest)" fails)
  grep -Eq "^latticed exited: [1-9]" <<<"$out" && ! grep -q "exited: 124" <<<"$out" ||
    fail "latticed without $drop did not fail:
$out"
  grep -Eq "Operation not permitted|Permission denied" "$run/no-$drop/latticed.log" ||
    fail "latticed without $drop failed for another reason: $(cat "$run/no-$drop/latticed.log")"
done
ok "without any one of CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_NET_BIND_SERVICE latticed stops with EPERM/EACCES"

# 3. The Debian package in a throwaway root.
deb=$DIST/lattice_${version}_amd64.deb
[ -f "$deb" ] || fail "$deb is missing (make deb)"
mkdir -p "$t/ov/upper" "$t/ov/work" "$t/ov/root"
out=$(unshare --mount --propagation private bash -s "$t/ov" "$(readlink -f "$deb")" <<'EOF' 2>&1
set -eu
ov=$1 deb=$2 r=$1/root
mount -t overlay overlay -o "lowerdir=/,upperdir=$ov/upper,workdir=$ov/work" "$r"
mount --rbind /dev "$r/dev"
mount -t proc proc "$r/proc"
mount -t tmpfs tmpfs "$r/run"
mount -t tmpfs tmpfs "$r/tmp"
dpkg --root="$r" --log=/dev/null -i "$deb" >"$ov/dpkg-install.log" 2>&1 || cat "$ov/dpkg-install.log"
for f in /usr/bin/latticed /usr/bin/lattice /usr/bin/lattice-lab /usr/lib/cni/lattice-cni \
  /lib/systemd/system/latticed.service /etc/lattice/latticed.yaml.example \
  /usr/share/doc/lattice/copyright /usr/share/doc/lattice/examples/10-lattice.conflist; do
  [ -f "$r$f" ] || echo "missing $f"
done
[ "$(readlink "$r/opt/cni/bin/lattice-cni")" = /usr/lib/cni/lattice-cni ] || echo "missing /opt/cni/bin link"
[ "$(stat -c %a "$r/etc/lattice")" = 750 ] || echo "/etc/lattice is not 0750"
[ -L "$r/etc/systemd/system/multi-user.target.wants/latticed.service" ] || echo "not enabled"
v=$(systemd-analyze verify --root="$r" latticed.service 2>&1) || echo "verify failed"
[ -z "$v" ] || echo "verify: $v"
cp "$r/etc/lattice/latticed.yaml.example" "$r/etc/lattice/latticed.yaml"
chroot "$r" /usr/bin/latticed --config /etc/lattice/latticed.yaml --check >/dev/null || echo "check failed"
chroot "$r" /opt/cni/bin/lattice-cni --version >/dev/null || echo "lattice-cni from /opt/cni/bin failed"
rm "$r/etc/lattice/latticed.yaml"
dpkg --root="$r" --log=/dev/null --purge lattice >"$ov/dpkg-purge.log" 2>&1 || cat "$ov/dpkg-purge.log"
for f in /usr/bin/latticed /usr/lib/cni/lattice-cni /opt/cni/bin/lattice-cni /etc/lattice \
  /lib/systemd/system/latticed.service /etc/systemd/system/multi-user.target.wants/latticed.service; do
  [ ! -e "$r$f" ] && [ ! -L "$r$f" ] || echo "left after purge: $f"
done
echo done
EOF
) || fail "installing the package: $out"
[ "$out" = done ] || fail "the package: $out"
ok "the .deb installs (files, /opt/cni/bin link, enabled unit), systemd-analyze verify is clean, purge leaves nothing"

# 4. The image.
. packaging/podman-env.sh "$PODMAN_DIR"
image=localhost/lattice:$version
size=$(podman image inspect --format '{{.Size}}' "$image") || fail "no image $image (make image)"
[ "$size" -lt 25000000 ] || fail "the image is $size bytes, not under 25 MB"
cid=$(podman create "$image")
files=$(podman export "$cid" | tar -t | grep -v '/$' | sort | tr '\n' ' ')
podman rm "$cid" >/dev/null
want="bin/sh lib/x86_64-linux-gnu/libc.so.6 lib64/ld-linux-x86-64.so.2 usr/lib/cni/loopback"
want="$want usr/local/bin/install-cni.sh usr/local/bin/lattice usr/local/bin/lattice-cni"
want="$want usr/local/bin/latticed "
[ "$files" = "$want" ] ||
  fail "the image holds other files than the binaries, install-cni.sh, /bin/sh and loopback: $files"
mkdir -p "$t/img/etc" "$t/img/cni-bin" "$t/img/net.d"
cp "$rel/examples/latticed.yaml" "$t/img/etc/latticed.yaml"
out=$(podman run --rm --network none -v "$t/img/etc:/etc/lattice:ro" "$image" \
  --config /etc/lattice/latticed.yaml --check) || fail "latticed --check in the image: $out"
[ "$out" = "latticed: /etc/lattice/latticed.yaml is valid" ] || fail "latticed --check said: $out"
# The DaemonSet's init step as it runs there: install-cni.sh under the image's busybox sh renders
# and checks latticed's config, then installs lattice-cni, loopback (this node has none) and the
# conflist.
mkdir -p "$t/img/node" "$t/img/state"
cp docs/examples/10-lattice.conflist "$t/img/etc/10-lattice.conflist"
out=$(podman run --rm --network none --entrypoint /usr/local/bin/install-cni.sh \
  -e NODE_NAME=node-a -e NODE_IP=10.0.0.7 -e LATTICE_PEERS=10.0.0.1:65001 \
  -e LATTICE_DATASTORE=fan -e LATTICE_FAN_UNDERLAY=10.0.0.0/24 \
  -v "$t/img/etc:/etc/lattice:ro" -v "$t/img/cni-bin:/host/opt/cni/bin" \
  -v "$t/img/net.d:/host/etc/cni/net.d" -v "$t/img/node:/etc/lattice-node" \
  -v "$t/img/state:/var/lib/lattice" "$image" install 2>&1) ||
  fail "install-cni.sh install in the image: $out"
cmp -s "$t/img/cni-bin/lattice-cni" "$rel/bin/lattice-cni" || fail "the installed lattice-cni differs"
cmp -s "$t/img/cni-bin/loopback" /usr/lib/cni/loopback || fail "loopback was not installed: $out"
[ -s "$t/img/net.d/10-lattice.conflist" ] || fail "the conflist was not installed: $out"
[ -s "$t/img/node/latticed.yaml" ] || fail "no latticed config rendered: $out"
refs=$(sed -n 's/^ *image: *//p' deploy/kubernetes/daemonset.yaml | sort -u)
[ "$refs" = "$image" ] || fail "deploy/kubernetes/daemonset.yaml runs '$refs', make image builds $image"
ok "image $image: $size bytes, latticed --check on a mounted config, install-cni.sh install under its sh, used by the DaemonSet"
echo "release-test: passed in $(($(date +%s) - start)) s"
