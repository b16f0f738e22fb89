#!/bin/bash
# make test-ipvlan: boots the ipvlan test VM under QEMU (software emulation: KVM here accepts
# only PVM guests) once per mode and checks its serial console for the verdict of ./init:
# ipvlan-l3 and ipvlan-l3s through latticed's API, then docker (two dockerds, ./docker.sh).
# Usage: run.sh CACHE_DIR LATTICED LATTICE
set -euo pipefail
cache=$(realpath -m "$1")
here=$(cd "$(dirname "$0")" && pwd)
"$here/build.sh" "$@"
status=0
for mode in ${MODES:-ipvlan-l3 ipvlan-l3s docker}; do
    log="$cache/console-$mode.log"
    initrd="$cache/initrd.gz" memory=1024 summary="^(kernel|c1 |LATTICE)|packets transmitted"
    if [ "$mode" = docker ]; then
        # Two dockerds with their containerds, six containers, and the unpacked binaries.
        initrd="$cache/initrd-docker.gz" memory=1536 summary="^(\[|LATTICE|refused)|: ok| \((veth|ipvlan)"
    fi
    started=$SECONDS
    # The VM powers itself off; the timeout only bounds a hang.
    timeout 600 qemu-system-x86_64 -accel tcg -m "$memory" -smp 1 \
        -kernel "$cache/vmlinuz" -initrd "$initrd" \
        -append "console=ttyS0 panic=-1 quiet lattice.mode=$mode" -nographic -no-reboot -nic none \
        </dev/null >"$log" 2>&1 || true
    if grep -q "LATTICE-IPVLAN-RESULT: PASS $mode" "$log"; then
        grep -aE "$summary" "$log"
        echo "test-ipvlan $mode: PASS in $((SECONDS - started)) s (console: $log)"
    else
        tail -n 80 "$log"
        echo "test-ipvlan $mode: FAIL (console: $log)"
        status=1
    fi
done
exit $status
