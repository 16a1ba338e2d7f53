#!/usr/bin/env bash
# Benchmark: `vmspec check` on 1,000 generated specs against
# python3-jsonschema validating the same files with the generated schema,
# both measured in this run on one core.  Prints specs/second and the ratio.
set -eu
cd "$(dirname "$0")/../.."
N=${N:-1000}
VMSPEC=${VMSPEC:-build/vmspec}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
: > "$dir/vmlinuz"; : > "$dir/initrd.img"; : > "$dir/disk.img"
for i in $(seq 1 "$N"); do
    cat > "$dir/vm$i.yaml" <<SPEC
# yaml-language-server: \$schema=../schemas/vmspec.schema.json
vmspec: 1
name: vm$i
machine: {type: microvm, cpus: $((i % 8 + 1)), memory: $((i % 4 + 1))G}
boot:
  kernel: vmlinuz
  initrd: initrd.img
  cmdline: console=ttyS0 quiet vm=$i
disks:
  - {id: root, path: disk.img, readonly: true}
  - {id: data, path: disk.img, snapshot: true}
nics:
  - {id: net0, tap: tap$i, mac: auto}
devices:
  - {type: virtio-rng}
console: none
on_reboot: exit
SPEC
done

pin="taskset -c 0"
command -v taskset >/dev/null || pin=

# Best of 3 runs each; wall time and CPU time (user + sys) of the process.
measure() {   # measure OUTFILE CMD... -> "wall cpu"
    local out=$1 best_wall= best_cpu= t
    shift
    for _ in 1 2 3; do
        t=$( { TIMEFORMAT='%R %U %S'; time "$@" > "$out"; } 2>&1 )
        read -r w u s <<<"$t"
        c=$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')
        if [ -z "$best_wall" ] || awk -v a="$w" -v b="$best_wall" 'BEGIN { exit !(a < b) }'; then
            best_wall=$w; best_cpu=$c
        fi
    done
    echo "$best_wall $best_cpu"
}
read -r vw vc <<<"$(measure "$dir.out" $pin "$VMSPEC" check "$dir")"
read -r pw pc <<<"$(measure "$dir.py.out" $pin /usr/bin/python3 \
    tests/specs/validate.py schemas/vmspec.schema.json "$dir"/*.yaml)"
grep -q "^$N specs OK$" "$dir.out"
[ "$(grep -c ^VALID "$dir.py.out")" -eq "$N" ]
rm -f "$dir.out" "$dir.py.out"

awk -v n="$N" -v vw="$vw" -v vc="$vc" -v pw="$pw" -v pc="$pc" 'BEGIN {
    printf "check benchmark: %d specs, one core, best of 3\n", n;
    printf "  %-22s %12s %14s\n", "", "specs/s wall", "specs/s CPU";
    printf "  %-22s %12.0f %14.0f\n", "vmspec check", n / vw, n / vc;
    printf "  %-22s %12.0f %14.0f\n", "python3-jsonschema", n / pw, n / pc;
    printf "  %-22s %11.1fx %13.1fx\n", "ratio", pw / vw, pc / vc;
}'
