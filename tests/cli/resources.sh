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

# plan shows the records: microvm's slot 0 at 0xd0000000, GSI 5; the
# built-ins where layout.h puts them.
f=$(spec microvm 2)
out=$($VMSPEC plan "$f" 2>&1)
grep -A8 '^/machine/rng1 ' <<<"$out" | grep -qF '# mmio 0xd0000000+0x1000, irq 5, slot 0' \
    && ok "plan: rng1 in slot 0" || fail "plan: rng1 in slot 0" "$out"
grep -A8 '^/machine/rng2 ' <<<"$out" | grep -qF '# mmio 0xd0001000+0x1000, irq 6, slot 1' \
    && ok "plan: rng2 in slot 1" || fail "plan: rng2 in slot 1" "$out"
grep -A8 '^/machine/serial0 ' <<<"$out" | grep -qF '# ports 0x3f8+8, irq 4' \
    && ok "plan: serial0 on COM1" || fail "plan: serial0 on COM1" "$out"
grep -A8 '^/machine/pvpanic ' <<<"$out" | grep -qF '# ports 0x505+1' \
    && ok "plan: pvpanic at 0x505" || fail "plan: pvpanic at 0x505" "$out"
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
grep -A8 '^/machine/rng1 ' <<<"$out" | grep -qF '# mmio 0xa000000+0x200, irq 16, slot 0' \
    && ok "plan: virt's slot 0" || fail "plan: virt's slot 0" "$out"
grep -A8 '^/machine/serial0 ' <<<"$out" | grep -qF '# mmio 0x9000000+0x8, irq 1' \
    && ok "plan: virt's UART" || fail "plan: virt's UART" "$out"

echo "1..$n"
