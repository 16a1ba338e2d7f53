#!/usr/bin/env bash
# Benchmark: boot the test guest N times each with vmspec, QEMU microvm and
# QEMU pc (Debian's qemu-system-x86_64 -enable-kvm), all in one run under
# real KVM (tests/kvm-sandbox when this host has none).  Reports medians of
# time to the guest's marker and to the VMM's exit, the VMM's resident
# memory apart from guest RAM, and, under strace, the syscalls made and the
# time taken from exec to the first KVM_RUN; each as a ratio to QEMU
# microvm.  N=${N:-3}, 256 MiB, 1 vCPU, the same kernel, initrd and cmdline.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
case ${VMSPEC_SANDBOX:-} in
    direct|inside) ;;
    *)
        tests/guest/build >&2
        exec tests/kvm-sandbox --timeout 3000 bash "$0" "$@" ;;
esac

N=${N:-3}
G=$root/build/guest
CMDLINE="console=ttyS0 quiet panic=-1 vmspec.scenario=report"
MARKER="VMSPEC: booted"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
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

qemu() {   # qemu MACHINE
    echo qemu-system-x86_64 -enable-kvm -M "$1" -cpu host -m 256 -smp 1 \
        -nodefaults -display none -serial stdio -no-reboot \
        -kernel "$G/vmlinuz" -initrd "$G/initrd.cpio.gz" -append "$CMDLINE"
}
declare -A CMD=(
    [vmspec]="$root/build/vmspec run $tmp/bench.yaml"
    [qemu-microvm]="$(qemu microvm)"
    [qemu-pc]="$(qemu pc)"
)
M=tests/bench/measure.py
for i in $(seq 1 "$N"); do
    for vmm in vmspec qemu-microvm qemu-pc; do
        # shellcheck disable=SC2086
        r=$(/usr/bin/python3 $M run --marker "$MARKER" --ram-mib 256 -- ${CMD[$vmm]})
        echo "$vmm run $r" | tee -a "$tmp/results" >&2
    done
done
for vmm in vmspec qemu-microvm; do
    # shellcheck disable=SC2086
    r=$(/usr/bin/python3 $M syscalls --marker "$MARKER" -- ${CMD[$vmm]})
    echo "$vmm syscalls $r" | tee -a "$tmp/results" >&2
done

/usr/bin/python3 - "$tmp/results" "$N" <<'EOF'
import json, statistics, sys
runs, sys_ = {}, {}
for line in open(sys.argv[1]):
    vmm, kind, data = line.split(" ", 2)
    d = json.loads(data)
    (runs if kind == "run" else sys_).setdefault(vmm, []).append(d)
def med(vmm, key):
    vals = [r[key] for r in runs[vmm] if r[key] is not None]
    return statistics.median(vals) if vals else float("nan")
base = "qemu-microvm"
print(f"boot benchmark: medians of {sys.argv[2]}, 256 MiB, 1 vCPU")
print(f"{'':14} {'to marker':>10} {'to exit':>9} {'RSS-guest':>10} "
      f"{'vs microvm (marker)':>20}")
for vmm in ("vmspec", "qemu-microvm", "qemu-pc"):
    m, e, r = med(vmm, "marker_s"), med(vmm, "exit_s"), med(vmm, "rss_kib")
    print(f"{vmm:14} {m:9.2f}s {e:8.2f}s {r/1024:8.1f}Mi "
          f"{m / med(base, 'marker_s'):19.2f}x")
print()
print(f"{'':14} {'syscalls before KVM_RUN':>24} {'exec to KVM_RUN':>16}")
for vmm in ("vmspec", "qemu-microvm"):
    s = sys_[vmm][0]
    print(f"{vmm:14} {s['syscalls']:>24} {s['to_kvm_run_s']:15.3f}s")
v, q = sys_["vmspec"][0], sys_[base][0]
print(f"{'ratio':14} {v['syscalls'] / q['syscalls']:>23.2f}x "
      f"{v['to_kvm_run_s'] / q['to_kvm_run_s']:15.2f}x")
bad = [vmm for vmm in runs for r in runs[vmm] if r["rc"] != 0 or r["marker_s"] is None]
if bad:
    print("FAILED runs:", ", ".join(sorted(set(bad))))
    sys.exit(1)
