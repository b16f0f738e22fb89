#!/usr/bin/env bash
# make deb: the Debian package, from the tree `make release` staged (no second build).
#   build.sh STAGE OUTDIR  ->  OUTDIR/lattice_VERSION_amd64.deb
# dpkg-deb, not cargo-deb: the binaries are already built and stripped, and dpkg-deb is on every
# Debian machine (cargo-deb would have to be compiled first, minutes on two cores).
set -euo pipefail
stage=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
version=$(cat "$stage/VERSION")
commit=$(cat "$stage/COMMIT")
root=$(mktemp -d "${TMPDIR:-/tmp}/lattice-deb.XXXXXX")
trap 'rm -rf "$root"' EXIT
chmod 0755 "$root"

install -d -m 0755 "$root/DEBIAN" "$root/usr/bin" "$root/usr/lib/cni" "$root/opt/cni/bin" \
  "$root/lib/systemd/system" "$root/usr/share/doc/lattice/examples"
install -d -m 0750 "$root/etc/lattice"
install -m 0755 "$stage/bin/latticed" "$stage/bin/lattice" "$stage/bin/lattice-lab" "$root/usr/bin/"
# The CNI plugin where runtimes look: Debian's own plugins and podman's search path are in
# /usr/lib/cni; containerd's CRI (bin_dir), CRI-O and `ctr run --cni` default to /opt/cni/bin.
install -m 0755 "$stage/bin/lattice-cni" "$root/usr/lib/cni/lattice-cni"
ln -s /usr/lib/cni/lattice-cni "$root/opt/cni/bin/lattice-cni"
install -m 0644 "$stage/systemd/latticed.service" "$root/lib/systemd/system/latticed.service"
# An example, not the config: latticed starts once the operator wrote latticed.yaml.
install -m 0640 "$stage/examples/latticed.yaml" "$root/etc/lattice/latticed.yaml.example"
# The conflist is not installed in /etc/cni/net.d: the first conflist there becomes every
# runtime's default network, which is the operator's decision.
install -m 0644 "$stage/examples/10-lattice.conflist" "$stage/examples/latticed.yaml" \
  "$root/usr/share/doc/lattice/examples/"
install -m 0644 "$stage/README.md" "$stage"/docs/*.md "$root/usr/share/doc/lattice/"
install -m 0644 "$here/copyright" "$root/usr/share/doc/lattice/copyright"

echo /etc/lattice/latticed.yaml.example >"$root/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "$here/$s" "$root/DEBIAN/$s"; done
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@SIZE@/$size/" -e "s/@COMMIT@/$commit/" \
  "$here/control.in" >"$root/DEBIAN/control"

mkdir -p "$out"
deb="$out/lattice_${version}_amd64.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "deb: $deb"
