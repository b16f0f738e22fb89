#!/bin/bash
# Builds the ipvlan test VM: Debian's kernel (it has ipvlan) and an initramfs holding busybox,
# iproute2's ip, latticed, lattice, their shared libraries, the veth and ipvlan modules, ./init
# and ./docker.sh; and, for the Docker boot, a second archive with Debian's dockerd, docker,
# containerd, containerd-shim-runc-v2, runc and their libraries (the kernel unpacks
# concatenated archives in turn). Usage: build.sh CACHE_DIR LATTICED LATTICE. Writes
# CACHE_DIR/{vmlinuz,initrd.gz,initrd-docker.gz}; the Docker archive is kept in
# CACHE_DIR/docker.cpio.gz until a binary in it changes.
set -euo pipefail
cache=$(realpath -m "$1") latticed=$(realpath "$2") lattice=$(realpath "$3")
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$cache"
cd "$cache"
if ! ls linux-image-*.deb >/dev/null 2>&1; then
    # The metapackage names the current kernel package; download that one.
    pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
    apt-get download "$pkg"
fi
if [ ! -d x/boot ]; then
    rm -rf x
    dpkg -x linux-image-*.deb x
fi
cp x/boot/vmlinuz-* vmlinuz
mods=$(echo x/lib/modules/*/kernel/drivers/net)

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib,lib64,proc,sys,run,tmp,dev,modules,etc}
cp /bin/busybox "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp /usr/sbin/ip "$root/usr/sbin/ip"
strip -o "$root/bin/latticed" "$latticed"
strip -o "$root/bin/lattice" "$lattice"
cp "$mods/veth.ko" "$mods/ipvlan/ipvlan.ko" "$root/modules/"
# Copies the shared libraries binaries $2... need into root $1 (Debian's merged /usr: the
# loader is looked up under /lib64 and libraries under /lib).
libraries() {
    local into=$1
    shift
    for bin in "$@"; do
        ldd "$bin" | awk '/=> \// {print $3} /^\t\/lib64/ {print $1}' | while read -r lib; do
            mkdir -p "$into$(dirname "$lib")"
            cp -L "$lib" "$into$lib"
        done
    done
}
libraries "$root" /usr/sbin/ip "$latticed" "$lattice"
cp "$here/init" "$root/init"
cp "$here/docker.sh" "$root/docker.sh"
chmod +x "$root/init"
(cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) > initrd.gz

docker_bins="/usr/sbin/dockerd /usr/bin/docker /usr/bin/containerd /usr/bin/containerd-shim-runc-v2 /usr/sbin/runc"
stale=0
for bin in $docker_bins; do
    [ -x "$bin" ] || { echo "build.sh: $bin is missing (make deps-test installs docker.io, containerd, runc)" >&2; exit 1; }
    [ docker.cpio.gz -nt "$bin" ] || stale=1
done
if [ "$stale" = 1 ]; then
    droot=$(mktemp -d)
    trap 'rm -rf "$root" "$droot"' EXIT
    for bin in $docker_bins; do
        mkdir -p "$droot$(dirname "$bin")"
        cp "$bin" "$droot$bin"
    done
    # shellcheck disable=SC2086
    libraries "$droot" $docker_bins
    (cd "$droot" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) > docker.cpio.gz.new
    mv docker.cpio.gz.new docker.cpio.gz
fi
cat initrd.gz docker.cpio.gz > initrd-docker.gz
echo "built $cache/vmlinuz, $cache/initrd.gz ($(du -h initrd.gz | cut -f1)) and $cache/initrd-docker.gz ($(du -h initrd-docker.gz | cut -f1))"
