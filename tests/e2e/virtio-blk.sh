#!/usr/bin/env bash
# End-to-end: virtio-blk disks in one boot of the test guest (scenario
# tests/guest/scenarios/blk) with five disks: a writable ext4 image made
# here with mkfs.ext4 -d, the same read-only image twice (readonly: true and
# snapshot: true), a raw disk and one to discard.  Checks: GET_ID serials,
# the guest reads our file and its own write lands in the image (read back
# with debugfs, e2fsck clean), read-only refuses writes, the snapshot leaves
# its image byte-identical, a second VM wanting a locked image fails with a
# clear error, data fsync'd by the guest survives SIGTERM, discard punches
# holes.
. "$(dirname "$0")/lib.sh"
for tool in mkfs.ext4 debugfs e2fsck; do
    if ! command -v "$tool" >/dev/null && [ ! -x "/usr/sbin/$tool" ] &&
       [ ! -x "/sbin/$tool" ]; then
        echo "1..1"
        tap_skip "virtio-blk end-to-end" "$tool missing (apt-get install e2fsprogs)"
        exit 0
    fi
done
export PATH=$PATH:/usr/sbin:/sbin
guest_ensure || { echo "1..1"; tap_fail "test guest builds"; exit 0; }
e2e_need_kvm "$@"

VMSPEC=$E2E_ROOT/build/vmspec
# Images on tmpfs where there is one (in the sandbox /tmp is 9p, which
# cannot punch holes).
IMG=$(mktemp -d /dev/shm/vmspec-blk.XXXXXX 2>/dev/null ||
      mktemp -d "$E2E_TMP/img.XXXXXX")
e2e_cleanup() { rm -rf "$IMG"; }

sha() { sha256sum "$1" | cut -d' ' -f1; }
marker() { grep -a "VMSPEC: $1" "$E2E_TMP/vm.out" | tr -d '\r' | head -n 1; }

tap_plan 9

# The images.
mkdir -p "$IMG/root"
head -c 1M /dev/urandom >"$IMG/root/hello.bin"
hello_sha=$(sha "$IMG/root/hello.bin")
mkfs.ext4 -q -F -d "$IMG/root" -L data "$IMG/data.ext4" 64M >/dev/null
mkfs.ext4 -q -F -d "$IMG/root" -L shared "$IMG/shared.ext4" 32M >/dev/null
shared_sha=$(sha "$IMG/shared.ext4")
truncate -s 4M "$IMG/raw.img"
head -c 16M /dev/zero | tr '\0' '\377' >"$IMG/trim.img"
sync "$IMG/trim.img"
trim_blocks=$(stat -c %b "$IMG/trim.img")

f=$(guest_disk_spec blk blk "{id: data, path: $IMG/data.ext4}" \
    "{id: shared-ro, path: $IMG/shared.ext4, readonly: true}" \
    "{id: snap, path: $IMG/shared.ext4, snapshot: true}" \
    "{id: raw, path: $IMG/raw.img}" \
    "{id: trim, path: $IMG/trim.img}")
timeout -s KILL 300 "$VMSPEC" run "$f" </dev/null >"$E2E_TMP/vm.out" \
    2>"$E2E_TMP/vm.err" &
pid=$!
for _ in $(seq 1 480); do
    grep -qa 'VMSPEC: blk-raw-synced\|VMSPEC: poweroff' "$E2E_TMP/vm.out" &&
        break
    kill -0 $pid 2>/dev/null || break
    sleep 0.5
done
if [ -n "$(marker blk-raw-synced)" ]; then
    tap_ok "the guest runs the checks with five disks ($(marker blk-found))"
else
    tap_fail "the guest runs the checks with five disks" \
        "$(tail -n 25 "$E2E_TMP/vm.out" | tr -d '\r')" \
        "$(tail -n 10 "$E2E_TMP/vm.err")"
fi

# While it runs: another VM that wants a locked image gets a clear error.
# (They would power off at once if they did boot.)
rc=skipped rc3=skipped
if kill -0 $pid 2>/dev/null; then
    f2=$(guest_disk_spec intruder poweroff "{id: data, path: $IMG/data.ext4}")
    run_capture intruder 60 "$VMSPEC" run "$f2"
    rc=$?
    f3=$(guest_disk_spec writer poweroff "{id: shared, path: $IMG/shared.ext4}")
    run_capture writer 60 "$VMSPEC" run "$f3"
    rc3=$?
fi
want="disk image $IMG/data.ext4 is in use by another VM (locked)"
want3="disk image $IMG/shared.ext4 is in use by another VM (locked)"
if [ $rc = 1 ] && grep -qF "$want" "$E2E_TMP/intruder.err" &&
   [ $rc3 = 1 ] && grep -qF "$want3" "$E2E_TMP/writer.err"; then
    tap_ok "a second VM wanting a locked image exits 1: $want"
else
    tap_fail "a second VM wanting a locked image exits 1" \
        "rc=$rc: $(cat "$E2E_TMP/intruder.err" 2>/dev/null)" \
        "rc=$rc3: $(cat "$E2E_TMP/writer.err" 2>/dev/null)"
fi

kill -TERM $pid 2>/dev/null
wait $pid
rc=$?
# (Files, not <(...): the sandbox has no /dev/fd.)
raw_ok=0
seq 1 50000 >"$E2E_TMP/raw.want"
head -c "$(stat -c %s "$E2E_TMP/raw.want")" "$IMG/raw.img" >"$E2E_TMP/raw.got"
cmp -s "$E2E_TMP/raw.got" "$E2E_TMP/raw.want" && raw_ok=1
if [ $rc = 143 ] && [ $raw_ok = 1 ]; then
    tap_ok "SIGTERM right after the guest's fsync: exit 143, the data is in the image"
else
    tap_fail "SIGTERM right after the guest's fsync: the data is in the image" \
        "rc=$rc raw_ok=$raw_ok $(marker blk-raw-synced)" \
        "$(tail -n 10 "$E2E_TMP/vm.err")"
fi

serials=$(grep -a 'VMSPEC: blk-disk' "$E2E_TMP/vm.out" | tr -d '\r' |
          sed 's/.*serial=\([^ ]*\) ro=\([01]\).*/\1:\2/' | sort | tr '\n' ' ')
if [ "$serials" = "data:0 raw:0 shared-ro:1 snap:0 trim:0 " ]; then
    tap_ok "GET_ID: /sys/block/vd*/serial are the disk ids; ro only for readonly ($serials)"
else
    tap_fail "GET_ID: /sys/block/vd*/serial are the disk ids" "got: $serials"
fi

new_sha=$(seq 1 200000 | sha256sum | cut -d' ' -f1)
debugfs -R "dump /new $E2E_TMP/new" "$IMG/data.ext4" >/dev/null 2>&1
if [ "$(marker blk-data-hello)" = "VMSPEC: blk-data-hello $hello_sha" ] &&
   [ "$(marker blk-data-new)" = "VMSPEC: blk-data-new $new_sha" ] &&
   [ "$(marker blk-data-umount)" = "VMSPEC: blk-data-umount rc=0" ] &&
   [ -f "$E2E_TMP/new" ] && [ "$(sha "$E2E_TMP/new")" = "$new_sha" ]; then
    tap_ok "ext4 made with mkfs.ext4 -d: the guest reads our file; its own write is in the image (debugfs)"
else
    tap_fail "ext4: the guest reads our file; its own write is in the image" \
        "$(marker blk-data)" "hello $hello_sha new $new_sha" \
        "dumped: $(sha "$E2E_TMP/new" 2>&1)"
fi
if e2fsck -fn "$IMG/data.ext4" >"$E2E_TMP/fsck.out" 2>&1; then
    tap_ok "the written image is a clean ext4 (e2fsck -fn)"
else
    tap_fail "the written image is a clean ext4 (e2fsck -fn)" \
        "$(tail -n 10 "$E2E_TMP/fsck.out")"
fi

if [ "$(marker blk-ro-hello)" = "VMSPEC: blk-ro-hello $hello_sha" ] &&
   [ -n "$(marker 'blk-ro-touch failed')" ] &&
   [ -n "$(marker 'blk-ro-dd failed')" ]; then
    tap_ok "readonly: true: the guest reads, its writes fail"
else
    tap_fail "readonly: true: the guest reads, its writes fail" \
        "$(grep -a 'VMSPEC: blk-ro' "$E2E_TMP/vm.out" | tr -d '\r')"
fi

snap_sha=$(seq 1 5000 | sha256sum | cut -d' ' -f1)
if [ "$(marker blk-snap-file)" = "VMSPEC: blk-snap-file $snap_sha" ] &&
   [ -n "$(marker blk-snap-removed)" ] &&
   [ "$(sha "$IMG/shared.ext4")" = "$shared_sha" ]; then
    tap_ok "snapshot: true: the guest sees its writes; the image is byte-identical after exit"
else
    tap_fail "snapshot: true: the guest sees its writes; the image is unchanged" \
        "$(grep -a 'VMSPEC: blk-snap' "$E2E_TMP/vm.out" | tr -d '\r')" \
        "image sha $(sha "$IMG/shared.ext4") was $shared_sha"
fi

blocks=$(stat -c %b "$IMG/trim.img")
head -c 16M /dev/zero >"$E2E_TMP/zero16"
if [ -n "$(marker 'blk-discard ok')" ] &&
   cmp -s "$IMG/trim.img" "$E2E_TMP/zero16" &&
   [ "$blocks" -lt $((trim_blocks / 2)) ]; then
    tap_ok "discard: the guest's blkdiscard punches holes (st_blocks $trim_blocks -> $blocks)"
else
    tap_fail "discard: the guest's blkdiscard punches holes" \
        "$(marker blk-discard) st_blocks $trim_blocks -> $blocks"
fi
