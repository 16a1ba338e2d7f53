#!/usr/bin/env bash
# End-to-end: qcow2 disks served by qemu-storage-daemon over
# vhost-user-blk, and a disk on an external vhost-user-blk backend, in one
# boot of the test guest (scenario tests/guest/scenarios/qcow2).  Images
# are made here with mkfs.ext4 -d and qemu-img.  Checks: the guest reads a
# file through a qcow2 on a qcow2 backing file and its own write lands in
# the image (qemu-img convert to raw, then debugfs), `qemu-img check` is
# clean, the backing file is unchanged; a compressed qcow2 reads; snapshot
# leaves the image and its backing file byte-identical; readonly refuses
# writes; vmspec and QEMU on one image refuse each other, both ways;
# SIGTERM right after a guest fsync keeps the data and leaves no daemon.
# Then: SIGKILL of vmspec while the guest writes leaves no daemon and a
# clean image; a daemon killed mid-run stops the VM with exit 1 naming the
# disk; `plan` shows the chain; `check` reports a missing backing file at
# the disk's path line.
. "$(dirname "$0")/lib.sh"
export PATH=$PATH:/usr/sbin:/sbin
for tool in mkfs.ext4 debugfs qemu-img qemu-storage-daemon qemu-system-x86_64; do
    if ! command -v "$tool" >/dev/null; then
        echo "1..1"
        tap_skip "qcow2 end-to-end" "$tool missing (tests/install-deps)"
        exit 0
    fi
done
guest_ensure || { echo "1..1"; tap_fail "test guest builds"; exit 0; }
e2e_need_kvm "$@"

VMSPEC=$E2E_ROOT/build/vmspec
IMG=$(mktemp -d /dev/shm/vmspec-qcow2.XXXXXX 2>/dev/null ||
      mktemp -d "$E2E_TMP/img.XXXXXX")
ext_pid=
e2e_cleanup() {
    [ -n "$ext_pid" ] && kill "$ext_pid" 2>/dev/null
    pkill -f "qemu-system-x86_64 .*$IMG" 2>/dev/null
    rm -rf "$IMG"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }
m() { grep -a "VMSPEC: $1" "$E2E_TMP/vm.out" | tr -d '\r' | head -n 1; }
# vmspec's daemons (fd 3 is their socket) on images under $IMG named $1...
daemons() {
    pgrep -af qemu-storage-daemon | grep -F "$IMG/$1" | grep -cF '"type":"fd"'
}
check_clean() { qemu-img check -q "$1" >"$E2E_TMP/check.out" 2>&1; }

# A stopped QEMU VM (no KVM needed) with IMAGE as a virtio-blk disk;
# daemonizes once it holds the image.  Prints QEMU's error on failure.
qemu_vm() {   # IMAGE FORMAT [readonly=on]
    qemu-system-x86_64 -M q35 -accel tcg -S -display none -nodefaults \
        -drive "file=$1,format=$2,if=none,id=d${3:+,$3}" \
        -device virtio-blk-pci,drive=d --daemonize \
        --pidfile "$IMG/qemu.pid" 2>&1
}

tap_plan 12

# The images: ext4 file systems with /hello.bin, in qcow2 of each kind.
mkdir -p "$IMG/root"
head -c 1M /dev/urandom >"$IMG/root/hello.bin"
hello_sha=$(sha "$IMG/root/hello.bin")
mkext4() { mkfs.ext4 -q -F -d "$IMG/root" "$1" "$2" >/dev/null; }
mkext4 "$IMG/base.ext4" 64M
qemu-img convert -q -f raw -O qcow2 "$IMG/base.ext4" "$IMG/base.qcow2"
( cd "$IMG" && qemu-img create -q -f qcow2 -F qcow2 -b base.qcow2 vm.qcow2 )
mkext4 "$IMG/comp.ext4" 48M
qemu-img convert -q -c -f raw -O qcow2 "$IMG/comp.ext4" "$IMG/comp.qcow2"
mkext4 "$IMG/snapbase.ext4" 40M
qemu-img create -q -f qcow2 -F raw -b "$IMG/snapbase.ext4" "$IMG/snap.qcow2"
mkext4 "$IMG/ro.ext4" 24M
qemu-img convert -q -f raw -O qcow2 "$IMG/ro.ext4" "$IMG/ro.qcow2"
qemu-img create -q -f qcow2 "$IMG/sync.qcow2" 16M
head -c 8M /dev/urandom >"$IMG/ext.raw"
ext_sha=$(head -c 1M "$IMG/ext.raw" | sha256sum | cut -d' ' -f1)
base_sha=$(sha "$IMG/base.qcow2")
snap_sha=$(sha "$IMG/snap.qcow2") snapbase_sha=$(sha "$IMG/snapbase.ext4")

# The external backend: a storage daemon of the test's own.
qemu-storage-daemon \
    --blockdev "{\"driver\":\"raw\",\"node-name\":\"ext\",\"file\":{\"driver\":\"file\",\"filename\":\"$IMG/ext.raw\"}}" \
    --export "{\"type\":\"vhost-user-blk\",\"id\":\"ext\",\"node-name\":\"ext\",\"writable\":true,\"addr\":{\"type\":\"unix\",\"path\":\"$IMG/ext.sock\"}}" \
    >"$E2E_TMP/ext.log" 2>&1 &
ext_pid=$!
for _ in $(seq 1 100); do [ -S "$IMG/ext.sock" ] && break; sleep 0.1; done

f=$(guest_disk_spec main qcow2 "{id: data, path: $IMG/vm.qcow2, format: qcow2}" \
    "{id: comp, path: $IMG/comp.qcow2, format: qcow2}" \
    "{id: snap, path: $IMG/snap.qcow2, format: qcow2, snapshot: true}" \
    "{id: ro, path: $IMG/ro.qcow2, format: qcow2, readonly: true}" \
    "{id: sync, path: $IMG/sync.qcow2, format: qcow2}" \
    "{id: ext, vhost_user: $IMG/ext.sock}")
timeout -s KILL 300 "$VMSPEC" run "$f" </dev/null >"$E2E_TMP/vm.out" \
    2>"$E2E_TMP/vm.err" &
pid=$!
for _ in $(seq 1 480); do
    grep -qa 'VMSPEC: q-synced' "$E2E_TMP/vm.out" && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.5
done
if [ -n "$(m q-synced)" ]; then
    tap_ok "the guest runs the checks with five qcow2 disks and a vhost_user one ($(m q-found))"
else
    tap_fail "the guest runs the checks with five qcow2 disks and a vhost_user one" \
        "$(tail -n 25 "$E2E_TMP/vm.out" | tr -d '\r')" \
        "$(tail -n 10 "$E2E_TMP/vm.err")"
fi
n_daemons=$(daemons)

# While it runs: vmspec and QEMU refuse each other's images.
busy() { echo "disk image $1 is in use by another VM (locked)"; }
lock_notes=()
lock_ok=1
want() {   # NAME MESSAGE: run_capture NAME exited 1 with MESSAGE
    if [ "$(cat "$E2E_TMP/$1.rc")" != 1 ] || ! grep -qF "$2" "$E2E_TMP/$1.err"; then
        lock_ok=0
        lock_notes+=("$1: rc=$(cat "$E2E_TMP/$1.rc"): $(cat "$E2E_TMP/$1.err")")
    fi
}
if kill -0 $pid 2>/dev/null; then
    # vmspec after vmspec: the writable top, and the backing file vmspec
    # holds for the overlay.
    run_capture again 60 "$VMSPEC" run "$(guest_disk_spec again poweroff \
        "{id: d, path: $IMG/vm.qcow2, format: qcow2}")"
    want again "$(busy "$IMG/vm.qcow2")"
    run_capture base 60 "$VMSPEC" run "$(guest_disk_spec base poweroff \
        "{id: d, path: $IMG/base.qcow2, format: qcow2}")"
    want base "$(busy "$IMG/base.qcow2")"
    # QEMU after vmspec: the daemon's top, vmspec's backing and read-only
    # locks.
    for img in vm.qcow2 base.qcow2 ro.qcow2; do
        if out=$(qemu_vm "$IMG/$img" qcow2); then
            lock_ok=0
            lock_notes+=("QEMU opened $img under vmspec")
            kill "$(cat "$IMG/qemu.pid")"
        elif ! grep -q 'Failed to get .* lock' <<<"$out"; then
            lock_ok=0
            lock_notes+=("QEMU on $img: $out")
        fi
    done
    # vmspec after QEMU, writer and reader.
    qemu-img create -q -f qcow2 "$IMG/q.qcow2" 16M
    if out=$(qemu_vm "$IMG/q.qcow2" qcow2); then
        run_capture afterqemu 60 "$VMSPEC" run "$(guest_disk_spec afterqemu poweroff \
            "{id: d, path: $IMG/q.qcow2, format: qcow2}")"
        want afterqemu "$(busy "$IMG/q.qcow2")"
        run_capture afterqemu-ro 60 "$VMSPEC" run "$(guest_disk_spec afterqemu-ro \
            poweroff "{id: d, path: $IMG/q.qcow2, format: qcow2, readonly: true}")"
        want afterqemu-ro "$(busy "$IMG/q.qcow2")"
        kill "$(cat "$IMG/qemu.pid")"
    else
        lock_ok=0
        lock_notes+=("QEMU on a free image: $out")
    fi
else
    lock_ok=0
    lock_notes+=("the VM was not running")
fi
if [ $lock_ok = 1 ]; then
    tap_ok "vmspec and QEMU refuse each other's qcow2 images, both ways: $(busy "$IMG/vm.qcow2")"
else
    tap_fail "vmspec and QEMU refuse each other's qcow2 images, both ways" \
        "${lock_notes[@]}"
fi

kill -TERM $pid 2>/dev/null
wait $pid
rc=$?
sleep 0.2
qemu-img convert -f qcow2 -O raw "$IMG/sync.qcow2" "$E2E_TMP/sync.raw"
seq 1 50000 >"$E2E_TMP/sync.want"
head -c "$(stat -c %s "$E2E_TMP/sync.want")" "$E2E_TMP/sync.raw" \
    >"$E2E_TMP/sync.got"
if [ $rc = 143 ] && cmp -s "$E2E_TMP/sync.got" "$E2E_TMP/sync.want" &&
   [ "$n_daemons" = 5 ] && [ "$(daemons)" = 0 ] &&
   check_clean "$IMG/sync.qcow2"; then
    tap_ok "SIGTERM right after the guest's fsync: exit 143, the data is in the qcow2, its 5 daemons gone, qemu-img check clean"
else
    tap_fail "SIGTERM right after the guest's fsync: the data is in the qcow2" \
        "rc=$rc daemons while running: $n_daemons, after: $(daemons)" \
        "$(m q-synced)" "$(cat "$E2E_TMP/check.out")" \
        "$(tail -n 10 "$E2E_TMP/vm.err")"
fi

new_sha=$(seq 1 200000 | sha256sum | cut -d' ' -f1)
qemu-img convert -f qcow2 -O raw "$IMG/vm.qcow2" "$E2E_TMP/vm.raw"
debugfs -R "dump /new $E2E_TMP/new" "$E2E_TMP/vm.raw" >/dev/null 2>&1
if [ "$(m q-data-hello)" = "VMSPEC: q-data-hello $hello_sha" ] &&
   [ "$(m q-data-new)" = "VMSPEC: q-data-new $new_sha" ] &&
   [ "$(m q-data-umount)" = "VMSPEC: q-data-umount rc=0" ] &&
   [ -f "$E2E_TMP/new" ] && [ "$(sha "$E2E_TMP/new")" = "$new_sha" ]; then
    tap_ok "qcow2 on a qcow2 backing file: the guest reads our file; its write is in the image (qemu-img convert, debugfs)"
else
    tap_fail "qcow2 on a backing file: the guest reads our file; its write is in the image" \
        "$(grep -a 'VMSPEC: q-data' "$E2E_TMP/vm.out" | tr -d '\r')" \
        "want hello $hello_sha new $new_sha" \
        "dumped: $(sha "$E2E_TMP/new" 2>&1)"
fi
if check_clean "$IMG/vm.qcow2" && [ "$(sha "$IMG/base.qcow2")" = "$base_sha" ]; then
    tap_ok "the written image passes qemu-img check; its backing file is unchanged"
else
    tap_fail "the written image passes qemu-img check; its backing file is unchanged" \
        "$(cat "$E2E_TMP/check.out")" "base $(sha "$IMG/base.qcow2") was $base_sha"
fi

if [ "$(m q-comp-hello)" = "VMSPEC: q-comp-hello $hello_sha" ]; then
    tap_ok "a compressed qcow2 (qemu-img convert -c) reads"
else
    tap_fail "a compressed qcow2 reads" "$(m q-comp)"
fi

want_snap=$(seq 1 5000 | sha256sum | cut -d' ' -f1)
if [ "$(m q-snap-file)" = "VMSPEC: q-snap-file $want_snap" ] &&
   [ -n "$(m q-snap-removed)" ] &&
   [ "$(sha "$IMG/snap.qcow2")" = "$snap_sha" ] &&
   [ "$(sha "$IMG/snapbase.ext4")" = "$snapbase_sha" ] &&
   [ -z "$(ls "${TMPDIR:-/tmp}" | grep vmspec-snapshot)" ]; then
    tap_ok "snapshot: true: the guest sees its writes; image and backing file byte-identical; no overlay left"
else
    tap_fail "snapshot: true: image and backing file unchanged" \
        "$(grep -a 'VMSPEC: q-snap' "$E2E_TMP/vm.out" | tr -d '\r')" \
        "image $(sha "$IMG/snap.qcow2") was $snap_sha" \
        "backing $(sha "$IMG/snapbase.ext4") was $snapbase_sha" \
        "$(ls "${TMPDIR:-/tmp}" | grep vmspec-snapshot)"
fi

ro_line=$(grep -a "VMSPEC: q-disk .* mib=24 " "$E2E_TMP/vm.out" | tr -d '\r')
if [ "$(m q-ro-hello)" = "VMSPEC: q-ro-hello $hello_sha" ] &&
   [ -n "$(m 'q-ro-dd failed')" ] && grep -q "ro=1" <<<"$ro_line"; then
    tap_ok "readonly: true: the guest sees a read-only disk, reads, its writes fail"
else
    tap_fail "readonly: true: the guest reads, its writes fail" \
        "$(grep -a 'VMSPEC: q-ro' "$E2E_TMP/vm.out" | tr -d '\r')" "$ro_line"
fi

if [ "$(m q-ext-sha)" = "VMSPEC: q-ext-sha $ext_sha" ]; then
    tap_ok "vhost_user: a disk served by a vhost-user-blk backend someone else runs"
else
    tap_fail "vhost_user: a disk served by an external backend" \
        "$(m q-ext) want $ext_sha" "$(tail -n 5 "$E2E_TMP/ext.log")"
fi

# SIGKILL of vmspec while the guest writes: the daemon follows it (it
# gets SIGTERM and closes the image).
qemu-img create -q -f qcow2 "$IMG/churn.qcow2" 64M
f=$(guest_disk_spec churn blk-churn "{id: churn, path: $IMG/churn.qcow2, format: qcow2}")
timeout -s KILL 300 "$VMSPEC" run "$f" </dev/null >"$E2E_TMP/churn.out" \
    2>"$E2E_TMP/churn.err" &
pid=$!
vm_pid=$pid
wait_for "$E2E_TMP/churn.out" "VMSPEC: churning" 240
sleep 2
before=$(daemons churn.qcow2)
kill -KILL "$(pgrep -P $pid -x vmspec)"
wait $pid 2>/dev/null
for _ in $(seq 1 100); do [ "$(daemons churn.qcow2)" = 0 ] && break; sleep 0.1; done
if [ "$before" = 1 ] && [ "$(daemons churn.qcow2)" = 0 ] &&
   check_clean "$IMG/churn.qcow2"; then
    tap_ok "SIGKILL of vmspec while the guest writes: no daemon left, qemu-img check clean"
else
    tap_fail "SIGKILL of vmspec while the guest writes: no daemon left, image clean" \
        "daemons before: $before after: $(daemons churn.qcow2)" \
        "$(cat "$E2E_TMP/check.out")" "$(tail -n 5 "$E2E_TMP/churn.out")"
fi

# The daemon killed mid-run: the VM stops, exit 1, naming the disk.
f=$(guest_disk_spec killd wait "{id: victim, path: $IMG/churn.qcow2, format: qcow2}")
timeout -s KILL 300 "$VMSPEC" run "$f" </dev/null >"$E2E_TMP/killd.out" \
    2>"$E2E_TMP/killd.err" &
pid=$!
vm_pid=$pid
wait_for "$E2E_TMP/killd.out" "VMSPEC: waiting" 240
pkill -KILL -f "qemu-storage-daemon .*$IMG/churn.qcow2"
t0=$(date +%s)
wait $pid
rc=$? t=$(($(date +%s) - t0))
want_msg="disk 'victim': the vhost-user backend closed its socket (qemu-storage-daemon was killed by signal 9 (SIGKILL))"
if [ $rc = 1 ] && [ $t -le 10 ] && grep -qF "$want_msg" "$E2E_TMP/killd.err"; then
    tap_ok "the daemon killed mid-run: exit 1 within 10 s: $(tail -n 1 "$E2E_TMP/killd.err" | cut -c1-160)"
else
    tap_fail "the daemon killed mid-run: exit 1 within 10 s naming the disk" \
        "rc=$rc after ${t}s" "$(tail -n 5 "$E2E_TMP/killd.err")"
fi

# plan shows the chain; check places a missing backing file at `path`.
f=$(guest_disk_spec plan poweroff "{id: data, path: $IMG/vm.qcow2, format: qcow2}")
"$VMSPEC" plan "$f" >"$E2E_TMP/plan.out" 2>&1
chain="chain: $IMG/vm.qcow2 (qcow2) -> $IMG/base.qcow2 (qcow2)"
( cd "$IMG" && qemu-img create -q -f qcow2 -F qcow2 -b gone.qcow2 -u orphan.qcow2 64M )
f=$(guest_disk_spec orphan poweroff "{id: o, format: qcow2,
      path: $IMG/orphan.qcow2}")
line=$(grep -n "path: $IMG/orphan.qcow2" "$f" | cut -d: -f1)
"$VMSPEC" check "$f" >"$E2E_TMP/check-orphan.out" 2>&1
check_rc=$?
if grep -qF "$chain" "$E2E_TMP/plan.out" && grep -q "qemu-storage-daemon" "$E2E_TMP/plan.out" &&
   [ $check_rc = 1 ] &&
   grep -q "^$f:$line:[0-9]*: .*$IMG/gone.qcow2.*$IMG/orphan.qcow2" "$E2E_TMP/check-orphan.out"; then
    tap_ok "plan shows the daemon and the chain; check reports a missing backing file at the path line ($(head -n 1 "$E2E_TMP/check-orphan.out" | sed "s|$E2E_TMP/||"))"
else
    tap_fail "plan shows the chain; check reports a missing backing file at the path line" \
        "$(grep -i backend "$E2E_TMP/plan.out")" "check rc=$check_rc (line $line):" \
        "$(cat "$E2E_TMP/check-orphan.out")"
fi
