#!/usr/bin/env bash
# The arm64 virt machine's device tree, as `vmspec plan --dtb` writes it:
# decompiled with dtc (which must not warn), then checked node by node.
# Runs on any host: writing the tree needs no KVM.
set -u
VMSPEC=${VMSPEC:-build/vmspec}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
ok() {      # ok DESC CONDITION...
    local desc=$1
    shift
    n=$((n + 1))
    if "$@"; then
        echo "ok $n - $desc"
    else
        echo "not ok $n - $desc"
        [ -f "$tmp/out.dts" ] && sed 's/^/# /' "$tmp/out.dts"
        [ -s "$tmp/err" ] && sed 's/^/# stderr: /' "$tmp/err"
    fi
}
has() { grep -qE -- "$1" "$tmp/out.dts"; }
count() { grep -cE -- "$1" "$tmp/out.dts"; }

: >"$tmp/disk.img"
cat >"$tmp/virt.yaml" <<SPEC
vmspec: 1
name: dt
machine: {type: virt, cpus: 3, memory: 1G}
boot:
  kernel: disk.img
  cmdline: console=ttyS0 earlycon quiet
disks:
  - {id: root, path: disk.img, readonly: true}
nics: []
devices:
  - {type: virtio-rng}
SPEC

$VMSPEC plan --dtb "$tmp/out.dtb" "$tmp/virt.yaml" 2>"$tmp/err"
ok "plan --dtb writes the tree" [ $? -eq 0 -a -s "$tmp/out.dtb" ]
dtc -I dtb -O dts -o "$tmp/out.dts" "$tmp/out.dtb" 2>"$tmp/err"
ok "dtc decompiles it without a warning" [ $? -eq 0 -a ! -s "$tmp/err" ]
ok "root: 2 address and size cells, GIC as interrupt parent" \
    has '#address-cells = <0x02>;'
ok "chosen: bootargs from the spec" \
    has 'bootargs = "console=ttyS0 earlycon quiet";'
ok "chosen: stdout-path is the UART" has 'stdout-path = "/serial@9000000";'
ok "memory: 1 GiB at 0x40000000" \
    has 'reg = <0x00 0x40000000 0x00 0x40000000>;'
ok "cpus: 3 nodes with PSCI enable-method" \
    [ "$(count 'enable-method = "psci";')" -eq 3 ]
ok "cpus: reg is the MPIDR affinity" has 'cpu@2 \{'
ok "psci: 0.2 over hvc" has 'compatible = "arm,psci-0.2";'
ok "psci: hvc" has 'method = "hvc";'
ok "gic: v3 with one 128 KiB redistributor per vCPU" \
    has 'reg = <0x00 0x8000000 0x00 0x10000 0x00 0x80a0000 0x00 0x60000>;'
ok "gic: interrupt controller with 3 cells" has '#interrupt-cells = <0x03>;'
ok "timer: armv8 timer with 4 PPIs" \
    has 'interrupts = <0x01 0x0d 0x04 0x01 0x0e 0x04 0x01 0x0b 0x04 0x01 0x0a 0x04>;'
ok "serial: ns16550a at 0x9000000, SPI 1 level-high" \
    has 'interrupts = <0x00 0x01 0x04>;'
ok "virtio: one virtio,mmio node per device" \
    [ "$(count 'compatible = "virtio,mmio";')" -eq 2 ]
ok "virtio: slots in spec order, edge-triggered SPIs 16, 17" \
    bash -c "grep -q 'virtio_mmio@a000000' '$tmp/out.dts' &&
             grep -q 'virtio_mmio@a000200' '$tmp/out.dts' &&
             grep -q 'interrupts = <0x00 0x11 0x01>;' '$tmp/out.dts'"
ok "plan --dtb is deterministic" \
    bash -c "$VMSPEC plan --dtb - '$tmp/virt.yaml' | cmp -s - '$tmp/out.dtb'"

sed 's/type: virt,/type: microvm,/' "$tmp/virt.yaml" >"$tmp/microvm.yaml"
out=$($VMSPEC plan --dtb "$tmp/x.dtb" "$tmp/microvm.yaml" 2>&1)
ok "microvm has no device tree (exit 1, says why)" \
    [ $? -eq 1 -a ! -e "$tmp/x.dtb" ]
ok "... and the message names ACPI" grep -q "describes itself to the guest with ACPI" <<<"$out"
if [ "$(uname -m)" != aarch64 ]; then
    out=$($VMSPEC run "$tmp/virt.yaml" 2>&1)
    rc=$?
    ok "run: virt on $(uname -m) is a clear error, exit 1" \
        [ $rc -eq 1 ]
    ok "... naming the host architecture it needs" \
        grep -q "runs on aarch64 hosts" <<<"$out"
fi
echo "1..$n"
