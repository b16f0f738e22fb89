#!/bin/bash
# make test-ipvlan: boots the ipvlan test VM under QEMU (software emulation: KVM here accepts
# only PVM guests) and checks its serial console for the verdict of ./init.
# Usage: run.sh CACHE_DIR LATTICED LATTICE
set -euo pipefail
cache=$(realpath -m "$1")
here=$(cd "$(dirname "$0")" && pwd)
"$here/build.sh" "$@"
status=0
for mode in ${MODES:-ipvlan-l3 ipvlan-l3s}; do
    log="$cache/console-$mode.log"
    # The VM powers itself off; the timeout only bounds a hang.
    timeout 600 qemu-system-x86_64 -accel tcg -m 1024 -smp 1 \
        -kernel "$cache/vmlinuz" -initrd "$cache/initrd.gz" \
        -append "console=ttyS0 panic=-1 quiet lattice.mode=$mode" -nographic -no-reboot -nic none \
        </dev/null >"$log" 2>&1 || true
    if grep -q "LATTICE-IPVLAN-RESULT: PASS $mode" "$log"; then
        grep -aE "^(kernel|c1 |LATTICE)|packets transmitted" "$log"
        echo "test-ipvlan $mode: PASS (console: $log)"
    else
        tail -n 80 "$log"
        echo "test-ipvlan $mode: FAIL (console: $log)"
        status=1
    fi
done
exit $status
