#!/usr/bin/env bash
# End-to-end: a spec with `devices: [{type: virtio-rng}]` boots Debian's
# stock kernel (under real KVM, directly or in tests/kvm-sandbox); the guest
# finds the device through ACPI (LNRO0005 -> virtio-mmio -> virtio id 4 ->
# virtio_rng) and reads 64 KiB from /dev/hwrng twice.  One boot.
. "$(dirname "$0")/lib.sh"
guest_ensure || { echo "1..1"; tap_fail "test guest builds"; exit 0; }
e2e_need_kvm "$@"

VMSPEC=$E2E_ROOT/build/vmspec
f=$E2E_TMP/rng.yaml
cat >"$f" <<YAML
vmspec: 1
name: rng
machine: {type: microvm, cpus: 1, memory: 256M}
boot:
  kernel: $E2E_GUEST/vmlinuz
  initrd: $E2E_GUEST/initrd.cpio.gz
  cmdline: console=ttyS0 quiet panic=-1 vmspec.scenario=hwrng
console: stdio
devices:
  - {type: virtio-rng}
YAML

tap_plan 5
run_capture rng 240 "$VMSPEC" run "$f"
rc=$(cat "$E2E_TMP/rng.rc")
out=$E2E_TMP/rng.out
tr -d '\r' <"$out" >"$out.txt"
out=$out.txt
[ -n "${VMSPEC_E2E_KEEP:-}" ] && cp "$out" "$VMSPEC_E2E_KEEP"

if [ "$rc" = 0 ] && assert_contains "$out" "VMSPEC: poweroff"; then
    tap_ok "boots with a virtio-rng and powers off (exit 0)"
else
    tap_fail "boots with a virtio-rng and powers off (exit 0)" \
        "exit status $rc" "$(tail -n 5 "$E2E_TMP/rng.err")"
fi

line=$(grep -a 'VMSPEC: virtio virtio' "$out" | head -n 1)
if [[ $line == *"device=0x0004 driver=virtio_rng"* ]] &&
   [[ $line == *"parent=LNRO0005:00 parent-driver=virtio-mmio"* ]]; then
    tap_ok "found through ACPI: LNRO0005 bound by virtio-mmio, id 4 by virtio_rng"
else
    tap_fail "found through ACPI: LNRO0005 bound by virtio-mmio, id 4 by virtio_rng" \
        "got: ${line:-nothing}"
fi

if assert_contains "$out" "VMSPEC: hwrng current=virtio_rng"; then
    tap_ok "the guest's hwrng is the virtio device"
else
    tap_fail "the guest's hwrng is the virtio device"
fi

# (No process substitution: the sandbox has no /dev/fd.)
grep -a 'VMSPEC: hwrng bytes=' "$out" >"$E2E_TMP/reads"
mapfile -t reads <"$E2E_TMP/reads"
if [ ${#reads[@]} -eq 2 ] && [[ ${reads[0]} == *"bytes=65536 "* ]] &&
   [[ ${reads[1]} == *"bytes=65536 "* ]]; then
    tap_ok "two reads of /dev/hwrng return 65536 bytes each"
else
    tap_fail "two reads of /dev/hwrng return 65536 bytes each" \
        "got: ${reads[*]:-nothing}"
fi

# Not zeros (the SHA-256 of 64 KiB of zeros), and not the same twice.
zero=$(head -c 65536 /dev/zero | sha256sum | cut -d' ' -f1)
s1=${reads[0]##*sha256=}
s2=${reads[1]##*sha256=}
if [ ${#s1} = 64 ] && [ "$s1" != "$zero" ] && [ "$s2" != "$zero" ] &&
   [ "$s1" != "$s2" ]; then
    tap_ok "the bytes are random (two different non-zero SHA-256s)"
else
    tap_fail "the bytes are random (two different non-zero SHA-256s)" \
        "sha256: '$s1' '$s2'"
fi
