#!/bin/bash
# Builds the ipvlan test VM: Debian's kernel (it has ipvlan) and an initramfs holding busybox,
# iproute2's ip, latticed, lattice, their shared libraries, the veth and ipvlan modules, and
# ./init. Usage: build.sh CACHE_DIR LATTICED LATTICE. Writes CACHE_DIR/{vmlinuz,initrd.gz}.
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
for bin in /usr/sbin/ip "$latticed" "$lattice"; do
    ldd "$bin" | awk '/=> \// {print $3} /^\t\/lib64/ {print $1}' | while read -r lib; do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
done
# Debian's merged /usr: the loader is looked up under /lib64 and libraries under /lib.
cp "$here/init" "$root/init"
chmod +x "$root/init"
(cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) > initrd.gz
echo "built $cache/vmlinuz and $cache/initrd.gz ($(du -h initrd.gz | cut -f1))"
