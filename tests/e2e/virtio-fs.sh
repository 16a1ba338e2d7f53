#!/usr/bin/env bash
# End-to-end: shared folders (virtio-fs served by virtiofsd over
# vhost-user), with the test guest's scenario tests/guest/scenarios/fs.
# One boot with a writable share and a read-only one checks what the
# guest reads, writes, renames, deletes and lists (10,000 entries), and
# that the read-only share refuses writes with EROFS; then the ways a run
# ends: SIGTERM and SIGKILL of vmspec leave no virtiofsd behind, a
# virtiofsd that dies stops the VM with exit 1 naming the share.  Also: a
# share on a socket someone else serves, and a path share as a non-root
# user (a clear error before anything starts).
. "$(dirname "$0")/lib.sh"
TESTS=11
VIRTIOFSD=${VMSPEC_VIRTIOFSD:-/usr/lib/qemu/virtiofsd}
if [ ! -x "$VIRTIOFSD" ]; then
    tap_plan $TESTS
    for _ in $(seq 1 $TESTS); do
        tap_skip "virtio-fs end-to-end" \
            "no $VIRTIOFSD (apt-get install qemu-system-common)"
    done
    exit 0
fi
guest_ensure || { echo "1..1"; tap_fail "test guest builds"; exit 0; }
e2e_need_kvm "$@"

VMSPEC=$E2E_ROOT/build/vmspec
# The shared directories, sockets and runtime directory on tmpfs: the
# sandbox's /tmp is 9p, which refuses unix sockets.
SHM=$(mktemp -d /dev/shm/vmspec-fs.XXXXXX 2>/dev/null ||
      mktemp -d "$E2E_TMP/shm.XXXXXX")
chmod 0755 "$SHM"
export VMSPEC_RUNTIME_DIR=$SHM/run
mkdir -p "$VMSPEC_RUNTIME_DIR"
chmod 0700 "$VMSPEC_RUNTIME_DIR"
vm_pid=
ext_pid=
e2e_cleanup() {
    [ -n "$vm_pid" ] && kill -KILL "$vm_pid" 2>/dev/null
    [ -n "$ext_pid" ] && kill -KILL "$ext_pid" 2>/dev/null
    pkill -KILL -x virtiofsd 2>/dev/null
    wait 2>/dev/null
    rm -rf "$SHM"
}

sha() { sha256sum "$1" 2>/dev/null | cut -d' ' -f1; }
# daemons: how many virtiofsd processes run now (each share's is two:
# its sandbox=namespace parent and the server).
daemons() { pgrep -x virtiofsd | wc -l; }
# gone_within SECS: true once no virtiofsd runs, polling.
gone_within() {
    local _i
    for _i in $(seq 1 $(($1 * 10))); do
        [ "$(daemons)" = 0 ] && return 0
        sleep 0.1
    done
    return 1
}

# spec NAME CMDLINE-EXTRA SHARE-LINES... -> path
spec() {
    local name=$1 extra=$2 f=$SHM/$1.yaml
    shift 2
    {
        guest_spec_head "$name" "vmspec.scenario=fs $extra"
        echo "shares:"
        for line in "$@"; do echo "  - $line"; done
    } >"$f"
    echo "$f"
}

# start NAME SPEC: vmspec run in the background, pid in vm_pid.
start() {
    timeout -s KILL 300 "$VMSPEC" run "$2" </dev/null >"$E2E_TMP/$1.out" \
        2>"$E2E_TMP/$1.err" &
    vm_pid=$!
}

# finish: waits for vm_pid, its status in rc.
finish() {
    wait "$vm_pid"
    rc=$?
    vm_pid=
}

tap_plan $TESTS

# The shared trees: a writable one with a random file, files to rename
# and delete, 10,000 empty files; a read-only one with a random file.
SRC=$SHM/src RO=$SHM/ro
mkdir -p "$SRC/many" "$RO"
head -c 1M /dev/urandom >"$SRC/hello.bin"
head -c 64K /dev/urandom >"$RO/hello.bin"
echo moved >"$SRC/rename-me"
echo gone >"$SRC/delete-me"
(cd "$SRC/many" && seq -f 'file-%05g' 1 10000 | xargs touch)
hello_sha=$(sha "$SRC/hello.bin")
ro_sha=$(sha "$RO/hello.bin")
ro_listing=$(ls -l --time-style=+%s "$RO"; stat -c %Y "$RO")

# 1-6: the main boot, ended by SIGTERM.
f=$(spec fs "vmspec.fs_tag=src vmspec.fs_ro_tag=tools-ro" \
    "{id: src, path: $SRC}" \
    "{id: ro, path: $RO, tag: tools-ro, readonly: true}")
start vm "$f"
out=$E2E_TMP/vm.out
wait_for "$out" "VMSPEC: fs-waiting" 240
if [ "$(marker "$out" fs-device driver)" = virtiofs ] &&
   [ "$(marker "$out" fs-mount rc)" = 0 ] &&
   [ "$(marker "$out" fs-hello sha256)" = "$hello_sha" ]; then
    tap_ok "the guest's virtiofs driver binds; mount -t virtiofs src reads the host's file (SHA-256)"
else
    tap_fail "the guest mounts the share and reads the host's file" \
        "$(grep -a 'VMSPEC: fs-\(device\|mount\|hello\)' "$out" | tr -d '\r')" \
        "want sha256=$hello_sha" "$(tail -n 10 "$E2E_TMP/vm.err")"
fi

guest_sha=$(seq 1 200000 | sha256sum | cut -d' ' -f1)
if [ "$(marker "$out" fs-wrote rc)" = 0 ] &&
   [ "$(sha "$SRC/guest.txt")" = "$guest_sha" ] &&
   [ "$(sha "$SRC/copy.bin")" = "$hello_sha" ]; then
    tap_ok "the guest's fsync'd writes are in the host directory, byte for byte"
else
    tap_fail "the guest's fsync'd writes are in the host directory" \
        "$(grep -a 'VMSPEC: fs-\(wrote\|copied\)' "$out" | tr -d '\r')" \
        "host: guest.txt $(sha "$SRC/guest.txt") copy.bin $(sha "$SRC/copy.bin")"
fi

if [ "$(cat "$SRC/renamed" 2>/dev/null)" = moved ] &&
   [ ! -e "$SRC/rename-me" ] && [ ! -e "$SRC/delete-me" ] &&
   [ "$(cat "$SRC/made/inside" 2>/dev/null)" = inside ]; then
    tap_ok "the guest's rename, delete and mkdir are the host's"
else
    tap_fail "the guest's rename, delete and mkdir are the host's" \
        "$(marker "$out" fs-renamed mv) $(ls "$SRC" | tr '\n' ' ')"
fi

if [ "$(marker "$out" fs-count n)" = 10000 ]; then
    tap_ok "the guest lists a directory of 10,000 entries"
else
    tap_fail "the guest lists a directory of 10,000 entries" \
        "got n=$(marker "$out" fs-count n)"
fi

# The guest's four writes, each refused as a read-only file system; the
# host's tree unchanged.
ro_ok=1
for w in touch append rm mkdir; do
    [ "$(marker "$out" "fs-ro-$w" rc)" = 1 ] &&
        [ "$(marker "$out" "fs-ro-$w" err)" = Read-only_file_system ] ||
        ro_ok=0
done
if [ $ro_ok = 1 ] && [ "$(marker "$out" fs-ro-hello sha256)" = "$ro_sha" ] &&
   [ "$(ls -l --time-style=+%s "$RO"; stat -c %Y "$RO")" = "$ro_listing" ] &&
   [ "$(sha "$RO/hello.bin")" = "$ro_sha" ]; then
    tap_ok "readonly: true: the guest reads tag tools-ro; create, append, delete and mkdir fail with EROFS"
else
    tap_fail "readonly: true: the guest reads; its writes fail with EROFS" \
        "$(grep -a 'VMSPEC: fs-ro' "$out" | tr -d '\r')" \
        "host: $(ls -la "$RO")"
fi

# Two virtiofsd per share (namespace sandbox); after SIGTERM none, and
# the sockets are gone from the runtime directory.
running=$(daemons)
kill -TERM "$vm_pid" 2>/dev/null
finish
left=$(daemons)
socks=$(find "$VMSPEC_RUNTIME_DIR" -name '*.sock' -path '*share*' | wc -l)
if [ "$running" = 4 ] && [ $rc = 143 ] && [ "$left" = 0 ] &&
   [ "$socks" = 0 ] && [ -s "$SRC/tick" ]; then
    tap_ok "SIGTERM during share I/O: exit 143; its 4 virtiofsd processes stopped, their sockets removed"
else
    tap_fail "SIGTERM: exit 143, no virtiofsd left" \
        "rc=$rc virtiofsd running=$running left=$left sockets=$socks" \
        "$(tail -n 5 "$E2E_TMP/vm.err")"
fi

# 7: SIGKILL of vmspec: its virtiofsd die with it (parent-death signal).
f=$(spec kill "vmspec.fs=wait" "{id: src, path: $SRC}")
start kill "$f"
if wait_for "$E2E_TMP/kill.out" "VMSPEC: fs-waiting" 240; then
    running=$(daemons)
    # vmspec itself, not the timeout(1) above it.
    kill -KILL "$(pgrep -P "$vm_pid" -x vmspec)"
    finish
    if [ "$running" = 2 ] && gone_within 5; then
        tap_ok "SIGKILL of vmspec: its virtiofsd are gone within 5 s"
    else
        tap_fail "SIGKILL of vmspec: no virtiofsd left" \
            "running=$running now=$(daemons)"
    fi
else
    tap_fail "SIGKILL of vmspec: the guest mounts the share first" \
        "$(tail -n 10 "$E2E_TMP/kill.out" | tr -d '\r')" \
        "$(tail -n 5 "$E2E_TMP/kill.err")"
fi
pkill -KILL -x virtiofsd 2>/dev/null

# 8: the backend dies while the guest uses the share: the VM stops with
# exit 1 and a message naming the share.
f=$(spec died "vmspec.fs=wait" "{id: src, path: $SRC}")
start died "$f"
if wait_for "$E2E_TMP/died.out" "VMSPEC: fs-waiting" 240; then
    sleep 1
    pkill -KILL -x virtiofsd
    for _ in $(seq 1 100); do
        kill -0 "$vm_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$vm_pid" 2>/dev/null && kill -KILL "$vm_pid"
    finish
    if [ $rc = 1 ] && grep -qF "share 'src': the vhost-user backend closed its socket (virtiofsd was killed by signal 9 (SIGKILL))" "$E2E_TMP/died.err"; then
        tap_ok "virtiofsd killed mid-run: exit 1 within 10 s: $(head -n 1 "$E2E_TMP/died.err")"
    else
        tap_fail "virtiofsd killed mid-run: exit 1 naming the share" \
            "rc=$rc: $(cat "$E2E_TMP/died.err")"
    fi
else
    tap_fail "virtiofsd killed mid-run: the guest mounts the share first" \
        "$(tail -n 10 "$E2E_TMP/died.out" | tr -d '\r')" \
        "$(tail -n 5 "$E2E_TMP/died.err")"
fi

# 9: a share on a socket: a virtiofsd started here, not by vmspec.
sock=$SHM/ext.sock
"$VIRTIOFSD" --socket-path="$sock" -o source="$RO" -o cache=auto \
    >"$E2E_TMP/ext.log" 2>&1 &
ext_pid=$!
for _ in $(seq 1 50); do [ -S "$sock" ] && break; sleep 0.1; done
f=$(spec ext "vmspec.fs_tag=ext" "{id: ext, socket: $sock}")
start ext "$f"
# The whole line: SIGTERM right after its first bytes cut it short once.
wait_for "$E2E_TMP/ext.out" "VMSPEC: fs-hello sha256=$ro_sha" 240
kill -TERM "$vm_pid" 2>/dev/null
finish
if [ "$(marker "$E2E_TMP/ext.out" fs-mount rc)" = 0 ] &&
   [ "$(marker "$E2E_TMP/ext.out" fs-hello sha256)" = "$ro_sha" ]; then
    tap_ok "socket: a virtiofsd someone else runs serves the share (tag = id)"
else
    tap_fail "socket: a virtiofsd someone else runs serves the share" \
        "$(grep -a 'VMSPEC: fs-' "$E2E_TMP/ext.out" | head -n 4 | tr -d '\r')" \
        "$(tail -n 5 "$E2E_TMP/ext.err")" "$(tail -n 5 "$E2E_TMP/ext.log")"
fi
kill -KILL "$ext_pid" 2>/dev/null
wait "$ext_pid" 2>/dev/null
ext_pid=

# 10: plan names each share's backend: the command line, or the socket.
f=$(spec plan "" "{id: src, path: $SRC}" "{id: ext, socket: $sock}")
run_capture plan 30 "$VMSPEC" plan "$f"
if grep -qF "# backend: $VIRTIOFSD --fd=3 -o source=$SRC -o cache=auto" \
        "$E2E_TMP/plan.out" &&
   grep -qF "# backend: socket $sock" "$E2E_TMP/plan.out"; then
    tap_ok "plan shows each share's virtiofsd command line or socket"
else
    tap_fail "plan shows each share's backend" \
        "$(grep -a 'backend' "$E2E_TMP/plan.out")" \
        "$(cat "$E2E_TMP/plan.err")"
fi

# 11: as a non-root user, a path share fails at start, before any
# virtiofsd, saying why and what to do instead.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    # The user may open /dev/kvm (through its group, as udev gives a
    # host's to group kvm; the emulated machine's is 0600 root:root) and
    # has a runtime directory of its own.
    groups=--clear-groups
    if [ "$(stat -c %A /dev/kvm 2>/dev/null | cut -c5-6)" = rw ]; then
        groups=--groups=$(stat -c %g /dev/kvm)
    elif [ "${VMSPEC_SANDBOX:-}" = inside ]; then
        chgrp 65534 /dev/kvm && chmod 0660 /dev/kvm
    fi
    mkdir -p "$SHM/user-run"
    chown 65534:65534 "$SHM/user-run"
    run_capture nonroot 60 setpriv --reuid=65534 --regid=65534 "$groups" \
        env VMSPEC_RUNTIME_DIR="$SHM/user-run" HOME="$SHM/user-run" \
        "$VMSPEC" run "$SHM/kill.yaml"
    rc=$?
    if [ $rc = 1 ] && grep -q "runs only as root" "$E2E_TMP/nonroot.err" &&
       grep -qF 'socket:' "$E2E_TMP/nonroot.err" && [ "$(daemons)" = 0 ]; then
        tap_ok "not root: exit 1 before any virtiofsd: $(head -c 100 "$E2E_TMP/nonroot.err")..."
    else
        tap_fail "not root: exit 1 naming root and socket:" \
            "rc=$rc: $(cat "$E2E_TMP/nonroot.err")"
    fi
else
    tap_skip "not root: a path share fails at start" "not running as root"
fi
