#!/usr/bin/env bash
# The resource assignment pass as a user meets it: `vmspec check` places a
# machine that ran out of virtio slots at the list entry that asked for one
# too many, and `vmspec plan` shows what each device got (what realize
# wires and what ACPI / the device tree describe).
set -u
VMSPEC=${VMSPEC:-$PWD/build/vmspec}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
: >"$dir/vmlinuz"
n=0
ok()   { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }

# spec MACHINE COUNT: COUNT virtio-rng devices, one per line from line 6.
spec() {
    local f="$dir/$1-$2.yaml"
    printf 'vmspec: 1\nname: r\nmachine: {type: %s}\nboot: {kernel: vmlinuz}\ndevices:\n' \
        "$1" >"$f"
    for i in $(seq 1 "$2"); do echo "  - {type: virtio-rng, id: rng$i}" >>"$f"; done
    echo "$f"
}

for m in microvm:16 virt:32; do
    machine=${m%:*} slots=${m#*:}
    f=$(spec "$machine" "$slots")
    out=$($VMSPEC check "$f" 2>&1); rc=$?
    [ $rc -eq 0 ] && ok "$machine: $slots virtio devices fit" || fail "$machine: $slots fit" "$out"

    f=$(spec "$machine" $((slots + 1)))
    out=$($VMSPEC check "$f" 2>&1); rc=$?
    # The entry of device slots+1 is on line 5 + slots + 1, column 5.
    want="$f:$((slots + 6)):5: virtio-rng 'rng$((slots + 1))': the $machine machine has $slots virtio-mmio slots; all are taken"
    if [ $rc -eq 1 ] && grep -qF -- "$want" <<<"$out" && [ "$(grep -c "^$f:" <<<"$out")" -eq 1 ]; then
        ok "$machine: device $((slots + 1)) is a placed error of check"
    else
        fail "$machine: device $((slots + 1)) is a placed error" "rc=$rc" "want: $want" "$out"
    fi
    out=$($VMSPEC plan "$f" 2>&1); rc=$?
    [ $rc -eq 1 ] && grep -qF "all are taken" <<<"$out" \
        && ok "$machine: plan refuses it too" || fail "$machine: plan refuses" "rc=$rc" "$out"
done

# has_record PLAN DEVICE RECORD: the device's block in text plan output
# carries the resource comment RECORD.
has_record() {
    if awk -v dev="/machine/$2 " -v want="  # $3" '
        index($0, dev) == 1 { inside = 1; next }
        /^\// { inside = 0 }
        inside && $0 == want { found = 1 }
        END { exit !found }' <<<"$1"; then
        ok "plan: $2 has $3"
    else
        fail "plan: $2 has $3" "$1"
    fi
}

# plan shows the records: microvm's slot 0 at 0xd0000000, GSI 5; the
# built-ins where layout.h puts them.
f=$(spec microvm 2)
out=$($VMSPEC plan "$f" 2>&1)
has_record "$out" rng1 'mmio 0xd0000000+0x1000, irq 5, slot 0'
has_record "$out" rng2 'mmio 0xd0001000+0x1000, irq 6, slot 1'
has_record "$out" serial0 'ports 0x3f8+8, irq 4'
has_record "$out" pvpanic 'ports 0x505+1'
has_record "$out" i8042 'ports 0x60+5'
out=$($VMSPEC plan --format json "$f" 2>&1)
python3 -c '
import json, sys
tree = json.load(sys.stdin)
rng1 = [c for c in tree["children"][0]["children"] if c["path"] == "/machine/rng1"][0]
sys.exit(rng1["resources"] != {"mmio_base": 0xd0000000, "mmio_size": 0x1000, "irq": 5, "slot": 0})
' <<<"$out" \
    && ok "plan --format json: rng1's resources" || fail "plan --format json: rng1's resources" "$out"

f=$(spec virt 1)
out=$($VMSPEC plan "$f" 2>&1)
has_record "$out" rng1 'mmio 0xa000000+0x200, irq 16, slot 0'
has_record "$out" serial0 'mmio 0x9000000+0x8, irq 1'

echo "1..$n"
