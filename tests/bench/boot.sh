#!/usr/bin/env bash
# Benchmark: boot the test guest N times each with vmspec, QEMU microvm and
# QEMU pc (Debian's qemu-system-x86_64 -enable-kvm), all in one run under
# real KVM (tests/kvm-sandbox when this host has none).  Reports medians of
# time to the guest's marker and to the VMM's exit, the VMM's resident
# memory apart from guest RAM, and, under strace, the syscalls made and the
# time taken from exec to the first KVM_RUN; each as a ratio to QEMU
# microvm.  N=${N:-3}, 256 MiB, 1 vCPU, the same kernel, initrd and cmdline.
# The exec-to-KVM_RUN table has a reference row, kvm-floor
# (tests/bench/kvm-floor.c): only the KVM calls and the copies of the
# bzImage and initrd that any VMM makes, i.e. the floor of this harness.
# vmspec decodes a bzImage's payload on the host once per kernel file (its
# boot cache, machine/kvm/boot-cache.h): the first boot of a kernel, which
# fills an empty cache, is measured on its own as "vmspec-cold"; the timed
# runs are later boots.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/bench/lib.bash
bench_under_kvm || make --no-print-directory build/bench/kvm-floor >&2
bench_enter_kvm 3000 env N="${N:-3}" bash "$0" "$@"

N=${N:-3}
G=$root/build/guest
CMDLINE="console=ttyS0 quiet panic=-1 vmspec.scenario=report"
MARKER="VMSPEC: booted"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export VMSPEC_CACHE_DIR=$tmp/cache
cat >"$tmp/bench.yaml" <<SPEC
vmspec: 1
name: bench
machine: {type: microvm, cpus: 1, memory: 256M}
boot:
  kernel: $G/vmlinuz
  initrd: $G/initrd.cpio.gz
  cmdline: $CMDLINE
console: stdio
SPEC

# cmd VMM: the command line of one peer, one argument per line.
cmd() {
    case $1 in
        vmspec) printf '%s\n' "$root/build/vmspec" run "$tmp/bench.yaml" ;;
        qemu-*)
            printf '%s\n' qemu-system-x86_64 -enable-kvm -M "${1#qemu-}" \
                -m 256 -smp 1 -nodefaults -display none -serial stdio \
                -no-reboot -kernel "$G/vmlinuz" -initrd "$G/initrd.cpio.gz" \
                -append "$CMDLINE" ;;
        kvm-floor)
            printf '%s\n' "$root/build/bench/kvm-floor" "$G/vmlinuz" \
                "$G/initrd.cpio.gz" ;;
    esac
}
M=tests/bench/measure.py
measure() {   # measure MODE VMM [--ram-mib N] [--label NAME]
    local mode=$1 vmm=$2 label=$2 args=() opts=()
    shift 2
    while [ $# -gt 0 ]; do
        case $1 in
            --label) label=$2; shift 2 ;;
            *) opts+=("$1"); shift ;;
        esac
    done
    set -- "${opts[@]}"
    mapfile -t args <<<"$(cmd "$vmm")"
    echo "$label $mode $(/usr/bin/python3 $M "$mode" --marker "$MARKER" "$@" \
        -- "${args[@]}")" | tee -a "$tmp/results" >&2
}
measure run vmspec --ram-mib 256 --label vmspec-cold
for i in $(seq 1 "$N"); do
    for vmm in vmspec qemu-microvm qemu-pc; do
        measure run "$vmm" --ram-mib 256
    done
done
for i in $(seq 1 "$N"); do
    for vmm in vmspec qemu-microvm kvm-floor; do
        measure syscalls "$vmm"
    done
done

/usr/bin/python3 tests/bench/boot-summary.py "$tmp/results" "$N"
