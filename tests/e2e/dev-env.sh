#!/usr/bin/env bash
# End-to-end: the dev environment of examples/dev.yaml on the Debian 12
# image of `make dev-image` (examples/dev-image/build, run here first on
# the host: it needs Debian's mirror; cached), provisioned by cloud-init
# from vmspec's NoCloud seed.  The spec extends examples/dev.yaml with a
# share and a root overlay of the test's own (in /dev/shm: the sandbox's
# 9p /tmp holds no sockets; the logs stay in $E2E_TMP, where lib.sh looks
# for an emulated machine's triple faults) and a provision: whose files, run: and
# run_always: the checks look for.  vmspec runs as root with SUDO_UID and
# SUDO_GID 1000, as under sudo, so `uid: host` is 1000.
# Checks: up -d --wait ready returns once provisioned; vmspec ssh as the
# provisioned user with vmspec's key; /src is the share (sha256 of
# README.md); a file the guest writes there is uid 1000's on the host; a
# files: entry with its mode; env; run: once and run_always: each boot;
# stop and up again: no second provisioning, the root disk kept; a
# provisioning that fails makes up --wait ready exit 1 with the guest's
# log tail, and ps says failed.  VMSPEC_BIN replaces build/vmspec.
. "$(dirname "$0")/lib.sh"
if [ "${VMSPEC_SANDBOX:-}" != inside ] &&
   ! "$E2E_ROOT/examples/dev-image/build" >"$E2E_TMP/image.log" 2>&1; then
    echo "1..1"
    tap_fail "make dev-image builds the Debian image" \
        "$(tail -n 20 "$E2E_TMP/image.log")"
    exit 0
fi
e2e_need_kvm "$@"

VMSPEC=${VMSPEC_BIN:-$E2E_ROOT/build/vmspec}
IMAGE=$E2E_ROOT/build/dev-image
SHM=$(mktemp -d /dev/shm/vmspec-dev.XXXXXX)
export VMSPEC_RUNTIME_DIR=$SHM/run VMSPEC_STATE_DIR=$SHM/state
export SUDO_UID=1000 SUDO_GID=1000
e2e_cleanup() {
    "$VMSPEC" stop --all >/dev/null 2>&1
    sleep 1
    rm -rf "$SHM"
}

tap_plan 12
mkdir -p "$SHM/src" "$E2E_TMP/logs"
cp "$E2E_ROOT/README.md" "$SHM/src/"
chown -R 1000:1000 "$SHM/src"      # the host user's tree, as a checkout is
qemu-img create -q -f qcow2 -F qcow2 -b "$IMAGE/debian-12.qcow2" \
    "$SHM/root.qcow2"

# write_spec RUN_EXTRA: the test's spec; RUN_EXTRA is one more run: item.
write_spec() {
    cat >"$SHM/dev.yaml" <<EOF
vmspec: 1
extends: $E2E_ROOT/examples/dev.yaml
disks:
  - {id: root, path: $SHM/root.qcow2}
shares:
  - {id: src, path: $SHM/src}
provision:
  files:
    - {path: /etc/vmspec-test, content: "from the spec\n", mode: "0640"}
  run:
    - echo "run \$(cat /proc/sys/kernel/random/boot_id)" >> /var/lib/vmspec-run.log
    $1
  run_always:
    - echo "always \$(cat /proc/sys/kernel/random/boot_id)" >> /var/lib/vmspec-always.log
  env: {VMSPEC_TEST_ENV: "a value"}
EOF
}

# guest NAME SCRIPT: vmspec ssh dev -- SCRIPT (one word: the guest's
# shell reads it) into $E2E_TMP/NAME.out
guest() { run_capture "$1" 120 "$VMSPEC" ssh dev -- "$2"; }

up_ready() {
    run_capture "$1" 900 "$VMSPEC" up -d --log-dir "$E2E_TMP/logs" \
        --wait ready --wait-timeout 780 "$SHM/dev.yaml"
}

write_spec ""
up_ready up1
if [ "$(cat "$E2E_TMP/up1.rc")" = 0 ] &&
   grep -q '^dev: ready after' "$E2E_TMP/up1.out"; then
    tap_ok "up -d --wait ready returns once the guest is provisioned"
else
    tap_fail "up -d --wait ready" "$(cat "$E2E_TMP/up1.out" "$E2E_TMP/up1.err")" \
        "$(tail -n 30 "$E2E_TMP/logs/dev.log" | tr -d '\r')"
    for _ in $(seq 2 12); do tap_fail "(the VM did not get ready)"; done
    exit 0
fi

guest id 'id -un'
if [ "$(cat "$E2E_TMP/id.out")" = dev ]; then
    tap_ok "vmspec ssh logs in as the provisioned user with vmspec's key"
else
    tap_fail "vmspec ssh as dev" "$(cat "$E2E_TMP/id.out" "$E2E_TMP/id.err")"
fi

guest sum 'sha256sum /src/README.md'
want=$(sha256sum <"$E2E_ROOT/README.md" | cut -d' ' -f1)
if [ "$(cut -d' ' -f1 "$E2E_TMP/sum.out")" = "$want" ]; then
    tap_ok "/src is the share: sha256sum /src/README.md is the host's"
else
    tap_fail "/src is the share" "want $want" "$(cat "$E2E_TMP/sum.out" "$E2E_TMP/sum.err")"
fi

guest write 'echo from-guest > /src/from-guest && id -u'
owner=$(stat -c %u:%g "$SHM/src/from-guest" 2>/dev/null)
if [ "$owner" = 1000:1000 ] && [ "$(cat "$E2E_TMP/write.out")" = 1000 ]; then
    tap_ok "a file the guest writes in /src belongs to the host user (1000:1000)"
else
    tap_fail "guest-written file's owner" "owner=$owner" \
        "$(cat "$E2E_TMP/write.out" "$E2E_TMP/write.err")"
fi

guest files 'stat -c %a /etc/vmspec-test; sudo cat /etc/vmspec-test; echo "$VMSPEC_TEST_ENV"'
if [ "$(cat "$E2E_TMP/files.out")" = "$(printf '640\nfrom the spec\na value')" ]; then
    tap_ok "a files: entry exists with its mode and content; env: reaches ssh"
else
    tap_fail "files: and env:" "$(cat "$E2E_TMP/files.out" "$E2E_TMP/files.err")"
fi

guest logs1 'wc -l </var/lib/vmspec-run.log; wc -l </var/lib/vmspec-always.log;
    echo kept | sudo tee /var/lib/vmspec-kept >/dev/null; sync'
if [ "$(cat "$E2E_TMP/logs1.out")" = "$(printf '1\n1')" ]; then
    tap_ok "first boot: run: ran once, run_always: once"
else
    tap_fail "first boot: run: and run_always:" "$(cat "$E2E_TMP/logs1.out" "$E2E_TMP/logs1.err")"
fi

run_capture ps1 30 "$VMSPEC" ps
if grep -qE '^dev +[0-9]+ running ' "$E2E_TMP/ps1.out"; then
    tap_ok "ps: a provisioned VM is running"
else
    tap_fail "ps after provisioning" "$(cat "$E2E_TMP/ps1.out")"
fi

# stop_dev: vmspec stop dev, and wait for its process to end (its disk
# flushed, its daemons gone), not only its control socket.
stop_dev() {
    local pid
    pid=$("$VMSPEC" ps 2>/dev/null | awk '$1 == "dev" { print $2 }')
    "$VMSPEC" stop dev >/dev/null 2>&1
    for _ in $(seq 120); do
        [ -n "$pid" ] && [ -d "/proc/$pid" ] || break
        sleep 0.5
    done
}

# Stop (the guest's disk flushed), up again: booted, not provisioned again.
stop_dev
up_ready up2
guest logs2 'wc -l </var/lib/vmspec-run.log; wc -l </var/lib/vmspec-always.log;
    cat /var/lib/vmspec-kept'
if [ "$(cat "$E2E_TMP/up2.rc")" = 0 ] &&
   [ "$(cat "$E2E_TMP/logs2.out")" = "$(printf '1\n2\nkept')" ]; then
    tap_ok "stop, up again: no second provisioning, run_always: again, root disk kept"
else
    tap_fail "second boot" "$(cat "$E2E_TMP/up2.out" "$E2E_TMP/up2.err")" \
        "$(cat "$E2E_TMP/logs2.out" "$E2E_TMP/logs2.err")"
fi
stop_dev

# A changed provision: provisioned again, and its failing command fails it.
write_spec "- 'echo \"vmspec-test: about to fail\"; exit 3'"
up_ready up3
if [ "$(cat "$E2E_TMP/up3.rc")" = 1 ] &&
   grep -q '^dev: failed: provisioning failed' "$E2E_TMP/up3.out"; then
    tap_ok "a failing run: command makes up --wait ready exit 1"
else
    tap_fail "failing provisioning: exit 1" "$(cat "$E2E_TMP/up3.out" "$E2E_TMP/up3.err")"
fi
if grep -q 'vmspec-test: about to fail' "$E2E_TMP/up3.out"; then
    tap_ok "... and up prints the tail of the guest's cloud-init log"
else
    tap_fail "failing provisioning: the log tail" "$(cat "$E2E_TMP/up3.out")"
fi
run_capture ps3 30 "$VMSPEC" ps
if grep -qE '^dev +[0-9]+ failed ' "$E2E_TMP/ps3.out"; then
    tap_ok "ps says failed"
else
    tap_fail "ps after failed provisioning" "$(cat "$E2E_TMP/ps3.out")"
fi
guest logs3 'wc -l </var/lib/vmspec-run.log'
if [ "$(cat "$E2E_TMP/logs3.out")" = 2 ]; then
    tap_ok "the changed provision: ran run: again (a new instance-id)"
else
    tap_fail "re-provisioning" "$(cat "$E2E_TMP/logs3.out" "$E2E_TMP/logs3.err")"
fi
