#!/usr/bin/env bash
# End-to-end on arm64: the cross-built build/aarch64/vmspec boots Debian's
# arm64 kernel with the test guest on the `virt` machine under real KVM
# (an aarch64 host with KVM, or tests/kvm-sandbox --arch aarch64: nested KVM
# in an emulated arm64 machine with EL2).  Checked: 1 and 2 vCPUs boot to
# their marker and see the spec's CPUs and memory, PSCI SYSTEM_OFF -> 0,
# SYSTEM_RESET with on_reboot: exit -> 0, and a virtio-blk round trip (the
# guest reads an ext4 image the host made, writes a file the host reads
# back with debugfs).  The sandbox runs busybox, so this script prepares
# everything on the host and runs one busybox-sh script in it.
. "$(dirname "$0")/lib.sh"

# make ARCH=aarch64 builds into build/aarch64 when cross-compiling, into
# build/ on an arm64 host.
if [ "$(uname -m)" = aarch64 ]; then
    VMSPEC=$E2E_ROOT/build/vmspec
else
    VMSPEC=$E2E_ROOT/build/aarch64/vmspec
fi
GUEST=$E2E_ROOT/build/guest-aarch64
TESTS=7

setup_fail() {
    echo "1..$TESTS"
    tap_fail "arm64 setup: $1" "$(tail -n 20 "$E2E_TMP/setup.log" 2>/dev/null)"
    exit 0
}
for tool in aarch64-linux-gnu-gcc qemu-system-aarch64 mkfs.ext4 debugfs; do
    command -v "$tool" >/dev/null ||
        PATH=$PATH:/usr/sbin:/sbin command -v "$tool" >/dev/null ||
        setup_fail "$tool is missing (tests/install-deps installs it)"
done
export PATH=$PATH:/usr/sbin:/sbin
make -s -C "$E2E_ROOT" ARCH=aarch64 >"$E2E_TMP/setup.log" 2>&1 ||
    setup_fail "make ARCH=aarch64 failed"
"$E2E_ROOT/tests/guest/build" --arch aarch64 >>"$E2E_TMP/setup.log" 2>&1 ||
    setup_fail "tests/guest/build --arch aarch64 failed"

# spec NAME CPUS MEMORY SCENARIO [EXTRA YAML LINES...]
spec() {
    local name=$1 cpus=$2 mem=$3 scenario=$4
    shift 4
    {
        echo "vmspec: 1"
        echo "name: $name"
        echo "machine: {type: virt, cpus: $cpus, memory: $mem}"
        echo "boot:"
        echo "  kernel: $GUEST/Image"
        echo "  initrd: $GUEST/initrd.cpio.gz"
        echo "  cmdline: console=ttyS0 quiet panic=-1 vmspec.scenario=$scenario"
        echo "console: stdio"
        for line in "$@"; do echo "$line"; done
    } >"$E2E_TMP/$name.yaml"
    echo "$name" >>"$E2E_TMP/specs"
}

spec one 1 256M report
spec two 2 512M report
spec reboot 1 256M reboot "on_reboot: exit"
mkdir -p "$E2E_TMP/files"
head -c 300000 /dev/urandom >"$E2E_TMP/files/hello.bin"
mkfs.ext4 -q -F -d "$E2E_TMP/files" "$E2E_TMP/data.ext4" 32M \
    >>"$E2E_TMP/setup.log" 2>&1 || setup_fail "mkfs.ext4"
spec waiter 1 256M wait
sed -i '/^waiter$/d' "$E2E_TMP/specs"      # run apart, in the background
spec disk 1 256M disk "disks:" "  - {id: data, path: $E2E_TMP/data.ext4}"

# The busybox-sh side: every VM in turn, 300 s each at most.
cat >"$E2E_TMP/inside.sh" <<EOF
cd "$E2E_TMP"
for name in \$(cat specs); do
    timeout 300 "$VMSPEC" run "\$name.yaml" </dev/null >"\$name.out" 2>"\$name.err"
    echo \$? >"\$name.rc"
done
cd "$E2E_TMP"
for name in \$(cat specs); do
    timeout 300 "$VMSPEC" run "\$name.yaml" </dev/null >"\$name.out" 2>"\$name.err"
    echo \$? >"\$name.rc"
done
timeout 300 "$VMSPEC" run "$E2E_ROOT/examples/hello-arm64.yaml" </dev/null \
    >example.out 2>example.err
echo \$? >example.rc
# The control socket: ps lists the running VM, stop ends it in order.
"$VMSPEC" run waiter.yaml </dev/null >waiter.out 2>waiter.err &
pid=\$!
i=0
while [ \$i -lt 600 ] && ! grep -q "VMSPEC: waiting" waiter.out; do
    sleep 0.5
    i=\$((i + 1))
done
"$VMSPEC" ps >ps.out 2>&1
"$VMSPEC" stop waiter >stop.out 2>&1
echo \$? >stop.rc
wait \$pid
echo \$? >waiter.rc
EOF
"$E2E_ROOT/tests/kvm-sandbox" --arch aarch64 sh "$E2E_TMP/inside.sh" \
    >"$E2E_TMP/sandbox.out" 2>&1
sandbox_rc=$?

tap_plan $TESTS
# expect NAME DESC RC [STRING...]
expect() {
    local name=$1 desc=$2 want=$3 got notes=()
    shift 3
    got=$(cat "$E2E_TMP/$name.rc" 2>/dev/null)
    [ "$got" = "$want" ] || notes+=("exit status ${got:-none}, expected $want")
    for s in "$@"; do
        grep -qF -- "$s" "$E2E_TMP/$name.out" 2>/dev/null ||
            notes+=("missing '$s'")
    done
    if [ ${#notes[@]} -eq 0 ]; then
        tap_ok "$desc"
        return 0
    fi
    tap_fail "$desc" "${notes[@]}" "--- stdout:" \
        "$(tail -n 25 "$E2E_TMP/$name.out" 2>/dev/null | tr -d '\r')" \
        "--- stderr:" "$(tail -n 15 "$E2E_TMP/$name.err" 2>/dev/null)" \
        "--- sandbox (status $sandbox_rc):" \
        "$(tail -n 15 "$E2E_TMP/sandbox.out")"
    return 1
}

# report NAME CPUS MEM_MIB: nproc and MemTotal (75-100% of the spec's RAM:
# the kernel keeps the rest) as the guest printed them.
report() {
    local line kb
    line=$(grep -a 'VMSPEC: nproc=' "$E2E_TMP/$1.out" | tr -d '\r')
    kb=$(sed -n 's/.*memtotal_kb=\([0-9]*\).*/\1/p' <<<"$line")
    [[ $line == *"nproc=$2 "* ]] && [ -n "$kb" ] &&
        [ "$kb" -le $(($3 * 1024)) ] && [ "$kb" -ge $(($3 * 1024 * 3 / 4)) ]
}

# expect_report NAME DESC CPUS MEM_MIB: exit 0, marker, CPUs and memory.
expect_report() {
    if report "$1" "$3" "$4"; then
        expect "$1" "$2" 0 "VMSPEC: booted"
    else
        tap_fail "$2" "nproc/MemTotal: $(grep -a 'VMSPEC: nproc=' \
            "$E2E_TMP/$1.out" 2>/dev/null | tr -d '\r')" "--- stdout:" \
            "$(tail -n 25 "$E2E_TMP/$1.out" 2>/dev/null | tr -d '\r')" \
            "--- stderr:" "$(tail -n 15 "$E2E_TMP/$1.err" 2>/dev/null)" \
            "--- sandbox (status $sandbox_rc):" \
            "$(tail -n 15 "$E2E_TMP/sandbox.out")"
    fi
}

expect_report one "arm64 virt, 1 vCPU, 256 MiB: boots to its marker, sees its CPU and memory" 1 256
expect_report two "arm64 virt, 2 vCPUs (PSCI CPU_ON), 512 MiB: sees both CPUs and its memory" 2 512
expect two "arm64 virt: PSCI SYSTEM_OFF -> exit 0" 0 "VMSPEC: poweroff"
expect reboot "arm64 virt: PSCI SYSTEM_RESET with on_reboot: exit -> exit 0" \
    0 "VMSPEC: reboot"

expect example "examples/hello-arm64.yaml (hello.yaml with machine.type: virt) boots and powers off" \
    0 "Hello from the vmspec test guest" "aarch64" "VMSPEC: poweroff"

if grep -q '^waiter ' "$E2E_TMP/ps.out" 2>/dev/null &&
   [ "$(cat "$E2E_TMP/stop.rc" 2>/dev/null)" = 0 ] &&
   [ "$(cat "$E2E_TMP/waiter.rc" 2>/dev/null)" = 143 ]; then
    tap_ok "arm64: the control socket works (ps lists the VM; stop ends it, exit 143)"
else
    tap_fail "arm64: the control socket works (ps lists the VM; stop ends it, exit 143)" \
        "ps: $(cat "$E2E_TMP/ps.out" 2>/dev/null)" \
        "stop: $(cat "$E2E_TMP/stop.out" 2>/dev/null) (rc $(cat "$E2E_TMP/stop.rc" 2>/dev/null))" \
        "run exit: $(cat "$E2E_TMP/waiter.rc" 2>/dev/null)" \
        "$(tail -n 5 "$E2E_TMP/waiter.err" 2>/dev/null)"
fi

want_hello=$(sha256sum <"$E2E_TMP/files/hello.bin" | cut -d' ' -f1)
debugfs -R "dump /guest.txt $E2E_TMP/guest.txt" "$E2E_TMP/data.ext4" \
    >/dev/null 2>&1
got=$(sha256sum <"$E2E_TMP/guest.txt" 2>/dev/null | cut -d' ' -f1)
want=$(seq 1 50000 | sha256sum | cut -d' ' -f1)
desc="arm64 virt: virtio-blk round trip (the guest reads the host's file; its write is in the image)"
if [ "$got" = "$want" ]; then
    expect disk "$desc" 0 "VMSPEC: disk-hello $want_hello" \
        "VMSPEC: disk-wrote $want" "VMSPEC: disk-umount rc=0"
else
    tap_fail "$desc" "debugfs: the image holds ${got:-no /guest.txt}" \
        "--- stdout:" "$(tail -n 20 "$E2E_TMP/disk.out" 2>/dev/null | tr -d '\r')"
fi
