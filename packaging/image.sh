#!/usr/bin/env bash
# make image: the OCI image of deploy/kubernetes/Containerfile from the tree `make release`
# staged (no second build), tagged localhost/lattice:VERSION in this checkout's podman storage
# ($PODMAN_DIR) and saved as $DIST/lattice-image-VERSION.tar (OCI archive) for
# `podman load`, `ctr images import` or a push to a registry.
set -euo pipefail
cd "$(dirname "$0")/.."
stage=$1
DIST=${DIST:-target/dist}
PODMAN_DIR=${PODMAN_DIR:-target/podman}
. packaging/podman-env.sh "$PODMAN_DIR"
version=$(cat "$stage/VERSION")
commit=$(cat "$stage/COMMIT")
ctx=$DIST/image-context
rm -rf "$ctx"
mkdir -p "$ctx/bin"
cp "$stage"/bin/{latticed,lattice,lattice-cni} "$ctx/bin/"
cp deploy/kubernetes/install-cni.sh "$ctx/install-cni.sh"
cp /bin/busybox "$ctx/busybox"
cp -L /usr/lib/cni/loopback /lib64/ld-linux-x86-64.so.2 /lib/x86_64-linux-gnu/libc.so.6 "$ctx/"
tag=localhost/lattice:$version
podman build --quiet --layers=false -f deploy/kubernetes/Containerfile --build-arg VERSION="$version" \
  --build-arg COMMIT="$commit" -t "$tag" "$ctx" >/dev/null
# A rebuild leaves the previous image untagged; this storage is ours alone.
podman image prune --force >/dev/null
archive=$DIST/lattice-image-$version.tar
rm -f "$archive"
podman save --quiet --format oci-archive -o "$archive" "$tag"
size=$(podman image inspect --format '{{.Size}}' "$tag")
echo "image: $tag, $size bytes; $archive"
